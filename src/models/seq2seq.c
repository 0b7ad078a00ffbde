/* seq2seq.c — the encoder–decoder Transformer, written once as its forward on a tape. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static int check_cfg(const char *fn, const attn_seq2seq_config *c)
{
    if (c->src_vocab < 2 || c->tgt_vocab < 2 || c->d_model < 1 || c->nhead < 1 ||
        c->d_model % c->nhead || c->num_encoder_layers < 0 || c->num_decoder_layers < 1 ||
        c->dim_feedforward < 1 || c->max_len < 1 || c->max_len > (1 << 20) ||
        c->num_encoder_layers > ATTN_MAX_LAYERS || c->num_decoder_layers > ATTN_MAX_LAYERS)
        return attn_fail(ATTN_E_ARG, "%s: invalid configuration (vocab %lld/%lld, d_model %lld, nhead %lld, layers %lld/%lld, ff %lld, max_len %lld)",
                         fn, (long long)c->src_vocab, (long long)c->tgt_vocab,
                         (long long)c->d_model, (long long)c->nhead,
                         (long long)c->num_encoder_layers, (long long)c->num_decoder_layers,
                         (long long)c->dim_feedforward, (long long)c->max_len);
    if (c->max_len * c->d_model > ATTN_MAX_POSITION_TABLE)
        return attn_fail(ATTN_E_ARG, "%s: max_len %lld × d_model %lld: a position table over %d floats",
                         fn, (long long)c->max_len, (long long)c->d_model, ATTN_MAX_POSITION_TABLE);
    if (!(c->dropout >= 0 && c->dropout < 1))
        return attn_fail(ATTN_E_ARG, "%s: dropout %g not in [0, 1)", fn, (double)c->dropout);
    if (c->pad_id < 0 || c->pad_id >= c->src_vocab || c->pad_id >= c->tgt_vocab)
        return attn_fail(ATTN_E_ARG, "%s: pad_id %d outside the vocabularies", fn, c->pad_id);
    if (c->share_embeddings && c->src_vocab != c->tgt_vocab)
        return attn_fail(ATTN_E_ARG, "%s: shared embeddings need equal vocabularies", fn);
    if (c->scale_embedding != 0 && c->scale_embedding != 1)
        return attn_fail(ATTN_E_ARG, "%s: scale_embedding %d must be 0 or 1", fn, c->scale_embedding);
    return ATTN_OK;
}

void attn_seq2seq_free(attn_seq2seq *m)
{
    if (!m) return;
    attn_params_free(m->P);
    free(m->enc);
    free(m->dec);
    free(m->pos);
    free(m);
}

/* Layers, parameters (registered in m->P) and the position table of m->cfg. */
static int build(attn_seq2seq *m)
{
    static const char fn[] = "attn_seq2seq";
    const attn_seq2seq_config *c = &m->cfg;
    m->enc = calloc((size_t)c->num_encoder_layers + 1, sizeof *m->enc);
    m->dec = calloc((size_t)c->num_decoder_layers, sizeof *m->dec);
    if (!m->enc || !m->dec) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    attn_transformer_config lc = {.d_model = c->d_model,
                                  .nhead = c->nhead,
                                  .dim_feedforward = c->dim_feedforward,
                                  .dropout = c->dropout,
                                  .activation = c->activation,
                                  .layer_norm_eps = 1e-5f,
                                  .batch_first = 1,
                                  .norm_first = c->norm_first};
    char name[ATTN_PARAM_NAME_MAX];
    ATTN_TRY(attn_embedding_init(&m->src_embed, m->P, c->share_embeddings ? "embed." : "src_embed.",
                                 c->src_vocab, c->d_model, c->pad_id));
    if (c->share_embeddings)
        m->tgt_embed = m->src_embed;
    else
        ATTN_TRY(attn_embedding_init(&m->tgt_embed, m->P, "tgt_embed.", c->tgt_vocab, c->d_model,
                                     c->pad_id));
    for (int64_t i = 0; i < c->num_encoder_layers; i++) {
        snprintf(name, sizeof name, "encoder.layers.%lld.", (long long)i);
        ATTN_TRY(attn_encoder_layer_init(&m->enc[i], m->P, name, &lc));
    }
    if (c->num_encoder_layers > 0)
        ATTN_TRY(attn_layernorm_init(&m->enc_norm, m->P, "encoder.norm.", c->d_model, 1e-5f, 1));
    for (int64_t i = 0; i < c->num_decoder_layers; i++) {
        snprintf(name, sizeof name, "decoder.layers.%lld.", (long long)i);
        ATTN_TRY(attn_decoder_layer_init(&m->dec[i], m->P, name, &lc));
    }
    ATTN_TRY(attn_layernorm_init(&m->dec_norm, m->P, "decoder.norm.", c->d_model, 1e-5f, 1));
    return attn_linear_init(&m->generator, m->P, "generator.", c->d_model, c->tgt_vocab, 1);
}

