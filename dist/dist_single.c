/* dist_single.c — the dist interface for builds without MPI: one process, collectives are
 * identities. */
#include "dist.h"

#include "attn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dist_ctx {
    int dummy;
    const void *pending_s;
    void *pending_r;
    size_t pending_bytes;
};

static char dist_msg[256];

int dist_available(void) { return 0; }
const char *dist_error(void) { return dist_msg; }

int dist_init(int *argc, char ***argv, dist_ctx **ctx)
{
    (void)argc, (void)argv;
    *ctx = calloc(1, sizeof **ctx);
    if (!*ctx) {
        snprintf(dist_msg, sizeof dist_msg, "dist_init: out of memory");
        return ATTN_E_NOMEM;
    }
    return ATTN_OK;
}

void dist_finalize(dist_ctx *ctx) { free(ctx); }
int dist_rank(const dist_ctx *ctx) { return (void)ctx, 0; }
int dist_size(const dist_ctx *ctx) { return (void)ctx, 1; }
int dist_allreduce_sum(dist_ctx *ctx, float *buf, size_t n) { return (void)ctx, (void)buf, (void)n, 0; }
int dist_allreduce_sum_double(dist_ctx *ctx, double *v) { return (void)ctx, (void)v, 0; }
int dist_bcast(dist_ctx *ctx, void *buf, size_t bytes, int root)
{
    return (void)ctx, (void)buf, (void)bytes, (void)root, 0;
}
int dist_barrier(dist_ctx *ctx) { return (void)ctx, 0; }
int dist_check_same(dist_ctx *ctx, const void *d, size_t n, const char *what)
{
    return (void)ctx, (void)d, (void)n, (void)what, 0;
}

int dist_exchange_start(dist_ctx *ctx, const void *sbuf, void *rbuf, size_t bytes, int to, int from)
{
    if (to != 0 || from != 0) {
        snprintf(dist_msg, sizeof dist_msg, "dist_exchange_start: rank %d/%d out of range (1 rank)",
                 to, from);
        return ATTN_E_ARG;
    }
    ctx->pending_s = sbuf, ctx->pending_r = rbuf, ctx->pending_bytes = bytes;
    return ATTN_OK;
}

int dist_exchange_wait(dist_ctx *ctx)
{
    if (ctx->pending_r && ctx->pending_s != ctx->pending_r)
        memmove(ctx->pending_r, ctx->pending_s, ctx->pending_bytes);
    ctx->pending_s = ctx->pending_r = NULL;
    return ATTN_OK;
}

void dist_abort(dist_ctx *ctx, const char *message)
{
    (void)ctx;
    fprintf(stderr, "attn: %s\n", message); /* one process: the caller returns its error */
}
