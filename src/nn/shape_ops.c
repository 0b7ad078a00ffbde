/* shape_ops.c — add (with broadcasting), scale, reshape and narrow on the tape. */
#include "nn_internal.h"

typedef struct add_ctx {
    attn_var *a, *b, *y;
    int64_t bstride[ATTN_MAX_DIMS]; /* b's element stride per dimension of a (0: broadcast) */
    int same;                       /* b has a's shape */
} add_ctx;

/* Offset in b of element i of a. */
static int64_t b_offset(const add_ctx *c, int64_t i)
{
    int64_t off = 0;
    for (int d = c->a->ndim - 1; d >= 0; d--) {
        off += (i % c->a->shape[d]) * c->bstride[d];
        i /= c->a->shape[d];
    }
    return off;
}

static int add_backward(attn_tape *t, void *p)
{
    add_ctx *c = p;
    const float *g = c->y->grad;
    if (!g) return ATTN_OK;
    const int threads = attn_tape_threads(t);
    const int64_t n = c->y->numel;
    if (c->a->requires_grad) {
        float *da = attn_var_grad(t, c->a);
        if (!da) return ATTN_E_NOMEM;
#pragma omp parallel for if(ATTN_WORTH_THREADS(n)) num_threads(threads) schedule(static)
        for (int64_t i = 0; i < n; i++) da[i] += g[i];
    }
    if (c->b->requires_grad) {
        float *db = attn_var_grad(t, c->b);
        if (!db) return ATTN_E_NOMEM;
        if (c->same) {
#pragma omp parallel for if(ATTN_WORTH_THREADS(n)) num_threads(threads) schedule(static)
            for (int64_t i = 0; i < n; i++) db[i] += g[i];
        } else { /* reduce over the broadcast dims, in element order (deterministic) */
            double *acc = attn_tape_calloc(t, (size_t)c->b->numel * sizeof *acc);
            if (!acc) return ATTN_E_NOMEM;
            for (int64_t i = 0; i < n; i++) acc[b_offset(c, i)] += g[i];
            for (int64_t j = 0; j < c->b->numel; j++) db[j] += (float)acc[j];
        }
    }
    return ATTN_OK;
}

int attn_op_add(attn_tape *t, attn_var *a, attn_var *b, attn_var **out)
{
    static const char fn[] = "attn_op_add";
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, out);
    ATTN_TRY(attn_check_var(fn, "a", a));
    ATTN_TRY(attn_check_var(fn, "b", b));
    if (b->ndim > a->ndim)
        return attn_fail(ATTN_E_SHAPE, "%s: b has more dimensions (%d) than a (%d)", fn, b->ndim,
                         a->ndim);
    add_ctx *c = attn_tape_calloc(t, sizeof *c);
    if (!c) return ATTN_E_NOMEM;
    c->same = a->ndim == b->ndim;
    int64_t stride = 1;
    for (int d = a->ndim - 1, e = b->ndim - 1; d >= 0; d--, e--) {
        int64_t bs = e >= 0 ? b->shape[e] : 1;
        if (bs != 1 && bs != a->shape[d])
            return attn_fail(ATTN_E_SHAPE, "%s: b.shape[%d]=%lld does not broadcast to a.shape[%d]=%lld",
                             fn, e, (long long)bs, d, (long long)a->shape[d]);
        if (bs != a->shape[d]) c->same = 0;
        c->bstride[d] = bs == 1 ? 0 : stride;
        stride *= bs;
    }
    ATTN_TRY(attn_tape_var(t, a->ndim, a->shape, a->requires_grad || b->requires_grad, &c->y));
    c->a = a, c->b = b;
    const int64_t n = a->numel;
    float *y = c->y->data;
    if (c->same) {
#pragma omp parallel for if(ATTN_WORTH_THREADS(n)) num_threads(attn_tape_threads(t)) schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = a->data[i] + b->data[i];
    } else {
#pragma omp parallel for if(ATTN_WORTH_THREADS(n)) num_threads(attn_tape_threads(t)) schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = a->data[i] + b->data[b_offset(c, i)];
    }
    ATTN_TRY(attn_tape_record(t, add_backward, c));
    *out = c->y;
    return ATTN_OK;
}

typedef struct scale_ctx {
    attn_var *x, *y;
    float alpha; /* reshape: 1 */
} scale_ctx;

static int scale_backward(attn_tape *t, void *p)
{
    scale_ctx *c = p;
    if (!c->y->grad || !c->x->requires_grad) return ATTN_OK;
    float *dx = attn_var_grad(t, c->x);
    if (!dx) return ATTN_E_NOMEM;
#pragma omp parallel for if(ATTN_WORTH_THREADS(c->x->numel)) num_threads(attn_tape_threads(t)) schedule(static)
    for (int64_t i = 0; i < c->x->numel; i++) dx[i] += c->alpha * c->y->grad[i];
    return ATTN_OK;
}

