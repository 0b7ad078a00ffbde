/* ring.c — ring attention (see attn/mpi.h). Forward: at step t rank r holds the key/value block of
 * rank r−t and attends its two query chunks to the block's two key chunks, merging each partial
 * result into its running (out, lse); the block is passed on to r+1 a unit (one key chunk of
 * one head) at a time, each unit's exchange running while the next unit is computed.
 * Backward: each unit travels with the accumulator of its dK/dV, to which every rank adds its
 * contribution in ring order; the N-th pass brings keys, values and gradients home. */
#include "attn/mpi.h"

#include "mpi_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set "what: detail" as this thread's error; detail may be attn_last_error() itself. */
static int ring_fail(int status, const char *what, const char *detail)
{
    char copy[512];
    snprintf(copy, sizeof copy, "%s", detail);
    return attn_set_error(status, "%s: %s", what, copy);
}

int64_t attn_mpi_ring_chunk_of(int rank, int ranks, int slot)
{
    return slot == 0 ? rank : 2 * (int64_t)ranks - 1 - rank;
}

static int64_t chunk_len(const attn_mpi_ring_problem *p, int ranks) { return p->len / (2 * (int64_t)ranks); }

int64_t attn_mpi_ring_local_floats(const attn_mpi_ring_problem *p, int ranks)
{
    if (!p || ranks < 1 || p->len < 1 || p->heads < 1 || p->dim < 1) return 0;
    int64_t c = chunk_len(p, ranks);
    if (p->heads > INT64_MAX / 2 / c / p->dim) return 0;
    return 2 * p->heads * c * p->dim;
}

static int check(const attn_mpi_ring_problem *p, int ranks, const char *fn)
{
    char buf[300];
    if (!p) return ring_fail(ATTN_E_ARG, fn, "problem is NULL");
    if (p->len < 1 || p->heads < 1 || p->dim < 1 || p->dim > 256) {
        snprintf(buf, sizeof buf, "len=%lld heads=%lld dim=%lld: need len, heads >= 1 and 1 <= dim <= 256",
                 (long long)p->len, (long long)p->heads, (long long)p->dim);
        return ring_fail(ATTN_E_ARG, fn, buf);
    }
    if (p->len % (2 * (int64_t)ranks)) {
        snprintf(buf, sizeof buf, "len=%lld is not a multiple of 2*ranks=%d", (long long)p->len, 2 * ranks);
        return ring_fail(ATTN_E_SHAPE, fn, buf);
    }
    /* the fused backward computes D = dO·O from out only for blocks of more than 8 queries
     * (shorter ones take the row path, whose D covers the block's keys alone) */
    if (chunk_len(p, ranks) <= 8) {
        snprintf(buf, sizeof buf, "chunks of len/(2*ranks)=%lld tokens are too short: need more than 8",
                 (long long)chunk_len(p, ranks));
        return ring_fail(ATTN_E_SHAPE, fn, buf);
    }
    int64_t n = attn_mpi_ring_local_floats(p, ranks);
    if (n == 0 || n > ((int64_t)1 << 31) / 32) {
        snprintf(buf, sizeof buf, "a rank's block of %lld floats is too large for one message", (long long)n);
        return ring_fail(ATTN_E_OVERFLOW, fn, buf);
    }
    return ATTN_OK;
}

static attn_sdpa_options options(const attn_mpi_ring_problem *p, int diagonal)
{
    attn_sdpa_options o;
    memset(&o, 0, sizeof o);
    o.scale = p->scale;
    o.causal = p->causal && diagonal;
    o.kernel = ATTN_KERNEL_FLASH;
    o.num_threads = p->threads;
    return o;
}

/* Whether query chunk qi sees any key of key chunk ki; *diag: the causal diagonal block. */
static int visible(const attn_mpi_ring_problem *p, int64_t qi, int64_t ki, int *diag)
{
    *diag = qi == ki;
    return !p->causal || ki <= qi;
}

