/*
 * attn/mpi.h — libattn_mpi: running attn over several processes (data-parallel training, ring
 * attention). A library beside libattn, not in it: libattn has no MPI dependency, and this
 * header is not included by attn.h. Link with `pkg-config --libs attn-mpi`. When it was built
 * without MPI the same interface runs one process (attn_mpi_available() returns 0, every
 * collective is the identity), so a program written for it runs with or without mpirun.
 *
 * Errors follow libattn's conventions (attn/core.h): fallible calls return 0 or a negative
 * ATTN_E_* code, and attn_last_error() says what failed and which rank was involved. A rank
 * that stops answering is reported instead of hanging the job: a wait fails after
 * ATTN_DIST_TIMEOUT seconds (environment, default 300) without a sign of life — a message of
 * the wait arriving, or a heartbeat of a rank in a busy section (attn_mpi_busy_begin), so a
 * rank writing a long checkpoint is waited for. Waits poll for 0.1 ms, then sleep between polls
 * (a doubling nap up to 2 ms): a waiting rank uses almost no CPU.
 *
 * After a failed communication the ranks are out of step: the context refuses further calls
 * (ATTN_E_STATE). Its messages were cancelled; one that MPI could not cancel (a send to a dead
 * rank) may still read or write the buffers given to the failed call, so exit (attn_mpi_abort,
 * or _exit without attn_mpi_finalize) rather than free them. The library's own buffers of such
 * a call are kept until attn_mpi_finalize.
 *
 * Every collective is deterministic: for a fixed number of ranks the reduction order is fixed,
 * so a run is bit-identical to itself.
 */
#ifndef ATTN_MPI_H
#define ATTN_MPI_H

#include "attn/nn.h"
#include "attn/train.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* The job and its collectives                                                                */
/* ------------------------------------------------------------------------------------------ */

/* One process's place in the job: its rank, the number of ranks, and the messages in flight. */
typedef struct attn_mpi_ctx attn_mpi_ctx;

/* 1 when libattn_mpi was built with MPI, 0 for the single-process build. */
ATTN_API int attn_mpi_available(void);

/* Join the job (MPI_Init when built with MPI and MPI is not initialised yet; argc and argv are
 * passed on to it) and create *ctx. */
ATTN_API int attn_mpi_init(int *argc, char ***argv, attn_mpi_ctx **ctx);
/* Leave the job (MPI_Finalize when attn_mpi_init initialised MPI) and free ctx; NULL is a
 * no-op. It waits for every rank: after a peer died, exit without calling it. */
ATTN_API void attn_mpi_finalize(attn_mpi_ctx *ctx);
/* This process's rank in [0, size) and the number of ranks (0 and 1 in one process). */
ATTN_API int attn_mpi_rank(const attn_mpi_ctx *ctx);
ATTN_API int attn_mpi_size(const attn_mpi_ctx *ctx);

/* Sum n floats across ranks in place; every rank ends with the same bits. The order of the
 * additions depends only on the number of ranks: element block c is summed as
 * ((x_c + x_{c+1}) + x_{c+2}) + … in ring order from rank c. */
ATTN_API int attn_mpi_allreduce_sum(attn_mpi_ctx *ctx, float *buf, size_t n);
/* Sum of one double across ranks (losses, counts), added in rank order. */
ATTN_API int attn_mpi_allreduce_sum_double(attn_mpi_ctx *ctx, double *value);
/* Copy `bytes` bytes of buf on rank root into buf on every rank (at most 2^31). */
ATTN_API int attn_mpi_bcast(attn_mpi_ctx *ctx, void *buf, size_t bytes, int root);
/* Return once every rank has entered. */
ATTN_API int attn_mpi_barrier(attn_mpi_ctx *ctx);

/* Every rank passes a description of its configuration (bytes); fails (ATTN_E_STATE) with a
 * message naming the first rank whose description differs from rank 0's ("<what> differs
 * between rank 0 and rank r …"). */
ATTN_API int attn_mpi_check_same(attn_mpi_ctx *ctx, const void *desc, size_t bytes, const char *what);

