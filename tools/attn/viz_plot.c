/* viz_plot.c — `attn plot metrics.csv --out loss.png|svg|pdf`: training curves. Chosen columns
 * (default: the losses) against step (or epoch) on the left axis, validation metrics on a
 * second (right) axis. */
#include "args.h"
#include "viz_draw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct axis {
    double lo, hi;
} axis;

/* Data range of a column over rows where both it and x are present, widened to nice ticks. */
static int col_range(const attn_metrics_table *t, int c, int xc, axis *a)
{
    double lo = INFINITY, hi = -INFINITY;
    int n = 0;
    for (int i = 0; i < t->nrows; i++) {
        double x = t->v[(size_t)i * t->ncols + xc], y = t->v[(size_t)i * t->ncols + c];
        if (isnan(x) || isnan(y)) continue;
        lo = y < lo ? y : lo;
        hi = y > hi ? y : hi;
        n++;
    }
    if (!n) return 0;
    if (hi - lo < 1e-12 * (fabs(hi) + 1)) {
        lo -= 0.5 * (fabs(lo) + 1e-3);
        hi += 0.5 * (fabs(hi) + 1e-3);
    }
    double step = viz_nice_step(hi - lo, 5);
    a->lo = floor(lo / step) * step;
    a->hi = ceil(hi / step) * step;
    return n;
}

static void draw_series(cairo_t *cr, const attn_metrics_table *t, int xc, int c, axis ax, axis ay,
                        double px, double py, double pw, double ph, const double rgb[3], int dots)
{
    cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
    cairo_set_line_width(cr, 2);
    int started = 0;
    for (int i = 0; i < t->nrows; i++) {
        double x = t->v[(size_t)i * t->ncols + xc], y = t->v[(size_t)i * t->ncols + c];
        if (isnan(x) || isnan(y)) continue;
        double sx = px + (x - ax.lo) / (ax.hi - ax.lo) * pw, sy = py + ph - (y - ay.lo) / (ay.hi - ay.lo) * ph;
        if (started) cairo_line_to(cr, sx, sy);
        else cairo_move_to(cr, sx, sy);
        started = 1;
    }
    cairo_stroke(cr);
    for (int i = 0; dots && i < t->nrows; i++) {
        double x = t->v[(size_t)i * t->ncols + xc], y = t->v[(size_t)i * t->ncols + c];
        if (isnan(x) || isnan(y)) continue;
        cairo_arc(cr, px + (x - ax.lo) / (ax.hi - ax.lo) * pw,
                  py + ph - (y - ay.lo) / (ay.hi - ay.lo) * ph, 3, 0, 2 * M_PI);
        cairo_fill(cr);
    }
}

/* Ticks and labels of an axis: the x axis along y = at from x = from (side 0: labels below), or
 * a vertical one at x = at from y = from + len up (side −1: labels left, +1: right). */
static void ticks(cairo_t *cr, axis a, double at, double from, double len, int side)
{
    double step = viz_nice_step(a.hi - a.lo, side ? 5 : 6);
    viz_set_font(cr, 11, 0);
    for (double v = a.lo; v <= a.hi + step * 1e-6; v += step) {
        double f = (v - a.lo) / (a.hi - a.lo) * len, p = side ? from + len - f : from + f;
        char lab[32];
        snprintf(lab, sizeof lab, side ? "%.4g" : "%.6g", fabs(v) < step * 1e-6 ? 0.0 : v);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        cairo_move_to(cr, side ? at : p, side ? p : at);
        cairo_line_to(cr, side ? at + 5 * side : p, side ? p : at + 5);
        cairo_stroke(cr);
        double tw = viz_text_width(cr, lab);
        cairo_move_to(cr, side < 0 ? at - 8 - tw : side ? at + 8 : p - tw / 2, side ? p + 4 : at + 18);
        cairo_show_text(cr, lab);
    }
}

