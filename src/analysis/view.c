/* view.c — one example's attention for the viewer (attn/analysis.h): the tokens, a map per
 * (kind, layer, head), the gold alignment and the image, each checked as it comes in. */
#include "internal.h"
#include "attn/analysis.h"

#include <stdio.h>
#include <string.h>

static int valid_utf8(const char *s) { return attn_utf8_validate(s, strlen(s), NULL) == ATTN_OK; }

static int copy_tokens(char ***dst, const char *const *src, int n, const char *side)
{
    static const char fn[] = "attn_attention_view_create";
    *dst = NULL;
    if (n == 0) return ATTN_OK;
    if (!src) return attn_fail(ATTN_E_ARG, "%s: %s tokens NULL but n=%d", fn, side, n);
    char **t = calloc((size_t)n, sizeof *t);
    if (!t) return attn_fail(ATTN_E_NOMEM, "%s: %d %s tokens", fn, n, side);
    *dst = t;
    for (int i = 0; i < n; i++) {
        if (!src[i]) return attn_fail(ATTN_E_ARG, "%s: %s token %d is NULL", fn, side, i);
        if (!valid_utf8(src[i])) return attn_fail(ATTN_E_FORMAT, "%s: %s token %d is not valid UTF-8", fn, side, i);
        if (!(t[i] = strdup(src[i]))) return attn_fail(ATTN_E_NOMEM, "%s: %s token %d", fn, side, i);
    }
    return ATTN_OK;
}

int attn_attention_view_create(attn_attention_view **out, const char *title, const char *const *src, int n_src,
                               const char *const *tgt, int n_tgt)
{
    static const char fn[] = "attn_attention_view_create";
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    if (n_src < 0 || n_tgt < 0 || n_src > ATTN_VIEW_MAX_TOKENS || n_tgt > ATTN_VIEW_MAX_TOKENS)
        return attn_fail(ATTN_E_ARG, "%s: n_src=%d n_tgt=%d (0..%d each)", fn, n_src, n_tgt, ATTN_VIEW_MAX_TOKENS);
    if (title && !valid_utf8(title)) return attn_fail(ATTN_E_FORMAT, "%s: title is not valid UTF-8", fn);
    attn_attention_view *v = calloc(1, sizeof *v);
    if (!v) return attn_fail(ATTN_E_NOMEM, "%s", fn);
    v->n_src = n_src;
    v->n_tgt = n_tgt;
    int st = ATTN_OK;
    if (title && !(v->title = strdup(title))) st = attn_fail(ATTN_E_NOMEM, "%s", fn);
    if (!st) st = copy_tokens(&v->src, src, n_src, "source");
    if (!st) st = copy_tokens(&v->tgt, tgt, n_tgt, "target");
    if (st) {
        attn_attention_view_free(v);
        return st;
    }
    *out = v;
    return ATTN_OK;
}

int attn_attention_view_set_title(attn_attention_view *v, const char *title)
{
    static const char fn[] = "attn_attention_view_set_title";
    ATTN_REQUIRE_NONNULL(fn, v);
    if (title && !valid_utf8(title)) return attn_fail(ATTN_E_FORMAT, "%s: title is not valid UTF-8", fn);
    char *copy = title ? strdup(title) : NULL;
    if (title && !copy) return attn_fail(ATTN_E_NOMEM, "%s", fn);
    free(v->title);
    v->title = copy;
    return ATTN_OK;
}

static void image_free(attn_attention_image *img)
{
    if (!img) return;
    free(img->pixels), free(img->attn), free(img->rollout);
    free(img);
}

void attn_attention_view_free(attn_attention_view *v)
{
    if (!v) return;
    for (int i = 0; v->src && i < v->n_src; i++) free(v->src[i]);
    for (int i = 0; v->tgt && i < v->n_tgt; i++) free(v->tgt[i]);
    for (int m = 0; m < v->n_maps; m++) free(v->maps[m].w);
    free(v->src), free(v->tgt), free(v->maps), free(v->align), free(v->title);
    image_free(v->image);
    free(v);
}

