/* rnn_ops.c — additive attention, the GRU and RoPE as layers/ops of the tape (nn section):
 * the forward records a node whose backward calls the layer's own backward, with the caches
 * placed in the tape's arena. */
#include "nn_internal.h"

/* [d0, d1, d2] view of a contiguous 3-d variable's data (or its gradient buffer). */
static attn_tensor view3(const attn_var *v, float *data)
{
    return attn_tensor_make(data, 3, v->shape);
}

/* Add n floats of src into the gradient of v (when it wants one). */
static int add_grad(attn_tape *t, attn_var *v, const float *src)
{
    if (!v || !v->requires_grad) return ATTN_OK;
    float *g = attn_var_grad(t, v);
    if (!g) return ATTN_E_NOMEM;
    for (int64_t i = 0; i < v->numel; i++) g[i] += src[i];
    return ATTN_OK;
}

static int need3(const char *fn, const char *name, const attn_var *v)
{
    ATTN_TRY(attn_check_var(fn, name, v));
    if (v->ndim != 3) return attn_fail(ATTN_E_SHAPE, "%s: %s must be 3-d, is %d-d", fn, name, v->ndim);
    return ATTN_OK;
}

/* ---------------------------------------------------------------- additive attention */

int attn_additive_layer_init(attn_additive_layer *l, attn_params *P, const char *prefix,
                             int64_t Dq, int64_t Dk, int64_t A, int bias)
{
    static const char fn[] = "attn_additive_layer_init";
    ATTN_REQUIRE_NONNULL(fn, l);
    if (Dq < 1 || Dk < 1 || A < 1)
        return attn_fail(ATTN_E_ARG, "%s: Dq=%lld, Dk=%lld, A=%lld must be >= 1", fn, (long long)Dq,
                         (long long)Dk, (long long)A);
    memset(l, 0, sizeof *l);
    l->A = A;
    int64_t sq[2] = {A, Dq}, sk[2] = {A, Dk};
    ATTN_TRY(attn_params_add(P, prefix, "w_q", 2, sq, ATTN_INIT_UNIFORM, 1.0f / sqrtf((float)Dq), &l->w_q));
    ATTN_TRY(attn_params_add(P, prefix, "w_k", 2, sk, ATTN_INIT_UNIFORM, 1.0f / sqrtf((float)Dk), &l->w_k));
    if (bias) ATTN_TRY(attn_params_add(P, prefix, "b", 1, &A, ATTN_INIT_ZEROS, 0, &l->b));
    ATTN_TRY(attn_params_add(P, prefix, "v", 1, &A, ATTN_INIT_UNIFORM, 1.0f / sqrtf((float)A), &l->v));
    return ATTN_OK;
}

typedef struct additive_ctx {
    const attn_additive_layer *l;
    attn_var *q, *k, *values, *y;
    attn_additive_options opt;
    attn_bool_tensor mask;
    attn_additive_cache *cache;
} additive_ctx;

static attn_additive_params layer_params(const attn_additive_layer *l, int grads)
{
    attn_additive_params p = {l->A, NULL, NULL, NULL, NULL};
    if (grads) {
        p.w_q = l->w_q->grad, p.w_k = l->w_k->grad, p.v = l->v->grad;
        p.b = l->b ? l->b->grad : NULL;
    } else {
        p.w_q = l->w_q->data, p.w_k = l->w_k->data, p.v = l->v->data;
        p.b = l->b ? l->b->data : NULL;
    }
    return p;
}

static int additive_backward(attn_tape *t, void *ctx)
{
    additive_ctx *c = ctx;
    if (!c->y->grad) return ATTN_OK;
    attn_param *ps[4] = {c->l->w_q, c->l->w_k, c->l->b, c->l->v};
    for (int i = 0; i < 4; i++) ATTN_TRY(attn_param_need_grad(ps[i]));
    attn_var *in[3] = {c->q, c->k, c->values};
    float *g[3];
    attn_tensor tv[3], tg[3];
    for (int i = 0; i < 3; i++) {
        g[i] = in[i]->requires_grad ? attn_tape_alloc(t, (size_t)in[i]->numel * sizeof(float)) : NULL;
        if (in[i]->requires_grad && !g[i]) return ATTN_E_NOMEM;
        tv[i] = view3(in[i], in[i]->data);
        tg[i] = view3(in[i], g[i]);
    }
    attn_additive_params p = layer_params(c->l, 0), gp = layer_params(c->l, 1);
    attn_tensor dy = view3(c->y, c->y->grad);
    c->opt.mask = c->mask.data ? &c->mask : NULL;
    ATTN_TRY(attn_additive_backward(&tv[0], &tv[1], &tv[2], &p, &c->opt, c->cache, &dy,
                                    g[0] ? &tg[0] : NULL, g[1] ? &tg[1] : NULL,
                                    g[2] ? &tg[2] : NULL, &gp));
    for (int i = 0; i < 3; i++)
        if (g[i]) ATTN_TRY(add_grad(t, in[i], g[i]));
    return ATTN_OK;
}

