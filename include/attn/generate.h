/*
 * attn/generate.h — generating sequences with the library's models: greedy decoding, beam search
 * with a length penalty, and sampling (temperature, top-k, top-p, seeded), for the encoder–decoder
 * Transformer, the GRU encoder–decoder and the GPT.
 *
 * Two layers, as llama2.c separates forward(pos) from generate():
 *
 *  - A stepper (attn_stepper) runs a model one position at a time for R rows together: fed the
 *    token of each row at position pos, it returns each row's next-token log-probabilities, and
 *    it can reorder its rows (beam search keeps the rows of the best hypotheses). The key/value
 *    cached steppers keep each layer's keys and values and run an incremental step of the very
 *    layer code the training forward runs (attn_linear_rows, attn_layernorm_rows,
 *    attn_activation_rows, attn_sdpa_forward); the uncached ones re-run the model's tape forward
 *    on the whole prefix (the reference the cached ones are tested against). All memory is sized
 *    when the stepper is created: a step allocates nothing.
 *  - attn_generate runs a search over any stepper. The model-level calls (attn_seq2seq_generate,
 *    attn_gru_seq2seq_generate, attn_gpt_generate) build the stepper, bound the length and run it.
 *
 * Outputs: out [N, cap] int32: row i holds its generated ids (never the prompt or BOS), then
 * eos_id if the row finished, then pad; out_len[i] = ids before EOS. A row stops at EOS, at
 * max_new tokens, at cap − 1 tokens, at the model's length bound, or when the time limit ends
 * the whole call (info->timed_out).
 */
#ifndef ATTN_GENERATE_H
#define ATTN_GENERATE_H

#include "attn/models.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ATTN_MAX_BEAM 256

/* Zero-initialised: greedy, no EOS, no limits but the model's and cap's. */
typedef struct attn_generate_options {
    int32_t bos_id;      /* encoder–decoders: the decoder's first input */
    int32_t eos_id;      /* ends a row; −1: none (a GPT writing free text) */
    int64_t max_new;     /* most tokens generated per row (EOS not counted); 0: the model bound */
    int beam;            /* 0 or 1: one hypothesis per row; 2..ATTN_MAX_BEAM: beam search */
    float len_penalty;   /* beam: rank by logp / ((5 + len) / 6)^α (GNMT); 0: raw logp */
    int sample;          /* nonzero: draw each token instead of the arg max (beam ≤ 1) */
    float temperature;   /* sampling: logits / temperature; 0: 1 */
    int top_k;           /* sampling: only the k most likely tokens; 0: all */
    float top_p;         /* sampling: the smallest set of most likely tokens with mass ≥ p; 0: 1 */
    uint64_t seed;       /* sampling: draw t of row i is uniform(seed, i, t) (Philox) */
    double max_seconds;  /* stop every row after this much wall time; 0: no limit */
    int no_cache;        /* model-level calls: the uncached reference stepper */
    /* Called after each generated position (greedy and sampling only) with the token chosen
     * for each of the N rows (−1 for rows already finished); a nonzero return stops the call
     * (ATTN_OK, info->stopped). For streaming text as it is produced. NULL: none. */
    int (*on_token)(void *ctx, int64_t step, const int32_t *tokens, int64_t N);
    void *ctx;
} attn_generate_options;

typedef struct attn_generate_info {
    int64_t steps;       /* positions run */
    int64_t max_new;     /* the length bound used */
    int timed_out;       /* max_seconds ended the call */
    int stopped;         /* on_token asked to stop */
} attn_generate_info;

/* ---- steppers ---------------------------------------------------------------------------- */

typedef struct attn_stepper attn_stepper;

/* Feed y [R] at position pos (0, 1, … in order) → logp [R, vocab] log-probabilities of each
 * row's next token (NULL: run the position without scoring, e.g. a prompt's tokens). */
ATTN_API int attn_stepper_step(attn_stepper *s, const int32_t *y, int64_t pos, float *logp);
/* Rows r continue the state of rows parent[r] (after positions 0..pos). */
ATTN_API int attn_stepper_reorder(attn_stepper *s, const int64_t *parent, int64_t pos);
ATTN_API int64_t attn_stepper_rows(const attn_stepper *s);
ATTN_API int64_t attn_stepper_vocab(const attn_stepper *s);
/* Most positions the stepper can run (its caches' length). */
ATTN_API int64_t attn_stepper_max_positions(const attn_stepper *s);
ATTN_API void attn_stepper_free(attn_stepper *s);

