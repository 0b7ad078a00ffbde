/*
 * attn/analysis.h — what a model attends to: a recorder that keeps every attention map the
 * model computes on a tape (through the tape's attention observer), and per-head measures of
 * the maps: entropy, mean attended distance, alignment with a gold alignment, and attention
 * rollout (Abnar & Zuidema, 2020, "Quantifying Attention Flow in Transformers"); and a view of
 * one example's maps over its tokens (and image), saved to and loaded from attention.json.
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

#include "attn/data.h"
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
    ATTN_ATTENTION_OTHER = 3,        /* a module nobody named (attn_attention_record_name)   */
    ATTN_ATTENTION_CLASSIFIER_SELF = 4 /* a classifier's (encoder-only) self-attention, drawn
                                          apart from an encoder's: its rollout feeds a decision */
} attn_attention_kind;
#define ATTN_ATTENTION_NKINDS 5

/* "encoder-self", "decoder-self", "cross", "other", "classifier-self" ("unknown" outside the
 * enum); attn_attention_kind_parse is the inverse (−1 for an unknown name). */
ATTN_API const char *attn_attention_kind_name(attn_attention_kind kind);
ATTN_API int attn_attention_kind_parse(const char *name);
/* Whether a kind's rows and columns index the same tokens (so |i − j| is a distance): every
 * kind but cross-attention. */
ATTN_API int attn_attention_kind_is_self(attn_attention_kind kind);

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

/* ---- one example's attention, for the viewer: attn_attention_view ----------------------------- */
/*
 * The recorder above keeps whatever a forward computes (any batch, module names, [N, H, L, S]).
 * A view is what one looks at and saves afterwards: one example's maps, one per (kind, layer,
 * head), over the tokens they are between, with an optional gold alignment, an optional image
 * (for a Vision Transformer) and a title. It is the data model of attention.json, which
 * `attn viz` and its viewer (attention.html) read and write; rollout and the per-head measures
 * above are computed on it by kind. It is filled from a recorder
 * (attn_attention_view_add_recorded), from kernels' weights (attn_attention_view_add_heads), or
 * loaded from attention.json. The struct is read-only to callers: change it through the
 * functions, which check everything they are given.
 *
 *     attn_attention_view *v;
 *     attn_attention_view_create(&v, "title", src, n_src, tgt, n_tgt);
 *     attn_attention_view_add_recorded(v, rec, 0);           // or add_heads(v, kind, layer, w, ..)
 *     attn_attention_view_save(v, "out/attention.json");
 *     attn_attention_view_load("out/attention.json", &v2);   // every field checked
 *
 * Which tokens index a map's rows (queries) and columns (keys):
 *   ENCODER_SELF, CLASSIFIER_SELF  source × source     DECODER_SELF  target × target
 *   CROSS                           target × source     (OTHER is not a view kind)
 */
#define ATTN_VIEW_MAX_TOKENS 4096
#define ATTN_VIEW_MAX_LAYERS 256
#define ATTN_VIEW_MAX_HEADS 256
#define ATTN_VIEW_MAX_PIXELS 4096 /* an image's width and height */

/* One head's weights: w[i·cols + j] is how much query token i attends to key token j. */
typedef struct attn_attention_head {
    attn_attention_kind kind;
    int layer, head; /* 0-based */
    int rows, cols;
    float *w;        /* [rows, cols], owned by the view */
} attn_attention_head;

/* The picture a Vision Transformer read, cut into a grid of patches (one source token each),
 * and where its pooled representation looks: per layer and head the attention of the class
 * token (or, under mean pooling, the mean of the patches' rows) over the patches, and the
 * rollout through all layers, each a distribution over the rows·cols patches (the class
 * token's share of itself left out, the rest rescaled to sum to 1), as
 * attn_image_model_attention (attn/image.h) returns them. Patch (r, c) covers pixels
 * [r·patch, (r+1)·patch) × [c·patch, (c+1)·patch) and is source token cls + r·cols + c. */