int attn_additive_layer_forward(attn_tape *t, const attn_additive_layer *l, attn_var *q,
                                attn_var *k, attn_var *values, const attn_additive_options *opt,
                                attn_var **out, attn_var **weights)
{
    static const char fn[] = "attn_additive_layer_forward";
    static const attn_additive_options defaults;
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, l);
    ATTN_REQUIRE_NONNULL(fn, out);
    ATTN_TRY(need3(fn, "q", q));
    ATTN_TRY(need3(fn, "k", k));
    ATTN_TRY(need3(fn, "values", values));
    if (!opt) opt = &defaults;
    const int64_t B = q->shape[0], Lq = q->shape[1], Lk = k->shape[1];
    additive_ctx *c = attn_tape_calloc(t, sizeof *c);
    if (!c) return ATTN_E_NOMEM;
    c->l = l, c->q = q, c->k = k, c->values = values, c->opt = *opt;
    if (opt->mask) {
        c->mask = *opt->mask;
        ATTN_TRY(attn_check_bool_view(fn, "mask", &c->mask, 3));
        size_t span = 1;
        for (int d = 0; d < 3; d++) span += (size_t)((c->mask.shape[d] - 1) * c->mask.stride[d]);
        if (!(c->mask.data = attn_tape_copy(t, opt->mask->data, span))) return ATTN_E_NOMEM;
    }
    if (opt->key_lengths &&
        !(c->opt.key_lengths = attn_tape_copy(t, opt->key_lengths, (size_t)B * sizeof(int32_t))))
        return ATTN_E_NOMEM;
    if (!c->opt.num_threads) c->opt.num_threads = attn_tape_threads(t);
    c->opt.mask = c->mask.data ? &c->mask : NULL;
    size_t bytes = 0;
    ATTN_TRY(attn_additive_cache_bytes(B, Lq, Lk, l->A, &bytes));
    void *mem = attn_tape_alloc(t, bytes);
    if (!mem) return ATTN_E_NOMEM;
    ATTN_TRY(attn_additive_cache_init(mem, bytes, B, Lq, Lk, l->A, &c->cache));
    int64_t oshape[3] = {B, Lq, values->shape[2]}, wshape[3] = {B, Lq, Lk};
    ATTN_TRY(attn_tape_var(t, 3, oshape, 1, &c->y)); /* the parameters always want a gradient */
    attn_var *w = NULL;
    if (weights) ATTN_TRY(attn_tape_var(t, 3, wshape, 0, &w));
    attn_tensor tq = view3(q, q->data), tk = view3(k, k->data), tv = view3(values, values->data);
    attn_tensor ty = view3(c->y, c->y->data), tw = w ? view3(w, w->data) : ty;
    attn_additive_params p = layer_params(l, 0);
    ATTN_TRY(attn_additive_forward(&tq, &tk, &tv, &p, &c->opt, &ty, w ? &tw : NULL, c->cache));
    ATTN_TRY(attn_tape_record(t, additive_backward, c));
    *out = c->y;
    if (weights) *weights = w;
    return ATTN_OK;
}

/* ---------------------------------------------------------------- GRU */

int attn_gru_layer_init(attn_gru_layer *g, attn_params *P, const char *prefix,
                        const attn_gru_config *cfg)
{
    static const char fn[] = "attn_gru_layer_init";
    ATTN_REQUIRE_NONNULL(fn, g);
    int n;
    ATTN_TRY(attn_gru_num_params(cfg, &n, NULL));
    if (n > ATTN_GRU_LAYER_MAX_TENSORS)
        return attn_fail(ATTN_E_UNSUPPORTED, "%s: %d tensors, at most %d on the tape", fn, n,
                         ATTN_GRU_LAYER_MAX_TENSORS);
    memset(g, 0, sizeof *g);
    g->cfg = *cfg, g->num_tensors = n;
    const float bound = 1.0f / sqrtf((float)cfg->hidden_size); /* torch: U(±1/√H) for all */
    for (int i = 0; i < n; i++) {
        attn_gru_tensor_info info;
        ATTN_TRY(attn_gru_param_info(cfg, i, &info));
        ATTN_TRY(attn_params_add(P, prefix, info.name, info.ndim, info.shape, ATTN_INIT_UNIFORM,
                                 bound, &g->tensors[i]));
    }
    return ATTN_OK;
}

