/* base64.c — base64 (RFC 4648, standard alphabet, padded) to and from bytes: the one codec the
 * checkpoints' embedded tokenizers go through. Decoding is strict: one spelling per byte string. */
#include "internal.h"

#include <string.h>

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int attn_base64_encode(const void *data, size_t n, char **out)
{
    static const char fn[] = "attn_base64_encode";
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    if (!data && n) return attn_fail(ATTN_E_ARG, "%s: data is NULL", fn);
    if (n > (SIZE_MAX - 1) / 4 * 3 - 3) return attn_fail(ATTN_E_OVERFLOW, "%s: %zu bytes is too large", fn, n);
    const unsigned char *p = data;
    char *s = malloc((n + 2) / 3 * 4 + 1);
    if (!s) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    size_t j = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        s[j++] = ALPHABET[v >> 18 & 63];
        s[j++] = ALPHABET[v >> 12 & 63];
        s[j++] = i + 1 < n ? ALPHABET[v >> 6 & 63] : '=';
        s[j++] = i + 2 < n ? ALPHABET[v & 63] : '=';
    }
    s[j] = '\0';
    *out = s;
    return ATTN_OK;
}

/* Value of one alphabet character, −1 for anything else. */
static int sextet(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int attn_base64_decode(const char *text, size_t len, unsigned char **out, size_t *n)
{
    static const char fn[] = "attn_base64_decode";
    ATTN_REQUIRE_NONNULL(fn, out);
    ATTN_REQUIRE_NONNULL(fn, n);
    *out = NULL, *n = 0;
    if (!text && len) return attn_fail(ATTN_E_ARG, "%s: text is NULL", fn);
    if (len % 4) return attn_fail(ATTN_E_FORMAT, "base64: length %zu is not a multiple of 4", len);
    if (len > ATTN_BASE64_MAX_TEXT)
        return attn_fail(ATTN_E_FORMAT, "base64: %zu characters, more than the limit of %d", len,
                         ATTN_BASE64_MAX_TEXT);
    unsigned char *b = malloc(len / 4 * 3 + 1);
    if (!b) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    size_t j = 0;
    for (size_t i = 0; i < len; i += 4) {
        const unsigned char *q = (const unsigned char *)text + i;
        /* '=' only in the last group: "xx==" or "xxx=" */
        int pad = i + 4 == len ? (q[3] == '=') + (q[3] == '=' && q[2] == '=') : 0;
        int v[4] = {0, 0, 0, 0};
        for (int k = 0; k < 4 - pad; k++) {
            v[k] = sextet(q[k]);
            if (v[k] < 0) {
                free(b);
                return attn_fail(ATTN_E_FORMAT, "base64: character 0x%02x at %zu is not base64", q[k],
                                 i + (size_t)k);
            }
        }
        /* the bits padding drops must be zero: one text per byte string */
        if ((pad == 2 && (v[1] & 15)) || (pad == 1 && (v[2] & 3))) {
            free(b);
            return attn_fail(ATTN_E_FORMAT, "base64: nonzero padding bits at %zu", i);
        }
        uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        b[j++] = (unsigned char)(x >> 16);
        if (pad < 2) b[j++] = (unsigned char)(x >> 8);
        if (pad < 1) b[j++] = (unsigned char)x;
    }
    b[j] = 0; /* (one spare byte: a caller may read the result as a string) */
    *out = b, *n = j;
    return ATTN_OK;
}
