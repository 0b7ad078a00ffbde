/* text.c — cleaning review-style text: HTML line breaks, HTML entities, whitespace. */
#include "../text/text_internal.h"

#include <stdlib.h>
#include <string.h>

/* Length of an HTML line break tag at s (<br>, <br/>, <br />, any case, spaces before the
 * slash), or 0. */
static size_t br_tag_length(const char *s, size_t n)
{
    if (n < 4 || s[0] != '<' || (s[1] != 'b' && s[1] != 'B') || (s[2] != 'r' && s[2] != 'R'))
        return 0;
    size_t i = 3;
    while (i < n && s[i] == ' ') i++;
    if (i < n && s[i] == '/') i++;
    if (i < n && s[i] == '>') return i + 1;
    return 0;
}

/* Decode the entity at s ('&' first). Returns the entity's length and writes its UTF-8 into
 * out (*out_len bytes), or 0 when it is not one we decode. */
static size_t entity_decode(const char *s, size_t n, char *out, int *out_len)
{
    static const struct {
        const char *name;
        const char *text;
    } named[] = {{"&amp;", "&"},   {"&lt;", "<"},   {"&gt;", ">"},
                 {"&quot;", "\""}, {"&apos;", "'"}, {"&nbsp;", " "}};
    for (size_t k = 0; k < sizeof named / sizeof named[0]; k++) {
        size_t m = strlen(named[k].name);
        if (n >= m && memcmp(s, named[k].name, m) == 0) {
            *out_len = 1;
            out[0] = named[k].text[0];
            return m;
        }
    }
    if (n < 4 || s[1] != '#') return 0;
    int hex = (s[2] == 'x' || s[2] == 'X');
    size_t i = hex ? 3 : 2, start = i;
    uint32_t v = 0;
    while (i < n && i - start < 8) {
        char c = s[i];
        int d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (hex && c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (hex && c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else break;
        v = v * (hex ? 16u : 10u) + (uint32_t)d;
        i++;
    }
    if (i == start || i >= n || s[i] != ';') return 0;
    if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *out_len = attn_utf8_encode(v, out);
    return i + 1;
}

static int is_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

int attn_text_clean(const char *in, size_t len, const attn_text_clean_options *opt, char *out,
                    size_t out_cap, size_t *out_len)
{
    static const char fn[] = "attn_text_clean";
    if (in == NULL && len > 0) return attn_fail(ATTN_E_ARG, "%s: in is NULL", fn);
    ATTN_REQUIRE_NONNULL(fn, out);
    ATTN_REQUIRE_NONNULL(fn, out_len);
    attn_text_clean_options o = {0};
    if (opt) o = *opt;
    /* Pass 1 decodes into a scratch copy (the text never grows, so len bytes suffice), pass 2
     * collapses whitespace in place. Working on a copy lets out alias in and leaves out
     * untouched on failure. */
    char *tmp = malloc(len + 1);
    if (!tmp) return attn_fail(ATTN_E_NOMEM, "%s: out of memory (%zu bytes)", fn, len + 1);
    size_t w = 0;
    for (size_t i = 0; i < len;) {
        if (in[i] == '<') {
            size_t m = br_tag_length(in + i, len - i);
            if (m) {
                tmp[w++] = o.br_newline ? '\n' : ' ';
                i += m;
                continue;
            }
        } else if (in[i] == '&' && !o.keep_entities) {
            char enc[4];
            int k = 0;
            size_t m = entity_decode(in + i, len - i, enc, &k);
            if (m) {
                memcpy(tmp + w, enc, (size_t)k);
                w += (size_t)k;
                i += m;
                continue;
            }
        }
        tmp[w++] = in[i++];
    }
    size_t n = w;
    if (!o.keep_spaces) {
        size_t r = 0;
        n = 0;
        while (r < w) {
            if (!is_ascii_space(tmp[r])) {
                tmp[n++] = tmp[r++];
                continue;
            }
            int newline = 0;
            while (r < w && is_ascii_space(tmp[r])) newline |= tmp[r++] == '\n';
            if (n > 0 && r < w) tmp[n++] = (newline && o.br_newline) ? '\n' : ' ';
        }
    }
    *out_len = n;
    if (out_cap < n + 1) {
        free(tmp);
        return attn_fail(ATTN_E_ARG, "%s: out_cap=%zu but the result needs %zu bytes", fn,
                         out_cap, n + 1);
    }
    memcpy(out, tmp, n);
    out[n] = '\0';
    free(tmp);
    return ATTN_OK;
}

int attn_text_clean_alloc(const char *text, char **out)
{
    ATTN_REQUIRE_NONNULL("attn_text_clean_alloc", out);
    *out = NULL;
    ATTN_REQUIRE_NONNULL("attn_text_clean_alloc", text);
    size_t len = strlen(text), n;
    char *o = malloc(len + 1);
    if (!o) return attn_fail(ATTN_E_NOMEM, "attn_text_clean_alloc: %zu bytes", len + 1);
    int st = attn_text_clean(text, len, NULL, o, len + 1, &n);
    if (st) {
        free(o);
        return st;
    }
    *out = o;
    return ATTN_OK;
}