/* The sinusoidal table [max_len, d_model] (bounded by check_cfg). */
static int make_positions(attn_seq2seq *m)
{
    const attn_seq2seq_config *c = &m->cfg;
    m->pos = malloc((size_t)(c->max_len * c->d_model) * sizeof *m->pos);
    if (!m->pos) return attn_fail(ATTN_E_NOMEM, "attn_seq2seq: out of memory");
    return attn_posenc_sinusoidal(m->pos, c->max_len, c->d_model, 0, 0);
}

int attn_seq2seq_create(const attn_seq2seq_config *cfg, uint64_t seed, attn_seq2seq **out)
{
    static const char fn[] = "attn_seq2seq_create";
    ATTN_REQUIRE_NONNULL(fn, cfg);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    ATTN_TRY(check_cfg(fn, cfg));
    attn_seq2seq *m = calloc(1, sizeof *m);
    if (!m) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    m->cfg = *cfg;
    const attn_seq2seq_config *c = &m->cfg;
    int st = attn_params_create(seed, &m->P);
    if (st == ATTN_OK) st = build(m);
    if (st == ATTN_OK && c->scale_embedding) { /* N(0, 1) → N(0, 1/d) */
        const float s = 1.0f / sqrtf((float)c->d_model);
        attn_param *tables[2] = {m->src_embed.weight, c->share_embeddings ? NULL : m->tgt_embed.weight};
        for (int k = 0; k < 2; k++)
            for (int64_t i = 0; tables[k] && i < tables[k]->numel; i++) tables[k]->data[i] *= s;
    }
    if (st == ATTN_OK) st = make_positions(m);
    if (st != ATTN_OK) {
        attn_seq2seq_free(m);
        return st;
    }
    *out = m;
    return ATTN_OK;
}

int attn_seq2seq_open(const attn_st_reader *st, attn_seq2seq **out)
{
    static const char fn[] = "attn_seq2seq_open";
    ATTN_REQUIRE_NONNULL(fn, st);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    attn_seq2seq_config cfg;
    ATTN_TRY(attn_seq2seq_config_from_reader(st, &cfg));
    ATTN_TRY(attn_checkpoint_check_layers(fn, st, cfg.num_encoder_layers + cfg.num_decoder_layers));
    attn_seq2seq *m = calloc(1, sizeof *m);
    if (!m) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    m->cfg = cfg;
    int s = attn_params_create_deferred((int)attn_st_count(st), &m->P);
    if (s == ATTN_OK) s = build(m);
    if (s == ATTN_OK) s = attn_checkpoint_load(m->P, st); /* checks, then allocates and reads */
    if (s == ATTN_OK) s = make_positions(m);
    if (s != ATTN_OK) {
        attn_seq2seq_free(m);
        return s;
    }
    *out = m;
    return ATTN_OK;
}

/* Embedding + positions (+ dropout): [N, L, d]. */
static int embed(attn_tape *t, const attn_seq2seq *m, const attn_embedding *e, const int32_t *ids,
                 int64_t N, int64_t L, attn_var **out)
{
    const int64_t d = m->cfg.d_model;
    if (L > m->cfg.max_len)
        return attn_fail(ATTN_E_ARG, "attn_seq2seq: sequence of %lld tokens is longer than max_len %lld",
                         (long long)L, (long long)m->cfg.max_len);
    for (int64_t i = 0; i < N * L; i++)
        if (ids[i] < 0 || ids[i] >= e->num_embeddings)
            return attn_fail(ATTN_E_ARG, "attn_seq2seq: token id %d at %lld outside [0, %lld)", ids[i],
                             (long long)i, (long long)e->num_embeddings);
    int64_t shape[3] = {N, L, d}, ishape[2] = {N, L};
    attn_var *x, *pe;
    ATTN_TRY(attn_embedding_forward(t, e, ids, 2, ishape, &x));
    if (m->cfg.scale_embedding) ATTN_TRY(attn_op_scale(t, x, sqrtf((float)d), &x));
    ATTN_TRY(attn_tape_input(t, NULL, 3, shape, 0, &pe));
    for (int64_t n = 0; n < N; n++) memcpy(pe->data + n * L * d, m->pos, (size_t)(L * d) * sizeof(float));
    ATTN_TRY(attn_op_add(t, x, pe, &x));
    return attn_op_dropout(t, x, m->cfg.dropout, out);
}

/* Key padding mask [N, S] (nonzero = ignore) of a source batch, in the tape's arena through a
 * uint8 copy kept by the caller. */
static void pad_mask(const attn_seq2seq *m, const int32_t *src, int64_t N, int64_t S, uint8_t *mask,
                     int *any)
{
    *any = 0;
    for (int64_t i = 0; i < N * S; i++) {
        mask[i] = src[i] == m->cfg.pad_id;
        *any |= mask[i];
    }
}

