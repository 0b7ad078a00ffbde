/* mha.c — torch.nn.MultiheadAttention on the tape: in-projections, optional bias_k/bias_v and
 * zero-attention rows, masks merged into one bool mask and one additive bias, attention through
 * attn_sdpa_forward/backward (lse passed from forward to backward), out-projection.
 *
 * Layouts. Rows of the projected q (and of the attention output) keep the query's row order,
 * [L, N, E] or [N, L, E], and are viewed per head as [N, H, L, hd] through strides. The projected
 * k and v have Sx = S (+1 bias_kv) (+1 zero_attn) rows per batch in the same order as the key:
 * [Sx, N, E] or [N, Sx, E]; the extra rows sit after the S projected ones. */
#include "nn_internal.h"

#include <stdio.h>

static int add_param(attn_params *P, const char *prefix, const char *name, int ndim,
                     int64_t d0, int64_t d1, int64_t d2, attn_init init, float a, attn_param **out)
{
    int64_t shape[3] = {d0, d1, d2};
    return attn_params_add(P, prefix, name, ndim, shape, init, a, out);
}

int attn_mha_init(attn_mha *m, attn_params *P, const char *prefix, const attn_mha_config *cfg)
{
    static const char fn[] = "attn_mha_init";
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, P);
    ATTN_REQUIRE_NONNULL(fn, cfg);
    const int64_t E = cfg->embed_dim, H = cfg->num_heads;
    if (E < 1 || H < 1 || E % H != 0)
        return attn_fail(ATTN_E_ARG, "%s: embed_dim=%lld must be a positive multiple of num_heads=%lld",
                         fn, (long long)E, (long long)H);
    if (cfg->kdim < 0 || cfg->vdim < 0)
        return attn_fail(ATTN_E_ARG, "%s: kdim=%lld, vdim=%lld must be >= 0 (0: embed_dim)", fn,
                         (long long)cfg->kdim, (long long)cfg->vdim);
    if (!(cfg->dropout >= 0 && cfg->dropout < 1))
        return attn_fail(ATTN_E_ARG, "%s: dropout=%g must be in [0, 1)", fn, (double)cfg->dropout);
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    if (!m->cfg.kdim) m->cfg.kdim = E;
    if (!m->cfg.vdim) m->cfg.vdim = E;
    const int64_t kd = m->cfg.kdim, vd = m->cfg.vdim;
    m->head_dim = E / H;
    m->packed = kd == E && vd == E;
    /* torch: xavier_uniform (bound √(6/(fan_in + fan_out))) on the projections */
    if (m->packed) {
        ATTN_TRY(add_param(P, prefix, "in_proj_weight", 2, 3 * E, E, 0, ATTN_INIT_UNIFORM,
                           sqrtf(6.0f / (float)(4 * E)), &m->in_proj_weight));
    } else {
        ATTN_TRY(add_param(P, prefix, "q_proj_weight", 2, E, E, 0, ATTN_INIT_UNIFORM,
                           sqrtf(6.0f / (float)(2 * E)), &m->q_proj_weight));
        ATTN_TRY(add_param(P, prefix, "k_proj_weight", 2, E, kd, 0, ATTN_INIT_UNIFORM,
                           sqrtf(6.0f / (float)(E + kd)), &m->k_proj_weight));
        ATTN_TRY(add_param(P, prefix, "v_proj_weight", 2, E, vd, 0, ATTN_INIT_UNIFORM,
                           sqrtf(6.0f / (float)(E + vd)), &m->v_proj_weight));
    }
    if (!cfg->no_bias)
        ATTN_TRY(add_param(P, prefix, "in_proj_bias", 1, 3 * E, 0, 0, ATTN_INIT_ZEROS, 0,
                           &m->in_proj_bias));
    if (cfg->add_bias_kv) { /* xavier_normal on [1, 1, E]: std √(2/(E + E)) */
        float std = 1.0f / sqrtf((float)E);
        ATTN_TRY(add_param(P, prefix, "bias_k", 3, 1, 1, E, ATTN_INIT_NORMAL, std, &m->bias_k));
        ATTN_TRY(add_param(P, prefix, "bias_v", 3, 1, 1, E, ATTN_INIT_NORMAL, std, &m->bias_v));
    }
    char sub[ATTN_PARAM_NAME_MAX];
    snprintf(sub, sizeof sub, "%sout_proj.", prefix ? prefix : "");
    ATTN_TRY(add_param(P, sub, "weight", 2, E, E, 0, ATTN_INIT_UNIFORM, 1.0f / sqrtf((float)E),
                       &m->out_proj_weight));
    if (!cfg->no_bias)
        ATTN_TRY(add_param(P, sub, "bias", 1, E, 0, 0, ATTN_INIT_ZEROS, 0, &m->out_proj_bias));
    return ATTN_OK;
}