/* ---- the travelling blocks ------------------------------------------------------------------
 * A rank's key/value storage [2][H][c][E] is cut into 2H units of c·E floats (unit u = key slot
 * u / H, head u % H: contiguous in that layout). Units travel one at a time: after computing
 * with unit u, a rank packs it (K, V and, in backward, the dK/dV accumulators riding along)
 * into a small staging buffer, sends it to the next rank and receives the previous rank's unit
 * u into a spare buffer, while it computes with unit u + 1; the spare is then copied into unit
 * u's place. After N rounds every unit is home again. The storage itself travels (k and v are
 * restored on success), so a rank holds its 1/N share of the keys and values plus one unit in
 * flight, never a second copy of the block. */
typedef struct ring_pipe {
    attn_mpi_ctx *d;
    int next, prev, npieces;
    float *base[4]; /* K, V (, dK, dV) storage */
    int64_t unit;   /* floats per unit and piece: c·E */
    float *stage, *spare;
    int64_t pending; /* unit in flight, or −1 */
    double wait_ms;
} ring_pipe;

static int pipe_start(ring_pipe *pp, int64_t u, const char *fn)
{
    for (int i = 0; i < pp->npieces; i++)
        memcpy(pp->stage + i * pp->unit, pp->base[i] + u * pp->unit, (size_t)pp->unit * sizeof(float));
    int rc = attn_mpi_exchange_start(pp->d, pp->stage, pp->spare, (size_t)(pp->npieces * pp->unit) * sizeof(float),
                                 pp->next, pp->prev);
    if (rc) return ring_fail(rc, fn, attn_last_error());
    pp->pending = u;
    return ATTN_OK;
}

static int pipe_wait(ring_pipe *pp, const char *fn)
{
    if (pp->pending < 0) return ATTN_OK;
    double w0 = attn_mpi_now_ms();
    int rc = attn_mpi_exchange_wait(pp->d);
    pp->wait_ms += attn_mpi_now_ms() - w0;
    const int64_t u = pp->pending;
    pp->pending = -1; /* nothing in flight any more, whatever the outcome */
    if (rc) return ring_fail(rc, fn, attn_last_error());
    for (int i = 0; i < pp->npieces; i++)
        memcpy(pp->base[i] + u * pp->unit, pp->spare + i * pp->unit, (size_t)pp->unit * sizeof(float));
    return ATTN_OK;
}

static attn_tensor unit_view(const float *base, const attn_mpi_ring_problem *p, int64_t c, int64_t index)
{
    return attn_tensor_4d((float *)base + index * c * p->dim, 1, 1, c, p->dim);
}

/* One (query slot qs, key unit u of head h) block of work; `diag` says the causal mask applies
 * inside the block. Returns an ATTN status (after ring_fail). */
typedef int (*ring_block_fn)(void *ctx, int qs, int64_t u, int64_t h, int diag);

/* The ring itself, shared by forward and backward: N rounds; in each, every unit in hand is
 * offered to both query slots (blocks wholly in the causal future skipped), then passed on
 * while the next unit is computed. Fills s (blocks, compute and wait times). */
