/* transformer.c — the position-wise feed-forward block and torch.nn.TransformerEncoderLayer /
 * TransformerDecoderLayer, written only as forwards over the tape: their backward is the tape's.
 *
 *   post-norm (norm_first = 0)          pre-norm (norm_first = 1)
 *   x = norm1(x + sa(x))                x = x + sa(norm1(x))
 *   x = norm2(x + ca(x, mem))           x = x + ca(norm2(x), mem)        (decoder only)
 *   x = normK(x + ff(x))                x = x + ff(normK(x))
 * where sa/ca end with dropout1/dropout2 and ff(x) = dropout(linear2(dropout(act(linear1(x))))). */
#include "nn_internal.h"

#include <stdio.h>

int attn_ffn_init(attn_ffn *f, attn_params *P, const char *prefix, int64_t d_model,
                  int64_t dim_feedforward, attn_activation act, float dropout)
{
    static const char fn[] = "attn_ffn_init";
    ATTN_REQUIRE_NONNULL(fn, f);
    if (act < ATTN_ACT_RELU || act > ATTN_ACT_GELU_TANH)
        return attn_fail(ATTN_E_ARG, "%s: unknown activation %d", fn, (int)act);
    if (!(dropout >= 0 && dropout < 1))
        return attn_fail(ATTN_E_ARG, "%s: dropout=%g must be in [0, 1)", fn, (double)dropout);
    memset(f, 0, sizeof *f);
    f->activation = act, f->dropout = dropout;
    char name[ATTN_PARAM_NAME_MAX];
    snprintf(name, sizeof name, "%slinear1.", prefix ? prefix : "");
    ATTN_TRY(attn_linear_init(&f->linear1, P, name, d_model, dim_feedforward, 1));
    snprintf(name, sizeof name, "%slinear2.", prefix ? prefix : "");
    return attn_linear_init(&f->linear2, P, name, dim_feedforward, d_model, 1);
}

static int activation(attn_tape *t, attn_activation act, attn_var *x, attn_var **y)
{
    if (act == ATTN_ACT_RELU) return attn_op_relu(t, x, y);
    return attn_op_gelu(t, x, act == ATTN_ACT_GELU_TANH, y);
}

int attn_ffn_forward(attn_tape *t, const attn_ffn *f, attn_var *x, attn_var **out)
{
    ATTN_REQUIRE_NONNULL("attn_ffn_forward", f);
    attn_var *h;
    ATTN_TRY(attn_linear_forward(t, &f->linear1, x, &h));
    ATTN_TRY(activation(t, f->activation, h, &h));
    ATTN_TRY(attn_op_dropout(t, h, f->dropout, &h));
    return attn_linear_forward(t, &f->linear2, h, out);
}

/* Sub-module "<prefix><name>." */
static const char *sub(char *buf, size_t n, const char *prefix, const char *name)
{
    snprintf(buf, n, "%s%s.", prefix ? prefix : "", name);
    return buf;
}

static int resolve_cfg(const char *fn, const attn_transformer_config *in, attn_transformer_config *cfg)
{
    if (!in) return attn_fail(ATTN_E_ARG, "%s: cfg is NULL", fn);
    *cfg = *in;
    if (!cfg->dim_feedforward) cfg->dim_feedforward = 2048;
    if (!cfg->layer_norm_eps) cfg->layer_norm_eps = 1e-5f;
    if (cfg->d_model < 1 || cfg->nhead < 1 || cfg->d_model % cfg->nhead)
        return attn_fail(ATTN_E_ARG, "%s: d_model=%lld must be a positive multiple of nhead=%lld", fn,
                         (long long)cfg->d_model, (long long)cfg->nhead);
    return ATTN_OK;
}

static attn_mha_config mha_cfg(const attn_transformer_config *c)
{
    attn_mha_config m = {0};
    m.embed_dim = c->d_model, m.num_heads = c->nhead, m.dropout = c->dropout;
    m.batch_first = c->batch_first;
    return m;
}

int attn_encoder_layer_init(attn_encoder_layer *l, attn_params *P, const char *prefix,
                            const attn_transformer_config *cfg)
{
    static const char fn[] = "attn_encoder_layer_init";
    ATTN_REQUIRE_NONNULL(fn, l);
    memset(l, 0, sizeof *l);
    ATTN_TRY(resolve_cfg(fn, cfg, &l->cfg));
    const attn_transformer_config *c = &l->cfg;
    char b[ATTN_PARAM_NAME_MAX];
    attn_mha_config m = mha_cfg(c);
    ATTN_TRY(attn_mha_init(&l->self_attn, P, sub(b, sizeof b, prefix, "self_attn"), &m));
    ATTN_TRY(attn_ffn_init(&l->ffn, P, prefix, c->d_model, c->dim_feedforward, c->activation,
                           c->dropout));
    ATTN_TRY(attn_layernorm_init(&l->norm1, P, sub(b, sizeof b, prefix, "norm1"), c->d_model,
                                 c->layer_norm_eps, 1));
    return attn_layernorm_init(&l->norm2, P, sub(b, sizeof b, prefix, "norm2"), c->d_model,
                               c->layer_norm_eps, 1);
}

/* One residual block: x + drop(f(x)) with f's input normed first (pre-norm), or
 * norm(x + drop(f(x))) (post-norm). f is self-attention, cross-attention or the FFN. */
