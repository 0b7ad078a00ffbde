/*
 * attn/bench.h — measuring the library on this machine, as `attn bench` does: a timing loop
 * (medians over alternating rounds, calibration of the peaks interleaved with it), the FLOP and
 * byte counts behind GFLOP/s and GB/s, and whole benchmark cases (an attention kernel call, a
 * GPT training step, batch-1 generation) that return result structs. Nothing here prints;
 * stating the figures against the machine's peaks (attn/core.h: attn_machine_peak) is the
 * caller's. Sits on every other layer (kernels, models, train, generate).
 */
#ifndef ATTN_BENCH_H
#define ATTN_BENCH_H

#include "attn/core.h"
#include "attn/kernels.h"
#include "attn/models.h"
#include "attn/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- timing loop (bench: attn_bench_time) -------------------------------------------------- */

/* Median of n doubles; sorts v in place. 0 for n ≤ 0 or a NULL v. */
ATTN_API double attn_bench_median(double *v, int n);

#define ATTN_BENCH_MAX_FNS 8
#define ATTN_BENCH_MAX_REPS 256

/* One call of the code timed; a nonzero return (an ATTN_E_* status, its message set) stops the
 * timing and is returned by attn_bench_time. */
typedef int (*attn_bench_fn)(void *ctx);

/* Zero-initialised: reps 1, one round, no pause, no warm-up per block, no calibration. */
typedef struct attn_bench_options {
    int reps;              /* timed repetitions of each function, at least (0: 1) */
    int max_reps;          /* at most (0 or above: ATTN_BENCH_MAX_REPS) */
    double min_seconds;    /* more repetitions, up to max_reps, until each function would be
                              timed for more than this long, as estimated from one timed warm
                              repetition of the first function (0: none, no warm repetition) */
    int rounds;            /* each function's repetitions split into this many blocks, the
                              functions alternating block by block (f0, f1, f0, f1, …) so that a
                              change in machine load hits them alike; capped at the repetitions
                              (0: 1) */
    int batch;             /* calls per repetition, its time divided by them: for calls too
                              short for the clock (0: 1) */
    int warm_each_block;   /* one untimed call before each block (after the other functions
                              ran, caches hold their data) */
    double pause_seconds;  /* sleep before each block when there are several functions (lets
                              another library's spinning worker threads stop) */
    attn_machine_peak *peak; /* not NULL: attn_machine_peak_sample before each block, outside
                                the timing (one-repetition blocks sample before every one) */
} attn_bench_options;

/* Per function, per call. */
typedef struct attn_bench_timing {
    int reps;      /* repetitions timed */
    double ms;     /* median wall time */
    double ms_min, ms_max;
    double cpu_ms; /* median CPU time of the process (all threads): on a shared machine the wall
                      time also counts waiting for a core */
} attn_bench_timing;

/* Time n_fns (1..ATTN_BENCH_MAX_FNS) functions: each is first called once untimed (page
 * faults, thread pools), then repeated as o says; out[i] receives fns[i]'s figures. o NULL:
 * the defaults. ATTN_E_ARG for a bad argument, else the first nonzero return of a function. */
ATTN_API int attn_bench_time(int n_fns, const attn_bench_fn *fns, void *const *ctx,
                             const attn_bench_options *o, attn_bench_timing *out);

/* ---- attention (bench: attn_bench_sdpa) ---------------------------------------------------- */

typedef struct attn_bench_sdpa_case {
    int64_t B, H, Lq, Lk, E;
    int causal;
    int half_lengths; /* rows b ≥ B/2 of the batch attend to their first Lk/2 keys only
                         (attn_sdpa_options.key_lengths: padded batches) */
    int backward;     /* time attn_sdpa_backward (after one forward) instead of the forward */
    attn_kernel kernel;
    int threads;      /* 0: attn_get_num_threads() */
    int reps;         /* 0: about a second of repetitions, 3 to 64; else 1..64 */
} attn_bench_sdpa_case;

