/* gemm_avx512.c — AVX-512 micro-kernel of attn_sgemm: a 6×64 tile of C held in 24 zmm
 * accumulators. Each k step loads one 64-wide row of the B panel (4 zmm), broadcasts the 6
 * values of the A panel's column and issues 24 independent FMAs — enough chains in flight to
 * cover the FMA latency on both Intel (2 ports × 4 cycles) and AMD (4 cycles, 512-bit ops
 * double-pumped). Ragged tiles use masked stores; fewer rows use a kernel compiled for that
 * row count so no FMA is spent on padding. */
#include "gemm_internal.h"

#include "gemm_transpose8.h"

#define MR 6
#define NR 64 /* four zmm per row */

/* One row of C from its four accumulators: C = alpha·acc + beta·C (beta = 0: C is not read),
 * only the first nr columns. */
static inline __attribute__((always_inline)) void store_row(float *ci, __m512 a0, __m512 a1,
                                                            __m512 a2, __m512 a3, int nr,
                                                            float alpha, float beta)
{
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    __m512 r[4] = {_mm512_mul_ps(va, a0), _mm512_mul_ps(va, a1), _mm512_mul_ps(va, a2),
                   _mm512_mul_ps(va, a3)};
    for (int v = 0; v < 4; v++) {
        const int left = nr - 16 * v;
        const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF
                            : left <= 0 ? (__mmask16)0
                                        : (__mmask16)((1u << left) - 1);
        if (beta != 0.0f) r[v] = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m, ci + 16 * v), r[v]);
        _mm512_mask_storeu_ps(ci + 16 * v, m, r[v]);
    }
}

/* The accumulators are named variables, not an array: GCC 12 keeps an array of vectors in
 * registers but also stores it back to the stack on every k step (one store per FMA); on the
 * AVX2 kernel of the same shape that cost 2.5× (Zen 3: 38–40 % of OpenBLAS before, 0.88–1.10×
 * after on Transformer shapes). The sums are the same, in the same order. */
#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)

static inline __attribute__((always_inline)) void tile(const int rows, int64_t kc, const float *a,
                                                       const float *b, int64_t bs, float *c,
                                                       int64_t ldc, int mr, int nr, float alpha,
                                                       float beta)
{
#define DECL(i)                                                                                \
    __m512 c##i##0 = _mm512_setzero_ps(), c##i##1 = _mm512_setzero_ps(),                       \
           c##i##2 = _mm512_setzero_ps(), c##i##3 = _mm512_setzero_ps();
    ROWS(DECL)
#undef DECL
    for (int64_t k = 0; k < kc; k++) {
        const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16),
                     b2 = _mm512_loadu_ps(b + 32), b3 = _mm512_loadu_ps(b + 48);
#define FMA(i)                                                                                 \
    if (i < rows) {                                                                            \
        const __m512 ai = _mm512_set1_ps(a[i]);                                                \
        c##i##0 = _mm512_fmadd_ps(ai, b0, c##i##0);                                            \
        c##i##1 = _mm512_fmadd_ps(ai, b1, c##i##1);                                            \
        c##i##2 = _mm512_fmadd_ps(ai, b2, c##i##2);                                            \
        c##i##3 = _mm512_fmadd_ps(ai, b3, c##i##3);                                            \
    }
        ROWS(FMA)
#undef FMA
        a += MR;
        b += bs;
    }
#define STORE(i)                                                                               \
    if (i < rows && i < mr)                                                                    \
        store_row(c + i * ldc, c##i##0, c##i##1, c##i##2, c##i##3, nr, alpha, beta);
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

/* In-register 16×16 transpose: r[i] row i in, r[c] column c out. Three rounds of shuffles:
 * pairs of rows interleaved, then quads within 128-bit lanes, then 128-bit lanes across
 * registers. */
static inline void transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) { /* r[4i+e], lane l: rows 4i..4i+3, element 4l+e */
        r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int e = 0; e < 4; e++) {
        __m512 a = _mm512_shuffle_f32x4(r[e], r[4 + e], 0x88);
        __m512 b = _mm512_shuffle_f32x4(r[e], r[4 + e], 0xDD);
        __m512 c = _mm512_shuffle_f32x4(r[8 + e], r[12 + e], 0x88);
        __m512 d = _mm512_shuffle_f32x4(r[8 + e], r[12 + e], 0xDD);
        t[e] = _mm512_shuffle_f32x4(a, c, 0x88);
        t[8 + e] = _mm512_shuffle_f32x4(a, c, 0xDD);
        t[4 + e] = _mm512_shuffle_f32x4(b, d, 0x88);
        t[12 + e] = _mm512_shuffle_f32x4(b, d, 0xDD);
    }
    for (int i = 0; i < 16; i++) r[i] = t[i];
}

