/* generate_internal.h — what the steppers and the search share: the stepper object and the
 * key/value-cached incremental step of a Transformer layer. */
#ifndef ATTN_GENERATE_INTERNAL_H
#define ATTN_GENERATE_INTERNAL_H

#include "internal.h"
#include "attn/generate.h"

/* A stepper's behaviour; state is owned (free releases it). */
typedef struct attn_stepper_ops {
    int (*step)(void *state, const int32_t *y, int64_t pos, float *logp);
    int (*reorder)(void *state, const int64_t *parent, int64_t pos);
    void (*free)(void *state);
} attn_stepper_ops;

struct attn_stepper {
    const attn_stepper_ops *ops;
    void *state;
    int64_t rows, vocab, max_pos;
    int32_t pad_id; /* what a row reads after its EOS */
};

/* Wrap state into a stepper (on failure the state is freed with ops->free). */
ATTN_INTERNAL int attn_stepper_wrap(const attn_stepper_ops *ops, void *state, int64_t rows,
                                    int64_t vocab, int64_t max_pos, int32_t pad_id,
                                    attn_stepper **out);

/* ---- key/value-cached incremental step of a Transformer layer ------------------------------ */
/* R rows advance one position at a time; layer l's self-attention keys and values of positions
 * 0..pos live in k[l], v[l] = [R, H, cap, hd] (spares k2, v2 for reordering without
 * allocating). x [R, d] is the residual stream; h, q, a [R, d] and f [R, ff] are work rows. */
typedef struct attn_kv {
    int64_t R, d, H, hd, nl, cap, ff;
    int threads;
    float *k, *v, *k2, *v2;
    float *x, *h, *q, *a, *f;
} attn_kv;

ATTN_INTERNAL int attn_kv_init(attn_kv *c, int64_t R, int64_t d, int64_t H, int64_t nl,
                               int64_t cap, int64_t ff, int threads);
ATTN_INTERNAL void attn_kv_free(attn_kv *c);
/* Refuse attention modules the step does not cover (bias_k/v, zero attention, kdim ≠ d). */
ATTN_INTERNAL int attn_kv_check_mha(const char *fn, const attn_mha *a, int64_t d);
/* x = x + sa(norm(x)) (pre-norm) or norm(x + sa(x)), sa causal over positions 0..pos of layer
 * l's cache, after appending position pos's key and value. */
ATTN_INTERNAL int attn_kv_self(attn_kv *c, const attn_mha *a, const attn_layernorm *n,
                               int norm_first, int64_t l, int64_t pos);
/* The same with cross-attention over precomputed keys/values ck, cv [R, H, S, hd]; keep [R, S]
 * nonzero for real source positions. */
ATTN_INTERNAL int attn_kv_cross(attn_kv *c, const attn_mha *a, const attn_layernorm *n,
                                int norm_first, const float *ck, const float *cv,
                                const uint8_t *keep, int64_t S);
/* Keys and values of memory [R, S, d] for cross-attention a → ck, cv [R, H, S, hd]; tmp
 * [R·S, d] scratch. */
ATTN_INTERNAL int attn_kv_project_memory(const attn_kv *c, const attn_mha *a, const float *mem,
                                         int64_t S, float *tmp, float *ck, float *cv);
/* x = x + ffn(norm(x)) or norm(x + ffn(x)). */
ATTN_INTERNAL int attn_kv_ffn(attn_kv *c, const attn_ffn *f, const attn_layernorm *n,
                              int norm_first);
/* Rows r take the caches (positions 0..pos) of rows parent[r]. */
ATTN_INTERNAL void attn_kv_reorder(attn_kv *c, const int64_t *parent, int64_t pos);

/* What every generation call starts with: info (or *local when info is NULL) cleared with
 * max_new = L, out [N, cap] filled with s's pad id, out_len zeroed. Returns the info to fill. */
ATTN_INTERNAL attn_generate_info *attn_generate_start(const attn_stepper *s, int64_t N, int64_t cap, int64_t L,
                                                      int32_t *out, int64_t *out_len, attn_generate_info *info,
                                                      attn_generate_info *local);
/* attn_generate with a length bound per sequence (row_max [N], each ≤ the call's bound; NULL:
 * none): a sequence's result then does not depend on the others decoded beside it. */
ATTN_INTERNAL int attn_generate_bounded(attn_stepper *s, int64_t N, const int32_t *prompt, int64_t P,
                                        const int64_t *row_max, const attn_generate_options *o,
                                        int32_t *out, int64_t cap, int64_t *out_len,
                                        attn_generate_info *info);

/* ---- the token prefix of the uncached (reference) steppers ----------------------------------- */
/* rows [R, cap]: the tokens fed so far; packed [R, pos + 1] the prefix as the tape forward reads
 * it; spare: where reordering gathers the rows. */
typedef struct attn_prefix {
    int64_t R, cap;
    int32_t *rows, *spare, *packed;
} attn_prefix;
ATTN_INTERNAL int attn_prefix_init(attn_prefix *p, int64_t R, int64_t cap);
ATTN_INTERNAL void attn_prefix_free(attn_prefix *p);
/* Store y [R] at position pos; return the packed prefix [R, pos + 1]. */
ATTN_INTERNAL const int32_t *attn_prefix_push(attn_prefix *p, const int32_t *y, int64_t pos);
ATTN_INTERNAL void attn_prefix_reorder(attn_prefix *p, const int64_t *parent, int64_t pos);

/* ---- shared by the encoder–decoders' model-level calls --------------------------------------- */
/* Twice the real tokens (≠ pad) of source row i plus 10, into bound[i]; returns the largest. */
ATTN_INTERNAL int64_t attn_gen_source_bounds(const int32_t *src, int64_t N, int64_t S, int32_t pad,
                                             int64_t *bound);
/* attn_seq2seq_generate (gru 0) or attn_gru_seq2seq_generate (gru 1). */
ATTN_INTERNAL int attn_gen_seq2seq_like(const void *model, int gru, attn_tape *t, const int32_t *src,
                                        int64_t N, int64_t S, const attn_generate_options *o,
                                        int32_t *out, int64_t cap, int64_t *out_len,
                                        attn_generate_info *info);

#endif