/* Column names in a comma list into idx[] (at most max); a name not in t fails naming it. */
static int parse_cols(const attn_metrics_table *t, const char *path, const char *list, int *idx, int max,
                      int *n)
{
    *n = 0;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *name = strtok_r(buf, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        while (*name == ' ') name++;
        if (!*name) continue;
        int c = attn_metrics_column(t, name);
        if (c < 0) {
            char cols[1024] = "";
            for (int k = 0; k < t->ncols; k++)
                snprintf(cols + strlen(cols), sizeof cols - strlen(cols), "%s%s", k ? ", " : "",
                         t->names[k]);
            return attn_set_error(ATTN_E_FORMAT, "%s: no column '%s' (its columns: %s)", path, name, cols);
        }
        if (*n == max) return attn_set_error(ATTN_E_ARG, "more than %d columns to draw", max);
        idx[(*n)++] = c;
    }
    return 0;
}

static int has_data(const attn_metrics_table *t, int c, int xc)
{
    axis a;
    return col_range(t, c, xc, &a) > 0;
}

#define PLOT_MAX_SERIES 8

int viz_plot_csv_opts(const char *csv_path, const char *out_path, const viz_plot_options *o)
{
    if (!csv_path || !out_path) return attn_set_error(ATTN_E_ARG, "viz_plot_csv: NULL argument");
    viz_plot_options d = {0};
    if (o) d = *o;
    attn_metrics_table t;
    int st = attn_metrics_load(csv_path, &t);
    if (st) return st;
    int xc = attn_metrics_column(&t, d.x ? d.x : "step");
    if (!d.x && xc < 0) xc = attn_metrics_column(&t, "epoch");
    if (xc < 0) {
        st = d.x ? parse_cols(&t, csv_path, d.x, &xc, 1, &(int){0})
                 : attn_set_error(ATTN_E_FORMAT, "%s: no \"step\" or \"epoch\" column for the x axis "
                                           "(choose one with --x)", csv_path);
        if (!st) st = attn_set_error(ATTN_E_FORMAT, "%s: no x column", csv_path);
        attn_metrics_table_free(&t);
        return st;
    }
    int yc[PLOT_MAX_SERIES], vc[PLOT_MAX_SERIES], ny = 0, nv = 0;
    if (d.y) st = parse_cols(&t, csv_path, d.y, yc, PLOT_MAX_SERIES, &ny);
    else /* default: every loss column with data */
        for (int c = 0; c < t.ncols && ny < PLOT_MAX_SERIES; c++)
            if (c != xc && strstr(t.names[c], "loss") && has_data(&t, c, xc)) yc[ny++] = c;
    if (!st && d.y2) st = parse_cols(&t, csv_path, d.y2, vc, PLOT_MAX_SERIES, &nv);
    else if (!st && !d.y) /* default right axis: validation metrics that are not losses */
        for (int c = 0; c < t.ncols && nv < PLOT_MAX_SERIES; c++)
            if (c != xc && !strncmp(t.names[c], "val", 3) && !strstr(t.names[c], "loss") &&
                has_data(&t, c, xc))
                vc[nv++] = c;
    if (!st && !ny)
        st = attn_set_error(ATTN_E_FORMAT, "%s: no loss column with data to draw (choose columns with "
                                     "--y)", csv_path);
    if (st) {
        attn_metrics_table_free(&t);
        return st;
    }
    /* y ranges over all the series of each axis */
    axis ax = {0, 1}, ay = {INFINITY, -INFINITY}, av = {INFINITY, -INFINITY};
    int n = col_range(&t, xc, xc, &ax), any_y = 0, any_v = 0;
    for (int k = 0; k < ny + nv; k++) {
        axis a;
        int left = k < ny, c = left ? yc[k] : vc[k - ny];
        if (!col_range(&t, c, xc, &a)) continue;
        axis *to = left ? &ay : &av;
        to->lo = a.lo < to->lo ? a.lo : to->lo;
        to->hi = a.hi > to->hi ? a.hi : to->hi;
        if (left) any_y = 1;
        else any_v = 1;
    }
    if (!n || !any_y) {
        attn_metrics_table_free(&t);
        return attn_set_error(ATTN_E_FORMAT, "%s: no rows with both %s and a value to draw on the left "
                                       "axis", csv_path, t.names[xc]);
    }
    const double W = 820, H = 480, px = 80, py = 50, pw = W - px - (any_v ? 90 : 40), ph = H - py - 70;
    viz_canvas c;
    if ((st = viz_surface_open(&c, out_path, d.format, (int)W, (int)H))) {
        attn_metrics_table_free(&t);
        return st;
    }
    cairo_t *cr = c.cr;
    const char *base = strrchr(csv_path, '/');
    char title[512];
    snprintf(title, sizeof title, "training curves — %s (%d rows)", base ? base + 1 : csv_path,
             t.nrows);
    viz_text(cr, px, 28, 14, 1, 0, title);
    /* Grid lines and x ticks. */
    cairo_set_line_width(cr, 1);
    double ys = viz_nice_step(ay.hi - ay.lo, 5);
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    for (double v = ay.lo; v <= ay.hi + ys * 1e-6; v += ys) {
        double y = py + ph - (v - ay.lo) / (ay.hi - ay.lo) * ph;
        cairo_move_to(cr, px, y);
        cairo_line_to(cr, px + pw, y);
    }
    cairo_stroke(cr);
    ticks(cr, ax, py + ph, px, pw, 0);
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_rectangle(cr, px + 0.5, py + 0.5, pw, ph);
    cairo_stroke(cr);
    ticks(cr, ay, px, py, ph, -1);
    viz_set_font(cr, 12, 0);
    cairo_move_to(cr, px + pw / 2 - viz_text_width(cr, t.names[xc]) / 2, py + ph + 40);
    cairo_show_text(cr, t.names[xc]);
    const char *ylab = ny == 1 ? t.names[yc[0]] : "loss";
    cairo_save(cr);
    cairo_move_to(cr, 22, py + ph / 2 + viz_text_width(cr, ylab) / 2);
    cairo_rotate(cr, -M_PI / 2);
    cairo_show_text(cr, ylab);
    cairo_restore(cr);
    static const double palette[PLOT_MAX_SERIES * 2][3] = {
        {0.12, 0.35, 0.70}, {0.20, 0.60, 0.25}, {0.55, 0.25, 0.65}, {0.10, 0.55, 0.60},
        {0.35, 0.35, 0.35}, {0.65, 0.50, 0.10}, {0.30, 0.45, 0.90}, {0.50, 0.70, 0.20},
        {0.85, 0.37, 0.05}, {0.80, 0.15, 0.20}, {0.90, 0.60, 0.00}, {0.70, 0.30, 0.45},
        {0.95, 0.45, 0.35}, {0.60, 0.20, 0.10}, {0.85, 0.20, 0.55}, {0.75, 0.55, 0.30}};
    for (int k = 0; k < ny; k++) {
        axis a;
        int nk = col_range(&t, yc[k], xc, &a);
        if (nk) draw_series(cr, &t, xc, yc[k], ax, ay, px, py, pw, ph, palette[k], nk < 40);
    }
    if (any_v) {
        ticks(cr, av, px + pw, py, ph, +1);
        const char *vlab = nv == 1 ? t.names[vc[0]] : "validation";
        viz_set_font(cr, 12, 0);
        cairo_save(cr);
        cairo_move_to(cr, W - 16, py + ph / 2 - viz_text_width(cr, vlab) / 2);
        cairo_rotate(cr, M_PI / 2);
        cairo_show_text(cr, vlab);
        cairo_restore(cr);
        for (int k = 0; k < nv; k++)
            draw_series(cr, &t, xc, vc[k], ax, av, px, py, pw, ph, palette[PLOT_MAX_SERIES + k], 1);
    }
    /* Legend, top right inside the plot. */
    viz_set_font(cr, 12, 0);
    double lw = 0;
    int nl = ny + (any_v ? nv : 0);
    char lab[PLOT_MAX_SERIES * 2][160];
    for (int k = 0; k < nl; k++) {
        snprintf(lab[k], sizeof lab[k], "%s%s", t.names[k < ny ? yc[k] : vc[k - ny]],
                 k < ny ? "" : " (right axis)");
        double w = viz_text_width(cr, lab[k]);
        lw = w > lw ? w : lw;
    }
    double lx = px + pw - lw - 50, ly = py + 10, lh = 4 + 20 * nl;
    cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
    cairo_rectangle(cr, lx, ly, lw + 40, lh);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
    cairo_stroke(cr);
    for (int k = 0; k < nl; k++) {
        double y = ly + 12 + 20 * k;
        const double *rgb = palette[k < ny ? k : PLOT_MAX_SERIES + k - ny];
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_set_line_width(cr, 2);
        cairo_move_to(cr, lx + 6, y);
        cairo_line_to(cr, lx + 26, y);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        cairo_move_to(cr, lx + 32, y + 4);
        cairo_show_text(cr, lab[k]);
    }
    attn_metrics_table_free(&t);
    return viz_surface_close(&c);
}

