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

int attn_gpt_create(const attn_gpt_config *cfg, uint64_t seed, attn_gpt **out)
{
    static const char fn[] = "attn_gpt_create";
    ATTN_REQUIRE_NONNULL(fn, cfg);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    const attn_gpt_config *c = cfg;
    if (c->vocab < 2 || c->context < 1 || c->n_layer < 1 || c->n_head < 1 || c->d_model < 1 ||
        c->d_model % c->n_head || !(c->dropout >= 0 && c->dropout < 1))
        return attn_fail(ATTN_E_ARG, "%s: invalid configuration (vocab %lld, context %lld, layers %lld, heads %lld, d_model %lld, dropout %g)",
                         fn, (long long)c->vocab, (long long)c->context, (long long)c->n_layer,
                         (long long)c->n_head, (long long)c->d_model, (double)c->dropout);
    if (!(c->layer_norm_eps >= 0 && c->layer_norm_eps < 1) || (c->gelu_tanh != 0 && c->gelu_tanh != 1) ||
        c->d_ff < 0)
        return attn_fail(ATTN_E_ARG, "%s: invalid configuration (layer_norm_eps %g, gelu_tanh %d, d_ff %lld)",
                         fn, (double)c->layer_norm_eps, c->gelu_tanh, (long long)c->d_ff);
    attn_gpt *m = calloc(1, sizeof *m);
    if (!m) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    m->cfg = *cfg;
    if (m->cfg.layer_norm_eps == 0) m->cfg.layer_norm_eps = 1e-5f;
    if (m->cfg.d_ff == 0) m->cfg.d_ff = 4 * c->d_model;
    c = &m->cfg;
    m->h = calloc((size_t)c->n_layer, sizeof *m->h);
    int st = m->h ? attn_params_create(seed, &m->P) : attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    if (st == ATTN_OK) st = attn_embedding_init(&m->wte, m->P, "wte.", c->vocab, c->d_model, -1);
    if (st == ATTN_OK) st = attn_embedding_init(&m->wpe, m->P, "wpe.", c->context, c->d_model, -1);
    attn_transformer_config lc = {.d_model = c->d_model,
                                  .nhead = c->n_head,
                                  .dim_feedforward = c->d_ff,
                                  .dropout = c->dropout,
                                  .activation = c->gelu_tanh ? ATTN_ACT_GELU_TANH : ATTN_ACT_GELU,
                                  .layer_norm_eps = c->layer_norm_eps,
                                  .batch_first = 1,
                                  .norm_first = 1};
    char name[ATTN_PARAM_NAME_MAX];
    for (int64_t i = 0; st == ATTN_OK && i < c->n_layer; i++) {
        snprintf(name, sizeof name, "h.%lld.", (long long)i);
        st = attn_encoder_layer_init(&m->h[i], m->P, name, &lc);
    }
    if (st == ATTN_OK) st = attn_layernorm_init(&m->ln_f, m->P, "ln_f.", c->d_model, c->layer_norm_eps, 1);
    if (st != ATTN_OK) {
        attn_gpt_free(m);
        return st;
    }
    /* GPT-2's initialisation of the embeddings, N(0, 0.02²): with the output projection tied
     * to wte, torch's N(0, 1) would start from logits of size √d */
    attn_param *emb[2] = {m->wte.weight, m->wpe.weight};
    for (int k = 0; k < 2; k++)
        for (int64_t i = 0; i < emb[k]->numel; i++) emb[k]->data[i] *= 0.02f;
    /* the output projection shares the token embedding (weight tying) */
    m->head.in_features = c->d_model;
    m->head.out_features = c->vocab;
    m->head.weight = m->wte.weight;
    m->head.bias = NULL;
    *out = m;
    return ATTN_OK;
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
