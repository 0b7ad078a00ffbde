/* viz_json.c — attention.json: write a record, read one back with every field checked. */
#include "viz_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------------------------ */

void viz_buf_put(viz_buf *b, const char *s, size_t n)
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
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void viz_buf_puts(viz_buf *b, const char *s) { viz_buf_put(b, s, strlen(s)); }

void viz_buf_printf(viz_buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        viz_buf_put(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    viz_buf_put(b, big, (size_t)n);
    free(big);
}

int viz_write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return viz_fail(ATTN_E_IO, "cannot write %s: %s", path, strerror(errno));
    size_t w = fwrite(data, 1, len, f);
    int bad = w != len;
    if (fclose(f) != 0) bad = 1;
    return bad ? viz_fail(ATTN_E_IO, "writing %s failed: %s", path, strerror(errno)) : 0;
}

int viz_read_file(const char *path, char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return viz_fail(ATTN_E_IO, "cannot read %s: %s", path, strerror(errno));
    viz_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) viz_buf_put(&b, chunk, n);
    int err = ferror(f);
    fclose(f);
    if (err || b.oom) {
        free(b.s);
        return viz_fail(err ? ATTN_E_IO : ATTN_E_NOMEM, "reading %s failed", path);
    }
    if (!b.s) viz_buf_put(&b, "", 0);
    if (b.oom) return viz_fail(ATTN_E_NOMEM, "reading %s", path);
    *data = b.s;
    *len = b.len;
    return 0;
}

/* ---- writing ------------------------------------------------------------------------------ */

static cJSON *string_array(char *const *s, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(s[i]));
    return a;
}

/* Weights as one raw line per row, printed with 9 significant digits (exact for float32). */
static cJSON *weights_json(const viz_map *m)
{
    cJSON *a = cJSON_CreateArray();
    viz_buf b = {0};
    for (int i = 0; a && i < m->rows; i++) {
        b.len = 0;
        viz_buf_puts(&b, "[");
        for (int j = 0; j < m->cols; j++)
            viz_buf_printf(&b, "%s%.9g", j ? "," : "", (double)m->w[(size_t)i * m->cols + j]);
        viz_buf_puts(&b, "]");
        if (b.oom) break;
        cJSON_AddItemToArray(a, cJSON_CreateRaw(b.s));
    }
    int oom = b.oom;
    free(b.s);
    if (oom) {
        cJSON_Delete(a);
        return NULL;
    }
    return a;
}

static cJSON *number_or_null(double x) { return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull(); }

static void add_extras(cJSON *root, const viz_record *r, int pool)
{
    viz_head_metrics *hm = calloc((size_t)r->n_maps, sizeof *hm);
    if (hm && viz_metrics_compute(r, hm) == 0) {
        cJSON *ma = cJSON_AddArrayToObject(root, "metrics");
        for (int m = 0; ma && m < r->n_maps; m++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "kind", viz_kind_name(hm[m].kind));
            cJSON_AddNumberToObject(o, "layer", hm[m].layer);
            cJSON_AddNumberToObject(o, "head", hm[m].head);
            cJSON_AddItemToObject(o, "entropy", number_or_null(hm[m].entropy));
            cJSON_AddItemToObject(o, "distance", number_or_null(hm[m].distance));
            cJSON_AddItemToObject(o, "align_acc", number_or_null(hm[m].align_acc));
            cJSON_AddNumberToObject(o, "n_aligned", hm[m].n_aligned);
            cJSON_AddItemToArray(ma, o);
        }
        int best = viz_metrics_best_alignment(hm, r->n_maps);
        cJSON_AddNumberToObject(root, "best_alignment", best);
    }
    free(hm);
    cJSON *ro = cJSON_AddArrayToObject(root, "rollout");
    int n = r->n_src;
    double *mat = n ? malloc((size_t)n * n * sizeof *mat) : NULL;
    double *score = n ? malloc((size_t)n * sizeof *score) : NULL;
    const viz_kind kinds[2] = {VIZ_ENC_SELF, VIZ_CLS_SELF};
    for (int k = 0; ro && mat && score && k < 2; k++) {
        if (viz_record_layers(r, kinds[k]) == 0) continue;
        if (viz_rollout(r, kinds[k], mat) || viz_rollout_scores(r, kinds[k], pool, score)) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "kind", viz_kind_name(kinds[k]));
        cJSON_AddNumberToObject(o, "pool", pool);
        cJSON *rows = cJSON_AddArrayToObject(o, "matrix");
        viz_buf b = {0};
        for (int i = 0; i < n; i++) { /* 12 significant digits: plenty, and half the bytes */
            b.len = 0;
            viz_buf_puts(&b, "[");
            for (int j = 0; j < n; j++)
                viz_buf_printf(&b, "%s%.12g", j ? "," : "", mat[(size_t)i * n + j]);
            viz_buf_puts(&b, "]");
            if (!b.oom) cJSON_AddItemToArray(rows, cJSON_CreateRaw(b.s));
        }
        free(b.s);
        cJSON_AddItemToObject(o, "scores", cJSON_CreateDoubleArray(score, n));
        cJSON_AddItemToArray(ro, o);
    }
    free(mat);
    free(score);
}

