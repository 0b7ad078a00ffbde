/* ops.c — elementwise ops on the tape: ReLU, tanh, GELU, dropout, softmax. */
#include "nn_internal.h"

/* An op of one input x and one output y of the same shape (ctx of every op here). */
typedef struct unary_ctx {
    attn_var *x, *y;
    int approx;    /* GELU: tanh form */
    float p;       /* dropout */
    uint64_t seed, offset;
} unary_ctx;

/* New y shaped like x, and its ctx recorded with backward fn. */
static int unary_begin(attn_tape *t, const char *fn, attn_var *x, attn_backward_fn bwd,
                       attn_var **y, unary_ctx **ctx)
{
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_TRY(attn_check_var(fn, "x", x));
    ATTN_TRY(attn_tape_var(t, x->ndim, x->shape, x->requires_grad, y));
    unary_ctx *c = attn_tape_calloc(t, sizeof *c);
    if (!c) return ATTN_E_NOMEM;
    c->x = x, c->y = *y;
    *ctx = c;
    return attn_tape_record(t, bwd, c);
}

/* The gradient to accumulate into (NULL with status 0: nothing to do). */
static int unary_grads(attn_tape *t, unary_ctx *c, float **dx)
{
    *dx = NULL;
    if (!c->y->grad || !c->x->requires_grad) return ATTN_OK;
    *dx = attn_var_grad(t, c->x);
    return *dx ? ATTN_OK : ATTN_E_NOMEM;
}

/* ---- ReLU ------------------------------------------------------------------------------------ */

static int relu_backward(attn_tape *t, void *p)
{
    unary_ctx *c = p;
    float *dx;
    ATTN_TRY(unary_grads(t, c, &dx));
    if (!dx) return ATTN_OK;
#pragma omp parallel for if(ATTN_WORTH_THREADS(c->y->numel)) num_threads(attn_tape_threads(t)) schedule(static)
    for (int64_t i = 0; i < c->y->numel; i++) {
        /* x > 0 decided on the bits (positive, finite or +inf, not NaN), so the loop vectorizes */
        int32_t b;
        memcpy(&b, &c->x->data[i], sizeof b);
        int32_t pass = -(int32_t)((b > 0) & (b <= 0x7f800000));
        float g = c->y->grad[i];
        int32_t gb;
        memcpy(&gb, &g, sizeof gb);
        gb &= pass;
        memcpy(&g, &gb, sizeof g);
        dx[i] += g;
    }
    return ATTN_OK;
}

int attn_op_relu(attn_tape *t, attn_var *x, attn_var **out)
{
    static const char fn[] = "attn_op_relu";
    ATTN_REQUIRE_NONNULL(fn, out);
    attn_var *y;
    unary_ctx *c;
    ATTN_TRY(unary_begin(t, fn, x, relu_backward, &y, &c));
#pragma omp parallel for if(ATTN_WORTH_THREADS(y->numel)) num_threads(attn_tape_threads(t)) schedule(static)
    for (int64_t i = 0; i < y->numel; i++) y->data[i] = x->data[i] > 0 ? x->data[i] : 0.0f;
    *out = y;
    return ATTN_OK;
}

/* ---- tanh ------------------------------------------------------------------------------------ */

static int tanh_backward(attn_tape *t, void *p)
{
    unary_ctx *c = p;
    float *dx;
    ATTN_TRY(unary_grads(t, c, &dx));
    if (!dx) return ATTN_OK;
#pragma omp parallel for if(ATTN_WORTH_THREADS(c->y->numel)) num_threads(attn_tape_threads(t)) schedule(static)
    for (int64_t i = 0; i < c->y->numel; i++) {
        float y = c->y->data[i];
        dx[i] += c->y->grad[i] * (1.0f - y * y);
    }
    return ATTN_OK;
}

