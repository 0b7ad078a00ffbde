/* bleu_tok.c — what BLEU sees of a segment: optional lowercasing, then the mteval-v13a
 * tokeniser as sacreBLEU applies it (or a plain whitespace split), joined by single spaces.
 *
 * 13a, in order (each step one left-to-right pass over the whole line, matches never
 * overlapping, as Python's str.replace and re.sub do):
 *   1. drop "<skipped>", drop "-\n", turn "\n" into a space;
 *   2. "&quot;" → '"', "&amp;" → '&', "&lt;" → '<', "&gt;" → '>' (four passes, in that order);
 *   3. pad the line with a space on each side;
 *   4. put spaces around each of  { | } ~ [ \ ] ^ _ ` space ! " # $ % & ( ) * + : ; < = > ? @ /
 *   5. period or comma after a non-digit: "X." → "X . "
 *   6. period or comma before a non-digit: ".X" → " . X"
 *   7. dash after a digit: "9-" → "9 - "
 *   8. split on whitespace (Unicode, as str.split()) and join with single spaces.
 * Steps 5–7 work on bytes: the characters they test are ASCII, and a multi-byte character on
 * the other side of a match is copied whole either way, so the result equals the code point
 * version. */
#include "bleu_internal.h"

#include <string.h>

#include "cp_ranges.h"


#define CLASS_HAS(cls, cp) attn_cp_in(unicode_##cls, sizeof unicode_##cls / sizeof unicode_##cls[0], cp)

static int replace_all(const char *s, size_t n, const char *from, const char *to, attn_buf *out)
{
    size_t fl = strlen(from), tl = strlen(to);
    out->len = 0;
    ATTN_TRY(attn_buf_reserve(out, n));
    size_t i = 0;
    while (i < n) {
        if (i + fl <= n && memcmp(s + i, from, fl) == 0) {
            ATTN_TRY(attn_buf_put(out, to, tl));
            i += fl;
        } else {
            ATTN_TRY(attn_buf_put(out, s + i, 1));
            i++;
        }
    }
    return ATTN_OK;
}

static int is_split_punct(unsigned char c)
{
    return (c >= '{' && c <= '~') || (c >= '[' && c <= '`') || (c >= ' ' && c <= '&') ||
           (c >= '(' && c <= '+') || (c >= ':' && c <= '@') || c == '/';
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static int is_dot_comma(unsigned char c) { return c == '.' || c == ','; }

/* Steps 4–7 on a (already padded) line. */
static int regex_rules(const attn_buf *in, attn_buf *a, attn_buf *b)
{
    const unsigned char *s = (const unsigned char *)in->data;
    size_t n = in->len;
    a->len = 0;
    ATTN_TRY(attn_buf_reserve(a, 3 * n));
    for (size_t i = 0; i < n; i++) {
        char c = (char)s[i];
        if (is_split_punct(s[i])) {
            char t[3] = {' ', c, ' '};
            ATTN_TRY(attn_buf_put(a, t, 3));
        } else {
            ATTN_TRY(attn_buf_put(a, &c, 1));
        }
    }
    /* rule 5: ([^0-9])([.,]) → "\1 \2 " */
    s = (const unsigned char *)a->data, n = a->len;
    b->len = 0;
    ATTN_TRY(attn_buf_reserve(b, 2 * n));
    for (size_t i = 0; i < n;) {
        if (i + 1 < n && !is_digit(s[i]) && is_dot_comma(s[i + 1])) {
            char t[4] = {(char)s[i], ' ', (char)s[i + 1], ' '};
            ATTN_TRY(attn_buf_put(b, t, 4));
            i += 2;
        } else {
            ATTN_TRY(attn_buf_put(b, (const char *)s + i, 1));
            i++;
        }
    }
    /* rule 6: ([.,])([^0-9]) → " \1 \2" */
    s = (const unsigned char *)b->data, n = b->len;
    a->len = 0;
    ATTN_TRY(attn_buf_reserve(a, 2 * n));
    for (size_t i = 0; i < n;) {
        if (i + 1 < n && is_dot_comma(s[i]) && !is_digit(s[i + 1])) {
            char t[4] = {' ', (char)s[i], ' ', (char)s[i + 1]};
            ATTN_TRY(attn_buf_put(a, t, 4));
            i += 2;
        } else {
            ATTN_TRY(attn_buf_put(a, (const char *)s + i, 1));
            i++;
        }
    }
    /* rule 7: ([0-9])(-) → "\1 \2 " */
    s = (const unsigned char *)a->data, n = a->len;
    b->len = 0;
    ATTN_TRY(attn_buf_reserve(b, 2 * n));
    for (size_t i = 0; i < n;) {
        if (i + 1 < n && is_digit(s[i]) && s[i + 1] == '-') {
            char t[4] = {(char)s[i], ' ', '-', ' '};
            ATTN_TRY(attn_buf_put(b, t, 4));
            i += 2;
        } else {
            ATTN_TRY(attn_buf_put(b, (const char *)s + i, 1));
            i++;
        }
    }
    return ATTN_OK;
}

/* Step 8: words separated by Unicode whitespace, joined by single spaces, into out. */
static int join_words(const char *s, size_t n, attn_buf *out)
{
    const unsigned char *u = (const unsigned char *)s;
    out->len = 0;
    ATTN_TRY(attn_buf_reserve(out, n));
    int pending_space = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int k = attn_utf8_decode(u + i, n - i, &cp);
        if (k == 0) return attn_fail(ATTN_E_FORMAT, "invalid UTF-8 at byte %zu", i);
        if (attn_unicode_is_space(cp)) {
            pending_space = out->len > 0;
        } else {
            if (pending_space) ATTN_TRY(attn_buf_put(out, " ", 1));
            pending_space = 0;
            ATTN_TRY(attn_buf_put(out, s + i, (size_t)k));
        }
        i += (size_t)k;
    }
    if (out->data) out->data[out->len] = '\0';
    return ATTN_OK;
}

