/* cat_ops.c — concatenation, expansion (broadcast copy) and the mean along a dimension, on the
 * tape: what a Vision Transformer needs to put a class token before its patches and to pool
 * them. Each views its variables as [outer, n, inner] around the dimension it works on. */
#include "nn_internal.h"

static void split_dims(const attn_var *x, int dim, int64_t *outer, int64_t *inner)
{
    *outer = 1, *inner = 1;
    for (int d = 0; d < dim; d++) *outer *= x->shape[d];
    for (int d = dim + 1; d < x->ndim; d++) *inner *= x->shape[d];
}

/* ---- cat ------------------------------------------------------------------------------------- */

typedef struct cat_ctx {
    int n, dim;
    attn_var **xs, *y;
    int64_t outer, inner, total; /* total: y.shape[dim] */
} cat_ctx;

static int cat_backward(attn_tape *t, void *p)
{
    cat_ctx *c = p;
    if (!c->y->grad) return ATTN_OK;
    int64_t at = 0; /* where input k starts along dim */
    for (int k = 0; k < c->n; k++) {
        attn_var *x = c->xs[k];
        const int64_t run = x->shape[c->dim] * c->inner;
        if (x->requires_grad) {
            float *dx = attn_var_grad(t, x);
            if (!dx) return ATTN_E_NOMEM;
            /* y[o, at + j, i] = x_k[o, j, i]  ⇒  dx_k[o, j, i] += dy[o, at + j, i] */
            for (int64_t o = 0; o < c->outer; o++) {
                const float *g = c->y->grad + (o * c->total + at) * c->inner;
                float *d = dx + o * run;
                for (int64_t i = 0; i < run; i++) d[i] += g[i];
            }
        }
        at += x->shape[c->dim];
    }
    return ATTN_OK;
}

int attn_op_cat(attn_tape *t, int n, attn_var *const *xs, int dim, attn_var **out)
{
    static const char fn[] = "attn_op_cat";
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, xs);
    ATTN_REQUIRE_NONNULL(fn, out);
    if (n < 1 || n > 1024) return attn_fail(ATTN_E_ARG, "%s: n=%d inputs (1..1024)", fn, n);
    for (int k = 0; k < n; k++) ATTN_TRY(attn_check_var(fn, "xs[k]", xs[k]));
    const attn_var *x0 = xs[0];
    if (dim < 0 || dim >= x0->ndim)
        return attn_fail(ATTN_E_ARG, "%s: dim=%d outside a %d-d variable", fn, dim, x0->ndim);
    int64_t total = 0;
    int grad = 0;
    for (int k = 0; k < n; k++) {
        const attn_var *x = xs[k];
        if (x->ndim != x0->ndim)
            return attn_fail(ATTN_E_SHAPE, "%s: xs[%d] has %d dimensions, xs[0] %d", fn, k, x->ndim,
                             x0->ndim);
        for (int d = 0; d < x->ndim; d++)
            if (d != dim && x->shape[d] != x0->shape[d])
                return attn_fail(ATTN_E_SHAPE, "%s: xs[%d].shape[%d]=%lld but xs[0].shape[%d]=%lld", fn,
                                 k, d, (long long)x->shape[d], d, (long long)x0->shape[d]);
        total += x->shape[dim];
        grad |= x->requires_grad;
    }
    cat_ctx *c = attn_tape_calloc(t, sizeof *c);
    attn_var **keep = attn_tape_alloc(t, (size_t)n * sizeof *keep);
    if (!c || !keep) return ATTN_E_NOMEM;
    int64_t shape[ATTN_MAX_DIMS];
    memcpy(shape, x0->shape, sizeof shape);
    shape[dim] = total;
    ATTN_TRY(attn_tape_var(t, x0->ndim, shape, grad, &c->y));
    memcpy(keep, xs, (size_t)n * sizeof *keep);
    c->n = n, c->dim = dim, c->xs = keep, c->total = total;
    split_dims(x0, dim, &c->outer, &c->inner);
    int64_t at = 0;
    for (int k = 0; k < n; k++) {
        const int64_t run = xs[k]->shape[dim] * c->inner;
        for (int64_t o = 0; o < c->outer; o++)
            memcpy(c->y->data + (o * total + at) * c->inner, xs[k]->data + o * run,
                   (size_t)run * sizeof(float));
        at += xs[k]->shape[dim];
    }
    ATTN_TRY(attn_tape_record(t, cat_backward, c));
    *out = c->y;
    return ATTN_OK;
}

/* ---- expand ---------------------------------------------------------------------------------- */

typedef struct expand_ctx {
    attn_var *x, *y;
    int64_t xstride[ATTN_MAX_DIMS]; /* x's element stride per dimension of y (0: broadcast) */
} expand_ctx;

/* Offset in x of element i of y. */
static int64_t x_offset(const expand_ctx *c, int64_t i)
{
    int64_t off = 0;
    for (int d = c->y->ndim - 1; d >= 0; d--) {
        off += (i % c->y->shape[d]) * c->xstride[d];
        i /= c->y->shape[d];
    }
    return off;
}

