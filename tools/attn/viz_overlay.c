/* viz_overlay.c — the image of a record (a ViT's input picture, its patch grid and the pooled
 * token's attention over the patches): attach a checked copy, write it into attention.json and
 * read it back with every field checked. */
#include "viz_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void viz_image_free(viz_image *img)
{
    if (!img) return;
    free(img->pixels);
    free(img->attn);
    free(img->rollout);
    free(img);
}

/* A map over n patches: finite, >= 0, summing to 1. */
static int check_distribution(const float *w, int n, const char *what)
{
    double sum = 0;
    for (int j = 0; j < n; j++) {
        if (!isfinite(w[j]) || w[j] < 0)
            return viz_fail(ATTN_E_FORMAT, "viz image: %s patch %d = %g (must be finite and >= 0)", what, j,
                            (double)w[j]);
        sum += w[j];
    }
    if (fabs(sum - 1) > 1e-3)
        return viz_fail(ATTN_E_FORMAT, "viz image: %s sums to %.6g over the patches, not 1", what, sum);
    return 0;
}

int viz_record_set_image(viz_record *r, const viz_image *img)
{
    if (!r || !img || !img->pixels || !img->attn || !img->rollout)
        return viz_fail(ATTN_E_ARG, "viz_record_set_image: NULL record, image, pixels or maps");
    if (img->width < 1 || img->height < 1 || img->width > VIZ_MAX_PIXELS || img->height > VIZ_MAX_PIXELS)
        return viz_fail(ATTN_E_ARG, "viz_record_set_image: %d×%d pixels (1..%d each)", img->width,
                        img->height, VIZ_MAX_PIXELS);
    if (img->patch < 1 || img->rows < 1 || img->cols < 1 || img->rows > img->height ||
        img->cols > img->width || img->rows * img->patch != img->height || img->cols * img->patch != img->width)
        return viz_fail(ATTN_E_ARG, "viz_record_set_image: %d×%d patches of %d pixels do not tile a %d×%d image",
                        img->rows, img->cols, img->patch, img->width, img->height);
    if (img->cls != 0 && img->cls != 1) return viz_fail(ATTN_E_ARG, "viz_record_set_image: cls=%d (0 or 1)", img->cls);
    if (img->layers < 1 || img->heads < 1 || img->layers > VIZ_MAX_LAYERS || img->heads > VIZ_MAX_HEADS)
        return viz_fail(ATTN_E_ARG, "viz_record_set_image: %d layers, %d heads (1..%d, 1..%d)", img->layers,
                        img->heads, VIZ_MAX_LAYERS, VIZ_MAX_HEADS);
    const int P = img->rows * img->cols;
    if (r->n_src && r->n_src != P + img->cls)
        return viz_fail(ATTN_E_ARG, "viz_record_set_image: %d source tokens, but %d patches%s", r->n_src, P,
                        img->cls ? " and a class token" : "");
    char what[64];
    for (int k = 0; k < img->layers * img->heads; k++) {
        snprintf(what, sizeof what, "layer %d head %d", k / img->heads, k % img->heads);
        int st = check_distribution(img->attn + (size_t)k * P, P, what);
        if (st) return st;
    }
    int st = check_distribution(img->rollout, P, "the rollout");
    if (st) return st;
    const size_t npx = (size_t)img->width * img->height, nmap = (size_t)img->layers * img->heads * P;
    viz_image *c = calloc(1, sizeof *c);
    if (c) {
        *c = *img;
        c->pixels = malloc(npx), c->attn = malloc(nmap * sizeof *c->attn), c->rollout = malloc((size_t)P * sizeof *c->rollout);
    }
    if (!c || !c->pixels || !c->attn || !c->rollout) {
        if (c) viz_image_free(c);
        return viz_fail(ATTN_E_NOMEM, "viz_record_set_image: %d×%d", img->width, img->height);
    }
    memcpy(c->pixels, img->pixels, npx);
    memcpy(c->attn, img->attn, nmap * sizeof *c->attn);
    memcpy(c->rollout, img->rollout, (size_t)P * sizeof *c->rollout);
    viz_image_free(r->image);
    r->image = c;
    return 0;
}

/* ---- writing ------------------------------------------------------------------------------ */

