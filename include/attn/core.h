/*
 * attn/core.h — what every part of libattn uses: version, errors, threads and SIMD paths,
 * machine measurement (clock, FMA peak, bandwidth, RSS), tensor views, counter-based random
 * numbers.
 *
 * One prefix (attn_) for every header of include/attn/. Conventions that hold for every call:
 *
 *  - Fallible functions return int: 0 (ATTN_OK) on success, a negative ATTN_E_* code on
 *    failure. attn_last_error() then says what and where, in this thread. The library never
 *    exits, aborts on bad input, or prints.
 *  - Tensors are float32 views that own nothing: data pointer, shape and strides counted in
 *    elements, outermost dimension first. Shapes are written in PyTorch order in comments,
 *    e.g. q: [B, Hq, Lq, E].
 *  - The caller allocates outputs. Free functions accept NULL.
 *  - Backward functions overwrite input gradients (dq, dk, dv, dx) and accumulate (+=) into
 *    parameter gradients.
 *  - Shape letters: B batch, Hq query heads, Hkv key/value heads, Lq query length,
 *    Lk key length, E query/key width per head, Ev value width per head.
 */
#ifndef ATTN_CORE_H
#define ATTN_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ATTN_API __attribute__((visibility("default")))
#define ATTN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define ATTN_API
#define ATTN_PRINTF(f, a)
#endif

#define ATTN_VERSION_MAJOR 0
#define ATTN_VERSION_MINOR 1
#define ATTN_VERSION_PATCH 0

/* "0.1.0": the version the library was built as (may differ from this header's). */
ATTN_API const char *attn_version(void);

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                     */
/* ------------------------------------------------------------------------------------------ */

enum {
    ATTN_OK = 0,
    ATTN_E_ARG = -1,         /* invalid argument: null pointer, value out of range          */
    ATTN_E_SHAPE = -2,       /* shapes or strides inconsistent, or a mask does not broadcast */
    ATTN_E_OVERFLOW = -3,    /* a size computation would overflow                            */
    ATTN_E_NOMEM = -4,       /* allocation failed                                            */
    ATTN_E_UNSUPPORTED = -5, /* a valid request the chosen path cannot serve                 */
    ATTN_E_IO = -6,          /* a file could not be read or written                          */
    ATTN_E_FORMAT = -7,      /* malformed file or data                                       */
    ATTN_E_STATE = -8        /* object used in the wrong state                               */
};

/* Stable name of a status code, e.g. "ATTN_E_SHAPE: shape mismatch". */
ATTN_API const char *attn_status_string(int status);
/* Detail message of the last failure in this thread ("" if none), e.g.
 * "attn_sdpa_forward: k.shape[3]=63 but q.shape[3]=64". Valid until the next failing call. */
ATTN_API const char *attn_last_error(void);
ATTN_API void attn_clear_error(void);
/* For libraries built on libattn (the tokenizer module, libattn_mpi) and callbacks: set this
 * thread's message (printf format) and return status, so that their errors read like ours. The
 * arguments may include attn_last_error(), to wrap the message before it. */
ATTN_API int attn_set_error(int status, const char *fmt, ...) ATTN_PRINTF(2, 3);

/* ------------------------------------------------------------------------------------------ */
/* Threads and SIMD                                                                           */
/* ------------------------------------------------------------------------------------------ */

/* Default thread count for every parallel kernel (0 = number of online cores). Results never
 * depend on the thread count beyond what each function documents.
 * On Linux, the fused attention kernel's calls with more than ~1e8 flops of work bind their
 * threads one per CPU for the call's duration (each thread's own affinity mask is given back
 * at the end; threads the host bound to a single CPU, and calls with more threads than CPUs,
 * are left alone): another runtime's idle threads that poll with sched_yield (OpenBLAS's do
 * for ~0.1 s after each product) can otherwise leave two of the call's threads on one core. */
ATTN_API int attn_set_num_threads(int n);
ATTN_API int attn_get_num_threads(void);

typedef enum attn_isa {
    ATTN_ISA_AUTO = 0,     /* the best path the CPU supports */
    ATTN_ISA_PORTABLE = 1, /* plain C, always built */
    ATTN_ISA_AVX2 = 2,     /* AVX2 + FMA */
    ATTN_ISA_AVX512 = 3    /* AVX-512 F/BW/DQ/VL */
} attn_isa;

/* Force a SIMD path for every kernel (ATTN_E_UNSUPPORTED if this CPU lacks it). Process-wide;
 * meant for tests and benchmarks. */
ATTN_API int attn_set_isa(attn_isa isa);
/* The path in use (never ATTN_ISA_AUTO). */
ATTN_API attn_isa attn_get_isa(void);
/* Whether this CPU can run the path. */
ATTN_API int attn_isa_supported(attn_isa isa);
ATTN_API const char *attn_isa_name(attn_isa isa);

/* ------------------------------------------------------------------------------------------ */
/* Machine measurement                                                                        */
/* ------------------------------------------------------------------------------------------ */

/* What a benchmark measures about the machine and itself, so that every benchmark (the attn
 * command's, the Python binding's) states its figures against the same yardsticks. */

