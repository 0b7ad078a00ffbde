/* gemm_transpose8.h — an in-register 8×8 float transpose for the AVX2 and AVX-512 files of
 * attn_sgemm (include only from files compiled with AVX enabled). */
#ifndef ATTN_GEMM_TRANSPOSE8_H
#define ATTN_GEMM_TRANSPOSE8_H

#include <immintrin.h>

/* r[i] row i in, r[c] column c out: rows interleaved in pairs, then quads within 128-bit
 * lanes, then the lanes swapped across registers. */
static inline void gemm_transpose8(__m256 r[8])
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

static inline __m256i gemm_lane_mask8(int left)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(left), idx);
}

/* The first n (0..8) lanes from / to memory; the others read as zero / left untouched.
 * AVX-512VL masks where available: AVX2's vmaskmovps is slow on some cores (AMD). */
static inline __m256 gemm_load_first8(const float *p, int n)
{
#ifdef __AVX512VL__
    return _mm256_maskz_loadu_ps((__mmask8)((1u << n) - 1), p);
#else
    return _mm256_maskload_ps(p, gemm_lane_mask8(n));
#endif
}

static inline void gemm_store_first8(float *p, int n, __m256 v)
{
#ifdef __AVX512VL__
    _mm256_mask_storeu_ps(p, (__mmask8)((1u << n) - 1), v);
#else
    _mm256_maskstore_ps(p, gemm_lane_mask8(n), v);
#endif
}

/* Pack one MR-row panel (MR ≤ 8) of op(A) for kc values of k: dst[k*MR + i], zero for
 * i ≥ mr. trans = 0: row i of the panel at a + i*lda (contiguous along k), transposed 8×8
 * at a time; trans = 1: the panel's row-vector for k at a + k*lda (contiguous along i). */
static inline void gemm_pack_a8(const int MR, int trans, int64_t kc, int mr, const float *a,
                                int64_t lda, float *dst)
{
    if (trans) {
        /* One short run per k at stride lda, often from memory: fetch PF rows ahead (a
         * prefetch is only a hint, it may point past the matrix). */
        enum { PF = 48 };
        int64_t k = 0;
        if (mr == 8) /* a full row-vector: plain loads */
            for (; k + 1 < kc; k++) {
                _mm_prefetch((const char *)(a + (k + PF) * lda), _MM_HINT_T0);
                _mm_prefetch((const char *)(a + (k + PF) * lda + 7), _MM_HINT_T0);
                _mm256_storeu_ps(dst + k * MR, _mm256_loadu_ps(a + k * lda));
            }
        for (; k + 1 < kc; k++) { /* 8-wide stores overlap the next k's slot, rewritten next */
            _mm_prefetch((const char *)(a + (k + PF) * lda), _MM_HINT_T0);
            _mm_prefetch((const char *)(a + (k + PF) * lda + MR - 1), _MM_HINT_T0);
            _mm256_storeu_ps(dst + k * MR, gemm_load_first8(a + k * lda, mr));
        }
        if (k < kc) gemm_store_first8(dst + k * MR, MR, gemm_load_first8(a + k * lda, mr));
        return;
    }
    __m256 r[8];
    int64_t k0 = 0;
    for (; k0 + 8 < kc; k0 += 8) { /* full 8×8 blocks, not the last */
        for (int i = 0; i < 8; i++)
            r[i] = i < mr ? _mm256_loadu_ps(a + i * lda + k0) : _mm256_setzero_ps();
        gemm_transpose8(r);
        for (int k = 0; k < 8; k++) _mm256_storeu_ps(dst + (k0 + k) * MR, r[k]);
    }
    const int kk = (int)(kc - k0);
    for (int i = 0; i < 8; i++)
        r[i] = i < mr ? gemm_load_first8(a + i * lda + k0, kk) : _mm256_setzero_ps();
    gemm_transpose8(r);
    for (int k = 0; k < kk; k++) {
        if (k + 1 < kk)
            _mm256_storeu_ps(dst + (k0 + k) * MR, r[k]);
        else
            gemm_store_first8(dst + (k0 + k) * MR, MR, r[k]);
    }
}

#endif