/* Every rank passes a 64-bit value (e.g. a hash of the state it loaded: attn_run_state_hash);
 * fails (ATTN_E_STATE) naming the first rank whose value differs from rank 0's, with both
 * values ("<what> differs between rank 0 (…) and rank r (…); k of N ranks differ …"). */
ATTN_API int attn_mpi_check_same_u64(attn_mpi_ctx *ctx, uint64_t value, const char *what);

/* A busy section: this rank is about to work alone for a while (rank 0 writing a checkpoint,
 * running an evaluation) and makes no attn_mpi call, nor any MPI call of its own, until
 * attn_mpi_busy_end. Meanwhile a thread sends every other rank a heartbeat every
 * min(1 s, ATTN_DIST_TIMEOUT / 4), and their waits, which time out only after ATTN_DIST_TIMEOUT
 * seconds without a sign of life, wait as long as it lasts (a dead or stopped rank sends none).
 * When MPI was initialised without thread support (MPI_THREAD_SERIALIZED; attn_mpi_init asks
 * for it) only one heartbeat is sent at the start and one at the end. Collectives called
 * inside the section fail with ATTN_E_STATE. what (may be NULL) is for messages. One process:
 * no-ops. */
ATTN_API int attn_mpi_busy_begin(attn_mpi_ctx *ctx, const char *what);
ATTN_API int attn_mpi_busy_end(attn_mpi_ctx *ctx);

/* Point-to-point for ring algorithms: start sending `bytes` of sbuf to rank `to` and receiving
 * as many into rbuf from rank `from`; attn_mpi_exchange_wait completes both. One exchange in
 * flight per context; the buffers must stay untouched until the wait returns. */
ATTN_API int attn_mpi_exchange_start(attn_mpi_ctx *ctx, const void *sbuf, void *rbuf, size_t bytes,
                                     int to, int from);
ATTN_API int attn_mpi_exchange_wait(attn_mpi_ctx *ctx);

/* Stop the whole job with a message: prints it to stderr ("attn (rank r of N): message" under
 * MPI, "attn: message" in one process) and, under MPI, MPI_Abort ends every rank with a nonzero
 * status. For programs that own the process (a command, a test), never called by a library.
 * In one process it only prints; the caller then returns its error as usual. ctx may be NULL. */
ATTN_API void attn_mpi_abort(attn_mpi_ctx *ctx, const char *message);

/* ------------------------------------------------------------------------------------------ */
/* Data-parallel training                                                                     */
/* ------------------------------------------------------------------------------------------ */

/* Average the gradients of every parameter of P across ranks: packed into buckets of about
 * bucket_floats (at least 1024), summed with attn_mpi_allreduce_sum (fixed order), scaled by
 * 1/ranks. A parameter without a gradient buffer gets one (zeros) first. *ms (may be NULL)
 * receives the time spent in milliseconds. */
ATTN_API int attn_mpi_average_grads(attn_mpi_ctx *ctx, attn_params *P, size_t bucket_floats, double *ms);

/* Weighted sum across ranks: every gradient becomes Σ_rank weight_rank · g_rank (fixed order).
 * With each rank's weight its share of the global batch's loss terms (its tokens over the
 * batch's), a mean loss split unevenly across ranks gets the gradient of the whole batch's
 * mean. Missing gradient buffers are allocated as for attn_mpi_average_grads. */
ATTN_API int attn_mpi_weighted_grads(attn_mpi_ctx *ctx, attn_params *P, double weight, size_t bucket_floats,
                                     double *ms);

/* Rank 0's bytes to every rank: on rank 0 *data and *n are read; on the others *data receives
 * a malloc'ed copy (the caller frees it; NULL after a failure) and *n its length. */
ATTN_API int attn_mpi_share_bytes(attn_mpi_ctx *ctx, void **data, size_t *n);

/* Rank 0's flag (e.g. "stop now": a time limit read from one clock) on every rank: 0 or 1, or
 * a negative ATTN_E_* code when the broadcast failed. */
ATTN_API int attn_mpi_agree(attn_mpi_ctx *ctx, int flag);

