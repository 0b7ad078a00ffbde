/* viz_image.c — the image commands that draw or read pictures through cairo:
 *   attn classify-image --model M FILE.png|IDXFILE[i] [--top K]
 *   attn viz --model M --image FILE.png|IDXFILE[i] [--out DIR]
 * A PNG must already have the model's size (28×28 for Fashion-MNIST): it is converted to
 * grayscale (BT.601 luma, transparent parts over black, as Fashion-MNIST's backgrounds are) and
 * anything else is refused with a message rather than resized, so that what the model sees is
 * exactly the file. The attention itself (per head and rolled out) comes from the library
 * (attn_image_attention_view); this file only draws it over the image. */
#include "args.h"
#include "cli.h"
#include "image_cli.h"
#include "viz_draw.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_png(const char *cmd, const char *path, int64_t size, uint8_t *px)
{
    FILE *f = fopen(path, "rb"); /* cairo's own message for a missing file is vague */
    if (!f) {
        fprintf(stderr, "attn %s: %s: %s\n", cmd, path, strerror(errno));
        return 1;
    }
    fclose(f);
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        fprintf(stderr, "attn %s: %s: not a PNG cairo can read (%s)\n", cmd, path,
                cairo_status_to_string(cairo_surface_status(s)));
        cairo_surface_destroy(s);
        return 1;
    }
    const int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    if (w != size || h != size) {
        fprintf(stderr, "attn %s: %s is %d×%d; the model takes %lld×%lld images (resize it first, "
                "e.g. with ImageMagick: convert %s -resize %lldx%lld! small.png)\n", cmd, path, w, h,
                (long long)size, (long long)size, path, (long long)size, (long long)size);
        cairo_surface_destroy(s);
        return 1;
    }
    cairo_surface_flush(s);
    const cairo_format_t fmt = cairo_image_surface_get_format(s);
    const unsigned char *data = cairo_image_surface_get_data(s);
    const int stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double v;
            if (fmt == CAIRO_FORMAT_ARGB32 || fmt == CAIRO_FORMAT_RGB24) {
                const uint32_t p = *(const uint32_t *)(data + y * stride + 4 * x);
                /* premultiplied by alpha: the colour over black */
                v = 0.299 * ((p >> 16) & 255) + 0.587 * ((p >> 8) & 255) + 0.114 * (p & 255);
            } else if (fmt == CAIRO_FORMAT_A8) {
                v = data[y * stride + x];
            } else {
                fprintf(stderr, "attn %s: %s: unsupported pixel format\n", cmd, path);
                cairo_surface_destroy(s);
                return 1;
            }
            px[y * w + x] = (uint8_t)lround(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    cairo_surface_destroy(s);
    return 0;
}

int image_read_input(const char *cmd, const char *spec, int64_t size, uint8_t *px)
{
    const size_t len = strlen(spec);
    const char *open = strrchr(spec, '[');
    if (!len || spec[len - 1] != ']' || !open) return read_png(cmd, spec, size, px);
    char *end = NULL;
    errno = 0;
    const long long i = strtoll(open + 1, &end, 10);
    if (end == open + 1 || *end != ']' || errno || i < 0) {
        fprintf(stderr, "attn %s: %s: the index in [] must be a whole number ≥ 0\n", cmd, spec);
        return 1;
    }
    char *path = strndup(spec, (size_t)(open - spec));
    attn_idx *x = NULL;
    int st = path ? attn_idx_load(path, &x) : ATTN_E_NOMEM;
    int rc = 0;
    if (st) rc = cli_error(cmd, path ? path : spec, st);
    else if (x->ndim != 3 || x->dims[1] != size || x->dims[2] != size) {
        fprintf(stderr, "attn %s: %s holds [%lld, %lld, %lld, %lld] (ndim %d); images [n, %lld, %lld] wanted\n",
                cmd, path, (long long)x->dims[0], (long long)x->dims[1], (long long)x->dims[2],
                (long long)x->dims[3], x->ndim, (long long)size, (long long)size);
        rc = 1;
    } else if (i >= x->dims[0]) {
        fprintf(stderr, "attn %s: %s has %lld images; index %lld is past the end\n", cmd, path,
                (long long)x->dims[0], i);
        rc = 1;
    } else {
        memcpy(px, x->data + i * size * size, (size_t)(size * size));
    }
    attn_idx_free(x);
    free(path);
    return rc;
}