void *viz_json_tree(const viz_record *r, int with_extras, int pool)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON_AddStringToObject(root, "format", "attn-attention");
    cJSON_AddNumberToObject(root, "version", 1);
    if (r->title) cJSON_AddStringToObject(root, "title", r->title);
    cJSON_AddItemToObject(root, "source", string_array(r->src, r->n_src));
    cJSON_AddItemToObject(root, "target", string_array(r->tgt, r->n_tgt));
    if (r->align) {
        cJSON *a = cJSON_AddArrayToObject(root, "alignment");
        for (int t = 0; a && t < r->n_tgt; t++) {
            int span[2] = {r->align[t].lo, r->align[t].hi};
            cJSON_AddItemToArray(a, cJSON_CreateIntArray(span, 2));
        }
    }
    cJSON *maps = cJSON_AddArrayToObject(root, "maps");
    for (int m = 0; maps && m < r->n_maps; m++) {
        const viz_map *mp = &r->maps[m];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "kind", viz_kind_name(mp->kind));
        cJSON_AddNumberToObject(o, "layer", mp->layer);
        cJSON_AddNumberToObject(o, "head", mp->head);
        cJSON_AddNumberToObject(o, "rows", mp->rows);
        cJSON_AddNumberToObject(o, "cols", mp->cols);
        cJSON_AddItemToObject(o, "weights", weights_json(mp));
        cJSON_AddItemToArray(maps, o);
    }
    if (r->image) cJSON_AddItemToObject(root, "image", viz_image_json(r->image));
    if (with_extras) add_extras(root, r, pool);
    return root;
}

char *viz_json_print_html_safe(void *tree)
{
    char *s = cJSON_PrintUnformatted((cJSON *)tree);
    if (!s) return NULL;
    /* '<' occurs only inside JSON strings; written as \u003c no "</script>" or "<!--" can end
     * or confuse the <script> element that holds the data. */
    size_t lt = 0, n = 0;
    for (; s[n]; n++) lt += s[n] == '<';
    char *out = malloc(n + 5 * lt + 1);
    if (out) {
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
            if (s[i] == '<') {
                memcpy(out + o, "\\u003c", 6);
                o += 6;
            } else {
                out[o++] = s[i];
            }
        }
        out[o] = 0;
    }
    cJSON_free(s);
    return out;
}

int viz_json_write(const viz_record *r, const char *path)
{
    if (!r || !path) return viz_fail(ATTN_E_ARG, "viz_json_write: NULL argument");
    cJSON *root = viz_json_tree(r, 0, 0);
    char *s = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!s) return viz_fail(ATTN_E_NOMEM, "viz_json_write: %s", path);
    viz_buf b = {0};
    viz_buf_puts(&b, s);
    viz_buf_puts(&b, "\n");
    cJSON_free(s);
    int st = b.oom ? viz_fail(ATTN_E_NOMEM, "viz_json_write: %s", path)
                   : viz_write_file(path, b.s, b.len);
    free(b.s);
    return st;
}

/* ---- reading ------------------------------------------------------------------------------ */

/* An integer in [lo, hi] or ATTN_E_FORMAT naming `what`. */
static int get_int(const cJSON *v, const char *what, int lo, int hi, int *out)
{
    if (!cJSON_IsNumber(v))
        return viz_fail(ATTN_E_FORMAT, "attention JSON: %s must be a number", what);
    double d = v->valuedouble;
    if (!(d >= lo && d <= hi) || d != floor(d))
        return viz_fail(ATTN_E_FORMAT, "attention JSON: %s=%g must be an integer in [%d, %d]",
                        what, d, lo, hi);
    *out = (int)d;
    return 0;
}