/* Weight and bias (data or grad) of projection i = 0 (q), 1 (k), 2 (v). */
static float *proj_w(const attn_mha *m, int i, int grad)
{
    attn_param *p = m->packed ? m->in_proj_weight
                              : (i == 0 ? m->q_proj_weight : i == 1 ? m->k_proj_weight : m->v_proj_weight);
    float *base = grad ? p->grad : p->data;
    return m->packed ? base + (int64_t)i * m->cfg.embed_dim * m->cfg.embed_dim : base;
}

static float *proj_b(const attn_mha *m, int i, int grad)
{
    if (!m->in_proj_bias) return NULL;
    return (grad ? m->in_proj_bias->grad : m->in_proj_bias->data) + (int64_t)i * m->cfg.embed_dim;
}

typedef struct mha_ctx {
    const attn_mha *m;
    attn_var *query, *key, *value, *y;
    int64_t L, N, S, Sx;
    float *qb, *kb, *vb, *ob, *lse;
    attn_bool_tensor mask;
    attn_tensor bias;
    int has_mask, has_bias;
    attn_sdpa_options opt;
} mha_ctx;

/* [N, H, len, hd] view of a buffer whose rows are [len, N, E] or [N, len, E]. */
static attn_tensor heads_view(const mha_ctx *c, float *buf, int64_t len)
{
    const attn_mha *m = c->m;
    const int64_t E = m->cfg.embed_dim, hd = m->head_dim;
    attn_tensor t = attn_tensor_4d(buf, c->N, m->cfg.num_heads, len, hd);
    t.stride[1] = hd, t.stride[3] = 1;
    if (m->cfg.batch_first) t.stride[0] = len * E, t.stride[2] = E;
    else t.stride[0] = E, t.stride[2] = c->N * E;
    return t;
}

/* Project x ([S, N, in] or [N, S, in]) into buf with Sx rows per batch (layout as the key);
 * then fill the extra rows: bias (bias_k or bias_v) at S, zeros at the last when add_zero_attn. */
static int project_kv(const mha_ctx *c, int i, const attn_var *x, float *buf, const attn_param *extra,
                      int threads)
{
    const attn_mha *m = c->m;
    const int64_t E = m->cfg.embed_dim, in = x->shape[2], N = c->N, S = c->S, Sx = c->Sx;
    const float *w = proj_w(m, i, 0), *b = proj_b(m, i, 0);
    if (!m->cfg.batch_first || Sx == S) {
        ATTN_TRY(attn_dense_forward(S * N, in, E, x->data, in, w, b, buf, E, threads));
    } else {
        for (int64_t n = 0; n < N; n++)
            ATTN_TRY(attn_dense_forward(S, in, E, x->data + n * S * in, in, w, b, buf + n * Sx * E,
                                        E, threads));
    }
    for (int64_t s = S; s < Sx; s++)
        for (int64_t n = 0; n < N; n++) {
            float *row = buf + (m->cfg.batch_first ? n * Sx + s : s * N + n) * E;
            if (s == S && extra) memcpy(row, extra->data, (size_t)E * sizeof(float));
            else memset(row, 0, (size_t)E * sizeof(float));
        }
    return ATTN_OK;
}

/* Backward of project_kv: dx += dbuf·W over the S real rows, dW, db; the extra row's gradient
 * summed over the batch into extra->grad. */
static int project_kv_backward(attn_tape *t, const mha_ctx *c, int i, attn_var *x,
                               const float *dbuf, attn_param *extra)
{
    const attn_mha *m = c->m;
    const int64_t E = m->cfg.embed_dim, in = x->shape[2], N = c->N, S = c->S, Sx = c->Sx;
    const int threads = attn_tape_threads(t);
    float *dx = NULL;
    if (x->requires_grad && !(dx = attn_var_grad(t, x))) return ATTN_E_NOMEM;
    const float *w = proj_w(m, i, 0);
    float *dw = proj_w(m, i, 1), *db = proj_b(m, i, 1);
    /* When every key row carries the key bias (no extra rows), it adds q_i·b_k to the whole
     * score row i, which softmax ignores: its gradient is exactly 0. Return that 0 rather than
     * float roundoff, which Adam would turn into steps of size lr. */
    if (i == 1 && Sx == S) db = NULL;
    if (!m->cfg.batch_first || Sx == S) {
        ATTN_TRY(attn_dense_backward(S * N, in, E, x->data, in, w, dbuf, E, dx, in, dw, db, threads));
    } else {
        for (int64_t n = 0; n < N; n++)
            ATTN_TRY(attn_dense_backward(S, in, E, x->data + n * S * in, in, w, dbuf + n * Sx * E, E,
                                         dx ? dx + n * S * in : NULL, in, dw, db, threads));
    }
    if (extra)
        for (int64_t n = 0; n < N; n++) {
            const float *row = dbuf + (m->cfg.batch_first ? n * Sx + S : S * N + n) * E;
            for (int64_t e = 0; e < E; e++) extra->grad[e] += row[e];
        }
    return ATTN_OK;
}

