/* linear.c — Linear (y = x·Wᵀ + b) and Embedding (y = W[ids]), forward and backward. */
#include "nn_internal.h"

/* ---- dense maps on raw buffers ------------------------------------------------------------ */

enum { FEW_ROWS = 16, FEW_ROWS_MIN_WEIGHTS = 1 << 16 }; /* see attn_dense_forward */

int attn_dense_forward(int64_t rows, int64_t in, int64_t out, const float *x, int64_t ldx,
                       const float *w, const float *b, float *y, int64_t ldy, int threads)
{
    /* y[rows, out] = x[rows, in]·W[out, in]ᵀ */
    if (rows <= FEW_ROWS && threads > 1 && in * out >= FEW_ROWS_MIN_WEIGHTS) {
        /* A step of generation (one row per sequence): bound by reading W once, which one core
         * cannot do at the memory's speed, while the flops are too few for attn_sgemm to wake
         * its threads. Each thread takes a slice of W's rows (outputs), so W streams through
         * both cores once. Every output is its own dot product along `in` (attn_sgemm's dot
         * path for few rows), so the bits do not depend on the split. */
        const int64_t chunk = (out + threads - 1) / threads;
        int st = ATTN_OK;
#pragma omp parallel for num_threads(threads) schedule(static, 1) reduction(min : st)
        for (int tno = 0; tno < threads; tno++) {
            const int64_t o0 = tno * chunk, n = out - o0 < chunk ? out - o0 : chunk;
            if (n <= 0) continue;
            const int s = attn_sgemm(ATTN_NO_TRANS, ATTN_TRANS, rows, n, in, 1.0f, x, ldx, w + o0 * in, in, 0.0f,
                                     y + o0, ldy, 1);
            if (s < st) st = s;
            if (b)
                for (int64_t r = 0; r < rows; r++)
                    for (int64_t o = o0; o < o0 + n; o++) y[r * ldy + o] += b[o];
        }
        return st; /* (codes are negative: the smallest is an error) */
    }
    const int gemm_threads = attn_threads_for(threads, (double)rows * in * out);
    ATTN_TRY(attn_sgemm(ATTN_NO_TRANS, ATTN_TRANS, rows, out, in, 1.0f, x, ldx, w, in, 0.0f, y,
                        ldy, gemm_threads));
    if (b) {
#pragma omp parallel for if(ATTN_WORTH_THREADS(rows * out)) num_threads(threads) schedule(static)
        for (int64_t r = 0; r < rows; r++)
            for (int64_t o = 0; o < out; o++) y[r * ldy + o] += b[o];
    }
    return ATTN_OK;
}

int attn_dense_backward(int64_t rows, int64_t in, int64_t out, const float *x, int64_t ldx,
                        const float *w, const float *dy, int64_t ldy, float *dx, int64_t lddx,
                        float *dw, float *db, int threads)
{
    const int gemm_threads = attn_threads_for(threads, (double)rows * in * out);
    /* dx[rows, in] += dy[rows, out]·W[out, in] */
    if (dx)
        ATTN_TRY(attn_sgemm(ATTN_NO_TRANS, ATTN_NO_TRANS, rows, in, out, 1.0f, dy, ldy, w, in,
                            1.0f, dx, lddx, gemm_threads));
    /* dW[out, in] += dy[rows, out]ᵀ·x[rows, in] */
    if (dw)
        ATTN_TRY(attn_sgemm(ATTN_TRANS, ATTN_NO_TRANS, out, in, rows, 1.0f, dy, ldy, x, ldx,
                            1.0f, dw, in, gemm_threads));
    /* db[out] += Σ_r dy[r, out]: each column summed in row order, in double; a block of
     * columns at a time so that every row is read contiguously */
    if (db) {
        enum { COLS = 64 };
        const int64_t nblk = (out + COLS - 1) / COLS;
#pragma omp parallel for if(ATTN_WORTH_THREADS(rows * out)) num_threads(threads) schedule(static)
        for (int64_t bi = 0; bi < nblk; bi++) {
            const int64_t o0 = bi * COLS, n = out - o0 < COLS ? out - o0 : COLS;
            double s[COLS];
            for (int64_t j = 0; j < n; j++) s[j] = 0;
            for (int64_t r = 0; r < rows; r++) {
                const float *d = dy + r * ldy + o0;
                for (int64_t j = 0; j < n; j++) s[j] += d[j];
            }
            for (int64_t j = 0; j < n; j++) db[o0 + j] += (float)s[j];
        }
    }
    return ATTN_OK;
}