typedef struct block {
    const attn_mha *mha;   /* attention block, or NULL for the FFN */
    const attn_ffn *ffn;
    attn_var *memory;      /* cross-attention keys/values (NULL: self) */
    const attn_mha_args *args;
} block;

static int run_block(attn_tape *t, const attn_transformer_config *cfg, const block *b,
                     const attn_layernorm *norm, attn_var *x, attn_var **out)
{
    attn_var *h = x, *y;
    if (cfg->norm_first) ATTN_TRY(attn_layernorm_forward(t, norm, x, &h));
    if (b->mha) {
        attn_mha_args a = {0};
        if (b->args) a = *b->args;
        a.need_weights = 0;
        attn_var *kv = b->memory ? b->memory : h;
        ATTN_TRY(attn_mha_forward(t, b->mha, h, kv, kv, &a, &y, NULL));
    } else {
        ATTN_TRY(attn_ffn_forward(t, b->ffn, h, &y));
    }
    ATTN_TRY(attn_op_dropout(t, y, cfg->dropout, &y));
    ATTN_TRY(attn_op_add(t, x, y, &y));
    if (!cfg->norm_first) ATTN_TRY(attn_layernorm_forward(t, norm, y, &y));
    *out = y;
    return ATTN_OK;
}

int attn_encoder_layer_forward(attn_tape *t, const attn_encoder_layer *l, attn_var *src,
                               const attn_mha_args *mask, attn_var **out)
{
    ATTN_REQUIRE_NONNULL("attn_encoder_layer_forward", l);
    ATTN_REQUIRE_NONNULL("attn_encoder_layer_forward", out);
    block sa = {&l->self_attn, NULL, NULL, mask}, ff = {NULL, &l->ffn, NULL, NULL};
    attn_var *x;
    ATTN_TRY(run_block(t, &l->cfg, &sa, &l->norm1, src, &x));
    return run_block(t, &l->cfg, &ff, &l->norm2, x, out);
}

int attn_decoder_layer_init(attn_decoder_layer *l, attn_params *P, const char *prefix,
                            const attn_transformer_config *cfg)
{
    static const char fn[] = "attn_decoder_layer_init";
    ATTN_REQUIRE_NONNULL(fn, l);
    memset(l, 0, sizeof *l);
    ATTN_TRY(resolve_cfg(fn, cfg, &l->cfg));
    const attn_transformer_config *c = &l->cfg;
    char b[ATTN_PARAM_NAME_MAX];
    attn_mha_config m = mha_cfg(c);
    ATTN_TRY(attn_mha_init(&l->self_attn, P, sub(b, sizeof b, prefix, "self_attn"), &m));
    ATTN_TRY(attn_mha_init(&l->multihead_attn, P, sub(b, sizeof b, prefix, "multihead_attn"), &m));
    ATTN_TRY(attn_ffn_init(&l->ffn, P, prefix, c->d_model, c->dim_feedforward, c->activation,
                           c->dropout));
    ATTN_TRY(attn_layernorm_init(&l->norm1, P, sub(b, sizeof b, prefix, "norm1"), c->d_model,
                                 c->layer_norm_eps, 1));
    ATTN_TRY(attn_layernorm_init(&l->norm2, P, sub(b, sizeof b, prefix, "norm2"), c->d_model,
                                 c->layer_norm_eps, 1));
    return attn_layernorm_init(&l->norm3, P, sub(b, sizeof b, prefix, "norm3"), c->d_model,
                               c->layer_norm_eps, 1);
}

int attn_decoder_layer_forward(attn_tape *t, const attn_decoder_layer *l, attn_var *tgt,
                               attn_var *memory, const attn_mha_args *tgt_mask,
                               const attn_mha_args *memory_mask, attn_var **out)
{
    static const char fn[] = "attn_decoder_layer_forward";
    ATTN_REQUIRE_NONNULL(fn, l);
    ATTN_REQUIRE_NONNULL(fn, out);
    ATTN_TRY(attn_check_var(fn, "memory", memory));
    block sa = {&l->self_attn, NULL, NULL, tgt_mask};
    block ca = {&l->multihead_attn, NULL, memory, memory_mask};
    block ff = {NULL, &l->ffn, NULL, NULL};
    attn_var *x;
    ATTN_TRY(run_block(t, &l->cfg, &sa, &l->norm1, tgt, &x));
    ATTN_TRY(run_block(t, &l->cfg, &ca, &l->norm2, x, &x));
    return run_block(t, &l->cfg, &ff, &l->norm3, x, out);
}

size_t attn_nn_sizeof(const char *type_name)
{
    static const struct {
        const char *name;
        size_t size;
    } sizes[] = {
        {"attn_linear", sizeof(attn_linear)},
        {"attn_embedding", sizeof(attn_embedding)},
        {"attn_layernorm", sizeof(attn_layernorm)},
        {"attn_ffn", sizeof(attn_ffn)},
        {"attn_mha", sizeof(attn_mha)},
        {"attn_encoder_layer", sizeof(attn_encoder_layer)},
        {"attn_decoder_layer", sizeof(attn_decoder_layer)},
    };
    for (size_t i = 0; type_name && i < sizeof sizes / sizeof sizes[0]; i++)
        if (strcmp(sizes[i].name, type_name) == 0) return sizes[i].size;
    return 0;
}
