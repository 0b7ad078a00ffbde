/* classifier.c — a Transformer-encoder text classifier, written once as its forward on a tape:
 * embedding + learned positions, encoder layers with key-padding masks, pooling over the real
 * tokens, a linear head. */
#include "../nn/nn_internal.h"

#include <stdio.h>
#include <string.h>

void attn_classifier_free(attn_classifier *m)
{
    if (!m) return;
    attn_params_free(m->P);
    free(m->layers);
    free(m);
}

static int check_cfg(const char *fn, const attn_classifier_config *c)
{
    if (c->vocab < 2 || c->vocab > (1 << 30) || c->d_model < 1 || c->nhead < 1 ||
        c->d_model % c->nhead || c->num_layers < 1 || c->num_layers > ATTN_MAX_LAYERS ||
        c->dim_feedforward < 1 || c->max_len < 1 || c->max_len > (1 << 24) ||
        c->num_classes < 2 || c->num_classes > (1 << 20) || !(c->dropout >= 0 && c->dropout < 1) ||
        c->activation < ATTN_ACT_RELU || c->activation > ATTN_ACT_GELU_TANH ||
        (c->norm_first != 0 && c->norm_first != 1) ||
        (c->pooling != ATTN_POOL_MEAN && c->pooling != ATTN_POOL_FIRST) || c->pad_id < 0 ||
        c->pad_id >= c->vocab)
        return attn_fail(ATTN_E_ARG,
                         "%s: invalid configuration (vocab %lld, d_model %lld, nhead %lld, layers %lld, "
                         "ff %lld, max_len %lld, classes %lld, dropout %g, pad_id %d)",
                         fn, (long long)c->vocab, (long long)c->d_model, (long long)c->nhead,
                         (long long)c->num_layers, (long long)c->dim_feedforward,
                         (long long)c->max_len, (long long)c->num_classes, (double)c->dropout,
                         (int)c->pad_id);
    return ATTN_OK;
}

/* Layers and parameters (registered in m->P) of m->cfg. */
static int build(attn_classifier *m)
{
    const attn_classifier_config *c = &m->cfg;
    m->layers = calloc((size_t)c->num_layers, sizeof *m->layers);
    if (!m->layers) return attn_fail(ATTN_E_NOMEM, "attn_classifier: out of memory");
    ATTN_TRY(attn_embedding_init(&m->embed, m->P, "embed.", c->vocab, c->d_model, c->pad_id));
    ATTN_TRY(attn_embedding_init(&m->pos, m->P, "pos.", c->max_len, c->d_model, -1));
    attn_transformer_config lc = {.d_model = c->d_model,
                                  .nhead = c->nhead,
                                  .dim_feedforward = c->dim_feedforward,
                                  .dropout = c->dropout,
                                  .activation = c->activation,
                                  .layer_norm_eps = 1e-5f,
                                  .batch_first = 1,
                                  .norm_first = c->norm_first};
    char name[ATTN_PARAM_NAME_MAX];
    for (int64_t i = 0; i < c->num_layers; i++) {
        snprintf(name, sizeof name, "layers.%lld.", (long long)i);
        ATTN_TRY(attn_encoder_layer_init(&m->layers[i], m->P, name, &lc));
    }
    if (c->norm_first) ATTN_TRY(attn_layernorm_init(&m->norm, m->P, "norm.", c->d_model, 1e-5f, 1));
    ATTN_TRY(attn_linear_init(&m->head, m->P, "head.", c->d_model, c->num_classes, 1));
    for (int p = 0; p < attn_params_count(m->P); p++) {
        attn_param *q = attn_params_at(m->P, p);
        if (q->ndim == 1 || q == m->pos.weight) q->no_weight_decay = 1; /* biases, norms */
    }
    return ATTN_OK;
}

int attn_classifier_create(const attn_classifier_config *cfg, uint64_t seed, attn_classifier **out)
{
    static const char fn[] = "attn_classifier_create";
    ATTN_REQUIRE_NONNULL(fn, cfg);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    ATTN_TRY(check_cfg(fn, cfg));
    attn_classifier *m = calloc(1, sizeof *m);
    if (!m) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    m->cfg = *cfg;
    int st = attn_params_create(seed, &m->P);
    if (st == ATTN_OK) st = build(m);
    if (st != ATTN_OK) {
        attn_classifier_free(m);
        return st;
    }
    /* embeddings N(0, 0.02²) (as GPT-2) rather than torch's N(0, 1): the residual stream starts
     * at the scale of the layers' outputs */
    attn_param *emb[2] = {m->embed.weight, m->pos.weight};
    for (int k = 0; k < 2; k++)
        for (int64_t i = 0; i < emb[k]->numel; i++) emb[k]->data[i] *= 0.02f;
    *out = m;
    return ATTN_OK;
}

