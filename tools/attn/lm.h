/* lm.h — `attn train lm`, `attn eval lm` and `attn generate` (the language model itself is the
 * library's attn_lm_model, lm_spm.h). */
#ifndef ATTN_LM_H
#define ATTN_LM_H

#include "attn.h"
#include "../text/lm_spm.h"

int cli_train_lm(int argc, char **argv);
int cli_eval_lm(int argc, char **argv);
int cli_generate(int argc, char **argv);

#endif
