/* viz_record.c — the attention record: tokens, maps, alignment; errors of the viz layer. */
#include "viz_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char viz_err[512];

const char *viz_last_error(void) { return viz_err; }

int viz_fail(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(viz_err, sizeof viz_err, fmt, ap);
    va_end(ap);
    return status;
}

static const char *const kind_names[VIZ_NKINDS] = {"encoder-self", "decoder-self", "cross",
                                                   "classifier-self"};

const char *viz_kind_name(viz_kind kind)
{
    return (unsigned)kind < VIZ_NKINDS ? kind_names[kind] : "unknown";
}

int viz_kind_parse(const char *name)
{
    for (int k = 0; name && k < VIZ_NKINDS; k++)
        if (!strcmp(name, kind_names[k])) return k;
    return -1;
}

int viz_kind_is_self(viz_kind kind) { return kind != VIZ_CROSS; }

/* RFC 3629 UTF-8, checked by libattn (attn/text.h). */
int viz_utf8_valid(const char *s) { return attn_utf8_validate(s, strlen(s), NULL) == ATTN_OK; }

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static int copy_tokens(char ***dst, const char *const *src, int n, const char *side)
{
    *dst = NULL;
    if (n == 0) return 0;
    if (!src) return viz_fail(ATTN_E_ARG, "viz_record_create: %s tokens NULL but n=%d", side, n);
    char **t = calloc((size_t)n, sizeof *t);
    if (!t) return viz_fail(ATTN_E_NOMEM, "viz_record_create: %d %s tokens", n, side);
    *dst = t;
    for (int i = 0; i < n; i++) {
        if (!src[i]) return viz_fail(ATTN_E_ARG, "viz_record_create: %s token %d is NULL", side, i);
        if (!viz_utf8_valid(src[i]))
            return viz_fail(ATTN_E_FORMAT, "viz_record_create: %s token %d is not valid UTF-8",
                            side, i);
        if (!(t[i] = dup_str(src[i])))
            return viz_fail(ATTN_E_NOMEM, "viz_record_create: %s token %d", side, i);
    }
    return 0;
}

int viz_record_create(viz_record **out, const char *title, const char *const *src, int n_src,
                      const char *const *tgt, int n_tgt)
{
    if (!out) return viz_fail(ATTN_E_ARG, "viz_record_create: out is NULL");
    *out = NULL;
    if (n_src < 0 || n_tgt < 0 || n_src > VIZ_MAX_TOKENS || n_tgt > VIZ_MAX_TOKENS)
        return viz_fail(ATTN_E_ARG, "viz_record_create: n_src=%d n_tgt=%d (0..%d each)", n_src,
                        n_tgt, VIZ_MAX_TOKENS);
    if (title && !viz_utf8_valid(title))
        return viz_fail(ATTN_E_FORMAT, "viz_record_create: title is not valid UTF-8");
    viz_record *r = calloc(1, sizeof *r);
    if (!r) return viz_fail(ATTN_E_NOMEM, "viz_record_create");
    r->n_src = n_src;
    r->n_tgt = n_tgt;
    int st = 0;
    if (title && !(r->title = dup_str(title))) st = viz_fail(ATTN_E_NOMEM, "viz_record_create");
    if (!st) st = copy_tokens(&r->src, src, n_src, "source");
    if (!st) st = copy_tokens(&r->tgt, tgt, n_tgt, "target");
    if (st) {
        viz_record_free(r);
        return st;
    }
    *out = r;
    return 0;
}

void viz_record_free(viz_record *r)
{
    if (!r) return;
    for (int i = 0; r->src && i < r->n_src; i++) free(r->src[i]);
    for (int i = 0; r->tgt && i < r->n_tgt; i++) free(r->tgt[i]);
    for (int m = 0; m < r->n_maps; m++) free(r->maps[m].w);
    free(r->src);
    free(r->tgt);
    free(r->maps);
    free(r->align);
    free(r->title);
    viz_image_free(r->image);
    free(r);
}

