/* additive.c — additive (Bahdanau, "concat") attention, forward and backward:
 *
 *     e_ij = vᵀ·tanh(W_q·q_i + W_k·k_j + b),   w_i = softmax(e_i),   out_i = Σ_j w_ij·values_j
 *
 * The projections are two matrix products (attn_sgemm); the scores need the A-vector
 * tanh(qp_i + kp_j) for every pair (i, j), which is recomputed in backward rather than stored,
 * so the cache holds O(B·(Lq + Lk)·A + B·Lq·Lk) floats, never B·Lq·Lk·A. */
#include "rnn_internal.h"

#include <string.h>

struct attn_additive_cache {
    int64_t B, Lq, Lk, A;
    int filled; /* forward has run since creation */
    int owned;  /* made by attn_additive_cache_create: free() the block */
    float *qp;  /* [B, Lq, A]: W_q·q + b */
    float *kp;  /* [B, Lk, A]: W_k·k */
    float *w;   /* [B, Lq, Lk]: softmax weights */
};

/* The struct rounded up to 64 bytes, then the floats. */
#define CACHE_HEAD (((sizeof(struct attn_additive_cache) + 63) / 64) * 64)

static int cache_layout(const char *fn, int64_t B, int64_t Lq, int64_t Lk, int64_t A,
                        int64_t *nq, int64_t *nk, size_t *bytes)
{
    if (B < 1 || Lq < 1 || Lk < 1 || A < 1)
        return attn_fail(ATTN_E_ARG, "%s: B=%lld, Lq=%lld, Lk=%lld, A=%lld must all be >= 1", fn,
                         (long long)B, (long long)Lq, (long long)Lk, (long long)A);
    int64_t nw, total;
    int64_t dq[3] = {B, Lq, A}, dk[3] = {B, Lk, A}, dw[3] = {B, Lq, Lk};
    ATTN_TRY(attn_checked_numel(fn, dq, 3, nq));
    ATTN_TRY(attn_checked_numel(fn, dk, 3, nk));
    ATTN_TRY(attn_checked_numel(fn, dw, 3, &nw));
    if (__builtin_add_overflow(*nq, *nk, &total) || __builtin_add_overflow(total, nw, &total) ||
        total > (int64_t)(PTRDIFF_MAX / 8))
        return attn_fail(ATTN_E_OVERFLOW, "%s: cache size overflows", fn);
    *bytes = CACHE_HEAD + (size_t)total * sizeof(float);
    return ATTN_OK;
}

int attn_additive_cache_bytes(int64_t B, int64_t Lq, int64_t Lk, int64_t A, size_t *bytes)
{
    static const char fn[] = "attn_additive_cache_bytes";
    ATTN_REQUIRE_NONNULL(fn, bytes);
    int64_t nq = 0, nk = 0;
    return cache_layout(fn, B, Lq, Lk, A, &nq, &nk, bytes);
}

static int cache_place(const char *fn, void *mem, size_t bytes, int64_t B, int64_t Lq, int64_t Lk,
                       int64_t A, attn_additive_cache **cache)
{
    ATTN_REQUIRE_NONNULL(fn, cache);
    *cache = NULL;
    ATTN_REQUIRE_NONNULL(fn, mem);
    if ((uintptr_t)mem % 64)
        return attn_fail(ATTN_E_ARG, "%s: mem must be 64-byte aligned", fn);
    int64_t nq = 0, nk = 0;
    size_t need = 0;
    ATTN_TRY(cache_layout(fn, B, Lq, Lk, A, &nq, &nk, &need));
    if (bytes < need)
        return attn_fail(ATTN_E_ARG, "%s: %zu bytes given, %zu needed", fn, bytes, need);
    attn_additive_cache *c = mem;
    memset(c, 0, sizeof *c);
    float *buf = (float *)((char *)mem + CACHE_HEAD);
    c->B = B, c->Lq = Lq, c->Lk = Lk, c->A = A;
    c->qp = buf, c->kp = buf + nq, c->w = buf + nq + nk;
    *cache = c;
    return ATTN_OK;
}

int attn_additive_cache_init(void *mem, size_t bytes, int64_t B, int64_t Lq, int64_t Lk, int64_t A,
                             attn_additive_cache **cache)
{
    return cache_place("attn_additive_cache_init", mem, bytes, B, Lq, Lk, A, cache);
}