/* Merge attn_mask, key_padding_mask and (when extra rows exist) causality into a bool mask
 * (SDPA convention: nonzero = attend) and an additive bias, both [Nb, Hb, Lb, Sx]. */
static int build_masks(attn_tape *t, mha_ctx *c, const attn_mha_args *a, int causal_in_mask)
{
    const int64_t H = c->m->cfg.num_heads, L = c->L, N = c->N, S = c->S, Sx = c->Sx;
    const int any_attn = a->attn_mask || a->attn_bias;
    const int any_kpm = a->key_padding_mask || a->key_padding_bias;
    c->has_mask = a->attn_mask || a->key_padding_mask || causal_in_mask;
    c->has_bias = a->attn_bias || a->key_padding_bias;
    if (!c->has_mask && !c->has_bias) return ATTN_OK;
    const int three = any_attn && a->attn_mask_3d;
    const int64_t Nb = (any_kpm || three) ? N : 1, Hb = three ? H : 1;
    const int64_t Lb = (any_attn || causal_in_mask) ? L : 1;
    const int64_t count = Nb * Hb * Lb * Sx;
    uint8_t *mask = NULL;
    float *bias = NULL;
    if (c->has_mask && !(mask = attn_tape_alloc(t, (size_t)count))) return ATTN_E_NOMEM;
    if (c->has_bias && !(bias = attn_tape_alloc(t, (size_t)count * sizeof(float)))) return ATTN_E_NOMEM;
    for (int64_t n = 0; n < Nb; n++)
        for (int64_t h = 0; h < Hb; h++)
            for (int64_t i = 0; i < Lb; i++)
                for (int64_t j = 0; j < Sx; j++) {
                    int64_t at = ((n * Hb + h) * Lb + i) * Sx + j;
                    int64_t am = three ? ((n * H + h) * L + i) * S + j : i * S + j;
                    int blocked = 0;
                    double add = 0;
                    if (j < S) {
                        if (a->attn_mask && a->attn_mask[am]) blocked = 1;
                        if (a->key_padding_mask && a->key_padding_mask[n * S + j]) blocked = 1;
                        if (causal_in_mask && j > i) blocked = 1;
                        if (a->attn_bias) add += a->attn_bias[am];
                        if (a->key_padding_bias) add += a->key_padding_bias[n * S + j];
                    }
                    if (mask) mask[at] = !blocked;
                    if (bias) bias[at] = (float)add;
                }
    if (mask) c->mask = attn_bool_tensor_4d(mask, Nb, Hb, Lb, Sx);
    if (bias) c->bias = attn_tensor_4d(bias, Nb, Hb, Lb, Sx);
    return ATTN_OK;
}

static void bind_masks(mha_ctx *c)
{
    c->opt.mask = c->has_mask ? &c->mask : NULL;
    c->opt.bias = c->has_bias ? &c->bias : NULL;
}

