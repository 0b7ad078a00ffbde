/* safetensors_lex.c — checks on the header text that the JSON parser does not make: UTF-8,
 * control bytes, "\u0000", numbers that are not plain integers ≤ 2^53, and a cap on the
 * number of values (so the parse tree stays bounded). */
#include "st_internal.h"

#include <stdio.h>
#include <string.h>

/* cJSON allocates about 64 bytes per value; refusing headers with more values than this
 * bounds the parse to ~300 MB whatever the header says. A real header has ~10 values per
 * tensor, so this allows some 400,000 tensors (large models hold a few thousand per file). */
#define MAX_JSON_VALUES (4L * 1024 * 1024)

/* Message prefix: "<function>: <path>: " */
#define FMT_PREFIX "%s: %.200s: "

/* ------------------------------------------------------------------------------------------ */
/* Lexical checks the JSON parser does not make                                               */
/* ------------------------------------------------------------------------------------------ */

int attn_st_utf8_valid(const uint8_t *s, size_t n, size_t *bad)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len;
        uint32_t cp, min;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; min = 0x10000; }
        else goto invalid;
        if (n - i < len) goto invalid;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) goto invalid;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) goto invalid;
        i += len;
    }
    return 1;
invalid:
    if (bad) *bad = i;
    return 0;
}

/* Up to 40 bytes of header text before byte `at`, printable ASCII only, for messages. */
static const char *context_before(const uint8_t *h, size_t at, char out[48])
{
    size_t from = at > 40 ? at - 40 : 0, k = 0;
    for (size_t i = from; i < at; i++) out[k++] = (h[i] >= 0x20 && h[i] < 0x7F) ? (char)h[i] : '?';
    out[k] = '\0';
    return out;
}

/* A number token h[start, end) of the header: every number in a safetensors header is a
 * shape or an offset, so it must be a plain integer (no fraction, exponent or leading zero,
 * which cJSON would accept) and at most 2^53 (larger values do not survive as doubles). */
static int check_integer_token(const char *fn, const char *path, const uint8_t *h, size_t start, size_t end)
{
    const char *why = NULL;
    size_t d0 = start + (h[start] == '-'), digits = 0;
    for (size_t i = start; i < end; i++) {
        if (h[i] == '.' || h[i] == 'e' || h[i] == 'E') why = "is not an integer";
        if (h[i] >= '0' && h[i] <= '9') digits++;
    }
    static const char max_exact[] = "9007199254740992"; /* 2^53 */
    if (!why && d0 + 1 < end && h[d0] == '0' && h[d0 + 1] >= '0' && h[d0 + 1] <= '9') why = "has a leading zero";
    if (!why && (digits > 16 || (digits == 16 && end - d0 == 16 && memcmp(h + d0, max_exact, 16) > 0)))
        why = "exceeds 2^53";
    if (!why) return ATTN_OK;
    char ctx[48];
    return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "header: number '%.*s' at byte %zu %s (after '%s')", fn, path,
                     (int)(end - start > 24 ? 24 : end - start), (const char *)h + start, start, why,
                     context_before(h, start, ctx));
}

/* One pass over the header text: strings free of raw control bytes and "\u0000" (C strings
 * cannot hold it), no control bytes between tokens besides JSON whitespace, numbers without
 * fraction or exponent (every number in a safetensors header is an integer), and a bounded
 * count of values. Syntax proper is left to the parser. */
int attn_st_lex_check(const char *fn, const char *path, const uint8_t *h, size_t n)
{
    size_t values = 0;
    size_t i = 0;
    char ctx[48];
    while (i < n) {
        uint8_t c = h[i];
        if (c == '"') {
            values++;
            i++;
            while (i < n && h[i] != '"') {
                if (h[i] < 0x20)
                    return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "header: control byte 0x%02x inside a string at byte %zu (after '%s')",
                                     fn, path, h[i], i, context_before(h, i, ctx));
                if (h[i] == '\\') {
                    if (i + 1 < n && h[i + 1] == 'u' && i + 5 < n && h[i + 2] == '0' && h[i + 3] == '0' &&
                        h[i + 4] == '0' && h[i + 5] == '0')
                        return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "header: string holds \\u0000 at byte %zu (after '%s')",
                                         fn, path, i, context_before(h, i, ctx));
                    i++; /* skip the escaped byte (a quote or backslash must not end the scan) */
                }
                i++;
            }
            i++; /* closing quote (a missing one is the parser's to report) */
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t start = i;
            values++;
            while (i < n && (h[i] == '-' || h[i] == '+' || h[i] == '.' || h[i] == 'e' || h[i] == 'E' ||
                             (h[i] >= '0' && h[i] <= '9')))
                i++;
            ATTN_TRY(check_integer_token(fn, path, h, start, i));
        } else if (c < 0x20 && c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "header: control byte 0x%02x at byte %zu (after '%s')", fn, path,
                             c, i, context_before(h, i, ctx));
        } else {
            if (c == '{' || c == '[' || c == 't' || c == 'f' || c == 'n') values++;
            i++;
        }
        if (values > MAX_JSON_VALUES)
            return attn_fail(ATTN_E_FORMAT, FMT_PREFIX "header: more than %ld JSON values", fn, path,
                             (long)MAX_JSON_VALUES);
    }
    return ATTN_OK;
}