static int load_model(const char *cmd, const char *path, attn_image_model **m)
{
    int st = attn_image_model_load(path, m);
    if (st) return cli_error(cmd, path, st);
    if ((*m)->vit->cfg.channels != 1) {
        fprintf(stderr, "attn %s: %s takes %lld channels; these commands read grayscale images\n", cmd, path,
                (long long)(*m)->vit->cfg.channels);
        attn_image_model_free(*m);
        return 1;
    }
    return 0;
}

int cli_classify_image(int argc, char **argv)
{
    const char *model = NULL, *input = NULL;
    int top = 3;
    const arg_opt opts[] = {
        {"model", 'm', ARG_STR, &model, .meta = "M", .help = "a trained ViT (required)"},
        {"top", 'k', ARG_INT, &top, .lo = 1, .hi = 1000, .help = "classes listed"},
        {0}};
    const arg_spec spec = {.cmd = "classify-image", .synopsis = "--model M [--top K] FILE.png|IDXFILE[i]", .opts = opts,
                           .about = "FILE.png: the model's size (28x28), read as grayscale; IDXFILE[i]: image i of an IDX\n"
                                    "file, e.g. /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz[0]",
                           .min_pos = 1, .max_pos = 1};
    char **pos;
    int npos;
    ARGS_PARSE_OR_RETURN(&spec, argc, argv, &pos, &npos);
    if (!model) return args_usage_error(&spec, "--model is required");
    input = pos[0];
    attn_image_model *m = NULL;
    if (load_model("classify-image", model, &m)) return 1;
    const int64_t S = m->vit->cfg.image_size, C = m->classes;
    uint8_t *px = malloc((size_t)(S * S));
    float *p = malloc((size_t)C * sizeof *p);
    int32_t pred = 0;
    int rc = !px || !p;
    if (!rc) rc = image_read_input("classify-image", input, S, px);
    if (!rc) {
        int st = attn_image_model_predict(m, px, 1, &pred, p);
        if (st) rc = cli_error("classify-image", input, st);
    }
    if (!rc) {
        if (top > C) top = (int)C;
        printf("%s: %s (%.4f)\n", input, m->labels[pred], (double)p[pred]);
        for (int r = 0; r < top; r++) { /* the top classes, by selection */
            int64_t best = -1;
            for (int64_t k = 0; k < C; k++)
                if (p[k] >= 0 && (best < 0 || p[k] > p[best])) best = k;
            printf("  %-14s %.4f\n", m->labels[best], (double)p[best]);
            p[best] = -1;
        }
        printf("result: label=%d name=%s\n", pred, m->labels[pred]);
    }
    free(px), free(p);
    attn_image_model_free(m);
    return rc;
}

/* ---- the overlay grid --------------------------------------------------------------------------- */

/* One tile: the image in gray, scaled by `scale`, with a patch map (normalised by its maximum)
 * in the colour map at 15-65 % opacity, and a caption below. */
static void draw_tile(cairo_t *cr, double x0, double y0, const attn_attention_image *im, const float *map, int scale,
                      const char *caption)
{
    for (int y = 0; y < im->height; y++)
        for (int x = 0; x < im->width; x++) {
            const double v = im->pixels[y * im->width + x] / 255.0;
            cairo_set_source_rgb(cr, v, v, v);
            cairo_rectangle(cr, x0 + x * scale, y0 + y * scale, scale, scale);
            cairo_fill(cr);
        }
    const int P = im->rows * im->cols, cell = im->patch * scale;
    float mx = 0;
    for (int j = 0; map && j < P; j++) mx = map[j] > mx ? map[j] : mx;
    for (int j = 0; map && j < P; j++) {
        double rgb[3];
        const double t = mx > 0 ? map[j] / mx : 0;
        viz_colormap(t, rgb);
        cairo_set_source_rgba(cr, rgb[0], rgb[1], rgb[2], 0.15 + 0.5 * t);
        cairo_rectangle(cr, x0 + (j % im->cols) * cell, y0 + (j / im->cols) * cell, cell, cell);
        cairo_fill(cr);
    }
    viz_text(cr, x0, y0 + im->height * scale + 13, 11, 0, 0.1, caption);
}

