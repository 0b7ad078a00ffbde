/* gpt.c — a decoder-only causal language model, written once as its forward on a tape. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

void attn_gpt_free(attn_gpt *m)
{
    if (!m) return;
    attn_params_free(m->P);
    free(m->h);
    free(m);
}

static int check_cfg(const char *fn, const attn_gpt_config *c)
{
    if (c->vocab < 2 || c->context < 1 || c->n_layer < 1 || c->n_layer > ATTN_MAX_LAYERS ||
        c->n_head < 1 || c->d_model < 1 || c->d_model % c->n_head || c->d_model > INT64_MAX / 4 ||
        !(c->dropout >= 0 && c->dropout < 1))
        return attn_fail(ATTN_E_ARG, "%s: invalid configuration (vocab %lld, context %lld, layers %lld, heads %lld, d_model %lld, dropout %g)",
                         fn, (long long)c->vocab, (long long)c->context, (long long)c->n_layer,
                         (long long)c->n_head, (long long)c->d_model, (double)c->dropout);
    if (!(c->layer_norm_eps >= 0 && c->layer_norm_eps < 1) || (c->gelu_tanh != 0 && c->gelu_tanh != 1) ||
        c->d_ff < 0)
        return attn_fail(ATTN_E_ARG, "%s: invalid configuration (layer_norm_eps %g, gelu_tanh %d, d_ff %lld)",
                         fn, (double)c->layer_norm_eps, c->gelu_tanh, (long long)c->d_ff);
    return ATTN_OK;
}

/* m->cfg with the defaults filled in: layer norm epsilon 1e-5, feed-forward 4·d_model. */
static void resolve(attn_gpt *m)
{
    if (m->cfg.layer_norm_eps == 0) m->cfg.layer_norm_eps = 1e-5f;
    if (m->cfg.d_ff == 0) m->cfg.d_ff = 4 * m->cfg.d_model;
}

/* Layers and parameters (registered in m->P) of m->cfg; the head tied to wte. */
static int build(attn_gpt *m)
{
    resolve(m);
    const attn_gpt_config *c = &m->cfg;
    m->h = calloc((size_t)c->n_layer, sizeof *m->h);
    if (!m->h) return attn_fail(ATTN_E_NOMEM, "attn_gpt: out of memory");
    ATTN_TRY(attn_embedding_init(&m->wte, m->P, "wte.", c->vocab, c->d_model, -1));
    ATTN_TRY(attn_embedding_init(&m->wpe, m->P, "wpe.", c->context, c->d_model, -1));
    attn_transformer_config lc = {.d_model = c->d_model,
                                  .nhead = c->n_head,
                                  .dim_feedforward = c->d_ff,
                                  .dropout = c->dropout,
                                  .activation = c->gelu_tanh ? ATTN_ACT_GELU_TANH : ATTN_ACT_GELU,
                                  .layer_norm_eps = c->layer_norm_eps,
                                  .batch_first = 1,
                                  .norm_first = 1};
    char name[ATTN_PARAM_NAME_MAX];
    for (int64_t i = 0; i < c->n_layer; i++) {
        snprintf(name, sizeof name, "h.%lld.", (long long)i);
        ATTN_TRY(attn_encoder_layer_init(&m->h[i], m->P, name, &lc));
    }
    ATTN_TRY(attn_layernorm_init(&m->ln_f, m->P, "ln_f.", c->d_model, c->layer_norm_eps, 1));
    /* the output projection shares the token embedding (weight tying) */
    m->head.in_features = c->d_model;
    m->head.out_features = c->vocab;
    m->head.weight = m->wte.weight;
    m->head.bias = NULL;
    /* weight decay on the matrices only (GPT-2/nanoGPT: none on biases and layer norms) */
    for (int i = 0; i < attn_params_count(m->P); i++) {
        attn_param *q = attn_params_at(m->P, i);
        if (q->ndim < 2) q->no_weight_decay = 1;
    }
    return ATTN_OK;
}

int attn_gpt_create(const attn_gpt_config *cfg, uint64_t seed, attn_gpt **out)
{
    static const char fn[] = "attn_gpt_create";
    ATTN_REQUIRE_NONNULL(fn, cfg);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    ATTN_TRY(check_cfg(fn, cfg));
    attn_gpt *m = calloc(1, sizeof *m);
    if (!m) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    m->cfg = *cfg;
    int st = attn_params_create(seed, &m->P);
    if (st == ATTN_OK) st = build(m);
    if (st != ATTN_OK) {
        attn_gpt_free(m);
        return st;
    }
    /* GPT-2's initialisation of the embeddings, N(0, 0.02²): with the output projection tied
     * to wte, torch's N(0, 1) would start from logits of size √d */
    attn_param *emb[2] = {m->wte.weight, m->wpe.weight};
    for (int k = 0; k < 2; k++)
        for (int64_t i = 0; i < emb[k]->numel; i++) emb[k]->data[i] *= 0.02f;
    *out = m;
    return ATTN_OK;
}

