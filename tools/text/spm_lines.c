/* spm_lines.c — one line of text to ids or pieces and back, as `attn spm` prints them (spm.h). */
#include "spm.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* a failing attn_spm_* status, its message moved to attn_last_error() */
static int wrap(int st) { return st ? attn_set_error(st, "%s", attn_spm_last_error()) : ATTN_OK; }

int attn_spm_encode_line(const attn_spm *sp, const char *text, int pieces, char **out)
{
    if (!out || !sp || !text) return attn_set_error(ATTN_E_ARG, "attn_spm_encode_line: a NULL argument");
    *out = NULL;
    int64_t n = 0;
    int st = wrap(attn_spm_encode(sp, text, NULL, 0, &n));
    int32_t *ids = st ? NULL : malloc((size_t)(n ? n : 1) * sizeof *ids);
    if (!st && !ids) st = attn_set_error(ATTN_E_NOMEM, "attn_spm_encode_line: %lld ids", (long long)n);
    if (!st) st = wrap(attn_spm_encode(sp, text, ids, n, &n));
    size_t len = 1; /* the text: each piece or id and a separator */
    const char *piece;
    for (int64_t i = 0; !st && i < n; i++)
        len += 1 + (pieces && attn_spm_id_to_piece(sp, ids[i], &piece) == ATTN_OK ? strlen(piece) : 11);
    char *s = st ? NULL : malloc(len), *p = s;
    if (!st && !s) st = attn_set_error(ATTN_E_NOMEM, "attn_spm_encode_line: %zu bytes", len);
    for (int64_t i = 0; !st && i < n; i++) {
        if (i) *p++ = ' ';
        if (pieces && attn_spm_id_to_piece(sp, ids[i], &piece) == ATTN_OK)
            p = stpcpy(p, piece);
        else
            p += snprintf(p, 12, "%d", (int)ids[i]);
    }
    if (s) *p = '\0';
    free(ids);
    if (st) free(s);
    else *out = s;
    return st;
}

int attn_spm_decode_line(const attn_spm *sp, const char *line, char **out)
{
    if (!out || !sp || !line) return attn_set_error(ATTN_E_ARG, "attn_spm_decode_line: a NULL argument");
    *out = NULL;
    int32_t *ids = malloc((strlen(line) / 2 + 1) * sizeof *ids); /* an id and a separator: 2 bytes at least */
    if (!ids) return attn_set_error(ATTN_E_NOMEM, "attn_spm_decode_line: %zu bytes", strlen(line));
    int64_t n = 0;
    const char *p = line;
    for (char *end;; p = end) {
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p) break;
        if (errno || v < INT32_MIN || v > INT32_MAX) break; /* not an id: reported below */
        ids[n++] = (int32_t)v;
    }
    while (*p == ' ' || *p == '\t') p++;
    size_t len = 0;
    int st = *p ? attn_set_error(ATTN_E_FORMAT, "not an id: \"%s\"", p) : wrap(attn_spm_decode(sp, ids, n, NULL, 0, &len));
    char *s = st ? NULL : malloc(len + 1);
    if (!st && !s) st = attn_set_error(ATTN_E_NOMEM, "attn_spm_decode_line: %zu bytes", len + 1);
    if (!st) st = wrap(attn_spm_decode(sp, ids, n, s, len + 1, &len));
    free(ids);
    if (st) free(s);
    else *out = s;
    return st;
}
