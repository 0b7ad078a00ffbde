/*
 * attn/analysis.h — what a model attends to: a recorder that keeps every attention map the
 * model computes on a tape (through the tape's attention observer), and per-head measures of
 * the maps: entropy, mean attended distance, alignment with a gold alignment, and attention
 * rollout (Abnar & Zuidema, 2020, "Quantifying Attention Flow in Transformers").
 *
 * Typical use:
 *     attn_attention_record *rec;
 *     attn_attention_record_create(tape, &rec);           // the tape's observer is now rec's
 *     attn_attention_record_watch_seq2seq(rec, model);     // names every attention module
 *     attn_seq2seq_encode(tape, model, ...); attn_seq2seq_decode(tape, model, ...);
 *     attn_attention_record_stop(rec);                     // the tape records no more
 *     for (int i = 0; i < attn_attention_record_count(rec); i++) {
 *         attn_attention_map m;
 *         attn_attention_record_map(rec, i, &m);          // m.name, m.kind, m.layer, m.w
 *         attn_attention_entropy(m.w, m.H, m.L, m.S, ent); // batch row 0: w [H, L, S]
 *     }
 *     attn_attention_record_free(rec);
 *
 * The record sees the multi-head attention modules (attn_mha_forward) run on its tape: the
 * training / teacher-forced forward of every model. The key/value-cached steppers of
 * attn/generate.h run off the tape and are not recorded. Modules are told apart by their address
 * (never read through). Stop or free a record before its tape is freed.
 *
 * Weight maps are float [.., L, S] row-major: w[i·S + j] is how much query (row) i attends to
 * key (column) j. The measures read them in double and renormalise each row (a row summing to 0,
 * a query with nothing to attend, counts as entropy 0 and distance 0). Nothing here prints.
 */
#ifndef ATTN_ANALYSIS_H
#define ATTN_ANALYSIS_H

#include "attn/models.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- recording -------------------------------------------------------------------------------- */

/* What a module's queries and keys are. */
typedef enum attn_attention_kind {
    ATTN_ATTENTION_ENCODER_SELF = 0, /* self-attention of an encoder or a classifier         */
    ATTN_ATTENTION_DECODER_SELF = 1, /* causal self-attention of a decoder (a GPT's blocks)  */
    ATTN_ATTENTION_CROSS = 2,        /* decoder queries → encoder keys                       */
    ATTN_ATTENTION_OTHER = 3         /* a module nobody named (attn_attention_record_name)   */
} attn_attention_kind;

/* "encoder-self", "decoder-self", "cross", "other" ("unknown" outside the enum). */
ATTN_API const char *attn_attention_kind_name(attn_attention_kind kind);

typedef struct attn_attention_record attn_attention_record;

/* One recorded map, as attn_attention_record_map describes it. The pointers belong to the record
 * and stay valid until it is cleared or freed (maps recorded later do not move them). */
typedef struct attn_attention_map {
    const char *name;         /* e.g. "decoder.layers.1.multihead_attn" ("" if unnamed) */
    attn_attention_kind kind;
    int layer;                /* 0-based layer of its stack; −1 if unnamed */
    int64_t N, H, L, S;       /* batch, heads, queries, keys */
    const float *w;           /* [N, H, L, S] weights after softmax, before dropout */
} attn_attention_map;

#define ATTN_ATTENTION_NAME_MAX 96

/* A recorder on tape t: sets t's attention observer to it (replacing any other), so every
 * multi-head attention run on t from now on adds one map (in the order they run; a module run
 * twice adds two maps). Attention then runs on the path that returns weights (same outputs). */
ATTN_API int attn_attention_record_create(attn_tape *t, attn_attention_record **out);
/* Clear the tape's observer if it is still this record's; maps are kept. Call it (or free the
 * record) before the tape is freed. Idempotent. */
ATTN_API void attn_attention_record_stop(attn_attention_record *r);
/* Stop (as above) and free the maps. NULL is ignored. */
ATTN_API void attn_attention_record_free(attn_attention_record *r);
/* Forget every map (names given to modules stay); recording goes on if not stopped. */
ATTN_API void attn_attention_record_clear(attn_attention_record *r);

/* Give module m a name, kind and layer for the maps it adds from now on (name: at most
 * ATTN_ATTENTION_NAME_MAX − 1 bytes, copied). Naming m again replaces its name. */
ATTN_API int attn_attention_record_name(attn_attention_record *r, const attn_mha *m,
                                        const char *name, attn_attention_kind kind, int layer);