int attn_classifier_open(const attn_st_reader *st, attn_classifier **out)
{
    static const char fn[] = "attn_classifier_open";
    ATTN_REQUIRE_NONNULL(fn, st);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    attn_classifier_config cfg;
    ATTN_TRY(attn_classifier_config_from_reader(st, &cfg));
    ATTN_TRY(attn_checkpoint_check_layers(fn, st, cfg.num_layers));
    attn_classifier *m = calloc(1, sizeof *m);
    if (!m) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    m->cfg = cfg;
    int s = attn_params_create_deferred((int)attn_st_count(st), &m->P);
    if (s == ATTN_OK) s = build(m);
    if (s == ATTN_OK) s = attn_checkpoint_load(m->P, st); /* checks, then allocates and reads */
    if (s != ATTN_OK) {
        attn_classifier_free(m);
        return s;
    }
    *out = m;
    return ATTN_OK;
}

/* ---- pooling over the real tokens: y[n] = Σ_t w[n,t]·x[n,t] ---------------------------------- */

typedef struct pool_ctx {
    attn_var *x, *y;
    float *w; /* [N, T] weight of each position (1/count for real tokens under mean pooling) */
} pool_ctx;

static int pool_backward(attn_tape *t, void *p)
{
    pool_ctx *c = p;
    if (!c->y->grad || !c->x->requires_grad) return ATTN_OK;
    float *dx = attn_var_grad(t, c->x);
    if (!dx) return ATTN_E_NOMEM;
    int64_t N = c->x->shape[0], T = c->x->shape[1], E = c->x->shape[2];
#pragma omp parallel for if(ATTN_WORTH_THREADS(N * T * E)) num_threads(attn_tape_threads(t)) schedule(static)
    for (int64_t r = 0; r < N * T; r++) {
        float w = c->w[r];
        if (w == 0) continue;
        const float *dy = c->y->grad + (r / T) * E;
        float *d = dx + r * E;
        for (int64_t e = 0; e < E; e++) d[e] += w * dy[e];
    }
    return ATTN_OK;
}

static int pool_forward(attn_tape *t, attn_var *x, const float *w, attn_var **out)
{
    int64_t N = x->shape[0], T = x->shape[1], E = x->shape[2], shape[2] = {N, E};
    attn_var *y;
    ATTN_TRY(attn_tape_var(t, 2, shape, x->requires_grad, &y));
    pool_ctx *c = attn_tape_calloc(t, sizeof *c);
    float *wc = attn_tape_copy(t, w, (size_t)(N * T) * sizeof *wc);
    if (!c || !wc) return ATTN_E_NOMEM;
    c->x = x, c->y = y, c->w = wc;
    for (int64_t n = 0; n < N; n++) {
        float *o = y->data + n * E;
        memset(o, 0, (size_t)E * sizeof *o);
        for (int64_t s = 0; s < T; s++) {
            float ws = wc[n * T + s];
            if (ws == 0) continue;
            const float *xs = x->data + (n * T + s) * E;
            for (int64_t e = 0; e < E; e++) o[e] += ws * xs[e];
        }
    }
    ATTN_TRY(attn_tape_record(t, pool_backward, c));
    *out = y;
    return ATTN_OK;
}

