/* internal.h — what every file of libattn shares and no user sees. */
#ifndef ATTN_INTERNAL_H
#define ATTN_INTERNAL_H

#include "attn.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define ATTN_INTERNAL __attribute__((visibility("hidden")))

/* Record a failure (printf-style detail) and return `status`. */
ATTN_INTERNAL int attn_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Evaluate a status expression; on failure return it from the enclosing function. */
#define ATTN_TRY(expr)                                                                         \
    do {                                                                                       \
        int attn_try_status_ = (expr);                                                         \
        if (attn_try_status_ < 0) return attn_try_status_;                                     \
    } while (0)

/* Fail with ATTN_E_ARG when `ptr` is NULL, naming it. */
#define ATTN_REQUIRE_NONNULL(fn, ptr)                                                          \
    do {                                                                                       \
        if ((ptr) == NULL) return attn_fail(ATTN_E_ARG, "%s: %s is NULL", (fn), #ptr);         \
    } while (0)

/* Hot loops written to vectorize get one clone per instruction set, chosen when the library
 * loads (the library itself is built for baseline x86-64). -std=c11 keeps floating-point
 * contraction off, so every clone computes the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ATTN_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ATTN_SIMD_CLONES
#endif

/* e^x in float, branch-free so that loops over it vectorize: x = n·ln2 + f with |f| ≤ ln2/2,
 * e^f from a degree-6 polynomial (Cephes' expf), 2^n built in the exponent bits. x is clamped
 * to [−87, 88] (e^−87 ≈ 1.6e−38: callers use it where such terms do not matter, softmax
 * numerators after the row maximum); NaN gives NaN. Relative error ≤ 2e−7 (measured 8.2e−8 over
 * every 3rd float of [−87, 88]; tests/c/test_nn.c checks every 997th). */
static inline float attn_expf(float x)
{
    /* clamps on the bits (a float comparison would stay a branch under -ftrapping-math and
     * stop vectorization); NaN is replaced by 0 for the arithmetic and put back at the end */
    int32_t ib, in;
    __builtin_memcpy(&in, &x, sizeof in);
    const int32_t m87 = (int32_t)0xc2ae0000, p88 = 0x42b00000; /* −87.0f, 88.0f */
    int32_t nan = -(int32_t)((in & 0x7fffffff) > 0x7f800000);
    int32_t low = -(int32_t)((in < 0) & ((in & 0x7fffffff) > 0x42ae0000));
    int32_t high = -(int32_t)(in > p88);
    ib = (in & ~(low | high | nan)) | (m87 & low) | (p88 & high & ~nan);
    __builtin_memcpy(&x, &ib, sizeof x);
    /* n = round(x·log2 e), through truncation of a positive number (x·log2 e > −126) */
    int32_t n = (int32_t)(x * 1.44269504088896341f + 128.5f) - 128;
    float fn = (float)n;
    float f = (x - fn * 0.693359375f) + fn * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * f + 1.3981999507e-3f;
    p = p * f + 8.3334519073e-3f;
    p = p * f + 4.1665795894e-2f;
    p = p * f + 1.6666665459e-1f;
    p = p * f + 5.0000001201e-1f;
    p = p * f * f + f + 1.0f;
    int32_t bits = (n + 127) << 23;
    float scale, r;
    __builtin_memcpy(&scale, &bits, sizeof scale);
    r = p * scale;
    int32_t rb;
    __builtin_memcpy(&rb, &r, sizeof rb);
    rb = (rb & ~nan) | (in & nan);
    __builtin_memcpy(&r, &rb, sizeof r);
    return r;
}

/* Overflow-checked size arithmetic: return 0 on success, nonzero on overflow. */
static inline int attn_mul_overflow(int64_t a, int64_t b, int64_t *out)
{
    return __builtin_mul_overflow(a, b, out);
}

/* Product of n non-negative dims; ATTN_E_OVERFLOW (with message) when it would overflow. */
ATTN_INTERNAL int attn_checked_numel(const char *fn, const int64_t *dims, int n, int64_t *out);

/* Threads to use for a call whose option says `requested` (0 = library default). */
ATTN_INTERNAL int attn_resolve_threads(int requested);

/* A parallel region's threads on distinct CPUs for its duration (threads.c). Every thread of
 * an OpenMP team calls attn_team_spread(cpus, &me) at the start of the region (it holds a
 * barrier: all or none of the team must call it) and attn_team_unspread(&me) at the end;
 * cpus is an int[nt] shared by the team. A thread whose affinity allows several CPUs is bound,
 * until unspread gives its own mask back, to the CPU it runs on — or, when an earlier thread
 * of the team runs there too, to an allowed CPU no team thread uses. Threads the host (or
 * OMP_PROC_BIND) already bound to one CPU are left alone, and so is a team with more threads
 * than the CPUs it may use (or over ATTN_TEAM_MAX), a call below attn_team_spread_min_flops of
 * work, and any system without sched_setaffinity.
 *
 * Why: on a shared core count, a host runtime's idle workers (OpenBLAS's poll with
 * sched_yield for ~0.1 s after each product) are runnable threads too, and the scheduler can
 * put two of this team on one CPU while such a poller keeps the other to itself, for the
 * whole call. Bound one per CPU, the team gets every core, and a poller sharing one gives way
 * at its next yield. */
typedef struct attn_team_cpu {
    unsigned long long saved[16]; /* the thread's own affinity mask (a cpu_set_t, 128 bytes) */
    int bound;                    /* 1: saved must be given back */
} attn_team_cpu;
#define ATTN_TEAM_MAX 256   /* larger teams are left alone */
#define ATTN_TEAM_CPUS 1024 /* CPUs numbered from this on are left alone */
ATTN_INTERNAL extern double attn_team_spread_min_flops; /* a variable for the tests */
ATTN_INTERNAL int attn_team_worth_spreading(int nt, double flops);
ATTN_INTERNAL void attn_team_spread(int *cpus, attn_team_cpu *me);
ATTN_INTERNAL void attn_team_unspread(attn_team_cpu *me);
/* The CPU thread t of a team binds to, given the CPUs the team's threads run on (cpus[nt], −1:
 * unknown) and the CPUs t may use (allowed[c] ≠ 0 for c < ncpus): its own, unless an earlier
 * thread runs there; then the next allowed CPU no thread of the team takes. */
ATTN_INTERNAL int attn_team_target(const int *cpus, int nt, int t, const unsigned char *allowed,
                                   int ncpus);

/* Validate a view: ndim as given, every dim ≥ 1 (or ≥ 0 if allow_empty), strides ≥ 0,
 * and the largest offset representable. `name` is used in the message. */
ATTN_INTERNAL int attn_check_view(const char *fn, const char *name, const attn_tensor *t, int ndim);
ATTN_INTERNAL int attn_check_bool_view(const char *fn, const char *name, const attn_bool_tensor *t,
                                       int ndim);

/* Philox-4x32-10 block: 4 uint32 outputs for a 128-bit counter under a 64-bit key. */
ATTN_INTERNAL void attn_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);
/* The dropout decisions of the 64 indices 4·block … 4·block + 63 (keep[i] = 1 iff
 * (r >> 8) ≥ thresh for Philox word r), as attn_dropout_mask_fill's portable loop makes them;
 * AVX-512 and AVX2 versions (callers check attn_get_isa()). */