typedef struct attn_attention_image {
    int width, height;     /* pixels */
    unsigned char *pixels; /* [height, width] grayscale, 0 black … 255 white */
    int patch;             /* patch side in pixels: rows·patch = height, cols·patch = width */
    int rows, cols;        /* the patch grid */
    int cls;               /* 1: a class token (source token 0) pools; 0: mean pooling */
    int layers, heads;
    float *attn;           /* [layers, heads, rows·cols], each head's map sums to 1 */
    float *rollout;        /* [rows·cols], sums to 1 */
} attn_attention_image;

typedef struct attn_attention_view {
    char *title;                 /* free text shown in titles; may be NULL */
    int n_src;                   /* source tokens (encoder / classifier input), UTF-8 */
    char **src;
    int n_tgt;                   /* target tokens (decoder side); 0 for encoder-only models */
    char **tgt;
    int n_maps, cap_maps;
    attn_attention_head *maps;   /* in the order they were added */
    attn_span *align;            /* [n_tgt] or NULL: gold source span of each target token */
    attn_attention_image *image; /* or NULL */
} attn_attention_view;

/* A view over copies of the tokens (n_tgt may be 0 with tgt NULL; at most
 * ATTN_VIEW_MAX_TOKENS each, valid UTF-8). title may be NULL. */
ATTN_API int attn_attention_view_create(attn_attention_view **out, const char *title,
                                        const char *const *src, int n_src,
                                        const char *const *tgt, int n_tgt);
ATTN_API void attn_attention_view_free(attn_attention_view *v);
/* Replace the title (a copy; NULL: none). ATTN_E_FORMAT if it is not valid UTF-8. */
ATTN_API int attn_attention_view_set_title(attn_attention_view *v, const char *title);
/* Copy a [rows, cols] map in: rows and cols must be the kind's token counts, weights finite and
 * ≥ 0, (kind, layer, head) new. */
ATTN_API int attn_attention_view_add_map(attn_attention_view *v, attn_attention_kind kind,
                                         int layer, int head, const float *w, int rows, int cols);
/* Every head of one layer, as attention kernels return them: w [heads, rows, cols]. */
ATTN_API int attn_attention_view_add_heads(attn_attention_view *v, attn_attention_kind kind,
                                           int layer, const float *w, int heads, int rows,
                                           int cols);
/* Every named map of a recorder, batch row 0, each head cut to the view's tokens (a decoder's
 * first n_tgt query positions); maps of unnamed modules are skipped. classifier: encoder
 * self-attention becomes ATTN_ATTENTION_CLASSIFIER_SELF. */
ATTN_API int attn_attention_view_add_recorded(attn_attention_view *v,
                                              const attn_attention_record *rec, int classifier);
/* Gold alignment: spans[t] for each target token, 0 ≤ lo ≤ hi ≤ n_src (copied). */
ATTN_API int attn_attention_view_set_alignment(attn_attention_view *v, const attn_span *spans);
/* Attach a copy of an image (replacing any). Checked: sizes 1..ATTN_VIEW_MAX_PIXELS, the grid
 * tiles the picture, layers and heads within the limits, every map finite, ≥ 0 and summing to
 * 1 (within 1e-3), and when the view has source tokens, one per patch plus the class token. */
ATTN_API int attn_attention_view_set_image(attn_attention_view *v, const attn_attention_image *img);

/* Index of the map (kind, layer, head) or −1; a kind's number of layers / heads (largest + 1,
 * 0 when absent); the rows × cols its maps have; the tokens labelling its rows and columns. */
ATTN_API int attn_attention_view_find(const attn_attention_view *v, attn_attention_kind kind,
                                      int layer, int head);
ATTN_API int attn_attention_view_layers(const attn_attention_view *v, attn_attention_kind kind);
ATTN_API int attn_attention_view_heads(const attn_attention_view *v, attn_attention_kind kind);
ATTN_API void attn_attention_view_dims(const attn_attention_view *v, attn_attention_kind kind,
                                       int *rows, int *cols);
ATTN_API const char *const *attn_attention_view_row_tokens(const attn_attention_view *v,
                                                           attn_attention_kind kind);
ATTN_API const char *const *attn_attention_view_col_tokens(const attn_attention_view *v,
                                                           attn_attention_kind kind);

