/* dist_train.c — gradient averaging and parameter broadcast for data-parallel training. */
#include "dist_train.h"

#include "bench_util.h"

#include <stdlib.h>
#include <string.h>

int dist_average_grads(dist_ctx *d, attn_params *P, size_t bucket_floats, double *ms)
{
    double t0 = bench_now();
    int ranks = dist_size(d);
    if (ranks == 1) {
        if (ms) *ms = 0;
        return ATTN_OK;
    }
    if (bucket_floats < 1024) bucket_floats = 1024;
    float *bucket = malloc(bucket_floats * sizeof *bucket);
    if (!bucket) return ATTN_E_NOMEM;
    int n = attn_params_count(P), st = ATTN_OK;
    const float scale = 1.0f / (float)ranks;
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
            memcpy(buf + off, p->grad, (size_t)p->numel * sizeof *buf);
            off += (size_t)p->numel;
        }
        st = dist_allreduce_sum(d, buf, used);
        off = 0;
        for (int k = first; k < i && st == ATTN_OK; k++) {
            attn_param *p = attn_params_at(P, k);
            for (int64_t e = 0; e < p->numel; e++) p->grad[e] = buf[off + (size_t)e] * scale;
            off += (size_t)p->numel;
        }
        free(big);
        first = i;
    }
    free(bucket);
    if (ms) *ms = (bench_now() - t0) * 1e3;
    return st;
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
