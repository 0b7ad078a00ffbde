/* test_lines.c — text read a line at a time (attn_line_reader, attn_lines_read): line endings,
 * gzip, lines longer than any buffer, the size limit, NUL bytes and invalid UTF-8 refused with
 * file, line and byte (or replaced on request); and BLEU's intl and char tokenisers against
 * what sacreBLEU's regular expressions give (worked by hand from tokenizer_intl.py's rules). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "attn.h"

static char dir[256];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/attn_lines_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_expect_eq(system(cmd), 0);
}

/* data[0..len) into dir/name (gzip when name ends in .gz); returns the path (static). */
static const char *put(const char *name, const char *data, size_t len)
{
    static char path[4][320];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 320, "%s/%s", dir, name);
    if (strstr(name, ".gz")) {
        gzFile g = gzopen(p, "wb");
        cr_assert_not_null(g);
        cr_assert_eq(gzwrite(g, data, (unsigned)len), (int)len);
        gzclose(g);
    } else {
        FILE *f = fopen(p, "wb");
        cr_assert_not_null(f);
        cr_assert_eq(fwrite(data, 1, len, f), len);
        fclose(f);
    }
    return p;
}

static const char *puts_(const char *name, const char *text) { return put(name, text, strlen(text)); }

Test(lines, endings_gzip_and_numbers, .init = make_dir, .fini = remove_dir)
{
    const char *paths[2] = {puts_("a.txt", "one\r\ntwo\n\nlast, no newline"),
                            puts_("a.txt.gz", "one\r\ntwo\n\nlast, no newline")};
    for (int k = 0; k < 2; k++) {
        attn_line_reader *r = NULL;
        cr_assert_eq(attn_line_reader_open(paths[k], 0, &r), ATTN_OK, "%s", attn_last_error());
        cr_expect_str_eq(attn_line_reader_name(r), paths[k]);
        const char *want[] = {"one", "two", "", "last, no newline"};
        const char *line;
        size_t len;
        for (int i = 0; i < 4; i++) {
            cr_assert_eq(attn_line_reader_next(r, &line, &len), 1, "%s", attn_last_error());
            cr_expect_str_eq(line, want[i]);
            cr_expect_eq(len, strlen(want[i]));
            cr_expect_eq(attn_line_reader_lineno(r), i + 1);
        }
        cr_expect_eq(attn_line_reader_next(r, &line, &len), 0);
        cr_expect_eq(attn_line_reader_next(r, &line, &len), 0);
        attn_line_reader_close(r);
    }
    char **v;
    int64_t n;
    cr_assert_eq(attn_lines_read(paths[1], 0, &v, &n), ATTN_OK);
    cr_expect_eq(n, 4);
    cr_expect_str_eq(v[3], "last, no newline");
    attn_lines_free(v, n);
    cr_assert_eq(attn_lines_read(puts_("empty", ""), 0, &v, &n), ATTN_OK);
    cr_expect_eq(n, 0);
    attn_lines_free(v, n);
    attn_line_reader_close(NULL);
}