void attn_attention_view_dims(const attn_attention_view *v, attn_attention_kind kind, int *rows, int *cols)
{
    switch (kind) {
    case ATTN_ATTENTION_DECODER_SELF: *rows = v->n_tgt, *cols = v->n_tgt; break;
    case ATTN_ATTENTION_CROSS: *rows = v->n_tgt, *cols = v->n_src; break;
    default: *rows = v->n_src, *cols = v->n_src; break;
    }
}

const char *const *attn_attention_view_row_tokens(const attn_attention_view *v, attn_attention_kind kind)
{
    const int tgt = kind == ATTN_ATTENTION_DECODER_SELF || kind == ATTN_ATTENTION_CROSS;
    return (const char *const *)(tgt ? v->tgt : v->src);
}

const char *const *attn_attention_view_col_tokens(const attn_attention_view *v, attn_attention_kind kind)
{
    return (const char *const *)(kind == ATTN_ATTENTION_DECODER_SELF ? v->tgt : v->src);
}

int attn_attention_view_find(const attn_attention_view *v, attn_attention_kind kind, int layer, int head)
{
    for (int m = 0; v && m < v->n_maps; m++)
        if (v->maps[m].kind == kind && v->maps[m].layer == layer && v->maps[m].head == head) return m;
    return -1;
}

int attn_attention_view_layers(const attn_attention_view *v, attn_attention_kind kind)
{
    int n = 0;
    for (int m = 0; v && m < v->n_maps; m++)
        if (v->maps[m].kind == kind && v->maps[m].layer + 1 > n) n = v->maps[m].layer + 1;
    return n;
}

int attn_attention_view_heads(const attn_attention_view *v, attn_attention_kind kind)
{
    int n = 0;
    for (int m = 0; v && m < v->n_maps; m++)
        if (v->maps[m].kind == kind && v->maps[m].head + 1 > n) n = v->maps[m].head + 1;
    return n;
}

int attn_attention_view_add_map(attn_attention_view *v, attn_attention_kind kind, int layer, int head,
                                const float *w, int rows, int cols)
{
    static const char fn[] = "attn_attention_view_add_map";
    ATTN_REQUIRE_NONNULL(fn, v);
    ATTN_REQUIRE_NONNULL(fn, w);
    if ((unsigned)kind >= ATTN_ATTENTION_NKINDS || kind == ATTN_ATTENTION_OTHER)
        return attn_fail(ATTN_E_ARG, "%s: kind=%d is not a view kind", fn, (int)kind);
    if (layer < 0 || head < 0 || layer >= ATTN_VIEW_MAX_LAYERS || head >= ATTN_VIEW_MAX_HEADS)
        return attn_fail(ATTN_E_ARG, "%s: layer=%d head=%d (0..%d, 0..%d)", fn, layer, head,
                         ATTN_VIEW_MAX_LAYERS - 1, ATTN_VIEW_MAX_HEADS - 1);
    int er, ec;
    attn_attention_view_dims(v, kind, &er, &ec);
    const char *kn = attn_attention_kind_name(kind);
    if (rows != er || cols != ec || rows == 0 || cols == 0)
        return attn_fail(ATTN_E_SHAPE, "%s: %s layer %d head %d is %dx%d but the tokens make %dx%d", fn, kn, layer,
                         head, rows, cols, er, ec);
    if (attn_attention_view_find(v, kind, layer, head) >= 0)
        return attn_fail(ATTN_E_ARG, "%s: %s layer %d head %d given twice", fn, kn, layer, head);
    const size_t n = (size_t)rows * (size_t)cols;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(w[i]) || w[i] < 0)
            return attn_fail(ATTN_E_FORMAT, "%s: %s layer %d head %d weight [%zu][%zu]=%g (must be finite and >= 0)",
                             fn, kn, layer, head, i / (size_t)cols, i % (size_t)cols, (double)w[i]);
    if (v->n_maps == v->cap_maps) {
        const int cap = v->cap_maps ? 2 * v->cap_maps : 16;
        attn_attention_head *mm = realloc(v->maps, (size_t)cap * sizeof *mm);
        if (!mm) return attn_fail(ATTN_E_NOMEM, "%s", fn);
        v->maps = mm;
        v->cap_maps = cap;
    }
    float *copy = malloc(n * sizeof *copy);
    if (!copy) return attn_fail(ATTN_E_NOMEM, "%s: %dx%d", fn, rows, cols);
    memcpy(copy, w, n * sizeof *copy);
    v->maps[v->n_maps++] = (attn_attention_head){kind, layer, head, rows, cols, copy};
    return ATTN_OK;
}