int attn_additive_cache_create(int64_t B, int64_t Lq, int64_t Lk, int64_t A,
                               attn_additive_cache **cache)
{
    static const char fn[] = "attn_additive_cache_create";
    ATTN_REQUIRE_NONNULL(fn, cache);
    *cache = NULL;
    int64_t nq = 0, nk = 0;
    size_t bytes = 0;
    ATTN_TRY(cache_layout(fn, B, Lq, Lk, A, &nq, &nk, &bytes));
    void *mem = attn_aligned_alloc(bytes);
    if (!mem) return attn_fail(ATTN_E_NOMEM, "%s: cannot allocate %zu bytes", fn, bytes);
    int st = cache_place(fn, mem, bytes, B, Lq, Lk, A, cache);
    if (st) {
        free(mem);
        return st;
    }
    (*cache)->owned = 1;
    return ATTN_OK;
}

void attn_additive_cache_free(attn_additive_cache *cache)
{
    if (cache && cache->owned) free(cache);
}

/* Everything validated once; shared by forward and backward. */
typedef struct additive_problem {
    int64_t B, Lq, Lk, Dq, Dk, Dv, A;
    const attn_bool_tensor *mask;
    int64_t ms[3];
    const int32_t *key_lengths;
    int threads;
} additive_problem;

static int check_params(const char *fn, const char *name, const attn_additive_params *p,
                        int need_all)
{
    if (!p) return attn_fail(ATTN_E_ARG, "%s: %s is NULL", fn, name);
    if (p->A < 1) return attn_fail(ATTN_E_ARG, "%s: %s->A=%lld must be >= 1", fn, name, (long long)p->A);
    if (need_all && (!p->w_q || !p->v))
        return attn_fail(ATTN_E_ARG, "%s: %s->%s is NULL", fn, name, !p->w_q ? "w_q" : "v");
    return ATTN_OK;
}

static int problem_init(const char *fn, const attn_tensor *q, const attn_tensor *k,
                        const attn_tensor *values, const attn_additive_params *p,
                        const attn_additive_options *opt, additive_problem *pr)
{
    static const attn_additive_options defaults;
    if (!opt) opt = &defaults;
    memset(pr, 0, sizeof *pr);
    ATTN_TRY(attn_check_view(fn, "q", q, 3));
    ATTN_TRY(attn_check_view(fn, "k", k, 3));
    ATTN_TRY(attn_check_view(fn, "values", values, 3));
    ATTN_TRY(check_params(fn, "p", p, 1));
    pr->B = q->shape[0], pr->Lq = q->shape[1], pr->Dq = q->shape[2];
    pr->Lk = k->shape[1], pr->Dk = k->shape[2], pr->Dv = values->shape[2], pr->A = p->A;
    if (k->shape[0] != pr->B || values->shape[0] != pr->B)
        return attn_fail(ATTN_E_SHAPE, "%s: batch sizes differ: q %lld, k %lld, values %lld", fn,
                         (long long)pr->B, (long long)k->shape[0], (long long)values->shape[0]);
    if (!p->w_k && pr->Dk != pr->A)
        return attn_fail(ATTN_E_SHAPE, "%s: w_k is NULL, so k holds projected keys, but k.shape[2]=%lld != A=%lld",
                         fn, (long long)pr->Dk, (long long)pr->A);
    if (values->shape[1] != pr->Lk)
        return attn_fail(ATTN_E_SHAPE, "%s: values.shape[1]=%lld but k has %lld keys", fn,
                         (long long)values->shape[1], (long long)pr->Lk);
    int64_t n, d1[3] = {pr->B, pr->Lq, pr->Lk}, d2[3] = {pr->B, pr->Lq + pr->Lk, pr->A};
    int64_t d3[2] = {pr->A, pr->Dq > pr->Dk ? pr->Dq : pr->Dk};
    ATTN_TRY(attn_checked_numel(fn, d1, 3, &n));
    ATTN_TRY(attn_checked_numel(fn, d2, 3, &n));
    ATTN_TRY(attn_checked_numel(fn, d3, 2, &n));
    if (opt->mask) {
        const attn_bool_tensor *m = opt->mask;
        ATTN_TRY(attn_check_bool_view(fn, "mask", m, 3));
        const int64_t full[3] = {pr->B, pr->Lq, pr->Lk};
        static const char *names[3] = {"B", "Lq", "Lk"};
        for (int d = 0; d < 3; d++) {
            if (m->shape[d] != 1 && m->shape[d] != full[d])
                return attn_fail(ATTN_E_SHAPE, "%s: mask.shape[%d]=%lld does not broadcast to %s=%lld",
                                 fn, d, (long long)m->shape[d], names[d], (long long)full[d]);
            pr->ms[d] = m->shape[d] == 1 ? 0 : m->stride[d];
        }
        pr->mask = m;
    }
    pr->key_lengths = opt->key_lengths;
    if (opt->num_threads < 0)
        return attn_fail(ATTN_E_ARG, "%s: num_threads=%d must be >= 0", fn, opt->num_threads);
    pr->threads = attn_resolve_threads(opt->num_threads);
    return ATTN_OK;
}

