/* ring.c — ring attention (see ring.h). Forward: at step t rank r holds the key/value block of
 * rank r−t, starts passing it on to r+1 (receiving r−t−1's from r−1), and meanwhile attends
 * its two query chunks to the block's two key chunks, merging each partial result into its
 * running (out, lse). Backward: the block travels with an accumulator of its dK/dV; the
 * accumulator of the block computed at step t−1 rides along with the block of step t, so
 * every rank adds its contribution one step later, in ring order, and a last exchange hands
 * each accumulator back to its owner. */
#include "ring.h"

#include "attn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char ring_msg[600];

const char *ring_error(void) { return ring_msg; }

static int ring_fail(int status, const char *what, const char *detail)
{
    snprintf(ring_msg, sizeof ring_msg, "%s: %s", what, detail);
    return status;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

int64_t ring_chunk_of(int rank, int ranks, int slot)
{
    return slot == 0 ? rank : 2 * (int64_t)ranks - 1 - rank;
}

static int64_t chunk_len(const ring_problem *p, int ranks) { return p->len / (2 * (int64_t)ranks); }

int64_t ring_local_floats(const ring_problem *p, int ranks)
{
    if (!p || ranks < 1 || p->len < 1 || p->heads < 1 || p->dim < 1) return 0;
    int64_t c = chunk_len(p, ranks);
    if (p->heads > INT64_MAX / 2 / c / p->dim) return 0;
    return 2 * p->heads * c * p->dim;
}

static int check(const ring_problem *p, int ranks, const char *fn)
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
    int64_t n = ring_local_floats(p, ranks);
    if (n == 0 || n > ((int64_t)1 << 31) / 32) {
        snprintf(buf, sizeof buf, "a rank's block of %lld floats is too large for one message", (long long)n);
        return ring_fail(ATTN_E_OVERFLOW, fn, buf);
    }
    return ATTN_OK;
}

static attn_tensor chunk_view(const float *base, const ring_problem *p, int64_t c, int64_t dim)
{
    return attn_tensor_4d((float *)base, 1, p->heads, c, dim);
}

static attn_sdpa_options options(const ring_problem *p, int diagonal)
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
static int visible(const ring_problem *p, int64_t qi, int64_t ki, int *diag)
{
    *diag = qi == ki;
    return !p->causal || ki <= qi;
}

