/* bpe_check.c — attn's GPT-2 BPE against the oracle's ids (tests/bpe/oracle.js).
 *
 *   bpe_check VOCAB MERGES CORPUS IDS
 *
 * For each text of CORPUS ("<byte length>\n<bytes>\n" records, make_corpus.py) the ids of
 * attn_bpe_encode must equal the matching line of IDS, and attn_bpe_decode of them must give
 * the text's bytes back. One line per failure, a summary, "N passed, N failed"; exit 1 on any
 * failure. */
#include <attn.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap + 1);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap) {
            char *nb = realloc(buf, 2 * cap + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    *len = n;
    return buf;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bpe_check VOCAB MERGES CORPUS IDS\n");
        return 2;
    }
    double t0 = now();
    attn_bpe *b = NULL;
    if (attn_bpe_load(argv[1], argv[2], &b) != ATTN_OK) {
        printf("FAIL loading: %s\n0 passed, 1 failed\n", attn_last_error());
        return 1;
    }
    double t_load = now() - t0;
    size_t clen, ilen;
    char *corpus = slurp(argv[3], &clen), *ids_text = slurp(argv[4], &ilen);
    if (!corpus || !ids_text) {
        printf("FAIL reading %s or %s\n0 passed, 1 failed\n", argv[3], argv[4]);
        return 1;
    }
    int pass = 0, fail = 0, texts = 0;
    size_t n_bytes = 0, n_tokens = 0;
    double t_enc = 0;
    char *ip = ids_text;
    for (size_t p = 0, rec = 1; p < clen; rec++) {
        char *end;
        size_t n = strtoul(corpus + p, &end, 10);
        const char *text = end + 1;
        p = (size_t)(text - corpus) + n + 1;
        /* the oracle's ids: one line */
        char *eol = strchr(ip, '\n');
        if (!eol) {
            printf("FAIL record %zu: no line of ids\n", rec);
            fail++;
            break;
        }
        *eol = '\0';
        size_t n_want = 0;
        int32_t *want = malloc((n + 1) * sizeof *want), *got = malloc((n + 1) * sizeof *got);
        for (char *q = ip; *q;) {
            long v = strtol(q, &end, 10);
            if (end == q || n_want > n) break;
            want[n_want++] = (int32_t)v;
            q = end;
        }
        ip = eol + 1;
        size_t n_got = 0;
        double t1 = now();
        int st = attn_bpe_encode(b, text, n, got, n + 1, &n_got);
        t_enc += now() - t1;
        n_bytes += n;
        n_tokens += n_got;
        int ok = st == ATTN_OK && n_got == n_want && memcmp(got, want, n_got * sizeof *got) == 0;
        if (!ok) {
            size_t k = 0;
            while (k < n_got && k < n_want && got[k] == want[k]) k++;
            printf("FAIL record %zu (%zu bytes \"%.*s\"): %zu ids, oracle %zu; first difference at %zu: %d vs %d %s\n",
                   rec, n, (int)(n < 40 ? n : 40), text, n_got, n_want, k, k < n_got ? got[k] : -1,
                   k < n_want ? want[k] : -1, st == ATTN_OK ? "" : attn_last_error());
        }
        size_t dlen = 0;
        char *dec = malloc(n + 1);
        if (ok && (attn_bpe_decode(b, got, n_got, dec, n + 1, &dlen) != ATTN_OK || dlen != n ||
                   memcmp(dec, text, n) != 0)) {
            printf("FAIL record %zu: decode does not give the text back\n", rec);
            ok = 0;
        }
        free(dec);
        free(want);
        free(got);
        ok ? pass++ : fail++;
        texts++;
    }
    /* GPT-2's end-of-text token, looked up by its bytes */
    int32_t eot = -1;
    if (attn_bpe_vocab_size(b) == 50257) {
        int ok = attn_bpe_token_id(b, "<|endoftext|>", 13, &eot) == ATTN_OK && eot == 50256;
        printf("%s <|endoftext|> is id %d (50256 in GPT-2)\n", ok ? "ok  " : "FAIL", eot);
        ok ? pass++ : fail++;
    }
    printf("bpe: %d texts, %zu bytes -> %zu tokens; load %.0f ms, encode %.1f MB/s\n", texts,
           n_bytes, n_tokens, 1e3 * t_load, (double)n_bytes / 1e6 / (t_enc > 0 ? t_enc : 1e-9));
    printf("%d passed, %d failed\n", pass, fail);
    attn_bpe_free(b);
    free(corpus);
    free(ids_text);
    return fail ? 1 : 0;
}