/* ---- Linear -------------------------------------------------------------------------------- */

int attn_linear_init(attn_linear *l, attn_params *P, const char *prefix, int64_t in_features,
                     int64_t out_features, int bias)
{
    static const char fn[] = "attn_linear_init";
    ATTN_REQUIRE_NONNULL(fn, l);
    if (in_features < 1 || out_features < 1)
        return attn_fail(ATTN_E_ARG, "%s: in_features=%lld, out_features=%lld must be >= 1", fn,
                         (long long)in_features, (long long)out_features);
    memset(l, 0, sizeof *l);
    l->in_features = in_features, l->out_features = out_features;
    /* torch: kaiming_uniform(a=√5) on the weight = U(±1/√in); bias U(±1/√in) */
    float bound = 1.0f / sqrtf((float)in_features);
    int64_t wshape[2] = {out_features, in_features};
    ATTN_TRY(attn_params_add(P, prefix, "weight", 2, wshape, ATTN_INIT_UNIFORM, bound, &l->weight));
    if (bias)
        ATTN_TRY(attn_params_add(P, prefix, "bias", 1, &out_features, ATTN_INIT_UNIFORM, bound,
                                 &l->bias));
    return ATTN_OK;
}

typedef struct linear_ctx {
    const attn_linear *l;
    attn_var *x, *y;
} linear_ctx;

static int linear_backward(attn_tape *t, void *p)
{
    linear_ctx *c = p;
    if (!c->y->grad) return ATTN_OK;
    const attn_linear *l = c->l;
    ATTN_TRY(attn_param_need_grad(l->weight));
    ATTN_TRY(attn_param_need_grad(l->bias));
    float *dx = c->x->requires_grad ? attn_var_grad(t, c->x) : NULL;
    if (c->x->requires_grad && !dx) return ATTN_E_NOMEM;
    return attn_dense_backward(attn_var_rows(c->x), l->in_features, l->out_features, c->x->data,
                               l->in_features, l->weight->data, c->y->grad, l->out_features, dx,
                               l->in_features, l->weight->grad, l->bias ? l->bias->grad : NULL,
                               attn_tape_threads(t));
}

int attn_linear_forward(attn_tape *t, const attn_linear *l, attn_var *x, attn_var **out)
{
    static const char fn[] = "attn_linear_forward";
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, l);
    ATTN_REQUIRE_NONNULL(fn, out);
    ATTN_TRY(attn_check_var(fn, "x", x));
    if (x->shape[x->ndim - 1] != l->in_features)
        return attn_fail(ATTN_E_SHAPE, "%s: x.shape[-1]=%lld but in_features=%lld", fn,
                         (long long)x->shape[x->ndim - 1], (long long)l->in_features);
    int64_t shape[ATTN_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = l->out_features;
    attn_var *y;
    ATTN_TRY(attn_tape_var(t, x->ndim, shape, 1, &y));
    ATTN_TRY(attn_dense_forward(attn_var_rows(x), l->in_features, l->out_features, x->data,
                                l->in_features, l->weight->data, l->bias ? l->bias->data : NULL,
                                y->data, l->out_features, attn_tape_threads(t)));
    linear_ctx *c = attn_tape_alloc(t, sizeof *c);
    if (!c) return ATTN_E_NOMEM;
    c->l = l, c->x = x, c->y = y;
    ATTN_TRY(attn_tape_record(t, linear_backward, c));
    *out = y;
    return ATTN_OK;
}

int attn_linear_rows(const attn_linear *l, const float *x, int64_t rows, float *y, int threads)
{
    static const char fn[] = "attn_linear_rows";
    ATTN_REQUIRE_NONNULL(fn, l);
    ATTN_REQUIRE_NONNULL(fn, x);
    ATTN_REQUIRE_NONNULL(fn, y);
    if (rows < 0) return attn_fail(ATTN_E_ARG, "%s: rows=%lld", fn, (long long)rows);
    if (rows == 0) return ATTN_OK;
    return attn_dense_forward(rows, l->in_features, l->out_features, x, l->in_features,
                              l->weight->data, l->bias ? l->bias->data : NULL, y, l->out_features,
                              threads > 0 ? threads : 1);
}

/* ---- Embedding ----------------------------------------------------------------------------- */

