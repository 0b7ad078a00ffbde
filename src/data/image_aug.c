/* image_aug.c — light image augmentation (random crop with zero padding, horizontal flip),
 * pixels to inputs, and epoch orders; all randomness from the counter-based Philox stream. */
#include "internal.h"

#include <string.h>

/* Word `lane` (0..3) of Philox block `block` of stream (seed, counter). */
static uint32_t philox_word(uint64_t seed, uint64_t counter, uint64_t block, int lane)
{
    uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), (uint32_t)counter,
                       (uint32_t)(counter >> 32)};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t r[4];
    attn_philox4x32(ctr, key, r);
    return r[lane];
}

/* Uniform integer in [0, n) from a 32-bit word (multiply-shift; bias ≤ n/2^32). */
static int64_t below(uint32_t r, int64_t n) { return (int64_t)(((uint64_t)r * (uint64_t)n) >> 32); }

int attn_image_augment(const attn_augment_options *opt, const uint8_t *src, int64_t N, int64_t C,
                       int64_t H, int64_t W, uint64_t seed, uint64_t counter, uint8_t *dst)
{
    static const char fn[] = "attn_image_augment";
    ATTN_REQUIRE_NONNULL(fn, opt);
    ATTN_REQUIRE_NONNULL(fn, src);
    ATTN_REQUIRE_NONNULL(fn, dst);
    if (N < 0 || C < 1 || H < 1 || W < 1 || opt->pad < 0 || opt->pad > 64)
        return attn_fail(ATTN_E_ARG, "%s: N=%lld C=%lld H=%lld W=%lld pad=%d", fn, (long long)N,
                         (long long)C, (long long)H, (long long)W, opt->pad);
    int64_t plane, image;
    if (attn_mul_overflow(H, W, &plane) || attn_mul_overflow(plane, C, &image) ||
        attn_mul_overflow(image, N, &(int64_t){0}))
        return attn_fail(ATTN_E_OVERFLOW, "%s: [%lld, %lld, %lld, %lld] overflows", fn,
                         (long long)N, (long long)C, (long long)H, (long long)W);
    if (src < dst + N * image && dst < src + N * image)
        return attn_fail(ATTN_E_ARG, "%s: src and dst overlap", fn);
    const int64_t pad = opt->pad;
    for (int64_t i = 0; i < N; i++) {
        /* one Philox block per image: words 0, 1, 2 = row shift, column shift, flip */
        int64_t dy = 0, dx = 0;
        int flip = 0;
        if (pad) {
            dy = below(philox_word(seed, counter, (uint64_t)i, 0), 2 * pad + 1) - pad;
            dx = below(philox_word(seed, counter, (uint64_t)i, 1), 2 * pad + 1) - pad;
        }
        if (opt->hflip) flip = philox_word(seed, counter, (uint64_t)i, 2) >> 31;
        for (int64_t c = 0; c < C; c++) {
            const uint8_t *s = src + i * image + c * plane;
            uint8_t *d = dst + i * image + c * plane;
            /* output (y, x) = padded input (y + pad + dy, x + pad + dx) = input (y + dy, x + dx),
             * then mirrored: column x of the output reads column W−1−x of the crop */
            for (int64_t y = 0; y < H; y++) {
                int64_t sy = y + dy;
                uint8_t *row = d + y * W;
                if (sy < 0 || sy >= H) {
                    memset(row, 0, (size_t)W);
                    continue;
                }
                for (int64_t x = 0; x < W; x++) {
                    int64_t sx = (flip ? W - 1 - x : x) + dx;
                    row[x] = sx >= 0 && sx < W ? s[sy * W + sx] : 0;
                }
            }
        }
    }
    return ATTN_OK;
}

int attn_image_normalize(const uint8_t *src, int64_t n, float mean, float std, float *dst)
{
    static const char fn[] = "attn_image_normalize";
    ATTN_REQUIRE_NONNULL(fn, src);
    ATTN_REQUIRE_NONNULL(fn, dst);
    if (n < 0 || !(std > 0) || !isfinite(mean))
        return attn_fail(ATTN_E_ARG, "%s: n=%lld mean=%g std=%g", fn, (long long)n, (double)mean,
                         (double)std);
    const float a = 1.0f / (255.0f * std), b = -mean / std;
    for (int64_t i = 0; i < n; i++) dst[i] = (float)src[i] * a + b;
    return ATTN_OK;
}

int attn_permutation(int64_t n, uint64_t seed, uint64_t counter, int64_t *perm)
{
    static const char fn[] = "attn_permutation";
    ATTN_REQUIRE_NONNULL(fn, perm);
    if (n < 0 || n > ((int64_t)1 << 40))
        return attn_fail(ATTN_E_ARG, "%s: n=%lld", fn, (long long)n);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    /* Fisher–Yates from the top: swap i with j uniform in [0, i], j from element i's word */
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = below(philox_word(seed, counter, (uint64_t)i >> 2, (int)(i & 3)), i + 1);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    return ATTN_OK;
}
