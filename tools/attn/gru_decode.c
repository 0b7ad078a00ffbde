/* gru_decode.c — greedy and beam-search translation with the GRU encoder–decoder with additive
 * attention: the encoder runs once on the tape, then the decoder advances every row (sentences
 * × beam) one position per step outside it, the encoder keys projected once. */
#include "gru_decode.h"

#include "internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct gru_rows {
    const attn_gru_seq2seq *m;
    int64_t R, S, H;
    float *enc, *proj, *s, *s_next, *tmp;
    int32_t *len;
} gru_rows;

static int step(void *p, const int32_t *y, int64_t pos, float *logp)
{
    (void)pos;
    gru_rows *g = p;
    ATTN_TRY_CLI(attn_gru_seq2seq_step(g->m, g->enc, g->proj, g->len, g->R, g->S, g->s, y, g->s_next,
                                       logp, NULL));
    float *t = g->s;
    g->s = g->s_next, g->s_next = t;
    decode_log_softmax(logp, g->R, g->m->cfg.tgt_vocab);
    return ATTN_OK;
}

static int reorder(void *p, const int64_t *parent, int64_t pos)
{
    (void)pos;
    gru_rows *g = p;
    for (int64_t r = 0; r < g->R; r++) memcpy(g->tmp + r * g->H, g->s + parent[r] * g->H, (size_t)g->H * sizeof *g->tmp);
    memcpy(g->s, g->tmp, (size_t)(g->R * g->H) * sizeof *g->s);
    return ATTN_OK;
}

int gru_translate(attn_tape *t, const attn_gru_seq2seq *m, const int32_t *src, int64_t N, int64_t S,
                  const decode_options *o, int32_t *out, int64_t *out_len)
{
    if (!t || !m || !src || !o || !out || !out_len || N < 1 || S < 1 || o->beam < 1 || o->max_len < 1)
        return attn_fail(ATTN_E_ARG, "gru_translate: bad arguments (N=%lld, S=%lld)", (long long)N, (long long)S);
    const int64_t K = o->beam > 1 ? o->beam : 1, R = N * K, H = m->cfg.dec_hidden,
                  De = 2 * m->cfg.enc_hidden, A = m->cfg.attn_size;
    int was_training = attn_tape_training(t);
    attn_tape_set_training(t, 0);
    gru_rows g = {.m = m, .R = R, .S = S, .H = H};
    g.enc = malloc((size_t)(R * S * De) * sizeof *g.enc);
    g.proj = malloc((size_t)(R * S * A) * sizeof *g.proj);
    g.s = malloc((size_t)(R * H) * sizeof *g.s);
    g.s_next = malloc((size_t)(R * H) * sizeof *g.s_next);
    g.tmp = malloc((size_t)(R * H) * sizeof *g.tmp);
    g.len = malloc((size_t)R * sizeof *g.len);
    int32_t *len1 = malloc((size_t)N * sizeof *len1);
    int st = g.enc && g.proj && g.s && g.s_next && g.tmp && g.len && len1
                 ? ATTN_OK
                 : attn_fail(ATTN_E_NOMEM, "gru_translate: out of memory for %lld rows", (long long)R);
    attn_var *enc = NULL, *s0 = NULL;
    if (st == ATTN_OK) st = attn_tape_reset(t);
    if (st == ATTN_OK) st = attn_gru_seq2seq_encode(t, m, src, N, S, &enc, &s0);
    if (st == ATTN_OK) st = attn_gru_seq2seq_lengths(m, src, N, S, len1);
    for (int64_t i = 0; st == ATTN_OK && i < N; i++) /* each sentence on K rows */
        for (int64_t k = 0; k < K; k++) {
            int64_t r = i * K + k;
            memcpy(g.enc + r * S * De, enc->data + i * S * De, (size_t)(S * De) * sizeof *g.enc);
            memcpy(g.s + r * H, s0->data + i * H, (size_t)H * sizeof *g.s);
            g.len[r] = len1[i];
        }
    if (st == ATTN_OK) st = attn_gru_seq2seq_project_keys(m, g.enc, R, S, g.proj);
    decode_stepper d = {&g, m->cfg.tgt_vocab, m->cfg.pad_id, step, reorder};
    if (st == ATTN_OK) st = K == 1 ? decode_rows_greedy(&d, N, o, out, out_len) : decode_rows_beam(&d, N, o, out, out_len);
    free(g.enc), free(g.proj), free(g.s), free(g.s_next), free(g.tmp), free(g.len), free(len1);
    attn_tape_set_training(t, was_training);
    return st;
}
