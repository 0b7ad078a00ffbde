/* view_image.c — the "image" member of attention.json (attn/analysis.h): a ViT's picture, its
 * patch grid and the pooled token's attention over the patches, written and read back with
 * every field checked. */
#include "internal.h"
#include "view_internal.h"

#include <stdio.h>
#include <string.h>

void view_image_json(view_buf *b, const attn_attention_image *img)
{
    view_printf(b, ",\n\"image\":{\"width\":%d,\"height\":%d,\"pixels\":[", img->width, img->height);
    for (int y = 0; y < img->height; y++) {
        view_puts(b, y ? ",\n  [" : "\n  [");
        for (int x = 0; x < img->width; x++) view_printf(b, "%s%d", x ? "," : "", img->pixels[(size_t)y * img->width + x]);
        view_puts(b, "]");
    }
    view_printf(b, "],\n\"patch\":%d,\"rows\":%d,\"cols\":%d,\"pool\":\"%s\",\"layers\":%d,\"heads\":%d,\n\"attention\":[",
                img->patch, img->rows, img->cols, img->cls ? "cls" : "mean", img->layers, img->heads);
    const int P = img->rows * img->cols;
    for (int k = 0; k < img->layers * img->heads; k++) {
        view_printf(b, "%s\n {\"layer\":%d,\"head\":%d,\"weights\":", k ? "," : "", k / img->heads, k % img->heads);
        view_float_rows(b, img->attn + (size_t)k * P, img->rows, img->cols, "  ");
        view_puts(b, "}");
    }
    view_puts(b, "],\n\"rollout\":");
    view_float_rows(b, img->rollout, img->rows, img->cols, "  ");
    view_puts(b, "}");
}

/* The integer member `key` of the image object. */
static int get_field(const attn_json *o, const char *key, int lo, int hi, int *out)
{
    char what[32];
    snprintf(what, sizeof what, "image.%s", key);
    return view_get_int(attn_json_member(o, key), what, lo, hi, out);
}

static int read_fields(const attn_json *o, attn_attention_image *img)
{
    ATTN_TRY(get_field(o, "width", 1, ATTN_VIEW_MAX_PIXELS, &img->width));
    ATTN_TRY(get_field(o, "height", 1, ATTN_VIEW_MAX_PIXELS, &img->height));
    ATTN_TRY(get_field(o, "patch", 1, ATTN_VIEW_MAX_PIXELS, &img->patch));
    ATTN_TRY(get_field(o, "rows", 1, ATTN_VIEW_MAX_PIXELS, &img->rows));
    ATTN_TRY(get_field(o, "cols", 1, ATTN_VIEW_MAX_PIXELS, &img->cols));
    ATTN_TRY(get_field(o, "layers", 1, ATTN_VIEW_MAX_LAYERS, &img->layers));
    ATTN_TRY(get_field(o, "heads", 1, ATTN_VIEW_MAX_HEADS, &img->heads));
    const char *pool = attn_json_string(attn_json_member(o, "pool"));
    if (!pool || (strcmp(pool, "cls") && strcmp(pool, "mean")))
        return attn_fail(ATTN_E_FORMAT, "attention JSON: image.pool must be \"cls\" or \"mean\"");
    img->cls = !strcmp(pool, "cls");
    if (img->rows * img->patch != img->height || img->cols * img->patch != img->width)
        return attn_fail(ATTN_E_FORMAT, "attention JSON: image: %d×%d patches of %d pixels do not tile %d×%d",
                         img->rows, img->cols, img->patch, img->width, img->height);
    return ATTN_OK;
}

/* image.attention: layers·heads maps in layer-major order, each naming its layer and head. */
static int read_maps(const attn_json *att, attn_attention_image *img)
{
    const int P = img->rows * img->cols, K = img->layers * img->heads;
    if (attn_json_type_of(att) != ATTN_JSON_ARRAY || attn_json_count(att) != K)
        return attn_fail(ATTN_E_FORMAT, "attention JSON: image.attention must be an array of %d maps (layers × heads)", K);
    int k = 0;
    char what[64];
    for (const attn_json *m = attn_json_first(att); m; m = attn_json_next(m), k++) {
        const double l = attn_json_number(attn_json_member(m, "layer")), h = attn_json_number(attn_json_member(m, "head"));
        if (attn_json_type_of(m) != ATTN_JSON_OBJECT || l != k / img->heads || h != k % img->heads)
            return attn_fail(ATTN_E_FORMAT, "attention JSON: image.attention[%d] must be the object of layer %d head %d "
                                            "(layer-major order)", k, k / img->heads, k % img->heads);
        snprintf(what, sizeof what, "image.attention[%d].weights", k);
        ATTN_TRY(view_get_rows(attn_json_member(m, "weights"), what, img->rows, img->cols, 0, 3.4e38,
                               img->attn + (size_t)k * P, NULL));
    }
    return ATTN_OK;
}

int view_image_read(attn_attention_view *v, const attn_json *o)
{
    if (!o || attn_json_type_of(o) == ATTN_JSON_OTHER) return ATTN_OK; /* absent or null */
    if (attn_json_type_of(o) != ATTN_JSON_OBJECT)
        return attn_fail(ATTN_E_FORMAT, "attention JSON: \"image\" must be an object");
    attn_attention_image img = {0};
    ATTN_TRY(read_fields(o, &img));
    const int P = img.rows * img.cols, K = img.layers * img.heads;
    img.pixels = malloc((size_t)img.width * img.height);
    img.attn = malloc((size_t)K * P * sizeof *img.attn);
    img.rollout = malloc((size_t)P * sizeof *img.rollout);
    int st = img.pixels && img.attn && img.rollout ? ATTN_OK : attn_fail(ATTN_E_NOMEM, "attention JSON: image");
    if (!st) st = view_get_rows(attn_json_member(o, "pixels"), "image.pixels", img.height, img.width, 0, 255, NULL, img.pixels);
    if (!st) st = read_maps(attn_json_member(o, "attention"), &img);
    if (!st) st = view_get_rows(attn_json_member(o, "rollout"), "image.rollout", img.rows, img.cols, 0, 3.4e38, img.rollout, NULL);
    if (!st && (st = attn_attention_view_set_image(v, &img))) { /* say where: its checks name no JSON field */
        char msg[400];
        snprintf(msg, sizeof msg, "%s", attn_last_error());
        st = attn_fail(ATTN_E_FORMAT, "attention JSON: \"image\": %s", msg);
    }
    free(img.pixels), free(img.attn), free(img.rollout);
    return st;
}
