/* classify.h — what the text-classification commands share (attn train|eval classify,
 * attn classify, attn viz on a classifier): the run configuration, data sets, the tokenizer
 * carried inside the checkpoint, batching. */
#ifndef ATTN_CLASSIFY_H
#define ATTN_CLASSIFY_H

#include "attn.h"
#include "../text/translator.h"
#include "cli.h"

#include <stdio.h>

/* A training run's settings: the model's and the optimiser's (JSON config file, keys as the
 * field names; see configs/imdb.json). */
typedef struct cls_run_config {
    attn_classifier_config model; /* vocab is the tokenizer's */
    int vocab_size;               /* tokenizer pieces asked for */
    int64_t tokenizer_reviews;    /* reviews the tokenizer is trained on (0: all) */
    int64_t head_tokens;          /* kept from the start of a long review; the rest from its end */
    int64_t batch_size;
    int epochs;
    int64_t max_steps;            /* stop after this many steps (0: epochs decide) */
    float lr, min_lr_ratio, weight_decay, label_smoothing, clip;
    double warmup_fraction;
    double val_fraction;
    int64_t max_train;            /* use the first n training reviews only (0: all) */
    uint64_t seed;
    int log_every;
} cls_run_config;

void cls_config_default(cls_run_config *c);
/* Read the JSON file over c (unknown keys and wrong types are errors naming the key). */
int cls_config_load(const char *path, cls_run_config *c);

/* A labelled, tokenised set: review i holds ids[off[i] .. off[i+1]) (already truncated). */
typedef struct cls_set {
    int64_t n;
    int64_t *off;
    int32_t *ids;
    int32_t *label;
} cls_set;
void cls_set_free(cls_set *s);

/* Load IMDb from PATH: a directory with <split>.tsv.gz (+ <split>.ids), an aclImdb/ folder (its
 * <split>/ is read), a split folder holding pos/ and neg/, or a .tsv(.gz) file. split: "train"
 * or "test". Messages go to stderr naming the file. */
int cls_load_imdb(const char *cmd, const char *path, const char *split, attn_imdb **out);

/* Clean a text (HTML breaks, entities, spaces) into a new string. NULL: out of memory. */
char *cls_clean(const char *text);


/* Tokenise texts[i] (cleaned here) truncated head+tail to max_len. */
int cls_encode_texts(const attn_spm *sp, char *const *texts, const int8_t *labels,
                     const uint8_t *take, int64_t n, int64_t max_len, int64_t head, cls_set *out);

/* A saved classifier: model, tokenizer, truncation. */
typedef struct cls_model {
    attn_classifier *m;
    attn_spm *sp;
    int64_t head_tokens;
    int pieces; /* attn classify --pieces */
} cls_model;
int cls_model_load(const char *cmd, const char *path, cls_model *out);
void cls_model_free(cls_model *cm);
/* Metadata of a checkpoint: config, arch, tokenizer (base64 in tok_b64), truncation, plus the
 * extra pairs (NULL-terminated). Written atomically. */
int cls_model_save(const attn_classifier *m, const char *tok_b64, int64_t head_tokens,
                   const char *path, const char *const *extra);

/* Gather batch rows idx[0..nb) of s into ids [nb, T] (T = longest row, padded with pad_id)
 * and labels; *T_out = T. ids needs nb·max_len. */
void cls_batch(const cls_set *s, const int64_t *idx, int64_t nb, int32_t pad_id, int32_t *ids,
               int32_t *labels, int64_t *T_out);

/* Softmax probabilities [n, C] of every review in s (evaluation mode), batch by batch. */
int cls_predict(attn_tape *t, const attn_classifier *m, const cls_set *s, int64_t batch,
                float *probs);

#endif
