/* gru_seq2seq.c — the GRU encoder–decoder with additive attention (Bahdanau et al., 2015),
 * written once as its forward on a tape, plus the step function that decodes outside it. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_cfg(const char *fn, const attn_gru_seq2seq_config *c)
{
    if (c->src_vocab < 2 || c->tgt_vocab < 2 || c->emb_size < 1 || c->enc_hidden < 1 ||
        c->enc_layers < 1 || c->enc_layers > 8 || c->dec_hidden < 1 || c->attn_size < 1 ||
        c->out_size < 1 || c->max_len < 1 || c->max_len > (1 << 20))
        return attn_fail(ATTN_E_ARG,
                         "%s: invalid configuration (vocab %lld/%lld, emb %lld, encoder %lld×%lld, "
                         "decoder %lld, attention %lld, out %lld, max_len %lld)",
                         fn, (long long)c->src_vocab, (long long)c->tgt_vocab, (long long)c->emb_size,
                         (long long)c->enc_layers, (long long)c->enc_hidden, (long long)c->dec_hidden,
                         (long long)c->attn_size, (long long)c->out_size, (long long)c->max_len);
    if (!(c->dropout >= 0 && c->dropout < 1))
        return attn_fail(ATTN_E_ARG, "%s: dropout %g not in [0, 1)", fn, (double)c->dropout);
    if (c->pad_id < 0 || c->pad_id >= c->src_vocab || c->pad_id >= c->tgt_vocab)
        return attn_fail(ATTN_E_ARG, "%s: pad_id %d outside the vocabularies", fn, c->pad_id);
    if (c->share_embeddings && c->src_vocab != c->tgt_vocab)
        return attn_fail(ATTN_E_ARG, "%s: shared embeddings need equal vocabularies", fn);
    return ATTN_OK;
}

void attn_gru_seq2seq_free(attn_gru_seq2seq *m)
{
    if (!m) return;
    attn_params_free(m->P);
    free(m);
}

/* Layers and parameters (registered in m->P) of m->cfg. */
static int build(attn_gru_seq2seq *m)
{
    const attn_gru_seq2seq_config *c = &m->cfg;
    ATTN_TRY(attn_embedding_init(&m->src_embed, m->P, c->share_embeddings ? "embed." : "src_embed.",
                                 c->src_vocab, c->emb_size, c->pad_id));
    if (c->share_embeddings)
        m->tgt_embed = m->src_embed;
    else
        ATTN_TRY(attn_embedding_init(&m->tgt_embed, m->P, "tgt_embed.", c->tgt_vocab, c->emb_size,
                                     c->pad_id));
    attn_gru_config gc = {.input_size = c->emb_size, .hidden_size = c->enc_hidden,
                          .num_layers = (int)c->enc_layers, .bidirectional = 1, .batch_first = 1};
    ATTN_TRY(attn_gru_layer_init(&m->encoder, m->P, "encoder.", &gc));
    ATTN_TRY(attn_linear_init(&m->bridge, m->P, "bridge.", c->enc_hidden, c->dec_hidden, 1));
    attn_bahdanau_config bc = {.hidden_size = c->dec_hidden, .enc_size = 2 * c->enc_hidden,
                               .emb_size = c->emb_size, .attn_size = c->attn_size,
                               .out_size = c->out_size};
    ATTN_TRY(attn_bahdanau_layer_init(&m->decoder, m->P, "decoder.", &bc));
    return attn_linear_init(&m->generator, m->P, "generator.", c->out_size, c->tgt_vocab, 1);
}

int attn_gru_seq2seq_create(const attn_gru_seq2seq_config *cfg, uint64_t seed, attn_gru_seq2seq **out)
{
    static const char fn[] = "attn_gru_seq2seq_create";
    ATTN_REQUIRE_NONNULL(fn, cfg);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    ATTN_TRY(check_cfg(fn, cfg));
    attn_gru_seq2seq *m = calloc(1, sizeof *m);
    if (!m) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    m->cfg = *cfg;
    int st = attn_params_create(seed, &m->P);
    if (st == ATTN_OK) st = build(m);
    if (st != ATTN_OK) {
        attn_gru_seq2seq_free(m);
        return st;
    }
    *out = m;
    return ATTN_OK;
}