static int get_tokens(const cJSON *root, const char *key, int required, const char ***out, int *n)
{
    *out = NULL;
    *n = 0;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!a) {
        return required ? viz_fail(ATTN_E_FORMAT, "attention JSON: missing \"%s\" (array of token "
                                                  "strings)", key)
                        : 0;
    }
    if (!cJSON_IsArray(a))
        return viz_fail(ATTN_E_FORMAT, "attention JSON: \"%s\" must be an array of strings", key);
    int cnt = cJSON_GetArraySize(a);
    if (cnt > VIZ_MAX_TOKENS)
        return viz_fail(ATTN_E_FORMAT, "attention JSON: \"%s\" has %d tokens (at most %d)", key,
                        cnt, VIZ_MAX_TOKENS);
    const char **t = calloc((size_t)cnt + 1, sizeof *t);
    if (!t) return viz_fail(ATTN_E_NOMEM, "attention JSON: %s", key);
    int i = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, a)
    {
        if (!cJSON_IsString(s)) {
            free(t);
            return viz_fail(ATTN_E_FORMAT, "attention JSON: %s[%d] is not a string", key, i);
        }
        if (!viz_utf8_valid(s->valuestring)) {
            free(t);
            return viz_fail(ATTN_E_FORMAT, "attention JSON: %s[%d] is not valid UTF-8", key, i);
        }
        t[i++] = s->valuestring;
    }
    *out = t;
    *n = cnt;
    return 0;
}

static int read_map(viz_record *r, const cJSON *o, int idx)
{
    char what[64];
    if (!cJSON_IsObject(o))
        return viz_fail(ATTN_E_FORMAT, "attention JSON: maps[%d] must be an object", idx);
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "kind");
    int kind = cJSON_IsString(k) ? viz_kind_parse(k->valuestring) : -1;
    if (kind < 0)
        return viz_fail(ATTN_E_FORMAT,
                        "attention JSON: maps[%d].kind must be one of \"encoder-self\", "
                        "\"decoder-self\", \"cross\", \"classifier-self\"", idx);
    int layer = 0, head = 0, st;
    snprintf(what, sizeof what, "maps[%d].layer", idx);
    if ((st = get_int(cJSON_GetObjectItemCaseSensitive(o, "layer"), what, 0, VIZ_MAX_LAYERS - 1,
                      &layer)))
        return st;
    snprintf(what, sizeof what, "maps[%d].head", idx);
    if ((st = get_int(cJSON_GetObjectItemCaseSensitive(o, "head"), what, 0, VIZ_MAX_HEADS - 1,
                      &head)))
        return st;
    int rows, cols;
    viz_kind_dims(r, (viz_kind)kind, &rows, &cols);
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "weights");
    if (!cJSON_IsArray(w))
        return viz_fail(ATTN_E_FORMAT, "attention JSON: maps[%d].weights must be an array of rows",
                        idx);
    if (cJSON_GetArraySize(w) != rows)
        return viz_fail(ATTN_E_FORMAT,
                        "attention JSON: maps[%d] (%s) has %d rows but the tokens make %d", idx,
                        viz_kind_name((viz_kind)kind), cJSON_GetArraySize(w), rows);
    const char *dims[2] = {"rows", "cols"};
    int want[2] = {rows, cols};
    for (int d = 0; d < 2; d++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, dims[d]);
        int got = 0;
        snprintf(what, sizeof what, "maps[%d].%s", idx, dims[d]);
        if (v && ((st = get_int(v, what, 0, VIZ_MAX_TOKENS, &got)) || got != want[d]))
            return st ? st : viz_fail(ATTN_E_FORMAT, "attention JSON: %s=%d but the tokens make %d",
                                      what, got, want[d]);
    }
    if (rows == 0 || cols == 0)
        return viz_fail(ATTN_E_FORMAT, "attention JSON: maps[%d] (%s) is empty: no tokens", idx,
                        viz_kind_name((viz_kind)kind));
    float *buf = malloc((size_t)rows * cols * sizeof *buf);
    if (!buf) return viz_fail(ATTN_E_NOMEM, "attention JSON: maps[%d]", idx);
    int i = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, w)
    {
        if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) != cols) {
            free(buf);
            return viz_fail(ATTN_E_FORMAT,
                            "attention JSON: maps[%d].weights[%d] must be an array of %d numbers",
                            idx, i, cols);
        }
        int j = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, row)
        {
            double v = cJSON_IsNumber(x) ? x->valuedouble : NAN;
            if (!isfinite(v) || v < 0 || v > 3.4e38) {
                free(buf);
                return viz_fail(ATTN_E_FORMAT,
                                "attention JSON: maps[%d].weights[%d][%d] must be a finite number "
                                ">= 0", idx, i, j);
            }
            buf[(size_t)i * cols + j++] = (float)v;
        }
        i++;
    }
    st = viz_record_add_map(r, (viz_kind)kind, layer, head, buf, rows, cols);
    free(buf);
    return st;
}