int ring_attention_forward(dist_ctx *d, const ring_problem *p, const float *q, const float *k,
                           const float *v, float *out, float *lse, ring_stats *st)
{
    static const char fn[] = "ring_attention_forward";
    const int N = dist_size(d), r = dist_rank(d);
    int rc = check(p, N, fn);
    if (rc) return rc;
    if (!q || !k || !v || !out || !lse) return ring_fail(ATTN_E_ARG, fn, "a buffer is NULL");
    const int64_t c = chunk_len(p, N), n1 = p->heads * c * p->dim, l1 = p->heads * c;
    ring_stats s = {0, 0, 0, 0};
    double t_start = now_ms();
    float *travel = malloc((size_t)(8 * n1) * sizeof(float));
    float *tile = malloc((size_t)n1 * sizeof(float)), *tlse = malloc((size_t)l1 * sizeof(float));
    if (!travel || !tile || !tlse) {
        free(travel), free(tile), free(tlse);
        return ring_fail(ATTN_E_NOMEM, fn, "out of memory for the travelling blocks");
    }
    float *buf[2] = {travel, travel + 4 * n1};
    memcpy(buf[0], k, (size_t)(2 * n1) * sizeof(float));
    memcpy(buf[0] + 2 * n1, v, (size_t)(2 * n1) * sizeof(float));
    memset(out, 0, (size_t)(2 * n1) * sizeof(float));
    for (int64_t i = 0; i < 2 * l1; i++) lse[i] = -INFINITY;
    const int next = (r + 1) % N, prev = (r + N - 1) % N;
    int cur = 0;
    for (int t = 0; t < N && rc == ATTN_OK; t++) {
        const int src = (r - t + N) % N;
        if (t < N - 1) {
            rc = dist_exchange_start(d, buf[cur], buf[cur ^ 1], (size_t)(4 * n1) * sizeof(float), next, prev);
            if (rc) {
                ring_fail(rc, fn, dist_error());
                break;
            }
        }
        double t0 = now_ms();
        for (int qs = 0; qs < 2 && rc == ATTN_OK; qs++)
            for (int ks = 0; ks < 2 && rc == ATTN_OK; ks++) {
                int diag;
                if (!visible(p, ring_chunk_of(r, N, qs), ring_chunk_of(src, N, ks), &diag)) continue;
                attn_tensor qv = chunk_view(q + qs * n1, p, c, p->dim);
                attn_tensor kv = chunk_view(buf[cur] + ks * n1, p, c, p->dim);
                attn_tensor vv = chunk_view(buf[cur] + (2 + ks) * n1, p, c, p->dim);
                attn_tensor tv = chunk_view(tile, p, c, p->dim);
                attn_tensor acc = chunk_view(out + qs * n1, p, c, p->dim);
                attn_sdpa_options o = options(p, diag);
                rc = attn_sdpa_forward(&qv, &kv, &vv, &o, &tv, tlse, NULL);
                if (rc == ATTN_OK) {
                    attn_tensor parts[2] = {acc, tv};
                    const float *lses[2] = {lse + qs * l1, tlse};
                    rc = attn_sdpa_merge(2, parts, lses, &acc, lse + qs * l1);
                }
                if (rc) ring_fail(rc, fn, attn_last_error());
                s.blocks++;
            }
        s.compute_ms += now_ms() - t0;
        if (t < N - 1) {
            double w0 = now_ms();
            int wr = dist_exchange_wait(d);
            s.wait_ms += now_ms() - w0;
            if (wr && rc == ATTN_OK) rc = ring_fail(wr, fn, dist_error());
        }
        cur ^= 1;
    }
    free(travel), free(tile), free(tlse);
    s.total_ms = now_ms() - t_start;
    if (st) *st = s;
    return rc;
}

static void add_into(float *dst, const float *src, int64_t n)
{
    for (int64_t i = 0; i < n; i++) dst[i] += src[i];
}

