/* viz.h — seeing what a model attends to: attention records, heatmaps (cairo PNG/SVG), an
 * interactive attention.html, attention.json, attention rollout, per-head metrics and
 * training curves.
 *
 * This is the CLI side of attn: it links cairo and cJSON; libattn does not. Recording the maps
 * and measuring them (entropy, distance, alignment, rollout) is libattn's (attn/analysis.h);
 * here they get their tokens, and are written and drawn. Nothing here needs a trained model: a
 * caller (e.g. `attn viz --model M`) fills a viz_record with the weights its forward pass
 * returned (viz_record_add_recorded for a library record) and hands it to viz_render_all().
 *
 * Conventions: fallible calls return 0 or a negative ATTN_E_* code and leave a message for
 * viz_last_error() ("what and where"); nothing prints except the *_print functions; free
 * functions accept NULL. Tokens are UTF-8 strings, validated when added.
 *
 * Typical use on the model side (`attn viz --model M`, through viz_run_model):
 *     viz_record *r;
 *     viz_record_from_dates(&ex, &r);                    // or viz_record_create(...)
 *     viz_record_add_heads(r, VIZ_CROSS, l, w, H, Lt, Ls); // per layer, w: [H, Lt, Ls]
 *     viz_render_all(r, "out/viz", VIZ_POOL_MEAN);       // html, json, png, svg, index
 *     viz_metrics_print(stdout, r);
 *     viz_record_free(r);
 *
 * Which tokens index a map's rows (queries) and columns (keys):
 *   VIZ_ENC_SELF  source × source     VIZ_DEC_SELF  target × target
 *   VIZ_CROSS     target × source     VIZ_CLS_SELF  source × source (a classifier's input)
 */
#ifndef ATTN_VIZ_H
#define ATTN_VIZ_H

#include <stdio.h>

typedef enum viz_kind {
    VIZ_ENC_SELF = 0, /* encoder self-attention                    */
    VIZ_DEC_SELF = 1, /* decoder (causal) self-attention           */
    VIZ_CROSS = 2,    /* decoder → encoder cross-attention         */
    VIZ_CLS_SELF = 3, /* classifier (encoder-only) self-attention  */
    VIZ_NKINDS = 4
} viz_kind;

/* One head's weights: w[i * cols + j] = how much query token i attends to key token j. */
typedef struct viz_map {
    viz_kind kind;
    int layer, head; /* 0-based */
    int rows, cols;
    float *w; /* [rows, cols], owned by the record */
} viz_map;

/* Source span [lo, hi) aligned to one target token; lo == hi means unaligned. */
typedef struct viz_span {
    int lo, hi;
} viz_span;

typedef struct viz_record {
    char *title;  /* free text shown in titles; may be NULL */
    int n_src;    /* source tokens (encoder / classifier input) */
    char **src;
    int n_tgt;    /* target tokens (decoder side); 0 for encoder-only models */
    char **tgt;
    int n_maps, cap_maps;
    viz_map *maps;
    viz_span *align; /* [n_tgt] or NULL: gold alignment of each target token */
    struct viz_image *image; /* the input picture of an image model (a ViT), or NULL */
} viz_record;

/* The picture a Vision Transformer read, cut into a grid of patches (one source token each),
 * and where its pooled representation looks: for each layer and head the attention of the
 * class token (or, under mean pooling, the mean of the patches' rows) over the patches, and
 * the attention rollout through all layers, each a distribution over the rows × cols patches
 * (the class token's share of itself left out, the rest rescaled to sum to 1; as
 * attn_image_model_attention in attn/image.h returns them). Patch (r, c) covers pixels
 * [r·patch, (r+1)·patch) × [c·patch, (c+1)·patch) and is source token first + r·cols + c. */
typedef struct viz_image {
    int width, height;     /* pixels */
    unsigned char *pixels; /* [height, width] grayscale, 0 black … 255 white */
    int patch;             /* side of a patch in pixels: rows·patch = height, cols·patch = width */
    int rows, cols;        /* the patch grid */
    int cls;               /* 1: a class token (source token 0) pools; 0: mean pooling */
    int layers, heads;
    float *attn;           /* [layers, heads, rows·cols], each head's map sums to 1 */
    float *rollout;        /* [rows·cols], sums to 1 */
} viz_image;

/* The message of the last failing viz_* call in this thread ("" if none). */
const char *viz_last_error(void);
/* "encoder-self", "decoder-self", "cross", "classifier-self"; viz_kind_parse is the inverse
 * (returns -1 for an unknown name). */
const char *viz_kind_name(viz_kind kind);
int viz_kind_parse(const char *name);
/* Whether a kind's rows and columns index the same tokens (so |i - j| is a distance). */
int viz_kind_is_self(viz_kind kind);

