/* fuzz_data.c — libFuzzer target for the dataset loaders under a small size limit: the input
 * split at its first NUL into two files (plain, or gzip when the first byte is odd), read as
 * an IMDb .tsv with its .ids file, as parallel text, and as lines. Each load fails with a
 * message or returns consistent sets; a file over the limit (e.g. a gzip bomb) is refused.
 *   make fuzz-loaders && build/fuzz/fuzz_data -max_total_time=600 fuzz/corpus/data */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "attn.h"

#define CHECK(c)                                                                               \
    do {                                                                                       \
        if (!(c)) abort();                                                                     \
    } while (0)

enum { LIMIT = 1 << 16 };

static const char *write_file(int k, const uint8_t *d, size_t n, int gz)
{
    static char path[2][64];
    snprintf(path[k], sizeof path[k], "/tmp/attn_fuzz_data_%d_%d%s", (int)getpid(), k, gz ? ".gz" : "");
    if (gz) {
        gzFile f = gzopen(path[k], "wb1");
        CHECK(f);
        if (n) CHECK(gzwrite(f, d, (unsigned)n) == (int)n);
        CHECK(gzclose(f) == Z_OK);
    } else {
        FILE *f = fopen(path[k], "wb");
        CHECK(f);
        if (n) CHECK(fwrite(d, 1, n, f) == n);
        CHECK(fclose(f) == 0);
    }
    return path[k];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once) attn_data_set_max_bytes(LIMIT), once = 1;
    if (size < 1) return 0;
    const int gz = data[0] & 1;
    data++, size--;
    const uint8_t *nul = memchr(data, 0, size);
    size_t n1 = nul ? (size_t)(nul - data) : size;
    const uint8_t *d2 = nul ? nul + 1 : data + size;
    size_t n2 = nul ? size - n1 - 1 : 0;
    /* a gzip input may inflate past the limit: repeat it to make one */
    const char *a = write_file(0, data, n1, gz), *b = write_file(1, d2, n2, gz);
    attn_imdb *im = NULL;
    int st = attn_imdb_load(a, nul ? b : NULL, &im);
    if (st == ATTN_OK) {
        for (int64_t i = 0; i < im->n; i++) CHECK(im->text[i] && (im->label[i] == 0 || im->label[i] == 1));
        attn_imdb_free(im);
    } else {
        CHECK(st < 0 && attn_last_error()[0]);
    }
    attn_parallel *p = NULL;
    st = attn_parallel_load(a, b, &p);
    if (st == ATTN_OK) {
        for (int64_t i = 0; i < p->n; i++) CHECK(p->src[i] && p->tgt[i]);
        attn_parallel_free(p);
    } else {
        CHECK(st < 0 && attn_last_error()[0]);
    }
    st = attn_lines_load(a, &p);
    if (st == ATTN_OK) {
        CHECK(n1 <= LIMIT || gz);
        attn_parallel_free(p);
    } else {
        CHECK(st < 0 && attn_last_error()[0]);
    }
    unlink(a);
    unlink(b);
    return 0;
}