static int read_alignment(viz_record *r, const cJSON *a)
{
    if (!a || cJSON_IsNull(a)) return 0;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != r->n_tgt)
        return viz_fail(ATTN_E_FORMAT,
                        "attention JSON: \"alignment\" must be an array of %d [lo, hi] pairs "
                        "(one per target token)", r->n_tgt);
    viz_span *sp = calloc((size_t)r->n_tgt + 1, sizeof *sp);
    if (!sp) return viz_fail(ATTN_E_NOMEM, "attention JSON: alignment");
    int t = 0, st = 0;
    const cJSON *p;
    char what[64];
    cJSON_ArrayForEach(p, a)
    {
        if (!cJSON_IsArray(p) || cJSON_GetArraySize(p) != 2) {
            st = viz_fail(ATTN_E_FORMAT, "attention JSON: alignment[%d] must be [lo, hi]", t);
            break;
        }
        snprintf(what, sizeof what, "alignment[%d][0]", t);
        if ((st = get_int(cJSON_GetArrayItem(p, 0), what, 0, r->n_src, &sp[t].lo))) break;
        snprintf(what, sizeof what, "alignment[%d][1]", t);
        if ((st = get_int(cJSON_GetArrayItem(p, 1), what, sp[t].lo, r->n_src, &sp[t].hi))) break;
        t++;
    }
    if (!st) st = viz_record_set_alignment(r, sp);
    free(sp);
    return st;
}

int viz_json_parse(const char *text, size_t len, viz_record **out)
{
    if (!out) return viz_fail(ATTN_E_ARG, "viz_json_parse: out is NULL");
    *out = NULL;
    if (!text) return viz_fail(ATTN_E_ARG, "viz_json_parse: text is NULL");
    size_t lead = 0;
    while (lead < len && strchr(" \t\r\n", text[lead])) lead++;
    if (lead == len) return viz_fail(ATTN_E_FORMAT, "attention JSON: empty input");
    if (memchr(text, 0, len))
        return viz_fail(ATTN_E_FORMAT, "attention JSON: NUL byte at offset %zu",
                        (size_t)((const char *)memchr(text, 0, len) - text));
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        const char *at = end ? end : cJSON_GetErrorPtr();
        size_t off = at && at >= text && at <= text + len ? (size_t)(at - text) : 0;
        int line = 1, col = 1;
        for (size_t i = 0; i < off; i++) {
            if (text[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return viz_fail(ATTN_E_FORMAT, "attention JSON: syntax error at line %d column %d", line,
                        col);
    }
    while (end && end < text + len && strchr(" \t\r\n", *end)) end++;
    int st = 0;
    viz_record *r = NULL;
    const char **src = NULL, **tgt = NULL;
    int n_src = 0, n_tgt = 0;
    if (end && end < text + len)
        st = viz_fail(ATTN_E_FORMAT, "attention JSON: text after the JSON value at offset %zu",
                      (size_t)(end - text));
    else if (!cJSON_IsObject(root))
        st = viz_fail(ATTN_E_FORMAT, "attention JSON: the top level must be an object");
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!st && fmt && !(cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "attn-attention")))
        st = viz_fail(ATTN_E_FORMAT, "attention JSON: \"format\" must be \"attn-attention\"");
    const cJSON *title = cJSON_GetObjectItemCaseSensitive(root, "title");
    if (!st && title && !cJSON_IsString(title) && !cJSON_IsNull(title))
        st = viz_fail(ATTN_E_FORMAT, "attention JSON: \"title\" must be a string");
    if (!st) st = get_tokens(root, "source", 1, &src, &n_src);
    if (!st) st = get_tokens(root, "target", 0, &tgt, &n_tgt);
    if (!st)
        st = viz_record_create(&r, cJSON_IsString(title) ? title->valuestring : NULL, src, n_src,
                               tgt, n_tgt);
    const cJSON *maps = cJSON_GetObjectItemCaseSensitive(root, "maps");
    if (!st && (!cJSON_IsArray(maps) || cJSON_GetArraySize(maps) == 0))
        st = viz_fail(ATTN_E_FORMAT, "attention JSON: \"maps\" must be a non-empty array");
    int idx = 0;
    const cJSON *m;
    if (!st) cJSON_ArrayForEach(m, maps)
        {
            if ((st = read_map(r, m, idx++))) break;
        }
    if (!st) st = read_alignment(r, cJSON_GetObjectItemCaseSensitive(root, "alignment"));
    if (!st) st = viz_image_json_read(r, cJSON_GetObjectItemCaseSensitive(root, "image"));
    free(src);
    free(tgt);
    cJSON_Delete(root);
    if (st) {
        viz_record_free(r);
        return st;
    }
    *out = r;
    return 0;
}

int viz_json_read(const char *path, viz_record **out)
{
    if (!path || !out) return viz_fail(ATTN_E_ARG, "viz_json_read: NULL argument");
    *out = NULL;
    char *text;
    size_t len;
    int st = viz_read_file(path, &text, &len);
    if (st) return st;
    st = viz_json_parse(text, len, out);
    free(text);
    if (st) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", viz_last_error());
        viz_fail(st, "%s: %s", path, msg);
    }
    return st;
}
