/* test_text.c — UTF-8 validation, review cleaning, the IMDb and Multi30k loaders (error paths on
 * small bad files in a temp dir, and the real files when the data folder is found: the
 * ATTN_DATA_DIR environment variable, ../shared/data or ../../shared/data), BLEU/chrF basics. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "attn.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static char tmp_root[256];

static void make_tmp(void)
{
    snprintf(tmp_root, sizeof tmp_root, "/tmp/attn_text_XXXXXX");
    cr_assert_not_null(mkdtemp(tmp_root));
}

static void remove_tmp(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    cr_expect_eq(system(cmd), 0);
}

/* tmp_root/rel, written with `len` bytes of data (gzip when the name ends in .gz). */
static const char *write_file(const char *rel, const char *data, size_t len)
{
    static char path[8][512];
    static int slot;
    char *p = path[slot++ % 8];
    snprintf(p, 512, "%s/%s", tmp_root, rel);
    size_t l = strlen(p);
    if (l > 3 && strcmp(p + l - 3, ".gz") == 0) {
        gzFile g = gzopen(p, "wb");
        cr_assert_not_null(g);
        cr_assert_eq(gzwrite(g, data, (unsigned)len), (int)len);
        gzclose(g);
    } else {
        FILE *f = fopen(p, "wb");
        cr_assert_not_null(f, "cannot write %s", p);
        fwrite(data, 1, len, f);
        fclose(f);
    }
    return p;
}

static const char *write_str(const char *rel, const char *text)
{
    return write_file(rel, text, strlen(text));
}

static void mkdir_tmp(const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", tmp_root, rel);
    cr_assert_eq(mkdir(p, 0700), 0);
}

/* The data folder, or NULL. */
static const char *data_dir(void)
{
    const char *env = getenv("ATTN_DATA_DIR");
    const char *dirs[] = {env, "../shared/data", "../../shared/data"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (!dirs[i]) continue;
        char p[512];
        snprintf(p, sizeof p, "%s/multi30k/val.en", dirs[i]);
        if (access(p, R_OK) == 0) return dirs[i];
    }
    return NULL;
}

