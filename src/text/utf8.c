/* utf8.c — UTF-8 decoding and validation, Python-compatible whitespace, simple lowercasing. */
#include "text_internal.h"

#include <string.h>

int attn_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (n == 0) return 0;
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0; /* continuation byte, C0/C1 (overlong 2-byte) or F5..FF */
    }
    if ((size_t)len > n) return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

int attn_utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

int attn_utf8_validate(const char *s, size_t len, size_t *bad_offset)
{
    if (s == NULL && len > 0) return attn_fail(ATTN_E_ARG, "attn_utf8_validate: s is NULL");
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        int k = attn_utf8_decode(u + i, len - i, &cp);
        if (k == 0) {
            if (bad_offset) *bad_offset = i;
            return attn_fail(ATTN_E_FORMAT, "invalid UTF-8 at byte %zu (0x%02X)", i, u[i]);
        }
        i += (size_t)k;
    }
    if (bad_offset) *bad_offset = len;
    return ATTN_OK;
}

int attn_unicode_is_space(uint32_t cp)
{
    if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
    if (cp < 0x85) return 0;
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

uint32_t attn_unicode_lower(uint32_t cp)
{
    if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 32; /* Latin-1 */
    if (cp >= 0x100 && cp <= 0x17F) {                          /* Latin Extended-A */
        if (cp == 0x130) return 'i';
        if (cp == 0x178) return 0xFF;
        if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E))
            return (cp & 1) ? cp + 1 : cp;
        if (cp == 0x131 || cp == 0x138 || cp == 0x149 || cp == 0x17F) return cp;
        return (cp & 1) ? cp : cp + 1;
    }
    if (cp >= 0x386 && cp <= 0x3AB) { /* Greek */
        if (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2) return cp + 32;
        if (cp == 0x386) return 0x3AC;
        if (cp >= 0x388 && cp <= 0x38A) return cp + 37;
        if (cp == 0x38C) return 0x3CC;
        if (cp == 0x38E || cp == 0x38F) return cp + 63;
        return cp;
    }
    if (cp >= 0x400 && cp <= 0x42F) return cp < 0x410 ? cp + 80 : cp + 32; /* Cyrillic */
    if (cp >= 0x460 && cp <= 0x4FF) { /* Cyrillic pairs, as far as they are regular */
        if ((cp >= 0x460 && cp <= 0x481) || (cp >= 0x48A && cp <= 0x4BF) ||
            (cp >= 0x4D0 && cp <= 0x4FF))
            return (cp & 1) ? cp : cp + 1;
        if (cp == 0x4C0) return 0x4CF;
        if (cp >= 0x4C1 && cp <= 0x4CE) return (cp & 1) ? cp + 1 : cp;
        return cp;
    }
    if (cp >= 0x1E00 && cp <= 0x1EFF) { /* Latin Extended Additional */
        if (cp == 0x1E9E) return 0xDF;
        if (cp >= 0x1E96 && cp <= 0x1E9F) return cp;
        return (cp & 1) ? cp : cp + 1;
    }
    return cp;
}

int attn_buf_reserve(attn_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return ATTN_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) return attn_fail(ATTN_E_OVERFLOW, "buffer size overflows");
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) return attn_fail(ATTN_E_NOMEM, "out of memory (%zu bytes)", cap);
    b->data = p;
    b->cap = cap;
    return ATTN_OK;
}

int attn_buf_put(attn_buf *b, const char *s, size_t n)
{
    ATTN_TRY(attn_buf_reserve(b, n));
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return ATTN_OK;
}

void attn_buf_release(attn_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int attn_utf8_lower(const char *s, size_t n, attn_buf *b)
{
    b->len = 0;
    ATTN_TRY(attn_buf_reserve(b, n + 8));
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        int k = attn_utf8_decode(u + i, n - i, &cp);
        if (k == 0) return attn_fail(ATTN_E_FORMAT, "invalid UTF-8 at byte %zu", i);
        char tmp[8];
        int m;
        if (cp == 0x130) { /* İ → i + COMBINING DOT ABOVE, as str.lower */
            tmp[0] = 'i';
            m = 1 + attn_utf8_encode(0x307, tmp + 1);
        } else {
            m = attn_utf8_encode(attn_unicode_lower(cp), tmp);
        }
        ATTN_TRY(attn_buf_put(b, tmp, (size_t)m));
        i += (size_t)k;
    }
    if (b->data) b->data[b->len] = '\0';
    return ATTN_OK;
}
