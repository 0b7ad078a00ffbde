/* view_json.c — attention.json (attn/analysis.h): a view written as JSON text (with the
 * viewer's extras on request), and read back through src/io/json.h with every field checked. */
#include "internal.h"
#include "attn/analysis.h"
#include "../io/json.h"
#include "view_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- a growing string --------------------------------------------------------------------------- */

void view_put(view_buf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p, b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void view_puts(view_buf *b, const char *s) { view_put(b, s, strlen(s)); }

void view_printf(view_buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof small) { /* only numbers and short names pass through here */
        b->oom = 1;
        return;
    }
    view_put(b, small, (size_t)n);
}

/* A JSON string; '<' as \u003c so that no "</script>" can end the HTML element holding it. */
void view_string(view_buf *b, const char *s)
{
    view_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"') view_puts(b, "\\\"");
        else if (*p == '\\') view_puts(b, "\\\\");
        else if (*p == '\n') view_puts(b, "\\n");
        else if (*p == '\t') view_puts(b, "\\t");
        else if (*p < 0x20 || *p == '<' || *p == 0x7f) view_printf(b, "\\u%04x", *p);
        else view_put(b, (const char *)p, 1);
    }
    view_puts(b, "\"");
}

/* rows × cols floats as rows of numbers with `digits` significant digits. */
void view_float_rows(view_buf *b, const float *w, int rows, int cols, const char *indent)
{
    view_puts(b, "[");
    for (int i = 0; i < rows; i++) {
        view_printf(b, "%s\n%s[", i ? "," : "", indent);
        for (int j = 0; j < cols; j++) view_printf(b, "%s%.9g", j ? "," : "", (double)w[(size_t)i * cols + j]);
        view_puts(b, "]");
    }
    view_puts(b, "]");
}

static void number_or_null(view_buf *b, const char *key, double x)
{
    if (isfinite(x)) view_printf(b, ",\"%s\":%.17g", key, x);
    else view_printf(b, ",\"%s\":null", key);
}

static void put_tokens(view_buf *b, const char *key, char *const *t, int n)
{
    view_printf(b, ",\n\"%s\":[", key);
    for (int i = 0; i < n; i++) {
        if (i) view_puts(b, ",");
        view_string(b, t[i]);
    }
    view_puts(b, "]");
}

/* The viewer's extras: per-head metrics, the best-aligned head, and the rollout (matrix and
 * token scores) of each complete self-attention kind. */
static void put_extras(view_buf *b, const attn_attention_view *v, int pool)
{
    attn_attention_head_metrics *hm = calloc((size_t)v->n_maps + 1, sizeof *hm);
    if (hm && attn_attention_view_metrics(v, hm) == ATTN_OK) {
        view_puts(b, ",\n\"metrics\":[");
        for (int m = 0; m < v->n_maps; m++) {
            view_printf(b, "%s\n{\"kind\":\"%s\",\"layer\":%d,\"head\":%d", m ? "," : "",
                        attn_attention_kind_name(hm[m].kind), hm[m].layer, hm[m].head);
            number_or_null(b, "entropy", hm[m].entropy);
            number_or_null(b, "distance", hm[m].distance);
            number_or_null(b, "align_acc", hm[m].align_acc);
            view_printf(b, ",\"n_aligned\":%d}", hm[m].n_aligned);
        }
        view_printf(b, "],\n\"best_alignment\":%d", attn_attention_best_alignment(hm, v->n_maps));
    }
    free(hm);
    view_puts(b, ",\n\"rollout\":[");
    const int n = v->n_src;
    double *mat = malloc((size_t)n * n * sizeof *mat + 1), *score = malloc((size_t)n * sizeof *score + 1);
    const attn_attention_kind kinds[2] = {ATTN_ATTENTION_ENCODER_SELF, ATTN_ATTENTION_CLASSIFIER_SELF};
    int any = 0;
    for (int k = 0; mat && score && k < 2; k++) {
        if (attn_attention_view_layers(v, kinds[k]) == 0) continue;
        if (attn_attention_view_rollout(v, kinds[k], mat) || attn_attention_view_rollout_scores(v, kinds[k], pool, score))
            continue; /* incomplete: no rollout for this kind */
        view_printf(b, "%s\n{\"kind\":\"%s\",\"pool\":%d,\"matrix\":[", any++ ? "," : "",
                    attn_attention_kind_name(kinds[k]), pool);
        for (int i = 0; i < n; i++) { /* 12 significant digits: plenty, and half the bytes */
            view_puts(b, i ? ",[" : "[");
            for (int j = 0; j < n; j++) view_printf(b, "%s%.12g", j ? "," : "", mat[(size_t)i * n + j]);
            view_puts(b, "]");
        }
        view_puts(b, "],\"scores\":[");
        for (int j = 0; j < n; j++) view_printf(b, "%s%.17g", j ? "," : "", score[j]);
        view_puts(b, "]}");
    }
    view_puts(b, "]");
    free(mat), free(score);
}

