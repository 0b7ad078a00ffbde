/* viz_cairo.c — heatmaps (one head, or every head of a layer) and token shading, drawn with
 * cairo into PNG or SVG. Sizes follow the token counts; labels are measured before the picture
 * is sized, so long tokens never run off the edge. */
#include "viz_draw.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- colour ------------------------------------------------------------------------------- */

/* Cream → amber → red → plum → ink. The stops were chosen so that CIELAB lightness L* falls in
 * equal steps (98.8, 87.4, …, 7.4): equal weight differences look equally different. */
static const unsigned char cmap_stops[9][3] = {
    {255, 252, 235}, {242, 217, 153}, {229, 179, 102}, {217, 138, 70}, {199, 98, 62},
    {168, 62, 74},   {125, 36, 88},   {76, 20, 85},    {30, 10, 60}};

void viz_colormap(double t, double rgb[3])
{
    if (!(t >= 0)) t = 0; /* NaN too */
    if (t > 1) t = 1;
    double x = t * 8;
    int i = (int)x;
    if (i > 7) i = 7;
    double f = x - i;
    for (int c = 0; c < 3; c++)
        rgb[c] = ((1 - f) * cmap_stops[i][c] + f * cmap_stops[i + 1][c]) / 255.0;
}

void viz_release_caches(void)
{
    cairo_debug_reset_static_data();
    FcFini(); /* fontconfig's caches; it re-initialises itself if used again */
}

/* ---- shared drawing helpers --------------------------------------------------------------- */

void viz_display_token(const char *tok, char *out, size_t cap)
{
    size_t o = 0;
    if (!tok[0]) {
        snprintf(out, cap, "∅");
        return;
    }
    for (const unsigned char *p = (const unsigned char *)tok; *p;) {
        if (o >= VIZ_LABEL_BYTES || o + 12 >= cap) { /* room left for one more and "…" */
            memcpy(out + o, "…", 3);
            o += 3;
            break;
        }
        if (*p == ' ') {
            memcpy(out + o, "␣", 3); /* a visible space */
            o += 3;
            p++;
        } else if (*p < 0x20 || *p == 0x7f) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", *p);
            p++;
        } else {
            size_t n = *p < 0x80 ? 1 : *p < 0xE0 ? 2 : *p < 0xF0 ? 3 : 4; /* valid UTF-8 */
            memcpy(out + o, p, n);
            o += n;
            p += n;
        }
    }
    out[o] = 0;
}

double viz_text_width(cairo_t *cr, const char *s)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

void viz_set_font(cairo_t *cr, double size, int bold)
{
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

void viz_text(cairo_t *cr, double x, double y, double size, int bold, double gray, const char *s)
{
    viz_set_font(cr, size, bold);
    cairo_set_source_rgb(cr, gray, gray, gray);
    cairo_move_to(cr, x, y);
    cairo_show_text(cr, s);
}

/* Widest label among tokens at the current font. */
static double max_label_width(cairo_t *cr, const char *const *tok, int n)
{
    char buf[VIZ_LABEL_BYTES + 16];
    double w = 0;
    for (int i = 0; i < n; i++) {
        viz_display_token(tok[i], buf, sizeof buf);
        double x = viz_text_width(cr, buf);
        if (x > w) w = x;
    }
    return w;
}

/* A heatmap's cell size, floor(span / its longer side) within [1, cs_max]; its labels' font size
 * (at most fs_max, at least 7, none when cramped); the widest row and column labels at it. */
static void cell_sizes(cairo_t *mc, const char *const *rt, int rows, const char *const *ct, int cols, double span,
                       double cs_max, double fs_max, double *cs, double *fs, double *lw, double *lh)
{
    *cs = floor(span / (rows > cols ? rows : cols));
    *cs = *cs < 1 ? 1 : *cs > cs_max ? cs_max : *cs;
    *fs = *cs >= 9 ? (*cs * 0.62 < fs_max ? *cs * 0.62 : fs_max) : 0;
    if (*fs > 0 && *fs < 7) *fs = 7;
    *lw = *lh = 0;
    if (*fs > 0) {
        viz_set_font(mc, *fs, 0);
        *lw = max_label_width(mc, rt, rows);
        *lh = max_label_width(mc, ct, cols);
    }
}

double viz_nice_step(double range, int target_ticks)
{
    if (!(range > 0)) return 1;
    double raw = range / target_ticks, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
}

/* A scratch context for measuring text before the real surface exists. */
cairo_t *viz_measure_context(void)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1);
    cairo_t *cr = cairo_create(s);
    cairo_surface_destroy(s); /* the context keeps its own reference */
    return cr;
}