/* rows × cols floats as rows of raw numbers (9 significant digits: exact for float32). */
static cJSON *float_rows(const float *w, int rows, int cols)
{
    cJSON *a = cJSON_CreateArray();
    viz_buf b = {0};
    for (int i = 0; a && i < rows; i++) {
        b.len = 0;
        viz_buf_puts(&b, "[");
        for (int j = 0; j < cols; j++) viz_buf_printf(&b, "%s%.9g", j ? "," : "", (double)w[(size_t)i * cols + j]);
        viz_buf_puts(&b, "]");
        if (b.oom) break;
        cJSON_AddItemToArray(a, cJSON_CreateRaw(b.s));
    }
    const int oom = b.oom;
    free(b.s);
    if (oom) cJSON_Delete(a);
    return oom ? NULL : a;
}

void *viz_image_json(const viz_image *img)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "width", img->width);
    cJSON_AddNumberToObject(o, "height", img->height);
    cJSON *px = cJSON_AddArrayToObject(o, "pixels");
    int *row = malloc((size_t)img->width * sizeof *row);
    for (int y = 0; px && row && y < img->height; y++) {
        for (int x = 0; x < img->width; x++) row[x] = img->pixels[(size_t)y * img->width + x];
        cJSON_AddItemToArray(px, cJSON_CreateIntArray(row, img->width));
    }
    free(row);
    cJSON_AddNumberToObject(o, "patch", img->patch);
    cJSON_AddNumberToObject(o, "rows", img->rows);
    cJSON_AddNumberToObject(o, "cols", img->cols);
    cJSON_AddStringToObject(o, "pool", img->cls ? "cls" : "mean");
    cJSON_AddNumberToObject(o, "layers", img->layers);
    cJSON_AddNumberToObject(o, "heads", img->heads);
    cJSON *att = cJSON_AddArrayToObject(o, "attention");
    const int P = img->rows * img->cols;
    for (int k = 0; att && k < img->layers * img->heads; k++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddNumberToObject(m, "layer", k / img->heads);
        cJSON_AddNumberToObject(m, "head", k % img->heads);
        cJSON_AddItemToObject(m, "weights", float_rows(img->attn + (size_t)k * P, img->rows, img->cols));
        cJSON_AddItemToArray(att, m);
    }
    cJSON_AddItemToObject(o, "rollout", float_rows(img->rollout, img->rows, img->cols));
    return o;
}

/* ---- reading ------------------------------------------------------------------------------ */

/* The integer member `key` of o, in [lo, hi]. */
static int get_int(const cJSON *o, const char *key, int lo, int hi, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v)) return viz_fail(ATTN_E_FORMAT, "attention JSON: image.%s must be a number", key);
    const double d = v->valuedouble;
    if (!(d >= lo && d <= hi) || d != floor(d))
        return viz_fail(ATTN_E_FORMAT, "attention JSON: image.%s=%g must be an integer in [%d, %d]", key, d, lo, hi);
    *out = (int)d;
    return 0;
}

/* rows × cols numbers in [lo, hi] from an array of rows (what names it in messages). */
static int get_rows(const cJSON *a, const char *what, int rows, int cols, double lo, double hi, float *fw,
                    unsigned char *bw)
{
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != rows)
        return viz_fail(ATTN_E_FORMAT, "attention JSON: %s must be an array of %d rows", what, rows);
    int i = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, a)
    {
        if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) != cols)
            return viz_fail(ATTN_E_FORMAT, "attention JSON: %s[%d] must be an array of %d numbers", what, i, cols);
        int j = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, row)
        {
            const double v = cJSON_IsNumber(x) ? x->valuedouble : NAN;
            if (!(v >= lo && v <= hi) || (bw && v != floor(v)))
                return viz_fail(ATTN_E_FORMAT, "attention JSON: %s[%d][%d] must be %s in [%g, %g]", what, i, j,
                                bw ? "an integer" : "a number", lo, hi);
            if (fw) fw[(size_t)i * cols + j] = (float)v;
            else bw[(size_t)i * cols + j] = (unsigned char)v;
            j++;
        }
        i++;
    }
    return 0;
}