int attn_attention_view_to_json(const attn_attention_view *v, int flags, int pool, char **text, size_t *len)
{
    static const char fn[] = "attn_attention_view_to_json";
    ATTN_REQUIRE_NONNULL(fn, v);
    ATTN_REQUIRE_NONNULL(fn, text);
    *text = NULL;
    view_buf b = {0};
    view_puts(&b, "{\"format\":\"attn-attention\",\"version\":1");
    if (v->title) view_puts(&b, ",\n\"title\":"), view_string(&b, v->title);
    put_tokens(&b, "source", v->src, v->n_src);
    put_tokens(&b, "target", v->tgt, v->n_tgt);
    if (v->align) {
        view_puts(&b, ",\n\"alignment\":[");
        for (int t = 0; t < v->n_tgt; t++)
            view_printf(&b, "%s[%lld,%lld]", t ? "," : "", (long long)v->align[t].lo, (long long)v->align[t].hi);
        view_puts(&b, "]");
    }
    view_puts(&b, ",\n\"maps\":[");
    for (int m = 0; m < v->n_maps; m++) {
        const attn_attention_head *h = &v->maps[m];
        view_printf(&b, "%s\n{\"kind\":\"%s\",\"layer\":%d,\"head\":%d,\"rows\":%d,\"cols\":%d,\"weights\":",
                    m ? "," : "", attn_attention_kind_name(h->kind), h->layer, h->head, h->rows, h->cols);
        view_float_rows(&b, h->w, h->rows, h->cols, "  ");
        view_puts(&b, "}");
    }
    view_puts(&b, "]");
    if (v->image) view_image_json(&b, v->image);
    if (flags & ATTN_VIEW_JSON_EXTRAS) put_extras(&b, v, pool);
    view_puts(&b, "}\n");
    if (b.oom) {
        free(b.s);
        return attn_fail(ATTN_E_NOMEM, "%s", fn);
    }
    *text = b.s;
    if (len) *len = b.len;
    return ATTN_OK;
}

int attn_attention_view_save(const attn_attention_view *v, const char *path)
{
    ATTN_REQUIRE_NONNULL("attn_attention_view_save", path);
    char *text;
    size_t len;
    ATTN_TRY(attn_attention_view_to_json(v, 0, 0, &text, &len));
    FILE *f = fopen(path, "wb");
    int st = f ? ATTN_OK : attn_fail(ATTN_E_IO, "cannot write %s: %s", path, strerror(errno));
    if (f) {
        const int bad = fwrite(text, 1, len, f) != len;
        if (fclose(f) != 0 || bad) st = attn_fail(ATTN_E_IO, "writing %s failed: %s", path, strerror(errno));
    }
    free(text);
    return st;
}

/* ---- reading -------------------------------------------------------------------------------------- */

int view_get_int(const attn_json *v, const char *what, int lo, int hi, int *out)
{
    if (attn_json_type_of(v) != ATTN_JSON_NUMBER)
        return attn_fail(ATTN_E_FORMAT, "attention JSON: %s must be a number", what);
    const double d = attn_json_number(v);
    if (!(d >= lo && d <= hi) || d != floor(d))
        return attn_fail(ATTN_E_FORMAT, "attention JSON: %s=%g must be an integer in [%d, %d]", what, d, lo, hi);
    *out = (int)d;
    return ATTN_OK;
}