/* The code points of s[0..n) (valid UTF-8) into cps; their byte offsets into offs (n + 1). */
static int decode_all(const char *s, size_t n, attn_buf *cps)
{
    cps->len = 0;
    ATTN_TRY(attn_buf_reserve(cps, (n + 1) * sizeof(uint32_t)));
    uint32_t *c = (uint32_t *)(void *)cps->data;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        int len = attn_utf8_decode((const unsigned char *)s + i, n - i, &c[k]);
        if (len == 0) return attn_fail(ATTN_E_FORMAT, "invalid UTF-8 at byte %zu", i);
        i += (size_t)len, k++;
    }
    cps->len = k;
    return ATTN_OK;
}

static int put_cp(attn_buf *b, uint32_t cp)
{
    char t[4];
    return attn_buf_put(b, t, (size_t)attn_utf8_encode(cp, t));
}

/* sacreBLEU's intl (mteval-v14 international) tokeniser, three left-to-right passes with
 * non-overlapping matches, as regex.sub does:
 *   (\P{N})(\p{P}) → "\1 \2 "   a punctuation mark after a non-number
 *   (\p{P})(\P{N}) → " \1 \2"   a punctuation mark before a non-number
 *   (\p{S})        → " \1 "      every symbol
 * then the whitespace split. No padding (so "1990." keeps its dot, as mteval-v14 does). */
static int intl_rules(const char *s, size_t n, attn_bleu_scratch *w)
{
    attn_buf *cps = &w->t[1], *a = &w->t[2];
    ATTN_TRY(decode_all(s, n, cps));
    const uint32_t *c = (const uint32_t *)(const void *)cps->data;
    size_t m = cps->len;
    /* pass 1 into a (code points as UTF-8), then decode again for pass 2, and so on */
    for (int pass = 0; pass < 3; pass++) {
        a->len = 0;
        ATTN_TRY(attn_buf_reserve(a, 3 * n + 8));
        for (size_t i = 0; i < m;) {
            int num0 = CLASS_HAS(number, c[i]), p0 = CLASS_HAS(punct, c[i]);
            if (pass == 0 && i + 1 < m && !num0 && CLASS_HAS(punct, c[i + 1])) {
                ATTN_TRY(put_cp(a, c[i]));
                ATTN_TRY(attn_buf_put(a, " ", 1));
                ATTN_TRY(put_cp(a, c[i + 1]));
                ATTN_TRY(attn_buf_put(a, " ", 1));
                i += 2;
            } else if (pass == 1 && i + 1 < m && p0 && !CLASS_HAS(number, c[i + 1])) {
                ATTN_TRY(attn_buf_put(a, " ", 1));
                ATTN_TRY(put_cp(a, c[i]));
                ATTN_TRY(attn_buf_put(a, " ", 1));
                ATTN_TRY(put_cp(a, c[i + 1]));
                i += 2;
            } else if (pass == 2 && CLASS_HAS(symbol, c[i])) {
                ATTN_TRY(attn_buf_put(a, " ", 1));
                ATTN_TRY(put_cp(a, c[i]));
                ATTN_TRY(attn_buf_put(a, " ", 1));
                i++;
            } else {
                ATTN_TRY(put_cp(a, c[i]));
                i++;
            }
        }
        if (pass < 2) {
            ATTN_TRY(decode_all(a->data, a->len, cps));
            c = (const uint32_t *)(const void *)cps->data, m = cps->len;
        }
    }
    return join_words(a->data, a->len, &w->out);
}

