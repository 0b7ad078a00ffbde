/* idx.c — IDX files (LeCun's MNIST format), gzip or plain, and the image sets built from them.
 *
 * Layout: 0x00 0x00 <type> <ndim>, ndim big-endian uint32 dimensions, then the elements.
 * Every size comes from an untrusted header: it is checked (overflow, ATTN_IDX_MAX_BYTES)
 * before anything is allocated, and the file must hold exactly that many bytes. */
#include "data_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

typedef struct idx_header {
    int dtype, ndim;
    int64_t dims[ATTN_IDX_MAX_DIMS];
    int64_t numel, bytes; /* data part */
} idx_header;

static const char *dtype_name(int code)
{
    switch (code) {
    case 0x08: return "uint8";
    case 0x09: return "int8";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return NULL;
    }
}

/* The first 4 bytes: magic, type code, ndim. */
static int check_prefix(const char *fn, const char *what, const uint8_t *b, idx_header *h)
{
    if (b[0] != 0 || b[1] != 0)
        return attn_fail(ATTN_E_FORMAT, "%s: %s: bad magic %02X %02X (an IDX file starts 00 00)",
                         fn, what, b[0], b[1]);
    const char *name = dtype_name(b[2]);
    if (!name)
        return attn_fail(ATTN_E_FORMAT, "%s: %s: unknown IDX type code 0x%02X", fn, what, b[2]);
    if (b[2] != 0x08)
        return attn_fail(ATTN_E_UNSUPPORTED, "%s: %s: IDX type %s (0x%02X): only uint8 (0x08) is read",
                         fn, what, name, b[2]);
    if (b[3] < 1 || b[3] > ATTN_IDX_MAX_DIMS)
        return attn_fail(ATTN_E_FORMAT, "%s: %s: %d dimensions (1..%d allowed)", fn, what, b[3],
                         ATTN_IDX_MAX_DIMS);
    h->dtype = b[2];
    h->ndim = b[3];
    return ATTN_OK;
}

/* The dimensions (4·ndim bytes after the prefix) and the data size they declare. */
static int check_dims(const char *fn, const char *what, const uint8_t *b, idx_header *h)
{
    memset(h->dims, 0, sizeof h->dims);
    int64_t numel = 1;
    for (int d = 0; d < h->ndim; d++) {
        const uint8_t *p = b + 4 * d;
        h->dims[d] = (int64_t)p[0] << 24 | (int64_t)p[1] << 16 | (int64_t)p[2] << 8 | p[3];
        /* dims are below 2^32 and the running product stays ≤ 2^31: no overflow */
        numel *= h->dims[d];
        if (numel > ATTN_IDX_MAX_BYTES)
            return attn_fail(ATTN_E_FORMAT, "%s: %s: dimensions up to %d declare over %lld bytes "
                             "(ATTN_IDX_MAX_BYTES)", fn, what, d, (long long)ATTN_IDX_MAX_BYTES);
    }
    h->numel = numel;
    h->bytes = numel; /* uint8 */
    return ATTN_OK;
}

static int idx_new(const char *fn, const idx_header *h, attn_idx **out)
{
    attn_idx *x = calloc(1, sizeof *x);
    if (!x) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    x->dtype = h->dtype;
    x->ndim = h->ndim;
    memcpy(x->dims, h->dims, sizeof x->dims);
    x->numel = h->numel;
    *out = x;
    return ATTN_OK;
}

void attn_idx_free(attn_idx *x)
{
    if (!x) return;
    free(x->data);
    free(x);
}

int attn_idx_parse(const void *bytes, size_t len, attn_idx **out)
{
    static const char fn[] = "attn_idx_parse";
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    if (!bytes && len) return attn_fail(ATTN_E_ARG, "%s: bytes is NULL", fn);
    const uint8_t *b = bytes;
    idx_header h = {0};
    if (len < 4)
        return attn_fail(ATTN_E_FORMAT, "%s: %zu bytes: shorter than the 4-byte IDX prefix", fn, len);
    ATTN_TRY(check_prefix(fn, "input", b, &h));
    size_t hlen = 4 + 4 * (size_t)h.ndim;
    if (len < hlen)
        return attn_fail(ATTN_E_FORMAT, "%s: input: header cut short (%zu of %zu bytes)", fn, len, hlen);
    ATTN_TRY(check_dims(fn, "input", b + 4, &h));
    if (len - hlen != (size_t)h.bytes)
        return attn_fail(ATTN_E_FORMAT, "%s: input: the header declares %lld data bytes, the input "
                         "holds %zu (%s)", fn, (long long)h.bytes, len - hlen,
                         len - hlen < (size_t)h.bytes ? "truncated" : "trailing bytes");
    attn_idx *x = NULL;
    ATTN_TRY(idx_new(fn, &h, &x));
    x->data = malloc(h.bytes ? (size_t)h.bytes : 1);
    if (!x->data) {
        attn_idx_free(x);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory for %lld bytes", fn, (long long)h.bytes);
    }
    if (h.bytes) memcpy(x->data, b + hlen, (size_t)h.bytes);
    *out = x;
    return ATTN_OK;
}