static int ring_run(ring_pipe *pp, const attn_mpi_ring_problem *p, int r, int N, ring_block_fn block, void *ctx,
                    const char *fn, attn_mpi_ring_stats *s)
{
    const int64_t H = p->heads, U = 2 * H;
    int rc = ATTN_OK;
    for (int t = 0; t < N && rc == ATTN_OK; t++) {
        const int src = (r - t + N) % N; /* whose keys are in hand this round */
        for (int64_t u = 0; u < U && rc == ATTN_OK; u++) {
            const int ks = (int)(u / H);
            const int64_t h = u % H;
            double t0 = attn_mpi_now_ms();
            for (int qs = 0; qs < 2 && rc == ATTN_OK; qs++) {
                int diag;
                if (!visible(p, attn_mpi_ring_chunk_of(r, N, qs), attn_mpi_ring_chunk_of(src, N, ks), &diag)) continue;
                rc = block(ctx, qs, u, h, diag);
                if (h == 0) s->blocks++;
            }
            s->compute_ms += attn_mpi_now_ms() - t0;
            /* the previous unit's exchange ran during this compute; pass this unit on */
            if (rc == ATTN_OK && N > 1) rc = pipe_wait(pp, fn);
            if (rc == ATTN_OK && N > 1) rc = pipe_start(pp, u, fn);
        }
    }
    if (N > 1) {
        int wr = pipe_wait(pp, fn);
        if (rc == ATTN_OK) rc = wr;
    }
    s->wait_ms = pp->wait_ms;
    return rc;
}

typedef struct fwd_ctx {
    const attn_mpi_ring_problem *p;
    int64_t c;
    const float *q, *k, *v;
    float *out, *lse, *tile, *tlse;
} fwd_ctx;

static int fwd_block(void *ctx, int qs, int64_t u, int64_t h, int diag)
{
    fwd_ctx *f = ctx;
    const attn_mpi_ring_problem *p = f->p;
    const int64_t c = f->c, qi = qs * p->heads + h;
    attn_tensor qv = unit_view(f->q, p, c, qi), kv = unit_view(f->k, p, c, u);
    attn_tensor vv = unit_view(f->v, p, c, u), tv = unit_view(f->tile, p, c, 0);
    attn_tensor acc = unit_view(f->out, p, c, qi);
    float *acc_lse = f->lse + qi * c;
    attn_sdpa_options o = options(p, diag);
    int rc = attn_sdpa_forward(&qv, &kv, &vv, &o, &tv, f->tlse, NULL);
    if (rc == ATTN_OK) {
        attn_tensor parts[2] = {acc, tv};
        const float *lses[2] = {acc_lse, f->tlse};
        rc = attn_sdpa_merge(2, parts, lses, &acc, acc_lse);
    }
    return rc ? ring_fail(rc, "attn_mpi_ring_forward", attn_last_error()) : ATTN_OK;
}

int attn_mpi_ring_forward(attn_mpi_ctx *d, const attn_mpi_ring_problem *p, const float *q, float *k, float *v,
                           float *out, float *lse, attn_mpi_ring_stats *st)
{
    static const char fn[] = "attn_mpi_ring_forward";
    if (!d) return ring_fail(ATTN_E_ARG, fn, "context is NULL");
    const int N = attn_mpi_size(d), r = attn_mpi_rank(d);
    int rc = check(p, N, fn);
    if (rc) return rc;
    if (!q || !k || !v || !out || !lse) return ring_fail(ATTN_E_ARG, fn, "a buffer is NULL");
    const int64_t c = chunk_len(p, N), H = p->heads, cE = c * p->dim;
    attn_mpi_ring_stats s = {0, 0, 0, 0};
    double t_start = attn_mpi_now_ms();
    float *work = malloc((size_t)(4 * cE + cE + c) * sizeof(float));
    if (!work) return ring_fail(ATTN_E_NOMEM, fn, "out of memory for the travelling unit");
    ring_pipe pp = {d, (r + 1) % N, (r + N - 1) % N, 2, {k, v, NULL, NULL}, cE, work, work + 2 * cE, -1, 0};
    fwd_ctx f = {p, c, q, k, v, out, lse, work + 4 * cE, work + 5 * cE};
    memset(out, 0, (size_t)(2 * H * cE) * sizeof(float));
    for (int64_t i = 0; i < 2 * H * c; i++) lse[i] = -INFINITY;
    rc = ring_run(&pp, p, r, N, fwd_block, &f, fn, &s);
    attn_mpi_internal_release(d, work); /* kept if an exchange could not be cancelled */
    s.total_ms = attn_mpi_now_ms() - t_start;
    if (st) *st = s;
    return rc;
}

