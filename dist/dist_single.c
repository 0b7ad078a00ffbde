/* dist_single.c — libattn_mpi for builds without MPI: one process, collectives are
 * identities. */
#include "attn/mpi.h"

#include "mpi_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct attn_mpi_ctx {
    int dummy;
    const void *pending_s;
    void *pending_r;
    size_t pending_bytes;
};

int attn_mpi_available(void) { return 0; }

int attn_mpi_init(int *argc, char ***argv, attn_mpi_ctx **ctx)
{
    (void)argc, (void)argv;
    *ctx = calloc(1, sizeof **ctx);
    if (!*ctx) return attn_set_error(ATTN_E_NOMEM, "attn_mpi_init: out of memory");
    return ATTN_OK;
}

void attn_mpi_finalize(attn_mpi_ctx *ctx) { free(ctx); }
int attn_mpi_rank(const attn_mpi_ctx *ctx) { return (void)ctx, 0; }
int attn_mpi_size(const attn_mpi_ctx *ctx) { return (void)ctx, 1; }
int attn_mpi_allreduce_sum(attn_mpi_ctx *ctx, float *buf, size_t n) { return (void)ctx, (void)buf, (void)n, 0; }
int attn_mpi_allreduce_sum_double(attn_mpi_ctx *ctx, double *v) { return (void)ctx, (void)v, 0; }
int attn_mpi_bcast(attn_mpi_ctx *ctx, void *buf, size_t bytes, int root)
{
    return (void)ctx, (void)buf, (void)bytes, (void)root, 0;
}
int attn_mpi_barrier(attn_mpi_ctx *ctx) { return (void)ctx, 0; }
int attn_mpi_check_same(attn_mpi_ctx *ctx, const void *d, size_t n, const char *what)
{
    return (void)ctx, (void)d, (void)n, (void)what, 0;
}

int attn_mpi_check_same_u64(attn_mpi_ctx *ctx, uint64_t value, const char *what)
{
    return (void)ctx, (void)value, (void)what, 0;
}
int attn_mpi_busy_begin(attn_mpi_ctx *ctx, const char *what) { return (void)ctx, (void)what, 0; }
int attn_mpi_busy_end(attn_mpi_ctx *ctx) { return (void)ctx, 0; }
void attn_mpi_internal_release(attn_mpi_ctx *ctx, void *p) { (void)ctx, free(p); }

int attn_mpi_exchange_start(attn_mpi_ctx *ctx, const void *sbuf, void *rbuf, size_t bytes, int to, int from)
{
    if (to != 0 || from != 0)
        return attn_set_error(ATTN_E_ARG, "attn_mpi_exchange_start: rank %d/%d out of range (1 rank)", to, from);
    ctx->pending_s = sbuf, ctx->pending_r = rbuf, ctx->pending_bytes = bytes;
    return ATTN_OK;
}

int attn_mpi_exchange_wait(attn_mpi_ctx *ctx)
{
    if (ctx->pending_r && ctx->pending_s != ctx->pending_r)
        memmove(ctx->pending_r, ctx->pending_s, ctx->pending_bytes);
    ctx->pending_s = ctx->pending_r = NULL;
    return ATTN_OK;
}

void attn_mpi_abort(attn_mpi_ctx *ctx, const char *message)
{
    (void)ctx;
    fprintf(stderr, "attn: %s\n", message); /* one process: the caller returns its error */
}
