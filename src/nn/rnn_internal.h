/* rnn_internal.h — helpers shared by additive attention, the GRU and the Bahdanau decoder step:
 * moving strided 3-d views to and from contiguous matrices, and the GRU cell kernels. */
#ifndef ATTN_RNN_INTERNAL_H
#define ATTN_RNN_INTERNAL_H

#include "internal.h"

#include <string.h>

/* Element (i0, i1, i2) of a 3-d view. */
#define RNN_AT3(t, i0, i1, i2) \
    ((t)->data[(i0) * (t)->stride[0] + (i1) * (t)->stride[1] + (i2) * (t)->stride[2]])

/* tanh(x) in float, branch-free so that loops over it vectorize without special flags:
 * |x| < 0.25 by its odd Taylor polynomial, else 1 − 2/(e^{2|x|} + 1) with |x| clamped to 10
 * (tanh(10) rounds to 1) and e^y from attn_expf; the sign is copied back. Max error 7.8e-8
 * absolute, 3.0e-7 relative (checked over every 7th float in [−20, 20]); ±inf → ±1, NaN → NaN.
 * Selections are done on the bits, because GCC keeps float comparisons under -ftrapping-math
 * as branches and then will not vectorize. */
static inline float rnn_tanhf(float x)
{
    float ax = fabsf(x);
    int32_t ib;
    memcpy(&ib, &ax, sizeof ib);
    const int32_t ten = 0x41200000, quarter = 0x3e800000;
    int32_t clamp = -(int32_t)(ib >= ten);
    int32_t cb = (ib & ~clamp) | (ten & clamp);
    float cx;
    memcpy(&cx, &cb, sizeof cx);
    float big = 1.0f - 2.0f / (attn_expf(2.0f * cx) + 1.0f); /* 2|x| ∈ [0, 20] */
    float x2 = cx * cx;
    float small = cx + cx * x2 * (-0.333333333f + x2 * (0.133333333f +
                                  x2 * (-0.0539682540f + x2 * 0.0218694885f)));
    int32_t sb, bb, xb;
    memcpy(&sb, &small, sizeof sb);
    memcpy(&bb, &big, sizeof bb);
    memcpy(&xb, &x, sizeof xb);
    int32_t use_small = -(int32_t)(ib < quarter);
    int32_t rb = ((sb & use_small) | (bb & ~use_small)) | (xb & INT32_MIN);
    int32_t is_nan = -(int32_t)(ib > 0x7f800000); /* NaN stays NaN */
    rb = (rb & ~is_nan) | (xb & is_nan);
    float r;
    memcpy(&r, &rb, sizeof r);
    return r;
}

/* t[i] = tanh(a[i] + b[i]) for i < n. */
static inline void rnn_tanh_of_sum(const float *restrict a, const float *restrict b,
                                   float *restrict t, int64_t n)
{
    for (int64_t i = 0; i < n; i++) t[i] = rnn_tanhf(a[i] + b[i]);
}

/* Σ a[i]·b[i] with eight partial sums (vectorizes without reassociating). */
static inline double rnn_dot(const float *restrict a, const float *restrict b, int64_t n)
{
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) acc[l] += a[i + l] * b[i + l];
    double s = 0;
    for (int l = 0; l < 8; l++) s += acc[l];
    for (; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* Check a view is exactly [d0, d1, d2]. */
ATTN_INTERNAL int rnn_check3(const char *fn, const char *name, const attn_tensor *t, int64_t d0,
                             int64_t d1, int64_t d2);

/* Copy a 3-d view into a contiguous [d0*d1, d2] matrix / back out of one. */
ATTN_INTERNAL void rnn_pack3(const attn_tensor *t, float *dst);
ATTN_INTERNAL void rnn_unpack3(const float *src, attn_tensor *t);

/* y[d0*d1, A] = x · Wᵀ (+ bias), x a 3-d view [d0, d1, D], W [A, D]. `tmp`, if the view's rows
 * are not unit-stride, receives a packed copy of x (d0*d1*D floats). */
ATTN_INTERNAL int rnn_project(const attn_tensor *x, const float *W, const float *bias, int64_t A,
                              float *y, float *tmp, int threads);

/* Backward of rnn_project: dx = dy · W (overwrite, view; NULL: skipped), dW += dyᵀ · x,
 * dbias += Σ_rows dy (NULL: skipped). dy: [d0*d1, A]. tmp: d0*d1*D floats. */
ATTN_INTERNAL int rnn_project_backward(const attn_tensor *x, const float *W, int64_t A,
                                       const float *dy, attn_tensor *dx, float *dW, float *dbias,
                                       float *tmp, int threads);

/* GRU cell, PyTorch's equations, for one step of B rows, with gi = W_ih·x + b_ih precomputed:
 *   gh = W_hh·h + b_hh;  r = σ(gi_r + gh_r);  z = σ(gi_z + gh_z)
 *   n = tanh(gi_n + r ⊙ gh_n);  h' = (1 − z) ⊙ n + z ⊙ h
 * gi: [B, 3H] (row stride ldgi); h: [B, H] (row stride ldh); gh: scratch [B, 3H];
 * gates: [B, 4H] receives r, z, n, gh_n for backward (NULL: not kept); hout: [B, H]
 * (row stride ldo, may alias h). active[b] == 0 leaves row b of hout equal to h. */
ATTN_INTERNAL int rnn_gru_cell(int64_t B, int64_t H, const float *gi, int64_t ldgi, const float *h,
                               int64_t ldh, const float *w_hh, const float *b_hh, float *gh,
                               float *gates, float *hout, int64_t ldo, const uint8_t *active,
                               int threads);

/* Backward of rnn_gru_cell. dh: [B, H] gradient w.r.t. h' on entry (row stride H); on exit the
 * gradient w.r.t. h (overwritten in place). dgi: [B, 3H] receives ∂/∂gi (row stride lddgi).
 * dgh: scratch [B, 3H]. dw_hh, db_hh: accumulated (NULL: skipped). Inactive rows: dh passes
 * through unchanged and dgi is 0. */
ATTN_INTERNAL int rnn_gru_cell_backward(int64_t B, int64_t H, const float *h, int64_t ldh,
                                        const float *w_hh, const float *gates, float *dh,
                                        float *dgi, int64_t lddgi, float *dgh, float *dw_hh,
                                        float *db_hh, const uint8_t *active, int threads);

/* A Bahdanau step cache in caller memory (64-byte aligned, *bytes long), for the decoder. */
ATTN_INTERNAL int rnn_bahdanau_cache_bytes(const attn_bahdanau_config *cfg, int64_t B, int64_t Lk,
                                           size_t *bytes);
ATTN_INTERNAL int rnn_bahdanau_cache_init(void *mem, const attn_bahdanau_config *cfg, int64_t B,
                                          int64_t Lk, attn_bahdanau_cache **cache);

#endif