/* Give rank r > 0 its own dropout stream (the tape's seed mixed with r; rank 0 keeps the seed
 * a checkpoint saves), so the ranks' shares of a batch do not get the same masks. Call after
 * the tape's state is set (created or resumed). */
ATTN_API void attn_mpi_rank_rng(const attn_mpi_ctx *ctx, attn_tape *t);

/* A communicator for attn_train_run (attn/train.h) over ctx: gradients summed weighted by each
 * rank's share, sums, rank 0's stop decision, broadcasts, and the check that every rank resumed
 * the same state. ctx must outlive the run. */
ATTN_API int attn_mpi_train_comm(attn_mpi_ctx *ctx, attn_train_comm *out);

/* Make every rank start from rank 0's parameter values. */
ATTN_API int attn_mpi_broadcast_params(attn_mpi_ctx *ctx, attn_params *P);

/* ------------------------------------------------------------------------------------------ */
/* Ring attention (sequence parallel)                                                         */
/* ------------------------------------------------------------------------------------------ */

/*
 * One sequence of len tokens is cut into 2·N chunks of c = len / (2N) tokens (N = ranks). Rank
 * r holds the queries, keys and values of chunks r and 2N−1−r (zig-zag: under a causal mask
 * every rank then has the same work, none idles half the ring). Key/value blocks travel round
 * the ring with non-blocking exchanges that overlap the compute of the block in hand; partial
 * outputs are merged exactly with the fused kernel's log-sum-exp merge. Blocks wholly in the
 * future of a query chunk are skipped.
 *
 * Memory: the caller's k and v arrays are the travelling storage — a block moves a unit (one
 * key chunk of one head) at a time through one small staging and one spare buffer — so a rank
 * holds its 1/N share of the keys and values, never a second copy. k and v are restored when
 * a call returns ATTN_OK and are unspecified after a failure; they must not alias q or any
 * other argument.
 *
 * Local layout of every per-rank array (q, k, v, out, dout, dq, dk, dv): [2][H][c][E]
 * contiguous — chunk slot 0 is chunk r, slot 1 chunk 2N−1−r; lse is [2][H][c].
 *
 * Results do not depend on timing: every sum runs in a fixed order for a fixed N.
 */
typedef struct attn_mpi_ring_problem {
    int64_t len;   /* whole sequence; a multiple of 2·ranks, chunks longer than 8 tokens */
    int64_t heads; /* H */
    int64_t dim;   /* E (keys and values alike), ≤ 256 */
    int causal;    /* query t attends keys ≤ t */
    float scale;   /* 0: 1/√E */
    int threads;   /* for the kernel; 0: library default */
} attn_mpi_ring_problem;

/* What one call of this rank did and how long it took. */
typedef struct attn_mpi_ring_stats {
    double compute_ms; /* kernel calls and merges */
    double wait_ms;    /* time blocked on exchanges (not hidden behind compute) */
    double total_ms;
    int blocks;        /* (query chunk, key chunk) pairs computed by this rank */
} attn_mpi_ring_stats;

/* Global chunk index held in slot (0 or 1) by rank of ranks. */
ATTN_API int64_t attn_mpi_ring_chunk_of(int rank, int ranks, int slot);

/* Floats of one local [2][H][c][E] array for this problem and rank count (0 if invalid). */
ATTN_API int64_t attn_mpi_ring_local_floats(const attn_mpi_ring_problem *p, int ranks);

/* Forward: out [2][H][c][E] and lse [2][H][c] of this rank's queries over the whole sequence.
 * st (may be NULL) receives this rank's statistics. */
ATTN_API int attn_mpi_ring_forward(attn_mpi_ctx *ctx, const attn_mpi_ring_problem *p, const float *q, float *k,
                                   float *v, float *out, float *lse, attn_mpi_ring_stats *st);

/* Backward from dout: dq of the local queries, dk and dv of the local keys and values (the
 * sums over every rank's queries; dK/dV travel round the ring with their keys and return to
 * their owner). out and lse are the forward's. st may be NULL. */