/* ---- building a record ------------------------------------------------------------------ */
/* A record over copies of the given tokens (n_tgt may be 0, tgt NULL). Tokens must be valid
 * UTF-8. title may be NULL. */
int viz_record_create(viz_record **out, const char *title, const char *const *src, int n_src,
                      const char *const *tgt, int n_tgt);
void viz_record_free(viz_record *r);
/* Copy a [rows, cols] weight matrix in; rows/cols must match the kind's token counts, weights
 * must be finite and >= 0, and (kind, layer, head) must be new. */
int viz_record_add_map(viz_record *r, viz_kind kind, int layer, int head, const float *w,
                       int rows, int cols);
/* Every head of one layer at once, as attention kernels return them: w: [H, rows, cols]
 * (e.g. one batch row of attn_sdpa_forward's weights [B, H, Lq, Lk]). */
int viz_record_add_heads(viz_record *r, viz_kind kind, int layer, const float *w, int heads,
                         int rows, int cols);
/* Gold alignment: spans[t] for each target token, 0 <= lo <= hi <= n_src. */
int viz_record_set_alignment(viz_record *r, const viz_span *spans);
/* Attach a copy of an image and its patch maps (replacing any). Checked: sizes in 1..4096,
 * the grid tiles the picture exactly, layers and heads within the record's limits, every map
 * finite, >= 0 and summing to 1 (within 1e-3), and, when the record has source tokens, one
 * per patch plus the class token (cls). */
int viz_record_set_image(viz_record *r, const viz_image *img);
/* Index of the map (kind, layer, head) or -1; the number of layers / heads of a kind (max + 1,
 * 0 if the kind is absent). */
int viz_record_find(const viz_record *r, viz_kind kind, int layer, int head);
int viz_record_layers(const viz_record *r, viz_kind kind);
int viz_record_heads(const viz_record *r, viz_kind kind);

/* Every map of a library attention record (attn/analysis.h) of one example (batch row 0; maps
 * of unnamed modules skipped), each head cut to the rows and columns of this record's tokens
 * (a decoder's first n_tgt positions). classifier: encoder self-attention becomes VIZ_CLS_SELF. */
struct attn_attention_record;
int viz_record_add_recorded(viz_record *r, const struct attn_attention_record *rec,
                            int classifier);

/* A record for one example of the date task (attn/data.h): one token per character of
 * the source and of the 10-character ISO target, alignment from the example's spans, no maps
 * yet. A model whose tokens are not exactly these characters builds its own record. */
struct attn_dates_example;
int viz_record_from_dates(const struct attn_dates_example *ex, viz_record **out);

/* ---- attention.json ----------------------------------------------------------------------- */
/* {"format":"attn-attention","version":1,"title":..,"source":[..],"target":[..],
 *  "alignment":[[lo,hi],..] (optional),
 *  "maps":[{"kind":"cross","layer":0,"head":0,"rows":R,"cols":C,"weights":[[..],..]},..],
 *  "image":{"width":W,"height":H,"pixels":[[W values 0..255],..H rows],"patch":P,"rows":R,
 *           "cols":C,"pool":"cls"|"mean","layers":L,"heads":NH,
 *           "attention":[{"layer":l,"head":h,"weights":[[C],..R rows]},..] (layer-major, L·NH),
 *           "rollout":[[C],..R rows]} (optional: viz_image)} */
int viz_json_write(const viz_record *r, const char *path);
/* Parse and validate; malformed text, wrong structure, bad sizes, invalid UTF-8 and non-finite
 * weights are ATTN_E_FORMAT with the place named. An empty file is an error. */
int viz_json_read(const char *path, viz_record **out);
int viz_json_parse(const char *text, size_t len, viz_record **out);

/* ---- attention rollout (Abnar & Zuidema 2020) --------------------------------------------- */
/* For the self-attention `kind` (VIZ_ENC_SELF or VIZ_CLS_SELF) with L layers over n tokens:
 * per layer, average the heads, add the identity (the residual) and renormalise rows; then
 * R = Â_{L-1} · … · Â_0. out: [n, n] (n = n_src). ATTN_E_ARG if the kind has no maps or a
 * layer misses heads. */
int viz_rollout(const viz_record *r, viz_kind kind, double *out);
/* The per-token score a classifier's decision rests on: the rollout row of the pooled position
 * `pool` (e.g. 0 for a [CLS] token), or, with pool = VIZ_POOL_MEAN, the mean of all rows (mean
 * pooling). score: [n_src], sums to 1. */
#define VIZ_POOL_MEAN (-1)
int viz_rollout_scores(const viz_record *r, viz_kind kind, int pool, double *score);