/* ---- from a file ------------------------------------------------------------------------------ */

/* Read up to n bytes; *got the count. ATTN_E_FORMAT for a damaged gzip stream. */
static int gz_read(const char *fn, const char *path, gzFile f, void *dst, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n) {
        size_t want = n - *got;
        unsigned chunk = want > (1u << 30) ? 1u << 30 : (unsigned)want;
        int r = gzread(f, (char *)dst + *got, chunk);
        if (r < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            if (zerr == Z_ERRNO)
                return attn_fail(ATTN_E_IO, "%s: cannot read %s: %s", fn, path, strerror(errno));
            return attn_fail(ATTN_E_FORMAT, "%s: %s: damaged gzip stream (%s)", fn, path, msg);
        }
        if (r == 0) break;
        *got += (size_t)r;
    }
    if (*got < n) { /* end of input: a gzip stream cut short says so here */
        int zerr;
        gzerror(f, &zerr);
        if (zerr == Z_BUF_ERROR)
            return attn_fail(ATTN_E_FORMAT, "%s: %s: truncated gzip stream", fn, path);
    }
    return ATTN_OK;
}

static int load_from(const char *fn, const char *path, gzFile f, attn_idx **out)
{
    uint8_t hb[4 * ATTN_IDX_MAX_DIMS];
    size_t got;
    idx_header h = {0};
    ATTN_TRY(gz_read(fn, path, f, hb, 4, &got));
    if (got < 4)
        return attn_fail(ATTN_E_FORMAT, "%s: %s: %zu bytes: shorter than the 4-byte IDX prefix", fn,
                         path, got);
    ATTN_TRY(check_prefix(fn, path, hb, &h));
    ATTN_TRY(gz_read(fn, path, f, hb, 4 * (size_t)h.ndim, &got));
    if (got < 4 * (size_t)h.ndim)
        return attn_fail(ATTN_E_FORMAT, "%s: %s: header cut short (%zu of %d dimension bytes)", fn,
                         path, got, 4 * h.ndim);
    ATTN_TRY(check_dims(fn, path, hb, &h));
    attn_idx *x = NULL;
    ATTN_TRY(idx_new(fn, &h, &x));
    /* grow with what arrives, so a header that lies costs no more memory than the file holds */
    size_t have = 0, cap = 0, need = (size_t)h.bytes;
    int st = ATTN_OK;
    for (;;) {
        if (have == cap) {
            size_t next = cap ? 2 * cap : (size_t)1 << 20;
            if (next > need) next = need;
            uint8_t *p = realloc(x->data, next ? next : 1);
            if (!p) {
                st = attn_fail(ATTN_E_NOMEM, "%s: %s: out of memory for %zu bytes", fn, path, next);
                break;
            }
            x->data = p, cap = next;
        }
        if ((st = gz_read(fn, path, f, x->data + have, cap - have, &got)) != ATTN_OK) break;
        have += got;
        if (have == need || got == 0) break;
    }
    if (st == ATTN_OK && have < need)
        st = attn_fail(ATTN_E_FORMAT, "%s: %s: truncated: the header declares %zu data bytes, the "
                       "file holds %zu", fn, path, need, have);
    uint8_t extra[64];
    if (st == ATTN_OK && (st = gz_read(fn, path, f, extra, sizeof extra, &got)) == ATTN_OK && got)
        st = attn_fail(ATTN_E_FORMAT, "%s: %s: bytes after the %zu data bytes the header declares",
                       fn, path, need);
    if (st != ATTN_OK) {
        attn_idx_free(x);
        return st;
    }
    if (!x->data && !(x->data = malloc(1))) {
        attn_idx_free(x);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    }
    *out = x;
    return ATTN_OK;
}

int attn_idx_load(const char *path, attn_idx **out)
{
    static const char fn[] = "attn_idx_load";
    ATTN_REQUIRE_NONNULL(fn, path);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return attn_fail(ATTN_E_IO, "%s: cannot open %s: %s", fn, path,
                         errno ? strerror(errno) : "out of memory");
    int st = load_from(fn, path, f, out);
    int cl = gzclose(f);
    if (st == ATTN_OK && cl != Z_OK) {
        attn_idx_free(*out);
        *out = NULL;
        st = attn_fail(cl == Z_BUF_ERROR ? ATTN_E_FORMAT : ATTN_E_IO, "%s: %s: %s", fn, path,
                       cl == Z_BUF_ERROR ? "truncated gzip stream" : "read error");
    }
    return st;
}