/* Rollout (attn_attention_rollout) of a self-attention kind (ENCODER_SELF or CLASSIFIER_SELF)
 * over the source tokens, out [n_src, n_src]; ATTN_E_ARG if the kind has no maps or a layer
 * misses a head. Scores: its row `pool` (e.g. 0 for a class token) or, with pool =
 * ATTN_ROLLOUT_MEAN, the mean of its rows; score [n_src], sums to 1. */
ATTN_API int attn_attention_view_rollout(const attn_attention_view *v, attn_attention_kind kind,
                                         double *out);
ATTN_API int attn_attention_view_rollout_scores(const attn_attention_view *v,
                                                attn_attention_kind kind, int pool,
                                                double *score);

/* The measures of one head of a view. */
typedef struct attn_attention_head_metrics {
    attn_attention_kind kind;
    int layer, head;
    double entropy;   /* attn_attention_entropy (nats)                                      */
    double distance;  /* attn_attention_distance for self kinds; NaN for cross-attention    */
    double align_acc; /* attn_attention_alignment for cross-attention with an alignment; NaN */
    int n_aligned;    /* target tokens with a non-empty span (align_acc's denominator)      */
} attn_attention_head_metrics;
/* out [v->n_maps], in map order. */
ATTN_API int attn_attention_view_metrics(const attn_attention_view *v,
                                         attn_attention_head_metrics *out);
/* Index of the head with the best alignment accuracy (ties: lower layer, then head); −1 if no
 * head has one. */
ATTN_API int attn_attention_best_alignment(const attn_attention_head_metrics *m, int n);

/* ---- attention.json ----------------------------------------------------------------------------
 * {"format":"attn-attention","version":1,"title":..,"source":[..],"target":[..],
 *  "alignment":[[lo,hi],..] (optional),
 *  "maps":[{"kind":"cross","layer":0,"head":0,"rows":R,"cols":C,"weights":[[..],..]},..],
 *  "image":{"width":W,"height":H,"pixels":[[W values 0..255],..H rows],"patch":P,"rows":R,
 *           "cols":C,"pool":"cls"|"mean","layers":L,"heads":NH,
 *           "attention":[{"layer":l,"head":h,"weights":[[C],..R rows]},..] (layer-major, L·NH),
 *           "rollout":[[C],..R rows]} (optional)}
 * Weights are written with 9 significant digits (float32 round-trips exactly). Every '<' is
 * written as \u003c, so the text can sit inside an HTML <script> element. */
enum {
    ATTN_VIEW_JSON_EXTRAS = 1 /* add "metrics", "best_alignment" and "rollout" (matrix and token
                                 scores of each complete self-attention kind, by `pool`): what the
                                 viewer shows beside the maps; loading ignores them */
};
/* The view as JSON text (NUL-terminated, *len bytes; free() it). */
ATTN_API int attn_attention_view_to_json(const attn_attention_view *v, int flags, int pool,
                                         char **text, size_t *len);
ATTN_API int attn_attention_view_save(const attn_attention_view *v, const char *path);
/* Parse and check: malformed text, a wrong structure, sizes that disagree with the tokens,
 * invalid UTF-8, weights that are not finite and ≥ 0, and every image field are ATTN_E_FORMAT
 * naming the place. An empty text is an error. */
ATTN_API int attn_attention_view_parse(const char *text, size_t len, attn_attention_view **out);
ATTN_API int attn_attention_view_load(const char *path, attn_attention_view **out);

/* ---- a model's attention on one example, as a view (what `attn viz --model` shows) -------------
 *
 * The teacher-forced forward of a model on one example, run on tape t (NULL: a temporary tape;
 * reset, in evaluation mode for the call, its training flag restored after) with a recorder,
 * and every map added to a view as attn_attention_view_add_recorded does. The record_ functions
 * fill a view the caller made with one token per id: src [v->n_src] source ids and tgt_in
 * [v->n_tgt] decoder inputs (BOS, then every output token but the last: row i is the query that
 * produces output token i). The model is not changed. Errors: ATTN_E_ARG for NULL pointers or a
 * view whose token counts the model cannot take (0, or past its positions), and the model's
 * own; on failure the view may hold some of the maps. The functions below that make a view
 * return it in *out, the caller's to free with attn_attention_view_free (NULL on failure). */