typedef struct attn_bench_sdpa_result {
    double flops;     /* per call: 4·B·H·Lq·Lk·E forward, halved when causal, times the share of
                         keys kept by half_lengths; 2.5 times that backward */
    double bytes;     /* per forward call, reading q, k, v and writing the output: 4·(2·B·H·Lk·E +
                         2·B·H·Lq·E); the traffic that bounds decoding (Lq = 1) */
    double io_mb;     /* the case's inputs and outputs (gradients included), MB */
    double rss_mb;    /* peak resident set of the case (attn_rss_hwm_reset at its start) */
    attn_bench_timing t;
} attn_bench_sdpa_result;

/* The cases `attn bench attention` names S1..S8 (causal ones, a decoding step, padded batches;
 * S8 is the attention of attn_bench_gpt_train's model), for threads and reps: *c set, *decode
 * = 1 for S6 (one query: bound by memory traffic, no backward). ATTN_E_ARG for another name. */
#define ATTN_BENCH_SDPA_DEFAULT "S1,S2,S3,S4,S5,S6,S7"
ATTN_API int attn_bench_sdpa_named(const char *name, int threads, int reps, attn_bench_sdpa_case *c, int *decode);

/* *flops and *bytes of a case (attn_bench_sdpa_result's), without running it. */
ATTN_API int attn_bench_sdpa_count(const attn_bench_sdpa_case *c, double *flops, double *bytes);
/* Run one case on inputs of fixed pseudo-random values in [−1, 1): allocates them, resets the
 * peak RSS, times the calls (attn_bench_time, one repetition a block; peak not NULL: sampled
 * before each), frees everything. ATTN_E_ARG for a bad case (half_lengths needs B ≤ 4096),
 * ATTN_E_NOMEM, or the kernel's status. */
ATTN_API int attn_bench_sdpa(const attn_bench_sdpa_case *c, attn_machine_peak *peak,
                             attn_bench_sdpa_result *out);

/* ---- matrix products (bench: attn_bench_sgemm) ------------------------------------------- */

typedef struct attn_bench_sgemm_case {
    int64_t M, N, K;     /* C[M, N] = op(A)[M, K] · op(B)[K, N], row-major as attn_sgemm's */
    attn_trans ta, tb;
    int threads;         /* attn_sgemm's (≥ 1) */
    int reps;            /* repetitions at least (1..ATTN_BENCH_MAX_REPS); more, until each
                            implementation has been timed for 0.2 s, in up to 4 alternating
                            rounds; a product under 2·10⁷ FLOPs is timed in batches */
} attn_bench_sgemm_case;

/* "MxNxK" or "N" (M = N = K), optionally followed by ":XY" with X, Y ∈ {N, T} (op of A, B):
 * "4096x1536x384:NT". Sets M, N, K, ta, tb of *c; ATTN_E_ARG naming spec otherwise. */
ATTN_API int attn_bench_sgemm_parse(const char *spec, attn_bench_sgemm_case *c);

/* Another implementation of the same product (e.g. a BLAS) to time beside attn_sgemm: writes
 * C[M, N] for operands laid out as attn_sgemm reads them (lda = ta ? M : K, ldb = tb ? K : N). */
typedef int (*attn_bench_sgemm_fn)(void *ctx, const attn_bench_sgemm_case *c, const float *A, const float *B,
                                   float *C);

typedef struct attn_bench_sgemm_result {
    double flops;         /* 2·M·N·K per product */
    attn_bench_timing t[2]; /* attn_sgemm, and the other implementation */
    double max_abs_diff;  /* largest |C_attn − C_other| */
    double max_abs;       /* largest |C_other| */
} attn_bench_sgemm_result;

