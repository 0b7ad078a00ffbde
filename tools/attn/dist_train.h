/* dist_train.h — data-parallel training helpers over the dist layer. */
#ifndef ATTN_DIST_TRAIN_H
#define ATTN_DIST_TRAIN_H

#include "attn.h"
#include "dist.h"
#include "../text/spm.h"

/* Average the gradients of every parameter across ranks: packed into buckets of about
 * bucket_floats, summed with dist_allreduce_sum (fixed order), scaled by 1/ranks. *ms (may be
 * NULL) receives the time spent. */
int dist_average_grads(dist_ctx *d, attn_params *P, size_t bucket_floats, double *ms);

/* Weighted sum across ranks: every gradient becomes Σ_rank weight_rank · g_rank (fixed order).
 * With each rank's weight its share of the global batch's loss terms (its tokens over the
 * batch's), a mean loss split unevenly across ranks gets the gradient of the whole batch's mean. */
int dist_weighted_grads(dist_ctx *d, attn_params *P, double weight, size_t bucket_floats, double *ms);

/* Rank 0's bytes to every rank: on rank 0 *data and *n are read; on the others *data receives a
 * malloc'ed copy (the caller frees it) and *n its length. */
int dist_share_bytes(dist_ctx *d, void **data, size_t *n);

/* Rank 0's flag (e.g. "stop now": a time limit read from one clock) on every rank; -1 when the
 * broadcast failed (the message is in dist_error()). */
int dist_agree(dist_ctx *d, int flag);

/* Rank 0's tokenizer to every rank: rank 0 passes its status st and, when st is ATTN_OK, its
 * *sp; the others receive *sp (or an error, printed with cmd, when rank 0 failed or the
 * broadcast did; a rank that enters with an error keeps it). Returns this rank's status. */
int dist_share_tokenizer(dist_ctx *dc, int st, attn_spm **sp, const char *cmd);

/* Give rank r > 0 its own dropout stream (the tape's seed mixed with r; rank 0 keeps the seed a
 * checkpoint saves), so the ranks' shares of a batch do not get the same masks. Call after the
 * tape's state is set (created or resumed). */
void dist_rank_rng(dist_ctx *d, attn_tape *t);

/* Make every rank start from rank 0's parameters. */
int dist_broadcast_params(dist_ctx *d, attn_params *P);

#endif