int attn_gru_seq2seq_open(const attn_st_reader *st, attn_gru_seq2seq **out)
{
    static const char fn[] = "attn_gru_seq2seq_open";
    ATTN_REQUIRE_NONNULL(fn, st);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    attn_gru_seq2seq_config cfg;
    ATTN_TRY(attn_gru_seq2seq_config_from_reader(st, &cfg));
    attn_gru_seq2seq *m = calloc(1, sizeof *m);
    if (!m) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    m->cfg = cfg;
    int s = attn_params_create_deferred((int)attn_st_count(st), &m->P);
    if (s == ATTN_OK) s = build(m);
    if (s == ATTN_OK) s = attn_checkpoint_load(m->P, st); /* checks, then allocates and reads */
    if (s != ATTN_OK) {
        attn_gru_seq2seq_free(m);
        return s;
    }
    *out = m;
    return ATTN_OK;
}

static int check_ids(const int32_t *ids, int64_t n, int64_t vocab)
{
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= vocab)
            return attn_fail(ATTN_E_ARG, "attn_gru_seq2seq: token id %d at %lld outside [0, %lld)",
                             ids[i], (long long)i, (long long)vocab);
    return ATTN_OK;
}

int attn_gru_seq2seq_lengths(const attn_gru_seq2seq *m, const int32_t *src, int64_t N, int64_t S,
                             int32_t *lengths)
{
    static const char fn[] = "attn_gru_seq2seq_lengths";
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, src);
    ATTN_REQUIRE_NONNULL(fn, lengths);
    for (int64_t n = 0; n < N; n++) {
        int64_t L = 0;
        while (L < S && src[n * S + L] != m->cfg.pad_id) L++;
        for (int64_t j = L; j < S; j++)
            if (src[n * S + j] != m->cfg.pad_id)
                return attn_fail(ATTN_E_ARG, "%s: source row %lld has a token after padding (position %lld)",
                                 fn, (long long)n, (long long)j);
        if (L == 0) return attn_fail(ATTN_E_ARG, "%s: source row %lld is empty", fn, (long long)n);
        lengths[n] = (int32_t)L;
    }
    return ATTN_OK;
}

int attn_gru_seq2seq_encode(attn_tape *t, const attn_gru_seq2seq *m, const int32_t *src, int64_t N,
                            int64_t S, attn_var **enc, attn_var **s0)
{
    static const char fn[] = "attn_gru_seq2seq_encode";
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, src);
    ATTN_REQUIRE_NONNULL(fn, enc);
    ATTN_REQUIRE_NONNULL(fn, s0);
    if (N < 1 || S < 1 || S > m->cfg.max_len)
        return attn_fail(ATTN_E_ARG, "%s: N=%lld, S=%lld (max_len %lld)", fn, (long long)N, (long long)S,
                         (long long)m->cfg.max_len);
    ATTN_TRY(check_ids(src, N * S, m->cfg.src_vocab));
    int32_t *len = malloc((size_t)N * sizeof *len);
    if (!len) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    int st = attn_gru_seq2seq_lengths(m, src, N, S, len);
    int64_t ishape[2] = {N, S};
    attn_var *x = NULL, *hn = NULL, *h = NULL;
    if (st == ATTN_OK) st = attn_embedding_forward(t, &m->src_embed, src, 2, ishape, &x);
    if (st == ATTN_OK) st = attn_op_dropout(t, x, m->cfg.dropout, &x);
    if (st == ATTN_OK) st = attn_gru_layer_forward(t, &m->encoder, x, NULL, len, enc, &hn);
    free(len);
    /* s0 = tanh(W·h←), h← the last layer's backward state after reading the first token */
    const int64_t rows = 2 * m->cfg.enc_layers;
    if (st == ATTN_OK) st = attn_op_narrow(t, hn, 0, rows - 1, 1, &h);
    int64_t hshape[2] = {N, m->cfg.enc_hidden};
    if (st == ATTN_OK) st = attn_op_reshape(t, h, 2, hshape, &h);
    if (st == ATTN_OK) st = attn_linear_forward(t, &m->bridge, h, &h);
    if (st == ATTN_OK) st = attn_op_tanh(t, h, s0);
    return st;
}

static int additive_opt(const attn_gru_seq2seq *m, const int32_t *src, int64_t N, int64_t S,
                        int32_t **len, attn_additive_options *opt)
{
    *len = malloc((size_t)N * sizeof **len);
    if (!*len) return attn_fail(ATTN_E_NOMEM, "attn_gru_seq2seq: out of memory");
    *opt = (attn_additive_options){.key_lengths = *len};
    return attn_gru_seq2seq_lengths(m, src, N, S, *len);
}

