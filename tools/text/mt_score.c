/* mt_score.c — a subword translation model scored on a parallel set (attn_mt_evaluate,
 * translator.h): the batched translation, corpus BLEU cased and lowercased, chrF2. */
#include "translator.h"

#include <string.h>

int attn_mt_evaluate(attn_tape *t, const attn_seq2seq *tf, const attn_gru_seq2seq *gru, const attn_spm *sp,
                     const attn_parallel *d, const attn_generate_options *o, int64_t batch,
                     void (*on_batch)(void *user, int64_t done, int64_t n), void *user, attn_mt_eval *out)
{
    if (!out) return attn_set_error(ATTN_E_ARG, "attn_mt_evaluate: out is NULL");
    memset(out, 0, sizeof *out);
    if (!d || !d->tgt || d->n < 1) return attn_set_error(ATTN_E_ARG, "attn_mt_evaluate: no sentence pair to score");
    const double t0 = attn_now();
    int st = attn_translate_texts_progress(t, tf, gru, sp, (const char *const *)d->src, d->n, o, batch, on_batch, user,
                                           &out->hyp);
    out->n = out->hyp ? d->n : 0;
    out->seconds = attn_now() - t0;
    const attn_bleu_options lc = {.lowercase = 1};
    const char *const *H = (const char *const *)out->hyp, *const *R = (const char *const *)d->tgt;
    if (st == ATTN_OK) st = attn_bleu_corpus(H, R, d->n, 1, NULL, &out->bleu);
    if (st == ATTN_OK) st = attn_bleu_corpus(H, R, d->n, 1, &lc, &out->bleu_lc);
    if (st == ATTN_OK) st = attn_chrf_corpus(H, R, d->n, 1, NULL, &out->chrf);
    return st;
}

void attn_mt_eval_free(attn_mt_eval *e)
{
    if (!e) return;
    attn_translator_free_strings(e->hyp, e->n);
    memset(e, 0, sizeof *e);
}
