/* lm.h — character-level language models for `attn train lm` and `attn generate`: the text as
 * ids over the file's distinct bytes, and the vocabulary as stored in a checkpoint. */
#ifndef ATTN_LM_H
#define ATTN_LM_H

#include "attn.h"

typedef struct lm_text {
    int32_t *ids;          /* [n] */
    int64_t n;
    int V;                 /* distinct bytes */
    unsigned char vocab[256]; /* id → byte */
    int32_t id[256];       /* byte → id */
} lm_text;

/* A whole file (≤ 1 GiB) as ids. */
int lm_text_load(const char *path, lm_text *d);
void lm_text_free(lm_text *d);
/* The vocabulary as base64 (attn.chars.vocab), malloc'ed. */
int lm_vocab_meta(const lm_text *d, char **b64);

int cli_train_lm(int argc, char **argv);
int cli_generate(int argc, char **argv);

#endif