typedef struct gru_ctx {
    const attn_gru_layer *g;
    attn_var *x, *h0, *y, *hn;
    attn_gru_cache *cache;
} gru_ctx;

static int gru_backward(attn_tape *t, void *ctx)
{
    gru_ctx *c = ctx;
    if (!c->y->grad && !(c->hn && c->hn->grad)) return ATTN_OK;
    for (int i = 0; i < c->g->num_tensors; i++) ATTN_TRY(attn_param_need_grad(c->g->tensors[i]));
    const float *ptab[ATTN_GRU_LAYER_MAX_TENSORS];
    float *gtab[ATTN_GRU_LAYER_MAX_TENSORS];
    for (int i = 0; i < c->g->num_tensors; i++)
        ptab[i] = c->g->tensors[i]->data, gtab[i] = c->g->tensors[i]->grad;
    float *dx = c->x->requires_grad ? attn_tape_alloc(t, (size_t)c->x->numel * sizeof(float)) : NULL;
    float *dh0 = c->h0 && c->h0->requires_grad
                     ? attn_tape_alloc(t, (size_t)c->h0->numel * sizeof(float)) : NULL;
    if ((c->x->requires_grad && !dx) || (c->h0 && c->h0->requires_grad && !dh0)) return ATTN_E_NOMEM;
    attn_tensor tdy = view3(c->y, c->y->grad), tdx = view3(c->x, dx);
    attn_tensor tdhn = c->hn ? view3(c->hn, c->hn->grad) : tdy, tdh0 = c->h0 ? view3(c->h0, dh0) : tdx;
    ATTN_TRY(attn_gru_backward(&c->g->cfg, ptab, c->cache, c->y->grad ? &tdy : NULL,
                               c->hn && c->hn->grad ? &tdhn : NULL, dx ? &tdx : NULL,
                               dh0 ? &tdh0 : NULL, gtab));
    if (dx) ATTN_TRY(add_grad(t, c->x, dx));
    if (dh0) ATTN_TRY(add_grad(t, c->h0, dh0));
    return ATTN_OK;
}

int attn_gru_layer_forward(attn_tape *t, const attn_gru_layer *g, attn_var *x, attn_var *h0,
                           const int32_t *lengths, attn_var **y, attn_var **h_n)
{
    static const char fn[] = "attn_gru_layer_forward";
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, g);
    ATTN_REQUIRE_NONNULL(fn, y);
    ATTN_TRY(need3(fn, "x", x));
    if (h0) ATTN_TRY(need3(fn, "h0", h0));
    const attn_gru_config *cfg = &g->cfg;
    const int64_t L = cfg->batch_first ? x->shape[1] : x->shape[0];
    const int64_t B = cfg->batch_first ? x->shape[0] : x->shape[1];
    const int64_t D = cfg->bidirectional ? 2 : 1, H = cfg->hidden_size;
    gru_ctx *c = attn_tape_calloc(t, sizeof *c);
    if (!c) return ATTN_E_NOMEM;
    c->g = g, c->x = x, c->h0 = h0;
    const int32_t *lens = NULL;
    if (lengths && !(lens = attn_tape_copy(t, lengths, (size_t)B * sizeof(int32_t))))
        return ATTN_E_NOMEM;
    size_t bytes = 0;
    ATTN_TRY(attn_gru_cache_bytes(cfg, L, B, &bytes));
    void *mem = attn_tape_alloc(t, bytes);
    if (!mem) return ATTN_E_NOMEM;
    ATTN_TRY(attn_gru_cache_init(mem, bytes, cfg, L, B, &c->cache));
    int64_t ys[3] = {cfg->batch_first ? B : L, cfg->batch_first ? L : B, D * H};
    int64_t hs[3] = {cfg->num_layers * D, B, H};
    ATTN_TRY(attn_tape_var(t, 3, ys, 1, &c->y));
    if (h_n) ATTN_TRY(attn_tape_var(t, 3, hs, 1, &c->hn));
    const float *ptab[ATTN_GRU_LAYER_MAX_TENSORS];
    for (int i = 0; i < g->num_tensors; i++) ptab[i] = g->tensors[i]->data;
    attn_tensor tx = view3(x, x->data), ty = view3(c->y, c->y->data);
    attn_tensor th0 = h0 ? view3(h0, h0->data) : tx, thn = c->hn ? view3(c->hn, c->hn->data) : ty;
    attn_gru_config run = *cfg;
    if (!run.num_threads) run.num_threads = attn_tape_threads(t);
    ATTN_TRY(attn_gru_forward(&run, ptab, &tx, h0 ? &th0 : NULL, lens, &ty, c->hn ? &thn : NULL,
                              c->cache));
    ATTN_TRY(attn_tape_record(t, gru_backward, c));
    *y = c->y;
    if (h_n) *h_n = c->hn;
    return ATTN_OK;
}

