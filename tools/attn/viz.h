/* viz.h — seeing what a model attends to: heatmaps (cairo PNG/SVG), an interactive
 * attention.html, the metrics table and training curves.
 *
 * This is the drawing side of attn: it links cairo and cJSON. The data it draws is libattn's
 * (attn/analysis.h): an attn_attention_view holds one example's maps over its tokens (and an
 * image for a ViT), is saved to and loaded from attention.json, and gives the rollout and the
 * per-head measures; the libraries make one from a model (attn_seq2seq_ascii_attention_view,
 * attn_gpt_attention_view, attn_image_attention_view, attn/text_view.h); here it is drawn.
 * Errors go through attn_set_error / attn_last_error.
 *
 *     attn_attention_view *v;
 *     attn_seq2seq_ascii_attention_view(NULL, model, "march 3rd 2021", NULL, NULL, &v);
 *     viz_render_all(v, "out/viz", ATTN_ROLLOUT_MEAN);   // html, json, png, svg, index
 *     viz_metrics_print(stdout, v);
 *     attn_attention_view_free(v);
 */
#ifndef ATTN_VIZ_H
#define ATTN_VIZ_H

#include "attn.h"

#include <stdio.h>

/* A table: kind, layer, head, entropy, distance, alignment; then the best-aligned head. */
int viz_metrics_print(FILE *f, const attn_attention_view *v);

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
int viz_heatmap_write(const attn_attention_view *r, int map, const char *path, int svg, viz_layout *layout);
/* Every head of one layer of a kind side by side, one shared colour scale. */
int viz_grid_write(const attn_attention_view *r, attn_attention_kind kind, int layer, const char *path, int svg);
/* Text with each token shaded by its score (darker = larger), e.g. rollout scores of a
 * classifier. Tokens valid UTF-8; scores finite and >= 0; the scale runs from 0 to their
 * maximum. */
int viz_tokens_png(const char *const *tokens, const double *score, int n, const char *title,
                   const char *path);

/* The record's image (attn_attention_view_set_image) as a grid: one tile per layer and head with that
 * head's patch map over the picture (colour map, more opaque where larger), the rollout and
 * the bare picture in the last column. ATTN_E_ARG if the record has no image. */
int viz_image_grid_write(const attn_attention_view *r, const char *path);

/* ---- the page ----------------------------------------------------------------------------- */
/* attention.html: self-contained (inline script, style and data; no network). Head view,
 * model view, rollout (token scores as attn_attention_view_rollout_scores with `pool`) and metrics. */
int viz_html_write(const attn_attention_view *r, const char *path, int pool);

/* Everything into dir (created if missing): attention.json, attention.html, with an image
 * image_attention.png (viz_image_grid_write), for each map
 * <kind>_L<l>_H<h>.png and .svg, for each kind and layer <kind>_L<l>_grid.png, rollout and
 * token-score pictures for self-attention kinds, and index.json (files, layouts, metrics,
 * rollout scores) for tests and tools. pool: as attn_attention_view_rollout_scores. */
int viz_render_all(const attn_attention_view *r, const char *dir, int pool);

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
/* `attn viz --model M ...` (viz_model.c): gets the viz subcommand's arguments as given; returns
 * the exit status. */
int viz_run_model(int argc, char **argv);

#endif