static char *clean(const char *in, int br_newline)
{
    static char out[1024];
    attn_text_clean_options o = {.br_newline = br_newline};
    size_t n;
    int st = attn_text_clean(in, strlen(in), &o, out, sizeof out, &n);
    cr_assert_eq(st, ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(strlen(out), n);
    return out;
}

/* ---- UTF-8 -------------------------------------------------------------------------------- */

Test(text, utf8_valid)
{
    const char *ok[] = {"", "plain ASCII", "Grüße, Straße", "€ 5", "𝄞 clef", "\xF4\x8F\xBF\xBF",
                        "\xEF\xBF\xBF", "\xC2\x80", "\xED\x9F\xBF"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t off = 99;
        cr_expect_eq(attn_utf8_validate(ok[i], strlen(ok[i]), &off), ATTN_OK, "case %zu", i);
        cr_expect_eq(off, strlen(ok[i]));
    }
}

Test(text, utf8_invalid_reports_offset)
{
    struct {
        const char *s;
        size_t off;
    } bad[] = {
        {"ab\x80", 2},              /* stray continuation byte */
        {"x\xC0\xAF", 1},           /* overlong '/' */
        {"xy\xE0\x80\xAF", 2},      /* overlong 3-byte */
        {"\xED\xA0\x80", 0},        /* surrogate U+D800 */
        {"abc\xF4\x90\x80\x80", 3}, /* above U+10FFFF */
        {"ok \xE2\x82", 3},         /* truncated at the end */
        {"\xE2\x28\xA1", 0},        /* bad continuation */
        {"é\xFF", 2},               /* byte never valid */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t off = 99;
        int st = attn_utf8_validate(bad[i].s, strlen(bad[i].s), &off);
        cr_expect_eq(st, ATTN_E_FORMAT, "case %zu", i);
        cr_expect_eq(off, bad[i].off, "case %zu: offset %zu, expected %zu", i, off, bad[i].off);
        char want[64];
        snprintf(want, sizeof want, "at byte %zu", bad[i].off);
        cr_expect(strstr(attn_last_error(), want), "case %zu: %s", i, attn_last_error());
    }
    cr_expect_eq(attn_utf8_validate(NULL, 3, NULL), ATTN_E_ARG);
    cr_expect_eq(attn_utf8_validate(NULL, 0, NULL), ATTN_OK);
}

/* ---- cleaning ----------------------------------------------------------------------------- */

Test(text, clean_line_breaks)
{
    cr_expect_str_eq(clean("Great film.<br /><br />Really.", 0), "Great film. Really.");
    cr_expect_str_eq(clean("a<br/>b<br>c<BR />d<br   />e", 0), "a b c d e");
    cr_expect_str_eq(clean("Great film.<br /><br />Really.", 1), "Great film.\nReally.");
    cr_expect_str_eq(clean("<br />starts and ends<br />", 0), "starts and ends");
    cr_expect_str_eq(clean("not a tag: <b>bold</b> <brx>", 0), "not a tag: <b>bold</b> <brx>");
}

Test(text, clean_entities)
{
    cr_expect_str_eq(clean("Tom &amp; Jerry &lt;3 &gt; &quot;q&quot; it&#39;s", 0),
                     "Tom & Jerry <3 > \"q\" it's");
    cr_expect_str_eq(clean("&#233;t&#xE9; &#X41;&#x1F600;", 0), "été A😀");
    cr_expect_str_eq(clean("&apos;x&apos; a&nbsp;b", 0), "'x' a b");
    /* Not decoded: unknown names, no semicolon, NUL, surrogates, out of range. */
    cr_expect_str_eq(clean("&bogus; &amp &#65 &#0; &#xD800; &#x110000; & ;", 0),
                     "&bogus; &amp &#65 &#0; &#xD800; &#x110000; & ;");
    /* One pass: an encoded entity stays one level encoded. */
    cr_expect_str_eq(clean("&amp;quot;", 0), "&quot;");
    attn_text_clean_options keep = {.keep_entities = 1};
    char out[64];
    size_t n;
    cr_assert_eq(attn_text_clean("a &amp; b", 9, &keep, out, sizeof out, &n), ATTN_OK);
    cr_expect_str_eq(out, "a &amp; b");
}

Test(text, clean_whitespace_and_case)
{
    cr_expect_str_eq(clean("  lots \t of\r\n  space  ", 0), "lots of space");
    cr_expect_str_eq(clean("line one\n\n line two", 1), "line one\nline two");
    cr_expect_str_eq(clean("Case, PUNCTUATION!? stays.", 0), "Case, PUNCTUATION!? stays.");
    cr_expect_str_eq(clean("a\xC2\x85 b", 0), "a\xC2\x85 b"); /* U+0085 kept */
    cr_expect_str_eq(clean("", 0), "");
    cr_expect_str_eq(clean("   ", 0), "");
    attn_text_clean_options keep = {.keep_spaces = 1};
    char out[64];
    size_t n;
    cr_assert_eq(attn_text_clean(" a  b ", 6, &keep, out, sizeof out, &n), ATTN_OK);
    cr_expect_str_eq(out, " a  b ");
}

Test(text, clean_in_place_and_buffer_size)
{
    char buf[] = "x&lt;y<br />z";
    size_t n;
    cr_assert_eq(attn_text_clean(buf, strlen(buf), NULL, buf, sizeof buf, &n), ATTN_OK);
    cr_expect_str_eq(buf, "x<y z");
    char small[4] = "abc";
    cr_expect_eq(attn_text_clean("hello", 5, NULL, small, sizeof small, &n), ATTN_E_ARG);
    cr_expect_eq(n, 5);
    cr_expect_str_eq(small, "abc", "a failed call leaves out untouched");
    cr_expect_eq(attn_text_clean("hello", 5, NULL, NULL, 10, &n), ATTN_E_ARG);
}

/* ---- IMDb loader -------------------------------------------------------------------------- */

static void expect_load_error(const char *tsv, const char *ids, int status, const char *a,
                              const char *b)
{
    attn_imdb *d = (attn_imdb *)1;
    int st = attn_imdb_load(tsv, ids, &d);
    cr_expect_eq(st, status, "status %d, message: %s", st, attn_last_error());
    cr_expect_null(d);
    cr_expect(strstr(attn_last_error(), a), "'%s' not in: %s", a, attn_last_error());
    if (b) cr_expect(strstr(attn_last_error(), b), "'%s' not in: %s", b, attn_last_error());
}

Test(text, imdb_tsv_and_ids, .init = make_tmp, .fini = remove_tmp)
{
    const char *tsv = write_str("small.tsv.gz", "0\tBad.<br />Really bad.\n1\tGood &amp; fun\n"
                                                "0\t \n1\tTabs\tinside stay\n");
    const char *ids = write_str("small.ids", "neg/0_3\ttt001\npos/0_10\ttt001\nneg/1_1\ttt002\n"
                                             "pos/1_8\ttt003\n");
    attn_imdb *d = NULL;
    cr_assert_eq(attn_imdb_load(tsv, ids, &d), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(d->n, 4);
    cr_expect_str_eq(d->text[0], "Bad.<br />Really bad.");
    cr_expect_str_eq(d->text[1], "Good &amp; fun");
    cr_expect_str_eq(d->text[2], " ");
    cr_expect_str_eq(d->text[3], "Tabs\tinside stay");
    int8_t labels[] = {0, 1, 0, 1}, ratings[] = {3, 10, 1, 8};
    const char *movies[] = {"tt001", "tt001", "tt002", "tt003"};
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(d->label[i], labels[i]);
        cr_expect_eq(d->rating[i], ratings[i]);
        cr_expect_str_eq(d->movie[i], movies[i]);
    }
    cr_expect_str_eq(d->name[1], "pos/0_10");
    attn_imdb_free(d);

    /* Without ids, plain (not gzip) file, no final newline. */
    tsv = write_str("plain.tsv", "1\tonly line");
    cr_assert_eq(attn_imdb_load(tsv, NULL, &d), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(d->n, 1);
    cr_expect_str_eq(d->text[0], "only line");
    cr_expect_str_eq(d->movie[0], "");
    cr_expect_eq(d->rating[0], 0);
    attn_imdb_free(d);
    attn_imdb_free(NULL);
}

Test(text, imdb_errors_name_file_and_line, .init = make_tmp, .fini = remove_tmp)
{
    char missing[512];
    snprintf(missing, sizeof missing, "%s/missing.tsv.gz", tmp_root);
    expect_load_error(missing, NULL, ATTN_E_IO, "missing.tsv.gz", "No such file");
    expect_load_error(write_str("notab.tsv", "0\tok\n1 no tab here\n"), NULL, ATTN_E_FORMAT,
                      "notab.tsv:2:", "no TAB");
    expect_load_error(write_str("label.tsv.gz", "0\ta\n1\tb\n2\tc\n"), NULL, ATTN_E_FORMAT,
                      "label.tsv.gz:3:", "label \"2\" is not 0 or 1");
    expect_load_error(write_str("label2.tsv", "pos\ta\n"), NULL, ATTN_E_FORMAT, "label2.tsv:1:",
                      "\"pos\"");
    expect_load_error(write_str("blank.tsv", "0\ta\n\n1\tb\n"), NULL, ATTN_E_FORMAT, "blank.tsv:2:",
                      "no TAB");
    expect_load_error(write_str("utf8.tsv.gz", "0\tfine\n1\tfine\n0\tbad \xC3\x28 byte\n"), NULL,
                      ATTN_E_FORMAT, "utf8.tsv.gz:3:", "invalid UTF-8 at byte 7");
    const char *tsv = write_str("two.tsv", "0\ta\n1\tb\n");
    expect_load_error(tsv, write_str("short.ids", "neg/0_1\ttt1\n"), ATTN_E_FORMAT, "short.ids",
                      "has 1 lines but the reviews file has 2");
    expect_load_error(tsv, write_str("swap.ids", "neg/0_1\ttt1\nneg/1_2\ttt1\n"), ATTN_E_FORMAT,
                      "swap.ids:2:", "label is 1");
    expect_load_error(tsv, write_str("bad.ids", "neg/0_1\ttt1\npos/x_2\ttt1\n"), ATTN_E_FORMAT,
                      "bad.ids:2:", "expected");
    /* A truncated gzip stream is an error, not a short file. */
    char gzpath[512];
    snprintf(gzpath, sizeof gzpath, "%s/trunc.tsv.gz", tmp_root);
    gzFile g = gzopen(gzpath, "wb");
    for (int i = 0; i < 2000; i++) gzprintf(g, "%d\treview number %d with some words\n", i % 2, i);
    gzclose(g);
    FILE *f = fopen(gzpath, "rb+");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    cr_assert_eq(truncate(gzpath, size / 2), 0);
    expect_load_error(gzpath, NULL, ATTN_E_FORMAT, "trunc.tsv.gz", "truncated");
    attn_imdb *d;
    cr_expect_eq(attn_imdb_load(NULL, NULL, &d), ATTN_E_ARG);
    cr_expect_eq(attn_imdb_load(tsv, NULL, NULL), ATTN_E_ARG);
}

Test(text, imdb_folder_layout, .init = make_tmp, .fini = remove_tmp)
{
    mkdir_tmp("train");
    mkdir_tmp("train/pos");
    mkdir_tmp("train/neg");
    write_str("train/neg/1_2.txt", "Dull.<br />Skip it.");
    write_str("train/neg/0_4.txt", "Meh.");
    write_str("train/pos/0_9.txt", "Loved it.");
    write_str("train/pos/1_7.txt", "Nice\tenough.");
    write_str("train/pos/README", "ignored: not .txt");
    write_str("train/urls_neg.txt", "http://www.imdb.com/title/tt0000010/usercomments\n"
                                    "http://www.imdb.com/title/tt0000011/usercomments\n");
    write_str("train/urls_pos.txt", "http://www.imdb.com/title/tt0000010/usercomments\n"
                                    "http://www.imdb.com/title/tt0000099/usercomments\n");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/train", tmp_root);
    attn_imdb *d = NULL;
    cr_assert_eq(attn_imdb_load_dir(dir, &d), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(d->n, 4);
    const char *names[] = {"neg/0_4", "pos/0_9", "neg/1_2", "pos/1_7"};
    const char *texts[] = {"Meh.", "Loved it.", "Dull.<br />Skip it.", "Nice\tenough."};
    const char *movies[] = {"tt0000010", "tt0000010", "tt0000011", "tt0000099"};
    int8_t labels[] = {0, 1, 0, 1}, ratings[] = {4, 9, 2, 7};
    for (int i = 0; i < 4; i++) {
        cr_expect_str_eq(d->name[i], names[i]);
        cr_expect_str_eq(d->text[i], texts[i]);
        cr_expect_str_eq(d->movie[i], movies[i]);
        cr_expect_eq(d->label[i], labels[i]);
        cr_expect_eq(d->rating[i], ratings[i]);
    }
    attn_imdb_free(d);

    /* Without url files: no movie ids. A bad name or bad UTF-8 names the file. */
    snprintf(dir, sizeof dir, "%s/train/urls_neg.txt", tmp_root);
    unlink(dir);
    snprintf(dir, sizeof dir, "%s/train/urls_pos.txt", tmp_root);
    unlink(dir);
    snprintf(dir, sizeof dir, "%s/train", tmp_root);
    cr_assert_eq(attn_imdb_load_dir(dir, &d), ATTN_OK, "%s", attn_last_error());
    cr_expect_str_eq(d->movie[0], "");
    attn_imdb_free(d);
    write_str("train/pos/2_8.txt", "bad \xFF here");
    cr_expect_eq(attn_imdb_load_dir(dir, &d), ATTN_E_FORMAT);
    cr_expect(strstr(attn_last_error(), "pos/2_8.txt:1:"), "%s", attn_last_error());
    write_str("train/pos/2_8.txt", "fine");
    write_str("train/neg/oops.txt", "x");
    cr_expect_eq(attn_imdb_load_dir(dir, &d), ATTN_E_FORMAT);
    cr_expect(strstr(attn_last_error(), "oops.txt"), "%s", attn_last_error());
    snprintf(dir, sizeof dir, "%s/nothing", tmp_root);
    cr_expect_eq(attn_imdb_load_dir(dir, &d), ATTN_E_IO);
    cr_expect(strstr(attn_last_error(), "nothing/neg"), "%s", attn_last_error());
}

Test(text, imdb_split_by_movie, .init = make_tmp, .fini = remove_tmp)
{
    /* 200 movies × 3 reviews each. */
    char *buf = malloc(600 * 16), *ids = malloc(600 * 40);
    size_t a = 0, b = 0;
    for (int i = 0; i < 600; i++) {
        a += (size_t)sprintf(buf + a, "%d\tr%d\n", i % 2, i);
        b += (size_t)sprintf(ids + b, "%s/%d_%d\ttt%07d\n", i % 2 ? "pos" : "neg", i / 2,
                             i % 2 ? 8 : 2, i % 200);
    }
    attn_imdb *d;
    cr_assert_eq(attn_imdb_load(write_file("s.tsv", buf, a), write_file("s.ids", ids, b), &d),
                 ATTN_OK, "%s", attn_last_error());
    free(buf), free(ids);
    uint8_t v1[600], v2[600], v3[600];
    int64_t n1, n2, n3;
    cr_assert_eq(attn_imdb_split_by_movie(d, 0.25, 7, v1, &n1), ATTN_OK);
    cr_assert_eq(attn_imdb_split_by_movie(d, 0.25, 7, v2, &n2), ATTN_OK);
    cr_assert_eq(attn_imdb_split_by_movie(d, 0.25, 8, v3, &n3), ATTN_OK);
    cr_expect(memcmp(v1, v2, 600) == 0 && n1 == n2, "same seed, same split");
    cr_expect(memcmp(v1, v3, 600) != 0, "another seed, another split");
    for (int i = 0; i < 600; i++) cr_expect_eq(v1[i], v1[i % 200], "a movie stays on one side");
    cr_expect_eq(n1 % 3, 0);
    cr_expect(n1 > 600 * 0.25 - 60 && n1 < 600 * 0.25 + 60, "n_val=%lld", (long long)n1);
    cr_assert_eq(attn_imdb_split_by_movie(d, 0.0, 7, v1, &n1), ATTN_OK);
    cr_expect_eq(n1, 0);
    cr_assert_eq(attn_imdb_split_by_movie(d, 1.0, 7, v1, &n1), ATTN_OK);
    cr_expect_eq(n1, 600);
    cr_expect_eq(attn_imdb_split_by_movie(d, 1.5, 7, v1, &n1), ATTN_E_ARG);
    cr_expect_eq(attn_imdb_split_by_movie(d, NAN, 7, v1, &n1), ATTN_E_ARG);
    attn_imdb_free(d);
}

/* ---- parallel text ------------------------------------------------------------------------ */

Test(text, parallel_load_and_errors, .init = make_tmp, .fini = remove_tmp)
{
    const char *en = write_str("x.en", "A dog runs.\r\nTwo men.\nLast line, no newline");
    const char *de = write_str("x.de.gz", "Ein Hund läuft.\nZwei Männer.\nLetzte\tZeile\n");
    attn_parallel *p = NULL;
    cr_assert_eq(attn_parallel_load(en, de, &p), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(p->n, 3);
    cr_expect_str_eq(p->src[0], "A dog runs.");
    cr_expect_str_eq(p->src[2], "Last line, no newline");
    cr_expect_str_eq(p->tgt[1], "Zwei Männer.");
    cr_expect_str_eq(p->tgt[2], "Letzte\tZeile");
    attn_parallel_free(p);
    attn_parallel_free(NULL);

    const char *shortde = write_str("short.de", "Eins.\nZwei.\n");
    p = (attn_parallel *)1;
    cr_expect_eq(attn_parallel_load(en, shortde, &p), ATTN_E_FORMAT);
    cr_expect_null(p);
    cr_expect(strstr(attn_last_error(), "x.en has 3 lines but") &&
                  strstr(attn_last_error(), "short.de has 2"),
              "%s", attn_last_error());
    const char *bad = write_str("bad.de", "gut\nschlecht \xC3\n\xE2\x82\xAC\n");
    cr_expect_eq(attn_parallel_load(en, bad, &p), ATTN_E_FORMAT);
    cr_expect(strstr(attn_last_error(), "bad.de:2:"), "%s", attn_last_error());
    char missing[512];
    snprintf(missing, sizeof missing, "%s/none.de", tmp_root);
    cr_expect_eq(attn_parallel_load(en, missing, &p), ATTN_E_IO);
    cr_expect(strstr(attn_last_error(), "none.de"), "%s", attn_last_error());
    cr_expect_eq(attn_parallel_load(en, NULL, &p), ATTN_E_ARG);

    const char *empty = write_str("empty.txt", "");
    cr_assert_eq(attn_lines_load(empty, &p), ATTN_OK);
    cr_expect_eq(p->n, 0);
    cr_expect_null(p->tgt);
    attn_parallel_free(p);
    cr_assert_eq(attn_lines_load(write_str("blank.txt", "\n\nx\n"), &p), ATTN_OK);
    cr_expect_eq(p->n, 3);
    cr_expect_str_eq(p->src[0], "");
    cr_expect_str_eq(p->src[2], "x");
    attn_parallel_free(p);
}

/* ---- the real data, when present ---------------------------------------------------------- */

Test(text, real_imdb)
{
    const char *dir = data_dir();
    if (!dir) cr_skip_test("data folder not found (set ATTN_DATA_DIR)");
    char tsv[512], ids[512];
    const struct {
        const char *split;
        int64_t n, pos;
    } sets[] = {{"train", 25000, 12500}, {"test", 12505, 6254}};
    for (int s = 0; s < 2; s++) {
        snprintf(tsv, sizeof tsv, "%s/imdb/%s.tsv.gz", dir, sets[s].split);
        snprintf(ids, sizeof ids, "%s/imdb/%s.ids", dir, sets[s].split);
        attn_imdb *d = NULL;
        cr_assert_eq(attn_imdb_load(tsv, ids, &d), ATTN_OK, "%s", attn_last_error());
        cr_expect_eq(d->n, sets[s].n);
        int64_t pos = 0, with_movie = 0, br = 0;
        for (int64_t i = 0; i < d->n; i++) {
            pos += d->label[i];
            with_movie += strncmp(d->movie[i], "tt", 2) == 0;
            br += strstr(d->text[i], "<br />") != NULL;
            cr_expect(d->label[i] ? d->rating[i] >= 7 : d->rating[i] <= 4);
        }
        cr_expect_eq(pos, sets[s].pos);
        cr_expect_eq(with_movie, d->n);
        cr_expect_gt(br, d->n / 4, "HTML line breaks are kept in the raw text");
        if (s == 0) {
            cr_expect_str_eq(d->name[0], "neg/0_3");
            cr_expect_str_eq(d->name[1], "pos/0_9");
            uint8_t *v = malloc((size_t)d->n);
            int64_t nv;
            cr_assert_eq(attn_imdb_split_by_movie(d, 0.1, 0, v, &nv), ATTN_OK);
            cr_expect(nv > 1000 && nv < 4500, "n_val=%lld", (long long)nv);
            free(v);
        }
        attn_imdb_free(d);
    }
}

Test(text, real_multi30k)
{
    const char *dir = data_dir();
    if (!dir) cr_skip_test("data folder not found (set ATTN_DATA_DIR)");
    const struct {
        const char *split;
        int64_t n;
    } sets[] = {{"train", 29000}, {"val", 1014}, {"test2016", 1000}};
    for (int s = 0; s < 3; s++) {
        char en[512], de[512];
        snprintf(en, sizeof en, "%s/multi30k/%s.en", dir, sets[s].split);
        snprintf(de, sizeof de, "%s/multi30k/%s.de", dir, sets[s].split);
        attn_parallel *p = NULL;
        cr_assert_eq(attn_parallel_load(en, de, &p), ATTN_OK, "%s", attn_last_error());
        cr_expect_eq(p->n, sets[s].n, "%s: %lld pairs", sets[s].split, (long long)p->n);
        if (s == 0) cr_expect(strchr(p->tgt[7365], '\t'), "train.de line 7366 holds a TAB");
        attn_parallel_free(p);
    }
}

/* ---- BLEU / chrF basics (the thorough checks are in tests/py/test_bleu.py) ---------------- */

Test(text, bleu_basics)
{
    const char *hyp[] = {"The quick brown fox jumps over the lazy dog."};
    attn_bleu_result r;
    cr_assert_eq(attn_bleu_corpus(hyp, hyp, 1, 1, NULL, &r), ATTN_OK);
    cr_expect_float_eq(r.score, 100.0, 1e-12);
    cr_expect_eq(r.hyp_len, 10); /* 9 words + the period */
    cr_expect_eq(r.totals[3], 7);
    const char *bad[] = {"ok", "bad \xC3"};
    cr_expect_eq(attn_bleu_corpus(bad, bad, 2, 1, NULL, &r), ATTN_E_FORMAT);
    cr_expect(strstr(attn_last_error(), "hyps[1]"), "%s", attn_last_error());
    const char *null_hyp[] = {NULL};
    cr_expect_eq(attn_bleu_corpus(null_hyp, hyp, 1, 1, NULL, &r), ATTN_E_ARG);
    cr_expect_eq(attn_bleu_corpus(hyp, hyp, 0, 1, NULL, &r), ATTN_E_ARG);
    cr_expect_eq(attn_bleu_corpus(hyp, hyp, 1, 0, NULL, &r), ATTN_E_ARG);
    attn_chrf_result c;
    cr_assert_eq(attn_chrf_corpus(hyp, hyp, 1, 1, NULL, &c), ATTN_OK);
    cr_expect_float_eq(c.score, 100.0, 1e-12);
    attn_chrf_options o = {.char_order = 11};
    cr_expect_eq(attn_chrf_corpus(hyp, hyp, 1, 1, &o, &c), ATTN_E_ARG);
}