Test(lines, long_lines_and_the_limit, .init = make_dir, .fini = remove_dir)
{
    /* 300,000-byte line (past the reader's 64 KiB chunks and any getline-style 4 KiB buffer) */
    size_t big = 300000;
    char *data = malloc(big + 8);
    cr_assert_not_null(data);
    for (size_t i = 0; i < big; i++) data[i] = (char)('a' + i % 26);
    memcpy(data + big, "\nend\n", 5);
    const char *p = put("big.gz", data, big + 5);
    char **v;
    int64_t n;
    cr_assert_eq(attn_lines_read(p, 0, &v, &n), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(n, 2);
    cr_expect_eq(strlen(v[0]), big);
    cr_expect_eq(memcmp(v[0], data, big), 0);
    cr_expect_str_eq(v[1], "end");
    attn_lines_free(v, n);
    size_t old = attn_data_set_max_bytes(100000);
    cr_expect_eq(attn_lines_read(p, 0, &v, &n), ATTN_E_FORMAT);
    cr_expect(strstr(attn_last_error(), "big.gz:1: line longer than 100000 bytes"), "%s",
              attn_last_error());
    attn_data_set_max_bytes(old);
    free(data);
}

Test(lines, nul_and_invalid_utf8, .init = make_dir, .fini = remove_dir)
{
    const char *nul = put("nul.txt", "ok\nab\0c\n", 8);
    char **v = (char **)1;
    int64_t n = 7;
    cr_expect_eq(attn_lines_read(nul, 0, &v, &n), ATTN_E_FORMAT);
    cr_expect_null(v);
    cr_expect_eq(n, 0);
    cr_expect(strstr(attn_last_error(), "nul.txt:2: NUL byte at byte 3 of the line"), "%s",
              attn_last_error());
    cr_expect_eq(attn_lines_read(nul, ATTN_LINES_REPLACE_INVALID, &v, &n), ATTN_E_FORMAT,
                 "NUL is refused even when invalid UTF-8 is replaced");

    const char *bad = puts_("bad.txt", "gut\nschl\xC3x \xFF\n\xE2\x82\xAC ok\n");
    cr_expect_eq(attn_lines_read(bad, 0, &v, &n), ATTN_E_FORMAT);
    cr_expect(strstr(attn_last_error(), "bad.txt:2: invalid UTF-8 at byte 5 of the line (0xC3)"),
              "%s", attn_last_error());
    cr_assert_eq(attn_lines_read(bad, ATTN_LINES_REPLACE_INVALID, &v, &n), ATTN_OK);
    cr_assert_eq(n, 3);
    cr_expect_str_eq(v[1], "schl\xEF\xBF\xBDx \xEF\xBF\xBD");
    cr_expect_str_eq(v[2], "\xE2\x82\xAC ok", "valid multi-byte text is kept as it is");
    attn_lines_free(v, n);

    attn_line_reader *r = (attn_line_reader *)1;
    cr_expect_eq(attn_line_reader_open(nul, 2, &r), ATTN_E_ARG);
    cr_expect_eq(attn_line_reader_open("/nonexistent/x", 0, &r), ATTN_E_IO);
    cr_expect_null(r);
    cr_expect(strstr(attn_last_error(), "cannot open /nonexistent/x"), "%s", attn_last_error());

    /* the whole-file loaders refuse NUL the same way */
    attn_parallel *p = NULL;
    cr_expect_eq(attn_lines_load(nul, &p), ATTN_E_FORMAT);
    cr_expect(strstr(attn_last_error(), "nul.txt:2: NUL byte at byte 3"), "%s", attn_last_error());
}

static void tok(attn_bleu_tokenize t, const char *in, const char *want)
{
    attn_bleu_options o = {.tokenize = t};
    char out[512];
    size_t len;
    cr_assert_eq(attn_bleu_tokenize_line(in, &o, out, sizeof out, &len), ATTN_OK, "%s",
                 attn_last_error());
    cr_expect_str_eq(out, want, "tokenizer %d on \"%s\"", (int)t, in);
}

Test(lines, bleu_intl_and_char_tokenizers)
{
    /* punctuation split unless it touches a number on the relevant side; symbols always */
    tok(ATTN_BLEU_TOKENIZE_INTL, "Hello, world! 1,000.50 $5 \xE2\x82\xAC",
        "Hello , world ! 1,000.50 $ 5 \xE2\x82\xAC");
    /* mteval-v14's documented quirk: no padding, so a number keeps a final dot ... */
    tok(ATTN_BLEU_TOKENIZE_INTL, "Year 1990.", "Year 1990.");
    /* ... which 13a (padded) splits */
    tok(ATTN_BLEU_TOKENIZE_13A, "Year 1990.", "Year 1990 .");
    /* Unicode punctuation (Pi/Pf guillemets) and symbols (So) that 13a leaves alone */
    tok(ATTN_BLEU_TOKENIZE_INTL, "\xC2\xAB" "Bonjour\xC2\xBB \xE2\x98\x83!",
        "\xC2\xAB Bonjour \xC2\xBB \xE2\x98\x83 !");
    tok(ATTN_BLEU_TOKENIZE_13A, "\xC2\xAB" "Bonjour\xC2\xBB", "\xC2\xAB" "Bonjour\xC2\xBB");
    tok(ATTN_BLEU_TOKENIZE_CHAR, "ab c", "a b c");
    tok(ATTN_BLEU_TOKENIZE_CHAR, "\xE6\x97\xA5\xE6\x9C\xAC \xE8\xAA\x9E!",
        "\xE6\x97\xA5 \xE6\x9C\xAC \xE8\xAA\x9E !");
    attn_bleu_options o = {.tokenize = (attn_bleu_tokenize)9};
    size_t len;
    cr_expect_eq(attn_bleu_tokenize_line("x", &o, NULL, 0, &len), ATTN_E_ARG);
}
