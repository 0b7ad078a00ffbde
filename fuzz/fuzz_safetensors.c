/* fuzz_safetensors.c — libFuzzer target for the safetensors reader (and writer round trip).
 *
 * Each input is a whole file opened from memory, and also as a file (an in-memory memfd opened
 * by its /proc path), which must give the same verdict. Every accessor is exercised; a file that
 * opens must describe tensors whose bytes lie inside the input, and when all its tensors
 * convert to float32, writing them back and reading the result must give the same values
 * bit for bit. Any violation aborts (a finding); sanitizers catch the rest.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "attn.h"

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "fuzz_safetensors: %s:%d: %s (last error: %s)\n", __FILE__,        \
                    __LINE__, #cond, attn_last_error());                                       \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

static int convertible(const char *dtype)
{
    return !strcmp(dtype, "F32") || !strcmp(dtype, "F16") || !strcmp(dtype, "BF16") ||
           !strcmp(dtype, "F64");
}

/* Write every tensor back as F32 with the metadata, reopen, compare. */
static void round_trip(attn_st_reader *st, float **vals, size_t len)
{
    int64_t n = attn_st_count(st);
    attn_st_writer *w = NULL;
    CHECK(attn_st_writer_create(&w) == ATTN_OK);
    for (int64_t i = 0; i < n; i++) {
        attn_st_entry e;
        CHECK(attn_st_info(st, i, &e) == ATTN_OK);
        int s = attn_st_writer_add(w, e.name, e.ndim, e.shape, vals[i]);
        if (s != ATTN_OK) { /* only an empty name is refused by the writer and not the reader */
            CHECK(e.name[0] == '\0' && s == ATTN_E_ARG);
            attn_st_writer_free(w);
            return;
        }
    }
    for (int64_t i = 0; i < attn_st_metadata_count(st); i++) {
        const char *k, *v;
        CHECK(attn_st_metadata_at(st, i, &k, &v) == ATTN_OK);
        CHECK(attn_st_writer_set_metadata(w, k, v) == ATTN_OK);
    }
    int64_t size = 0;
    CHECK(attn_st_writer_size(w, &size) == ATTN_OK);
    CHECK(size >= 8 && size <= (int64_t)(16 + 4 * len + 64 * len));
    unsigned char *buf = malloc((size_t)size);
    CHECK(buf);
    CHECK(attn_st_writer_serialize(w, buf, size - 1) == ATTN_E_ARG);
    CHECK(attn_st_writer_serialize(w, buf, size) == ATTN_OK);
    attn_st_reader *back = NULL;
    CHECK(attn_st_open_memory(buf, (size_t)size, &back) == ATTN_OK);
    CHECK(attn_st_count(back) == n);
    CHECK(attn_st_metadata_count(back) == attn_st_metadata_count(st));
    for (int64_t i = 0; i < n; i++) {
        attn_st_entry a, b;
        CHECK(attn_st_info(st, i, &a) == ATTN_OK);
        CHECK(attn_st_info(back, i, &b) == ATTN_OK);
        CHECK(strcmp(a.name, b.name) == 0 && strcmp(b.dtype, "F32") == 0);
        CHECK(a.ndim == b.ndim && a.numel == b.numel);
        CHECK(a.ndim == 0 || memcmp(a.shape, b.shape, (size_t)a.ndim * sizeof(int64_t)) == 0);
        float *got = malloc((size_t)(a.numel ? a.numel : 1) * sizeof(float));
        CHECK(got);
        CHECK(attn_st_read_f32(back, b.name, got, b.numel) == ATTN_OK);
        CHECK(a.numel == 0 || memcmp(got, vals[i], (size_t)a.numel * sizeof(float)) == 0);
        free(got);
    }
    for (int64_t i = 0; i < attn_st_metadata_count(st); i++) {
        const char *k, *v;
        CHECK(attn_st_metadata_at(st, i, &k, &v) == ATTN_OK);
        const char *v2 = attn_st_metadata(back, k);
        CHECK(v2 && strcmp(v, v2) == 0);
    }
    attn_st_close(back);
    free(buf);
    attn_st_writer_free(w);
}

