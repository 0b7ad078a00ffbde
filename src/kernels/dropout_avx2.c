/* dropout_avx2.c — 64 dropout decisions at once on AVX2: Philox4x32-10 of 16 consecutive
 * blocks in the 8 lanes of two sets of ymm registers, then the keep test; the same numbers and
 * decisions as attn_philox4x32 / attn_dropout_keep and as dropout_avx512.c.
 *
 * vpmuludq multiplies the even 32-bit lanes into 64-bit products; the odd lanes are shifted
 * down and multiplied by a second vpmuludq; blends put the high and low halves back in their
 * lanes. The keep test (r >> 8) ≥ thresh compares values below 2^24 + 1, so the signed
 * comparison x > thresh − 1 decides it. */
#include "internal.h"

#include <immintrin.h>

static inline void mul_hilo(__m256i a, __m256i m, __m256i *hi, __m256i *lo)
{
    const __m256i even = _mm256_mul_epu32(a, m), odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}

/* The 32 decisions of blocks block … block + 7 (lane i = block + i). */
static inline void keep32(uint64_t block, uint64_t offset, const uint32_t key[2], __m256i tm1,
                          uint8_t keep[32])
{
    uint32_t lo[8], hi[8];
    for (int i = 0; i < 8; i++)
        lo[i] = (uint32_t)(block + (uint64_t)i), hi[i] = (uint32_t)((block + (uint64_t)i) >> 32);
    __m256i c0 = _mm256_loadu_si256((const __m256i *)lo);
    __m256i c1 = _mm256_loadu_si256((const __m256i *)hi);
    __m256i c2 = _mm256_set1_epi32((int)(uint32_t)offset);
    __m256i c3 = _mm256_set1_epi32((int)(uint32_t)(offset >> 32));
    const __m256i m0 = _mm256_set1_epi32((int)0xD2511F53u), m1 = _mm256_set1_epi32((int)0xCD9E8D57u);
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        __m256i h0, l0, h1, l1;
        mul_hilo(c0, m0, &h0, &l0);
        mul_hilo(c2, m1, &h1, &l1);
        const __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(h1, c1), _mm256_set1_epi32((int)k0));
        const __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(h0, c3), _mm256_set1_epi32((int)k1));
        c0 = n0, c1 = l1, c2 = n2, c3 = l0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    /* element 4·i + w is word w of block i: byte w of the 32-bit lane i */
    const __m256i d0 = _mm256_cmpgt_epi32(_mm256_srli_epi32(c0, 8), tm1),
                  d1 = _mm256_cmpgt_epi32(_mm256_srli_epi32(c1, 8), tm1),
                  d2 = _mm256_cmpgt_epi32(_mm256_srli_epi32(c2, 8), tm1),
                  d3 = _mm256_cmpgt_epi32(_mm256_srli_epi32(c3, 8), tm1);
    __m256i bytes = _mm256_and_si256(d0, _mm256_set1_epi32(0x1));
    bytes = _mm256_or_si256(bytes, _mm256_and_si256(d1, _mm256_set1_epi32(0x100)));
    bytes = _mm256_or_si256(bytes, _mm256_and_si256(d2, _mm256_set1_epi32(0x10000)));
    bytes = _mm256_or_si256(bytes, _mm256_and_si256(d3, _mm256_set1_epi32(0x1000000)));
    _mm256_storeu_si256((__m256i *)keep, bytes);
}

void attn_dropout_keep64_avx2(uint64_t block, uint64_t offset, const uint32_t key[2], uint32_t thresh,
                              uint8_t keep[64])
{
    const __m256i tm1 = _mm256_set1_epi32((int)thresh - 1); /* thresh ≤ 2^24 */
    keep32(block, offset, key, tm1, keep);
    keep32(block + 8, offset, key, tm1, keep + 32);
}