int attn_op_tanh(attn_tape *t, attn_var *x, attn_var **out)
{
    static const char fn[] = "attn_op_tanh";
    ATTN_REQUIRE_NONNULL(fn, out);
    attn_var *y;
    unary_ctx *c;
    ATTN_TRY(unary_begin(t, fn, x, tanh_backward, &y, &c));
#pragma omp parallel for if(ATTN_WORTH_THREADS(y->numel)) num_threads(attn_tape_threads(t)) schedule(static)
    for (int64_t i = 0; i < y->numel; i++) y->data[i] = tanhf(x->data[i]);
    *out = y;
    return ATTN_OK;
}

/* ---- GELU ------------------------------------------------------------------------------------ */

#define SQRT_2_OVER_PI 0.7978845608028654
#define GELU_C 0.044715

/* Tanh form, in double: ½x(1 + tanh(u)), u = √(2/π)(x + c·x³), and its derivative. */
static void gelu_tanh(double x, double *y, double *dy)
{
    double u = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
    double th = tanh(u);
    *y = 0.5 * x * (1 + th);
    if (dy) *dy = 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * SQRT_2_OVER_PI * (1 + 3 * GELU_C * x * x);
}

/* Exact form: GELU(x) = x·Φ(x), GELU'(x) = Φ(x) + x·φ(x), in float and branch-free so that the
 * loops vectorize (libm's double erf and exp were a tenth of a GPT training step). Φ comes from
 * erfc(z), z = |x|/√2, as t·exp(−z² − 1.26551223 + t·P(t)) with t = 1/(1 + z/2) (the Chebyshev
 * fit of Numerical Recipes' erfcc, relative error < 1.2e-7 for every z ≥ 0): Φ(x) = ½erfc(z) for
 * x < 0 and 1 − ½erfc(z) otherwise, chosen on the sign bit. */
static inline float normal_cdf(float x)
{
    const float z = fabsf(x) * 0.70710678118654752f, t = 1.0f / (1.0f + 0.5f * z);
    /* P(t) = Σ c_k t^k by Estrin's scheme: 7 dependent steps instead of Horner's 20 (the loop
     * is bound by this chain's latency, not by its operations) */
    const float t2 = t * t, t4 = t2 * t2, t8 = t4 * t4;
    const float q01 = -1.26551223f + 1.00002368f * t, q23 = 0.37409196f + 0.09678418f * t;
    const float q45 = -0.18628806f + 0.27886807f * t, q67 = -1.13520398f + 1.48851587f * t;
    const float q89 = -0.82215223f + 0.17087277f * t;
    const float p = ((q01 + q23 * t2) + (q45 + q67 * t2) * t4) + q89 * t8;
    const float lo = 0.5f * t * attn_expf(p - z * z), hi = 1.0f - lo;
    int32_t xb, lb, hb;
    memcpy(&xb, &x, sizeof xb);
    memcpy(&lb, &lo, sizeof lb);
    memcpy(&hb, &hi, sizeof hb);
    const int32_t neg = xb >> 31; /* all ones when the sign bit is set */
    const int32_t rb = (lb & neg) | (hb & ~neg);
    float r;
    memcpy(&r, &rb, sizeof r);
    return r;
}

ATTN_SIMD_CLONES
static void gelu_exact_fwd(const float *restrict x, float *restrict y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * normal_cdf(x[i]);
}

ATTN_SIMD_CLONES
static void gelu_exact_bwd(const float *restrict x, const float *restrict dy, float *restrict dx, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const float v = x[i], pdf = 0.39894228040143268f * attn_expf(-0.5f * v * v);
        dx[i] += (normal_cdf(v) + v * pdf) * dy[i];
    }
}

#define GELU_CHUNK 4096

/* y = GELU(x) over n elements, exact or tanh form: the tape's op and attn_activation_rows. */
static void gelu_forward(const float *x, float *y, int64_t n, int approx, int threads)
{
    const int64_t chunks = (n + GELU_CHUNK - 1) / GELU_CHUNK;
    if (!approx) {
#pragma omp parallel for if(ATTN_WORTH_THREADS(n)) num_threads(threads) schedule(static)
        for (int64_t k = 0; k < chunks; k++) {
            const int64_t i0 = k * GELU_CHUNK, m = n - i0 < GELU_CHUNK ? n - i0 : GELU_CHUNK;
            gelu_exact_fwd(x + i0, y + i0, m);
        }
        return;
    }
#pragma omp parallel for if(ATTN_WORTH_THREADS(n)) num_threads(threads) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        double v;
        gelu_tanh(x[i], &v, NULL);
        y[i] = (float)v;
    }
}

