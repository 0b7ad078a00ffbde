/* gemm_internal.h — what the GEMM driver (gemm.c) and its SIMD micro-kernels share.
 *
 * The driver packs op(A) into MR-row micro-panels (a[k*MR + i], zero-padded past the last row)
 * and op(B) into NR-column micro-panels (b[k*NR + j], zero-padded past the last column), or
 * lets the kernel read B in place when B is not transposed (row k of the panel at b + k*bs).
 * A micro-kernel multiplies one MR×kc panel by one kc×NR panel and writes the mr×nr corner of
 * the result to C:
 *
 *     acc = Σ_k a[k][i]·b[k][j]     k = 0, 1, …, kc−1 in this order, starting from 0
 *     C[i][j] = alpha·acc + beta·C[i][j]   (beta = 0: C's old value is never read)
 *
 * The order of the sum depends only on kc, never on where the tile sits or which thread runs
 * it; that is what makes the product independent of the thread count. */
#ifndef ATTN_GEMM_INTERNAL_H
#define ATTN_GEMM_INTERNAL_H

#include "internal.h"

/* a: packed A panel [kc][MR]; b: B panel, row k at b + k*bs, NR floats readable per row;
 * c: C tile, row i at c + i*ldc; 1 ≤ mr ≤ MR, 1 ≤ nr ≤ NR. */
typedef void (*attn_gemm_ukernel)(int64_t kc, const float *a, const float *b, int64_t bs,
                                  float *c, int64_t ldc, int mr, int nr, float alpha, float beta);

/* c[i] = alpha·Σ_k a[k]·b[k] + beta·c[i] for one row of C against n rows of B, where both
 * operands are contiguous along k (C = A·Bᵀ with a few rows of A): row j of B at b + j*ldb. */
typedef void (*attn_gemm_dotrow)(int64_t K, const float *a, const float *b, int64_t ldb,
                                 float *c, int64_t n, float alpha, float beta);

/* Pack an NR-column panel of op(B) = Bᵀ: dst[k*NR + j] = b[j*ldb + k] for k < kc, j < nr,
 * and 0 for nr ≤ j < NR (b points at the panel's first stored row). */
typedef void (*attn_gemm_pack_bt)(int64_t kc, int nr, const float *b, int64_t ldb, float *dst);

/* Pack an NR-column panel of op(B) = B: dst[k*NR + j] = b[k*ldb + j] for k < kc, j < nr, and
 * 0 for nr ≤ j < NR (b points at the panel's first element). */
typedef void (*attn_gemm_pack_b)(int64_t kc, int nr, const float *b, int64_t ldb, float *dst);

/* Pack an MR-row panel of op(A): dst[k*MR + i] for k < kc, zero for mr ≤ i < MR. trans = 0:
 * row i at a + i*lda; trans = 1: op(A)[i][k] at a + k*lda + i. */
typedef void (*attn_gemm_pack_a)(int trans, int64_t kc, int mr, const float *a, int64_t lda,
                                 float *dst);

/* m rows of C = A·Bᵀ at once (row i of A at a + i*lda, of C at c + i*ldc), each element
 * with the same bits dotrow gives it. */
typedef void (*attn_gemm_dotrows)(int64_t K, const float *a, int64_t lda, int64_t m,
                                  const float *b, int64_t ldb, float *c, int64_t ldc, int64_t n,
                                  float alpha, float beta);

typedef struct attn_gemm_arch {
    int mr, nr;               /* micro-tile */
    attn_gemm_ukernel kernel;
    attn_gemm_pack_a pack_a;  /* NULL: the driver's scalar loop */
    attn_gemm_pack_b pack_b;  /* NULL: the driver's memcpy per row */
    attn_gemm_pack_bt pack_bt; /* NULL: the driver's scalar loop */
    attn_gemm_dotrow dotrow;  /* NULL: the driver's portable loop */
    attn_gemm_dotrows dotrows; /* NULL: only a few rows take the dot-product path */
} attn_gemm_arch;

/* Run fn(arg, tid) on the calling thread (tid 0) and on up to nt − 1 pool workers that join
 * while it runs (tids 1, 2, …; possibly none). Returns when every participant has returned.
 * fn must share out its work dynamically. gemm_pool.c. */
ATTN_INTERNAL void attn_gemm_run(void (*fn)(void *arg, int tid), void *arg, int nt);

ATTN_INTERNAL extern const attn_gemm_arch attn_gemm_arch_avx512;
ATTN_INTERNAL extern const attn_gemm_arch attn_gemm_arch_avx2;

#endif