static int get_tokens(const attn_json *root, const char *key, int required, const char ***out, int *n)
{
    *out = NULL;
    *n = 0;
    const attn_json *a = attn_json_member(root, key);
    if (!a)
        return required ? attn_fail(ATTN_E_FORMAT, "attention JSON: missing \"%s\" (array of token strings)", key)
                        : ATTN_OK;
    if (attn_json_type_of(a) != ATTN_JSON_ARRAY)
        return attn_fail(ATTN_E_FORMAT, "attention JSON: \"%s\" must be an array of strings", key);
    const int64_t cnt = attn_json_count(a);
    if (cnt > ATTN_VIEW_MAX_TOKENS)
        return attn_fail(ATTN_E_FORMAT, "attention JSON: \"%s\" has %lld tokens (at most %d)", key, (long long)cnt,
                         ATTN_VIEW_MAX_TOKENS);
    const char **t = calloc((size_t)cnt + 1, sizeof *t);
    if (!t) return attn_fail(ATTN_E_NOMEM, "attention JSON: %s", key);
    int i = 0;
    for (const attn_json *s = attn_json_first(a); s; s = attn_json_next(s), i++) {
        const char *str = attn_json_string(s);
        const char *why = !str ? "is not a string" : attn_utf8_validate(str, strlen(str), NULL) ? "is not valid UTF-8" : NULL;
        if (why) {
            free(t);
            return attn_fail(ATTN_E_FORMAT, "attention JSON: %s[%d] %s", key, i, why);
        }
        t[i] = str;
    }
    *out = t;
    *n = (int)cnt;
    return ATTN_OK;
}

static int read_map(attn_attention_view *v, const attn_json *o, int idx)
{
    char what[64];
    if (attn_json_type_of(o) != ATTN_JSON_OBJECT)
        return attn_fail(ATTN_E_FORMAT, "attention JSON: maps[%d] must be an object", idx);
    const int kind = attn_attention_kind_parse(attn_json_string(attn_json_member(o, "kind")));
    if (kind < 0 || kind == ATTN_ATTENTION_OTHER)
        return attn_fail(ATTN_E_FORMAT, "attention JSON: maps[%d].kind must be one of \"encoder-self\", "
                                        "\"decoder-self\", \"cross\", \"classifier-self\"", idx);
    const char *kn = attn_attention_kind_name((attn_attention_kind)kind);
    int layer = 0, head = 0, rows, cols;
    snprintf(what, sizeof what, "maps[%d].layer", idx);
    ATTN_TRY(view_get_int(attn_json_member(o, "layer"), what, 0, ATTN_VIEW_MAX_LAYERS - 1, &layer));
    snprintf(what, sizeof what, "maps[%d].head", idx);
    ATTN_TRY(view_get_int(attn_json_member(o, "head"), what, 0, ATTN_VIEW_MAX_HEADS - 1, &head));
    attn_attention_view_dims(v, (attn_attention_kind)kind, &rows, &cols);
    const attn_json *w = attn_json_member(o, "weights");
    if (attn_json_type_of(w) != ATTN_JSON_ARRAY)
        return attn_fail(ATTN_E_FORMAT, "attention JSON: maps[%d].weights must be an array of rows", idx);
    if (attn_json_count(w) != rows)
        return attn_fail(ATTN_E_FORMAT, "attention JSON: maps[%d] (%s) has %lld rows but the tokens make %d", idx, kn,
                         (long long)attn_json_count(w), rows);
    const char *dims[2] = {"rows", "cols"};
    const int want[2] = {rows, cols};
    for (int d = 0; d < 2; d++) {
        const attn_json *x = attn_json_member(o, dims[d]);
        int got = 0;
        snprintf(what, sizeof what, "maps[%d].%s", idx, dims[d]);
        if (x) ATTN_TRY(view_get_int(x, what, 0, ATTN_VIEW_MAX_TOKENS, &got));
        if (x && got != want[d])
            return attn_fail(ATTN_E_FORMAT, "attention JSON: %s=%d but the tokens make %d", what, got, want[d]);
    }
    if (rows == 0 || cols == 0)
        return attn_fail(ATTN_E_FORMAT, "attention JSON: maps[%d] (%s) is empty: no tokens", idx, kn);
    float *buf = malloc((size_t)rows * cols * sizeof *buf);
    if (!buf) return attn_fail(ATTN_E_NOMEM, "attention JSON: maps[%d]", idx);
    snprintf(what, sizeof what, "maps[%d].weights", idx);
    int st = view_get_rows(w, what, rows, cols, 0, 3.4e38, buf, NULL);
    if (!st) st = attn_attention_view_add_map(v, (attn_attention_kind)kind, layer, head, buf, rows, cols);
    free(buf);
    if (st && st != ATTN_E_FORMAT && st != ATTN_E_NOMEM) { /* e.g. a head given twice: the file's fault */
        char msg[400];
        snprintf(msg, sizeof msg, "%s", attn_last_error());
        st = attn_fail(ATTN_E_FORMAT, "attention JSON: maps[%d]: %s", idx, msg);
    }
    return st;
}

