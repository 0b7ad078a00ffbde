/* viz_plot.c — `attn plot metrics.csv --out loss.png`: training curves. Loss against step on
 * the left axis, a validation metric on a second (right) axis when the CSV has one. */
#include "viz_draw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PLOT_MAX_COLS 64

typedef struct csv_table {
    int ncols, nrows;
    char *names[PLOT_MAX_COLS];
    double *v; /* [nrows, ncols], NaN for empty cells */
} csv_table;

static void csv_free(csv_table *t)
{
    for (int c = 0; c < t->ncols; c++) free(t->names[c]);
    free(t->v);
}

/* Split line in place at commas (no quoting: metric CSVs are plain numbers). */
static int split(char *line, char **field, int max)
{
    int n = 0;
    for (char *p = line;; p++) {
        if (n == max) return max + 1;
        field[n++] = p;
        p = strchr(p, ',');
        if (!p) break;
        *p = 0;
    }
    for (int i = 0; i < n; i++) { /* trim */
        while (*field[i] == ' ' || *field[i] == '\t') field[i]++;
        char *e = field[i] + strlen(field[i]);
        while (e > field[i] && strchr(" \t\r\n", e[-1])) *--e = 0;
    }
    return n;
}

static int csv_read(const char *path, csv_table *t)
{
    memset(t, 0, sizeof *t);
    char *text;
    size_t len;
    int st = viz_read_file(path, &text, &len);
    if (st) return st;
    if (memchr(text, 0, len)) {
        free(text);
        return viz_fail(ATTN_E_FORMAT, "%s: NUL byte in a CSV file", path);
    }
    char *save = NULL, *field[PLOT_MAX_COLS + 1];
    int lineno = 0, cap = 0;
    int cut_off = len > 0 && text[len - 1] != '\n'; /* the last line has no newline yet */
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (strspn(line, " \t\r") == strlen(line)) continue;
        int n = split(line, field, PLOT_MAX_COLS);
        if (!t->ncols) {
            if (n > PLOT_MAX_COLS) {
                st = viz_fail(ATTN_E_FORMAT, "%s: more than %d columns", path, PLOT_MAX_COLS);
                break;
            }
            for (int c = 0; c < n; c++) {
                t->names[c] = strdup(field[c]);
                if (!t->names[c]) st = viz_fail(ATTN_E_NOMEM, "%s", path);
            }
            t->ncols = n;
            if (st) break;
            continue;
        }
        /* The last line of a log still being written may be cut short: leave it out. */
        if (n != t->ncols && cut_off && !save[0]) break;
        if (n != t->ncols) {
            st = viz_fail(ATTN_E_FORMAT, "%s line %d: %d fields but the header has %d", path,
                          lineno, n > PLOT_MAX_COLS ? n - 1 : n, t->ncols);
            break;
        }
        if (t->nrows == cap) {
            cap = cap ? 2 * cap : 256;
            double *v = realloc(t->v, (size_t)cap * t->ncols * sizeof *v);
            if (!v) {
                st = viz_fail(ATTN_E_NOMEM, "%s", path);
                break;
            }
            t->v = v;
        }
        for (int c = 0; c < n; c++) {
            double x = NAN;
            if (field[c][0]) {
                char *end;
                x = strtod(field[c], &end);
                if (*end) {
                    st = viz_fail(ATTN_E_FORMAT, "%s line %d column %s: '%s' is not a number",
                                  path, lineno, t->names[c], field[c]);
                    break;
                }
                if (!isfinite(x)) x = NAN; /* a diverged loss ("nan", "inf"): not drawn */
            }
            t->v[(size_t)t->nrows * t->ncols + c] = x;
        }
        if (st) break;
        t->nrows++;
    }
    free(text);
    if (!st && !t->ncols) st = viz_fail(ATTN_E_FORMAT, "%s: empty file (need a header row)", path);
    if (st) csv_free(t);
    return st;
}

static int find_col(const csv_table *t, const char *name, int prefix)
{
    for (int c = 0; c < t->ncols; c++)
        if (prefix ? !strncmp(t->names[c], name, strlen(name)) : !strcmp(t->names[c], name))
            return c;
    return -1;
}

typedef struct axis {
    double lo, hi;
} axis;