int attn_classifier_forward(attn_tape *t, const attn_classifier *m, const int32_t *ids, int64_t N,
                            int64_t T, attn_var **logits, attn_var **pooled)
{
    static const char fn[] = "attn_classifier_forward";
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, ids);
    ATTN_REQUIRE_NONNULL(fn, logits);
    const attn_classifier_config *c = &m->cfg;
    if (N < 1 || T < 1 || T > c->max_len || N > INT64_MAX / T)
        return attn_fail(ATTN_E_ARG, "%s: N=%lld, T=%lld (max_len %lld)", fn, (long long)N,
                         (long long)T, (long long)c->max_len);
    for (int64_t i = 0; i < N * T; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab)
            return attn_fail(ATTN_E_ARG, "%s: token id %d at %lld outside [0, %lld)", fn, ids[i],
                             (long long)i, (long long)c->vocab);
    int32_t *pos = malloc((size_t)(N * T) * sizeof *pos);
    uint8_t *kpm = malloc((size_t)(N * T));
    float *w = malloc((size_t)(N * T) * sizeof *w);
    int st = pos && kpm && w ? ATTN_OK : attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    for (int64_t n = 0; st == ATTN_OK && n < N; n++) {
        int64_t real = 0;
        for (int64_t s = 0; s < T; s++) {
            pos[n * T + s] = (int32_t)s;
            kpm[n * T + s] = ids[n * T + s] == c->pad_id;
            real += !kpm[n * T + s];
        }
        for (int64_t s = 0; s < T; s++) {
            float v = 0;
            if (c->pooling == ATTN_POOL_MEAN) v = kpm[n * T + s] ? 0.0f : 1.0f / (float)real;
            else v = s == 0 && !kpm[n * T] ? 1.0f : 0.0f;
            w[n * T + s] = v;
        }
    }
    int64_t shape[2] = {N, T};
    attn_var *x = NULL, *p = NULL, *h = NULL;
    if (st == ATTN_OK) st = attn_embedding_forward(t, &m->embed, ids, 2, shape, &x);
    if (st == ATTN_OK) st = attn_embedding_forward(t, &m->pos, pos, 2, shape, &p);
    if (st == ATTN_OK) st = attn_op_add(t, x, p, &x);
    if (st == ATTN_OK) st = attn_op_dropout(t, x, c->dropout, &x);
    attn_mha_args mask = {.key_padding_mask = kpm};
    for (int64_t i = 0; st == ATTN_OK && i < c->num_layers; i++)
        st = attn_encoder_layer_forward(t, &m->layers[i], x, &mask, &x);
    if (st == ATTN_OK && c->norm_first) st = attn_layernorm_forward(t, &m->norm, x, &x);
    if (st == ATTN_OK) st = pool_forward(t, x, w, &h);
    if (st == ATTN_OK && pooled) *pooled = h;
    if (st == ATTN_OK) st = attn_op_dropout(t, h, c->dropout, &h);
    if (st == ATTN_OK) st = attn_linear_forward(t, &m->head, h, logits);
    free(pos), free(kpm), free(w);
    return st;
}

int64_t attn_truncate_head_tail(const int32_t *ids, int64_t n, int64_t max_len, int64_t head,
                                int32_t *out)
{
    if (!ids || !out || n < 0 || max_len < 0) return 0;
    if (n <= max_len) {
        memmove(out, ids, (size_t)n * sizeof *out);
        return n;
    }
    if (head > max_len) head = max_len;
    if (head < 0) head = 0;
    int64_t tail = max_len - head;
    memmove(out, ids, (size_t)head * sizeof *out);
    memmove(out + head, ids + n - tail, (size_t)tail * sizeof *out);
    return max_len;
}

/* ---- configuration as checkpoint metadata ---------------------------------------------------- */

static const attn_meta_field CONFIG_META[] = {
    ATTN_META_FIELD(attn_classifier_config, vocab, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_classifier_config, d_model, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_classifier_config, nhead, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_classifier_config, num_layers, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_classifier_config, dim_feedforward, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_classifier_config, max_len, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_classifier_config, num_classes, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_classifier_config, dropout, ATTN_META_F32, 0, 1),
    ATTN_META_FIELD(attn_classifier_config, activation, ATTN_META_INT, 0, 2),
    ATTN_META_FIELD(attn_classifier_config, norm_first, ATTN_META_INT, 0, 1),
    ATTN_META_FIELD(attn_classifier_config, pooling, ATTN_META_INT, 0, 1),
    ATTN_META_FIELD(attn_classifier_config, pad_id, ATTN_META_I32, 0, 1e9),
};
enum { CONFIG_META_N = (int)(sizeof CONFIG_META / sizeof CONFIG_META[0]) };

int attn_classifier_config_to_meta(const attn_classifier_config *c, char *buf, size_t cap, const char **kv, int kv_cap)
{
    return attn_meta_write("attn_classifier_config_to_meta", c, CONFIG_META, CONFIG_META_N, buf, cap, kv, kv_cap);
}

int attn_classifier_config_from_reader(const attn_st_reader *st, attn_classifier_config *c)
{
    ATTN_REQUIRE_NONNULL("attn_classifier_config_from_reader", st);
    ATTN_REQUIRE_NONNULL("attn_classifier_config_from_reader", c);
    ATTN_TRY(attn_meta_read(st, c, sizeof *c, CONFIG_META, CONFIG_META_N));
    return check_cfg("checkpoint", c);
}