/* Time attn_sgemm (and other, when not NULL, alternating with it: attn_bench_time with a 0.12 s
 * pause and a warm-up before each block, peak sampled before each when not NULL) on the caller's
 * operands A (M·K floats) and B (K·N floats). ATTN_E_ARG for a bad case, ATTN_E_NOMEM, or the
 * first failing status of either implementation. */
ATTN_API int attn_bench_sgemm(const attn_bench_sgemm_case *c, const float *A, const float *B,
                              attn_bench_sgemm_fn other, void *other_ctx, attn_machine_peak *peak,
                              attn_bench_sgemm_result *out);

/* ---- GPT training step (bench: attn_bench_gpt_train_*) ------------------------------------- */

/* A GPT training loop reduced to its step: forward, cross-entropy, backward, AdamW (weight
 * decay 0.1, lr 3·10⁻⁴) on windows of a character text (or random tokens), as nanoGPT's
 * shakespeare-char benchmark. Several processes can share a global batch (rank of ranks), a
 * hook averaging the gradients between backward and the optimiser. */
typedef struct attn_bench_gpt_train attn_bench_gpt_train;

typedef struct attn_bench_gpt_train_config {
    attn_gpt_config model; /* vocab is replaced by the text's when a text is given */
    uint64_t seed;         /* initial weights */
    const char *text_path; /* character text (attn_chars), NULL: random tokens over model.vocab */
    int batch;             /* global sequences a step (a multiple of ranks) */
    int rank, ranks;       /* this process's share of the batch (0, 1: all of it) */
    int threads;           /* 0: attn_get_num_threads() */
} attn_bench_gpt_train_config;

/* ATTN_E_ARG for a bad configuration, ATTN_E_IO/FORMAT for an unreadable or too short text. */
ATTN_API int attn_bench_gpt_train_create(const attn_bench_gpt_train_config *c, attn_bench_gpt_train **out);
ATTN_API void attn_bench_gpt_train_free(attn_bench_gpt_train *b);
/* The model's parameters (owned by b; e.g. to broadcast them) and its configuration. */
ATTN_API attn_params *attn_bench_gpt_train_params(attn_bench_gpt_train *b);
ATTN_API const attn_gpt_config *attn_bench_gpt_train_model(const attn_bench_gpt_train *b);
/* Step `step`: sequence b of it is the text window at attn_philox_uniform(7, 0, step·batch + b)
 * (the same on any rank count). grad_hook (NULL: none) runs after backward. *loss: this rank's
 * mean loss; *ms: the step's wall time (data preparation excluded). */
ATTN_API int attn_bench_gpt_train_step(attn_bench_gpt_train *b, int64_t step,
                                       int (*grad_hook)(void *ctx, attn_params *P), void *hook_ctx,
                                       double *loss, double *ms);

/* ---- the machine's load, batch-1 generation (bench: attn_bench_load, attn_bench_gpt_generate) */

/* The 1-minute load average (/proc/loadavg), or −1 where there is none: on a shared machine
 * the figures of a benchmark mean little above the core count. */
ATTN_API double attn_bench_load(void);

/* Bytes a token read and written by batch-1 sampling with the key/value cache, filling a
 * context of T positions from a one-token prompt: *weights = every weight once, the token
 * embedding twice over (a row in, the whole table as the tied head), one row of the position
 * table; *cache = the keys and values of positions 0..p read and those of p written, every
 * layer, averaged over the positions that produce a token. ATTN_E_ARG for T outside
 * [2, context]. */
ATTN_API int attn_gpt_decode_bytes(const attn_gpt *m, int64_t T, double *weights, double *cache);

/* One round: sample T − 1 tokens (temperature 1, seed) after token 0, with the cache.
 * *tokens: generated; *seconds, *cpu_seconds: the wall and process CPU time of the call. */
ATTN_API int attn_bench_gpt_generate(const attn_gpt *m, int64_t T, uint64_t seed, int64_t *tokens,
                                     double *seconds, double *cpu_seconds);

#ifdef __cplusplus
}
#endif
#endif /* ATTN_BENCH_H */
