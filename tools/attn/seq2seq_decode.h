/* seq2seq_decode.h — greedy and beam-search decoding of an attn_seq2seq model. */
#ifndef ATTN_SEQ2SEQ_DECODE_H
#define ATTN_SEQ2SEQ_DECODE_H

#include "attn.h"

#define ATTN_TRY_CLI(e)                                                                         \
    do {                                                                                       \
        int s_ = (e);                                                                          \
        if (s_ < 0) return s_;                                                                 \
    } while (0)

typedef struct decode_options {
    int32_t bos_id, eos_id;
    int64_t max_len;   /* most tokens generated (EOS excluded) */
    int beam;          /* 1: greedy */
    float len_penalty; /* beam score = logprob / ((5 + len) / 6)^α (GNMT); 0: raw logprob */
} decode_options;

/* Translate N source sequences src [N, S] (pad_id-padded). out [N, max_len + 1]: generated
 * ids (without BOS) ending with EOS or cut at max_len, then pad_id; out_len[N] the number of
 * ids before EOS. The tape is reset and used in evaluation mode. */
int seq2seq_translate(attn_tape *t, const attn_seq2seq *m, const int32_t *src, int64_t N, int64_t S,
                      const decode_options *opt, int32_t *out, int64_t *out_len);

/* A beam hypothesis: generated ids (without BOS), their total log-probability, finished. */
typedef struct decode_hyp {
    int32_t *ids; /* [max_len + 1] */
    int64_t len;
    double logp;
    int done;
} decode_hyp;

/* Score by which hypotheses are ranked: finished ones length-normalised (GNMT). */
double decode_beam_score(const decode_options *o, const decode_hyp *h);

/* One step of beam search for one sentence: from the K hypotheses `beam` and their next-token
 * log-probabilities logp [K, V] at step T (1-based; T = max_len + 1 forces EOS), choose the K
 * best continuations into `next` (finished hypotheses carry over once; ties by index).
 * parent[n] (may be NULL) receives the beam row each chosen hypothesis extends.
 * cand: scratch of K·V doubles. Shared by the uncached and the key/value-cached decoders so
 * that both choose the same tokens. */
void decode_beam_step(const decode_options *o, const decode_hyp *beam, const float *logp, int64_t K,
                      int64_t V, int64_t T, double *cand, decode_hyp *next, int64_t *parent);

#endif
