/* st_internal.h — what the safetensors reader and writer share. */
#ifndef ATTN_ST_INTERNAL_H
#define ATTN_ST_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* Whether s[0..n) is well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF). On failure *bad is the offset of the first bad byte. */
ATTN_INTERNAL int attn_st_utf8_valid(const uint8_t *s, size_t n, size_t *bad);

/* Lexical checks of a header h[0..n) before it is parsed (see safetensors_lex.c):
 * ATTN_E_FORMAT with "<fn>: <path>: header: ..." on failure. */
ATTN_INTERNAL int attn_st_lex_check(const char *fn, const char *path, const uint8_t *h, size_t n);

/* Fault injection for tests of the atomic write (0: none). The test binary links the static
 * library and sets it; see safetensors_write.c for the points. */
ATTN_INTERNAL extern int attn_st_fault_point;

#endif