/* The file reader on the same bytes: same status, and the same tensors when it opens. */
static void same_from_file(const unsigned char *data, size_t size, int status, const attn_st_reader *mem)
{
    static int fd = -1;
    if (fd < 0) fd = memfd_create("fuzz_safetensors", 0);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, 0) == 0);
    CHECK(size == 0 || pwrite(fd, data, size, 0) == (ssize_t)size);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    attn_st_reader *st = NULL;
    int s = attn_st_open(path, &st);
    CHECK(s == status);
    if (s != ATTN_OK) return;
    CHECK(attn_st_count(st) == attn_st_count(mem));
    for (int64_t i = 0; i < attn_st_count(st); i++) {
        attn_st_entry a, b;
        CHECK(attn_st_info(st, i, &a) == ATTN_OK && attn_st_info(mem, i, &b) == ATTN_OK);
        CHECK(strcmp(a.name, b.name) == 0 && a.nbytes == b.nbytes);
        unsigned char *x = malloc((size_t)a.nbytes + 1), *y = malloc((size_t)a.nbytes + 1);
        CHECK(x && y);
        CHECK(attn_st_read_raw(st, a.name, x, a.nbytes) == ATTN_OK);
        CHECK(attn_st_read_raw(mem, a.name, y, a.nbytes) == ATTN_OK);
        CHECK(memcmp(x, y, (size_t)a.nbytes) == 0);
        free(x);
        free(y);
    }
    attn_st_close(st);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    attn_st_reader *st = NULL;
    int status = attn_st_open_memory(data, size, &st);
    same_from_file(data, size, status, st);
    if (status != ATTN_OK) {
        CHECK(st == NULL);
        CHECK(status == ATTN_E_FORMAT || status == ATTN_E_NOMEM);
        CHECK(attn_last_error()[0] != '\0');
        return 0;
    }
    int64_t n = attn_st_count(st);
    CHECK(n >= 0 && (size_t)n <= size);
    float **vals = calloc((size_t)(n ? n : 1), sizeof *vals);
    CHECK(vals);
    int all_f32 = 1;
    int64_t total = 0;
    for (int64_t i = 0; i < n; i++) {
        attn_st_entry e;
        CHECK(attn_st_info(st, i, &e) == ATTN_OK);
        CHECK(attn_st_find(st, e.name) == i);
        CHECK(e.ndim >= 0 && e.ndim <= ATTN_ST_MAX_NDIM && e.numel >= 0 && e.nbytes >= 0);
        total += e.nbytes;
        CHECK(total <= (int64_t)size);
        unsigned char *raw = malloc((size_t)(e.nbytes ? e.nbytes : 1));
        CHECK(raw);
        CHECK(attn_st_read_raw(st, e.name, raw, e.nbytes) == ATTN_OK);
        CHECK(attn_st_read_raw(st, e.name, raw, e.nbytes + 1) == ATTN_E_SHAPE);
        free(raw);
        if (convertible(e.dtype)) {
            vals[i] = malloc((size_t)(e.numel ? e.numel : 1) * sizeof(float));
            CHECK(vals[i]);
            CHECK(attn_st_read_f32(st, e.name, vals[i], e.numel) == ATTN_OK);
            CHECK(attn_st_read_f32(st, e.name, vals[i], e.numel + 1) == ATTN_E_SHAPE);
        } else {
            all_f32 = 0;
            CHECK(attn_st_read_f32(st, e.name, NULL, e.numel) == ATTN_E_UNSUPPORTED);
        }
    }
    CHECK(attn_st_info(st, n, &(attn_st_entry){0}) == ATTN_E_ARG);
    CHECK(attn_st_find(st, "\xff not a name") == ATTN_E_ARG);
    for (int64_t i = 0; i < attn_st_metadata_count(st); i++) {
        const char *k = NULL, *v = NULL;
        CHECK(attn_st_metadata_at(st, i, &k, &v) == ATTN_OK);
        CHECK(attn_st_metadata(st, k) == v);
    }
    CHECK(attn_st_metadata_at(st, -1, NULL, NULL) == ATTN_E_ARG);
    if (all_f32) round_trip(st, vals, size);
    for (int64_t i = 0; i < n; i++) free(vals[i]);
    free(vals);
    attn_st_close(st);
    return 0;
}
