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
    int log_every;                /* of old config files: warned about, not used */
} cls_run_config;

void cls_config_default(cls_run_config *c);
/* Read the JSON file over c (unknown keys and wrong types are errors naming the key). */
int cls_config_load(const char *path, cls_run_config *c);

/* A labelled, tokenised set (attn/train.h): review i holds ids[off[i] .. off[i+1]) (already
 * truncated); the command allocates it (cls_encode_texts) and frees it. */
typedef attn_cls_data cls_set;
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
/* PATH is a checkpoint, or a training run's directory (its final model, best.safetensors). */
int cls_model_load(const char *cmd, const char *path, cls_model *out);
void cls_model_free(cls_model *cm);
/* A checkpoint's metadata (NULL-terminated kv, strings in buf): config, arch, tokenizer (base64
 * in tok_b64, borrowed), truncation. */
int cls_model_meta(const attn_classifier *m, const char *tok_b64, int64_t head_tokens, char *buf, size_t cap,
                   const char **kv, int kv_cap);

#endif
