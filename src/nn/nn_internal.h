/* nn_internal.h — what the ops and layers of src/nn share: the tape's nodes and arena.
 *
 * Writing an op (see ops.c for the shortest examples):
 *   forward: validate inputs (attn_check_var), make the output with attn_tape_var (requires_grad
 *   = any input's), compute it, put what backward needs in a ctx struct from attn_tape_alloc
 *   (pointers to the input/output variables, small caches such as row statistics), then
 *   attn_tape_record(t, op_backward, ctx).
 *   backward(t, ctx): return at once if the output's grad is NULL (no gradient reached it); for
 *   each input with requires_grad, dx = attn_var_grad(t, x) (zeroed on first use) and ADD the
 *   contribution; parameter gradients add into param->grad. Never allocate outside the arena. */
#ifndef ATTN_NN_INTERNAL_H
#define ATTN_NN_INTERNAL_H

#include "internal.h"

#include <string.h>

/* A recorded operation: backward(t, ctx) reads the gradient of the op's output(s) and
 * accumulates (+=) into the gradients of its inputs that require one. */
typedef int (*attn_backward_fn)(attn_tape *t, void *ctx);

/* Arena memory (64-byte aligned, valid until attn_tape_reset), NULL when out of memory
 * (the message is set). */
ATTN_INTERNAL void *attn_tape_alloc(attn_tape *t, size_t bytes);
ATTN_INTERNAL void *attn_tape_calloc(attn_tape *t, size_t bytes);
/* Copy of `bytes` bytes into the arena (NULL src: zeros). */
ATTN_INTERNAL void *attn_tape_copy(attn_tape *t, const void *src, size_t bytes);
/* A new variable in the arena (data uninitialised), requires_grad as given. */
ATTN_INTERNAL int attn_tape_var(attn_tape *t, int ndim, const int64_t *shape, int requires_grad,
                                attn_var **out);
/* Record a node. ctx lives in the arena. */
ATTN_INTERNAL int attn_tape_record(attn_tape *t, attn_backward_fn fn, void *ctx);
/* The gradient buffer of v, allocated zeroed on first use (backward only). NULL on no memory. */
ATTN_INTERNAL float *attn_var_grad(attn_tape *t, attn_var *v);
/* Next dropout stream offset and the seed. */
ATTN_INTERNAL uint64_t attn_tape_next_offset(attn_tape *t);
ATTN_INTERNAL uint64_t attn_tape_seed(const attn_tape *t);
/* The attention observer set on the tape (NULL: none) and its context. */
ATTN_INTERNAL attn_attention_observer attn_tape_observer(const attn_tape *t, void **ctx);
ATTN_INTERNAL int attn_tape_threads(const attn_tape *t);

/* Parallel loops run threaded only above this much work (elements): below it, waking threads
 * costs more than it saves. Elementwise loops give the same result either way. */
#define ATTN_WORTH_THREADS(work) ((int64_t)(work) >= 32768)
/* Threads for a kernel call (gemm, attention) of about `flops` multiply-adds: one below ~1M. */
static inline int attn_threads_for(int threads, double flops) { return flops < 1e6 ? 1 : threads; }

/* Checks shared by the ops. */
ATTN_INTERNAL int attn_check_var(const char *fn, const char *name, const attn_var *v);
/* Rows of a variable viewed as [rows, last]. */
static inline int64_t attn_var_rows(const attn_var *v) { return v->numel / v->shape[v->ndim - 1]; }

/* Dense linear maps on raw buffers, shared by Linear and the attention projections.
 * y[rows, out] = x[rows, in] (row stride ldx)·Wᵀ + b, y row stride ldy. */
ATTN_INTERNAL int attn_dense_forward(int64_t rows, int64_t in, int64_t out, const float *x,
                                     int64_t ldx, const float *w, const float *b, float *y,
                                     int64_t ldy, int threads);
/* dx += dy·W; dW += dyᵀ·x; db += Σ_rows dy. Any of dx, dw, db may be NULL. */
ATTN_INTERNAL int attn_dense_backward(int64_t rows, int64_t in, int64_t out, const float *x,
                                      int64_t ldx, const float *w, const float *dy, int64_t ldy,
                                      float *dx, int64_t lddx, float *dw, float *db, int threads);

/* Random init helpers (Philox). */
ATTN_INTERNAL float attn_normal_sample(uint64_t seed, uint64_t offset, uint64_t index);

#endif