static int gelu_backward(attn_tape *t, void *p)
{
    unary_ctx *c = p;
    float *dx;
    ATTN_TRY(unary_grads(t, c, &dx));
    if (!dx) return ATTN_OK;
    const int64_t n = c->y->numel, chunks = (n + GELU_CHUNK - 1) / GELU_CHUNK;
    if (!c->approx) {
#pragma omp parallel for if(ATTN_WORTH_THREADS(n)) num_threads(attn_tape_threads(t)) schedule(static)
        for (int64_t k = 0; k < chunks; k++) {
            const int64_t i0 = k * GELU_CHUNK, m = n - i0 < GELU_CHUNK ? n - i0 : GELU_CHUNK;
            gelu_exact_bwd(c->x->data + i0, c->y->grad + i0, dx + i0, m);
        }
        return ATTN_OK;
    }
#pragma omp parallel for if(ATTN_WORTH_THREADS(n)) num_threads(attn_tape_threads(t)) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        double y, d;
        gelu_tanh(c->x->data[i], &y, &d);
        dx[i] += (float)(d * c->y->grad[i]);
    }
    return ATTN_OK;
}

int attn_op_gelu(attn_tape *t, attn_var *x, int approximate, attn_var **out)
{
    static const char fn[] = "attn_op_gelu";
    ATTN_REQUIRE_NONNULL(fn, out);
    attn_var *y = NULL;
    unary_ctx *c = NULL;
    ATTN_TRY(unary_begin(t, fn, x, gelu_backward, &y, &c));
    c->approx = approximate != 0;
    gelu_forward(x->data, y->data, y->numel, c->approx, attn_tape_threads(t));
    *out = y;
    return ATTN_OK;
}

int attn_activation_rows(attn_activation act, const float *x, int64_t n, float *y, int threads)
{
    static const char fn[] = "attn_activation_rows";
    ATTN_REQUIRE_NONNULL(fn, x);
    ATTN_REQUIRE_NONNULL(fn, y);
    if (n < 0) return attn_fail(ATTN_E_ARG, "%s: n=%lld", fn, (long long)n);
    threads = threads > 0 ? threads : 1;
    switch (act) {
    case ATTN_ACT_RELU:
#pragma omp parallel for if(ATTN_WORTH_THREADS(n)) num_threads(threads) schedule(static)
        for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0;
        return ATTN_OK;
    case ATTN_ACT_GELU:
    case ATTN_ACT_GELU_TANH:
        gelu_forward(x, y, n, act == ATTN_ACT_GELU_TANH, threads);
        return ATTN_OK;
    }
    return attn_fail(ATTN_E_ARG, "%s: unknown activation %d", fn, (int)act);
}

/* ---- dropout: keep element i iff uniform(seed, offset, i) ≥ p; kept ones scaled 1/(1−p) ---- */

/* Decisions are drawn a chunk at a time (one Philox block gives four), the same as element by
 * element with attn_dropout_keep. */
#define DROPOUT_CHUNK 256

static int dropout_backward(attn_tape *t, void *p)
{
    unary_ctx *c = p;
    float *dx;
    ATTN_TRY(unary_grads(t, c, &dx));
    if (!dx) return ATTN_OK;
    const float scale = 1.0f / (1.0f - c->p);
    const int64_t n = c->y->numel, chunks = (n + DROPOUT_CHUNK - 1) / DROPOUT_CHUNK;
#pragma omp parallel for if(ATTN_WORTH_THREADS(n)) num_threads(attn_tape_threads(t)) schedule(static)
    for (int64_t k = 0; k < chunks; k++) {
        uint8_t keep[DROPOUT_CHUNK];
        const int64_t i0 = k * DROPOUT_CHUNK, m = n - i0 < DROPOUT_CHUNK ? n - i0 : DROPOUT_CHUNK;
        attn_dropout_mask_fill(c->seed, c->offset, (uint64_t)i0, m, c->p, keep);
        for (int64_t i = 0; i < m; i++) dx[i0 + i] += (keep[i] ? scale : 0.0f) * c->y->grad[i0 + i];
    }
    return ATTN_OK;
}

