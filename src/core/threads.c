/* threads.c — the library-wide thread count and the SIMD path in use.
 *
 * Parallel kernels use OpenMP with a thread count passed explicitly on every parallel region,
 * so a host program's own OpenMP settings are left alone. */
#include "internal.h"

#include <unistd.h>
#ifdef __linux__
#include <sched.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

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

/* ---- team placement (internal.h) ---- */

double attn_team_spread_min_flops = 1e8; /* ~1 ms of work: below it two syscalls may show */

int attn_team_worth_spreading(int nt, double flops)
{
    return nt > 1 && nt <= ATTN_TEAM_MAX && flops >= attn_team_spread_min_flops;
}

int attn_team_target(const int *cpus, int nt, int t, const unsigned char *allowed, int ncpus)
{
    /* Threads before t keep their CPUs; a thread moves only if an earlier one is on its CPU,
     * to the next allowed CPU (cyclically) that no team thread is on or has moved to. */
    if (cpus[t] < 0 || cpus[t] >= ncpus) return cpus[t];
    unsigned char taken[ATTN_TEAM_CPUS] = {0};
    if (ncpus > ATTN_TEAM_CPUS) ncpus = ATTN_TEAM_CPUS;
    for (int s = 0; s < nt; s++)
        if (cpus[s] >= 0 && cpus[s] < ncpus) taken[cpus[s]] = 1;
    int target = cpus[t];
    for (int s = 0; s <= t; s++) {
        int clash = 0;
        for (int r = 0; r < s && !clash; r++) clash = cpus[r] == cpus[s];
        if (!clash || cpus[s] < 0 || cpus[s] >= ncpus) continue;
        int pick = -1;
        for (int k = 1; k < ncpus && pick < 0; k++) {
            const int c = (cpus[s] + k) % ncpus;
            if (allowed[c] && !taken[c]) pick = c;
        }
        if (pick < 0) break; /* more threads than CPUs: the rest stay where they are */
        taken[pick] = 1;
        if (s == t) target = pick;
    }
    return target;
}

#if defined(__linux__) && defined(_OPENMP)
_Static_assert(sizeof(cpu_set_t) <= sizeof(((attn_team_cpu *)0)->saved),
               "attn_team_cpu.saved holds a cpu_set_t");

void attn_team_spread(int *cpus, attn_team_cpu *me)
{
    cpu_set_t *own = (cpu_set_t *)(void *)me->saved;
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    me->bound = 0;
    if (nt == 1) return; /* a nested region of one: nothing to spread (and no barrier) */
    /* more threads than CPUs: binding would freeze whatever stacking the team starts with,
     * where the scheduler can still even it out */
    int movable = sched_getaffinity(0, sizeof *own, own) == 0 && CPU_COUNT(own) > 1 &&
                  CPU_COUNT(own) >= nt;
    int here = sched_getcpu();
    cpus[t] = here < 0 || here >= ATTN_TEAM_CPUS ? -1 : here;
#pragma omp barrier
    if (!movable || cpus[t] < 0) return;
    unsigned char allowed[ATTN_TEAM_CPUS];
    for (int c = 0; c < ATTN_TEAM_CPUS; c++)
        allowed[c] = (unsigned char)(c < CPU_SETSIZE && CPU_ISSET(c, own));
    /* every thread decides from the same array, so two movers pick different CPUs (given the
     * same masks: they differ only when the host set them, and then a shared CPU is all it
     * costs) */
    const int target = attn_team_target(cpus, nt, t, allowed, ATTN_TEAM_CPUS);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(target, &one);
    me->bound = sched_setaffinity(0, sizeof one, &one) == 0;
}

void attn_team_unspread(attn_team_cpu *me)
{
    if (me->bound) sched_setaffinity(0, sizeof(cpu_set_t), (cpu_set_t *)(void *)me->saved);
    me->bound = 0;
}
#else
void attn_team_spread(int *cpus, attn_team_cpu *me)
{
    (void)cpus;
    me->bound = 0;
#ifdef _OPENMP
#pragma omp barrier
#endif
}

void attn_team_unspread(attn_team_cpu *me) { me->bound = 0; }
#endif
