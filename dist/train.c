/* train.c — data-parallel training over libattn_mpi: gradient averaging (plain and weighted by
 * each rank's share of the batch), rank 0's bytes, flags and parameters to every rank, and a
 * dropout stream per rank. */
#include "attn/mpi.h"

#include "mpi_internal.h"

#include <stdlib.h>
#include <string.h>

/* Every gradient becomes Σ_rank (pre_rank · g_rank) · post, bucket by bucket. */
static int reduce_grads(attn_mpi_ctx *d, attn_params *P, float pre, float post, size_t bucket_floats,
                        double *ms, const char *fn)
{
    if (!d || !P)
        return attn_set_error(ATTN_E_ARG, "%s: %s is NULL", fn, d ? "the parameter table" : "the context");
    /* a parameter no backward reached has no gradient buffer yet: it takes part with zeros */
    int st = attn_params_alloc_grads(P);
    if (st) return st;
    double t0 = attn_mpi_now_ms();
    if (attn_mpi_size(d) == 1 && pre == 1.0f && post == 1.0f) {
        if (ms) *ms = 0;
        return ATTN_OK;
    }
    if (bucket_floats < 1024) bucket_floats = 1024;
    float *bucket = malloc(bucket_floats * sizeof *bucket);
    if (!bucket) return attn_set_error(ATTN_E_NOMEM, "%s: out of memory for a bucket of %zu floats", fn, bucket_floats);
    int n = attn_params_count(P);
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
            st = attn_set_error(ATTN_E_NOMEM, "%s: out of memory for a parameter of %zu floats", fn, used);
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
        st = attn_mpi_allreduce_sum(d, buf, used);
        off = 0;
        for (int k = first; k < i && st == ATTN_OK; k++) {
            attn_param *p = attn_params_at(P, k);
            for (int64_t e = 0; e < p->numel; e++)
                p->grad[e] = post == 1.0f ? buf[off + (size_t)e] : buf[off + (size_t)e] * post;
            off += (size_t)p->numel;
        }
        attn_mpi_internal_release(d, big);
        first = i;
    }
    attn_mpi_internal_release(d, bucket);
    if (ms) *ms = attn_mpi_now_ms() - t0;
    return st;
}

int attn_mpi_average_grads(attn_mpi_ctx *d, attn_params *P, size_t bucket_floats, double *ms)
{
    float post = d ? 1.0f / (float)attn_mpi_size(d) : 1.0f;
    return reduce_grads(d, P, 1.0f, post, bucket_floats, ms, "attn_mpi_average_grads");
}

int attn_mpi_weighted_grads(attn_mpi_ctx *d, attn_params *P, double weight, size_t bucket_floats, double *ms)
{
    return reduce_grads(d, P, (float)weight, 1.0f, bucket_floats, ms, "attn_mpi_weighted_grads");
}

int attn_mpi_share_bytes(attn_mpi_ctx *d, void **data, size_t *n)
{
    if (!d || !data || !n) return attn_set_error(ATTN_E_ARG, "attn_mpi_share_bytes: an argument is NULL");
    uint64_t len = attn_mpi_rank(d) == 0 ? (uint64_t)*n : 0;
    int st = attn_mpi_bcast(d, &len, sizeof len, 0);
    if (st || attn_mpi_size(d) == 1) return st;
    unsigned char *buf = attn_mpi_rank(d) == 0 ? *data : malloc(len ? (size_t)len : 1);
    if (!buf) /* the peers then time out on the broadcast below, naming this rank */
        return attn_set_error(ATTN_E_NOMEM, "attn_mpi_share_bytes: out of memory for %llu bytes",
                              (unsigned long long)len);
    st = attn_mpi_bcast(d, buf, (size_t)len, 0);
    if (attn_mpi_rank(d) > 0) {
        if (st) attn_mpi_internal_release(d, buf), buf = NULL;
        *data = buf, *n = (size_t)len;
    }
    return st;
}

int attn_mpi_agree(attn_mpi_ctx *d, int flag)
{
    if (!d) return attn_set_error(ATTN_E_ARG, "attn_mpi_agree: the context is NULL");
    int32_t v = flag;
    if (attn_mpi_size(d) > 1) {
        int st = attn_mpi_bcast(d, &v, sizeof v, 0);
        if (st) return st;
    }
    return v != 0;
}

int attn_mpi_broadcast_params(attn_mpi_ctx *d, attn_params *P)
{
    if (!d || !P) return attn_set_error(ATTN_E_ARG, "attn_mpi_broadcast_params: an argument is NULL");
    for (int i = 0; i < attn_params_count(P); i++) {
        attn_param *p = attn_params_at(P, i);
        int st = attn_mpi_bcast(d, p->data, (size_t)p->numel * sizeof(float), 0);
        if (st) return st;
    }
    return ATTN_OK;
}

void attn_mpi_rank_rng(const attn_mpi_ctx *d, attn_tape *t)
{
    if (!d || !t) return;
    uint64_t seed, offset;
    attn_tape_get_rng(t, &seed, &offset);
    if (attn_mpi_rank(d) > 0) attn_tape_set_rng(t, seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)attn_mpi_rank(d)), offset);
}

/* ---- attn_train_run's communicator --------------------------------------------------------- */

static int comm_reduce(void *c, attn_params *P, double weight)
{
    return attn_mpi_weighted_grads(c, P, weight, (size_t)1 << 20, NULL);
}
static int comm_sum(void *c, double *v) { return attn_mpi_allreduce_sum_double(c, v); }
static int comm_agree(void *c, int flag) { return attn_mpi_agree(c, flag); }
static int comm_bcast(void *c, void *buf, size_t n) { return attn_mpi_bcast(c, buf, n, 0); }
static int comm_same(void *c, uint64_t h, const char *what) { return attn_mpi_check_same_u64(c, h, what); }
static int comm_same_bytes(void *c, const void *desc, size_t n, const char *what)
{
    return attn_mpi_check_same(c, desc, n, what);
}
static int comm_busy(void *c, int begin, const char *what)
{
    return begin ? attn_mpi_busy_begin(c, what) : attn_mpi_busy_end(c);
}

int attn_mpi_train_comm(attn_mpi_ctx *d, attn_train_comm *out)
{
    if (!d || !out) return attn_set_error(ATTN_E_ARG, "attn_mpi_train_comm: an argument is NULL");
    *out = (attn_train_comm){.ctx = d, .rank = attn_mpi_rank(d), .size = attn_mpi_size(d), .reduce_grads = comm_reduce,
                             .sum = comm_sum, .agree = comm_agree, .bcast = comm_bcast, .same = comm_same, .busy = comm_busy,
                             .same_bytes = comm_same_bytes};
    return ATTN_OK;
}
