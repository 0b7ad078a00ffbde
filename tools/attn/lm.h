/* lm.h — `attn train lm` and `attn generate`. */
#ifndef ATTN_LM_H
#define ATTN_LM_H

#include "attn.h"

int cli_train_lm(int argc, char **argv);
int cli_generate(int argc, char **argv);

#endif