int attn_op_dropout(attn_tape *t, attn_var *x, float p, attn_var **out)
{
    static const char fn[] = "attn_op_dropout";
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, out);
    ATTN_TRY(attn_check_var(fn, "x", x));
    if (!(p >= 0 && p < 1)) return attn_fail(ATTN_E_ARG, "%s: p=%g must be in [0, 1)", fn, (double)p);
    if (p == 0 || !attn_tape_training(t)) { /* identity: no node, the same variable */
        *out = x;
        return ATTN_OK;
    }
    attn_var *y;
    unary_ctx *c;
    ATTN_TRY(unary_begin(t, fn, x, dropout_backward, &y, &c));
    c->p = p, c->seed = attn_tape_seed(t), c->offset = attn_tape_next_offset(t);
    const float scale = 1.0f / (1.0f - p);
    const int64_t n = y->numel, chunks = (n + DROPOUT_CHUNK - 1) / DROPOUT_CHUNK;
#pragma omp parallel for if(ATTN_WORTH_THREADS(n)) num_threads(attn_tape_threads(t)) schedule(static)
    for (int64_t k = 0; k < chunks; k++) {
        uint8_t keep[DROPOUT_CHUNK];
        const int64_t i0 = k * DROPOUT_CHUNK, m = n - i0 < DROPOUT_CHUNK ? n - i0 : DROPOUT_CHUNK;
        attn_dropout_mask_fill(c->seed, c->offset, (uint64_t)i0, m, p, keep);
        for (int64_t i = 0; i < m; i++) y->data[i0 + i] = (keep[i] ? scale : 0.0f) * x->data[i0 + i];
    }
    *out = y;
    return ATTN_OK;
}

/* ---- softmax along the last dimension ------------------------------------------------------- */

static int softmax_backward(attn_tape *t, void *p)
{
    unary_ctx *c = p;
    float *dx;
    ATTN_TRY(unary_grads(t, c, &dx));
    if (!dx) return ATTN_OK;
    const int64_t C = c->y->shape[c->y->ndim - 1], rows = attn_var_rows(c->y);
    /* dx = y ⊙ (dy − Σ y·dy) */
#pragma omp parallel for if(ATTN_WORTH_THREADS(rows * C)) num_threads(attn_tape_threads(t)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *y = c->y->data + r * C, *dy = c->y->grad + r * C;
        double dot = 0;
        for (int64_t j = 0; j < C; j++) dot += (double)y[j] * dy[j];
        for (int64_t j = 0; j < C; j++) dx[r * C + j] += (float)(y[j] * (dy[j] - dot));
    }
    return ATTN_OK;
}

int attn_op_softmax(attn_tape *t, attn_var *x, attn_var **out)
{
    static const char fn[] = "attn_op_softmax";
    ATTN_REQUIRE_NONNULL(fn, out);
    attn_var *y;
    unary_ctx *c;
    ATTN_TRY(unary_begin(t, fn, x, softmax_backward, &y, &c));
    const int64_t C = x->shape[x->ndim - 1], rows = attn_var_rows(x);
#pragma omp parallel for if(ATTN_WORTH_THREADS(rows * C)) num_threads(attn_tape_threads(t)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *a = x->data + r * C;
        float m = -INFINITY;
        for (int64_t j = 0; j < C; j++) m = a[j] > m ? a[j] : m;
        double s = 0;
        for (int64_t j = 0; j < C; j++) s += m == -INFINITY ? 0 : exp((double)a[j] - m);
        for (int64_t j = 0; j < C; j++)
            y->data[r * C + j] = s > 0 ? (float)(exp((double)a[j] - m) / s) : 0.0f;
    }
    *out = y;
    return ATTN_OK;
}