int viz_plot_csv(const char *csv_path, const char *png_path)
{
    return viz_plot_csv_opts(csv_path, png_path, NULL);
}

/* VIZ_PNG, VIZ_SVG or VIZ_PDF from the file name's extension; -1 when none of them. */
static int format_of(const char *path)
{
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) return -1;
    if (!strcasecmp(dot, ".png")) return VIZ_PNG;
    if (!strcasecmp(dot, ".svg")) return VIZ_SVG;
    if (!strcasecmp(dot, ".pdf")) return VIZ_PDF;
    return -1;
}

static const char *plot_out = "loss.png", *plot_x, *plot_y, *plot_y2;
static const arg_opt plot_opts[] = {
    {"out", 'o', ARG_STR, &plot_out, .meta = "FILE",
     .help = "picture to write; .png, .svg or .pdf (cairo) by its extension"},
    {"x", 'x', ARG_STR, &plot_x, .meta = "COL", .help = "x axis column (default step, else epoch)"},
    {"y", 'y', ARG_STR, &plot_y, .meta = "COL,...",
     .help = "left axis columns (default: every *loss* column)"},
    {"y2", 0, ARG_STR, &plot_y2, .meta = "COL,...",
     .help = "right axis columns (default without --y: val* columns that are not losses)"},
    {0}};
