/* gemm_avx2.c — AVX2/FMA micro-kernel of attn_sgemm: a 6×16 tile of C in 12 ymm accumulators.
 * Each k step loads one 16-wide row of the B panel (2 ymm), broadcasts the 6 values of the A
 * panel's column and issues 12 independent FMAs (2 ports × 5 cycles of latency ≈ 10 needed).
 * Ragged tiles use masked loads/stores; fewer rows use a kernel compiled for that count. */
#include "gemm_internal.h"

#include "gemm_transpose8.h"

#define MR 6
#define NR 16 /* two ymm per row */

/* One row of C from its two accumulators: C = alpha·acc + beta·C (beta = 0: C is not read);
 * nr < NR stores only the first nr columns. */
static inline __attribute__((always_inline)) void store_row(float *ci, __m256 a0, __m256 a1,
                                                            int nr, float alpha, float beta)
{
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    __m256 r0 = _mm256_mul_ps(va, a0), r1 = _mm256_mul_ps(va, a1);
    if (nr == NR) {
        if (beta != 0.0f) {
            r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci), r0);
            r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8), r1);
        }
        _mm256_storeu_ps(ci, r0);
        _mm256_storeu_ps(ci + 8, r1);
        return;
    }
    const __m256i m0 = gemm_lane_mask8(nr), m1 = gemm_lane_mask8(nr - 8);
    if (beta != 0.0f) {
        r0 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(ci, m0), r0);
        r1 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(ci + 8, m1), r1);
    }
    _mm256_maskstore_ps(ci, m0, r0);
    _mm256_maskstore_ps(ci + 8, m1, r1);
}

/* The accumulators are named variables, not an array: GCC 12 keeps an array of vectors in
 * registers but also stores it back to the stack on every k step (12 stores per 12 FMAs),
 * which held this kernel to 40 % of OpenBLAS on Zen 3. */
#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)

static inline __attribute__((always_inline)) void tile(const int rows, int64_t kc, const float *a,
                                                       const float *b, int64_t bs, float *c,
                                                       int64_t ldc, int mr, int nr, float alpha,
                                                       float beta)
{
#define DECL(i) __m256 c##i##0 = _mm256_setzero_ps(), c##i##1 = _mm256_setzero_ps();
    ROWS(DECL)
#undef DECL
    for (int64_t k = 0; k < kc; k++) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#define FMA(i)                                                                                 \
    if (i < rows) {                                                                            \
        const __m256 ai = _mm256_broadcast_ss(a + i);                                          \
        c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);                                            \
        c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);                                            \
    }
        ROWS(FMA)
#undef FMA
        a += MR;
        b += bs;
    }