/* ---- image sets -------------------------------------------------------------------------------- */

void attn_image_set_free(attn_image_set *s)
{
    if (!s) return;
    free(s->pixels);
    free(s->labels);
    free(s);
}

int attn_image_set_from_idx(const attn_idx *images, const attn_idx *labels, attn_image_set **out)
{
    static const char fn[] = "attn_image_set_from_idx";
    ATTN_REQUIRE_NONNULL(fn, images);
    ATTN_REQUIRE_NONNULL(fn, labels);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    if (images->ndim != 3)
        return attn_fail(ATTN_E_FORMAT, "%s: images have %d dimensions, [n, height, width] wanted",
                         fn, images->ndim);
    if (labels->ndim != 1)
        return attn_fail(ATTN_E_FORMAT, "%s: labels have %d dimensions, [n] wanted", fn,
                         labels->ndim);
    if (images->dims[0] != labels->dims[0])
        return attn_fail(ATTN_E_FORMAT, "%s: %lld images but %lld labels", fn,
                         (long long)images->dims[0], (long long)labels->dims[0]);
    if (images->dims[0] < 1 || images->dims[1] < 1 || images->dims[2] < 1)
        return attn_fail(ATTN_E_FORMAT, "%s: empty image set [%lld, %lld, %lld]", fn,
                         (long long)images->dims[0], (long long)images->dims[1],
                         (long long)images->dims[2]);
    attn_image_set *s = calloc(1, sizeof *s);
    if (!s) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    s->n = images->dims[0];
    s->channels = 1;
    s->height = images->dims[1];
    s->width = images->dims[2];
    s->pixels = malloc((size_t)images->numel);
    s->labels = malloc((size_t)s->n);
    if (!s->pixels || !s->labels) {
        attn_image_set_free(s);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory for %lld images", fn, (long long)images->dims[0]);
    }
    memcpy(s->pixels, images->data, (size_t)images->numel);
    memcpy(s->labels, labels->data, (size_t)s->n);
    int top = 0;
    for (int64_t i = 0; i < s->n; i++) top = s->labels[i] > top ? s->labels[i] : top;
    s->num_classes = top + 1;
    *out = s;
    return ATTN_OK;
}

int attn_image_set_load(const char *images_path, const char *labels_path, attn_image_set **out)
{
    static const char fn[] = "attn_image_set_load";
    ATTN_REQUIRE_NONNULL(fn, images_path);
    ATTN_REQUIRE_NONNULL(fn, labels_path);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    attn_idx *im = NULL, *lb = NULL;
    int st = attn_idx_load(images_path, &im);
    if (st == ATTN_OK) st = attn_idx_load(labels_path, &lb);
    if (st == ATTN_OK && (st = attn_image_set_from_idx(im, lb, out)) != ATTN_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", attn_last_error());
        st = attn_fail(st, "%s (images %s, labels %s)", msg, images_path, labels_path);
    }
    attn_idx_free(im);
    attn_idx_free(lb);
    return st;
}

/* <dir>/<stem>.gz if it exists, else <dir>/<stem>. */
static int pick_file(const char *dir, const char *stem, char *path, size_t cap)
{
    int k = snprintf(path, cap, "%s/%s.gz", dir, stem);
    if (k < 0 || (size_t)k >= cap)
        return attn_fail(ATTN_E_ARG, "attn_fashion_mnist_load: directory name too long");
    FILE *f = fopen(path, "rb");
    if (f) {
        fclose(f);
        return ATTN_OK;
    }
    snprintf(path, cap, "%s/%s", dir, stem);
    return ATTN_OK;
}

int attn_fashion_mnist_load(const char *dir, const char *split, attn_image_set **out)
{
    static const char fn[] = "attn_fashion_mnist_load";
    ATTN_REQUIRE_NONNULL(fn, split);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    const char *prefix = strcmp(split, "train") == 0 ? "train" : strcmp(split, "test") == 0 ? "t10k" : NULL;
    if (!prefix) return attn_fail(ATTN_E_ARG, "%s: split \"%s\" (train or test)", fn, split);
    if (!dir) dir = ATTN_FASHION_MNIST_DIR;
    char stem[64], ip[4096], lp[4096];
    snprintf(stem, sizeof stem, "%s-images-idx3-ubyte", prefix);
    ATTN_TRY(pick_file(dir, stem, ip, sizeof ip));
    snprintf(stem, sizeof stem, "%s-labels-idx1-ubyte", prefix);
    ATTN_TRY(pick_file(dir, stem, lp, sizeof lp));
    return attn_image_set_load(ip, lp, out);
}

const char *attn_fashion_mnist_class_name(int label)
{
    static const char *const names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    return label >= 0 && label < 10 ? names[label] : NULL;
}
