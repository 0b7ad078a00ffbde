/* gru_gen.c — the GRU encoder–decoder with additive attention as a stepper: the encoder runs
 * once on the tape, then the decoder advances every row one position per step outside it
 * (attn_gru_seq2seq_step), the encoder keys projected once. */
#include "generate_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct gru_rows {
    const attn_gru_seq2seq *m;
    int64_t R, S, H;
    float *enc, *proj, *s, *s_next, *tmp;
    int32_t *len;
} gru_rows;

static void gru_free(void *p)
{
    gru_rows *g = p;
    if (!g) return;
    free(g->enc), free(g->proj), free(g->s), free(g->s_next), free(g->tmp), free(g->len);
    free(g);
}

static int gru_step(void *p, const int32_t *y, int64_t pos, float *logp)
{
    (void)pos;
    gru_rows *g = p;
    if (!logp) return attn_fail(ATTN_E_UNSUPPORTED, "attn_gru_seq2seq stepper: every step is scored (prompt of one token)");
    ATTN_TRY(attn_gru_seq2seq_step(g->m, g->enc, g->proj, g->len, g->R, g->S, g->s, y, g->s_next, logp, NULL));
    float *t = g->s;
    g->s = g->s_next, g->s_next = t;
    attn_log_softmax_rows(logp, g->R, g->m->cfg.tgt_vocab);
    return ATTN_OK;
}

static int gru_reorder(void *p, const int64_t *parent, int64_t pos)
{
    (void)pos;
    gru_rows *g = p;
    for (int64_t r = 0; r < g->R; r++)
        memcpy(g->tmp + r * g->H, g->s + parent[r] * g->H, (size_t)g->H * sizeof *g->tmp);
    memcpy(g->s, g->tmp, (size_t)(g->R * g->H) * sizeof *g->s);
    return ATTN_OK;
}

static const attn_stepper_ops gru_ops = {gru_step, gru_reorder, gru_free};

int attn_gru_seq2seq_stepper_create(const attn_gru_seq2seq *m, attn_tape *t, const int32_t *src, int64_t N,
                                    int64_t S, int64_t rows_per_src, int64_t max_pos, attn_stepper **out)
{
    static const char fn[] = "attn_gru_seq2seq_stepper_create";
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, src);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    if (N < 1 || S < 1 || rows_per_src < 1 || rows_per_src > ATTN_MAX_BEAM || max_pos < 1 || max_pos > m->cfg.max_len)
        return attn_fail(ATTN_E_ARG, "%s: N=%lld, S=%lld, rows_per_src=%lld, max_pos=%lld (model max_len %lld)", fn,
                         (long long)N, (long long)S, (long long)rows_per_src, (long long)max_pos,
                         (long long)m->cfg.max_len);
    const int64_t K = rows_per_src, R = N * K, H = m->cfg.dec_hidden, De = 2 * m->cfg.enc_hidden,
                  A = m->cfg.attn_size;
    int64_t encn;
    const int64_t dims[3] = {R, S, De > A ? De : A};
    ATTN_TRY(attn_checked_numel(fn, dims, 3, &encn));
    gru_rows *g = calloc(1, sizeof *g);
    if (!g) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    g->m = m, g->R = R, g->S = S, g->H = H;
    g->enc = malloc((size_t)(R * S * De) * sizeof *g->enc);
    g->proj = malloc((size_t)(R * S * A) * sizeof *g->proj);
    g->s = malloc((size_t)(R * H) * sizeof *g->s);
    g->s_next = malloc((size_t)(R * H) * sizeof *g->s_next);
    g->tmp = malloc((size_t)(R * H) * sizeof *g->tmp);
    g->len = malloc((size_t)R * sizeof *g->len);
    int32_t *len1 = malloc((size_t)N * sizeof *len1);
    int st = g->enc && g->proj && g->s && g->s_next && g->tmp && g->len && len1
                 ? ATTN_OK
                 : attn_fail(ATTN_E_NOMEM, "%s: out of memory for %lld rows", fn, (long long)R);
    const int was_training = attn_tape_training(t);
    attn_tape_set_training(t, 0);
    attn_var *enc = NULL, *s0 = NULL;
    if (st == ATTN_OK) st = attn_tape_reset(t);
    if (st == ATTN_OK) st = attn_gru_seq2seq_encode(t, m, src, N, S, &enc, &s0);
    if (st == ATTN_OK) st = attn_gru_seq2seq_lengths(m, src, N, S, len1);
    for (int64_t i = 0; st == ATTN_OK && i < N; i++) /* each source on K rows */
        for (int64_t k = 0; k < K; k++) {
            const int64_t r = i * K + k;
            memcpy(g->enc + r * S * De, enc->data + i * S * De, (size_t)(S * De) * sizeof *g->enc);
            memcpy(g->s + r * H, s0->data + i * H, (size_t)H * sizeof *g->s);
            g->len[r] = len1[i];
        }
    if (st == ATTN_OK) st = attn_gru_seq2seq_project_keys(m, g->enc, R, S, g->proj);
    attn_tape_set_training(t, was_training);
    free(len1);
    if (st != ATTN_OK) {
        gru_free(g);
        return st;
    }
    return attn_stepper_wrap(&gru_ops, g, R, m->cfg.tgt_vocab, max_pos, m->cfg.pad_id, out);
}

int attn_gru_seq2seq_generate(const attn_gru_seq2seq *m, attn_tape *t, const int32_t *src, int64_t N, int64_t S,
                              const attn_generate_options *o, int32_t *out, int64_t cap, int64_t *out_len,
                              attn_generate_info *info)
{
    return attn_gen_seq2seq_like(m, 1, t, src, N, S, o, out, cap, out_len, info);
}
