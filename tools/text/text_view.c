/* text_view.c — a translation model's and a text classifier's attention on a text, as a view
 * (text_view.h): the tokenizer's pieces as the tokens, the maps from libattn's recorder. */
#include "text_view.h"
#include "translator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* text → ids + EOS (cut to cap − 1 ids first), and their pieces ("?" for an id without one). */
static int pieces(const attn_spm *sp, const char *text, int64_t cap, int32_t **ids, int64_t *n, const char ***tok)
{
    *tok = NULL;
    const int st = attn_spm_encode_alloc(sp, text, ids, n);
    if (st) return st;
    if (*n > cap - 1) *n = cap - 1;
    int32_t *g = realloc(*ids, (size_t)(*n + 1) * sizeof *g);
    *tok = malloc((size_t)(*n + 1) * sizeof **tok);
    if (!g || !*tok) {
        free(g ? g : *ids), free(*tok);
        *ids = NULL, *tok = NULL;
        return attn_set_error(ATTN_E_NOMEM, "attn_mt_attention_view: %lld tokens", (long long)*n);
    }
    *ids = g;
    (*ids)[(*n)++] = ATTN_SPM_EOS_ID;
    for (int64_t i = 0; i < *n; i++)
        if (attn_spm_id_to_piece(sp, (*ids)[i], &(*tok)[i]) != ATTN_OK) (*tok)[i] = "?";
    return ATTN_OK;
}

int attn_mt_attention_view(attn_tape *t, const attn_seq2seq *tf, const attn_gru_seq2seq *gru, const attn_spm *sp,
                           const char *input, const char *target, attn_attention_view **out)
{
    if (!out) return attn_set_error(ATTN_E_ARG, "attn_mt_attention_view: out is NULL");
    *out = NULL;
    if (!tf == !gru || !sp || !input)
        return attn_set_error(ATTN_E_ARG, "attn_mt_attention_view: tf %p, gru %p (one of them), sp %p, input %p",
                              (const void *)tf, (const void *)gru, (const void *)sp, (const void *)input);
    const int64_t maxL = tf ? tf->cfg.max_len : gru->cfg.max_len;
    attn_tape *own = NULL;
    attn_tape_config tc = {0};
    int st = t ? ATTN_OK : attn_tape_create(&tc, &own);
    if (!t) t = own;
    char **hyp = NULL;
    if (st == ATTN_OK && !target) { /* the model's own translation */
        attn_generate_options o = {.beam = 5, .len_penalty = 0.6f};
        st = attn_translate_texts(t, tf, gru, sp, &input, 1, &o, 1, &hyp);
        if (st == ATTN_OK) target = hyp[0];
    }
    int32_t *sid = NULL, *tid = NULL, *tin = NULL;
    int64_t S = 0, T = 0;
    const char **stok = NULL, **ttok = NULL;
    if (st == ATTN_OK) st = pieces(sp, input, maxL, &sid, &S, &stok);
    if (st == ATTN_OK) st = pieces(sp, target, maxL, &tid, &T, &ttok);
    if (st == ATTN_OK && S < 2) st = attn_set_error(ATTN_E_ARG, "the input is empty: nothing to attend to");
    if (st == ATTN_OK && !(tin = malloc((size_t)T * sizeof *tin)))
        st = attn_set_error(ATTN_E_NOMEM, "attn_mt_attention_view");
    char title[2048];
    snprintf(title, sizeof title, "%s -> %s", input, target ? target : "");
    attn_attention_view *v = NULL;
    if (st == ATTN_OK) st = attn_attention_view_create(&v, title, stok, (int)S, ttok, (int)T);
    if (st == ATTN_OK) { /* decoder input: BOS + the output pieces (row t produces piece t) */
        tin[0] = ATTN_SPM_BOS_ID;
        memcpy(tin + 1, tid, (size_t)(T - 1) * sizeof *tin);
        st = tf ? attn_attention_view_record_seq2seq(v, t, tf, sid, tin)
                : attn_attention_view_record_gru_seq2seq(v, t, gru, sid, tin);
    }
    if (st == ATTN_OK) *out = v;
    else attn_attention_view_free(v);
    free(sid), free(tid), free(tin), free(stok), free(ttok);
    attn_translator_free_strings(hyp, hyp ? 1 : 0);
    attn_tape_free(own);
    return st;
}

int attn_text_classifier_attention_view(const attn_text_classifier *c, attn_tape *t, const char *text, double *probs,
                                        attn_attention_view **out)
{
    if (!out) return attn_set_error(ATTN_E_ARG, "attn_text_classifier_attention_view: out is NULL");
    *out = NULL;
    if (!c || !c->m || !c->sp || !text)
        return attn_set_error(ATTN_E_ARG, "attn_text_classifier_attention_view: classifier %p, text %p",
                              (const void *)c, (const void *)text);
    char *texts[1] = {(char *)text};
    int8_t label = 0;
    attn_cls_data s = {0};
    int st = attn_cls_encode_texts(c->sp, texts, &label, NULL, 1, c->m->cfg.max_len, c->head_tokens, &s);
    if (st) return st;
    const int64_t n = s.off[1];
    const char **tok = malloc((size_t)(n ? n : 1) * sizeof *tok);
    st = n == 0 ? attn_set_error(ATTN_E_ARG, "the input has no tokens: nothing to attend to")
             : tok  ? ATTN_OK
                    : attn_set_error(ATTN_E_NOMEM, "attn_text_classifier_attention_view: %lld tokens", (long long)n);
    for (int64_t i = 0; i < n && st == ATTN_OK; i++) st = attn_spm_id_to_piece(c->sp, s.ids[i], &tok[i]);
    attn_attention_view *v = NULL;
    if (st == ATTN_OK) st = attn_attention_view_create(&v, NULL, tok, (int)n, NULL, 0);
    if (st == ATTN_OK) st = attn_attention_view_record_classifier(v, t, c->m, s.ids, probs);
    if (st == ATTN_OK) *out = v;
    else attn_attention_view_free(v);
    free(tok);
    attn_cls_data_free(&s);
    return st;
}