/* ---------------------------------------------------------------- RoPE */

typedef struct rope_ctx {
    attn_var *x, *y;
    attn_rope_options opt;
} rope_ctx;

static int rope_backward(attn_tape *t, void *ctx)
{
    rope_ctx *c = ctx;
    if (!c->y->grad || !c->x->requires_grad) return ATTN_OK;
    float *dx = attn_tape_alloc(t, (size_t)c->x->numel * sizeof(float));
    if (!dx) return ATTN_E_NOMEM;
    const int64_t *s = c->x->shape;
    attn_tensor dy = attn_tensor_4d(c->y->grad, s[0], s[1], s[2], s[3]);
    attn_tensor tdx = attn_tensor_4d(dx, s[0], s[1], s[2], s[3]);
    ATTN_TRY(attn_rope_backward(&dy, &c->opt, &tdx));
    return add_grad(t, c->x, dx);
}

int attn_op_rope(attn_tape *t, attn_var *x, const attn_rope_options *opt, attn_var **out)
{
    static const char fn[] = "attn_op_rope";
    static const attn_rope_options defaults;
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, out);
    ATTN_TRY(attn_check_var(fn, "x", x));
    if (x->ndim != 4) return attn_fail(ATTN_E_SHAPE, "%s: x must be 4-d [B, H, L, E]", fn);
    if (!opt) opt = &defaults;
    rope_ctx *c = attn_tape_calloc(t, sizeof *c);
    if (!c) return ATTN_E_NOMEM;
    c->x = x, c->opt = *opt;
    if (opt->batch_offsets &&
        !(c->opt.batch_offsets = attn_tape_copy(t, opt->batch_offsets, (size_t)x->shape[0] * sizeof(int32_t))))
        return ATTN_E_NOMEM;
    if (!c->opt.num_threads) c->opt.num_threads = attn_tape_threads(t);
    ATTN_TRY(attn_tape_var(t, 4, x->shape, x->requires_grad, &c->y));
    const int64_t *s = x->shape;
    attn_tensor tx = attn_tensor_4d(x->data, s[0], s[1], s[2], s[3]);
    attn_tensor ty = attn_tensor_4d(c->y->data, s[0], s[1], s[2], s[3]);
    ATTN_TRY(attn_rope_forward(&tx, &c->opt, &ty));
    ATTN_TRY(attn_tape_record(t, rope_backward, c));
    *out = c->y;
    return ATTN_OK;
}

/* ---------------------------------------------------------------- Bahdanau decoder */