/* ---- metrics ------------------------------------------------------------------------------ */
typedef struct viz_head_metrics {
    viz_kind kind;
    int layer, head;
    double entropy;   /* mean over rows of -Σ_j w_ij ln w_ij (nats); rows renormalised        */
    double distance;  /* self kinds: mean over rows of Σ_j w_ij |i - j|; NaN otherwise         */
    double align_acc; /* cross with alignment: fraction of aligned target tokens whose argmax
                         source position lies in the gold span; NaN otherwise                  */
    int n_aligned;    /* target tokens with a non-empty span (the accuracy's denominator)     */
} viz_head_metrics;

/* out: [r->n_maps], in map order. */
int viz_metrics_compute(const viz_record *r, viz_head_metrics *out);
/* Index of the head with the best alignment accuracy (ties: lower layer, then head), -1 if no
 * head has one. */
int viz_metrics_best_alignment(const viz_head_metrics *m, int n);
/* A table: kind, layer, head, entropy, distance, alignment; then the best-aligned head. */
int viz_metrics_print(FILE *f, const viz_record *r);

/* ---- pictures (cairo) --------------------------------------------------------------------- */
/* The sequential colormap: t in [0, 1] → sRGB in [0, 1], lightness falling monotonically
 * (0 = near white, 1 = dark). */
void viz_colormap(double t, double rgb[3]);

/* Where a heatmap's cells landed, so tests and callers can find them in the picture. */
typedef struct viz_layout {
    int width, height;      /* picture size in pixels */
    double x0, y0;          /* top-left corner of cell (0, 0) */
    double cell_w, cell_h;  /* size of one cell */
    double vmax;            /* weight drawn darkest (the top of the colour scale) */
} viz_layout;

/* One map as a heatmap: rows = query tokens (left labels), columns = key tokens (rotated top
 * labels), colour bar with ticks, kind/layer/head in the title. svg = 0: PNG, 1: SVG. The
 * colour scale runs from 0 to the map's maximum. layout may be NULL. */
int viz_heatmap_write(const viz_record *r, int map, const char *path, int svg, viz_layout *layout);
/* Every head of one layer of a kind side by side, one shared colour scale. */
int viz_grid_write(const viz_record *r, viz_kind kind, int layer, const char *path, int svg);
/* Text with each token shaded by its score (darker = larger), e.g. rollout scores of a
 * classifier. Tokens valid UTF-8; scores finite and >= 0; the scale runs from 0 to their
 * maximum. */
int viz_tokens_png(const char *const *tokens, const double *score, int n, const char *title,
                   const char *path);

/* The record's image (viz_record_set_image) as a grid: one tile per layer and head with that
 * head's patch map over the picture (colour map, more opaque where larger), the rollout and
 * the bare picture in the last column. ATTN_E_ARG if the record has no image. */
int viz_image_grid_write(const viz_record *r, const char *path);

/* ---- the page ----------------------------------------------------------------------------- */
/* attention.html: self-contained (inline script, style and data; no network). Head view,
 * model view, rollout (token scores as viz_rollout_scores with `pool`) and metrics. */
int viz_html_write(const viz_record *r, const char *path, int pool);

/* Everything into dir (created if missing): attention.json, attention.html, with an image
 * image_attention.png (viz_image_grid_write), for each map
 * <kind>_L<l>_H<h>.png and .svg, for each kind and layer <kind>_L<l>_grid.png, rollout and
 * token-score pictures for self-attention kinds, and index.json (files, layouts, metrics,
 * rollout scores) for tests and tools. pool: as viz_rollout_scores. */
int viz_render_all(const viz_record *r, const char *dir, int pool);

/* ---- training curves ---------------------------------------------------------------------- */
/* metrics.csv with a header row naming the columns (step and loss required; val_metric, or the
 * first val* column, drawn on a second axis when present; empty, nan and inf cells skipped; a
 * cut-off last line of a log still being written ignored) → a PNG of loss (and val) vs step. */
int viz_plot_csv(const char *csv_path, const char *png_path);
/* The same with a choice of columns and format. x: the x column (NULL: step, else epoch); y:
 * comma-separated left-axis columns (NULL: every column whose name holds "loss"); y2: right
 * axis columns (NULL: when y is NULL, the val* columns that are not losses; else none). */
enum { VIZ_PNG = 0, VIZ_SVG = 1, VIZ_PDF = 2 };
typedef struct viz_plot_options {
    int format; /* VIZ_PNG, VIZ_SVG, VIZ_PDF */
    const char *x, *y, *y2;
} viz_plot_options;
int viz_plot_csv_opts(const char *csv_path, const char *out_path, const viz_plot_options *o);

/* ---- CLI ---------------------------------------------------------------------------------- */
int cli_viz(int argc, char **argv);  /* attn viz --from-json F --out DIR | --model M ... */
int cli_plot(int argc, char **argv); /* attn plot metrics.csv --out loss.png|svg|pdf */
/* Provided by the model code when it is linked in (weak: NULL otherwise). Gets the viz
 * subcommand's arguments as given; returns the exit status. */
int viz_run_model(int argc, char **argv) __attribute__((weak));

#endif