int view_get_rows(const attn_json *a, const char *what, int rows, int cols, double lo, double hi, float *fw,
                  unsigned char *bw)
{
    if (attn_json_type_of(a) != ATTN_JSON_ARRAY || attn_json_count(a) != rows)
        return attn_fail(ATTN_E_FORMAT, "attention JSON: %s must be an array of %d rows", what, rows);
    int i = 0;
    for (const attn_json *row = attn_json_first(a); row; row = attn_json_next(row), i++) {
        if (attn_json_type_of(row) != ATTN_JSON_ARRAY || attn_json_count(row) != cols)
            return attn_fail(ATTN_E_FORMAT, "attention JSON: %s[%d] must be an array of %d numbers", what, i, cols);
        int j = 0;
        for (const attn_json *x = attn_json_first(row); x; x = attn_json_next(x), j++) {
            const double d = attn_json_number(x); /* NaN for anything but a number */
            if (!(d >= lo && d <= hi) || (bw && d != floor(d)))
                return bw ? attn_fail(ATTN_E_FORMAT, "attention JSON: %s[%d][%d] must be an integer in [%g, %g]", what,
                                      i, j, lo, hi)
                          : attn_fail(ATTN_E_FORMAT, "attention JSON: %s[%d][%d] must be a finite number >= %g", what,
                                      i, j, lo);
            if (fw) fw[(size_t)i * cols + j] = (float)d;
            else bw[(size_t)i * cols + j] = (unsigned char)d;
        }
    }
    return ATTN_OK;
}

static int read_alignment(attn_attention_view *v, const attn_json *a)
{
    if (!a || attn_json_type_of(a) == ATTN_JSON_OTHER) return ATTN_OK; /* absent or null */
    if (attn_json_type_of(a) != ATTN_JSON_ARRAY || attn_json_count(a) != v->n_tgt)
        return attn_fail(ATTN_E_FORMAT, "attention JSON: \"alignment\" must be an array of %d [lo, hi] pairs "
                                        "(one per target token)", v->n_tgt);
    attn_span *sp = calloc((size_t)v->n_tgt + 1, sizeof *sp);
    if (!sp) return attn_fail(ATTN_E_NOMEM, "attention JSON: alignment");
    int t = 0, st = ATTN_OK, lo = 0, hi = 0;
    char what[64];
    for (const attn_json *p = attn_json_first(a); p && !st; p = attn_json_next(p), t++) {
        if (attn_json_type_of(p) != ATTN_JSON_ARRAY || attn_json_count(p) != 2) {
            st = attn_fail(ATTN_E_FORMAT, "attention JSON: alignment[%d] must be [lo, hi]", t);
            break;
        }
        snprintf(what, sizeof what, "alignment[%d][0]", t);
        if ((st = view_get_int(attn_json_first(p), what, 0, v->n_src, &lo))) break;
        snprintf(what, sizeof what, "alignment[%d][1]", t);
        if ((st = view_get_int(attn_json_next(attn_json_first(p)), what, lo, v->n_src, &hi))) break;
        sp[t] = (attn_span){lo, hi};
    }
    if (!st && v->n_tgt) st = attn_attention_view_set_alignment(v, sp); /* no target: nothing to align */
    free(sp);
    return st;
}

