/* viz_model.h — recording what a saved encoder–decoder attends to (`attn viz --model M`). */
#ifndef ATTN_VIZ_MODEL_H
#define ATTN_VIZ_MODEL_H

#include "attn.h"
#include "viz.h"

/* Run the character-level seq2seq model on `input` with teacher forcing on `target` (NULL:
 * its own greedy translation) and record every attention map (encoder self, decoder self,
 * cross; every layer and head) into a new record. Target token t is the output character t,
 * and row t of the decoder maps is the query that produces it. ex (may be NULL) gives the
 * gold alignment of a date example. */
int viz_seq2seq_record(attn_tape *t, const attn_seq2seq *m, const char *input, const char *target,
                       const attn_dates_example *ex, attn_attention_view **out);

/* `attn viz` on a text classifier (viz_classify.c): every self-attention map and the tokens
 * shaded by rollout to the pooled output, into out. Returns the exit status. */
int viz_classify_run(const char *model, const char *input, const char *out, int metrics);

/* `attn viz` on a GPT (viz_gpt.c): an `attn train lm` checkpoint or a Hugging Face GPT-2
 * directory; every layer's and head's causal self-attention over the input's tokens. */
int viz_gpt_run(const char *model, const char *input, const char *out, int metrics);

#endif
