/* internal.h — what every file of libattn shares and no user sees. */
#ifndef ATTN_INTERNAL_H
#define ATTN_INTERNAL_H

#include "attn.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define ATTN_INTERNAL __attribute__((visibility("hidden")))

/* Record a failure (printf-style detail) and return `status`. */
ATTN_INTERNAL int attn_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Evaluate a status expression; on failure return it from the enclosing function. */
#define ATTN_TRY(expr)                                                                         \
    do {                                                                                       \
        int attn_try_status_ = (expr);                                                         \
        if (attn_try_status_ < 0) return attn_try_status_;                                     \
    } while (0)

/* Fail with ATTN_E_ARG when `ptr` is NULL, naming it. */
#define ATTN_REQUIRE_NONNULL(fn, ptr)                                                          \
    do {                                                                                       \
        if ((ptr) == NULL) return attn_fail(ATTN_E_ARG, "%s: %s is NULL", (fn), #ptr);         \
    } while (0)

/* Internal invariant: active in debug and test builds (ATTN_DEBUG), free otherwise. It marks
 * a bug in libattn, never bad user input (that returns an error code). */
#ifdef ATTN_DEBUG
#include <stdio.h>
#define ATTN_ASSERT(cond)                                                                      \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: internal invariant failed: %s\n", __FILE__, __LINE__,      \
                    #cond);                                                                    \
            abort();                                                                           \
        }                                                                                      \
    } while (0)
#else
#define ATTN_ASSERT(cond) ((void)0)
#endif

/* Overflow-checked size arithmetic: return 0 on success, nonzero on overflow. */
static inline int attn_mul_overflow(int64_t a, int64_t b, int64_t *out)
{
    return __builtin_mul_overflow(a, b, out);
}

/* Product of n non-negative dims; ATTN_E_OVERFLOW (with message) when it would overflow. */
ATTN_INTERNAL int attn_checked_numel(const char *fn, const int64_t *dims, int n, int64_t *out);

/* Threads to use for a call whose option says `requested` (0 = library default). */
ATTN_INTERNAL int attn_resolve_threads(int requested);

/* Validate a view: ndim as given, every dim ≥ 1 (or ≥ 0 if allow_empty), strides ≥ 0,
 * and the largest offset representable. `name` is used in the message. */
ATTN_INTERNAL int attn_check_view(const char *fn, const char *name, const attn_tensor *t, int ndim);
ATTN_INTERNAL int attn_check_bool_view(const char *fn, const char *name, const attn_bool_tensor *t,
                                       int ndim);

/* Philox-4x32-10 block: 4 uint32 outputs for a 128-bit counter under a 64-bit key. */
ATTN_INTERNAL void attn_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* Aligned allocation (64 bytes) for kernel workspaces; free with free(). NULL on failure. */
ATTN_INTERNAL void *attn_aligned_alloc(size_t bytes);

/* Model configurations as checkpoint metadata ("attn.config.<field>" → text), shared by every
 * model's _config_to_meta / _config_from_reader (src/io/config_meta.c). */
typedef struct attn_meta_list {
    const char *fn; /* caller, for messages */
    char *buf;      /* strings live here */
    size_t cap, used;
    const char **kv; /* key, value, …, NULL */
    int kv_cap, n;
} attn_meta_list;
/* Append "attn.config.<field>" = the value formatted from fmt; ATTN_E_ARG when buf or kv is too small. */
ATTN_INTERNAL int attn_meta_put(attn_meta_list *m, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The number stored under "attn.config.<field>": present, fully parsed, in [lo, hi], and a whole
 * number when `integral` (a "16.5" for d_model would otherwise become another model). */
ATTN_INTERNAL int attn_meta_config_number(const attn_st_reader *st, const char *field, double lo,
                                          double hi, int integral, double *out);

#endif