int attn_bahdanau_layer_init(attn_bahdanau_layer *l, attn_params *P, const char *prefix,
                             const attn_bahdanau_config *cfg)
{
    static const char fn[] = "attn_bahdanau_layer_init";
    ATTN_REQUIRE_NONNULL(fn, l);
    ATTN_REQUIRE_NONNULL(fn, cfg);
    const int64_t H = cfg->hidden_size, De = cfg->enc_size, Dm = cfg->emb_size;
    const int64_t A = cfg->attn_size, Do = cfg->out_size;
    if (H < 1 || De < 1 || Dm < 1 || A < 1 || Do < 1)
        return attn_fail(ATTN_E_ARG, "%s: every size of cfg must be >= 1", fn);
    memset(l, 0, sizeof *l);
    l->cfg = *cfg;
    const int64_t F = H + De + Dm;
    int64_t s_wq[2] = {A, H}, s_wk[2] = {A, De}, s_ih[2] = {3 * H, Dm + De}, s_hh[2] = {3 * H, H};
    int64_t s_out[2] = {Do, F}, s3h = 3 * H;
    const float bh = 1.0f / sqrtf((float)H), bf = 1.0f / sqrtf((float)F);
    ATTN_TRY(attn_params_add(P, prefix, "attention.w_q", 2, s_wq, ATTN_INIT_UNIFORM, bh, &l->attn_w_q));
    ATTN_TRY(attn_params_add(P, prefix, "attention.w_k", 2, s_wk, ATTN_INIT_UNIFORM,
                             1.0f / sqrtf((float)De), &l->attn_w_k));
    ATTN_TRY(attn_params_add(P, prefix, "attention.b", 1, &A, ATTN_INIT_ZEROS, 0, &l->attn_b));
    ATTN_TRY(attn_params_add(P, prefix, "attention.v", 1, &A, ATTN_INIT_UNIFORM,
                             1.0f / sqrtf((float)A), &l->attn_v));
    ATTN_TRY(attn_params_add(P, prefix, "gru.weight_ih", 2, s_ih, ATTN_INIT_UNIFORM, bh, &l->weight_ih));
    ATTN_TRY(attn_params_add(P, prefix, "gru.weight_hh", 2, s_hh, ATTN_INIT_UNIFORM, bh, &l->weight_hh));
    ATTN_TRY(attn_params_add(P, prefix, "gru.bias_ih", 1, &s3h, ATTN_INIT_UNIFORM, bh, &l->bias_ih));
    ATTN_TRY(attn_params_add(P, prefix, "gru.bias_hh", 1, &s3h, ATTN_INIT_UNIFORM, bh, &l->bias_hh));
    ATTN_TRY(attn_params_add(P, prefix, "out.weight", 2, s_out, ATTN_INIT_UNIFORM, bf, &l->w_out));
    ATTN_TRY(attn_params_add(P, prefix, "out.bias", 1, &Do, ATTN_INIT_UNIFORM, bf, &l->b_out));
    return ATTN_OK;
}

static attn_bahdanau_params bahdanau_params(const attn_bahdanau_layer *l, int grads)
{
    attn_param *ps[10] = {l->attn_w_q, l->attn_w_k, l->attn_b, l->attn_v, l->weight_ih,
                          l->weight_hh, l->bias_ih, l->bias_hh, l->w_out, l->b_out};
    float *f[10];
    for (int i = 0; i < 10; i++) f[i] = ps[i] ? (grads ? ps[i]->grad : ps[i]->data) : NULL;
    attn_bahdanau_params p = {f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9]};
    return p;
}

typedef struct bahdanau_ctx {
    const attn_bahdanau_layer *l;
    attn_var *enc, *s0, *emb, *y, *s_last;
    attn_additive_options opt;
    attn_bool_tensor mask;
    attn_bahdanau_decoder_cache *cache;
} bahdanau_ctx;

static int bahdanau_backward(attn_tape *t, void *ctx)
{
    bahdanau_ctx *c = ctx;
    const int have_ds = c->s_last && c->s_last->grad;
    if (!c->y->grad && !have_ds) return ATTN_OK;
    const attn_bahdanau_layer *l = c->l;
    attn_param *ps[10] = {l->attn_w_q, l->attn_w_k, l->attn_b, l->attn_v, l->weight_ih,
                          l->weight_hh, l->bias_ih, l->bias_hh, l->w_out, l->b_out};
    for (int i = 0; i < 10; i++) ATTN_TRY(attn_param_need_grad(ps[i]));
    float *g[3];
    attn_var *in[3] = {c->enc, c->s0, c->emb};
    for (int i = 0; i < 3; i++) {
        g[i] = in[i]->requires_grad ? attn_tape_alloc(t, (size_t)in[i]->numel * sizeof(float)) : NULL;
        if (in[i]->requires_grad && !g[i]) return ATTN_E_NOMEM;
    }
    attn_tensor te = view3(c->enc, c->enc->data), tm = view3(c->emb, c->emb->data);
    attn_tensor tdy = view3(c->y, c->y->grad), tde = view3(c->enc, g[0]), tdm = view3(c->emb, g[2]);
    attn_bahdanau_params p = bahdanau_params(c->l, 0), gp = bahdanau_params(c->l, 1);
    c->opt.mask = c->mask.data ? &c->mask : NULL;
    ATTN_TRY(attn_bahdanau_decoder_backward(&c->l->cfg, &p, &c->opt, &te, c->s0->data, &tm,
                                            c->cache, c->y->grad ? &tdy : NULL,
                                            have_ds ? c->s_last->grad : NULL, g[0] ? &tde : NULL,
                                            g[1], g[2] ? &tdm : NULL, &gp));
    for (int i = 0; i < 3; i++)
        if (g[i]) ATTN_TRY(add_grad(t, in[i], g[i]));
    return ATTN_OK;
}