ATTN_API int attn_attention_view_record_seq2seq(attn_attention_view *v, attn_tape *t,
                                                const attn_seq2seq *m, const int32_t *src,
                                                const int32_t *tgt_in);
/* The GRU's additive attention [n_tgt, n_src] as cross-attention layer 0, head 0. */
ATTN_API int attn_attention_view_record_gru_seq2seq(attn_attention_view *v, attn_tape *t,
                                                    const attn_gru_seq2seq *m, const int32_t *src,
                                                    const int32_t *tgt_in);
/* A GPT's causal self-attention over ids [v->n_tgt] (a view of target tokens only). */
ATTN_API int attn_attention_view_record_gpt(attn_attention_view *v, attn_tape *t,
                                            const attn_gpt *m, const int32_t *ids);
/* A classifier's self-attention over ids [v->n_src] as ATTN_ATTENTION_CLASSIFIER_SELF. probs
 * (may be NULL): the class probabilities [num_classes] of a plain forward (no recorder):
 * e^(z_j − z_k) / Σ_i e^(z_i − z_k) with k the largest logit (differences in float, the rest in
 * double; class k gets exactly 1 / Σ_i e^(z_i − z_k)). */
ATTN_API int attn_attention_view_record_classifier(attn_attention_view *v, attn_tape *t,
                                                   const attn_classifier *m, const int32_t *ids,
                                                   double *probs);

/* A view with one token per byte of src and of tgt (NULL or "": none on that side), e.g. for a
 * character model; title may be NULL. At most ATTN_VIEW_MAX_TOKENS bytes a side. */
ATTN_API int attn_attention_view_create_chars(attn_attention_view **out, const char *title,
                                              const char *src, const char *tgt);
/* A date example (attn/data.h) as a view without maps: its characters, its gold alignment and
 * the title "\"SOURCE\" → TARGET" (quotes around the source). */
ATTN_API int attn_attention_view_from_dates(const attn_dates_example *ex,
                                            attn_attention_view **out);
/* A date example (attn_dates_generate(seed, 0)) with made-up heads of known patterns, to test a
 * viewer without a model: encoder self-attention 2 layers × 4 heads, decoder 2 × 2, cross 2 × 4.
 * Each head's logits are 1.5 × Philox noise (attn_philox_uniform(seed, 7000 + 10000·kind +
 * 100·layer + head, i·cols + j)) + 4 on its pattern's cells — the diagonal, the previous token,
 * the next one, the first one, the gold span (cross layer 1 head 2) or none — softmax per row in
 * double, decoder rows causal. Title "synthetic weights: " + the date example's. */
ATTN_API int attn_attention_view_synthetic(uint64_t seed, attn_attention_view **out);
/* A character seq2seq model (attn.tokenizer "chars-ascii", e.g. the date demo's) on the text
 * input against target (NULL: the model's own greedy translation): tokens are characters,
 * title "<input> -> <output>", every map. ex (may be NULL): a date example whose gold alignment
 * is attached when the input is its source and the output has 10 characters. ATTN_E_ARG with a
 * message for the user (no function name) for an empty input, one as long as the model's
 * positions, a character outside the vocabulary, or an empty or too long output. */
ATTN_API int attn_seq2seq_ascii_attention_view(attn_tape *t, const attn_seq2seq *m,
                                               const char *input, const char *target,
                                               const attn_dates_example *ex,
                                               attn_attention_view **out);
/* A GPT on ids [n] (1 ≤ n ≤ min(context, ATTN_VIEW_MAX_TOKENS), else ATTN_E_ARG "the input is
 * N tokens: 1 to K wanted"), token i labelled by the tok_len[i] bytes tok_bytes[i] it stands
 * for: as they are when they are whole UTF-8 characters without control bytes, else with each
 * byte outside printable ASCII as "\xNN" and a newline as "\n". title may be NULL. */
ATTN_API int attn_gpt_attention_view(attn_tape *t, const attn_gpt *m, const int32_t *ids,
                                     int64_t n, const char *const *tok_bytes,
                                     const size_t *tok_len, const char *title,
                                     attn_attention_view **out);

#ifdef __cplusplus
}
#endif
#endif /* ATTN_ANALYSIS_H */
