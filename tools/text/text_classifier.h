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

/* ---- applying a saved classifier; a whole training run (runs) -------------------------------- */

/* Class probabilities probs [n, classes] of n raw texts (each tokenised as attn_cls_encode_texts
 * does with tc's tokenizer and truncation), batch texts of similar length at a time on tape t. */
int attn_text_classifier_predict(const attn_text_classifier *tc, attn_tape *t, char *const *texts, int64_t n,
                                 int64_t batch, float *probs);
/* The report (attn_cls_evaluate: accuracy, per-class precision/recall/F1, confusion) of tc on n
 * labelled texts; free it with attn_cls_report_free (it is zeroed first, so also after a failure). */
int attn_text_classifier_evaluate(const attn_text_classifier *tc, attn_tape *t, char *const *texts,
                                  const int8_t *labels, int64_t n, int64_t batch, attn_cls_report *r);
/* Class k's name among `classes`: "negative" and "positive" for two (IMDb's), "class<k>"
 * (written into buf) otherwise. */
const char *attn_cls_class_name(int64_t k, int64_t classes, char *buf, size_t cap);

/* ---- a whole training run ---------------------------------------------------------- */

/* What attn_cls_run did, filled as it goes (attn_run_hooks: each stage sees its part set). */
typedef struct attn_cls_run_result {
    double tokenizer_seconds;          /* ATTN_RUN_TOKENIZER: learning it took */
    int64_t n_train, train_tokens;     /* ATTN_RUN_DATA: training reviews and their tokens, */
    int64_t n_val;                     /* validation reviews (split by movie), */
    double encode_seconds;             /* and the time encoding both took */
    const attn_spm *sp;                /* ATTN_RUN_DATA, ATTN_RUN_MODEL: the tokenizer and the */
    const attn_cls_data *train_set, *val_set; /* encoded sets, valid during the stage calls only */
    int64_t params, steps, steps_per_epoch;   /* ATTN_RUN_MODEL */
    attn_train_result train;           /* at the end (final_name: the final model in out_dir) */
} attn_cls_run_result;

/* Train (or resume) a text classifier, as `attn train classify` does: the labelled reviews of
 * data (attn_imdb_open's PATH, split "train"; the first c->max_train when nonzero), a validation
 * share carved out by movie (attn_imdb_split_by_movie), a SentencePiece tokenizer learned from
 * the training reviews (attn_cls_train_tokenizer, threads: the library's; on resume the one in
 * out_dir/run.safetensors), the reviews encoded (attn_cls_encode_texts), a classifier made from
 * c->model and c->seed, attn_cls_task on attn_train_run with AdamW (β2 0.98), warm-up then cosine
 * over the run's steps, and every model file carrying attn_cls_model_meta's metadata. out_dir is
 * created once the data is read. hooks may be NULL (one process, no callbacks); with a
 * communicator every rank checks that the others run the same configuration, rank 0 learns the
 * tokenizer and sends it (attn_spm_share). Errors: the data's, the tokenizer's, ATTN_E_ARG when
 * no training review is left, the trainer's; res is filled up to where it stopped. */
int attn_cls_run(const attn_cls_run_config *c, const char *data, const char *out_dir, int resume,
                 const attn_run_hooks *hooks, attn_cls_run_result *res);

/* The encoded sets for a comparison with PyTorch (bench/torch_imdb.py), in one safetensors file
 * at path: F32 tensors <set>.ids [n, max_len] (pad_id-padded) and <set>.labels [n] for "train",
 * "val" and, when data has a test split, "test" (encoded here with sp as c says); metadata: the
 * run's settings and "config" = config_name (NULL: "(defaults)"). */
int attn_cls_export_tokens(const char *path, const attn_spm *sp, const attn_cls_data *train,
                           const attn_cls_data *val, const char *data, const attn_cls_run_config *c,
                           const char *config_name);

#ifdef __cplusplus
}
#endif
#endif
