/* gemm_avx2.c — AVX2/FMA micro-kernel of attn_sgemm: a 6×16 tile of C in 12 ymm accumulators.
 * Each k step loads one 16-wide row of the B panel (2 ymm), broadcasts the 6 values of the A
 * panel's column and issues 12 independent FMAs (2 ports × 5 cycles of latency ≈ 10 needed).
 * Ragged tiles use masked loads/stores; fewer rows use a kernel compiled for that count. */
#include "gemm_internal.h"

#include <immintrin.h>

#define MR 6
#define NV 2 /* ymm per row */
#define NR (8 * NV)

static inline __m256i lane_mask(int left)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(left), idx);
}

static inline __attribute__((always_inline)) void tile(const int rows, int64_t kc, const float *a,
                                                       const float *b, int64_t bs, float *c,
                                                       int64_t ldc, int mr, int nr, float alpha,
                                                       float beta)
{
    __m256 acc[MR][NV];
    for (int i = 0; i < rows; i++)
        for (int v = 0; v < NV; v++) acc[i][v] = _mm256_setzero_ps();

    for (int64_t k = 0; k < kc; k++) {
        __m256 bv[NV];
        for (int v = 0; v < NV; v++) bv[v] = _mm256_loadu_ps(b + 8 * v);
        for (int i = 0; i < rows; i++) {
            __m256 ai = _mm256_broadcast_ss(a + i);
            for (int v = 0; v < NV; v++) acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
        }
        a += MR;
        b += bs;
    }

    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    if (nr == NR) {
        for (int i = 0; i < rows && i < mr; i++) {
            float *ci = c + i * ldc;
            for (int v = 0; v < NV; v++) {
                __m256 r = _mm256_mul_ps(va, acc[i][v]);
                if (beta != 0.0f) r = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8 * v), r);
                _mm256_storeu_ps(ci + 8 * v, r);
            }
        }
        return;
    }
    __m256i mask[NV];
    for (int v = 0; v < NV; v++) mask[v] = lane_mask(nr - 8 * v);
    for (int i = 0; i < rows && i < mr; i++) {
        float *ci = c + i * ldc;
        for (int v = 0; v < NV; v++) {
            __m256 r = _mm256_mul_ps(va, acc[i][v]);
            if (beta != 0.0f) r = _mm256_fmadd_ps(vb, _mm256_maskload_ps(ci + 8 * v, mask[v]), r);
            _mm256_maskstore_ps(ci + 8 * v, mask[v], r);
        }
    }
}

#define ROWS_KERNEL(R)                                                                         \
    static void kernel_##R(int64_t kc, const float *a, const float *b, int64_t bs, float *c,   \
                           int64_t ldc, int mr, int nr, float alpha, float beta)               \
    {                                                                                          \
        tile(R, kc, a, b, bs, c, ldc, mr, nr, alpha, beta);                                    \
    }
ROWS_KERNEL(1)
ROWS_KERNEL(2)
ROWS_KERNEL(3)
ROWS_KERNEL(4)
ROWS_KERNEL(5)
ROWS_KERNEL(6)

static void kernel(int64_t kc, const float *a, const float *b, int64_t bs, float *c, int64_t ldc,
                   int mr, int nr, float alpha, float beta)
{
    switch (mr) {
    case 1: kernel_1(kc, a, b, bs, c, ldc, mr, nr, alpha, beta); break;
    case 2: kernel_2(kc, a, b, bs, c, ldc, mr, nr, alpha, beta); break;
    case 3: kernel_3(kc, a, b, bs, c, ldc, mr, nr, alpha, beta); break;
    case 4: kernel_4(kc, a, b, bs, c, ldc, mr, nr, alpha, beta); break;
    case 5: kernel_5(kc, a, b, bs, c, ldc, mr, nr, alpha, beta); break;
    default: kernel_6(kc, a, b, bs, c, ldc, mr, nr, alpha, beta); break;
    }
}

/* In-register 8×8 transpose: r[i] row i in, r[c] column c out. */
static inline void transpose8(__m256 r[8])
{
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) { /* u[4i+e], lane l: rows 4i..4i+3, element 4l+e */
        u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int e = 0; e < 4; e++) {
        r[e] = _mm256_permute2f128_ps(u[e], u[4 + e], 0x20);
        r[4 + e] = _mm256_permute2f128_ps(u[e], u[4 + e], 0x31);
    }
}

static void pack_bt(int64_t kc, int nr, const float *b, int64_t ldb, float *dst)
{
    for (int64_t k0 = 0; k0 < kc; k0 += 8) {
        const int kk = kc - k0 < 8 ? (int)(kc - k0) : 8;
        const __m256i km = lane_mask(kk);
        for (int j0 = 0; j0 < NR; j0 += 8) {
            __m256 r[8];
            for (int j = 0; j < 8; j++)
                r[j] = j0 + j < nr ? _mm256_maskload_ps(b + (j0 + j) * ldb + k0, km)
                                   : _mm256_setzero_ps();
            transpose8(r);
            for (int k = 0; k < kk; k++) _mm256_storeu_ps(dst + (k0 + k) * NR + j0, r[k]);
        }
    }
}

const attn_gemm_arch attn_gemm_arch_avx2 = {MR, NR, kernel, pack_bt, NULL};