static void add_into(float *dst, const float *src, int64_t n)
{
    for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

typedef struct bwd_ctx {
    const attn_mpi_ring_problem *p;
    int64_t c;
    const float *q, *k, *v, *out, *lse, *dout;
    float *dq, *dk, *dv, *tiles;
} bwd_ctx;

static int bwd_block(void *ctx, int qs, int64_t u, int64_t h, int diag)
{
    bwd_ctx *b = ctx;
    const attn_mpi_ring_problem *p = b->p;
    const int64_t c = b->c, cE = c * p->dim, qi = qs * p->heads + h;
    attn_tensor qv = unit_view(b->q, p, c, qi), kv = unit_view(b->k, p, c, u);
    attn_tensor vv = unit_view(b->v, p, c, u), ov = unit_view(b->out, p, c, qi);
    attn_tensor gv = unit_view(b->dout, p, c, qi);
    attn_tensor dqt = unit_view(b->tiles, p, c, 0), dkt = unit_view(b->tiles, p, c, 1);
    attn_tensor dvt = unit_view(b->tiles, p, c, 2);
    attn_sdpa_options o = options(p, diag);
    /* the whole row's out and lse make P and D those of the full attention */
    int rc = attn_sdpa_backward(&qv, &kv, &vv, &ov, b->lse + qi * c, &gv, &o, &dqt, &dkt, &dvt, NULL);
    if (rc) return ring_fail(rc, "attn_mpi_ring_backward", attn_last_error());
    add_into(b->dq + qi * cE, b->tiles, cE);
    add_into(b->dk + u * cE, b->tiles + cE, cE);
    add_into(b->dv + u * cE, b->tiles + 2 * cE, cE);
    return ATTN_OK;
}

int attn_mpi_ring_backward(attn_mpi_ctx *d, const attn_mpi_ring_problem *p, const float *q, float *k, float *v,
                            const float *out, const float *lse, const float *dout, float *dq,
                            float *dk, float *dv, attn_mpi_ring_stats *st)
{
    static const char fn[] = "attn_mpi_ring_backward";
    if (!d) return ring_fail(ATTN_E_ARG, fn, "context is NULL");
    const int N = attn_mpi_size(d), r = attn_mpi_rank(d);
    int rc = check(p, N, fn);
    if (rc) return rc;
    if (!q || !k || !v || !out || !lse || !dout || !dq || !dk || !dv)
        return ring_fail(ATTN_E_ARG, fn, "a buffer is NULL");
    const int64_t c = chunk_len(p, N), H = p->heads, cE = c * p->dim;
    attn_mpi_ring_stats s = {0, 0, 0, 0};
    double t_start = attn_mpi_now_ms();
    float *work = malloc((size_t)(8 * cE + 3 * cE) * sizeof(float));
    if (!work) return ring_fail(ATTN_E_NOMEM, fn, "out of memory for the travelling unit");
    /* dk, dv hold the accumulators of the blocks in hand; they travel with them and come home
     * with every rank's contribution to this rank's keys */
    ring_pipe pp = {d, (r + 1) % N, (r + N - 1) % N, 4, {k, v, dk, dv}, cE, work, work + 4 * cE, -1, 0};
    bwd_ctx b = {p, c, q, k, v, out, lse, dout, dq, dk, dv, work + 8 * cE};
    memset(dq, 0, (size_t)(2 * H * cE) * sizeof(float));
    memset(dk, 0, (size_t)(2 * H * cE) * sizeof(float));
    memset(dv, 0, (size_t)(2 * H * cE) * sizeof(float));
    rc = ring_run(&pp, p, r, N, bwd_block, &b, fn, &s);
    attn_mpi_internal_release(d, work); /* kept if an exchange could not be cancelled */
    s.total_ms = attn_mpi_now_ms() - t_start;
    if (st) *st = s;
    return rc;
}