int attn_seq2seq_encode(attn_tape *t, const attn_seq2seq *m, const int32_t *src, int64_t N,
                        int64_t S, attn_var **memory)
{
    static const char fn[] = "attn_seq2seq_encode";
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, src);
    ATTN_REQUIRE_NONNULL(fn, memory);
    if (N < 1 || S < 1) return attn_fail(ATTN_E_ARG, "%s: empty batch (N=%lld, S=%lld)", fn, (long long)N, (long long)S);
    uint8_t *mask = malloc((size_t)(N * S));
    if (!mask) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    int any;
    pad_mask(m, src, N, S, mask, &any);
    attn_mha_args args = {.key_padding_mask = any ? mask : NULL};
    attn_var *x;
    int st = embed(t, m, &m->src_embed, src, N, S, &x);
    for (int64_t i = 0; st == ATTN_OK && i < m->cfg.num_encoder_layers; i++)
        st = attn_encoder_layer_forward(t, &m->enc[i], x, &args, &x);
    if (st == ATTN_OK && m->cfg.num_encoder_layers > 0) st = attn_layernorm_forward(t, &m->enc_norm, x, &x);
    free(mask);
    if (st == ATTN_OK) *memory = x;
    return st;
}

int attn_seq2seq_decode(attn_tape *t, const attn_seq2seq *m, attn_var *memory, const int32_t *src,
                        int64_t S, const int32_t *tgt, int64_t T, attn_var **logits)
{
    static const char fn[] = "attn_seq2seq_decode";
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, memory);
    ATTN_REQUIRE_NONNULL(fn, src);
    ATTN_REQUIRE_NONNULL(fn, tgt);
    ATTN_REQUIRE_NONNULL(fn, logits);
    if (memory->ndim != 3 || memory->shape[1] != S || memory->shape[2] != m->cfg.d_model)
        return attn_fail(ATTN_E_SHAPE, "%s: memory must be [N, S=%lld, %lld]", fn, (long long)S,
                         (long long)m->cfg.d_model);
    int64_t N = memory->shape[0];
    if (T < 1) return attn_fail(ATTN_E_ARG, "%s: empty target (T=%lld)", fn, (long long)T);
    uint8_t *mask = malloc((size_t)(N * S));
    if (!mask) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    int any;
    pad_mask(m, src, N, S, mask, &any);
    /* causal self-attention: real positions never see the padding after them, so the target
     * needs no key padding mask */
    attn_mha_args self_args = {.is_causal = 1};
    attn_mha_args cross_args = {.key_padding_mask = any ? mask : NULL};
    attn_var *y;
    int st = embed(t, m, &m->tgt_embed, tgt, N, T, &y);
    for (int64_t i = 0; st == ATTN_OK && i < m->cfg.num_decoder_layers; i++)
        st = attn_decoder_layer_forward(t, &m->dec[i], y, memory, &self_args, &cross_args, &y);
    if (st == ATTN_OK) st = attn_layernorm_forward(t, &m->dec_norm, y, &y);
    if (st == ATTN_OK) st = attn_linear_forward(t, &m->generator, y, logits);
    free(mask);
    return st;
}

/* ---- configuration as checkpoint metadata ---------------------------------------------------- */

static const attn_meta_field CONFIG_META[] = {
    ATTN_META_FIELD(attn_seq2seq_config, src_vocab, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_seq2seq_config, tgt_vocab, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_seq2seq_config, d_model, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_seq2seq_config, nhead, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_seq2seq_config, num_encoder_layers, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_seq2seq_config, num_decoder_layers, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_seq2seq_config, dim_feedforward, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_seq2seq_config, max_len, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_seq2seq_config, dropout, ATTN_META_F32, 0, 1),
    ATTN_META_FIELD(attn_seq2seq_config, activation, ATTN_META_INT, 0, 2),
    ATTN_META_FIELD(attn_seq2seq_config, norm_first, ATTN_META_INT, 0, 1),
    ATTN_META_FIELD(attn_seq2seq_config, share_embeddings, ATTN_META_INT, 0, 1),
    ATTN_META_FIELD(attn_seq2seq_config, pad_id, ATTN_META_I32, 0, 1e9),
    ATTN_META_OPTIONAL(attn_seq2seq_config, scale_embedding, ATTN_META_INT, 0, 1),
};
enum { CONFIG_META_N = (int)(sizeof CONFIG_META / sizeof CONFIG_META[0]) };

int attn_seq2seq_config_to_meta(const attn_seq2seq_config *c, char *buf, size_t cap, const char **kv, int kv_cap)
{
    return attn_meta_write("attn_seq2seq_config_to_meta", c, CONFIG_META, CONFIG_META_N, buf, cap, kv, kv_cap);
}

int attn_seq2seq_config_from_reader(const attn_st_reader *st, attn_seq2seq_config *c)
{
    ATTN_REQUIRE_NONNULL("attn_seq2seq_config_from_reader", st);
    ATTN_REQUIRE_NONNULL("attn_seq2seq_config_from_reader", c);
    ATTN_TRY(attn_meta_read(st, c, sizeof *c, CONFIG_META, CONFIG_META_N));
    return check_cfg("checkpoint", c);
}