int attn_gru_seq2seq_decode(attn_tape *t, const attn_gru_seq2seq *m, attn_var *enc, attn_var *s0,
                            const int32_t *src, int64_t S, const int32_t *tgt, int64_t T,
                            attn_var **logits, attn_var **weights)
{
    static const char fn[] = "attn_gru_seq2seq_decode";
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, enc);
    ATTN_REQUIRE_NONNULL(fn, s0);
    ATTN_REQUIRE_NONNULL(fn, src);
    ATTN_REQUIRE_NONNULL(fn, tgt);
    ATTN_REQUIRE_NONNULL(fn, logits);
    const int64_t N = enc->shape[0];
    if (enc->ndim != 3 || enc->shape[1] != S || enc->shape[2] != 2 * m->cfg.enc_hidden || T < 1)
        return attn_fail(ATTN_E_SHAPE, "%s: enc must be [N, S=%lld, %lld] and T ≥ 1", fn, (long long)S,
                         (long long)(2 * m->cfg.enc_hidden));
    if (T > m->cfg.max_len)
        return attn_fail(ATTN_E_ARG, "%s: %lld target positions, longer than max_len %lld", fn, (long long)T,
                         (long long)m->cfg.max_len);
    ATTN_TRY(check_ids(tgt, N * T, m->cfg.tgt_vocab));
    int32_t *len;
    attn_additive_options opt;
    int st = additive_opt(m, src, N, S, &len, &opt);
    int64_t ishape[2] = {N, T};
    attn_var *e = NULL, *out = NULL;
    if (st == ATTN_OK) st = attn_embedding_forward(t, &m->tgt_embed, tgt, 2, ishape, &e);
    if (st == ATTN_OK) st = attn_op_dropout(t, e, m->cfg.dropout, &e);
    if (st == ATTN_OK) st = attn_bahdanau_layer_forward(t, &m->decoder, enc, s0, e, &opt, &out, weights, NULL);
    free(len);
    if (st == ATTN_OK) st = attn_op_tanh(t, out, &out);
    if (st == ATTN_OK) st = attn_op_dropout(t, out, m->cfg.dropout, &out);
    if (st == ATTN_OK) st = attn_linear_forward(t, &m->generator, out, logits);
    return st;
}

/* ---- decoding one step at a time, outside the tape ------------------------------------------ */

static attn_bahdanau_params bahdanau_params(const attn_gru_seq2seq *m)
{
    const attn_bahdanau_layer *d = &m->decoder;
#define DATA(p) ((p) ? (p)->data : NULL)
    return (attn_bahdanau_params){DATA(d->attn_w_q), DATA(d->attn_w_k), DATA(d->attn_b), DATA(d->attn_v),
                                  DATA(d->weight_ih), DATA(d->weight_hh), DATA(d->bias_ih),
                                  DATA(d->bias_hh), DATA(d->w_out), DATA(d->b_out)};
#undef DATA
}

int attn_gru_seq2seq_project_keys(const attn_gru_seq2seq *m, const float *enc, int64_t N, int64_t S,
                                  float *enc_proj)
{
    static const char fn[] = "attn_gru_seq2seq_project_keys";
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, enc);
    ATTN_REQUIRE_NONNULL(fn, enc_proj);
    attn_bahdanau_params p = bahdanau_params(m);
    int64_t es[3] = {N, S, 2 * m->cfg.enc_hidden}, ps[3] = {N, S, m->cfg.attn_size};
    attn_tensor e = attn_tensor_make((float *)enc, 3, es), pr = attn_tensor_make(enc_proj, 3, ps);
    return attn_bahdanau_project_keys(&m->decoder.cfg, &p, &e, &pr);
}