/* Keys of batch b that exist. */
static int64_t keys_of(const additive_problem *pr, int64_t b)
{
    if (!pr->key_lengths) return pr->Lk;
    int64_t n = pr->key_lengths[b];
    return n < 0 ? 0 : (n > pr->Lk ? pr->Lk : n);
}

static int may_attend(const additive_problem *pr, int64_t b, int64_t i, int64_t j)
{
    if (!pr->mask) return 1;
    return pr->mask->data[b * pr->ms[0] + i * pr->ms[1] + j * pr->ms[2]] != 0;
}

/* Scores of row (b, i) into s, softmax in place (0 where masked; all 0 if nothing to attend).
 * t: scratch of A floats. */
ATTN_SIMD_CLONES
static void row_weights(const additive_problem *pr, const float *qp_i, const float *kp_b,
                        const float *v, int64_t b, int64_t i, float *s, float *t)
{
    const int64_t A = pr->A, nk = keys_of(pr, b);
    float m = -INFINITY;
    for (int64_t j = 0; j < pr->Lk; j++) {
        s[j] = -INFINITY;
        if (j >= nk || !may_attend(pr, b, i, j)) continue;
        rnn_tanh_of_sum(qp_i, kp_b + j * A, t, A);
        s[j] = (float)rnn_dot(v, t, A);
        if (s[j] > m) m = s[j];
    }
    if (m == -INFINITY) {
        memset(s, 0, (size_t)pr->Lk * sizeof *s);
        return;
    }
    double sum = 0;
    for (int64_t j = 0; j < pr->Lk; j++) sum += s[j] == -INFINITY ? 0.0 : exp((double)s[j] - m);
    for (int64_t j = 0; j < pr->Lk; j++)
        s[j] = s[j] == -INFINITY ? 0.0f : (float)(exp((double)s[j] - m) / sum);
}

/* Scratch for packing a view whose rows are not unit-stride: the larger of q and k. */
static float *pack_scratch(const additive_problem *pr)
{
    int64_t n = pr->B * (pr->Lq * pr->Dq > pr->Lk * pr->Dk ? pr->Lq * pr->Dq : pr->Lk * pr->Dk);
    return attn_aligned_alloc((size_t)n * sizeof(float));
}