static const arg_spec plot_spec = {
    .cmd = "plot",
    .synopsis = "[options] metrics.csv",
    .about = "Training curves from any metrics.csv attn writes: translation (epoch,step,train_loss,\n"
             "val_loss,val_bleu,...), language model (step,train_loss,val_loss,...), classification\n"
             "and the demo (step,loss,lr,tokens_per_s,val_metric). Empty, nan and inf cells are\n"
             "skipped; a cut-off last line of a log still being written is ignored.",
    .opts = plot_opts,
    .min_pos = 1,
    .max_pos = 1,
    .epilog = "example: attn plot run/metrics.csv --y train_loss,val_loss --y2 val_bleu -o curves.pdf",
};

static int plot_main(int argc, char **argv)
{
    char **pos;
    int npos;
    ARGS_PARSE_OR_RETURN(&plot_spec, argc, argv, &pos, &npos);
    int fmt = format_of(plot_out);
    if (fmt < 0)
        return args_usage_error(&plot_spec, "--out must end in .png, .svg or .pdf, got '%s'", plot_out);
    viz_plot_options o = {.format = fmt, .x = plot_x, .y = plot_y, .y2 = plot_y2};
    int st = viz_plot_csv_opts(pos[0], plot_out, &o);
    if (st) {
        fprintf(stderr, "attn plot: %s\n", attn_last_error());
        return 1;
    }
    printf("attn plot: wrote %s\n", plot_out);
    return 0;
}

int cli_plot(int argc, char **argv)
{
    int rc = plot_main(argc, argv);
    viz_release_caches();
    return rc;
}