int viz_surface_open(viz_canvas *c, const char *path, int svg, int w, int h)
{
    c->path = path;
    c->svg = svg;
    c->surface = svg == 2 ? cairo_pdf_surface_create(path, w, h)
                 : svg    ? cairo_svg_surface_create(path, w, h)
                          : cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
    if (cairo_surface_status(c->surface) != CAIRO_STATUS_SUCCESS) {
        int st = attn_set_error(ATTN_E_IO, "cannot create %s (%dx%d): %s", path, w, h,
                          cairo_status_to_string(cairo_surface_status(c->surface)));
        cairo_surface_destroy(c->surface);
        c->surface = NULL;
        return st;
    }
    c->cr = cairo_create(c->surface);
    cairo_set_source_rgb(c->cr, 1, 1, 1);
    cairo_paint(c->cr);
    return 0;
}

int viz_surface_close(viz_canvas *c)
{
    cairo_status_t s = cairo_status(c->cr);
    cairo_destroy(c->cr);
    if (s == CAIRO_STATUS_SUCCESS && !c->svg) s = cairo_surface_write_to_png(c->surface, c->path);
    cairo_surface_finish(c->surface);
    if (s == CAIRO_STATUS_SUCCESS) s = cairo_surface_status(c->surface);
    cairo_surface_destroy(c->surface);
    if (s != CAIRO_STATUS_SUCCESS)
        return attn_set_error(ATTN_E_IO, "writing %s failed: %s", c->path, cairo_status_to_string(s));
    return 0;
}

/* A colour bar w × h at (x, y) from 0 to vmax with ticked labels: vertical (0 at the bottom,
 * labels at the right, framed) or horizontal (0 at the left, labels below). */