/* Data range of a column over rows where both it and x are present, widened to nice ticks. */
static int col_range(const csv_table *t, int c, int xc, axis *a)
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

static void draw_series(cairo_t *cr, const csv_table *t, int xc, int c, axis ax, axis ay,
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

/* Ticks and labels of a vertical axis at x (side -1: labels left, +1: right). */
static void y_ticks(cairo_t *cr, axis a, double x, double py, double ph, int side)
{
    double step = viz_nice_step(a.hi - a.lo, 5);
    viz_set_font(cr, 11, 0);
    for (double v = a.lo; v <= a.hi + step * 1e-6; v += step) {
        double y = py + ph - (v - a.lo) / (a.hi - a.lo) * ph;
        char lab[32];
        snprintf(lab, sizeof lab, "%.4g", fabs(v) < step * 1e-6 ? 0.0 : v);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        cairo_move_to(cr, x, y);
        cairo_line_to(cr, x + 5 * side, y);
        cairo_stroke(cr);
        double tw = viz_text_width(cr, lab);
        cairo_move_to(cr, side < 0 ? x - 8 - tw : x + 8, y + 4);
        cairo_show_text(cr, lab);
    }
}

int viz_plot_csv(const char *csv_path, const char *png_path)
{
    if (!csv_path || !png_path) return viz_fail(ATTN_E_ARG, "viz_plot_csv: NULL argument");
    csv_table t;
    int st = csv_read(csv_path, &t);
    if (st) return st;
    int xc = find_col(&t, "step", 0), yc = find_col(&t, "loss", 0);
    if (yc < 0) yc = find_col(&t, "train_loss", 0); /* attn_train_run's metrics.csv */
    int vc = find_col(&t, "val_metric", 0);
    if (vc < 0) vc = find_col(&t, "val", 1);
    if (xc < 0 || yc < 0) {
        csv_free(&t);
        return viz_fail(ATTN_E_FORMAT, "%s: the header needs columns \"step\" and \"loss\"",
                        csv_path);
    }
    axis ax = {0, 1}, ay = {0, 1}, av = {0, 1};
    int n = col_range(&t, xc, xc, &ax), ny = col_range(&t, yc, xc, &ay);
    int nv = vc >= 0 ? col_range(&t, vc, xc, &av) : 0;
    if (!n || !ny) {
        csv_free(&t);
        return viz_fail(ATTN_E_FORMAT, "%s: no rows with both step and loss", csv_path);
    }
    const double W = 820, H = 480, px = 80, py = 50, pw = W - px - (nv ? 90 : 40), ph = H - py - 70;
    viz_canvas c;
    if ((st = viz_surface_open(&c, png_path, 0, (int)W, (int)H))) {
        csv_free(&t);
        return st;
    }
    cairo_t *cr = c.cr;
    const char *base = strrchr(csv_path, '/');
    char title[512];
    snprintf(title, sizeof title, "training curves — %s (%d rows)", base ? base + 1 : csv_path,
             t.nrows);
    viz_set_font(cr, 14, 1);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_move_to(cr, px, 28);
    cairo_show_text(cr, title);
    /* Grid lines and x ticks. */
    cairo_set_line_width(cr, 1);
    double xs = viz_nice_step(ax.hi - ax.lo, 6), ys = viz_nice_step(ay.hi - ay.lo, 5);
    cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
    for (double v = ay.lo; v <= ay.hi + ys * 1e-6; v += ys) {
        double y = py + ph - (v - ay.lo) / (ay.hi - ay.lo) * ph;
        cairo_move_to(cr, px, y);
        cairo_line_to(cr, px + pw, y);
    }
    cairo_stroke(cr);
    viz_set_font(cr, 11, 0);
    for (double v = ax.lo; v <= ax.hi + xs * 1e-6; v += xs) {
        double x = px + (v - ax.lo) / (ax.hi - ax.lo) * pw;
        char lab[32];
        snprintf(lab, sizeof lab, "%.6g", fabs(v) < xs * 1e-6 ? 0.0 : v);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        cairo_move_to(cr, x, py + ph);
        cairo_line_to(cr, x, py + ph + 5);
        cairo_stroke(cr);
        cairo_move_to(cr, x - viz_text_width(cr, lab) / 2, py + ph + 18);
        cairo_show_text(cr, lab);
    }
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_rectangle(cr, px + 0.5, py + 0.5, pw, ph);
    cairo_stroke(cr);
    y_ticks(cr, ay, px, py, ph, -1);
    viz_set_font(cr, 12, 0);
    cairo_move_to(cr, px + pw / 2 - viz_text_width(cr, t.names[xc]) / 2, py + ph + 40);
    cairo_show_text(cr, t.names[xc]);
    cairo_save(cr);
    cairo_move_to(cr, 22, py + ph / 2 + viz_text_width(cr, t.names[yc]) / 2);
    cairo_rotate(cr, -M_PI / 2);
    cairo_show_text(cr, t.names[yc]);
    cairo_restore(cr);
    const double loss_rgb[3] = {0.12, 0.35, 0.70}, val_rgb[3] = {0.85, 0.37, 0.05};
    draw_series(cr, &t, xc, yc, ax, ay, px, py, pw, ph, loss_rgb, ny < 40);
    if (nv) {
        y_ticks(cr, av, px + pw, py, ph, +1);
        viz_set_font(cr, 12, 0);
        cairo_save(cr);
        cairo_move_to(cr, W - 16, py + ph / 2 - viz_text_width(cr, t.names[vc]) / 2);
        cairo_rotate(cr, M_PI / 2);
        cairo_show_text(cr, t.names[vc]);
        cairo_restore(cr);
        draw_series(cr, &t, xc, vc, ax, av, px, py, pw, ph, val_rgb, 1);
    }
    /* Legend, top right inside the plot. */
    viz_set_font(cr, 12, 0);
    const char *names[2] = {t.names[yc], nv ? t.names[vc] : NULL};
    const double *cols[2] = {loss_rgb, val_rgb};
    double lw = 0;
    for (int k = 0; k < 2; k++)
        if (names[k]) {
            char lab[160];
            snprintf(lab, sizeof lab, "%s%s", names[k], k ? " (right axis)" : "");
            double w = viz_text_width(cr, lab);
            lw = w > lw ? w : lw;
        }
    double lx = px + pw - lw - 50, ly = py + 10, lh = nv ? 44 : 24;
    cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
    cairo_rectangle(cr, lx, ly, lw + 40, lh);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
    cairo_stroke(cr);
    for (int k = 0; k < 2; k++) {
        if (!names[k]) continue;
        double y = ly + 12 + 20 * k;
        cairo_set_source_rgb(cr, cols[k][0], cols[k][1], cols[k][2]);
        cairo_set_line_width(cr, 2);
        cairo_move_to(cr, lx + 6, y);
        cairo_line_to(cr, lx + 26, y);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        cairo_move_to(cr, lx + 32, y + 4);
        char lab[160];
        snprintf(lab, sizeof lab, "%s%s", names[k], k ? " (right axis)" : "");
        cairo_show_text(cr, lab);
    }
    csv_free(&t);
    return viz_surface_close(&c);
}

static int plot_main(int argc, char **argv)
{
    const char *csv = NULL, *out = "loss.png";
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--out") && a + 1 < argc) out = argv[++a];
        else if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
            printf("usage: attn plot metrics.csv [--out loss.png]\n"
                   "  CSV header names the columns; step and loss are required, val_metric (or the\n"
                   "  first val* column) is drawn on a second axis; empty cells are skipped.\n");
            return 0;
        } else if (argv[a][0] != '-' && !csv) csv = argv[a];
        else {
            fprintf(stderr, "usage: attn plot metrics.csv [--out loss.png]\n");
            return 2;
        }
    }
    if (!csv) {
        fprintf(stderr, "usage: attn plot metrics.csv [--out loss.png]\n");
        return 2;
    }
    int st = viz_plot_csv(csv, out);
    if (st) {
        fprintf(stderr, "attn plot: %s: %s\n", attn_status_string(st), viz_last_error());
        return 1;
    }
    printf("attn plot: wrote %s\n", out);
    return 0;
}

int cli_plot(int argc, char **argv)
{
    int rc = plot_main(argc, argv);
    viz_release_caches();
    return rc;
}
