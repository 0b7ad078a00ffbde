/* lm.h — `attn train lm`, `attn eval lm` and `attn generate`, and the language model as `attn viz`
 * opens it: the library's attn_lm_model (lm_spm.h) under the names the command used. */
#ifndef ATTN_LM_H
#define ATTN_LM_H

#include "attn.h"
#include "../text/lm_spm.h"

typedef attn_lm_model lm_model;
static inline int lm_model_open(const char *path, lm_model *lm) { return attn_lm_model_open(path, lm); }
static inline void lm_model_free(lm_model *lm) { attn_lm_model_free(lm); }
static inline int lm_model_encode(const lm_model *lm, const char *what, const unsigned char *text, size_t len,
                                  int32_t **ids, int64_t *n)
{
    return attn_lm_model_encode(lm, what, text, len, ids, n);
}
static inline size_t lm_model_token(const lm_model *lm, int32_t id, const char **bytes)
{
    return attn_lm_model_token(lm, id, bytes);
}

int cli_train_lm(int argc, char **argv);
int cli_eval_lm(int argc, char **argv);
int cli_generate(int argc, char **argv);

#endif