int attn_additive_forward(const attn_tensor *q, const attn_tensor *k, const attn_tensor *values,
                          const attn_additive_params *p, const attn_additive_options *opt,
                          attn_tensor *out, attn_tensor *weights, attn_additive_cache *cache)
{
    static const char fn[] = "attn_additive_forward";
    additive_problem pr;
    ATTN_TRY(problem_init(fn, q, k, values, p, opt, &pr));
    ATTN_TRY(rnn_check3(fn, "out", out, pr.B, pr.Lq, pr.Dv));
    if (weights) ATTN_TRY(rnn_check3(fn, "weights", weights, pr.B, pr.Lq, pr.Lk));
    if (cache && (cache->B != pr.B || cache->Lq != pr.Lq || cache->Lk != pr.Lk || cache->A != pr.A))
        return attn_fail(ATTN_E_SHAPE, "%s: cache is for B=%lld Lq=%lld Lk=%lld A=%lld, the call has B=%lld Lq=%lld Lk=%lld A=%lld",
                         fn, (long long)cache->B, (long long)cache->Lq, (long long)cache->Lk,
                         (long long)cache->A, (long long)pr.B, (long long)pr.Lq, (long long)pr.Lk,
                         (long long)pr.A);
    attn_additive_cache *c = cache;
    if (!c) ATTN_TRY(attn_additive_cache_create(pr.B, pr.Lq, pr.Lk, pr.A, &c));
    c->filled = 0;
    float *tmp = pack_scratch(&pr);
    int st = tmp ? ATTN_OK : attn_fail(ATTN_E_NOMEM, "%s: cannot allocate scratch", fn);
    if (st == ATTN_OK) st = rnn_project(q, p->w_q, p->b, pr.A, c->qp, tmp, pr.threads);
    if (st == ATTN_OK && p->w_k) st = rnn_project(k, p->w_k, NULL, pr.A, c->kp, tmp, pr.threads);
    if (st == ATTN_OK && !p->w_k) rnn_pack3(k, c->kp); /* keys projected by the caller */
    free(tmp);
    if (st == ATTN_OK) {
        const int64_t rows = pr.B * pr.Lq;
        int failed = 0;
#pragma omp parallel num_threads(pr.threads)
        {
            float *t = malloc((size_t)pr.A * sizeof *t);
            if (!t) {
#pragma omp atomic write
                failed = 1;
            }
#pragma omp barrier
            if (!failed) {
#pragma omp for schedule(static)
                for (int64_t r = 0; r < rows; r++) {
                    const int64_t b = r / pr.Lq, i = r % pr.Lq;
                    float *s = c->w + r * pr.Lk;
                    row_weights(&pr, c->qp + r * pr.A, c->kp + b * pr.Lk * pr.A, p->v, b, i, s, t);
                    for (int64_t e = 0; e < pr.Dv; e++) {
                        double acc = 0;
                        for (int64_t j = 0; j < pr.Lk; j++)
                            if (s[j] != 0.0f) acc += (double)s[j] * RNN_AT3(values, b, j, e);
                        RNN_AT3(out, b, i, e) = (float)acc;
                    }
                    if (weights)
                        for (int64_t j = 0; j < pr.Lk; j++) RNN_AT3(weights, b, i, j) = s[j];
                }
            }
            free(t);
        }
        if (failed)
            st = attn_fail(ATTN_E_NOMEM, "%s: cannot allocate scratch", fn);
        else
            c->filled = 1;
    }
    if (c != cache) attn_additive_cache_free(c);
    return st;
}

/* ∂/∂scores of row (b, i) into ds, then its contributions to dqp_i, dkp_b and dvp (∂/∂v). */
ATTN_SIMD_CLONES
static void row_backward(const additive_problem *pr, const attn_additive_cache *c,
                         const attn_tensor *values, const attn_tensor *dout, const float *v,
                         int64_t b, int64_t i, float *ds, float *dqp_i, float *dkp_b, double *dvp,
                         float *t)
{
    const int64_t A = pr->A, Lk = pr->Lk;
    const float *w = c->w + (b * pr->Lq + i) * Lk;
    /* out_i = Σ_j w_ij values_j  →  dw_ij = dout_i · values_j */
    double dot = 0;
    for (int64_t j = 0; j < Lk; j++) {
        ds[j] = 0;
        if (w[j] == 0.0f) continue;
        double d = 0;
        for (int64_t e = 0; e < pr->Dv; e++)
            d += (double)RNN_AT3(dout, b, i, e) * RNN_AT3(values, b, j, e);
        ds[j] = (float)d;
        dot += (double)w[j] * d;
    }
    /* softmax: ds_ij = w_ij (dw_ij − Σ_j' w_ij' dw_ij') */
    for (int64_t j = 0; j < Lk; j++)
        if (w[j] != 0.0f) ds[j] = (float)(w[j] * (ds[j] - dot));
    /* e_ij = Σ_a v_a t_ija, t = tanh(qp_i + kp_j) */
    const float *qp_i = c->qp + (b * pr->Lq + i) * A, *kp_b = c->kp + b * Lk * A;
    for (int64_t j = 0; j < Lk; j++) {
        if (ds[j] == 0.0f) continue;
        const float dsj = ds[j];
        float *dkp_j = dkp_b + j * A;
        rnn_tanh_of_sum(qp_i, kp_b + j * A, t, A);
        for (int64_t a = 0; a < A; a++) {
            float g = dsj * v[a] * (1.0f - t[a] * t[a]);
            dqp_i[a] += g;
            dkp_j[a] += g;
            dvp[a] += (double)(dsj * t[a]);
        }
    }
}

