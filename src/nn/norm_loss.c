/* norm_loss.c — LayerNorm and softmax cross-entropy on the tape. */
#include "nn_internal.h"

/* ---- LayerNorm -------------------------------------------------------------------------------- */

int attn_layernorm_init(attn_layernorm *n, attn_params *P, const char *prefix, int64_t dim,
                        float eps, int elementwise_affine)
{
    static const char fn[] = "attn_layernorm_init";
    ATTN_REQUIRE_NONNULL(fn, n);
    if (dim < 1) return attn_fail(ATTN_E_ARG, "%s: dim=%lld must be >= 1", fn, (long long)dim);
    if (!(eps > 0) || isinf(eps))
        return attn_fail(ATTN_E_ARG, "%s: eps=%g must be finite and > 0", fn, (double)eps);
    memset(n, 0, sizeof *n);
    n->dim = dim, n->eps = eps;
    if (elementwise_affine) {
        ATTN_TRY(attn_params_add(P, prefix, "weight", 1, &dim, ATTN_INIT_ONES, 0, &n->weight));
        ATTN_TRY(attn_params_add(P, prefix, "bias", 1, &dim, ATTN_INIT_ZEROS, 0, &n->bias));
    }
    return ATTN_OK;
}

/* The row sums below run in double over 8 lanes (lane j takes d ≡ j mod 8, the lanes added
 * pairwise at the end): with one accumulator every add waits for the previous one (4 cycles),
 * which made the forward's two sums most of its 1 % of a GPT training step. A fixed order:
 * every run gives the same bits. */
static inline double lanes_total(const double s[8])
{
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* Mean and (biased) variance of a row. */
static void row_moments(const float *x, int64_t D, double *mean, double *var)
{
    double s[8] = {0}, q[8] = {0};
    const int64_t D8 = D / 8 * 8; /* blocks of 8 for the vectorizer, the last one short */
    for (int64_t d = 0; d < D; d += 8)
        for (int j = 0, n = d < D8 ? 8 : (int)(D - d); j < n; j++) s[j] += x[d + j];
    const double mu = lanes_total(s) / (double)D;
    for (int64_t d = 0; d < D; d += 8)
        for (int j = 0, n = d < D8 ? 8 : (int)(D - d); j < n; j++)
            q[j] += ((double)x[d + j] - mu) * ((double)x[d + j] - mu);
    *mean = mu, *var = lanes_total(q) / (double)D;
}

/* Means over a row of g = dy·w (w = 1 without weights) and of g·x̂, x̂ = (x − mean)·rstd. */
static void row_grad_means(const float *x, const float *dy, const float *w, int64_t D,
                           double mean, double rstd, double *mg, double *mgx)
{
    double s[8] = {0}, t[8] = {0};
    const int64_t D8 = D / 8 * 8;
    for (int64_t d = 0; d < D; d += 8) {
        const int n = d < D8 ? 8 : (int)(D - d);
        for (int j = 0; j < n; j++) {
            const double g = (double)dy[d + j] * (w ? (double)w[d + j] : 1.0);
            s[j] += g;
            t[j] += g * (((double)x[d + j] - mean) * rstd);
        }
    }
    *mg = lanes_total(s) / (double)D, *mgx = lanes_total(t) / (double)D;
}

typedef struct layernorm_ctx {
    const attn_layernorm *n;
    attn_var *x, *y;
    float *mean, *rstd; /* [rows] */
} layernorm_ctx;

/* With x̂ = (x − μ)·r and y = x̂·w + b, per row of D:
 *   dw += Σ_rows dy·x̂     db += Σ_rows dy
 *   g = dy·w              dx = r·(g − mean(g) − x̂·mean(g·x̂)) */
static int layernorm_backward(attn_tape *t, void *p)
{
    layernorm_ctx *c = p;
    if (!c->y->grad) return ATTN_OK;
    const int64_t D = c->n->dim, rows = attn_var_rows(c->x);
    const float *w = c->n->weight ? c->n->weight->data : NULL;
    const int threads = attn_tape_threads(t);
    ATTN_TRY(attn_param_need_grad(c->n->weight));
    ATTN_TRY(attn_param_need_grad(c->n->bias));
    if (c->n->weight) { /* parameter grads: per column, rows in order, 16 columns (a cache line) at a time */
        float *dw = c->n->weight->grad, *db = c->n->bias->grad;
        const int64_t blocks = (D + 15) / 16;
#pragma omp parallel for if(ATTN_WORTH_THREADS(D * rows)) num_threads(threads) schedule(static)
        for (int64_t k = 0; k < blocks; k++) {
            const int64_t d0 = k * 16, nd = D - d0 < 16 ? D - d0 : 16;
            double sw[16] = {0}, sb[16] = {0};
            for (int64_t r = 0; r < rows; r++) {
                const float *x = c->x->data + r * D + d0, *g = c->y->grad + r * D + d0;
                const double mean = c->mean[r], rstd = c->rstd[r];
                for (int64_t j = 0; j < nd; j++) {
                    sw[j] += g[j] * (((double)x[j] - mean) * rstd);
                    sb[j] += g[j];
                }
            }
            for (int64_t j = 0; j < nd; j++) dw[d0 + j] += (float)sw[j], db[d0 + j] += (float)sb[j];
        }
    }
    if (!c->x->requires_grad) return ATTN_OK;
    float *dx = attn_var_grad(t, c->x);
    if (!dx) return ATTN_E_NOMEM;
#pragma omp parallel for if(ATTN_WORTH_THREADS(rows * D)) num_threads(threads) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *x = c->x->data + r * D, *dy = c->y->grad + r * D;
        double mg, mgx;
        row_grad_means(x, dy, w, D, c->mean[r], c->rstd[r], &mg, &mgx);
        for (int64_t d = 0; d < D; d++) {
            double g = dy[d] * (w ? w[d] : 1.0);
            double xh = ((double)x[d] - c->mean[r]) * c->rstd[r];
            dx[r * D + d] += (float)(c->rstd[r] * (g - mg - xh * mgx));
        }
    }
    return ATTN_OK;
}