int attn_embedding_init(attn_embedding *e, attn_params *P, const char *prefix,
                        int64_t num_embeddings, int64_t embedding_dim, int64_t padding_idx)
{
    static const char fn[] = "attn_embedding_init";
    ATTN_REQUIRE_NONNULL(fn, e);
    if (num_embeddings < 1 || embedding_dim < 1)
        return attn_fail(ATTN_E_ARG, "%s: num_embeddings=%lld, embedding_dim=%lld must be >= 1",
                         fn, (long long)num_embeddings, (long long)embedding_dim);
    if (padding_idx < -1 || padding_idx >= num_embeddings)
        return attn_fail(ATTN_E_ARG, "%s: padding_idx=%lld must be -1 (none) or in [0, %lld)", fn,
                         (long long)padding_idx, (long long)num_embeddings);
    memset(e, 0, sizeof *e);
    e->num_embeddings = num_embeddings, e->embedding_dim = embedding_dim;
    e->padding_idx = padding_idx;
    int64_t shape[2] = {num_embeddings, embedding_dim};
    ATTN_TRY(attn_params_add(P, prefix, "weight", 2, shape, ATTN_INIT_NORMAL, 1.0f, &e->weight));
    if (padding_idx >= 0 && e->weight->data) /* (no data yet in a deferred table) */
        memset(e->weight->data + padding_idx * embedding_dim, 0,
               (size_t)embedding_dim * sizeof(float));
    return ATTN_OK;
}

typedef struct embedding_ctx {
    const attn_embedding *e;
    const int32_t *ids;
    int64_t n;
    attn_var *y;
} embedding_ctx;

/* dW[ids[i]] += dy[i], except the padding row; serial over ids so that repeated ids add up in a
 * fixed order, parallel over the feature columns. */
static int embedding_backward(attn_tape *t, void *p)
{
    embedding_ctx *c = p;
    if (!c->y->grad) return ATTN_OK;
    const int64_t D = c->e->embedding_dim;
    ATTN_TRY(attn_param_need_grad(c->e->weight));
    float *dw = c->e->weight->grad;
#pragma omp parallel for if(ATTN_WORTH_THREADS(D * c->n)) num_threads(attn_tape_threads(t)) schedule(static)
    for (int64_t d = 0; d < D; d++)
        for (int64_t i = 0; i < c->n; i++)
            if (c->ids[i] != c->e->padding_idx) dw[c->ids[i] * D + d] += c->y->grad[i * D + d];
    return ATTN_OK;
}

int attn_embedding_forward(attn_tape *t, const attn_embedding *e, const int32_t *ids, int ndim,
                           const int64_t *shape, attn_var **out)
{
    static const char fn[] = "attn_embedding_forward";
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, e);
    ATTN_REQUIRE_NONNULL(fn, ids);
    ATTN_REQUIRE_NONNULL(fn, shape);
    ATTN_REQUIRE_NONNULL(fn, out);
    if (ndim < 1 || ndim >= ATTN_MAX_DIMS)
        return attn_fail(ATTN_E_ARG, "%s: ndim=%d must be in [1, %d]", fn, ndim, ATTN_MAX_DIMS - 1);
    int64_t yshape[ATTN_MAX_DIMS];
    memcpy(yshape, shape, (size_t)ndim * sizeof *shape);
    yshape[ndim] = e->embedding_dim;
    attn_var *y;
    ATTN_TRY(attn_tape_var(t, ndim + 1, yshape, 1, &y));
    const int64_t n = attn_var_rows(y), D = e->embedding_dim;
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= e->num_embeddings)
            return attn_fail(ATTN_E_ARG, "%s: ids[%lld]=%d outside [0, %lld)", fn, (long long)i,
                             (int)ids[i], (long long)e->num_embeddings);
    for (int64_t i = 0; i < n; i++)
        memcpy(y->data + i * D, e->weight->data + ids[i] * D, (size_t)D * sizeof(float));
    embedding_ctx *c = attn_tape_alloc(t, sizeof *c);
    int32_t *ids_copy = attn_tape_copy(t, ids, (size_t)n * sizeof *ids);
    if (!c || !ids_copy) return ATTN_E_NOMEM;
    c->e = e, c->ids = ids_copy, c->n = n, c->y = y;
    ATTN_TRY(attn_tape_record(t, embedding_backward, c));
    *out = y;
    return ATTN_OK;
}
