/* dist_train.c — gradient averaging and parameter broadcast for data-parallel training. */
#include "dist_train.h"

#include "bench_util.h"

#include <stdio.h>

#include <stdlib.h>
#include <stdint.h>
#include <string.h>

/* Every gradient becomes Σ_rank (pre_rank · g_rank) · post, bucket by bucket. */
static int reduce_grads(dist_ctx *d, attn_params *P, float pre, float post, size_t bucket_floats, double *ms)
{
    double t0 = bench_now();
    if (dist_size(d) == 1 && pre == 1.0f && post == 1.0f) {
        if (ms) *ms = 0;
        return ATTN_OK;
    }
    if (bucket_floats < 1024) bucket_floats = 1024;
    float *bucket = malloc(bucket_floats * sizeof *bucket);
    if (!bucket) return ATTN_E_NOMEM;
    int n = attn_params_count(P), st = ATTN_OK;
    /* parameters [first, i) share a bucket; a parameter larger than a bucket goes alone */
    for (int first = 0; first < n && st == ATTN_OK;) {
        size_t used = 0;
        int i = first;
        while (i < n && (used == 0 || used + (size_t)attn_params_at(P, i)->numel <= bucket_floats))
            used += (size_t)attn_params_at(P, i++)->numel;
        float *buf = bucket;
        float *big = NULL;
        if (used > bucket_floats) buf = big = malloc(used * sizeof *buf);
        if (!buf) {
            st = ATTN_E_NOMEM;
            break;
        }
        size_t off = 0;
        for (int k = first; k < i; k++) {
            attn_param *p = attn_params_at(P, k);
            if (pre == 1.0f) memcpy(buf + off, p->grad, (size_t)p->numel * sizeof *buf);
            else
                for (int64_t e = 0; e < p->numel; e++) buf[off + (size_t)e] = p->grad[e] * pre;
            off += (size_t)p->numel;
        }
        st = dist_allreduce_sum(d, buf, used);
        off = 0;
        for (int k = first; k < i && st == ATTN_OK; k++) {
            attn_param *p = attn_params_at(P, k);
            for (int64_t e = 0; e < p->numel; e++) p->grad[e] = post == 1.0f ? buf[off + (size_t)e] : buf[off + (size_t)e] * post;
            off += (size_t)p->numel;
        }
        free(big);
        first = i;
    }
    free(bucket);
    if (ms) *ms = (bench_now() - t0) * 1e3;
    return st;
}

int dist_average_grads(dist_ctx *d, attn_params *P, size_t bucket_floats, double *ms)
{
    return reduce_grads(d, P, 1.0f, 1.0f / (float)dist_size(d), bucket_floats, ms);
}

int dist_weighted_grads(dist_ctx *d, attn_params *P, double weight, size_t bucket_floats, double *ms)
{
    return reduce_grads(d, P, (float)weight, 1.0f, bucket_floats, ms);
}

int dist_share_bytes(dist_ctx *d, void **data, size_t *n)
{
    uint64_t len = dist_rank(d) == 0 ? (uint64_t)*n : 0;
    int st = dist_bcast(d, &len, sizeof len, 0);
    if (st || dist_size(d) == 1) return st;
    unsigned char *buf = dist_rank(d) == 0 ? *data : malloc(len ? (size_t)len : 1);
    if (!buf) return ATTN_E_NOMEM; /* the peers then time out on the broadcast below, naming this rank */
    st = dist_bcast(d, buf, (size_t)len, 0);
    if (dist_rank(d) > 0) {
        if (st) free(buf), buf = NULL;
        *data = buf, *n = (size_t)len;
    }
    return st;
}

int dist_agree(dist_ctx *d, int flag)
{
    int32_t v = flag;
    if (dist_size(d) > 1 && dist_bcast(d, &v, sizeof v, 0)) return -1;
    return v;
}

int dist_broadcast_params(dist_ctx *d, attn_params *P)
{
    for (int i = 0; i < attn_params_count(P); i++) {
        attn_param *p = attn_params_at(P, i);
        int st = dist_bcast(d, p->data, (size_t)p->numel * sizeof(float), 0);
        if (st) return st;
    }
    return ATTN_OK;
}

int dist_share_tokenizer(dist_ctx *dc, int st, attn_spm **sp, const char *cmd)
{
    void *bytes = NULL;
    size_t n = 0;
    if (dist_rank(dc) == 0 && st == ATTN_OK) {
        st = attn_spm_serialize(*sp, NULL, 0, &n);
        if (st == ATTN_OK && !(bytes = malloc(n))) st = ATTN_E_NOMEM;
        if (st == ATTN_OK) st = attn_spm_serialize(*sp, bytes, n, &n);
        if (st) n = 0; /* an empty message tells the others that rank 0 failed */
    }
    int e = dist_share_bytes(dc, &bytes, &n);
    if (dist_rank(dc) > 0) {
        if (st == ATTN_OK && e) fprintf(stderr, "%s: %s\n", cmd, dist_error()), st = e;
        else if (st == ATTN_OK && n == 0) fprintf(stderr, "%s: rank 0 has no tokenizer\n", cmd), st = ATTN_E_ARG;
        else if (st == ATTN_OK) st = attn_spm_load_bytes(bytes, n, sp);
    } else if (e && st == ATTN_OK) {
        fprintf(stderr, "%s: %s\n", cmd, dist_error());
        st = e;
    }
    free(bytes);
    return st;
}

void dist_rank_rng(dist_ctx *d, attn_tape *t)
{
    uint64_t seed, offset;
    attn_tape_get_rng(t, &seed, &offset);
    if (dist_rank(d) > 0) attn_tape_set_rng(t, seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)dist_rank(d)), offset);
}
