/*
 * attn/text_classifier.h — classify text with a saved model: a Transformer-encoder classifier
 * with the SentencePiece tokenizer stored inside its checkpoint, and the tokenisation of
 * labelled texts into the sets attn_cls_task trains on. Part of the tokenizer module
 * (libattn_text, pkg-config `attn-text`), beside libattn: it needs SentencePiece.
 *
 *     attn_text_classifier tc;
 *     if (attn_text_classifier_open("run/", &tc)) fail(attn_last_error());
 *     attn_cls_data d;
 *     attn_cls_encode_texts(tc.sp, texts, NULL, NULL, n, tc.m->cfg.max_len, tc.head_tokens, &d);
 *     attn_classifier_predict(tc.m, tape, &d, 64, probs);    // probs [n, classes]
 *     attn_cls_data_free(&d);
 *     attn_text_classifier_free(&tc);
 */
#ifndef ATTN_TEXT_CLASSIFIER_H
#define ATTN_TEXT_CLASSIFIER_H

#include "attn.h"
#include "spm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Tokenise texts (each cleaned first: attn_text_clean_alloc) into out: the texts i with
 * take[i] nonzero (take NULL: all), in order, each cut to max_len ids keeping its first head
 * (attn_truncate_head_tail); out->label from labels (NULL: 0). Several threads encode at once.
 * Free out with attn_cls_data_free; on failure it is empty. */
int attn_cls_encode_texts(const attn_spm *sp, char *const *texts, const int8_t *labels, const uint8_t *take,
                          int64_t n, int64_t max_len, int64_t head, attn_cls_data *out);

/* The classifier's tokenizer: SentencePiece BPE of `vocab` pieces (NFKC normalisation, 99.95 %
 * character coverage, seed + 1) learned from the cleaned texts i with take[i] nonzero (take
 * NULL: all), the first max_texts of them (0: all). */
int attn_cls_train_tokenizer(char *const *texts, const uint8_t *take, int64_t n, int64_t max_texts, int vocab,
                             int threads, uint64_t seed, attn_spm **sp);

/* A saved text classifier: the model, its tokenizer, how long reviews are cut. */
typedef struct attn_text_classifier {
    attn_classifier *m;
    attn_spm *sp;
    int64_t head_tokens; /* attn.truncate.head */
} attn_text_classifier;

/* Open path: a checkpoint written with attn_cls_model_meta's metadata, or a training run's
 * directory (its final model: best.safetensors, else model.safetensors). The tokenizer's
 * vocabulary must be the model's. ATTN_E_FORMAT for another kind of checkpoint; errors name
 * the file. *out is zeroed on failure. */
int attn_text_classifier_open(const char *path, attn_text_classifier *out);
void attn_text_classifier_free(attn_text_classifier *tc);

#ifdef __cplusplus
}
#endif
#endif