ATTN_INTERNAL void attn_dropout_keep64_avx512(uint64_t block, uint64_t offset, const uint32_t key[2],
                                              uint32_t thresh, uint8_t keep[64]);
ATTN_INTERNAL void attn_dropout_keep64_avx2(uint64_t block, uint64_t offset, const uint32_t key[2],
                                            uint32_t thresh, uint8_t keep[64]);

/* Aligned allocation (64 bytes) for kernel workspaces; free with free(). NULL on failure. */
ATTN_INTERNAL void *attn_aligned_alloc(size_t bytes);

/* The parameter table without data: attn_params_add records names and shapes only (and fails
 * past max_count parameters, 0: no limit), so a configuration read from a file can be checked
 * against the file's tensors before anything sized by it is allocated; then
 * attn_params_alloc_data allocates every data buffer (uninitialised, for a loader to fill). */
ATTN_INTERNAL int attn_params_create_deferred(int max_count, attn_params **out);
ATTN_INTERNAL int attn_params_alloc_data(attn_params *P);
/* The gradient buffer of p, allocated zeroed on first need (backward functions call it for
 * each parameter they add into). NULL p: nothing to do. */
ATTN_INTERNAL int attn_param_need_grad(attn_param *p);

/* Bounds on what a model configuration may ask for (documented in attn/models.h). */
#define ATTN_MAX_LAYERS 1024                /* layers of one stack */
#define ATTN_MAX_POSITION_TABLE (1 << 24)   /* floats in a computed position table */
/* A file whose configuration asks for `layers` layers must hold at least that many tensors:
 * checked before the layers' structs are allocated (ATTN_E_FORMAT otherwise). */
ATTN_INTERNAL int attn_checkpoint_check_layers(const char *fn, const attn_st_reader *st, int64_t layers);

/* Model configurations as checkpoint metadata ("attn.config.<field>" → text), one way for every
 * model (src/io/config_meta.c): each model lists its configuration's fields once, in a table, and
 * its _config_to_meta / _config_from_reader hand the table over. */
typedef enum attn_meta_kind {
    ATTN_META_I64, /* int64_t, written "%lld", read back whole */
    ATTN_META_INT, /* int or an enum (int-sized), "%d", whole */
    ATTN_META_I32, /* int32_t, "%d", whole */
    ATTN_META_F32  /* float, "%.9g" (round-trips) */
} attn_meta_kind;
typedef struct attn_meta_field {
    const char *name;
    attn_meta_kind kind;
    size_t offset;  /* offsetof the field in the configuration struct */
    double lo, hi;  /* accepted range when read */
    int optional;   /* absent in checkpoints older than the field: reads as 0 */
} attn_meta_field;
#define ATTN_META_FIELD(type, field, kind, lo, hi) {#field, kind, offsetof(type, field), lo, hi, 0}
#define ATTN_META_OPTIONAL(type, field, kind, lo, hi) {#field, kind, offsetof(type, field), lo, hi, 1}

/* The fields of *cfg as key, value, …, NULL in kv (strings in buf). Returns the number of kv
 * entries, or ATTN_E_ARG (with fn in the message) when buf or kv is too small. */
ATTN_INTERNAL int attn_meta_write(const char *fn, const void *cfg, const attn_meta_field *fields, int nfields,
                                  char *buf, size_t cap, const char **kv, int kv_cap);
/* Fill *cfg (zeroed first) from a checkpoint's metadata: every field present, fully parsed, in
 * its range, a whole number where the kind is integral (a "16.5" for d_model would otherwise
 * become another model); ATTN_E_FORMAT naming the key otherwise. */
ATTN_INTERNAL int attn_meta_read(const attn_st_reader *st, void *cfg, size_t cfg_size,
                                 const attn_meta_field *fields, int nfields);

#endif