int attn_attention_view_add_heads(attn_attention_view *v, attn_attention_kind kind, int layer, const float *w,
                                  int heads, int rows, int cols)
{
    if (!w || heads <= 0 || heads > ATTN_VIEW_MAX_HEADS)
        return attn_fail(ATTN_E_ARG, "attn_attention_view_add_heads: weights NULL or heads=%d", heads);
    for (int h = 0; h < heads; h++)
        ATTN_TRY(attn_attention_view_add_map(v, kind, layer, h, w + (size_t)h * rows * cols, rows, cols));
    return ATTN_OK;
}

int attn_attention_view_set_alignment(attn_attention_view *v, const attn_span *spans)
{
    static const char fn[] = "attn_attention_view_set_alignment";
    ATTN_REQUIRE_NONNULL(fn, v);
    ATTN_REQUIRE_NONNULL(fn, spans);
    if (v->n_tgt == 0) return attn_fail(ATTN_E_ARG, "%s: no target tokens", fn);
    for (int t = 0; t < v->n_tgt; t++)
        if (spans[t].lo < 0 || spans[t].lo > spans[t].hi || spans[t].hi > v->n_src)
            return attn_fail(ATTN_E_ARG, "%s: target %d span [%lld,%lld) not within [0,%d]", fn, t,
                             (long long)spans[t].lo, (long long)spans[t].hi, v->n_src);
    attn_span *a = malloc((size_t)v->n_tgt * sizeof *a);
    if (!a) return attn_fail(ATTN_E_NOMEM, "%s", fn);
    memcpy(a, spans, (size_t)v->n_tgt * sizeof *a);
    free(v->align);
    v->align = a;
    return ATTN_OK;
}

int attn_attention_view_add_recorded(attn_attention_view *v, const attn_attention_record *rec, int classifier)
{
    static const char fn[] = "attn_attention_view_add_recorded";
    ATTN_REQUIRE_NONNULL(fn, v);
    ATTN_REQUIRE_NONNULL(fn, rec);
    if (attn_attention_record_status(rec))
        return attn_fail(ATTN_E_NOMEM, "%s: recording attention: %s", fn, attn_last_error());
    for (int i = 0; i < attn_attention_record_count(rec); i++) {
        attn_attention_map am;
        attn_attention_record_map(rec, i, &am);
        attn_attention_kind kind = am.kind;
        if (kind == ATTN_ATTENTION_ENCODER_SELF && classifier) kind = ATTN_ATTENTION_CLASSIFIER_SELF;
        if (kind == ATTN_ATTENTION_OTHER || am.N != 1 || am.layer < 0) continue; /* one example, named modules */
        int rows, cols;
        attn_attention_view_dims(v, kind, &rows, &cols);
        if (am.L < rows || am.S < cols)
            return attn_fail(ATTN_E_SHAPE, "%s: %s is %lldx%lld, the tokens make %dx%d", fn, am.name,
                             (long long)am.L, (long long)am.S, rows, cols);
        /* keep the rows and columns of the view's tokens: a decoder's first `rows` positions are
         * the queries that produce the target tokens */
        float *sub = malloc((size_t)rows * cols * sizeof *sub + 1);
        if (!sub) return attn_fail(ATTN_E_NOMEM, "%s", fn);
        int st = ATTN_OK;
        for (int64_t h = 0; st == ATTN_OK && h < am.H; h++) {
            for (int q = 0; q < rows; q++)
                memcpy(sub + (size_t)q * cols, am.w + (h * am.L + q) * am.S, (size_t)cols * sizeof *sub);
            st = attn_attention_view_add_map(v, kind, am.layer, (int)h, sub, rows, cols);
        }
        free(sub);
        ATTN_TRY(st);
    }
    return ATTN_OK;
}

/* ---- the image ---------------------------------------------------------------------------------- */