int attn_op_scale(attn_tape *t, attn_var *x, float alpha, attn_var **out)
{
    static const char fn[] = "attn_op_scale";
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, out);
    ATTN_TRY(attn_check_var(fn, "x", x));
    scale_ctx *c = attn_tape_calloc(t, sizeof *c);
    if (!c) return ATTN_E_NOMEM;
    ATTN_TRY(attn_tape_var(t, x->ndim, x->shape, x->requires_grad, &c->y));
    c->x = x, c->alpha = alpha;
#pragma omp parallel for if(ATTN_WORTH_THREADS(x->numel)) num_threads(attn_tape_threads(t)) schedule(static)
    for (int64_t i = 0; i < x->numel; i++) c->y->data[i] = alpha * x->data[i];
    ATTN_TRY(attn_tape_record(t, scale_backward, c));
    *out = c->y;
    return ATTN_OK;
}

int attn_op_reshape(attn_tape *t, attn_var *x, int ndim, const int64_t *shape, attn_var **out)
{
    static const char fn[] = "attn_op_reshape";
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, out);
    ATTN_REQUIRE_NONNULL(fn, shape);
    ATTN_TRY(attn_check_var(fn, "x", x));
    if (ndim < 1 || ndim > ATTN_MAX_DIMS)
        return attn_fail(ATTN_E_ARG, "%s: ndim=%d must be in [1, %d]", fn, ndim, ATTN_MAX_DIMS);
    int64_t n;
    ATTN_TRY(attn_checked_numel(fn, shape, ndim, &n));
    if (n != x->numel)
        return attn_fail(ATTN_E_SHAPE, "%s: %lld elements cannot take a shape of %lld", fn,
                         (long long)x->numel, (long long)n);
    scale_ctx *c = attn_tape_calloc(t, sizeof *c);
    attn_var *y = attn_tape_calloc(t, sizeof *y);
    if (!c || !y) return ATTN_E_NOMEM;
    *y = *x; /* the same data; its own gradient buffer */
    y->grad = NULL, y->param = NULL;
    y->ndim = ndim;
    memset(y->shape, 0, sizeof y->shape);
    memcpy(y->shape, shape, (size_t)ndim * sizeof *shape);
    c->x = x, c->y = y, c->alpha = 1.0f;
    ATTN_TRY(attn_tape_record(t, scale_backward, c));
    *out = y;
    return ATTN_OK;
}

/* ---- narrow ---------------------------------------------------------------------------------- */

/* x viewed as [outer, n, inner] with n the narrowed dimension; y as [outer, length, inner]. */
typedef struct narrow_ctx {
    attn_var *x, *y;
    int64_t outer, n, inner, start, length;
} narrow_ctx;

static int narrow_backward(attn_tape *t, void *p)
{
    narrow_ctx *c = p;
    if (!c->y->grad || !c->x->requires_grad) return ATTN_OK;
    float *dx = attn_var_grad(t, c->x);
    if (!dx) return ATTN_E_NOMEM;
    const int64_t run = c->length * c->inner;
    for (int64_t o = 0; o < c->outer; o++) {
        float *d = dx + (o * c->n + c->start) * c->inner;
        const float *g = c->y->grad + o * run;
        for (int64_t i = 0; i < run; i++) d[i] += g[i];
    }
    return ATTN_OK;
}

int attn_op_narrow(attn_tape *t, attn_var *x, int dim, int64_t start, int64_t length, attn_var **out)
{
    static const char fn[] = "attn_op_narrow";
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, out);
    ATTN_TRY(attn_check_var(fn, "x", x));
    if (dim < 0 || dim >= x->ndim)
        return attn_fail(ATTN_E_ARG, "%s: dim=%d outside a %d-d variable", fn, dim, x->ndim);
    if (start < 0 || length < 1 || start > x->shape[dim] || length > x->shape[dim] - start)
        return attn_fail(ATTN_E_ARG, "%s: [%lld, %lld + %lld) is outside dimension %d of size %lld",
                         fn, (long long)start, (long long)start, (long long)length, dim,
                         (long long)x->shape[dim]);
    narrow_ctx *c = attn_tape_calloc(t, sizeof *c);
    if (!c) return ATTN_E_NOMEM;
    int64_t shape[ATTN_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[dim] = length;
    ATTN_TRY(attn_tape_var(t, x->ndim, shape, x->requires_grad, &c->y));
    c->x = x, c->n = x->shape[dim], c->start = start, c->length = length;
    c->outer = 1, c->inner = 1;
    for (int d = 0; d < dim; d++) c->outer *= x->shape[d];
    for (int d = dim + 1; d < x->ndim; d++) c->inner *= x->shape[d];
    const int64_t run = length * c->inner;
    for (int64_t o = 0; o < c->outer; o++)
        memcpy(c->y->data + o * run, x->data + (o * c->n + start) * c->inner,
               (size_t)run * sizeof(float));
    ATTN_TRY(attn_tape_record(t, narrow_backward, c));
    *out = c->y;
    return ATTN_OK;
}