/* Wall clock in seconds (CLOCK_MONOTONIC; only differences mean anything). */
ATTN_API double attn_now(void);

/* The machine's peaks as the best of several short runs; take more between the measurements
 * of a benchmark (interleaved, so a busy moment at the start does not set the yardstick for
 * the whole run). FMA runs use the SIMD path in use (attn_get_isa: AVX-512, AVX2, or a
 * portable loop), each FMA counting 2 flops per lane. */
typedef struct attn_machine_peak {
    int threads;        /* threads the FMA and triad runs use (≥ 1) */
    double gflops;      /* best FP32 FMA GFLOP/s on `threads` threads (wall time) so far */
    double core_gflops; /* best FMA GFLOP/s of one core per second of its CPU time so far */
    double gbs;         /* best triad GB/s (a[i] = b[i] + s·c[i]) so far; 0 until measured */
    int fma_runs, bw_runs;
} attn_machine_peak;

/* Start *p on `threads` threads (0: 1): FMA runs of ~8 ms and ~0.5 ms, ~0.1 s in all.
 * ATTN_E_ARG for a NULL p or threads outside [0, 4096]. */
ATTN_API int attn_machine_peak_init(attn_machine_peak *p, int threads);
/* A few more FMA runs (~15 ms); the best is kept. */
ATTN_API int attn_machine_peak_sample(attn_machine_peak *p);
/* `runs` triad passes over 3 × 64 MB (allocated and freed here; ATTN_E_NOMEM if they cannot
 * be); the best is kept in p->gbs. */
ATTN_API int attn_machine_bandwidth(attn_machine_peak *p, int runs);
/* attn_machine_peak_init's FMA GFLOP/s on `threads` threads, or 0 on an error. */
ATTN_API double attn_machine_peak_gflops(int threads);
/* Peak resident set size of this process so far, in MB (getrusage). */
ATTN_API double attn_peak_rss_mb(void);
/* CPU time of this process (all its threads) so far, in seconds: beside the wall time on a
 * shared machine, where the wall time also counts waiting for a core. */
ATTN_API double attn_cpu_seconds(void);
/* The peak resident set since the last attn_rss_hwm_reset (Linux's VmHWM, reset through
 * /proc/self/clear_refs), in MB; where there is no VmHWM, attn_peak_rss_mb. The reset is
 * ATTN_E_UNSUPPORTED where the kernel does not offer it (the peak then runs from the start). */
ATTN_API int attn_rss_hwm_reset(void);
ATTN_API double attn_rss_hwm_mb(void);

/* ------------------------------------------------------------------------------------------ */
/* Tensor views                                                                               */
/* ------------------------------------------------------------------------------------------ */

#define ATTN_MAX_DIMS 4

typedef struct attn_tensor {
    float *data;
    int ndim;
    int64_t shape[ATTN_MAX_DIMS];
    int64_t stride[ATTN_MAX_DIMS]; /* elements; may be 0 to broadcast a dimension */
} attn_tensor;

/* Boolean mask view: nonzero = may attend (PyTorch's convention for bool masks). */
typedef struct attn_bool_tensor {
    const uint8_t *data;
    int ndim;
    int64_t shape[ATTN_MAX_DIMS];
    int64_t stride[ATTN_MAX_DIMS];
} attn_bool_tensor;

/* Contiguous row-major view of ndim (1..4) dimensions. */
ATTN_API attn_tensor attn_tensor_make(float *data, int ndim, const int64_t *shape);
/* Contiguous [d0, d1, d2, d3]. */
ATTN_API attn_tensor attn_tensor_4d(float *data, int64_t d0, int64_t d1, int64_t d2, int64_t d3);
/* Memory laid out [B, L, H, E] (batch_first, heads interleaved) viewed as [B, H, L, E]. */
ATTN_API attn_tensor attn_tensor_blhe(float *data, int64_t B, int64_t L, int64_t H, int64_t E);
/* Contiguous 4-d boolean mask [d0, d1, d2, d3]; use 1 for broadcast dimensions. */
ATTN_API attn_bool_tensor attn_bool_tensor_4d(const uint8_t *data, int64_t d0, int64_t d1,
                                              int64_t d2, int64_t d3);

/* ------------------------------------------------------------------------------------------ */
/* Random numbers                                                                             */
/* ------------------------------------------------------------------------------------------ */

/* Counter-based generator (Philox-4x32-10): the value depends only on (seed, counter), so any
 * element of a random stream can be regenerated without storing the stream. Returns a float
 * uniform in [0, 1) for element `index` of stream (seed, offset). */
ATTN_API float attn_philox_uniform(uint64_t seed, uint64_t offset, uint64_t index);

/* Dropout mask of scaled dot-product attention: 1 if weight (b, h, i, j) is kept for stream
 * (seed, offset) at drop probability p. index = ((b*Hq + h)*Lq + i)*Lk + j. */
ATTN_API int attn_dropout_keep(uint64_t seed, uint64_t offset, uint64_t index, float p);

#ifdef __cplusplus
}
#endif
#endif /* ATTN_CORE_H */