ATTN_API int attn_mpi_ring_backward(attn_mpi_ctx *ctx, const attn_mpi_ring_problem *p, const float *q, float *k,
                                    float *v, const float *out, const float *lse, const float *dout, float *dq,
                                    float *dk, float *dv, attn_mpi_ring_stats *st);

/* Inputs every rank can make for itself (nothing scattered): element (h, pos, e) of tensor
 * `tensor` (ATTN_MPI_RING_Q, _K, _V or _DOUT) of the whole sequence is 2·u − 1, u =
 * attn_philox_uniform(seed, tensor, (h·len + pos)·dim + e). attn_mpi_ring_fill writes this rank's
 * local [2][H][c][E] array of it. */
enum { ATTN_MPI_RING_Q = 1, ATTN_MPI_RING_K, ATTN_MPI_RING_V, ATTN_MPI_RING_DOUT };
ATTN_API int attn_mpi_ring_fill(float *x, uint64_t seed, int tensor, const attn_mpi_ring_problem *p, int rank,
                                int ranks);

/* Check a rank's ring results for attn_mpi_ring_fill's inputs of `seed` against the fused
 * kernel on one process (attn_sdpa_forward/backward, ATTN_KERNEL_FLASH): *fwd_err = the largest
 * |difference| of out and lse, *bwd_err that of dq, dk, dv (NaN when dq is NULL: forward only;
 * a NaN result counts as infinite). rows_only = 0: the whole sequence is generated here
 * (memory ~ 9·H·len·E floats); rows_only ≠ 0 (long sequences): only the last
 * ATTN_MPI_RING_CHECK_ROWS query rows of each local chunk against their key prefix, out, lse
 * and dq (dk and dv need every query: not checked; memory ~ 4·H·len·E floats). Runs on this
 * process alone: no communication. */
#define ATTN_MPI_RING_CHECK_ROWS 16
ATTN_API int attn_mpi_ring_check(const attn_mpi_ring_problem *p, uint64_t seed, int rank, int ranks, int rows_only,
                                 const float *out, const float *lse, const float *dq, const float *dk,
                                 const float *dv, double *fwd_err, double *bwd_err);

/* ---- bench ring (attn_mpi_ring_bench) ------------------------------------------------------ */

/* What `attn bench ring` measures on a rank: ring attention on attn_mpi_ring_fill's inputs of
 * a seed, timed, its key/value restoration checked bit for bit, and its results checked
 * against the single-process kernel (attn_mpi_ring_check). */
enum { ATTN_MPI_RING_BENCH_NO_CHECK = 0, ATTN_MPI_RING_BENCH_CHECK_FULL, ATTN_MPI_RING_BENCH_CHECK_ROWS };
typedef struct attn_mpi_ring_bench_result {
    double fwd_ms, bwd_ms;   /* median over the repetitions of this rank's call (bwd 0: none) */
    double fwd_err, bwd_err; /* attn_mpi_ring_check's (NaN: not checked) */
    double rss_mb;           /* this rank's peak RSS after the timed calls, before the check */
    double wait_pct;         /* % of the last repetition's time blocked on exchanges */
} attn_mpi_ring_bench_result;

/* Every rank calls it with the same arguments: allocates the 9 local arrays, fills them,
 * reps (1..64) times a barrier, the forward and (backward ≠ 0) the backward, then checks
 * (check: ATTN_MPI_RING_BENCH_*). ATTN_E_STATE when k or v is not restored, else the status
 * of the first failing step (ATTN_E_ARG for bad arguments, ATTN_E_NOMEM). */
ATTN_API int attn_mpi_ring_bench(attn_mpi_ctx *ctx, const attn_mpi_ring_problem *p, uint64_t seed, int reps,
                                 int backward, int check, attn_mpi_ring_bench_result *r);
/* Every rank's result in all[0..ranks) at every rank (collective; values as float). */
ATTN_API int attn_mpi_ring_bench_gather(attn_mpi_ctx *ctx, const attn_mpi_ring_bench_result *mine,
                                        attn_mpi_ring_bench_result *all);

#ifdef __cplusplus
}
#endif

#endif /* ATTN_MPI_H */
