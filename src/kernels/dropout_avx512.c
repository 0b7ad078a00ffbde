/* dropout_avx512.c — 64 dropout decisions at once: Philox4x32-10 of 16 consecutive blocks in
 * the 16 lanes of zmm registers, then the keep test, the same numbers and decisions as
 * attn_philox4x32 / attn_dropout_keep.
 *
 * A Philox round needs the high and low halves of 32×32-bit products. vpmuludq multiplies the
 * even 32-bit lanes into 64-bit results; the odd lanes are shifted down and multiplied by a
 * second vpmuludq; blends put the halves back in their lanes. */
#include "internal.h"

#include <immintrin.h>

static inline void mul_hilo(__m512i a, __m512i m, __m512i *hi, __m512i *lo)
{
    const __m512i even = _mm512_mul_epu32(a, m), odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
    *lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
    *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
}

void attn_dropout_keep64_avx512(uint64_t block, uint64_t offset, const uint32_t key[2], uint32_t thresh,
                                uint8_t keep[64])
{
    uint32_t lo[16], hi[16];
    for (int i = 0; i < 16; i++) lo[i] = (uint32_t)(block + (uint64_t)i), hi[i] = (uint32_t)((block + (uint64_t)i) >> 32);
    __m512i c0 = _mm512_loadu_si512(lo), c1 = _mm512_loadu_si512(hi);
    __m512i c2 = _mm512_set1_epi32((int)(uint32_t)offset), c3 = _mm512_set1_epi32((int)(uint32_t)(offset >> 32));
    const __m512i m0 = _mm512_set1_epi32((int)0xD2511F53u), m1 = _mm512_set1_epi32((int)0xCD9E8D57u);
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        __m512i h0, l0, h1, l1;
        mul_hilo(c0, m0, &h0, &l0);
        mul_hilo(c2, m1, &h1, &l1);
        const __m512i n0 = _mm512_xor_si512(_mm512_xor_si512(h1, c1), _mm512_set1_epi32((int)k0));
        const __m512i n2 = _mm512_xor_si512(_mm512_xor_si512(h0, c3), _mm512_set1_epi32((int)k1));
        c0 = n0, c1 = l1, c2 = n2, c3 = l0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    /* element 4·i + w is word w of block i: byte w of the 32-bit lane i */
    const __m512i t = _mm512_set1_epi32((int)thresh);
    const __mmask16 d0 = _mm512_cmpge_epu32_mask(_mm512_srli_epi32(c0, 8), t),
                    d1 = _mm512_cmpge_epu32_mask(_mm512_srli_epi32(c1, 8), t),
                    d2 = _mm512_cmpge_epu32_mask(_mm512_srli_epi32(c2, 8), t),
                    d3 = _mm512_cmpge_epu32_mask(_mm512_srli_epi32(c3, 8), t);
    __m512i bytes = _mm512_maskz_set1_epi32(d0, 0x1);
    bytes = _mm512_or_si512(bytes, _mm512_maskz_set1_epi32(d1, 0x100));
    bytes = _mm512_or_si512(bytes, _mm512_maskz_set1_epi32(d2, 0x10000));
    bytes = _mm512_or_si512(bytes, _mm512_maskz_set1_epi32(d3, 0x1000000));
    _mm512_storeu_si512(keep, bytes);
}
