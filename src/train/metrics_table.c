/* metrics_table.c — metrics.csv read back as a table of numbers (attn/train.h): what `attn plot`
 * draws, for any program. */
#include "internal.h"
#include "../data/data_internal.h"
#include "attn/train.h"

#include <stdio.h>
#include <string.h>

/* Split line in place at commas (no quoting: metric CSVs are plain numbers) into at most max
 * fields, trimmed of spaces; max + 1 when there are more. */
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
    for (int i = 0; i < n; i++) {
        while (*field[i] == ' ' || *field[i] == '\t') field[i]++;
        char *e = field[i] + strlen(field[i]);
        while (e > field[i] && strchr(" \t\r\n", e[-1])) *--e = 0;
    }
    return n;
}

void attn_metrics_table_free(attn_metrics_table *t)
{
    if (!t) return;
    for (int c = 0; t->names && c < t->ncols; c++) free(t->names[c]);
    free(t->names), free(t->v);
    memset(t, 0, sizeof *t);
}

/* One data row of n fields into row r (grown as needed). */
static int add_row(attn_metrics_table *t, int *cap, char **field, const char *path, int lineno)
{
    if (t->nrows == *cap) {
        const int c = *cap ? 2 * *cap : 256;
        double *v = realloc(t->v, (size_t)c * (size_t)t->ncols * sizeof *v);
        if (!v) return attn_fail(ATTN_E_NOMEM, "%s: %d rows", path, c);
        t->v = v, *cap = c;
    }
    for (int c = 0; c < t->ncols; c++) {
        double x = NAN;
        if (field[c][0]) {
            char *end;
            x = strtod(field[c], &end);
            if (*end)
                return attn_fail(ATTN_E_FORMAT, "%s line %d column %s: '%s' is not a number", path, lineno,
                                 t->names[c], field[c]);
            if (!isfinite(x)) x = NAN; /* a diverged loss ("nan", "inf") */
        }
        t->v[(size_t)t->nrows * t->ncols + c] = x;
    }
    t->nrows++;
    return ATTN_OK;
}

int attn_metrics_load(const char *path, attn_metrics_table *out)
{
    static const char fn[] = "attn_metrics_load";
    ATTN_REQUIRE_NONNULL(fn, out);
    memset(out, 0, sizeof *out);
    char *text = NULL;
    size_t len = 0;
    ATTN_TRY(attn_read_file(fn, path, &text, &len));
    int st = memchr(text, 0, len) ? attn_fail(ATTN_E_FORMAT, "%s: NUL byte in a CSV file", path) : ATTN_OK;
    char *save = NULL, *field[ATTN_METRICS_MAX_COLS + 1];
    int lineno = 0, cap = 0;
    const int cut_off = len > 0 && text[len - 1] != '\n'; /* the last line has no newline yet */
    for (char *line = st ? NULL : strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (strspn(line, " \t\r") == strlen(line)) continue;
        const int n = split(line, field, ATTN_METRICS_MAX_COLS);
        if (!out->ncols) { /* the header */
            if (n > ATTN_METRICS_MAX_COLS) {
                st = attn_fail(ATTN_E_FORMAT, "%s: more than %d columns", path, ATTN_METRICS_MAX_COLS);
                break;
            }
            if (!(out->names = calloc((size_t)n, sizeof *out->names))) st = attn_fail(ATTN_E_NOMEM, "%s", path);
            for (int c = 0; !st && c < n; c++)
                if (!(out->names[c] = strdup(field[c]))) st = attn_fail(ATTN_E_NOMEM, "%s", path);
            out->ncols = out->names ? n : 0;
            if (st) break;
            continue;
        }
        /* The last line of a log still being written may be cut short: leave it out. */
        if (n != out->ncols && cut_off && !save[0]) break;
        if (n != out->ncols) {
            st = attn_fail(ATTN_E_FORMAT, "%s line %d: %d fields but the header has %d", path, lineno,
                           n > ATTN_METRICS_MAX_COLS ? n - 1 : n, out->ncols);
            break;
        }
        if ((st = add_row(out, &cap, field, path, lineno))) break;
    }
    free(text);
    if (!st && !out->ncols) st = attn_fail(ATTN_E_FORMAT, "%s: empty file (need a header row)", path);
    if (st) attn_metrics_table_free(out);
    return st;
}

int attn_metrics_column(const attn_metrics_table *t, const char *name)
{
    for (int c = 0; t && name && c < t->ncols; c++)
        if (!strcmp(t->names[c], name)) return c;
    return -1;
}
