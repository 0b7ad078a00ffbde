/* data_internal.h — file reading and line splitting shared by the dataset loaders. */
#ifndef ATTN_DATA_INTERNAL_H
#define ATTN_DATA_INTERNAL_H

#include "../text/text_internal.h"

/* The limit attn_data_set_max_bytes set. */
ATTN_INTERNAL size_t attn_data_max_bytes(void);

/* Read a whole file, gzip or plain (zlib tells them apart), into a malloc'd NUL-terminated
 * buffer. Errors name fn and path. */
ATTN_INTERNAL int attn_read_file(const char *fn, const char *path, char **data, size_t *len);

/* Split data[0..len) into lines in place: each '\n' (and a '\r' just before it) becomes NUL.
 * A last line without '\n' counts; nothing after a final '\n' does. *lines (malloc'd) gets the
 * start of each line, *lens their lengths. */
ATTN_INTERNAL int attn_split_lines(const char *fn, const char *path, char *data, size_t len,
                                   char ***lines, size_t **lens, int64_t *n);

/* ATTN_E_FORMAT naming path and line (1-based) when line s[0..len) holds a NUL byte or is
 * not valid UTF-8. */
ATTN_INTERNAL int attn_check_line_utf8(const char *fn, const char *path, int64_t line,
                                       const char *s, size_t len);

#endif
