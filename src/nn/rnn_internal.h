/* rnn_internal.h — helpers shared by additive attention, the GRU and the Bahdanau decoder step:
 * moving strided 3-d views to and from contiguous matrices, and the GRU cell kernels. */
#ifndef ATTN_RNN_INTERNAL_H
#define ATTN_RNN_INTERNAL_H

#include "internal.h"

/* Element (i0, i1, i2) of a 3-d view. */
#define RNN_AT3(t, i0, i1, i2) \
    ((t)->data[(i0) * (t)->stride[0] + (i1) * (t)->stride[1] + (i2) * (t)->stride[2]])

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

#endif
