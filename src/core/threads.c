/* threads.c — the library-wide thread count and the SIMD path in use.
 *
 * Parallel kernels use OpenMP with a thread count passed explicitly on every parallel region,
 * so a host program's own OpenMP settings are left alone. */
#include "internal.h"

#include <unistd.h>

static int default_threads; /* 0 = online cores */
static attn_isa forced_isa = ATTN_ISA_AUTO;

static int online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (n > 1024 ? 1024 : (int)n);
}

int attn_set_num_threads(int n)
{
    if (n < 0 || n > 4096)
        return attn_fail(ATTN_E_ARG, "attn_set_num_threads: n=%d must be in [0, 4096]", n);
    default_threads = n;
    return ATTN_OK;
}

int attn_get_num_threads(void) { return default_threads > 0 ? default_threads : online_cores(); }

int attn_resolve_threads(int requested)
{
    return requested > 0 ? requested : attn_get_num_threads();
}

int attn_isa_supported(attn_isa isa)
{
    switch (isa) {
    case ATTN_ISA_AUTO:
    case ATTN_ISA_PORTABLE: return 1;
#if defined(__x86_64__) || defined(__i386__)
    case ATTN_ISA_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case ATTN_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("fma");
#endif
    default: return 0;
    }
}

int attn_set_isa(attn_isa isa)
{
    if (isa < ATTN_ISA_AUTO || isa > ATTN_ISA_AVX512)
        return attn_fail(ATTN_E_ARG, "attn_set_isa: unknown isa %d", (int)isa);
    if (!attn_isa_supported(isa))
        return attn_fail(ATTN_E_UNSUPPORTED, "attn_set_isa: this CPU cannot run %s",
                         attn_isa_name(isa));
    forced_isa = isa;
    return ATTN_OK;
}

attn_isa attn_get_isa(void)
{
    if (forced_isa != ATTN_ISA_AUTO) return forced_isa;
    if (attn_isa_supported(ATTN_ISA_AVX512)) return ATTN_ISA_AVX512;
    if (attn_isa_supported(ATTN_ISA_AVX2)) return ATTN_ISA_AVX2;
    return ATTN_ISA_PORTABLE;
}

const char *attn_isa_name(attn_isa isa)
{
    switch (isa) {
    case ATTN_ISA_AUTO: return "auto";
    case ATTN_ISA_PORTABLE: return "portable";
    case ATTN_ISA_AVX2: return "avx2";
    case ATTN_ISA_AVX512: return "avx512";
    default: return "unknown";
    }
}