/* One row of the normalisation: y = (x − mean)·rstd (·w + b); mean and rstd (may be NULL)
 * receive the row's statistics for backward. The tape's forward and attn_layernorm_rows both
 * run this, so training and incremental decoding normalise alike, bit for bit. */
static void layernorm_row(const float *xr, int64_t D, float eps, const float *w, const float *b,
                          float *yr, float *mean, float *rstd)
{
    double mu, var;
    row_moments(xr, D, &mu, &var);
    double rs = 1.0 / sqrt(var + eps);
    if (mean) *mean = (float)mu;
    if (rstd) *rstd = (float)rs;
    for (int64_t d = 0; d < D; d++) {
        double v = (xr[d] - mu) * rs;
        if (w) v = v * w[d] + b[d];
        yr[d] = (float)v;
    }
}

int attn_layernorm_rows(const attn_layernorm *n, const float *x, int64_t rows, float *y,
                        int threads)
{
    static const char fn[] = "attn_layernorm_rows";
    ATTN_REQUIRE_NONNULL(fn, n);
    ATTN_REQUIRE_NONNULL(fn, x);
    ATTN_REQUIRE_NONNULL(fn, y);
    if (rows < 0) return attn_fail(ATTN_E_ARG, "%s: rows=%lld", fn, (long long)rows);
    const int64_t D = n->dim;
    const float *w = n->weight ? n->weight->data : NULL, *b = n->bias ? n->bias->data : NULL;
#pragma omp parallel for if(ATTN_WORTH_THREADS(rows * D)) num_threads(threads > 0 ? threads : 1) schedule(static)
    for (int64_t r = 0; r < rows; r++) layernorm_row(x + r * D, D, n->eps, w, b, y + r * D, NULL, NULL);
    return ATTN_OK;
}