int viz_image_grid_write(const attn_attention_view *r, const char *path)
{
    if (!r || !r->image || !path) return attn_set_error(ATTN_E_ARG, "viz_image_grid_write: no record, image or path");
    const attn_attention_image *im = r->image;
    const int L = im->layers, H = im->heads, P = im->rows * im->cols;
    const int scale = im->width <= 64 && im->height <= 64 ? 4 : 1, pad = 8, cap = 18;
    const int tw = im->width * scale, th = im->height * scale, cols = H + 1;
    const int rows = L > 2 ? L : 2, w = pad + cols * (tw + pad), h = 24 + rows * (th + cap + pad) + pad;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    viz_text(cr, pad, 16, 11, 0, 0, r->title ? r->title : "attention over the image");
    char caption[64];
    for (int l = 0; l < rows; l++) {
        const double y0 = 24 + l * (th + cap + pad);
        for (int hd = 0; l < L && hd < H; hd++) {
            snprintf(caption, sizeof caption, "layer %d head %d", l, hd);
            draw_tile(cr, pad + hd * (tw + pad), y0, im, im->attn + (size_t)(l * H + hd) * P, scale, caption);
        }
        /* the last column: the rollout on the first row, the image alone on the second */
        const double x0 = pad + H * (tw + pad);
        if (l == 0) draw_tile(cr, x0, y0, im, im->rollout, scale, "rollout");
        if (l == 1) draw_tile(cr, x0, y0, im, NULL, scale, "image");
    }
    cairo_destroy(cr);
    const cairo_status_t cs = cairo_surface_write_to_png(s, path);
    cairo_surface_destroy(s);
    if (cs != CAIRO_STATUS_SUCCESS) return attn_set_error(ATTN_E_IO, "%s: %s", path, cairo_status_to_string(cs));
    return ATTN_OK;
}

int viz_image_run(const char *model, const char *input, const char *out)
{
    if (!model || !input) {
        fprintf(stderr, "usage: attn viz --model M --image FILE.png|IDXFILE[i] [--out DIR]\n"
                        "Writes DIR/image_attention.png: each layer's and head's attention from the class token\n"
                        "over the image, and the attention rollout; DIR/attention.html shows the same over the\n"
                        "picture (and heads, model view and rollout over the patch tokens).\n");
        return 2;
    }
    attn_image_model *m = NULL;
    if (load_model("viz", model, &m)) return 1;
    const int64_t S = m->vit->cfg.image_size;
    uint8_t *px = malloc((size_t)(S * S));
    float *prob = malloc((size_t)m->classes * sizeof *prob);
    int32_t pred = 0;
    attn_attention_view *r = NULL;
    int rc = !px || !prob;
    if (!rc) rc = image_read_input("viz", input, S, px);
    if (!rc) {
        const int st = attn_image_model_predict(m, px, 1, &pred, prob);
        if (st) rc = cli_error("viz", input, st);
    }
    char title[300];
    if (!rc) {
        snprintf(title, sizeof title, "%.200s: %s (%.3f)", input, m->labels[pred], (double)prob[pred]);
        const int st = attn_image_attention_view(m, px, title, &r);
        if (st) rc = cli_error("viz", "attention", st);
    }
    if (!rc && viz_render_all(r, out, m->vit->cls_token ? 0 : ATTN_ROLLOUT_MEAN)) {
        fprintf(stderr, "attn viz: %s\n", attn_last_error());
        rc = 1;
    }
    if (!rc)
        printf("%s\nwrote %s/image_attention.png\nwrote %s/attention.html (the image with each head's attention "
               "as an overlay; heads over the patches \"r<row>c<col>\", model view, rollout)\n", title, out, out);
    attn_attention_view_free(r);
    free(px), free(prob);
    attn_image_model_free(m);
    return rc;
}
