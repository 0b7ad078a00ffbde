/* test_idx.c — the IDX loader (valid files made here, gzip and plain; every malformed class →
 * ATTN_E_FORMAT with a message), image sets, Fashion-MNIST from Debian's package when it is
 * installed, and the augmentation / permutation helpers. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "attn.h"

/* An IDX file in memory: header for dims (ndim of them, type 0x08) then numel bytes i*7+1. */
static size_t make_idx(uint8_t *buf, int ndim, const uint32_t *dims)
{
    size_t k = 0, numel = 1;
    buf[k++] = 0, buf[k++] = 0, buf[k++] = 0x08, buf[k++] = (uint8_t)ndim;
    for (int d = 0; d < ndim; d++) {
        buf[k++] = (uint8_t)(dims[d] >> 24), buf[k++] = (uint8_t)(dims[d] >> 16);
        buf[k++] = (uint8_t)(dims[d] >> 8), buf[k++] = (uint8_t)dims[d];
        numel *= dims[d];
    }
    for (size_t i = 0; i < numel; i++) buf[k++] = (uint8_t)(i * 7 + 1);
    return k;
}

static void write_file(const char *path, const uint8_t *b, size_t n, int gz)
{
    if (gz) {
        gzFile g = gzopen(path, "wb");
        cr_assert(g);
        if (n) cr_assert_eq(gzwrite(g, b, (unsigned)n), (int)n);
        cr_assert_eq(gzclose(g), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        cr_assert(f);
        cr_assert_eq(fwrite(b, 1, n, f), n);
        fclose(f);
    }
}

static const char *tmp_path(const char *name)
{
    static char p[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "/tmp/attn_test_idx_%d_%s", (int)getpid(), name);
    return p[k];
}

Test(idx, valid_files_plain_gzip_and_memory)
{
    static uint8_t buf[4096];
    const uint32_t dims[3] = {5, 6, 7};
    size_t n = make_idx(buf, 3, dims);
    for (int gz = 0; gz < 3; gz++) {
        attn_idx *x = NULL;
        if (gz == 2) {
            cr_assert_eq(attn_idx_parse(buf, n, &x), ATTN_OK, "%s", attn_last_error());
        } else {
            const char *p = tmp_path(gz ? "v.gz" : "v");
            write_file(p, buf, n, gz);
            cr_assert_eq(attn_idx_load(p, &x), ATTN_OK, "%s", attn_last_error());
            unlink(p);
        }
        cr_assert_eq(x->dtype, 0x08);
        cr_assert_eq(x->ndim, 3);
        cr_assert(x->dims[0] == 5 && x->dims[1] == 6 && x->dims[2] == 7 && x->dims[3] == 0);
        cr_assert_eq(x->numel, 210);
        for (int i = 0; i < 210; i++) cr_assert_eq(x->data[i], (uint8_t)(i * 7 + 1));
        attn_idx_free(x);
    }
    /* a zero-size dimension is a valid (empty) file */
    const uint32_t zero[2] = {0, 9};
    n = make_idx(buf, 2, zero);
    attn_idx *x = NULL;
    cr_assert_eq(attn_idx_parse(buf, n, &x), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(x->numel, 0);
    attn_idx_free(x);
    attn_idx_free(NULL);
}

/* Expect status `want` with a message containing `needle`, from memory and from both kinds of file. */
static void expect_bad(const uint8_t *b, size_t n, int want, const char *needle, int files)
{
    for (int mode = 0; mode < (files ? 3 : 1); mode++) {
        attn_idx *x = (attn_idx *)1;
        int st;
        if (mode == 0) {
            st = attn_idx_parse(b, n, &x);
        } else {
            const char *p = tmp_path(mode == 2 ? "b.gz" : "b");
            write_file(p, b, n, mode == 2);
            st = attn_idx_load(p, &x);
            unlink(p);
        }
        cr_assert_eq(st, want, "mode %d (%s): status %d, wanted %d: %s", mode, needle, st, want,
                     attn_last_error());
        cr_assert_null(x);
        cr_assert(strstr(attn_last_error(), needle), "mode %d: \"%s\" lacks \"%s\"", mode,
                  attn_last_error(), needle);
    }
}

Test(idx, malformed_files_rejected_with_a_message)
{
    static uint8_t good[4096], b[4096];
    const uint32_t dims[3] = {2, 3, 4};
    size_t n = make_idx(good, 3, dims);
    memcpy(b, good, n);
    expect_bad(b, 3, ATTN_E_FORMAT, "4-byte IDX prefix", 1);
    expect_bad(b, 0, ATTN_E_FORMAT, "4-byte IDX prefix", 1);
    b[1] = 8;
    expect_bad(b, n, ATTN_E_FORMAT, "bad magic", 1);
    memcpy(b, good, n), b[0] = 0x1f;
    expect_bad(b, n, ATTN_E_FORMAT, "bad magic", 1);
    memcpy(b, good, n), b[2] = 0x0A;
    expect_bad(b, n, ATTN_E_FORMAT, "unknown IDX type code 0x0A", 1);
    memcpy(b, good, n), b[2] = 0x0D;
    expect_bad(b, n, ATTN_E_UNSUPPORTED, "float32", 1);
    memcpy(b, good, n), b[3] = 0;
    expect_bad(b, n, ATTN_E_FORMAT, "0 dimensions", 1);
    memcpy(b, good, n), b[3] = 5;
    expect_bad(b, n, ATTN_E_FORMAT, "5 dimensions", 1);
    expect_bad(good, 4 + 7, ATTN_E_FORMAT, "header cut short", 1);
    expect_bad(good, n - 1, ATTN_E_FORMAT, "truncated", 1);
    expect_bad(good, 4 + 12, ATTN_E_FORMAT, "truncated", 1);
    memcpy(b, good, n), b[n] = 9;
    expect_bad(b, n + 1, ATTN_E_FORMAT, "trailing bytes", 0);
    /* sizes over the bound, and products that would overflow 64 bits: rejected from the header */
    const uint32_t huge[4] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
    size_t k = 0;
    b[k++] = 0, b[k++] = 0, b[k++] = 8, b[k++] = 4;
    for (int d = 0; d < 4; d++)
        for (int s = 24; s >= 0; s -= 8) b[k++] = (uint8_t)(huge[d] >> s);
    expect_bad(b, k, ATTN_E_FORMAT, "ATTN_IDX_MAX_BYTES", 1);
    const uint32_t big[3] = {60000, 1000, 1000}; /* 6e10 bytes */
    k = 4;
    b[3] = 3;
    for (int d = 0; d < 3; d++)
        for (int s = 24; s >= 0; s -= 8) b[k++] = (uint8_t)(big[d] >> s);
    expect_bad(b, k, ATTN_E_FORMAT, "ATTN_IDX_MAX_BYTES", 1);
    /* a header that declares 1 GiB over a few bytes: refused without allocating the lie */
    const uint32_t lie[1] = {1u << 30};
    k = 4;
    b[3] = 1;
    for (int s = 24; s >= 0; s -= 8) b[k++] = (uint8_t)(lie[0] >> s);
    b[k++] = 1, b[k++] = 2;
    expect_bad(b, k, ATTN_E_FORMAT, "truncated", 1);
}

Test(idx, trailing_bytes_in_files)
{
    static uint8_t b[4096];
    const uint32_t dims[1] = {10};
    size_t n = make_idx(b, 1, dims);
    b[n++] = 0;
    for (int gz = 0; gz < 2; gz++) {
        const char *p = tmp_path(gz ? "t.gz" : "t");
        write_file(p, b, n, gz);
        attn_idx *x = NULL;
        cr_assert_eq(attn_idx_load(p, &x), ATTN_E_FORMAT);
        cr_assert(strstr(attn_last_error(), "bytes after") && strstr(attn_last_error(), p), "%s",
                  attn_last_error());
        cr_assert_null(x);
        unlink(p);
    }
}

Test(idx, truncated_and_damaged_gzip_streams)
{
    static uint8_t b[8192];
    const uint32_t dims[2] = {40, 50};
    size_t n = make_idx(b, 2, dims);
    const char *p = tmp_path("z.gz");
    write_file(p, b, n, 1);
    FILE *f = fopen(p, "rb");
    static uint8_t z[8192];
    size_t zn = fread(z, 1, sizeof z, f);
    fclose(f);
    cr_assert(zn > 40);
    /* the stream cut short (its trailer gone, then half of it) */
    size_t cuts[2] = {zn - 6, zn / 2};
    for (int c = 0; c < 2; c++) {
        write_file(p, z, cuts[c], 0);
        attn_idx *x = NULL;
        cr_assert_eq(attn_idx_load(p, &x), ATTN_E_FORMAT, "cut %zu: %s", cuts[c], attn_last_error());
        cr_assert(strstr(attn_last_error(), "gzip") || strstr(attn_last_error(), "truncated"),
                  "%s", attn_last_error());
        cr_assert_null(x);
    }
    /* a flipped byte in the deflate data or the CRC */
    z[zn - 7] ^= 0x55;
    write_file(p, z, zn, 0);
    attn_idx *x = NULL;
    cr_assert_eq(attn_idx_load(p, &x), ATTN_E_FORMAT, "%s", attn_last_error());
    cr_assert_null(x);
    unlink(p);
    cr_assert_eq(attn_idx_load("/nonexistent/file.idx", &x), ATTN_E_IO);
    cr_assert(strstr(attn_last_error(), "/nonexistent/file.idx"));
    cr_assert_eq(attn_idx_load(NULL, &x), ATTN_E_ARG);
    cr_assert_eq(attn_idx_parse(b, n, NULL), ATTN_E_ARG);
}

Test(idx, image_sets_from_idx)
{
    static uint8_t ib[4096], lb[64];
    const uint32_t idims[3] = {6, 4, 5}, ldims[1] = {6}, l5[1] = {5}, two[2] = {6, 1};
    attn_idx *im, *lab, *bad;
    cr_assert_eq(attn_idx_parse(ib, make_idx(ib, 3, idims), &im), ATTN_OK);
    cr_assert_eq(attn_idx_parse(lb, make_idx(lb, 1, ldims), &lab), ATTN_OK);
    attn_image_set *s = NULL;
    cr_assert_eq(attn_image_set_from_idx(im, lab, &s), ATTN_OK, "%s", attn_last_error());
    cr_assert(s->n == 6 && s->channels == 1 && s->height == 4 && s->width == 5);
    cr_assert_eq(memcmp(s->pixels, im->data, 120), 0);
    cr_assert_eq(memcmp(s->labels, lab->data, 6), 0);
    int top = 0;
    for (int i = 0; i < 6; i++) top = lab->data[i] > top ? lab->data[i] : top;
    cr_assert_eq(s->num_classes, top + 1);
    attn_image_set_free(s);
    /* counts that disagree, labels not 1-d, images not 3-d */
    cr_assert_eq(attn_idx_parse(lb, make_idx(lb, 1, l5), &bad), ATTN_OK);
    cr_assert_eq(attn_image_set_from_idx(im, bad, &s), ATTN_E_FORMAT);
    cr_assert(strstr(attn_last_error(), "6 images but 5 labels"), "%s", attn_last_error());
    cr_assert_null(s);
    attn_idx_free(bad);
    cr_assert_eq(attn_idx_parse(lb, make_idx(lb, 2, two), &bad), ATTN_OK);
    cr_assert_eq(attn_image_set_from_idx(im, bad, &s), ATTN_E_FORMAT);
    cr_assert(strstr(attn_last_error(), "labels have 2 dimensions"), "%s", attn_last_error());
    cr_assert_eq(attn_image_set_from_idx(bad, lab, &s), ATTN_E_FORMAT);
    cr_assert(strstr(attn_last_error(), "images have 2 dimensions"), "%s", attn_last_error());
    attn_idx_free(bad);
    /* from files: the message names both */
    const char *ip = tmp_path("img"), *lp = tmp_path("lab.gz");
    write_file(ip, ib, make_idx(ib, 3, idims), 0);
    write_file(lp, lb, make_idx(lb, 1, l5), 1);
    cr_assert_eq(attn_image_set_load(ip, lp, &s), ATTN_E_FORMAT);
    cr_assert(strstr(attn_last_error(), ip) && strstr(attn_last_error(), lp), "%s", attn_last_error());
    write_file(lp, lb, make_idx(lb, 1, ldims), 1);
    cr_assert_eq(attn_image_set_load(ip, lp, &s), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(s->n, 6);
    attn_image_set_free(s);
    unlink(ip), unlink(lp);
    attn_idx_free(im), attn_idx_free(lab);
    cr_assert_eq(attn_fashion_mnist_load("/nonexistent", "train", &s), ATTN_E_IO);
    cr_assert_eq(attn_fashion_mnist_load(NULL, "valid", &s), ATTN_E_ARG);
    cr_assert_str_eq(attn_fashion_mnist_class_name(9), "Ankle boot");
    cr_assert_null(attn_fashion_mnist_class_name(10));
}

Test(idx, fashion_mnist_package_files)
{
    if (access(ATTN_FASHION_MNIST_DIR "/train-images-idx3-ubyte.gz", R_OK) != 0) {
        cr_skip_test("dataset-fashion-mnist is not installed (scripts/deps.sh installs it)");
    }
    const char *splits[2] = {"train", "test"};
    const int64_t counts[2] = {60000, 10000};
    for (int k = 0; k < 2; k++) {
        attn_image_set *s = NULL;
        cr_assert_eq(attn_fashion_mnist_load(NULL, splits[k], &s), ATTN_OK, "%s", attn_last_error());
        cr_assert_eq(s->n, counts[k]);
        cr_assert(s->channels == 1 && s->height == 28 && s->width == 28);
        cr_assert_eq(s->num_classes, 10);
        int64_t per[10] = {0};
        for (int64_t i = 0; i < s->n; i++) {
            cr_assert_lt(s->labels[i], 10);
            per[s->labels[i]]++;
        }
        /* Fashion-MNIST is balanced: 6,000 (train) or 1,000 (test) of each class */
        for (int c = 0; c < 10; c++) cr_assert_eq(per[c], counts[k] / 10, "class %d: %lld", c, (long long)per[c]);
        int64_t sum = 0, nonzero = 0;
        for (int64_t i = 0; i < s->n * 784; i++) sum += s->pixels[i], nonzero += s->pixels[i] != 0;
        double mean = (double)sum / (double)(s->n * 784) / 255.0;
        cr_assert(mean > 0.25 && mean < 0.32, "pixel mean %.4f (Fashion-MNIST's is 0.286)", mean);
        cr_assert(nonzero > s->n * 784 / 3);
        attn_image_set_free(s);
    }
}

Test(image, augment_crop_and_flip)
{
    enum { N = 64, H = 5, W = 6 };
    static uint8_t src[N * H * W], dst[N * H * W], again[N * H * W];
    for (int i = 0; i < N * H * W; i++) src[i] = (uint8_t)(1 + i % 251);
    attn_augment_options none = {0}, flip = {.hflip = 1}, crop = {.pad = 2, .hflip = 1};
    cr_assert_eq(attn_image_augment(&none, src, N, 1, H, W, 1, 0, dst), ATTN_OK);
    cr_assert_eq(memcmp(src, dst, sizeof src), 0);
    cr_assert_eq(attn_image_augment(&flip, src, N, 1, H, W, 1, 0, dst), ATTN_OK);
    int flipped = 0;
    for (int i = 0; i < N; i++) {
        const uint8_t *s = src + i * H * W, *d = dst + i * H * W;
        int same = memcmp(s, d, H * W) == 0, mirrored = 1;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) mirrored &= d[y * W + x] == s[y * W + W - 1 - x];
        cr_assert(same || mirrored, "image %d neither kept nor mirrored", i);
        flipped += mirrored;
    }
    cr_assert(flipped > 16 && flipped < 48, "%d of 64 flipped", flipped);
    /* crops: each output is the input shifted by (dy, dx) in [-2, 2]², zeros outside, maybe mirrored */
    cr_assert_eq(attn_image_augment(&crop, src, N, 1, H, W, 7, 3, dst), ATTN_OK);
    int shifts[5][5] = {{0}};
    for (int i = 0; i < N; i++) {
        const uint8_t *s = src + i * H * W, *d = dst + i * H * W;
        int found = 0;
        for (int dy = -2; dy <= 2 && !found; dy++)
            for (int dx = -2; dx <= 2 && !found; dx++)
                for (int f = 0; f < 2 && !found; f++) {
                    int ok = 1;
                    for (int y = 0; y < H; y++)
                        for (int x = 0; x < W; x++) {
                            int sy = y + dy, sx = (f ? W - 1 - x : x) + dx;
                            int v = sy >= 0 && sy < H && sx >= 0 && sx < W ? s[sy * W + sx] : 0;
                            ok &= d[y * W + x] == v;
                        }
                    if (ok) found = 1, shifts[dy + 2][dx + 2]++;
                }
        cr_assert(found, "image %d is no shifted copy", i);
    }
    int kinds = 0;
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++) kinds += shifts[a][b] > 0;
    cr_assert_gt(kinds, 10, "only %d distinct shifts in 64 images", kinds);
    /* reproducible from (seed, counter); image i does not depend on the batch it is in */
    cr_assert_eq(attn_image_augment(&crop, src, N, 1, H, W, 7, 3, again), ATTN_OK);
    cr_assert_eq(memcmp(dst, again, sizeof dst), 0);
    cr_assert_eq(attn_image_augment(&crop, src, 10, 1, H, W, 7, 3, again), ATTN_OK);
    cr_assert_eq(memcmp(dst, again, 10 * H * W), 0);
    cr_assert_eq(attn_image_augment(&crop, src, N, 1, H, W, 7, 4, again), ATTN_OK);
    cr_assert_neq(memcmp(dst, again, sizeof dst), 0);
    attn_augment_options badpad = {.pad = 65};
    cr_assert_eq(attn_image_augment(&badpad, src, N, 1, H, W, 7, 4, again), ATTN_E_ARG);
    cr_assert_eq(attn_image_augment(&crop, src, N, 1, H, W, 7, 4, src + 1), ATTN_E_ARG);
}

Test(image, normalize_and_permutation)
{
    const uint8_t px[3] = {0, 255, 51};
    float out[3];
    cr_assert_eq(attn_image_normalize(px, 3, 0.5f, 0.25f, out), ATTN_OK);
    cr_assert_float_eq(out[0], -2.0f, 1e-6);
    cr_assert_float_eq(out[1], 2.0f, 1e-6);
    cr_assert_float_eq(out[2], (0.2f - 0.5f) / 0.25f, 1e-6);
    cr_assert_eq(attn_image_normalize(px, 3, 0.5f, 0.0f, out), ATTN_E_ARG);
    enum { N = 1000 };
    static int64_t p[N], q[N];
    static int seen[N];
    cr_assert_eq(attn_permutation(N, 5, 0, p), ATTN_OK);
    int fixed = 0;
    for (int i = 0; i < N; i++) {
        cr_assert(p[i] >= 0 && p[i] < N && !seen[p[i]]);
        seen[p[i]] = 1;
        fixed += p[i] == i;
    }
    cr_assert_lt(fixed, 10, "%d fixed points", fixed);
    cr_assert_eq(attn_permutation(N, 5, 0, q), ATTN_OK);
    cr_assert_eq(memcmp(p, q, sizeof p), 0);
    cr_assert_eq(attn_permutation(N, 5, 1, q), ATTN_OK);
    cr_assert_neq(memcmp(p, q, sizeof p), 0);
    cr_assert_eq(attn_permutation(-1, 5, 1, q), ATTN_E_ARG);
}