static int read_fields(const cJSON *o, viz_image *img)
{
    int st;
    if ((st = get_int(o, "width", 1, VIZ_MAX_PIXELS, &img->width)) ||
        (st = get_int(o, "height", 1, VIZ_MAX_PIXELS, &img->height)) ||
        (st = get_int(o, "patch", 1, VIZ_MAX_PIXELS, &img->patch)) ||
        (st = get_int(o, "rows", 1, VIZ_MAX_PIXELS, &img->rows)) ||
        (st = get_int(o, "cols", 1, VIZ_MAX_PIXELS, &img->cols)) ||
        (st = get_int(o, "layers", 1, VIZ_MAX_LAYERS, &img->layers)) ||
        (st = get_int(o, "heads", 1, VIZ_MAX_HEADS, &img->heads)))
        return st;
    const cJSON *pool = cJSON_GetObjectItemCaseSensitive(o, "pool");
    if (!cJSON_IsString(pool) || (strcmp(pool->valuestring, "cls") && strcmp(pool->valuestring, "mean")))
        return viz_fail(ATTN_E_FORMAT, "attention JSON: image.pool must be \"cls\" or \"mean\"");
    img->cls = !strcmp(pool->valuestring, "cls");
    if (img->rows * img->patch != img->height || img->cols * img->patch != img->width)
        return viz_fail(ATTN_E_FORMAT, "attention JSON: image: %d×%d patches of %d pixels do not tile %d×%d",
                        img->rows, img->cols, img->patch, img->width, img->height);
    return 0;
}

int viz_image_json_read(viz_record *r, const void *member)
{
    const cJSON *o = member;
    if (!o || cJSON_IsNull(o)) return 0;
    if (!cJSON_IsObject(o)) return viz_fail(ATTN_E_FORMAT, "attention JSON: \"image\" must be an object");
    viz_image img = {0};
    int st = read_fields(o, &img);
    if (st) return st;
    const int P = img.rows * img.cols, K = img.layers * img.heads;
    img.pixels = malloc((size_t)img.width * img.height);
    img.attn = malloc((size_t)K * P * sizeof *img.attn);
    img.rollout = malloc((size_t)P * sizeof *img.rollout);
    if (!img.pixels || !img.attn || !img.rollout) st = viz_fail(ATTN_E_NOMEM, "attention JSON: image");
    if (!st) st = get_rows(cJSON_GetObjectItemCaseSensitive(o, "pixels"), "image.pixels", img.height, img.width, 0,
                           255, NULL, img.pixels);
    const cJSON *att = cJSON_GetObjectItemCaseSensitive(o, "attention");
    if (!st && (!cJSON_IsArray(att) || cJSON_GetArraySize(att) != K))
        st = viz_fail(ATTN_E_FORMAT, "attention JSON: image.attention must be an array of %d maps (layers × heads)", K);
    int k = 0;
    const cJSON *m;
    char what[64];
    if (!st) cJSON_ArrayForEach(m, att)
        {
            int layer = -1, head = -1;
            const cJSON *l = cJSON_GetObjectItemCaseSensitive(m, "layer"), *h = cJSON_GetObjectItemCaseSensitive(m, "head");
            if (cJSON_IsNumber(l)) layer = l->valuedouble == k / img.heads ? k / img.heads : -1;
            if (cJSON_IsNumber(h)) head = h->valuedouble == k % img.heads ? k % img.heads : -1;
            if (!cJSON_IsObject(m) || layer < 0 || head < 0) {
                st = viz_fail(ATTN_E_FORMAT, "attention JSON: image.attention[%d] must be the object of layer %d head %d "
                                             "(layer-major order)", k, k / img.heads, k % img.heads);
                break;
            }
            snprintf(what, sizeof what, "image.attention[%d].weights", k);
            if ((st = get_rows(cJSON_GetObjectItemCaseSensitive(m, "weights"), what, img.rows, img.cols, 0, 3.4e38,
                               img.attn + (size_t)k * P, NULL)))
                break;
            k++;
        }
    if (!st) st = get_rows(cJSON_GetObjectItemCaseSensitive(o, "rollout"), "image.rollout", img.rows, img.cols, 0,
                           3.4e38, img.rollout, NULL);
    if (!st) {
        st = viz_record_set_image(r, &img);
        if (st) { /* say where: the record's own checks name no JSON field */
            char msg[400];
            snprintf(msg, sizeof msg, "%s", viz_last_error());
            viz_fail(ATTN_E_FORMAT, "attention JSON: \"image\": %s", msg);
            st = ATTN_E_FORMAT;
        }
    }
    free(img.pixels), free(img.attn), free(img.rollout);
    return st;
}
