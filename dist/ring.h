/* ring.h — sequence-parallel ("ring") attention over the dist layer.
 *
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
 * Results do not depend on timing: every sum runs in a fixed order for a fixed N. */
#ifndef ATTN_RING_H
#define ATTN_RING_H

#include "dist.h"

#include <stdint.h>

typedef struct ring_problem {
    int64_t len;   /* whole sequence; a multiple of 2·ranks, chunks longer than 8 tokens */
    int64_t heads; /* H */
    int64_t dim;   /* E (keys and values alike), ≤ 256 */
    int causal;    /* query t attends keys ≤ t */
    float scale;   /* 0: 1/√E */
    int threads;   /* for the kernel; 0: library default */
} ring_problem;

typedef struct ring_stats {
    double compute_ms; /* kernel calls and merges */
    double wait_ms;    /* time blocked on exchanges (not hidden behind compute) */
    double total_ms;
    int blocks;        /* (query chunk, key chunk) pairs computed by this rank */
} ring_stats;

/* Global chunk index held in slot (0 or 1) by rank of ranks. */
int64_t ring_chunk_of(int rank, int ranks, int slot);

/* Floats of one local [2][H][c][E] array for this problem and rank count (0 if invalid). */
int64_t ring_local_floats(const ring_problem *p, int ranks);

/* Forward: out [2][H][c][E] and lse [2][H][c] of this rank's queries over the whole sequence. */
int ring_attention_forward(dist_ctx *d, const ring_problem *p, const float *q, float *k, float *v,
                           float *out, float *lse, ring_stats *st);

/* Backward from dout: dq of the local queries, dk and dv of the local keys and values (the
 * sums over every rank's queries; dK/dV travel round the ring with their keys and return to
 * their owner). out and lse are the forward's. */
int ring_attention_backward(dist_ctx *d, const ring_problem *p, const float *q, float *k, float *v,
                            const float *out, const float *lse, const float *dout, float *dq,
                            float *dk, float *dv, ring_stats *st);

/* Message for the last failure (the kernel's or the dist layer's). */
const char *ring_error(void);

#endif
