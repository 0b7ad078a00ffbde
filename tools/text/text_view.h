/*
 * attn/text_view.h — what the tokenizer module's models attend to on a text, as an attention
 * view (attn/analysis.h: save it as attention.json, measure it, draw it with `attn viz
 * --from-json`). Part of the tokenizer module (libattn_text) beside libattn: it needs
 * SentencePiece for the tokens. What `attn viz --model M --input TEXT` records.
 *
 *     attn_attention_view *v;
 *     if (attn_mt_attention_view(NULL, tf, NULL, sp, "The red dog runs.", NULL, &v))
 *         fail(attn_last_error());
 *     attn_attention_view_save(v, "attention.json");
 *     attn_attention_view_free(v);
 *
 * t: the tape the forward runs on (NULL: a temporary one), as in attn/analysis.h. The view in
 * *out is the caller's (attn_attention_view_free; NULL on failure). Errors through
 * attn_last_error; ATTN_E_ARG with a message for the user for an input without tokens.
 */
#ifndef ATTN_TEXT_VIEW_H
#define ATTN_TEXT_VIEW_H

#include "attn.h"
#include "spm.h"
#include "text_classifier.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A subword translation model (exactly one of tf, gru; sp its tokenizer) on input against
 * target (NULL: the model's own beam-5 translation, length penalty 0.6). Tokens: the pieces of
 * each side then "</s>" (each side cut to the model's length), title "<input> -> <target>"; the
 * Transformer's every map, or the GRU's additive attention as cross-attention layer 0 head 0. */
int attn_mt_attention_view(attn_tape *t, const attn_seq2seq *tf, const attn_gru_seq2seq *gru,
                           const attn_spm *sp, const char *input, const char *target,
                           attn_attention_view **out);

/* A text classifier on text (cleaned and cut as attn_cls_encode_texts does): its pieces as
 * source tokens, every self-attention map (ATTN_ATTENTION_CLASSIFIER_SELF), no title. probs
 * (may be NULL): the class probabilities [num_classes], as attn_attention_view_record_classifier
 * gives them. */
int attn_text_classifier_attention_view(const attn_text_classifier *c, attn_tape *t, const char *text,
                                        double *probs, attn_attention_view **out);

#ifdef __cplusplus
}
#endif
#endif
