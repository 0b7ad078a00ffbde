/* fuzz_idx.c — libFuzzer target for the IDX loader and image sets. The first input byte picks
 * the path: parse from memory, load from a file (plain or gzip), or split the rest at byte 2's
 * position into an images file and a labels file and build an image set. Whatever succeeds must
 * agree with its header; anything else must fail with a message, never crash or leak.
 *   make fuzz-idx && build/fuzz_idx -max_total_time=60 fuzz/corpus/idx */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "attn.h"

static void check(int cond)
{
    if (!cond) abort();
}

static const char *temp_file(const uint8_t *data, size_t size, int gz, int which)
{
    static char path[2][64];
    snprintf(path[which], sizeof path[which], "/tmp/attn_fuzz_idx_%d_%d%s", (int)getpid(), which,
             gz ? ".gz" : "");
    if (gz) {
        gzFile g = gzopen(path[which], "wb");
        if (size) gzwrite(g, data, (unsigned)size);
        gzclose(g);
    } else {
        FILE *f = fopen(path[which], "wb");
        fwrite(data, 1, size, f);
        fclose(f);
    }
    return path[which];
}

static void check_idx(int st, attn_idx *x, size_t size)
{
    if (st != ATTN_OK) {
        check(x == NULL && attn_last_error()[0] != '\0');
        return;
    }
    int64_t numel = 1;
    for (int d = 0; d < x->ndim; d++) numel *= x->dims[d];
    check(x->ndim >= 1 && x->ndim <= ATTN_IDX_MAX_DIMS && x->numel == numel && x->dtype == 8);
    if (size) check((size_t)(4 + 4 * x->ndim + numel) == size);
    volatile uint8_t sum = 0;
    for (int64_t i = 0; i < x->numel; i++) sum += x->data[i];
    attn_idx_free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int which = data[0] % 4;
    data++, size--;
    attn_idx *x = NULL;
    if (which == 0) {
        check_idx(attn_idx_parse(data, size, &x), x, size);
    } else if (which == 1 || which == 2) {
        const char *p = temp_file(data, size, which == 2, 0);
        check_idx(attn_idx_load(p, &x), x, which == 1 ? size : 0);
        unlink(p);
    } else if (size >= 1) {
        size_t cut = 1 + (size_t)data[0] * (size - 1) / 256;
        const char *ip = temp_file(data + 1, cut - 1, 0, 0);
        const char *lp = temp_file(data + cut, size - cut, 0, 1);
        attn_image_set *s = NULL;
        int st = attn_image_set_load(ip, lp, &s);
        if (st == ATTN_OK) {
            check(s->n >= 1 && s->channels == 1 && s->height >= 1 && s->width >= 1);
            for (int64_t i = 0; i < s->n; i++) check(s->labels[i] < s->num_classes);
            attn_image_set_free(s);
        } else {
            check(s == NULL && attn_last_error()[0] != '\0');
        }
        unlink(ip), unlink(lp);
    }
    return 0;
}
