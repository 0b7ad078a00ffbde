/* gru_decode.h — translation with an attn_gru_seq2seq model (greedy or beam search). */
#ifndef ATTN_GRU_DECODE_H
#define ATTN_GRU_DECODE_H

#include "seq2seq_decode.h"

/* src [N, S] (pad_id after each row's tokens); out [N, max_len + 1], out_len [N] as
 * seq2seq_translate, with the same beam-search choices. The tape runs the encoder only. */
int gru_translate(attn_tape *t, const attn_gru_seq2seq *m, const int32_t *src, int64_t N, int64_t S,
                  const decode_options *o, int32_t *out, int64_t *out_len);

#endif