#define STORE(i) \
    if (i < rows && i < mr) store_row(c + i * ldc, c##i##0, c##i##1, nr, alpha, beta);
    ROWS(STORE)
#undef STORE
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

/* Rows of 16 as two vectors: a memcpy call per 64-byte row cost ~2 % of a training step. */
static void pack_b(int64_t kc, int nr, const float *b, int64_t ldb, float *dst)
{
    if (nr == NR)
        for (int64_t k = 0; k < kc; k++, b += ldb, dst += NR) {
            _mm256_storeu_ps(dst, _mm256_loadu_ps(b));
            _mm256_storeu_ps(dst + 8, _mm256_loadu_ps(b + 8));
        }
    else
        for (int64_t k = 0; k < kc; k++, b += ldb, dst += NR) {
            _mm256_storeu_ps(dst, gemm_load_first8(b, nr < 8 ? nr : 8));
            _mm256_storeu_ps(dst + 8, gemm_load_first8(b + 8, nr > 8 ? nr - 8 : 0));
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

/* m rows of C = A·Bᵀ (row i of A at a + i*lda) against n rows of B, three rows of A by four
 * of B at a time: 12 accumulators, and each A and B vector loaded once serves 4 or 3 FMAs, so
 * B is read in place, never packed. Every element is its own 8-lane sum along k, reduced as in
 * dotrow, so it gets the same bits whether its row is in a group of three or left to dotrow. */
static void dotrows(int64_t K, const float *a, int64_t lda, int64_t m, const float *b, int64_t ldb,
                    float *c, int64_t ldc, int64_t n, float alpha, float beta)
{
    const int64_t kfull = K / 8 * 8, m3 = m / 3 * 3, n4 = n / 4 * 4;
    const __m256i tail = gemm_lane_mask8((int)(K - kfull));
    /* four rows of B (in L1) against every group of three rows of A (from L2) */
    for (int64_t j = 0; j < n4; j += 4) {
        const float *b0 = b + j * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
        for (int64_t i = 0; i < m3; i += 3) {
            const float *a0 = a + i * lda, *a1 = a0 + lda, *a2 = a1 + lda;
            __m256 s00 = _mm256_setzero_ps(), s01 = s00, s02 = s00, s03 = s00;
            __m256 s10 = s00, s11 = s00, s12 = s00, s13 = s00;
            __m256 s20 = s00, s21 = s00, s22 = s00, s23 = s00;
#define DOT_STEP(LOAD)                                                                             \
    do {                                                                                           \
        const __m256 x0 = LOAD(a0), x1 = LOAD(a1), x2 = LOAD(a2);                                  \
        __m256 y = LOAD(b0);                                                                       \
        s00 = _mm256_fmadd_ps(x0, y, s00), s10 = _mm256_fmadd_ps(x1, y, s10);                      \
        s20 = _mm256_fmadd_ps(x2, y, s20);                                                         \
        y = LOAD(b1);                                                                              \
        s01 = _mm256_fmadd_ps(x0, y, s01), s11 = _mm256_fmadd_ps(x1, y, s11);                      \
        s21 = _mm256_fmadd_ps(x2, y, s21);                                                         \
        y = LOAD(b2);                                                                              \
        s02 = _mm256_fmadd_ps(x0, y, s02), s12 = _mm256_fmadd_ps(x1, y, s12);                      \
        s22 = _mm256_fmadd_ps(x2, y, s22);                                                         \
        y = LOAD(b3);                                                                              \
        s03 = _mm256_fmadd_ps(x0, y, s03), s13 = _mm256_fmadd_ps(x1, y, s13);                      \
        s23 = _mm256_fmadd_ps(x2, y, s23);                                                         \
    } while (0)
#define FULL(p) _mm256_loadu_ps((p) + k)
#define PART(p) _mm256_maskload_ps((p) + kfull, tail)
            for (int64_t k = 0; k < kfull; k += 8) DOT_STEP(FULL);
            if (kfull < K) DOT_STEP(PART);
#undef FULL
#undef PART
#undef DOT_STEP
            const float r[3][4] = {{hsum8(s00), hsum8(s01), hsum8(s02), hsum8(s03)},
                                   {hsum8(s10), hsum8(s11), hsum8(s12), hsum8(s13)},
                                   {hsum8(s20), hsum8(s21), hsum8(s22), hsum8(s23)}};
            for (int u = 0; u < 3; u++)
                for (int q = 0; q < 4; q++) {
                    float *cq = c + (i + u) * ldc + j + q;
                    *cq = beta != 0.0f ? alpha * r[u][q] + beta * *cq : alpha * r[u][q];
                }
        }
    }
    /* the columns past the last group of four, then the rows past the last group of three */
    if (n4 < n)
        for (int64_t i = 0; i < m3; i++)
            dotrow(K, a + i * lda, b + n4 * ldb, ldb, c + i * ldc + n4, n - n4, alpha, beta);
    for (int64_t i = m3; i < m; i++) dotrow(K, a + i * lda, b, ldb, c + i * ldc, n, alpha, beta);
}

static void pack_a(int trans, int64_t kc, int mr, const float *a, int64_t lda, float *dst)
{
    gemm_pack_a8(MR, trans, kc, mr, a, lda, dst);
}

const attn_gemm_arch attn_gemm_arch_avx2 = {MR,     NR,      kernel, pack_a,
                                            pack_b, pack_bt, dotrow, dotrows};