void viz_colorbar(cairo_t *cr, double x, double y, double w, double h, double vmax, double fs, int horizontal)
{
    const int steps = 64;
    double rgb[3];
    for (int k = 0; k < steps; k++) {
        viz_colormap((k + 0.5) / steps, rgb);
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        if (horizontal) cairo_rectangle(cr, x + k * w / steps, y, w / steps + 0.5, h);
        else cairo_rectangle(cr, x, y + h - (k + 1) * h / steps, w, h / steps + 0.5);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    cairo_set_line_width(cr, 1);
    if (!horizontal) {
        cairo_rectangle(cr, x + 0.5, y + 0.5, w - 1, h - 1);
        cairo_stroke(cr);
    }
    viz_set_font(cr, fs, 0);
    double step = viz_nice_step(vmax, 4);
    for (double v = 0; v <= vmax * (1 + 1e-9); v += step) {
        const double t = horizontal ? x + v / vmax * w : y + h - v / vmax * h;
        char lab[32];
        snprintf(lab, sizeof lab, "%.3g", v);
        cairo_move_to(cr, horizontal ? t : x + w, horizontal ? y + h : t);
        cairo_line_to(cr, horizontal ? t : x + w + 4, horizontal ? y + h + 4 : t);
        cairo_stroke(cr);
        if (horizontal) cairo_move_to(cr, t - viz_text_width(cr, lab) / 2, y + h + 14);
        else cairo_move_to(cr, x + w + 6, t + fs * 0.35);
        cairo_show_text(cr, lab);
    }
}

/* Cells of a [rows, cols] matrix at (x0, y0), cell size cs, colour scale [0, vmax]. Labels when
 * fs > 0: row tokens right-aligned left of the cells, column tokens rotated above them. */
static void draw_matrix(cairo_t *cr, const viz_matrix *mx, double x0, double y0, double cs,
                        double vmax, double fs)
{
    double rgb[3];
    if ((size_t)mx->rows * mx->cols > VIZ_VECTOR_CELLS) {
        /* Big maps: one pixel per cell in an image, scaled up without smoothing (an SVG then
         * holds one embedded picture instead of millions of rectangles). */
        cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, mx->cols, mx->rows);
        if (cairo_surface_status(img) == CAIRO_STATUS_SUCCESS) {
            cairo_surface_flush(img);
            unsigned char *px = cairo_image_surface_get_data(img);
            int stride = cairo_image_surface_get_stride(img);
            for (int i = 0; i < mx->rows; i++) {
                uint32_t *row = (uint32_t *)(px + (size_t)i * stride);
                for (int j = 0; j < mx->cols; j++) {
                    viz_colormap(mx->w[(size_t)i * mx->cols + j] / vmax, rgb);
                    row[j] = (uint32_t)lround(rgb[0] * 255) << 16 |
                             (uint32_t)lround(rgb[1] * 255) << 8 | (uint32_t)lround(rgb[2] * 255);
                }
            }
            cairo_surface_mark_dirty(img);
            cairo_save(cr);
            cairo_translate(cr, x0, y0);
            cairo_scale(cr, cs, cs);
            cairo_set_source_surface(cr, img, 0, 0);
            cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
            cairo_paint(cr);
            cairo_restore(cr);
        }
        cairo_surface_destroy(img);
    } else {
        for (int i = 0; i < mx->rows; i++)
            for (int j = 0; j < mx->cols; j++) {
                viz_colormap(mx->w[(size_t)i * mx->cols + j] / vmax, rgb);
                cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
                /* Overlap by a hair so no seams show between cells. */
                cairo_rectangle(cr, x0 + j * cs, y0 + i * cs, cs + 0.02, cs + 0.02);
                cairo_fill(cr);
            }
    }
    cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, x0 - 0.5, y0 - 0.5, mx->cols * cs + 1, mx->rows * cs + 1);
    cairo_stroke(cr);
    /* Gold alignment: a thin teal frame around each row's aligned span, inside the cells'
     * edges so cell centres keep their colour. */
    for (int i = 0; mx->gold && i < mx->rows; i++) {
        if (mx->gold[i].lo >= mx->gold[i].hi) continue;
        double lw = cs >= 8 ? 1.5 : 1;
        cairo_set_source_rgb(cr, 0.0, 0.62, 0.60);
        cairo_set_line_width(cr, lw);
        cairo_rectangle(cr, x0 + mx->gold[i].lo * cs + lw / 2, y0 + i * cs + lw / 2,
                        (mx->gold[i].hi - mx->gold[i].lo) * cs - lw, cs - lw);
        cairo_stroke(cr);
    }
    if (fs <= 0) return;
    char buf[VIZ_LABEL_BYTES + 16];
    viz_set_font(cr, fs, 0);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    for (int i = 0; i < mx->rows; i++) {
        viz_display_token(mx->row_tok[i], buf, sizeof buf);
        cairo_move_to(cr, x0 - 4 - viz_text_width(cr, buf), y0 + (i + 0.5) * cs + fs * 0.35);
        cairo_show_text(cr, buf);
    }
    for (int j = 0; j < mx->cols; j++) {
        viz_display_token(mx->col_tok[j], buf, sizeof buf);
        cairo_save(cr);
        cairo_move_to(cr, x0 + (j + 0.5) * cs + fs * 0.35, y0 - 4);
        cairo_rotate(cr, -M_PI / 2);
        cairo_show_text(cr, buf);
        cairo_restore(cr);
    }
}

static viz_matrix map_matrix(const attn_attention_view *r, const attn_attention_head *m)
{
    return (viz_matrix){attn_attention_view_row_tokens(r, m->kind), m->rows, attn_attention_view_col_tokens(r, m->kind), m->cols,
                        m->w, m->kind == ATTN_ATTENTION_CROSS ? r->align : NULL};
}

static double matrix_max(const viz_matrix *mx)
{
    double v = 0;
    for (size_t k = 0; k < (size_t)mx->rows * mx->cols; k++)
        if (mx->w[k] > v) v = mx->w[k];
    return v > 0 ? v : 1;
}

static const char *axis_note(attn_attention_kind k)
{
    switch (k) {
    case ATTN_ATTENTION_CROSS: return "rows: target tokens (queries) · columns: source tokens (keys) · teal frames: gold alignment";
    case ATTN_ATTENTION_DECODER_SELF: return "rows: target tokens (queries) · columns: target tokens (keys)";
    default: return "rows: source tokens (queries) · columns: source tokens (keys)";
    }
}