static int mha_backward(attn_tape *t, void *p)
{
    mha_ctx *c = p;
    if (!c->y->grad) return ATTN_OK;
    const attn_mha *m = c->m;
    attn_param *ps[9] = {m->in_proj_weight, m->q_proj_weight, m->k_proj_weight, m->v_proj_weight,
                         m->in_proj_bias, m->out_proj_weight, m->out_proj_bias, m->bias_k, m->bias_v};
    for (int i = 0; i < 9; i++) ATTN_TRY(attn_param_need_grad(ps[i]));
    const int64_t E = m->cfg.embed_dim, rows = c->L * c->N, kvrows = c->Sx * c->N;
    const int threads = attn_tape_threads(t);
    float *dob = attn_tape_calloc(t, (size_t)(rows * E) * sizeof(float));
    float *dqb = attn_tape_alloc(t, (size_t)(rows * E) * sizeof(float));
    float *dkb = attn_tape_alloc(t, (size_t)(kvrows * E) * sizeof(float));
    float *dvb = attn_tape_alloc(t, (size_t)(kvrows * E) * sizeof(float));
    if (!dob || !dqb || !dkb || !dvb) return ATTN_E_NOMEM;
    /* out = ob·Woᵀ + bo */
    ATTN_TRY(attn_dense_backward(rows, E, E, c->ob, E, m->out_proj_weight->data, c->y->grad, E, dob,
                                 E, m->out_proj_weight->grad,
                                 m->out_proj_bias ? m->out_proj_bias->grad : NULL, threads));
    attn_tensor q4 = heads_view(c, c->qb, c->L), k4 = heads_view(c, c->kb, c->Sx);
    attn_tensor v4 = heads_view(c, c->vb, c->Sx), o4 = heads_view(c, c->ob, c->L);
    attn_tensor do4 = heads_view(c, dob, c->L), dq4 = heads_view(c, dqb, c->L);
    attn_tensor dk4 = heads_view(c, dkb, c->Sx), dv4 = heads_view(c, dvb, c->Sx);
    bind_masks(c);
    ATTN_TRY(attn_sdpa_backward(&q4, &k4, &v4, &o4, c->lse, &do4, &c->opt, &dq4, &dk4, &dv4, NULL));
    /* in-projections */
    float *dquery = NULL;
    if (c->query->requires_grad && !(dquery = attn_var_grad(t, c->query))) return ATTN_E_NOMEM;
    ATTN_TRY(attn_dense_backward(rows, E, E, c->query->data, E, proj_w(m, 0, 0), dqb, E, dquery, E,
                                 proj_w(m, 0, 1), proj_b(m, 0, 1), threads));
    ATTN_TRY(project_kv_backward(t, c, 1, c->key, dkb, m->bias_k));
    ATTN_TRY(project_kv_backward(t, c, 2, c->value, dvb, m->bias_v));
    return ATTN_OK;
}

static int check_inputs(const char *fn, const attn_mha *m, const attn_var *q, const attn_var *k,
                        const attn_var *v)
{
    ATTN_TRY(attn_check_var(fn, "query", q));
    ATTN_TRY(attn_check_var(fn, "key", k));
    ATTN_TRY(attn_check_var(fn, "value", v));
    if (q->ndim != 3 || k->ndim != 3 || v->ndim != 3)
        return attn_fail(ATTN_E_SHAPE, "%s: query, key, value must be 3-d (have %d, %d, %d)", fn,
                         q->ndim, k->ndim, v->ndim);
    const int bf = m->cfg.batch_first;
    const int64_t N = q->shape[bf ? 0 : 1];
    if (q->shape[2] != m->cfg.embed_dim || k->shape[2] != m->cfg.kdim || v->shape[2] != m->cfg.vdim)
        return attn_fail(ATTN_E_SHAPE, "%s: feature sizes %lld, %lld, %lld, expected embed_dim=%lld, kdim=%lld, vdim=%lld",
                         fn, (long long)q->shape[2], (long long)k->shape[2], (long long)v->shape[2],
                         (long long)m->cfg.embed_dim, (long long)m->cfg.kdim, (long long)m->cfg.vdim);
    if (k->shape[0] != v->shape[0] || k->shape[1] != v->shape[1])
        return attn_fail(ATTN_E_SHAPE, "%s: key is [%lld, %lld, *] but value [%lld, %lld, *]", fn,
                         (long long)k->shape[0], (long long)k->shape[1], (long long)v->shape[0],
                         (long long)v->shape[1]);
    if (k->shape[bf ? 0 : 1] != N)
        return attn_fail(ATTN_E_SHAPE, "%s: batch size of key %lld, of query %lld", fn,
                         (long long)k->shape[bf ? 0 : 1], (long long)N);
    return ATTN_OK;
}

