/* viz_internal.h — what the viz_*.c files share and nobody else needs. */
#ifndef ATTN_VIZ_INTERNAL_H
#define ATTN_VIZ_INTERNAL_H

#include "attn.h"
#include "viz.h"

#include <stddef.h>

#define VIZ_MAX_TOKENS 4096
#define VIZ_MAX_LAYERS 256
#define VIZ_MAX_HEADS 256

/* Set the viz error message (printf-style) and return status. */
int viz_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int viz_utf8_valid(const char *s);

#define VIZ_MAX_PIXELS 4096 /* an image's width and height */

/* Free an image of viz_record_set_image (NULL ignored). */
void viz_image_free(viz_image *img);
/* The image as the "image" member of attention.json (cJSON *), and back: the member checked
 * field by field (ATTN_E_FORMAT naming it) and attached to r. */
void *viz_image_json(const viz_image *img);
int viz_image_json_read(viz_record *r, const void *member);

/* Rows × cols of a kind's maps, and the tokens that label rows and columns. */
void viz_kind_dims(const viz_record *r, viz_kind kind, int *rows, int *cols);
const char *const *viz_row_tokens(const viz_record *r, viz_kind kind);
const char *const *viz_col_tokens(const viz_record *r, viz_kind kind);

/* The record as a cJSON tree (cJSON *); with_extras adds metrics and rollout for the page. */
void *viz_json_tree(const viz_record *r, int with_extras, int pool);
/* Serialise a cJSON tree with every '<' written as \u003c (safe inside an HTML <script>).
 * Caller frees with free(). */
char *viz_json_print_html_safe(void *tree);

/* A growing string. */
typedef struct viz_buf {
    char *s;
    size_t len, cap;
    int oom;
} viz_buf;
void viz_buf_put(viz_buf *b, const char *s, size_t n);
void viz_buf_puts(viz_buf *b, const char *s);
void viz_buf_printf(viz_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Write a whole file; ATTN_E_IO with the path and errno text on failure. */
int viz_write_file(const char *path, const char *data, size_t len);
/* Read a whole file (NUL-terminated); ATTN_E_IO on failure. */
int viz_read_file(const char *path, char **data, size_t *len);

/* Free cairo's (and through it fontconfig's) caches: for leak checkers, at the end of a command. */
void viz_release_caches(void);

#endif