int attn_gpt_open(const attn_st_reader *st, attn_gpt **out)
{
    static const char fn[] = "attn_gpt_open";
    ATTN_REQUIRE_NONNULL(fn, st);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    attn_gpt_config cfg;
    ATTN_TRY(attn_gpt_config_from_reader(st, &cfg));
    ATTN_TRY(attn_checkpoint_check_layers(fn, st, cfg.n_layer));
    attn_gpt *m = calloc(1, sizeof *m);
    if (!m) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    m->cfg = cfg;
    int s = attn_params_create_deferred((int)attn_st_count(st), &m->P);
    if (s == ATTN_OK) s = build(m);
    if (s == ATTN_OK) s = attn_checkpoint_load(m->P, st); /* checks, then allocates and reads */
    if (s != ATTN_OK) {
        attn_gpt_free(m);
        return s;
    }
    *out = m;
    return ATTN_OK;
}

/* ---- configuration as checkpoint metadata ---------------------------------------------------- */

static const attn_meta_field CONFIG_META[] = {
    ATTN_META_FIELD(attn_gpt_config, vocab, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_gpt_config, context, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_gpt_config, n_layer, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_gpt_config, n_head, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_gpt_config, d_model, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_gpt_config, dropout, ATTN_META_F32, 0, 1),
    /* GPT-2's variants; absent in older checkpoints (0: the defaults) */
    ATTN_META_OPTIONAL(attn_gpt_config, layer_norm_eps, ATTN_META_F32, 0, 1),
    ATTN_META_OPTIONAL(attn_gpt_config, gelu_tanh, ATTN_META_INT, 0, 1),
    ATTN_META_OPTIONAL(attn_gpt_config, d_ff, ATTN_META_I64, 0, 1e9),
};
enum { CONFIG_META_N = (int)(sizeof CONFIG_META / sizeof CONFIG_META[0]) };

int attn_gpt_config_to_meta(const attn_gpt_config *c, char *buf, size_t cap, const char **kv, int kv_cap)
{
    return attn_meta_write("attn_gpt_config_to_meta", c, CONFIG_META, CONFIG_META_N, buf, cap, kv, kv_cap);
}

int attn_gpt_config_from_reader(const attn_st_reader *st, attn_gpt_config *c)
{
    ATTN_REQUIRE_NONNULL("attn_gpt_config_from_reader", st);
    ATTN_REQUIRE_NONNULL("attn_gpt_config_from_reader", c);
    ATTN_TRY(attn_meta_read(st, c, sizeof *c, CONFIG_META, CONFIG_META_N));
    return check_cfg("checkpoint", c);
}

int attn_gpt_forward(attn_tape *t, const attn_gpt *m, const int32_t *ids, int64_t N, int64_t T,
                     attn_var **logits)
{
    static const char fn[] = "attn_gpt_forward";
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, ids);
    ATTN_REQUIRE_NONNULL(fn, logits);
    if (N < 1 || T < 1 || T > m->cfg.context)
        return attn_fail(ATTN_E_ARG, "%s: N=%lld, T=%lld (context %lld)", fn, (long long)N,
                         (long long)T, (long long)m->cfg.context);
    for (int64_t i = 0; i < N * T; i++)
        if (ids[i] < 0 || ids[i] >= m->cfg.vocab)
            return attn_fail(ATTN_E_ARG, "%s: token id %d at %lld outside [0, %lld)", fn, ids[i],
                             (long long)i, (long long)m->cfg.vocab);
    int32_t *pos = malloc((size_t)(N * T) * sizeof *pos);
    if (!pos) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    for (int64_t i = 0; i < N * T; i++) pos[i] = (int32_t)(i % T);
    int64_t shape[2] = {N, T};
    attn_var *x, *p;
    int st = attn_embedding_forward(t, &m->wte, ids, 2, shape, &x);
    if (st == ATTN_OK) st = attn_embedding_forward(t, &m->wpe, pos, 2, shape, &p);
    free(pos);
    if (st == ATTN_OK) st = attn_op_add(t, x, p, &x);
    if (st == ATTN_OK) st = attn_op_dropout(t, x, m->cfg.dropout, &x);
    attn_mha_args causal = {.is_causal = 1};
    for (int64_t i = 0; st == ATTN_OK && i < m->cfg.n_layer; i++)
        st = attn_encoder_layer_forward(t, &m->h[i], x, &causal, &x);
    if (st == ATTN_OK) st = attn_layernorm_forward(t, &m->ln_f, x, &x);
    if (st == ATTN_OK) st = attn_linear_forward(t, &m->head, x, logits);
    return st;
}

