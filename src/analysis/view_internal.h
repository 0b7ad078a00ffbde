/* view_internal.h — what view_json.c and view_image.c share: the JSON writer's growing string
 * and the checked readers of numbers and rows (messages start "attention JSON: "). */
#ifndef ATTN_VIEW_INTERNAL_H
#define ATTN_VIEW_INTERNAL_H

#include "attn/analysis.h"
#include "../io/json.h"

typedef struct view_buf {
    char *s;
    size_t len, cap;
    int oom; /* an allocation failed: the text is incomplete */
} view_buf;
ATTN_INTERNAL void view_put(view_buf *b, const char *s, size_t n);
ATTN_INTERNAL void view_puts(view_buf *b, const char *s);
/* Short pieces only (numbers, names): longer than 255 bytes counts as a failure. */
ATTN_INTERNAL void view_printf(view_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
ATTN_INTERNAL void view_string(view_buf *b, const char *s);
ATTN_INTERNAL void view_float_rows(view_buf *b, const float *w, int rows, int cols, const char *indent);

/* An integer in [lo, hi] (what names the field). */
ATTN_INTERNAL int view_get_int(const attn_json *v, const char *what, int lo, int hi, int *out);
/* rows × cols numbers in [lo, hi] into fw (floats) or bw (bytes, integers only). */
ATTN_INTERNAL int view_get_rows(const attn_json *a, const char *what, int rows, int cols, double lo, double hi,
                                float *fw, unsigned char *bw);

/* ,"image":{...} of a view, and reading it back into v (absent or null: nothing). */
ATTN_INTERNAL void view_image_json(view_buf *b, const attn_attention_image *img);
ATTN_INTERNAL int view_image_read(attn_attention_view *v, const attn_json *o);

#endif