/* The document's fields, into a new view. */
static int read_root(const attn_json *root, attn_attention_view **out)
{
    if (attn_json_type_of(root) != ATTN_JSON_OBJECT)
        return attn_fail(ATTN_E_FORMAT, "attention JSON: the top level must be an object");
    const attn_json *fmt = attn_json_member(root, "format"), *title = attn_json_member(root, "title");
    if (fmt && (!attn_json_string(fmt) || strcmp(attn_json_string(fmt), "attn-attention")))
        return attn_fail(ATTN_E_FORMAT, "attention JSON: \"format\" must be \"attn-attention\"");
    if (title && !attn_json_string(title) && attn_json_type_of(title) != ATTN_JSON_OTHER)
        return attn_fail(ATTN_E_FORMAT, "attention JSON: \"title\" must be a string");
    const char **src = NULL, **tgt = NULL;
    int n_src = 0, n_tgt = 0;
    attn_attention_view *v = NULL;
    int st = get_tokens(root, "source", 1, &src, &n_src);
    if (!st) st = get_tokens(root, "target", 0, &tgt, &n_tgt);
    if (!st) st = attn_attention_view_create(&v, attn_json_string(title), src, n_src, tgt, n_tgt);
    free(src), free(tgt);
    const attn_json *maps = attn_json_member(root, "maps");
    if (!st && (attn_json_type_of(maps) != ATTN_JSON_ARRAY || attn_json_count(maps) == 0))
        st = attn_fail(ATTN_E_FORMAT, "attention JSON: \"maps\" must be a non-empty array");
    int idx = 0;
    for (const attn_json *m = st ? NULL : attn_json_first(maps); m && !st; m = attn_json_next(m)) st = read_map(v, m, idx++);
    if (!st) st = read_alignment(v, attn_json_member(root, "alignment"));
    if (!st) st = view_image_read(v, attn_json_member(root, "image"));
    if (st) {
        attn_attention_view_free(v);
        return st;
    }
    *out = v;
    return ATTN_OK;
}

int attn_attention_view_parse(const char *text, size_t len, attn_attention_view **out)
{
    static const char fn[] = "attn_attention_view_parse";
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    ATTN_REQUIRE_NONNULL(fn, text);
    size_t lead = 0;
    while (lead < len && strchr(" \t\r\n", text[lead])) lead++;
    if (lead == len) return attn_fail(ATTN_E_FORMAT, "attention JSON: empty input");
    const char *nul = memchr(text, 0, len);
    if (nul) return attn_fail(ATTN_E_FORMAT, "attention JSON: NUL byte at offset %zu", (size_t)(nul - text));
    attn_json *root = NULL;
    ATTN_TRY(attn_json_parse("attention JSON", text, len, &root));
    const int st = read_root(root, out);
    attn_json_free(root);
    return st;
}

int attn_attention_view_load(const char *path, attn_attention_view **out)
{
    static const char fn[] = "attn_attention_view_load";
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    ATTN_REQUIRE_NONNULL(fn, path);
    FILE *f = fopen(path, "rb");
    if (!f) return attn_fail(ATTN_E_IO, "cannot read %s: %s", path, strerror(errno));
    view_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) view_put(&b, chunk, n);
    const int err = ferror(f);
    fclose(f);
    if (err || b.oom) {
        free(b.s);
        return attn_fail(err ? ATTN_E_IO : ATTN_E_NOMEM, "reading %s failed", path);
    }
    int st = attn_attention_view_parse(b.s ? b.s : "", b.len, out);
    free(b.s);
    if (st) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", attn_last_error());
        attn_fail(st, "%s: %s", path, msg);
    }
    return st;
}