int attn_additive_backward(const attn_tensor *q, const attn_tensor *k, const attn_tensor *values,
                           const attn_additive_params *p, const attn_additive_options *opt,
                           const attn_additive_cache *cache, const attn_tensor *dout,
                           attn_tensor *dq, attn_tensor *dk, attn_tensor *dvalues,
                           attn_additive_params *grads)
{
    static const char fn[] = "attn_additive_backward";
    additive_problem pr;
    ATTN_TRY(problem_init(fn, q, k, values, p, opt, &pr));
    ATTN_REQUIRE_NONNULL(fn, cache);
    if (cache->B != pr.B || cache->Lq != pr.Lq || cache->Lk != pr.Lk || cache->A != pr.A)
        return attn_fail(ATTN_E_SHAPE, "%s: cache is for B=%lld Lq=%lld Lk=%lld A=%lld", fn,
                         (long long)cache->B, (long long)cache->Lq, (long long)cache->Lk,
                         (long long)cache->A);
    if (!cache->filled)
        return attn_fail(ATTN_E_STATE, "%s: the cache holds no forward pass", fn);
    ATTN_TRY(rnn_check3(fn, "dout", dout, pr.B, pr.Lq, pr.Dv));
    if (dq) ATTN_TRY(rnn_check3(fn, "dq", dq, pr.B, pr.Lq, pr.Dq));
    if (dk) ATTN_TRY(rnn_check3(fn, "dk", dk, pr.B, pr.Lk, pr.Dk));
    if (dvalues) ATTN_TRY(rnn_check3(fn, "dvalues", dvalues, pr.B, pr.Lk, pr.Dv));
    if (grads) {
        ATTN_TRY(check_params(fn, "grads", grads, 0));
        if (grads->A != pr.A)
            return attn_fail(ATTN_E_SHAPE, "%s: grads->A=%lld but p->A=%lld", fn,
                             (long long)grads->A, (long long)pr.A);
    }
    const int64_t A = pr.A, nq = pr.B * pr.Lq * A, nk = pr.B * pr.Lk * A;
    /* dqp [B, Lq, A] | dkp [B, Lk, A] | row scratch Lk + A per batch */
    float *dqp = calloc((size_t)(nq + nk + pr.B * (pr.Lk + A)), sizeof(float));
    double *dvp = calloc((size_t)(pr.B * A), sizeof(double));
    float *tmp = pack_scratch(&pr);
    int st = ATTN_OK;
    if (!dqp || !dvp || !tmp) {
        st = attn_fail(ATTN_E_NOMEM, "%s: cannot allocate scratch", fn);
        goto done;
    }
    float *dkp = dqp + nq, *ds = dkp + nk;
    /* one batch per task: dkp_b and dvp_b are written by that task only */
#pragma omp parallel for num_threads(pr.threads) schedule(static)
    for (int64_t b = 0; b < pr.B; b++)
        for (int64_t i = 0; i < pr.Lq; i++)
            row_backward(&pr, cache, values, dout, p->v, b, i, ds + b * (pr.Lk + A),
                         dqp + (b * pr.Lq + i) * A, dkp + b * pr.Lk * A, dvp + b * A,
                         ds + b * (pr.Lk + A) + pr.Lk);
    if (dvalues) {
        /* dvalues_j = Σ_i w_ij dout_i */
#pragma omp parallel for num_threads(pr.threads) schedule(static)
        for (int64_t r = 0; r < pr.B * pr.Lk; r++) {
            const int64_t b = r / pr.Lk, j = r % pr.Lk;
            const float *w = cache->w + b * pr.Lq * pr.Lk + j;
            for (int64_t e = 0; e < pr.Dv; e++) {
                double acc = 0;
                for (int64_t i = 0; i < pr.Lq; i++)
                    if (w[i * pr.Lk] != 0.0f) acc += (double)w[i * pr.Lk] * RNN_AT3(dout, b, i, e);
                RNN_AT3(dvalues, b, j, e) = (float)acc;
            }
        }
    }
    if (grads && grads->v)
        for (int64_t b = 0; b < pr.B; b++)
            for (int64_t a = 0; a < A; a++) grads->v[a] += (float)dvp[b * A + a];
    /* qp = W_q·q + b, kp = W_k·k */
    st = rnn_project_backward(q, p->w_q, A, dqp, dq, grads ? grads->w_q : NULL,
                              grads ? grads->b : NULL, tmp, pr.threads);
    if (st == ATTN_OK && p->w_k)
        st = rnn_project_backward(k, p->w_k, A, dkp, dk, grads ? grads->w_k : NULL, NULL, tmp,
                                  pr.threads);
    if (st == ATTN_OK && !p->w_k && dk) rnn_unpack3(dkp, dk);
done:
    free(dqp);
    free(dvp);
    free(tmp);
    return st;
}
