/* classify.h — what the text-classification commands share (attn train|eval classify,
 * attn classify, attn viz on a classifier): the library's run configuration (attn/train.h),
 * data sets (attn/data.h), the saved model with its tokenizer and the tokenisation of texts
 * (attn/text_classifier.h), with their errors printed as "attn CMD: MESSAGE". */
#ifndef ATTN_CLASSIFY_H
#define ATTN_CLASSIFY_H

#include "attn.h"
#include "../text/text_classifier.h"
#include "../text/translator.h"
#include "cli.h"
#include "config.h"

#include <stdio.h>

/* Read the JSON file over c (unknown keys and wrong types are errors naming the key). */
static inline int cls_config_load(const char *path, attn_cls_run_config *c)
{
    int legacy = 0, st = attn_cls_run_config_load(path, c, &legacy);
    if (cfg_report("train classify", path, legacy, st)) return st;
    if (c->log_every)
        fprintf(stderr, "attn train classify: config %s: log_every is no longer used (metrics.csv has a row per "
                        "epoch)\n", path);
    return st;
}

/* IMDb's split from PATH (attn_imdb_open). */
static inline int cls_load_imdb(const char *cmd, const char *path, const char *split, attn_imdb **out)
{
    int st = attn_imdb_open(path, split, out);
    if (st) fprintf(stderr, "attn %s: %s\n", cmd, attn_last_error());
    return st;
}

/* PATH is a checkpoint, or a training run's directory (its final model, best.safetensors). */
static inline int cls_model_load(const char *cmd, const char *path, attn_text_classifier *out)
{
    int st = attn_text_classifier_open(path, out);
    if (st) fprintf(stderr, "attn %s: %s\n", cmd, attn_last_error());
    return st;
}

/* Clean a text (HTML breaks, entities, spaces) into a new string. NULL: out of memory. */
static inline char *cls_clean(const char *text)
{
    char *o = NULL;
    return attn_text_clean_alloc(text, &o) ? NULL : o;
}

#endif
