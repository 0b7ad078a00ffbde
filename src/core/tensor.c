/* tensor.c — constructing and validating tensor views. */
#include "internal.h"

#include <string.h>

attn_tensor attn_tensor_make(float *data, int ndim, const int64_t *shape)
{
    attn_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    if (ndim < 1 || ndim > ATTN_MAX_DIMS || shape == NULL) return t; /* ndim 0: rejected later */
    t.ndim = ndim;
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        t.shape[i] = shape[i];
        t.stride[i] = s;
        s *= shape[i] > 0 ? shape[i] : 1;
    }
    return t;
}

attn_tensor attn_tensor_4d(float *data, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    int64_t shape[4] = {d0, d1, d2, d3};
    return attn_tensor_make(data, 4, shape);
}

attn_tensor attn_tensor_blhe(float *data, int64_t B, int64_t L, int64_t H, int64_t E)
{
    attn_tensor t = attn_tensor_4d(data, B, H, L, E);
    t.stride[3] = 1;
    t.stride[2] = H * E;
    t.stride[1] = E;
    t.stride[0] = L * H * E;
    return t;
}

attn_bool_tensor attn_bool_tensor_4d(const uint8_t *data, int64_t d0, int64_t d1, int64_t d2,
                                     int64_t d3)
{
    attn_tensor f = attn_tensor_4d(NULL, d0, d1, d2, d3);
    attn_bool_tensor b;
    b.data = data;
    b.ndim = f.ndim;
    memcpy(b.shape, f.shape, sizeof b.shape);
    memcpy(b.stride, f.stride, sizeof b.stride);
    return b;
}

static int check_dims(const char *fn, const char *name, int have_ndim, const int64_t *shape,
                      const int64_t *stride, int ndim)
{
    if (have_ndim != ndim)
        return attn_fail(ATTN_E_SHAPE, "%s: %s has %d dimensions, expected %d", fn, name, have_ndim,
                         ndim);
    int64_t maxoff = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1)
            return attn_fail(ATTN_E_SHAPE, "%s: %s.shape[%d]=%lld must be at least 1", fn, name, i,
                             (long long)shape[i]);
        if (stride[i] < 0)
            return attn_fail(ATTN_E_SHAPE, "%s: %s.stride[%d]=%lld is negative", fn, name, i,
                             (long long)stride[i]);
        int64_t span;
        if (attn_mul_overflow(shape[i] - 1, stride[i], &span) ||
            __builtin_add_overflow(maxoff, span, &maxoff))
            return attn_fail(ATTN_E_OVERFLOW, "%s: %s spans more elements than fit in 64 bits", fn,
                             name);
    }
    if (maxoff > (int64_t)(PTRDIFF_MAX / 4))
        return attn_fail(ATTN_E_OVERFLOW, "%s: %s is larger than the address space", fn, name);
    return ATTN_OK;
}

int attn_check_view(const char *fn, const char *name, const attn_tensor *t, int ndim)
{
    if (t == NULL) return attn_fail(ATTN_E_ARG, "%s: %s is NULL", fn, name);
    if (t->data == NULL) return attn_fail(ATTN_E_ARG, "%s: %s.data is NULL", fn, name);
    return check_dims(fn, name, t->ndim, t->shape, t->stride, ndim);
}

int attn_check_bool_view(const char *fn, const char *name, const attn_bool_tensor *t, int ndim)
{
    if (t == NULL) return attn_fail(ATTN_E_ARG, "%s: %s is NULL", fn, name);
    if (t->data == NULL) return attn_fail(ATTN_E_ARG, "%s: %s.data is NULL", fn, name);
    return check_dims(fn, name, t->ndim, t->shape, t->stride, ndim);
}

void *attn_aligned_alloc(size_t bytes)
{
    void *p = NULL;
    if (bytes == 0) bytes = 64;
    if (posix_memalign(&p, 64, (bytes + 63) & ~(size_t)63) != 0) return NULL;
    return p;
}
