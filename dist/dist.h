/* dist.h — running attn over several processes with MPI (data-parallel training, ring
 * attention). Beside libattn, not in it: libattn has no MPI dependency. Without MPI at build
 * time the same interface runs a single process (dist_single.c).
 *
 * Every collective is deterministic: for a fixed number of ranks the reduction order is fixed,
 * so a run is bit-identical to itself. */
#ifndef ATTN_DIST_H
#define ATTN_DIST_H

#include <stddef.h>
#include <stdint.h>

typedef struct dist_ctx dist_ctx;

/* Whether this build has MPI. */
int dist_available(void);

/* Join the job (MPI_Init when built with MPI). Returns 0 or a negative ATTN_E_* code with
 * attn_last_error()-style message in dist_error(). */
int dist_init(int *argc, char ***argv, dist_ctx **ctx);
void dist_finalize(dist_ctx *ctx);
int dist_rank(const dist_ctx *ctx);
int dist_size(const dist_ctx *ctx);
const char *dist_error(void);

/* Sum n floats across ranks in place; every rank ends with the same bits. The order of the
 * additions depends only on the number of ranks: element block c is summed as
 * ((x_0 + x_1) + x_2) + … in rank order. */
int dist_allreduce_sum(dist_ctx *ctx, float *buf, size_t n);
/* Sum of one double across ranks (losses, counts), in rank order. */
int dist_allreduce_sum_double(dist_ctx *ctx, double *value);
/* Broadcast bytes from root. */
int dist_bcast(dist_ctx *ctx, void *buf, size_t bytes, int root);
/* Barrier. */
int dist_barrier(dist_ctx *ctx);

/* Every rank passes a description of its configuration (bytes); fails with a message naming
 * the first rank whose description differs from rank 0's. */
int dist_check_same(dist_ctx *ctx, const void *desc, size_t bytes, const char *what);

/* Point-to-point for ring algorithms: start sending `bytes` to `to` and receiving into `rbuf`
 * from `from`; dist_wait completes both. One exchange in flight per context. */
int dist_exchange_start(dist_ctx *ctx, const void *sbuf, void *rbuf, size_t bytes, int to, int from);
int dist_exchange_wait(dist_ctx *ctx);

/* Stop the whole job with a message (the rank's own): under MPI, MPI_Abort ends every rank with
 * a nonzero status — for programs that own the process (the attn tool, tests), never libattn.
 * In a single process it only prints; the caller then returns its error as usual. */
void dist_abort(dist_ctx *ctx, const char *message);

#endif
