/* dropout.c — the dropout mask of scaled dot-product attention, many elements at once.
 *
 * The same keep/drop decision as attn_dropout_keep(), element by element, but one Philox block
 * serves four consecutive indices. Meant for tests and for callers that need the mask itself
 * (e.g. to reproduce the library's dropout in another framework). */
#include "internal.h"

enum { BLOCKS = 16 };

/* Philox4x32-10 of `count` (≤ BLOCKS) consecutive blocks starting at `block` (counter words 0–1)
 * of stream `offset` (words 2–3): the same numbers as attn_philox4x32, block j in out[4j..4j+3].
 * Laid out as structure of arrays so that the compiler runs the blocks side by side in SIMD
 * lanes (one clone per instruction set, chosen at load time). */
ATTN_SIMD_CLONES
static void philox_blocks(uint64_t block, uint64_t offset, const uint32_t key[2], int count, uint32_t *out)
{
    uint32_t c0[BLOCKS], c1[BLOCKS], c2[BLOCKS], c3[BLOCKS];
    for (int i = 0; i < BLOCKS; i++) {
        uint64_t b = block + (uint64_t)i;
        c0[i] = (uint32_t)b, c1[i] = (uint32_t)(b >> 32);
        c2[i] = (uint32_t)offset, c3[i] = (uint32_t)(offset >> 32);
    }
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < BLOCKS; i++) {
            uint64_t p0 = (uint64_t)0xD2511F53u * c0[i];
            uint64_t p1 = (uint64_t)0xCD9E8D57u * c2[i];
            uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1[i] ^ k0, n1 = (uint32_t)p1;
            uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3[i] ^ k1, n3 = (uint32_t)p0;
            c0[i] = n0, c1[i] = n1, c2[i] = n2, c3[i] = n3;
        }
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    for (int i = 0; i < count; i++)
        out[4 * i] = c0[i], out[4 * i + 1] = c1[i], out[4 * i + 2] = c2[i], out[4 * i + 3] = c3[i];
}

/* The decision u >= p with u = (r >> 8)/2^24 exactly as attn_dropout_keep makes it, as an
 * integer comparison: keep iff (r >> 8) >= the least 24-bit k with k/2^24 >= p. */
static uint32_t keep_threshold(float p)
{
    double t = ceil((double)p * 16777216.0);
    if (t > 16777216.0) t = 16777216.0;
    uint32_t k = (uint32_t)t;
    while (k > 0 && (float)(k - 1) * (1.0f / 16777216.0f) >= p) k--; /* float rounding, as the reference */
    while (k < 16777216u && !((float)k * (1.0f / 16777216.0f) >= p)) k++;
    return k;
}

int attn_dropout_mask_fill(uint64_t seed, uint64_t offset, uint64_t start, int64_t n, float p,
                           uint8_t *keep)
{
    static const char fn[] = "attn_dropout_mask_fill";
    if (n < 0) return attn_fail(ATTN_E_ARG, "%s: n=%lld must be >= 0", fn, (long long)n);
    if (n > 0) ATTN_REQUIRE_NONNULL(fn, keep);
    if (!(p >= 0 && p <= 1))
        return attn_fail(ATTN_E_ARG, "%s: p=%g must be in [0, 1]", fn, (double)p);
    if ((uint64_t)n > UINT64_MAX - start)
        return attn_fail(ATTN_E_OVERFLOW, "%s: start + n passes 2^64", fn);
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    const uint32_t thresh = keep_threshold(p);
    uint64_t idx = start;
    int64_t done = 0;
#if defined(__x86_64__)
    const attn_isa isa = attn_get_isa();
    if (isa == ATTN_ISA_AVX512 || isa == ATTN_ISA_AVX2) { /* groups of 16 blocks, by hand */
        void (*keep64)(uint64_t, uint64_t, const uint32_t[2], uint32_t, uint8_t[64]) =
            isa == ATTN_ISA_AVX512 ? attn_dropout_keep64_avx512 : attn_dropout_keep64_avx2;
        for (; done < n && (idx & 3); idx++, done++) keep[done] = attn_dropout_keep(seed, offset, idx, p);
        for (; n - done >= 4 * BLOCKS; idx += 4 * BLOCKS, done += 4 * BLOCKS)
            keep64(idx >> 2, offset, key, thresh, keep + done);
    }
#endif
    while (done < n) {
        uint32_t r[4 * BLOCKS];
        if (!(idx & 3) && n - done >= 4 * BLOCKS) { /* BLOCKS whole blocks */
            philox_blocks(idx >> 2, offset, key, BLOCKS, r);
            for (int j = 0; j < 4 * BLOCKS; j++) keep[done + j] = (r[j] >> 8) >= thresh;
            idx += 4 * BLOCKS, done += 4 * BLOCKS;
            continue;
        }
        uint64_t block = idx >> 2; /* lanes idx%4 .. 3 of one block */
        uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), (uint32_t)offset,
                           (uint32_t)(offset >> 32)};
        attn_philox4x32(ctr, key, r);
        for (unsigned lane = (unsigned)(idx & 3); lane < 4 && done < n; lane++, idx++, done++)
            keep[done] = (r[lane] >> 8) >= thresh;
    }
    return ATTN_OK;
}
