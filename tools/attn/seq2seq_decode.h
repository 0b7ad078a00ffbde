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
 * best continuations into `next` (finished hypotheses carry over once; ties by index). Finished
 * and live hypotheses are ranked by the same length-normalised score (as tensor2tensor does):
 * ranking live ones by their raw log-probability let finished short ones crowd them out, the
 * more so the larger α (the GRU on Multi30k validation: brevity penalty 0.80, BLEU 31.7; ranked
 * alike, 0.96 and 33.7).
 * parent[n] (may be NULL) receives the beam row each chosen hypothesis extends.
 * cand: scratch of K·(V + 2) doubles. Shared by the uncached and the key/value-cached decoders so
 * that both choose the same tokens. */
void decode_beam_step(const decode_options *o, const decode_hyp *beam, const float *logp, int64_t K,
                      int64_t V, int64_t T, double *cand, decode_hyp *next, int64_t *parent);

/* A decoder that runs one position at a time for R rows together (the key/value-cached
 * Transformer, the GRU with additive attention): step turns the tokens y [R] fed at position p
 * into next-token log-probabilities logp [R, V]; reorder makes rows r continue the state of
 * rows parent[r] (beam search, after positions 0..p). */
typedef struct decode_stepper {
    void *state;
    int64_t vocab;
    int32_t pad_id;
    int (*step)(void *state, const int32_t *y, int64_t p, float *logp);
    int (*reorder)(void *state, const int64_t *parent, int64_t p);
} decode_stepper;

/* Greedy decoding of N rows; out, out_len as seq2seq_translate. */
int decode_rows_greedy(const decode_stepper *d, int64_t N, const decode_options *o, int32_t *out,
                       int64_t *out_len);
/* Beam search of N sentences on N·beam rows (sentence i on rows i·K .. i·K + K − 1), with
 * decode_beam_step's choices; out, out_len [N] as seq2seq_translate. */
int decode_rows_beam(const decode_stepper *d, int64_t N, const decode_options *o, int32_t *out,
                     int64_t *out_len);
/* Rows of logits [R, V] → log-probabilities, in place. */
void decode_log_softmax(float *logp, int64_t R, int64_t V);

#endif