int attn_bahdanau_layer_forward(attn_tape *t, const attn_bahdanau_layer *l, attn_var *enc,
                                attn_var *s0, attn_var *emb, const attn_additive_options *opt,
                                attn_var **out, attn_var **weights, attn_var **s_last)
{
    static const char fn[] = "attn_bahdanau_layer_forward";
    static const attn_additive_options defaults;
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, l);
    ATTN_REQUIRE_NONNULL(fn, out);
    ATTN_TRY(need3(fn, "enc", enc));
    ATTN_TRY(need3(fn, "emb", emb));
    ATTN_TRY(attn_check_var(fn, "s0", s0));
    const attn_bahdanau_config *cfg = &l->cfg;
    const int64_t B = enc->shape[0], Lk = enc->shape[1], T = emb->shape[1], H = cfg->hidden_size;
    if (s0->ndim != 2 || s0->shape[0] != B || s0->shape[1] != H)
        return attn_fail(ATTN_E_SHAPE, "%s: s0 must be [B=%lld, H=%lld]", fn, (long long)B, (long long)H);
    if (!opt) opt = &defaults;
    bahdanau_ctx *c = attn_tape_calloc(t, sizeof *c);
    if (!c) return ATTN_E_NOMEM;
    c->l = l, c->enc = enc, c->s0 = s0, c->emb = emb, c->opt = *opt;
    if (opt->mask) {
        c->mask = *opt->mask;
        ATTN_TRY(attn_check_bool_view(fn, "mask", &c->mask, 3));
        size_t span = 1;
        for (int d = 0; d < 3; d++) span += (size_t)((c->mask.shape[d] - 1) * c->mask.stride[d]);
        if (!(c->mask.data = attn_tape_copy(t, opt->mask->data, span))) return ATTN_E_NOMEM;
    }
    if (opt->key_lengths &&
        !(c->opt.key_lengths = attn_tape_copy(t, opt->key_lengths, (size_t)B * sizeof(int32_t))))
        return ATTN_E_NOMEM;
    c->opt.mask = c->mask.data ? &c->mask : NULL;
    size_t bytes = 0;
    ATTN_TRY(attn_bahdanau_decoder_cache_bytes(cfg, B, T, Lk, &bytes));
    void *mem = attn_tape_alloc(t, bytes);
    if (!mem) return ATTN_E_NOMEM;
    ATTN_TRY(attn_bahdanau_decoder_cache_init(mem, bytes, cfg, B, T, Lk, &c->cache));
    int64_t os[3] = {B, T, cfg->out_size}, ws[3] = {B, T, Lk}, ss[2] = {B, H};
    ATTN_TRY(attn_tape_var(t, 3, os, 1, &c->y));
    attn_var *w = NULL;
    if (weights) ATTN_TRY(attn_tape_var(t, 3, ws, 0, &w));
    if (s_last) ATTN_TRY(attn_tape_var(t, 2, ss, 1, &c->s_last));
    attn_tensor te = view3(enc, enc->data), tm = view3(emb, emb->data), ty = view3(c->y, c->y->data);
    attn_tensor tw = w ? view3(w, w->data) : ty;
    attn_bahdanau_config run = *cfg;
    if (!run.num_threads) run.num_threads = attn_tape_threads(t);
    attn_bahdanau_params p = bahdanau_params(l, 0);
    ATTN_TRY(attn_bahdanau_decoder_forward(&run, &p, &c->opt, &te, s0->data, &tm, &ty,
                                           w ? &tw : NULL, c->s_last ? c->s_last->data : NULL,
                                           c->cache));
    ATTN_TRY(attn_tape_record(t, bahdanau_backward, c));
    *out = c->y;
    if (weights) *weights = w;
    if (s_last) *s_last = c->s_last;
    return ATTN_OK;
}
