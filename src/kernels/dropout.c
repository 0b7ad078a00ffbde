/* dropout.c — the dropout mask of scaled dot-product attention, many elements at once.
 *
 * The same keep/drop decision as attn_dropout_keep(), element by element, but one Philox block
 * serves four consecutive indices. Meant for tests and for callers that need the mask itself
 * (e.g. to reproduce the library's dropout in another framework). */
#include "internal.h"

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
    uint64_t idx = start;
    int64_t done = 0;
    while (done < n) {
        uint64_t block = idx >> 2;
        uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), (uint32_t)offset,
                           (uint32_t)(offset >> 32)};
        uint32_t r[4];
        attn_philox4x32(ctr, key, r);
        /* lanes idx%4 .. 3 of this block: the same 24-bit uniform as attn_philox_uniform */
        for (unsigned lane = (unsigned)(idx & 3); lane < 4 && done < n; lane++, idx++, done++)
            keep[done] = (float)(r[lane] >> 8) * (1.0f / 16777216.0f) >= p;
    }
    return ATTN_OK;
}