/* A map over n patches: finite, ≥ 0, summing to 1. */
static int check_distribution(const float *w, int n, const char *what)
{
    double sum = 0;
    for (int j = 0; j < n; j++) {
        if (!isfinite(w[j]) || w[j] < 0)
            return attn_fail(ATTN_E_FORMAT, "attn_attention_view_set_image: %s patch %d = %g (must be finite and >= 0)",
                             what, j, (double)w[j]);
        sum += w[j];
    }
    if (fabs(sum - 1) > 1e-3)
        return attn_fail(ATTN_E_FORMAT, "attn_attention_view_set_image: %s sums to %.6g over the patches, not 1", what,
                         sum);
    return ATTN_OK;
}

static int check_image(const attn_attention_view *v, const attn_attention_image *img)
{
    static const char fn[] = "attn_attention_view_set_image";
    if (img->width < 1 || img->height < 1 || img->width > ATTN_VIEW_MAX_PIXELS || img->height > ATTN_VIEW_MAX_PIXELS)
        return attn_fail(ATTN_E_ARG, "%s: %d×%d pixels (1..%d each)", fn, img->width, img->height, ATTN_VIEW_MAX_PIXELS);
    if (img->patch < 1 || img->rows < 1 || img->cols < 1 || img->rows > img->height || img->cols > img->width ||
        img->rows * img->patch != img->height || img->cols * img->patch != img->width)
        return attn_fail(ATTN_E_ARG, "%s: %d×%d patches of %d pixels do not tile a %d×%d image", fn, img->rows,
                         img->cols, img->patch, img->width, img->height);
    if (img->cls != 0 && img->cls != 1) return attn_fail(ATTN_E_ARG, "%s: cls=%d (0 or 1)", fn, img->cls);
    if (img->layers < 1 || img->heads < 1 || img->layers > ATTN_VIEW_MAX_LAYERS || img->heads > ATTN_VIEW_MAX_HEADS)
        return attn_fail(ATTN_E_ARG, "%s: %d layers, %d heads (1..%d, 1..%d)", fn, img->layers, img->heads,
                         ATTN_VIEW_MAX_LAYERS, ATTN_VIEW_MAX_HEADS);
    const int P = img->rows * img->cols;
    if (v->n_src && v->n_src != P + img->cls)
        return attn_fail(ATTN_E_ARG, "%s: %d source tokens, but %d patches%s", fn, v->n_src, P,
                         img->cls ? " and a class token" : "");
    char what[64];
    for (int k = 0; k < img->layers * img->heads; k++) {
        snprintf(what, sizeof what, "layer %d head %d", k / img->heads, k % img->heads);
        ATTN_TRY(check_distribution(img->attn + (size_t)k * P, P, what));
    }
    return check_distribution(img->rollout, P, "the rollout");
}

int attn_attention_view_set_image(attn_attention_view *v, const attn_attention_image *img)
{
    static const char fn[] = "attn_attention_view_set_image";
    ATTN_REQUIRE_NONNULL(fn, v);
    ATTN_REQUIRE_NONNULL(fn, img);
    if (!img->pixels || !img->attn || !img->rollout) return attn_fail(ATTN_E_ARG, "%s: NULL pixels or maps", fn);
    ATTN_TRY(check_image(v, img));
    const int P = img->rows * img->cols;
    const size_t npx = (size_t)img->width * img->height, nmap = (size_t)img->layers * img->heads * P;
    attn_attention_image *c = calloc(1, sizeof *c);
    if (c) {
        *c = *img;
        c->pixels = malloc(npx);
        c->attn = malloc(nmap * sizeof *c->attn);
        c->rollout = malloc((size_t)P * sizeof *c->rollout);
    }
    if (!c || !c->pixels || !c->attn || !c->rollout) {
        image_free(c);
        return attn_fail(ATTN_E_NOMEM, "%s: %d×%d", fn, img->width, img->height);
    }
    memcpy(c->pixels, img->pixels, npx);
    memcpy(c->attn, img->attn, nmap * sizeof *c->attn);
    memcpy(c->rollout, img->rollout, (size_t)P * sizeof *c->rollout);
    image_free(v->image);
    v->image = c;
    return ATTN_OK;
}
