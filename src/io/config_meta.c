/* config_meta.c — model configurations as checkpoint metadata, one way for every model. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int attn_meta_put(attn_meta_list *m, const char *field, const char *fmt, ...)
{
    if (m->n + 3 > m->kv_cap) return attn_fail(ATTN_E_ARG, "%s: kv_cap too small", m->fn);
    int k = snprintf(m->buf + m->used, m->cap - m->used, "attn.config.%s", field);
    if (k < 0 || (size_t)k + 1 > m->cap - m->used)
        return attn_fail(ATTN_E_ARG, "%s: buffer too small", m->fn);
    const char *key = m->buf + m->used;
    m->used += (size_t)k + 1;
    va_list ap;
    va_start(ap, fmt);
    int v = vsnprintf(m->buf + m->used, m->cap - m->used, fmt, ap);
    va_end(ap);
    if (v < 0 || (size_t)v + 1 > m->cap - m->used)
        return attn_fail(ATTN_E_ARG, "%s: buffer too small", m->fn);
    m->kv[m->n++] = key;
    m->kv[m->n++] = m->buf + m->used;
    m->used += (size_t)v + 1;
    m->kv[m->n] = NULL;
    return ATTN_OK;
}

int attn_meta_config_number(const attn_st_reader *st, const char *field, double lo, double hi,
                            int integral, double *out)
{
    char key[96];
    snprintf(key, sizeof key, "attn.config.%s", field);
    const char *v = attn_st_metadata(st, key);
    if (!v) return attn_fail(ATTN_E_FORMAT, "checkpoint: metadata \"%s\" is missing", key);
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !(x >= lo && x <= hi) || (integral && x != (double)(int64_t)x))
        return attn_fail(ATTN_E_FORMAT, "checkpoint: metadata \"%s\" = \"%s\" is not %s in [%g, %g]",
                         key, v, integral ? "an integer" : "a number", lo, hi);
    *out = x;
    return ATTN_OK;
}
