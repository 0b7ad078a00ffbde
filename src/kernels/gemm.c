/* gemm.c — single-precision matrix product (portable placeholder, replaced by the tiled,
 * multi-threaded kernel). */
#include "internal.h"

int attn_sgemm(attn_trans ta, attn_trans tb, int64_t M, int64_t N, int64_t K, float alpha,
               const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
               int64_t ldc, int num_threads)
{
    static const char fn[] = "attn_sgemm";
    if (M < 0 || N < 0 || K < 0) return attn_fail(ATTN_E_ARG, "%s: negative size", fn);
    if (M == 0 || N == 0) return ATTN_OK;
    ATTN_REQUIRE_NONNULL(fn, C);
    if (K > 0) {
        ATTN_REQUIRE_NONNULL(fn, A);
        ATTN_REQUIRE_NONNULL(fn, B);
    }
    if (ldc < N || lda < (ta ? M : K) || ldb < (tb ? K : N))
        return attn_fail(ATTN_E_ARG, "%s: leading dimension too small", fn);
    int nt = attn_resolve_threads(num_threads);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            float acc = 0;
            for (int64_t p = 0; p < K; p++) {
                float a = ta ? A[p * lda + i] : A[i * lda + p];
                float b = tb ? B[j * ldb + p] : B[p * ldb + j];
                acc += a * b;
            }
            float *c = &C[i * ldc + j];
            *c = beta == 0.0f ? alpha * acc : alpha * acc + beta * *c;
        }
    }
    return ATTN_OK;
}
