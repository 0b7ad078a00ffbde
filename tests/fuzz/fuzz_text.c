/* fuzz_text.c — libFuzzer target for the text part: the first input byte picks the function,
 * the rest is its input. Cleaning, UTF-8 validation, the BLEU tokeniser, BLEU and chrF (input
 * split at NUL bytes into hypothesis and references), and the IMDb / parallel loaders (input
 * written to a temp file, gzip or not). Any crash, sanitizer report or broken invariant is a bug.
 *   make fuzz-text && build/fuzz_text -max_total_time=60 */
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

static char *terminated(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static const char *temp_file(const uint8_t *data, size_t size, int gz)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/attn_fuzz_%d%s", (int)getpid(), gz ? ".gz" : "");
    if (gz) {
        gzFile g = gzopen(path, "wb");
        if (size) gzwrite(g, data, (unsigned)size);
        gzclose(g);
    } else {
        FILE *f = fopen(path, "wb");
        fwrite(data, 1, size, f);
        fclose(f);
    }
    return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int which = data[0] % 8;
    data++, size--;
    char *s = terminated(data, size);
    size_t n = 0;
    switch (which) {
    case 0: { /* cleaning: output never longer than input, in place works */
        attn_text_clean_options o = {.br_newline = size & 1, .keep_entities = (size >> 1) & 1};
        char *out = malloc(size + 1);
        check(attn_text_clean(s, size, &o, out, size + 1, &n) == ATTN_OK && n <= size);
        check(attn_text_clean(s, size, &o, s, size + 1, &n) == ATTN_OK);
        check(strlen(out) <= n && memcmp(out, s, n) == 0);
        free(out);
        break;
    }
    case 1: { /* validation agrees with decoding the valid prefix again */
        size_t bad;
        int st = attn_utf8_validate(s, size, &bad);
        check(st == ATTN_OK ? bad == size : bad < size);
        if (st != ATTN_OK) check(attn_utf8_validate(s, bad, NULL) == ATTN_OK);
        break;
    }
    case 2:
    case 3: { /* the BLEU tokeniser: valid UTF-8 in, valid UTF-8 out, idempotent */
        attn_bleu_options o = {.tokenize = which == 3, .lowercase = size & 1};
        if (attn_bleu_tokenize_line(s, &o, NULL, 0, &n) != ATTN_OK) break;
        char *out = malloc(n + 1), *again = malloc(3 * n + 8);
        size_t m;
        check(attn_bleu_tokenize_line(s, &o, out, n + 1, &m) == ATTN_OK && m == n);
        check(attn_utf8_validate(out, n, NULL) == ATTN_OK);
        o.lowercase = 0;
        check(attn_bleu_tokenize_line(out, &o, again, 3 * n + 8, &m) == ATTN_OK);
        if (which == 3) check(m == n && memcmp(out, again, n) == 0);
        free(out), free(again);
        break;
    }
    case 4: { /* BLEU and chrF: segments separated by NUL, first half hypotheses */
        const char *seg[16];
        int k = 0;
        for (size_t i = 0; i <= size && k < 16; i++)
            if (i == 0 || s[i - 1] == '\0') seg[k++] = s + i;
        if (k < 2) break;
        int nh = k / 2;
        attn_bleu_result b;
        attn_chrf_result c;
        if (attn_bleu_corpus(seg, seg + nh, nh, 1, NULL, &b) == ATTN_OK)
            check(b.score >= 0.0 && b.score <= 100.0 + 1e-9);
        if (attn_chrf_corpus(seg, seg + nh, nh, 1, NULL, &c) == ATTN_OK)
            check(c.score >= 0.0 && c.score <= 100.0 + 1e-9);
        break;
    }
    case 5:
    case 6: { /* IMDb loader on the bytes as a file (plain or gzip) */
        attn_imdb *d = NULL;
        if (attn_imdb_load(temp_file(data, size, which == 6), NULL, &d) == ATTN_OK) {
            for (int64_t i = 0; i < d->n; i++) check(d->label[i] == 0 || d->label[i] == 1);
            uint8_t *v = malloc((size_t)d->n + 1);
            check(attn_imdb_split_by_movie(d, 0.5, 1, v, NULL) == ATTN_OK);
            free(v);
        }
        attn_imdb_free(d);
        break;
    }
    case 7: { /* lines loader */
        attn_parallel *p = NULL;
        if (attn_lines_load(temp_file(data, size, 0), &p) == ATTN_OK)
            for (int64_t i = 0; i < p->n; i++) check(attn_utf8_validate(p->src[i], strlen(p->src[i]), NULL) == ATTN_OK);
        attn_parallel_free(p);
        break;
    }
    }
    free(s);
    return 0;
}
