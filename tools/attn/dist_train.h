/* dist_train.h — data-parallel training helpers over the dist layer. */
#ifndef ATTN_DIST_TRAIN_H
#define ATTN_DIST_TRAIN_H

#include "attn.h"
#include "dist.h"

/* Average the gradients of every parameter across ranks: packed into buckets of about
 * bucket_floats, summed with dist_allreduce_sum (fixed order), scaled by 1/ranks. *ms (may be
 * NULL) receives the time spent. */
int dist_average_grads(dist_ctx *d, attn_params *P, size_t bucket_floats, double *ms);

/* Make every rank start from rank 0's parameters. */
int dist_broadcast_params(dist_ctx *d, attn_params *P);

#endif
