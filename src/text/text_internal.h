/* text_internal.h — UTF-8 and Unicode helpers shared by the text metrics and the loaders. */
#ifndef ATTN_TEXT_INTERNAL_H
#define ATTN_TEXT_INTERNAL_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>

/* Decode the code point starting at s[0] (n bytes available). Returns its length 1..4 and
 * sets *cp, or 0 when the bytes are not valid UTF-8 (overlong, surrogate, > U+10FFFF,
 * truncated, stray continuation byte). */
ATTN_INTERNAL int attn_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Encode a valid code point into out (4 bytes room); returns the length. */
ATTN_INTERNAL int attn_utf8_encode(uint32_t cp, char *out);

/* Whitespace as Python's str.isspace / str.split() see it. */
ATTN_INTERNAL int attn_unicode_is_space(uint32_t cp);

/* Unicode simple lowercase mapping (as Python's str.lower, one code point at a time). U+0130
 * maps to 'i' here; attn_utf8_lower adds the combining dot as Python does. */
ATTN_INTERNAL uint32_t attn_unicode_lower(uint32_t cp);

/* Growable byte buffer. */
typedef struct attn_buf {
    char *data;
    size_t len;
    size_t cap;
} attn_buf;

ATTN_INTERNAL int attn_buf_reserve(attn_buf *b, size_t extra);
ATTN_INTERNAL int attn_buf_put(attn_buf *b, const char *s, size_t n);
ATTN_INTERNAL void attn_buf_release(attn_buf *b);

/* Lowercase valid UTF-8 s[0..n) into b (replacing its contents), NUL-terminated. */
ATTN_INTERNAL int attn_utf8_lower(const char *s, size_t n, attn_buf *b);

#endif