int attn_layernorm_forward(attn_tape *t, const attn_layernorm *n, attn_var *x, attn_var **out)
{
    static const char fn[] = "attn_layernorm_forward";
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, n);
    ATTN_REQUIRE_NONNULL(fn, out);
    ATTN_TRY(attn_check_var(fn, "x", x));
    const int64_t D = n->dim;
    if (x->shape[x->ndim - 1] != D)
        return attn_fail(ATTN_E_SHAPE, "%s: x.shape[-1]=%lld but dim=%lld", fn,
                         (long long)x->shape[x->ndim - 1], (long long)D);
    const int64_t rows = attn_var_rows(x);
    attn_var *y;
    ATTN_TRY(attn_tape_var(t, x->ndim, x->shape, 1, &y));
    layernorm_ctx *c = attn_tape_alloc(t, sizeof *c);
    float *mean = attn_tape_alloc(t, (size_t)rows * sizeof(float));
    float *rstd = attn_tape_alloc(t, (size_t)rows * sizeof(float));
    if (!c || !mean || !rstd) return ATTN_E_NOMEM;
    const float *w = n->weight ? n->weight->data : NULL, *b = n->bias ? n->bias->data : NULL;
#pragma omp parallel for if(ATTN_WORTH_THREADS(rows * D)) num_threads(attn_tape_threads(t)) schedule(static)
    for (int64_t r = 0; r < rows; r++)
        layernorm_row(x->data + r * D, D, n->eps, w, b, y->data + r * D, &mean[r], &rstd[r]);
    c->n = n, c->x = x, c->y = y, c->mean = mean, c->rstd = rstd;
    ATTN_TRY(attn_tape_record(t, layernorm_backward, c));
    *out = y;
    return ATTN_OK;
}

/* ---- cross-entropy ------------------------------------------------------------------------------ */

typedef struct ce_ctx {
    attn_var *logits, *loss;
    int32_t *targets;
    float *lse; /* [rows] log Σ exp(logits) */
    attn_ce_options opt;
    int64_t valid;
} ce_ctx;

/* log Σ_j e^{x_j} of one row, and Σ_j x_j, in double over float terms e^{x_j − max} (eight
 * partial sums in a fixed order: vectorizes, deterministic). A row holding NaN gives NaN. */
ATTN_SIMD_CLONES
static double ce_row_lse(const float *x, int64_t C, double *sum_x)
{
    float m = -INFINITY;
    for (int64_t j = 0; j < C; j++) m = x[j] > m ? x[j] : m;
    double s[8] = {0}, sx[8] = {0};
    int64_t j = 0;
    for (; j + 8 <= C; j += 8)
        for (int k = 0; k < 8; k++) s[k] += attn_expf(x[j + k] - m), sx[k] += x[j + k];
    for (; j < C; j++) s[0] += attn_expf(x[j] - m), sx[0] += x[j];
    double ts = 0, tx = 0;
    for (int k = 0; k < 8; k++) ts += s[k], tx += sx[k];
    *sum_x = tx;
    if (isnan(tx) || m == INFINITY) return NAN; /* NaN or +inf logits: the loss says so */
    return m + log(ts);
}

/* dx += g·softmax(x) − g_eps (the target's −g(1−ε) is added by the caller). */
ATTN_SIMD_CLONES
static void ce_row_grad(const float *x, int64_t C, float lse, float g, float g_eps, float *dx)
{
    if (isnan(lse)) {
        for (int64_t j = 0; j < C; j++) dx[j] = NAN;
        return;
    }
    for (int64_t j = 0; j < C; j++) dx[j] += g * attn_expf(x[j] - lse) - g_eps;
}

