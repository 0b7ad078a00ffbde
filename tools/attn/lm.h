/* lm.h — `attn train lm` and `attn generate`. */
#ifndef ATTN_LM_H
#define ATTN_LM_H

#include "attn.h"
#include "../text/lm_spm.h"

/* A model to generate with or evaluate (lm_model.c): an `attn train lm` checkpoint (character
 * vocabulary, or a SentencePiece BPE: attn.tokenizer "chars" or "spm") or a Hugging Face GPT-2
 * directory (byte-level BPE). */
typedef struct lm_model {
    attn_gpt *m;
    attn_bpe *bpe;          /* GPT-2 directories */
    attn_lm_spm *spm;       /* checkpoints of attn train lm --tokenizer bpe */
    attn_chars chars;       /* checkpoints of attn train lm (characters) */
} lm_model;
int lm_model_open(const char *path, lm_model *lm);
void lm_model_free(lm_model *lm);
/* text → ids (malloc'ed); a byte outside a character vocabulary fails naming `what`, its line,
 * its byte in the line and its offset. */
int lm_model_encode(const lm_model *lm, const char *what, const unsigned char *text, size_t len, int32_t **ids,
                    int64_t *n);
/* The bytes of token id (0 bytes when there is none). */
size_t lm_model_token(const lm_model *lm, int32_t id, const char **bytes);

int cli_train_lm(int argc, char **argv);
int cli_eval_lm(int argc, char **argv);
int cli_generate(int argc, char **argv);

#endif
