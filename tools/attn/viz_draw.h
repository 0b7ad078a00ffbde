/* viz_draw.h — cairo helpers shared by the viz files that draw. */
#ifndef ATTN_VIZ_DRAW_H
#define ATTN_VIZ_DRAW_H

#include "viz_internal.h"

#include <cairo.h>

#define VIZ_LABEL_BYTES 32 /* labels longer than this are cut with "…" */
#define VIZ_VECTOR_CELLS 16384 /* maps with more cells are drawn as one scaled image */

typedef struct viz_canvas {
    cairo_surface_t *surface;
    cairo_t *cr;
    const char *path;
    int svg;
} viz_canvas;

/* A white w × h picture to draw on; close writes it (PNG) or finishes it (SVG, PDF). svg: 0
 * PNG, 1 SVG, 2 PDF (VIZ_PNG, VIZ_SVG, VIZ_PDF). */
int viz_surface_open(viz_canvas *c, const char *path, int svg, int w, int h);
int viz_surface_close(viz_canvas *c);
/* A 1×1 context for measuring text; cairo_destroy it. */
cairo_t *viz_measure_context(void);
void viz_set_font(cairo_t *cr, double size, int bold);
double viz_text_width(cairo_t *cr, const char *s);
/* s at (x, y) in sans-serif of this size (bold or not), in gray level gray (0 black). */
void viz_text(cairo_t *cr, double x, double y, double size, int bold, double gray, const char *s);
/* A token (valid UTF-8) as shown: spaces as "␣", control bytes as \xNN, empty as "∅", long
 * ones cut with "…". cap >= 16. */
void viz_display_token(const char *tok, char *out, size_t cap);
/* A tick step of 1, 2 or 5 × 10^k giving about target_ticks ticks over range. */
double viz_nice_step(double range, int target_ticks);
/* A colour bar from 0 to vmax with ticked labels: vertical (0 at the bottom, labels at the right)
 * or horizontal (0 at the left, labels below). */
void viz_colorbar(cairo_t *cr, double x, double y, double w, double h, double vmax, double fs, int horizontal);

/* A labelled matrix: w[i * cols + j], rows labelled by row_tok, columns by col_tok. */
typedef struct viz_matrix {
    const char *const *row_tok;
    int rows;
    const char *const *col_tok;
    int cols;
    const float *w;
    const attn_span *gold; /* [rows] source spans outlined per row (cross-attention), or NULL */
} viz_matrix;
/* One matrix as a heatmap with a title, a note under it and a colour bar (scale 0..max). */
int viz_matrix_write(const viz_matrix *mx, const char *title, const char *note, const char *path,
                     int svg, viz_layout *layout);

#endif