int viz_matrix_write(const viz_matrix *mx, const char *title, const char *note, const char *path,
                     int svg, viz_layout *layout)
{
    cairo_t *mc = viz_measure_context();
    double cs, fs, lw, lh; /* 4096 tokens still fit in 4096 px */
    cell_sizes(mc, mx->row_tok, mx->rows, mx->col_tok, mx->cols, 520, 32, 13, &cs, &fs, &lw, &lh);
    viz_set_font(mc, 14, 1);
    double tw = viz_text_width(mc, title);
    viz_set_font(mc, 11, 0);
    double nw = viz_text_width(mc, note);
    cairo_destroy(mc);
    const double pad = 14, bar_w = 14, bar_gap = 18, tick_w = 44;
    double x0 = ceil(pad + lw + 6), y0 = ceil(pad + 22 + 16 + lh + 6);
    double pw = mx->cols * cs, ph = mx->rows * cs;
    double w = x0 + pw + bar_gap + bar_w + tick_w + pad;
    double need = (tw > nw ? tw : nw) + 2 * pad;
    if (w < need) w = need;
    double h = y0 + (ph > 120 ? ph : 120) + pad;
    viz_canvas c;
    int st = viz_surface_open(&c, path, svg, (int)ceil(w), (int)ceil(h));
    if (st) return st;
    cairo_t *cr = c.cr;
    double vmax = matrix_max(mx);
    viz_text(cr, pad, pad + 12, 14, 1, 0, title);
    viz_text(cr, pad, pad + 30, 11, 0, 0.35, note);
    draw_matrix(cr, mx, x0, y0, cs, vmax, fs);
    viz_colorbar(cr, x0 + pw + bar_gap, y0, bar_w, ph > 120 ? ph : 120, vmax, 10, 0);
    if (layout) *layout = (viz_layout){(int)ceil(w), (int)ceil(h), x0, y0, cs, cs, vmax};
    return viz_surface_close(&c);
}

int viz_heatmap_write(const attn_attention_view *r, int map, const char *path, int svg, viz_layout *layout)
{
    if (!r || !path) return attn_set_error(ATTN_E_ARG, "viz_heatmap_write: NULL argument");
    if (map < 0 || map >= r->n_maps)
        return attn_set_error(ATTN_E_ARG, "viz_heatmap_write: map %d not in [0, %d)", map, r->n_maps);
    const attn_attention_head *m = &r->maps[map];
    char title[512];
    snprintf(title, sizeof title, "%s%s%s · layer %d · head %d", r->title ? r->title : "",
             r->title ? " — " : "", attn_attention_kind_name(m->kind), m->layer, m->head);
    viz_matrix mx = map_matrix(r, m);
    return viz_matrix_write(&mx, title, axis_note(m->kind), path, svg, layout);
}

int viz_grid_write(const attn_attention_view *r, attn_attention_kind kind, int layer, const char *path, int svg)
{
    if (!r || !path) return attn_set_error(ATTN_E_ARG, "viz_grid_write: NULL argument");
    int heads = attn_attention_view_heads(r, kind);
    if (layer < 0 || layer >= attn_attention_view_layers(r, kind) || heads == 0)
        return attn_set_error(ATTN_E_ARG, "viz_grid_write: no %s maps in layer %d", attn_attention_kind_name(kind),
                        layer);
    int rows, cols;
    attn_attention_view_dims(r, kind, &rows, &cols);
    cairo_t *mc = viz_measure_context();
    double cs, fs, lw, lh;
    cell_sizes(mc, attn_attention_view_row_tokens(r, kind), rows, attn_attention_view_col_tokens(r, kind), cols, 260,
               22, 11, &cs, &fs, &lw, &lh);
    char title[512];
    snprintf(title, sizeof title, "%s%s%s · layer %d · all %d heads", r->title ? r->title : "",
             r->title ? " — " : "", attn_attention_kind_name(kind), layer, heads);
    viz_set_font(mc, 14, 1);
    double tw = viz_text_width(mc, title);
    cairo_destroy(mc);
    int per_row = heads <= 4 ? heads : heads <= 8 ? (heads + 1) / 2 : 4;
    int grid_rows = (heads + per_row - 1) / per_row;
    const double pad = 14, gap = 16, head_title = 16;
    double panel_w = lw + 6 + cols * cs, panel_h = head_title + lh + 6 + rows * cs;
    double top = pad + 24;
    double w = pad + per_row * panel_w + (per_row - 1) * gap + 18 + 14 + 44 + pad;
    if (w < tw + 2 * pad) w = tw + 2 * pad;
    double h = top + grid_rows * panel_h + (grid_rows - 1) * gap + pad;
    double vmax = 0;
    for (int hh = 0; hh < heads; hh++) {
        int m = attn_attention_view_find(r, kind, layer, hh);
        if (m < 0) continue;
        viz_matrix mx = map_matrix(r, &r->maps[m]);
        if (matrix_max(&mx) > vmax) vmax = matrix_max(&mx);
    }
    viz_canvas c;
    int st = viz_surface_open(&c, path, svg, (int)ceil(w), (int)ceil(h));
    if (st) return st;
    cairo_t *cr = c.cr;
    viz_text(cr, pad, pad + 12, 14, 1, 0, title);
    for (int hh = 0; hh < heads; hh++) {
        double px = pad + (hh % per_row) * (panel_w + gap), py = top + (hh / per_row) * (panel_h + gap);
        char ht[32];
        snprintf(ht, sizeof ht, "head %d", hh);
        viz_text(cr, px + lw + 6, py + 11, 11, 1, 0.2, ht);
        int m = attn_attention_view_find(r, kind, layer, hh);
        if (m < 0) continue; /* a missing head leaves its panel empty */
        viz_matrix mx = map_matrix(r, &r->maps[m]);
        draw_matrix(cr, &mx, px + lw + 6, py + head_title + lh + 6, cs, vmax, fs);
    }
    double bx = pad + per_row * panel_w + (per_row - 1) * gap + 18;
    double by = top + head_title + lh + 6, bh = rows * cs > 100 ? rows * cs : 100;
    viz_colorbar(cr, bx, by, 14, bh, vmax, 10, 0);
    return viz_surface_close(&c);
}

