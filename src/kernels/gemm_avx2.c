/* gemm_avx2.c — AVX2/FMA micro-kernel of attn_sgemm: a 6×16 tile of C in 12 ymm accumulators.
 * Each k step loads one 16-wide row of the B panel (2 ymm), broadcasts the 6 values of the A
 * panel's column and issues 12 independent FMAs (2 ports × 5 cycles of latency ≈ 10 needed).
 * Ragged tiles use masked loads/stores; fewer rows use a kernel compiled for that count. */
#include "gemm_internal.h"

#include "gemm_transpose8.h"

#define MR 6
#define NV 2 /* ymm per row */
#define NR (8 * NV)

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
    for (int v = 0; v < NV; v++) mask[v] = gemm_lane_mask8(nr - 8 * v);
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

static void pack_bt(int64_t kc, int nr, const float *b, int64_t ldb, float *dst)
{
    for (int64_t k0 = 0; k0 < kc; k0 += 8) {
        const int kk = kc - k0 < 8 ? (int)(kc - k0) : 8;
        const __m256i km = gemm_lane_mask8(kk);
        for (int j0 = 0; j0 < NR; j0 += 8) {
            __m256 r[8];
            for (int j = 0; j < 8; j++)
                r[j] = j0 + j < nr ? _mm256_maskload_ps(b + (j0 + j) * ldb + k0, km)
                                   : _mm256_setzero_ps();
            gemm_transpose8(r);
            for (int k = 0; k < kk; k++) _mm256_storeu_ps(dst + (k0 + k) * NR + j0, r[k]);
        }
    }
}

static inline float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* One row of C = a·Bᵀ: four rows of B at a time, each summed in 8 lanes along k, then
 * reduced across lanes in a fixed order. */
static void dotrow(int64_t K, const float *a, const float *b, int64_t ldb, float *c, int64_t n,
                   float alpha, float beta)
{
    const int64_t kfull = K / 8 * 8;
    const __m256i tail = gemm_lane_mask8((int)(K - kfull));
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const float *b0 = b + j * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        for (int64_t k = 0; k < kfull; k += 8) {
            __m256 av = _mm256_loadu_ps(a + k);
            s0 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b0 + k), s0);
            s1 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b1 + k), s1);
            s2 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b2 + k), s2);
            s3 = _mm256_fmadd_ps(av, _mm256_loadu_ps(b3 + k), s3);
        }
        if (kfull < K) {
            __m256 av = _mm256_maskload_ps(a + kfull, tail);
            s0 = _mm256_fmadd_ps(av, _mm256_maskload_ps(b0 + kfull, tail), s0);
            s1 = _mm256_fmadd_ps(av, _mm256_maskload_ps(b1 + kfull, tail), s1);
            s2 = _mm256_fmadd_ps(av, _mm256_maskload_ps(b2 + kfull, tail), s2);
            s3 = _mm256_fmadd_ps(av, _mm256_maskload_ps(b3 + kfull, tail), s3);
        }
        float r[4] = {hsum8(s0), hsum8(s1), hsum8(s2), hsum8(s3)};
        for (int q = 0; q < 4; q++)
            c[j + q] = beta != 0.0f ? alpha * r[q] + beta * c[j + q] : alpha * r[q];
    }
    for (; j < n; j++) {
        const float *bj = b + j * ldb;
        __m256 s = _mm256_setzero_ps();
        for (int64_t k = 0; k < kfull; k += 8)
            s = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(bj + k), s);
        if (kfull < K)
            s = _mm256_fmadd_ps(_mm256_maskload_ps(a + kfull, tail),
                                _mm256_maskload_ps(bj + kfull, tail), s);
        float r = hsum8(s);
        c[j] = beta != 0.0f ? alpha * r + beta * c[j] : alpha * r;
    }
}

static void pack_a(int trans, int64_t kc, int mr, const float *a, int64_t lda, float *dst)
{
    gemm_pack_a8(MR, trans, kc, mr, a, lda, dst);
}

const attn_gemm_arch attn_gemm_arch_avx2 = {MR, NR, kernel, pack_a, pack_bt, dotrow};
