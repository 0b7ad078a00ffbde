/* seq2seq_cache.h — decoding an attn_seq2seq model with a key/value cache (inference only,
 * outside the tape): the decoder runs one position per step for all rows at once; each layer's
 * self-attention keys/values are appended to a cache and attended with the bottom-right causal
 * alignment (one query over t+1 keys), and the cross-attention keys/values of the encoder
 * output are computed once. Same interface and same choices as seq2seq_translate (greedy,
 * beam search with the same candidate order and length penalty), sentences batched together. */
#ifndef ATTN_SEQ2SEQ_CACHE_H
#define ATTN_SEQ2SEQ_CACHE_H

#include "seq2seq_decode.h"

/* The tape runs the encoder only. out [N, max_len + 1], out_len [N] as seq2seq_translate. */
int seq2seq_translate_cached(attn_tape *t, const attn_seq2seq *m, const int32_t *src, int64_t N,
                             int64_t S, const decode_options *opt, int32_t *out, int64_t *out_len);

#endif