void viz_kind_dims(const viz_record *r, viz_kind kind, int *rows, int *cols)
{
    switch (kind) {
    case VIZ_DEC_SELF: *rows = r->n_tgt; *cols = r->n_tgt; break;
    case VIZ_CROSS: *rows = r->n_tgt; *cols = r->n_src; break;
    default: *rows = r->n_src; *cols = r->n_src; break;
    }
}

const char *const *viz_row_tokens(const viz_record *r, viz_kind kind)
{
    return (const char *const *)(kind == VIZ_DEC_SELF || kind == VIZ_CROSS ? r->tgt : r->src);
}

const char *const *viz_col_tokens(const viz_record *r, viz_kind kind)
{
    return (const char *const *)(kind == VIZ_DEC_SELF ? r->tgt : r->src);
}

int viz_record_find(const viz_record *r, viz_kind kind, int layer, int head)
{
    for (int m = 0; r && m < r->n_maps; m++)
        if (r->maps[m].kind == kind && r->maps[m].layer == layer && r->maps[m].head == head)
            return m;
    return -1;
}

int viz_record_layers(const viz_record *r, viz_kind kind)
{
    int n = 0;
    for (int m = 0; r && m < r->n_maps; m++)
        if (r->maps[m].kind == kind && r->maps[m].layer + 1 > n) n = r->maps[m].layer + 1;
    return n;
}

int viz_record_heads(const viz_record *r, viz_kind kind)
{
    int n = 0;
    for (int m = 0; r && m < r->n_maps; m++)
        if (r->maps[m].kind == kind && r->maps[m].head + 1 > n) n = r->maps[m].head + 1;
    return n;
}

int viz_record_add_map(viz_record *r, viz_kind kind, int layer, int head, const float *w,
                       int rows, int cols)
{
    if (!r || !w) return viz_fail(ATTN_E_ARG, "viz_record_add_map: NULL record or weights");
    if ((unsigned)kind >= VIZ_NKINDS)
        return viz_fail(ATTN_E_ARG, "viz_record_add_map: kind=%d unknown", (int)kind);
    if (layer < 0 || head < 0 || layer >= VIZ_MAX_LAYERS || head >= VIZ_MAX_HEADS)
        return viz_fail(ATTN_E_ARG, "viz_record_add_map: layer=%d head=%d (0..%d, 0..%d)", layer,
                        head, VIZ_MAX_LAYERS - 1, VIZ_MAX_HEADS - 1);
    int er, ec;
    viz_kind_dims(r, kind, &er, &ec);
    if (rows != er || cols != ec || rows == 0 || cols == 0)
        return viz_fail(ATTN_E_SHAPE,
                        "viz_record_add_map: %s layer %d head %d is %dx%d but the tokens make %dx%d",
                        viz_kind_name(kind), layer, head, rows, cols, er, ec);
    if (viz_record_find(r, kind, layer, head) >= 0)
        return viz_fail(ATTN_E_ARG, "viz_record_add_map: %s layer %d head %d given twice",
                        viz_kind_name(kind), layer, head);
    size_t n = (size_t)rows * (size_t)cols;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(w[i]) || w[i] < 0)
            return viz_fail(ATTN_E_FORMAT,
                            "viz_record_add_map: %s layer %d head %d weight [%zu][%zu]=%g (must be "
                            "finite and >= 0)",
                            viz_kind_name(kind), layer, head, i / (size_t)cols, i % (size_t)cols,
                            (double)w[i]);
    if (r->n_maps == r->cap_maps) {
        int cap = r->cap_maps ? 2 * r->cap_maps : 16;
        viz_map *mm = realloc(r->maps, (size_t)cap * sizeof *mm);
        if (!mm) return viz_fail(ATTN_E_NOMEM, "viz_record_add_map");
        r->maps = mm;
        r->cap_maps = cap;
    }
    float *copy = malloc(n * sizeof *copy);
    if (!copy) return viz_fail(ATTN_E_NOMEM, "viz_record_add_map: %dx%d", rows, cols);
    memcpy(copy, w, n * sizeof *copy);
    r->maps[r->n_maps++] = (viz_map){kind, layer, head, rows, cols, copy};
    return 0;
}

