/* utf8.c — UTF-8 decoding and validation, Python-compatible whitespace, lowercasing. */
#include "text_internal.h"

#include <string.h>

#include "lower_table.h"

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
    if (cp == 0x130) return 'i';
    size_t lo = 0, hi = sizeof lower_runs / sizeof lower_runs[0];
    while (lo < hi) { /* the run with the largest first <= cp */
        size_t mid = (lo + hi) / 2;
        if (lower_runs[mid].first <= cp) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0) return cp;
    const struct lower_run *r = &lower_runs[lo - 1];
    if (cp > r->last || (cp - r->first) % r->step != 0) return cp;
    return (uint32_t)((int32_t)cp + r->delta);
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