int attn_mha_forward(attn_tape *t, const attn_mha *m, attn_var *query, attn_var *key,
                     attn_var *value, const attn_mha_args *args, attn_var **out,
                     attn_var **weights)
{
    static const char fn[] = "attn_mha_forward";
    static const attn_mha_args no_args;
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, out);
    if (!args) args = &no_args;
    if (args->need_weights) ATTN_REQUIRE_NONNULL(fn, weights);
    ATTN_TRY(check_inputs(fn, m, query, key, value));
    const int bf = m->cfg.batch_first;
    const int64_t E = m->cfg.embed_dim, H = m->cfg.num_heads;
    mha_ctx *c = attn_tape_calloc(t, sizeof *c);
    if (!c) return ATTN_E_NOMEM;
    c->m = m, c->query = query, c->key = key, c->value = value;
    c->L = query->shape[bf ? 1 : 0], c->N = query->shape[bf ? 0 : 1], c->S = key->shape[bf ? 1 : 0];
    c->Sx = c->S + (m->bias_k != NULL) + (m->cfg.add_zero_attn != 0);
    const int64_t rows = c->L * c->N, kvrows = c->Sx * c->N;
    const int threads = attn_tape_threads(t);
    int64_t bytes;
    if (attn_mul_overflow(kvrows, E * (int64_t)sizeof(float), &bytes) ||
        attn_mul_overflow(c->N * H * c->L, c->Sx, &bytes))
        return attn_fail(ATTN_E_OVERFLOW, "%s: sizes overflow", fn);
    c->qb = attn_tape_alloc(t, (size_t)(rows * E) * sizeof(float));
    c->ob = attn_tape_alloc(t, (size_t)(rows * E) * sizeof(float));
    c->kb = attn_tape_alloc(t, (size_t)(kvrows * E) * sizeof(float));
    c->vb = attn_tape_alloc(t, (size_t)(kvrows * E) * sizeof(float));
    c->lse = attn_tape_alloc(t, (size_t)(c->N * H * c->L) * sizeof(float));
    if (!c->qb || !c->ob || !c->kb || !c->vb || !c->lse) return ATTN_E_NOMEM;

    ATTN_TRY(attn_dense_forward(rows, E, E, query->data, E, proj_w(m, 0, 0), proj_b(m, 0, 0), c->qb,
                                E, threads));
    ATTN_TRY(project_kv(c, 1, key, c->kb, m->bias_k, threads));
    ATTN_TRY(project_kv(c, 2, value, c->vb, m->bias_v, threads));

    const int causal_in_mask = args->is_causal && c->Sx != c->S;
    ATTN_TRY(build_masks(t, c, args, causal_in_mask));
    c->opt.causal = args->is_causal && !causal_in_mask;
    c->opt.dropout_p = attn_tape_training(t) ? m->cfg.dropout : 0.0f;
    if (c->opt.dropout_p > 0) c->opt.seed = attn_tape_seed(t), c->opt.offset = attn_tape_next_offset(t);
    /* weights asked for are torch's (after dropout); an observer alone sees the probabilities */
    c->opt.weights_before_dropout = !args->need_weights;
    c->opt.num_threads = attn_threads_for(threads, (double)c->N * H * c->L * c->Sx * m->head_dim);
    bind_masks(c);

    attn_tensor q4 = heads_view(c, c->qb, c->L), k4 = heads_view(c, c->kb, c->Sx);
    attn_tensor v4 = heads_view(c, c->vb, c->Sx), o4 = heads_view(c, c->ob, c->L);
    attn_var *w = NULL;
    attn_tensor w4;
    void *obs_ctx;
    attn_attention_observer obs = attn_tape_observer(t, &obs_ctx);
    if (args->need_weights || obs) {
        int64_t wshape[4] = {c->N, H, c->L, c->Sx};
        ATTN_TRY(attn_tape_var(t, 4, wshape, 0, &w));
        w4 = attn_tensor_4d(w->data, c->N, H, c->L, c->Sx);
    }
    ATTN_TRY(attn_sdpa_forward(&q4, &k4, &v4, &c->opt, &o4, c->lse, w ? &w4 : NULL));
    if (obs) obs(obs_ctx, m, w->data, c->N, H, c->L, c->Sx);
    if (w && !args->per_head_weights) { /* mean over heads, in place into [N, L, Sx] */
        const int64_t LS = c->L * c->Sx;
        for (int64_t n = 0; n < c->N; n++)
            for (int64_t x = 0; x < LS; x++) {
                double s = 0;
                for (int64_t h = 0; h < H; h++) s += w->data[(n * H + h) * LS + x];
                w->data[n * LS + x] = (float)(s / H); /* index ≤ the ones still to read */
            }
        w->ndim = 3;
        w->shape[1] = c->L, w->shape[2] = c->Sx, w->shape[3] = 0;
        w->numel = c->N * LS;
    }

    if (!args->need_weights) w = NULL; /* taken for the observer only */
    int64_t yshape[3] = {query->shape[0], query->shape[1], E};
    ATTN_TRY(attn_tape_var(t, 3, yshape, 1, &c->y));
    ATTN_TRY(attn_dense_forward(rows, E, E, c->ob, E, m->out_proj_weight->data,
                                m->out_proj_bias ? m->out_proj_bias->data : NULL, c->y->data, E,
                                threads));
    ATTN_TRY(attn_tape_record(t, mha_backward, c));
    *out = c->y;
    if (weights) *weights = w;
    return ATTN_OK;
}