int viz_tokens_png(const char *const *tokens, const double *score, int n, const char *title,
                   const char *path)
{
    if (!tokens || !score || !path || n <= 0)
        return attn_set_error(ATTN_E_ARG, "viz_tokens_png: NULL argument or n=%d", n);
    double vmax = 0;
    for (int i = 0; i < n; i++) {
        if (!tokens[i]) return attn_set_error(ATTN_E_ARG, "viz_tokens_png: token %d is NULL", i);
        if (!viz_utf8_valid(tokens[i]))
            return attn_set_error(ATTN_E_FORMAT, "viz_tokens_png: token %d is not valid UTF-8", i);
        if (!isfinite(score[i]) || score[i] < 0)
            return attn_set_error(ATTN_E_ARG, "viz_tokens_png: score[%d]=%g (finite, >= 0)", i, score[i]);
        if (score[i] > vmax) vmax = score[i];
    }
    if (vmax <= 0) vmax = 1;
    const double fs = 16, pad = 16, box_h = 28, gap = 4, width = 760;
    char buf[VIZ_LABEL_BYTES + 16];
    /* Lay the tokens out first, wrapping at the width. */
    double *bx = malloc((size_t)n * 2 * sizeof *bx);
    if (!bx) return attn_set_error(ATTN_E_NOMEM, "viz_tokens_png");
    double *by = bx + n;
    cairo_t *mc = viz_measure_context();
    viz_set_font(mc, fs, 0);
    double x = pad, y = pad + 30;
    for (int i = 0; i < n; i++) {
        viz_display_token(tokens[i], buf, sizeof buf);
        double bw = viz_text_width(mc, buf) + 10;
        if (x + bw > width - pad && x > pad) {
            x = pad;
            y += box_h + gap;
        }
        bx[i] = x;
        by[i] = y;
        x += bw + gap;
    }
    cairo_destroy(mc);
    double h = y + box_h + 24 + 14 + 24 + pad;
    viz_canvas c;
    int st = viz_surface_open(&c, path, 0, (int)width, (int)ceil(h));
    if (st) {
        free(bx);
        return st;
    }
    cairo_t *cr = c.cr;
    viz_text(cr, pad, pad + 12, 14, 1, 0, title ? title : "token scores");
    viz_set_font(cr, fs, 0);
    double rgb[3];
    for (int i = 0; i < n; i++) {
        viz_display_token(tokens[i], buf, sizeof buf);
        double bw = viz_text_width(cr, buf) + 10, t = score[i] / vmax;
        viz_colormap(t, rgb);
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_rectangle(cr, bx[i], by[i], bw, box_h);
        cairo_fill(cr);
        double lum = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
        if (lum < 0.45) cairo_set_source_rgb(cr, 1, 1, 1);
        else cairo_set_source_rgb(cr, 0.05, 0.05, 0.05);
        cairo_move_to(cr, bx[i] + 5, by[i] + box_h / 2 + fs * 0.35);
        cairo_show_text(cr, buf);
    }
    viz_colorbar(cr, pad, y + box_h + 24, 300, 14, vmax, 10, 1); /* the colour scale under the text */
    free(bx);
    return viz_surface_close(&c);
}