int ring_attention_backward(dist_ctx *d, const ring_problem *p, const float *q, const float *k,
                            const float *v, const float *out, const float *lse, const float *dout,
                            float *dq, float *dk, float *dv, ring_stats *st)
{
    static const char fn[] = "ring_attention_backward";
    const int N = dist_size(d), r = dist_rank(d);
    int rc = check(p, N, fn);
    if (rc) return rc;
    if (!q || !k || !v || !out || !lse || !dout || !dq || !dk || !dv)
        return ring_fail(ATTN_E_ARG, fn, "a buffer is NULL");
    const int64_t c = chunk_len(p, N), n1 = p->heads * c * p->dim, l1 = p->heads * c;
    ring_stats s = {0, 0, 0, 0};
    double t_start = now_ms();
    /* message: [K0 K1 V0 V1 | dK0 dK1 dV0 dV1]; mine: this step's [dK0 dK1 dV0 dV1] */
    float *travel = calloc((size_t)(16 * n1), sizeof(float));
    float *mine = malloc((size_t)(4 * n1) * sizeof(float));
    float *tiles = malloc((size_t)(3 * n1) * sizeof(float));
    if (!travel || !mine || !tiles) {
        free(travel), free(mine), free(tiles);
        return ring_fail(ATTN_E_NOMEM, fn, "out of memory for the travelling blocks");
    }
    float *buf[2] = {travel, travel + 8 * n1};
    memcpy(buf[0], k, (size_t)(2 * n1) * sizeof(float));
    memcpy(buf[0] + 2 * n1, v, (size_t)(2 * n1) * sizeof(float));
    memset(dq, 0, (size_t)(2 * n1) * sizeof(float));
    const int next = (r + 1) % N, prev = (r + N - 1) % N;
    const size_t msg = (size_t)(8 * n1) * sizeof(float);
    int cur = 0;
    for (int t = 0; t < N && rc == ATTN_OK; t++) {
        const int src = (r - t + N) % N;
        /* send [this block | accumulator of the previous one], receive [next block | the
         * accumulator of this block from the ranks before us] */
        rc = dist_exchange_start(d, buf[cur], buf[cur ^ 1], msg, next, prev);
        if (rc) {
            ring_fail(rc, fn, dist_error());
            break;
        }
        double t0 = now_ms();
        memset(mine, 0, (size_t)(4 * n1) * sizeof(float));
        for (int qs = 0; qs < 2 && rc == ATTN_OK; qs++)
            for (int ks = 0; ks < 2 && rc == ATTN_OK; ks++) {
                int diag;
                if (!visible(p, ring_chunk_of(r, N, qs), ring_chunk_of(src, N, ks), &diag)) continue;
                attn_tensor qv = chunk_view(q + qs * n1, p, c, p->dim);
                attn_tensor kv = chunk_view(buf[cur] + ks * n1, p, c, p->dim);
                attn_tensor vv = chunk_view(buf[cur] + (2 + ks) * n1, p, c, p->dim);
                attn_tensor ov = chunk_view(out + qs * n1, p, c, p->dim);
                attn_tensor gv = chunk_view(dout + qs * n1, p, c, p->dim);
                attn_tensor dqt = chunk_view(tiles, p, c, p->dim);
                attn_tensor dkt = chunk_view(tiles + n1, p, c, p->dim);
                attn_tensor dvt = chunk_view(tiles + 2 * n1, p, c, p->dim);
                attn_sdpa_options o = options(p, diag);
                /* the whole row's out and lse make P and D those of the full attention */
                rc = attn_sdpa_backward(&qv, &kv, &vv, &ov, lse + qs * l1, &gv, &o, &dqt, &dkt,
                                        &dvt, NULL);
                if (rc) {
                    ring_fail(rc, fn, attn_last_error());
                    break;
                }
                add_into(dq + qs * n1, tiles, n1);
                add_into(mine + ks * n1, tiles + n1, n1);
                add_into(mine + (2 + ks) * n1, tiles + 2 * n1, n1);
                s.blocks++;
            }
        s.compute_ms += now_ms() - t0;
        double w0 = now_ms();
        int wr = dist_exchange_wait(d);
        s.wait_ms += now_ms() - w0;
        if (wr && rc == ATTN_OK) rc = ring_fail(wr, fn, dist_error());
        float *acc = buf[cur ^ 1] + 4 * n1;
        if (t == 0)
            memcpy(acc, mine, (size_t)(4 * n1) * sizeof(float));
        else
            add_into(acc, mine, 4 * n1);
        cur ^= 1;
    }
    if (rc == ATTN_OK) { /* hand the last accumulator to its owner, receive ours */
        double w0 = now_ms();
        rc = dist_exchange_start(d, buf[cur] + 4 * n1, buf[cur ^ 1] + 4 * n1,
                                 (size_t)(4 * n1) * sizeof(float), next, prev);
        if (rc == ATTN_OK) rc = dist_exchange_wait(d);
        s.wait_ms += now_ms() - w0;
        if (rc) ring_fail(rc, fn, dist_error());
        else {
            memcpy(dk, buf[cur ^ 1] + 4 * n1, (size_t)(2 * n1) * sizeof(float));
            memcpy(dv, buf[cur ^ 1] + 6 * n1, (size_t)(2 * n1) * sizeof(float));
        }
    }
    free(travel), free(mine), free(tiles);
    s.total_ms = now_ms() - t_start;
    if (st) *st = s;
    return rc;
}