/* ∂loss/∂logit_rc = (p_rc − (1−ε)·[c = target_r] − ε/C) / valid, 0 on ignored rows. */
static int ce_backward(attn_tape *t, void *p)
{
    ce_ctx *c = p;
    if (!c->loss->grad || !c->logits->requires_grad || c->valid == 0) return ATTN_OK;
    float *dx = attn_var_grad(t, c->logits);
    if (!dx) return ATTN_E_NOMEM;
    const int64_t C = c->logits->shape[c->logits->ndim - 1], rows = attn_var_rows(c->logits);
    const double g = c->loss->grad[0] / (double)c->valid, eps = c->opt.label_smoothing;
#pragma omp parallel for if(ATTN_WORTH_THREADS(rows * C)) num_threads(attn_tape_threads(t)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        if (c->targets[r] == c->opt.ignore_index) continue;
        ce_row_grad(c->logits->data + r * C, C, c->lse[r], (float)g, (float)(g * eps / C), dx + r * C);
        dx[r * C + c->targets[r]] -= (float)(g * (1 - eps));
    }
    return ATTN_OK;
}

int attn_op_cross_entropy(attn_tape *t, attn_var *logits, const int32_t *targets,
                          const attn_ce_options *opt, attn_var **loss)
{
    static const char fn[] = "attn_op_cross_entropy";
    static const attn_ce_options defaults = {-100, 0};
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, targets);
    ATTN_REQUIRE_NONNULL(fn, loss);
    ATTN_TRY(attn_check_var(fn, "logits", logits));
    if (!opt) opt = &defaults;
    if (!(opt->label_smoothing >= 0 && opt->label_smoothing <= 1))
        return attn_fail(ATTN_E_ARG, "%s: label_smoothing=%g must be in [0, 1]", fn,
                         (double)opt->label_smoothing);
    const int64_t C = logits->shape[logits->ndim - 1], rows = attn_var_rows(logits);
    int64_t valid = 0;
    for (int64_t r = 0; r < rows; r++) {
        if (targets[r] == opt->ignore_index) continue;
        if (targets[r] < 0 || targets[r] >= C)
            return attn_fail(ATTN_E_ARG, "%s: targets[%lld]=%d outside [0, %lld) and not ignore_index %d",
                             fn, (long long)r, (int)targets[r], (long long)C, (int)opt->ignore_index);
        valid++;
    }
    int64_t one = 1;
    attn_var *y;
    ATTN_TRY(attn_tape_var(t, 1, &one, logits->requires_grad, &y));
    ce_ctx *c = attn_tape_calloc(t, sizeof *c);
    float *lse = attn_tape_alloc(t, (size_t)rows * sizeof(float));
    int32_t *tg = attn_tape_copy(t, targets, (size_t)rows * sizeof *targets);
    if (!c || !lse || !tg) return ATTN_E_NOMEM;
    const double eps = opt->label_smoothing;
    double *row_loss = malloc((size_t)rows * sizeof *row_loss);
    if (!row_loss) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
#pragma omp parallel for if(ATTN_WORTH_THREADS(rows * C)) num_threads(attn_tape_threads(t)) schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *x = logits->data + r * C;
        double sum_x;
        double l = ce_row_lse(x, C, &sum_x);
        lse[r] = (float)l;
        row_loss[r] = 0;
        if (targets[r] == opt->ignore_index) continue;
        double nll = l - x[targets[r]];
        double smooth = l - sum_x / C; /* mean_c(−log p_c) */
        row_loss[r] = (1 - eps) * nll + eps * smooth;
    }
    double total = 0; /* summed in row order: the same for any thread count */
    for (int64_t r = 0; r < rows; r++) total += row_loss[r];
    free(row_loss);
    y->data[0] = valid ? (float)(total / valid) : 0.0f;
    c->logits = logits, c->loss = y, c->targets = tg, c->lse = lse, c->opt = *opt, c->valid = valid;
    ATTN_TRY(attn_tape_record(t, ce_backward, c));
    *loss = y;
    return ATTN_OK;
}