/* sacreBLEU's char tokeniser: every character a token (whitespace only separates). */
static int char_rules(const char *s, size_t n, attn_bleu_scratch *w)
{
    attn_buf *a = &w->t[2];
    a->len = 0;
    ATTN_TRY(attn_buf_reserve(a, 2 * n + 1));
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int k = attn_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (k == 0) return attn_fail(ATTN_E_FORMAT, "invalid UTF-8 at byte %zu", i);
        ATTN_TRY(attn_buf_put(a, s + i, (size_t)k));
        ATTN_TRY(attn_buf_put(a, " ", 1));
        i += (size_t)k;
    }
    return join_words(a->data, a->len, &w->out);
}

int attn_bleu_prepare(const char *text, const attn_bleu_options *opt, attn_bleu_scratch *w)
{
    size_t n = strlen(text);
    const char *s = text;
    if (opt->lowercase) {
        ATTN_TRY(attn_utf8_lower(text, n, &w->t[0]));
        s = w->t[0].data, n = w->t[0].len;
    }
    if (opt->tokenize == ATTN_BLEU_TOKENIZE_NONE) return join_words(s, n, &w->out);
    if (opt->tokenize == ATTN_BLEU_TOKENIZE_INTL) return intl_rules(s, n, w);
    if (opt->tokenize == ATTN_BLEU_TOKENIZE_CHAR) return char_rules(s, n, w);

    ATTN_TRY(replace_all(s, n, "<skipped>", "", &w->t[1]));
    ATTN_TRY(replace_all(w->t[1].data, w->t[1].len, "-\n", "", &w->t[2]));
    ATTN_TRY(replace_all(w->t[2].data, w->t[2].len, "\n", " ", &w->t[1]));
    attn_buf *cur = &w->t[1], *other = &w->t[2];
    if (memchr(cur->data, '&', cur->len)) {
        static const char *const ent[4][2] = {
            {"&quot;", "\""}, {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}};
        for (int k = 0; k < 4; k++) {
            ATTN_TRY(replace_all(cur->data, cur->len, ent[k][0], ent[k][1], other));
            attn_buf *t = cur;
            cur = other, other = t;
        }
    }
    /* pad: " line " */
    attn_buf *pad = &w->t[0]; /* cur and other are t[1] and t[2] */
    pad->len = 0;
    ATTN_TRY(attn_buf_put(pad, " ", 1));
    ATTN_TRY(attn_buf_put(pad, cur->data, cur->len));
    ATTN_TRY(attn_buf_put(pad, " ", 1));
    ATTN_TRY(regex_rules(pad, cur, other));
    return join_words(other->data, other->len, &w->out);
}

void attn_bleu_scratch_release(attn_bleu_scratch *w)
{
    for (int i = 0; i < 3; i++) attn_buf_release(&w->t[i]);
    attn_buf_release(&w->out);
}

int attn_bleu_tokenize_line(const char *text, const attn_bleu_options *opt, char *out,
                            size_t out_cap, size_t *out_len)
{
    static const char fn[] = "attn_bleu_tokenize_line";
    ATTN_REQUIRE_NONNULL(fn, text);
    ATTN_REQUIRE_NONNULL(fn, out_len);
    attn_bleu_options o = {0};
    if (opt) o = *opt;
    if ((unsigned)o.tokenize > ATTN_BLEU_TOKENIZE_CHAR)
        return attn_fail(ATTN_E_ARG, "%s: unknown tokenizer %d", fn, (int)o.tokenize);
    size_t bad;
    if (attn_utf8_validate(text, strlen(text), &bad) != ATTN_OK)
        return attn_fail(ATTN_E_FORMAT, "%s: invalid UTF-8 at byte %zu", fn, bad);
    attn_bleu_scratch w = {0};
    int st = attn_bleu_prepare(text, &o, &w);
    if (st == ATTN_OK) {
        *out_len = w.out.len;
        if (out != NULL) {
            if (out_cap < w.out.len + 1)
                st = attn_fail(ATTN_E_ARG, "%s: out_cap=%zu but the result needs %zu bytes",
                               fn, out_cap, w.out.len + 1);
            else {
                if (w.out.len) memcpy(out, w.out.data, w.out.len);
                out[w.out.len] = '\0';
            }
        }
    }
    attn_bleu_scratch_release(&w);
    return st;
}