/* Name every attention module of a model after its state_dict prefix:
 *   seq2seq:    "encoder.layers.<i>.self_attn" (encoder-self), "decoder.layers.<i>.self_attn"
 *               (decoder-self), "decoder.layers.<i>.multihead_attn" (cross)
 *   classifier: "layers.<i>.self_attn" (encoder-self)
 *   gpt:        "h.<i>.self_attn" (decoder-self) */
ATTN_API int attn_attention_record_watch_seq2seq(attn_attention_record *r, const attn_seq2seq *m);
ATTN_API int attn_attention_record_watch_classifier(attn_attention_record *r,
                                                    const attn_classifier *m);
ATTN_API int attn_attention_record_watch_gpt(attn_attention_record *r, const attn_gpt *m);
/* Add a map the observer cannot see (e.g. the additive attention weights of
 * attn_gru_seq2seq_decode, [N, T, S] as H = 1): w [N, H, L, S] is copied; weights must be
 * finite and ≥ 0. name may be NULL (""). */
ATTN_API int attn_attention_record_add(attn_attention_record *r, const char *name,
                                       attn_attention_kind kind, int layer, const float *w,
                                       int64_t N, int64_t H, int64_t L, int64_t S);

/* Status of the recording: 0, or the first failure while recording maps (ATTN_E_NOMEM), whose
 * message attn_last_error() then gives again. A forward that ran while this fails has its
 * outputs right but its maps incomplete. */
ATTN_API int attn_attention_record_status(const attn_attention_record *r);
/* Maps recorded so far (0 for NULL). */
ATTN_API int attn_attention_record_count(const attn_attention_record *r);
/* Describe map i (0 ≤ i < count). */
ATTN_API int attn_attention_record_map(const attn_attention_record *r, int i,
                                       attn_attention_map *out);
/* Index of the first map with this kind and layer at or after map `from` (−1: none). */
ATTN_API int attn_attention_record_find(const attn_attention_record *r, attn_attention_kind kind,
                                        int layer, int from);

/* ---- measures of one layer's maps, w: [H, L, S], outputs per head ---------------------------- */

/* Entropy: out[h] = mean over rows i of −Σ_j p_ij ln p_ij (nats), p_ij = w_ij / Σ_j w_ij.
 * ln S for uniform attention, 0 for attention on one key. Weights must be finite and ≥ 0
 * (ATTN_E_ARG naming the first that is not). */
ATTN_API int attn_attention_entropy(const float *w, int64_t H, int64_t L, int64_t S, double *out);
/* Mean attended distance: out[h] = mean over rows i of Σ_j p_ij |i − j|, for maps whose rows
 * and columns index the same positions (self-attention): 0 on the diagonal, larger for heads
 * that look far away. Same checks as attn_attention_entropy. */
ATTN_API int attn_attention_distance(const float *w, int64_t H, int64_t L, int64_t S,
                                     double *out);

/* A gold alignment of query row i: the keys [lo, hi) it translates; lo == hi: unaligned. */
typedef struct attn_span {
    int64_t lo, hi;
} attn_span;
/* Alignment accuracy of cross-attention: acc[h] = the fraction of rows with a non-empty span
 * whose most-attended key (the first maximum on ties) lies in the span; NaN when no row has a
 * span. gold: [L], 0 ≤ lo ≤ hi ≤ S. n_aligned (may be NULL): the rows counted. */
ATTN_API int attn_attention_alignment(const float *w, int64_t H, int64_t L, int64_t S,
                                      const attn_span *gold, double *acc, int64_t *n_aligned);

/* ---- attention rollout ------------------------------------------------------------------------ */

/* Rollout of n_layers self-attention layers of H heads over n tokens: per layer
 * Â_l = rownorm(mean_h A_{l,h} + I) (the identity stands for the residual connection), and
 * out = Â_{n_layers−1} · … · Â_0, [n, n], each row a distribution over the input tokens.
 * maps[l·H + h] is layer l head h, [n, n]; a NULL entry is ATTN_E_ARG naming it. */
ATTN_API int attn_attention_rollout(const float *const *maps, int64_t n_layers, int64_t H,
                                    int64_t n, double *out);
/* Per-token scores from a rollout R [n, n]: row `pool` (the position a classifier reads, e.g. 0
 * for a [CLS] token), or with pool = ATTN_ROLLOUT_MEAN the mean of all rows (mean pooling).
 * score: [n], sums to 1. */
#define ATTN_ROLLOUT_MEAN (-1)
ATTN_API int attn_attention_rollout_scores(const double *rollout, int64_t n, int64_t pool,
                                           double *score);

#ifdef __cplusplus
}
#endif
#endif /* ATTN_ANALYSIS_H */