/* Rows of 64 as four vectors, masked past nr. */
static void pack_b(int64_t kc, int nr, const float *b, int64_t ldb, float *dst)
{
    for (int64_t k = 0; k < kc; k++, b += ldb, dst += NR)
        for (int j0 = 0; j0 < NR; j0 += 16) {
            const int n = nr - j0 < 0 ? 0 : nr - j0 > 16 ? 16 : nr - j0;
            _mm512_storeu_ps(dst + j0, _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), b + j0));
        }
}

static void pack_bt(int64_t kc, int nr, const float *b, int64_t ldb, float *dst)
{
    for (int64_t k0 = 0; k0 < kc; k0 += 16) {
        const int kk = kc - k0 < 16 ? (int)(kc - k0) : 16;
        const __mmask16 km = (__mmask16)((1u << kk) - 1);
        for (int j0 = 0; j0 < NR; j0 += 16) {
            __m512 r[16];
            for (int j = 0; j < 16; j++)
                r[j] = j0 + j < nr ? _mm512_maskz_loadu_ps(km, b + (j0 + j) * ldb + k0)
                                   : _mm512_setzero_ps();
            transpose16(r);
            for (int k = 0; k < kk; k++) _mm512_storeu_ps(dst + (k0 + k) * NR + j0, r[k]);
        }
    }
}

/* One row of C = a·Bᵀ: four rows of B at a time, each summed in 16 lanes along k, then
 * reduced across lanes in a fixed order. */
static void dotrow(int64_t K, const float *a, const float *b, int64_t ldb, float *c, int64_t n,
                   float alpha, float beta)
{
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const float *b0 = b + j * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        int64_t k = 0;
        for (; k + 16 <= K; k += 16) {
            __m512 av = _mm512_loadu_ps(a + k);
            s0 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b0 + k), s0);
            s1 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b1 + k), s1);
            s2 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b2 + k), s2);
            s3 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b3 + k), s3);
        }
        if (k < K) {
            __mmask16 m = (__mmask16)((1u << (K - k)) - 1);
            __m512 av = _mm512_maskz_loadu_ps(m, a + k);
            s0 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, b0 + k), s0);
            s1 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, b1 + k), s1);
            s2 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, b2 + k), s2);
            s3 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, b3 + k), s3);
        }
        float r[4] = {_mm512_reduce_add_ps(s0), _mm512_reduce_add_ps(s1),
                      _mm512_reduce_add_ps(s2), _mm512_reduce_add_ps(s3)};
        for (int q = 0; q < 4; q++)
            c[j + q] = beta != 0.0f ? alpha * r[q] + beta * c[j + q] : alpha * r[q];
    }
    for (; j < n; j++) {
        const float *bj = b + j * ldb;
        __m512 s = _mm512_setzero_ps();
        for (int64_t k = 0; k < K; k += 16) {
            __mmask16 m = K - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (K - k)) - 1);
            s = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + k), _mm512_maskz_loadu_ps(m, bj + k),
                                s);
        }
        float r = _mm512_reduce_add_ps(s);
        c[j] = beta != 0.0f ? alpha * r + beta * c[j] : alpha * r;
    }
}

static void pack_a(int trans, int64_t kc, int mr, const float *a, int64_t lda, float *dst)
{
    gemm_pack_a8(MR, trans, kc, mr, a, lda, dst);
}

const attn_gemm_arch attn_gemm_arch_avx512 = {MR,     NR,      kernel, pack_a,
                                              pack_b, pack_bt, dotrow, NULL};