int attn_gru_seq2seq_step(const attn_gru_seq2seq *m, const float *enc, const float *enc_proj,
                          const int32_t *key_lengths, int64_t N, int64_t S, const float *s_prev,
                          const int32_t *tokens, float *s, float *logits, float *weights)
{
    static const char fn[] = "attn_gru_seq2seq_step";
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, enc);
    ATTN_REQUIRE_NONNULL(fn, s_prev);
    ATTN_REQUIRE_NONNULL(fn, tokens);
    ATTN_REQUIRE_NONNULL(fn, s);
    ATTN_REQUIRE_NONNULL(fn, logits);
    if (N < 1 || S < 1) return attn_fail(ATTN_E_ARG, "%s: N=%lld, S=%lld must be >= 1", fn, (long long)N, (long long)S);
    ATTN_TRY(check_ids(tokens, N, m->cfg.tgt_vocab));
    const attn_gru_seq2seq_config *c = &m->cfg;
    const int64_t E = c->emb_size, De = 2 * c->enc_hidden, Do = c->out_size, V = c->tgt_vocab;
    float *emb = malloc((size_t)(N * E) * sizeof *emb), *ctx = malloc((size_t)(N * De) * sizeof *ctx),
          *out = malloc((size_t)(N * Do) * sizeof *out);
    int st = emb && ctx && out ? ATTN_OK : attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    if (st == ATTN_OK) {
        for (int64_t n = 0; n < N; n++)
            memcpy(emb + n * E, m->tgt_embed.weight->data + (int64_t)tokens[n] * E, (size_t)E * sizeof *emb);
        attn_bahdanau_params p = bahdanau_params(m);
        int64_t es[3] = {N, S, De}, ps[3] = {N, S, c->attn_size};
        attn_tensor e = attn_tensor_make((float *)enc, 3, es), pr = attn_tensor_make((float *)enc_proj, 3, ps);
        attn_additive_options opt = {.key_lengths = key_lengths};
        st = attn_bahdanau_step_forward(&m->decoder.cfg, &p, &opt, s_prev, &e, enc_proj ? &pr : NULL, emb, s,
                                        ctx, weights, out, NULL);
    }
    if (st == ATTN_OK) {
        for (int64_t i = 0; i < N * Do; i++) out[i] = tanhf(out[i]);
        const float *b = m->generator.bias ? m->generator.bias->data : NULL;
        for (int64_t n = 0; n < N; n++)
            for (int64_t v = 0; v < V; v++) logits[n * V + v] = b ? b[v] : 0.0f;
        st = attn_sgemm(ATTN_NO_TRANS, ATTN_TRANS, N, V, Do, 1.0f, out, Do, m->generator.weight->data, Do,
                        1.0f, logits, V, 0);
    }
    free(emb), free(ctx), free(out);
    return st;
}

/* ---- configuration in checkpoint metadata ---------------------------------------------------- */

static const attn_meta_field CONFIG_META[] = {
    ATTN_META_FIELD(attn_gru_seq2seq_config, src_vocab, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_gru_seq2seq_config, tgt_vocab, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_gru_seq2seq_config, emb_size, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_gru_seq2seq_config, enc_hidden, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_gru_seq2seq_config, enc_layers, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_gru_seq2seq_config, dec_hidden, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_gru_seq2seq_config, attn_size, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_gru_seq2seq_config, out_size, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_gru_seq2seq_config, max_len, ATTN_META_I64, 0, 1e9),
    ATTN_META_FIELD(attn_gru_seq2seq_config, dropout, ATTN_META_F32, 0, 1),
    ATTN_META_FIELD(attn_gru_seq2seq_config, share_embeddings, ATTN_META_INT, 0, 1),
    ATTN_META_FIELD(attn_gru_seq2seq_config, pad_id, ATTN_META_I32, 0, 1e9),
};
enum { CONFIG_META_N = (int)(sizeof CONFIG_META / sizeof CONFIG_META[0]) };

int attn_gru_seq2seq_config_to_meta(const attn_gru_seq2seq_config *c, char *buf, size_t cap, const char **kv, int kv_cap)
{
    return attn_meta_write("attn_gru_seq2seq_config_to_meta", c, CONFIG_META, CONFIG_META_N, buf, cap, kv, kv_cap);
}

int attn_gru_seq2seq_config_from_reader(const attn_st_reader *st, attn_gru_seq2seq_config *c)
{
    ATTN_REQUIRE_NONNULL("attn_gru_seq2seq_config_from_reader", st);
    ATTN_REQUIRE_NONNULL("attn_gru_seq2seq_config_from_reader", c);
    ATTN_TRY(attn_meta_read(st, c, sizeof *c, CONFIG_META, CONFIG_META_N));
    return check_cfg("checkpoint", c);
}
