/* config_meta.c — model configurations as checkpoint metadata, one way for every model: a
 * table of fields (name, kind, offset, range) written to and read from "attn.config.<name>". */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int attn_meta_write(const char *fn, const void *cfg, const attn_meta_field *fields, int nfields, char *buf,
                    size_t cap, const char **kv, int kv_cap)
{
    ATTN_REQUIRE_NONNULL(fn, cfg);
    ATTN_REQUIRE_NONNULL(fn, buf);
    ATTN_REQUIRE_NONNULL(fn, kv);
    if (kv_cap < 1) return attn_fail(ATTN_E_ARG, "%s: kv_cap too small", fn);
    size_t used = 0;
    int n = 0;
    for (int i = 0; i < nfields; i++) {
        const attn_meta_field *f = &fields[i];
        const char *p = (const char *)cfg + f->offset;
        if (n + 3 > kv_cap) return attn_fail(ATTN_E_ARG, "%s: kv_cap too small", fn);
        int k = snprintf(buf + used, cap - used, "attn.config.%s", f->name);
        if (k < 0 || (size_t)k + 1 > cap - used) return attn_fail(ATTN_E_ARG, "%s: buffer too small", fn);
        kv[n++] = buf + used;
        used += (size_t)k + 1;
        char *dst = buf + used;
        const size_t room = cap - used;
        int64_t i64;
        int iv;
        int32_t i32;
        float fv;
        switch (f->kind) {
        case ATTN_META_I64: memcpy(&i64, p, sizeof i64), k = snprintf(dst, room, "%lld", (long long)i64); break;
        case ATTN_META_INT: memcpy(&iv, p, sizeof iv), k = snprintf(dst, room, "%d", iv); break;
        case ATTN_META_I32: memcpy(&i32, p, sizeof i32), k = snprintf(dst, room, "%d", (int)i32); break;
        default: memcpy(&fv, p, sizeof fv), k = snprintf(dst, room, "%.9g", (double)fv); break;
        }
        if (k < 0 || (size_t)k + 1 > cap - used) return attn_fail(ATTN_E_ARG, "%s: buffer too small", fn);
        kv[n++] = buf + used;
        used += (size_t)k + 1;
    }
    kv[n] = NULL;
    return n;
}

/* Strict number parsing: the whole string, no leading space or sign other than '-', decimal
 * only (no hex, inf or nan), in range — one spelling per value. */
static int parse_int(const char *v, double lo, double hi, int64_t *out)
{
    if (!(*v >= '0' && *v <= '9') && !(*v == '-' && v[1] >= '0' && v[1] <= '9')) return -1;
    errno = 0;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (errno || *end || (double)x < lo || (double)x > hi) return -1;
    *out = x;
    return 0;
}

static int parse_real(const char *v, double lo, double hi, double *out)
{
    const char *d = *v == '-' ? v + 1 : v;
    if (!((*d >= '0' && *d <= '9') || (*d == '.' && d[1] >= '0' && d[1] <= '9'))) return -1;
    for (const char *c = d; *c; c++)
        if (*c == 'x' || *c == 'X' || *c == 'p' || *c == 'P') return -1; /* no hex floats */
    errno = 0;
    char *end;
    double x = strtod(v, &end);
    if (errno || *end || !(x >= lo && x <= hi)) return -1;
    *out = x;
    return 0;
}

int attn_meta_read(const attn_st_reader *st, void *cfg, size_t cfg_size, const attn_meta_field *fields,
                   int nfields)
{
    memset(cfg, 0, cfg_size);
    for (int i = 0; i < nfields; i++) {
        const attn_meta_field *f = &fields[i];
        char key[96];
        snprintf(key, sizeof key, "attn.config.%s", f->name);
        const char *v = attn_st_metadata(st, key);
        if (!v && f->optional) continue; /* stays 0 */
        if (!v) return attn_fail(ATTN_E_FORMAT, "checkpoint: metadata \"%s\" is missing", key);
        const int integral = f->kind != ATTN_META_F32;
        int64_t i64 = 0;
        double x = 0;
        if (integral ? parse_int(v, f->lo, f->hi, &i64) : parse_real(v, f->lo, f->hi, &x))
            return attn_fail(ATTN_E_FORMAT, "checkpoint: metadata \"%s\" = \"%.40s\" is not %s in [%g, %g]", key,
                             v, integral ? "an integer" : "a number", f->lo, f->hi);
        /* every range is within int32 (asserted by the tables' bounds), so the casts are exact */
        char *p = (char *)cfg + f->offset;
        int iv = (int)i64;
        int32_t i32 = (int32_t)i64;
        float fv = (float)x;
        switch (f->kind) {
        case ATTN_META_I64: memcpy(p, &i64, sizeof i64); break;
        case ATTN_META_INT: memcpy(p, &iv, sizeof iv); break;
        case ATTN_META_I32: memcpy(p, &i32, sizeof i32); break;
        default: memcpy(p, &fv, sizeof fv); break;
        }
    }
    return ATTN_OK;
}