/* Encoder–decoder Transformer on R = N·rows_per_src rows: row r decodes source r / rows_per_src
 * of src [N, S] (pad_id after each row's tokens; the encoder runs once, on t, which is reset).
 * max_pos ≤ cfg.max_len positions. cached 0: re-run the decoder on the prefix at every step. */
ATTN_API int attn_seq2seq_stepper_create(const attn_seq2seq *m, attn_tape *t, const int32_t *src,
                                         int64_t N, int64_t S, int64_t rows_per_src,
                                         int64_t max_pos, int cached, attn_stepper **out);
/* GRU encoder–decoder with additive attention, as above (always stepped: a GRU carries its
 * state). */
ATTN_API int attn_gru_seq2seq_stepper_create(const attn_gru_seq2seq *m, attn_tape *t,
                                             const int32_t *src, int64_t N, int64_t S,
                                             int64_t rows_per_src, int64_t max_pos,
                                             attn_stepper **out);
/* GPT on R rows, max_pos ≤ cfg.context positions. threads ≤ 0: attn_get_num_threads(). The
 * uncached stepper runs on its own tape. */
ATTN_API int attn_gpt_stepper_create(const attn_gpt *m, int64_t R, int64_t max_pos, int cached,
                                     int threads, attn_stepper **out);

/* ---- search -------------------------------------------------------------------------------- */

/* Generate for N sequences over stepper s (R = N·beam rows, row i·K + k being hypothesis k of
 * sequence i). prompt [N, P] (P ≥ 1): tokens fed at positions 0..P−1 before the first generated
 * one (encoder–decoders: P = 1, BOS). max_new: the bound (also cut to cap − 1 and to the
 * stepper's positions − P). info may be NULL. */
ATTN_API int attn_generate(attn_stepper *s, int64_t N, const int32_t *prompt, int64_t P,
                           const attn_generate_options *o, int32_t *out, int64_t cap,
                           int64_t *out_len, attn_generate_info *info);

/* Translate N sources src [N, S] (pad_id-padded). The length bound when max_new is 0: each
 * source's own, twice its real tokens plus 10, within the model's max_len − 1 (so a sentence's
 * translation does not depend on the batch around it). t: the tape the encoder runs on (NULL: a
 * temporary one with attn_get_num_threads() threads). */
ATTN_API int attn_seq2seq_generate(const attn_seq2seq *m, attn_tape *t, const int32_t *src,
                                   int64_t N, int64_t S, const attn_generate_options *o,
                                   int32_t *out, int64_t cap, int64_t *out_len,
                                   attn_generate_info *info);
ATTN_API int attn_gru_seq2seq_generate(const attn_gru_seq2seq *m, attn_tape *t,
                                       const int32_t *src, int64_t N, int64_t S,
                                       const attn_generate_options *o, int32_t *out, int64_t cap,
                                       int64_t *out_len, attn_generate_info *info);
/* Continue N prompts of P tokens each (prompt [N, P]) by max_new tokens (0: up to the context,
 * context − P), at most cap − 1. Beyond the context the window slides, as a GPT with absolute
 * positions must: when the context is full, the last ⌊context/2⌋ tokens of each row (prompt and
 * text together) start a new round through the same cache, sampling with the seed
 * seed + round·0x9E3779B97F4A7C15 (round 0 is the call's own seed, so a call within the context
 * is unchanged). on_token's step counts across rounds. Beam search stays within the context. */
ATTN_API int attn_gpt_generate(const attn_gpt *m, const int32_t *prompt, int64_t N, int64_t P,
                               const attn_generate_options *o, int32_t *out, int64_t cap,
                               int64_t *out_len, attn_generate_info *info);

/* Rows of logits [R, V] → log-probabilities, in place (sums in double, fixed order). */
ATTN_API void attn_log_softmax_rows(float *z, int64_t R, int64_t V);

#ifdef __cplusplus
}
#endif
#endif /* ATTN_GENERATE_H */
