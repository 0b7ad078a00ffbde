/* flash_ops.c — the fused kernel's primitives in portable C (always built, always tested), and
 * the choice among the ISA variants (flash_avx2.c, flash_avx512.c) by attn_get_isa(). */
#include "flash_internal.h"

#include <string.h>

static void gemm_portable(int64_t M, int64_t N, int64_t K, const float *A, int64_t ars,
                          int64_t acs, const float *B, int64_t ldb, float *C, int64_t ldc,
                          float alpha, int acc)
{
    /* sums in double: one rounding per element, as plain C has no fused FMA */
    double row[FLASH_MAX_E > FLASH_BR ? FLASH_MAX_E : FLASH_BR];
    for (int64_t n0 = 0; n0 < N; n0 += (int64_t)(sizeof row / sizeof row[0])) {
        int64_t nb = N - n0 < (int64_t)(sizeof row / sizeof row[0]) ? N - n0
                                                                   : (int64_t)(sizeof row / sizeof row[0]);
        for (int64_t m = 0; m < M; m++) {
            for (int64_t n = 0; n < nb; n++) row[n] = 0;
            for (int64_t k = 0; k < K; k++) {
                double a = A[m * ars + k * acs];
                const float *b = B + k * ldb + n0;
                for (int64_t n = 0; n < nb; n++) row[n] += a * b[n];
            }
            float *c = C + m * ldc + n0;
            if (acc)
                for (int64_t n = 0; n < nb; n++) c[n] += alpha * (float)row[n];
            else
                for (int64_t n = 0; n < nb; n++) c[n] = alpha * (float)row[n];
        }
    }
}

static void softmax_cols_portable(float *S, int64_t lds, int64_t rows, int64_t ncols, float *m,
                                  float *l, float *alpha)
{
    for (int64_t c = 0; c < ncols; c++) {
        float mx = m[c];
        for (int64_t r = 0; r < rows; r++)
            if (S[r * lds + c] > mx) mx = S[r * lds + c];
        float use = mx == -INFINITY ? 0.0f : mx;
        alpha[c] = expf(m[c] - use);
        float sum = 0;
        for (int64_t r = 0; r < rows; r++) {
            float e = expf(S[r * lds + c] - use);
            S[r * lds + c] = e;
            sum += e;
        }
        l[c] = l[c] * alpha[c] + sum;
        m[c] = mx;
    }
}

static void scale_cols_portable(float *X, int64_t ldx, int64_t rows, int64_t ncols,
                                const float *alpha)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < ncols; c++) X[r * ldx + c] *= alpha[c];
}

static void exp_rows_portable(float *S, int64_t lds, int64_t rows, int64_t ncols, const float *lse)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < ncols; c++) S[r * lds + c] = expf(S[r * lds + c] - lse[r]);
}

static void ds_rows_portable(const float *P, float *dP, int64_t ld, int64_t rows, int64_t ncols,
                             const float *D)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < ncols; c++)
            dP[r * ld + c] = P[r * ld + c] == 1.0f ? 0.0f : P[r * ld + c] * (dP[r * ld + c] - D[r]);
}

static void dots_portable(int64_t n, int64_t E, const float *q, const float *k, int64_t ldk,
                          float alpha, float *s)
{
    for (int64_t j = 0; j < n; j++) { /* double: one rounding, as plain C has no fused FMA */
        double acc = 0;
        for (int64_t e = 0; e < E; e++) acc += (double)q[e] * k[j * ldk + e];
        s[j] = alpha * (float)acc;
    }
}

static void axpy_portable(int64_t n, float w, const float *v, float *o)
{
    for (int64_t e = 0; e < n; e++) o[e] += w * v[e];
}

static void transpose_portable(int64_t rows, int64_t cols, const float *src, int64_t lds,
                               float *dst, int64_t ldd)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) dst[c * ldd + r] = src[r * lds + c];
}

const flash_ops *flash_ops_portable(void)
{
    static const flash_ops ops = {ATTN_ISA_PORTABLE, gemm_portable,   softmax_cols_portable,
                                  scale_cols_portable, exp_rows_portable, ds_rows_portable,
                                  dots_portable,     axpy_portable,   transpose_portable};
    return &ops;
}

const flash_ops *flash_ops_current(void)
{
    switch (attn_get_isa()) {
#if defined(__x86_64__)
    case ATTN_ISA_AVX512: return flash_ops_avx512();
    case ATTN_ISA_AVX2: return flash_ops_avx2();
#endif
    default: return flash_ops_portable();
    }
}