int viz_record_set_alignment(viz_record *r, const viz_span *spans)
{
    if (!r || !spans) return viz_fail(ATTN_E_ARG, "viz_record_set_alignment: NULL argument");
    if (r->n_tgt == 0) return viz_fail(ATTN_E_ARG, "viz_record_set_alignment: no target tokens");
    for (int t = 0; t < r->n_tgt; t++)
        if (spans[t].lo < 0 || spans[t].lo > spans[t].hi || spans[t].hi > r->n_src)
            return viz_fail(ATTN_E_ARG,
                            "viz_record_set_alignment: target %d span [%d,%d) not within [0,%d]", t,
                            spans[t].lo, spans[t].hi, r->n_src);
    viz_span *a = malloc((size_t)r->n_tgt * sizeof *a);
    if (!a) return viz_fail(ATTN_E_NOMEM, "viz_record_set_alignment");
    memcpy(a, spans, (size_t)r->n_tgt * sizeof *a);
    free(r->align);
    r->align = a;
    return 0;
}

int viz_record_add_heads(viz_record *r, viz_kind kind, int layer, const float *w, int heads,
                         int rows, int cols)
{
    if (!w || heads <= 0 || heads > VIZ_MAX_HEADS)
        return viz_fail(ATTN_E_ARG, "viz_record_add_heads: weights NULL or heads=%d", heads);
    for (int h = 0; h < heads; h++) {
        int st = viz_record_add_map(r, kind, layer, h, w + (size_t)h * rows * cols, rows, cols);
        if (st) return st;
    }
    return 0;
}

/* The record's kind for a library map: the classifier's self-attention is drawn as its own kind;
 * -1 for a map from an unnamed module. */
static int kind_of(attn_attention_kind k, int classifier)
{
    switch (k) {
    case ATTN_ATTENTION_ENCODER_SELF: return classifier ? VIZ_CLS_SELF : VIZ_ENC_SELF;
    case ATTN_ATTENTION_DECODER_SELF: return VIZ_DEC_SELF;
    case ATTN_ATTENTION_CROSS: return VIZ_CROSS;
    default: return -1;
    }
}

int viz_record_add_recorded(viz_record *r, const attn_attention_record *rec, int classifier)
{
    if (!r || !rec) return viz_fail(ATTN_E_ARG, "viz_record_add_recorded: NULL argument");
    if (attn_attention_record_status(rec))
        return viz_fail(ATTN_E_NOMEM, "recording attention: %s", attn_last_error());
    for (int i = 0; i < attn_attention_record_count(rec); i++) {
        attn_attention_map am;
        attn_attention_record_map(rec, i, &am);
        int kind = kind_of(am.kind, classifier), rows, cols;
        if (kind < 0 || am.N != 1 || am.layer < 0) continue; /* one example, named modules */
        viz_kind_dims(r, (viz_kind)kind, &rows, &cols);
        if (am.L < rows || am.S < cols)
            return viz_fail(ATTN_E_SHAPE, "viz_record_add_recorded: %s is %lldx%lld, the tokens "
                            "make %dx%d", am.name, (long long)am.L, (long long)am.S, rows, cols);
        /* keep the rows and columns of the record's tokens: a decoder's first `rows` positions
         * are the queries that produce the target tokens */
        for (int64_t h = 0; h < am.H; h++) {
            float *sub = malloc((size_t)rows * cols * sizeof *sub);
            if (!sub) return viz_fail(ATTN_E_NOMEM, "viz_record_add_recorded");
            for (int q = 0; q < rows; q++)
                memcpy(sub + (size_t)q * cols, am.w + (h * am.L + q) * am.S,
                       (size_t)cols * sizeof *sub);
            int st = viz_record_add_map(r, (viz_kind)kind, am.layer, (int)h, sub, rows, cols);
            free(sub);
            if (st) return st;
        }
    }
    return 0;
}