static int expand_backward(attn_tape *t, void *p)
{
    expand_ctx *c = p;
    if (!c->y->grad || !c->x->requires_grad) return ATTN_OK;
    float *dx = attn_var_grad(t, c->x);
    double *acc = attn_tape_calloc(t, (size_t)c->x->numel * sizeof *acc);
    if (!dx || !acc) return ATTN_E_NOMEM;
    /* the sum over the broadcast copies, in element order (deterministic) */
    for (int64_t i = 0; i < c->y->numel; i++) acc[x_offset(c, i)] += c->y->grad[i];
    for (int64_t j = 0; j < c->x->numel; j++) dx[j] += (float)acc[j];
    return ATTN_OK;
}

int attn_op_expand(attn_tape *t, attn_var *x, int ndim, const int64_t *shape, attn_var **out)
{
    static const char fn[] = "attn_op_expand";
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, shape);
    ATTN_REQUIRE_NONNULL(fn, out);
    ATTN_TRY(attn_check_var(fn, "x", x));
    if (ndim < x->ndim || ndim > ATTN_MAX_DIMS)
        return attn_fail(ATTN_E_ARG, "%s: ndim=%d (x has %d, at most %d)", fn, ndim, x->ndim,
                         ATTN_MAX_DIMS);
    int64_t n;
    ATTN_TRY(attn_checked_numel(fn, shape, ndim, &n));
    expand_ctx *c = attn_tape_calloc(t, sizeof *c);
    if (!c) return ATTN_E_NOMEM;
    int64_t stride = 1;
    for (int d = ndim - 1, e = x->ndim - 1; d >= 0; d--, e--) {
        int64_t xs = e >= 0 ? x->shape[e] : 1;
        if (shape[d] < 1 || (xs != 1 && xs != shape[d]))
            return attn_fail(ATTN_E_SHAPE, "%s: x.shape[%d]=%lld does not expand to %lld", fn, e,
                             (long long)xs, (long long)shape[d]);
        c->xstride[d] = xs == 1 ? 0 : stride;
        stride *= xs;
    }
    ATTN_TRY(attn_tape_var(t, ndim, shape, x->requires_grad, &c->y));
    c->x = x;
    for (int64_t i = 0; i < n; i++) c->y->data[i] = x->data[x_offset(c, i)];
    ATTN_TRY(attn_tape_record(t, expand_backward, c));
    *out = c->y;
    return ATTN_OK;
}

/* ---- mean along a dimension ------------------------------------------------------------------ */

typedef struct mean_ctx {
    attn_var *x, *y;
    int64_t outer, n, inner;
} mean_ctx;

static int mean_backward(attn_tape *t, void *p)
{
    mean_ctx *c = p;
    if (!c->y->grad || !c->x->requires_grad) return ATTN_OK;
    float *dx = attn_var_grad(t, c->x);
    if (!dx) return ATTN_E_NOMEM;
    const float w = 1.0f / (float)c->n;
    /* y[o, i] = (1/n)·Σ_j x[o, j, i]  ⇒  dx[o, j, i] += dy[o, i]/n */
#pragma omp parallel for if(ATTN_WORTH_THREADS(c->x->numel)) num_threads(attn_tape_threads(t)) schedule(static)
    for (int64_t o = 0; o < c->outer; o++)
        for (int64_t j = 0; j < c->n; j++) {
            const float *g = c->y->grad + o * c->inner;
            float *d = dx + (o * c->n + j) * c->inner;
            for (int64_t i = 0; i < c->inner; i++) d[i] += w * g[i];
        }
    return ATTN_OK;
}

int attn_op_mean(attn_tape *t, attn_var *x, int dim, attn_var **out)
{
    static const char fn[] = "attn_op_mean";
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, out);
    ATTN_TRY(attn_check_var(fn, "x", x));
    if (x->ndim < 2 || dim < 0 || dim >= x->ndim)
        return attn_fail(ATTN_E_ARG, "%s: dim=%d of a %d-d variable (2-d or more)", fn, dim, x->ndim);
    mean_ctx *c = attn_tape_calloc(t, sizeof *c);
    if (!c) return ATTN_E_NOMEM;
    int64_t shape[ATTN_MAX_DIMS] = {0};
    for (int d = 0, k = 0; d < x->ndim; d++)
        if (d != dim) shape[k++] = x->shape[d];
    ATTN_TRY(attn_tape_var(t, x->ndim - 1, shape, x->requires_grad, &c->y));
    c->x = x, c->n = x->shape[dim];
    split_dims(x, dim, &c->outer, &c->inner);
    const float w = 1.0f / (float)c->n;
#pragma omp parallel for if(ATTN_WORTH_THREADS(x->numel)) num_threads(attn_tape_threads(t)) schedule(static)
    for (int64_t o = 0; o < c->outer; o++) {
        float *y = c->y->data + o * c->inner;
        for (int64_t i = 0; i < c->inner; i++) y[i] = 0;
        for (int64_t j = 0; j < c->n; j++) {
            const float *xs = x->data + (o * c->n + j) * c->inner;
            for (int64_t i = 0; i < c->inner; i++) y[i] += xs[i];
        }
        for (int64_t i = 0; i < c->inner; i++) y[i] *= w;
    }
    ATTN_TRY(attn_tape_record(t, mean_backward, c));
    *out = c->y;
    return ATTN_OK;
}
