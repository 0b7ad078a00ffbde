/* json.h — the small JSON interface libattn uses, over cJSON (Debian's libcjson).
 *
 * src/io and the BPE loader (src/text/bpe.c) include this. A parsed document is a tree of
 * read-only values; walk it with first/next, read keys, strings and numbers. Nothing here
 * trusts the text: every accessor accepts any value (or NULL) and answers for the wrong type
 * with a neutral result.
 */
#ifndef ATTN_JSON_H
#define ATTN_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

typedef struct attn_json attn_json; /* a value of a parsed document */

typedef enum attn_json_type {
    ATTN_JSON_OTHER = 0, /* null, true, false, or NULL */
    ATTN_JSON_NUMBER,
    ATTN_JSON_STRING,
    ATTN_JSON_ARRAY,
    ATTN_JSON_OBJECT
} attn_json_type;

/* Parse `len` bytes of `text` (need not be NUL-terminated) as one JSON value followed only by
 * whitespace. On failure returns ATTN_E_FORMAT with "<what>: ..." saying where, or
 * ATTN_E_NOMEM. Free the tree with attn_json_free. */
ATTN_INTERNAL int attn_json_parse(const char *what, const char *text, size_t len,
                                  attn_json **root);
ATTN_INTERNAL void attn_json_free(attn_json *root);

ATTN_INTERNAL attn_json_type attn_json_type_of(const attn_json *v);
/* First child of an array or object (NULL if none or not a container), then the next one. */
ATTN_INTERNAL const attn_json *attn_json_first(const attn_json *v);
ATTN_INTERNAL const attn_json *attn_json_next(const attn_json *v);
/* The key of an object member (NULL for array elements). */
ATTN_INTERNAL const char *attn_json_key(const attn_json *v);
/* The text of a string value (NULL if not a string). */
ATTN_INTERNAL const char *attn_json_string(const attn_json *v);
/* The value of a number as a double (NaN if not a number). */
ATTN_INTERNAL double attn_json_number(const attn_json *v);
/* 1 for true, 0 for false, -1 for anything else (null, other types, NULL). */
ATTN_INTERNAL int attn_json_bool(const attn_json *v);
/* The member `key` of an object (the first, if repeated), or NULL. */
ATTN_INTERNAL const attn_json *attn_json_member(const attn_json *obj, const char *key);
/* Number of children of an array or object (0 otherwise). */
ATTN_INTERNAL int64_t attn_json_count(const attn_json *v);

#endif
