/* test_dropout_op.c — the tape's dropout draws its decisions a chunk at a time; they must be
 * exactly attn_dropout_keep's, element by element, forward and backward, at odd sizes. */
#include <criterion/criterion.h>

#include "attn.h"

Test(dropout_op, chunked_decisions_equal_elementwise)
{
    const int64_t sizes[] = {1, 3, 255, 256, 257, 1001};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        const int64_t n = sizes[k];
        const float p = 0.3f, scale = 1.0f / (1.0f - p);
        attn_tape *t;
        attn_tape_config tc = {.seed = 1234, .num_threads = 2};
        cr_assert_eq(attn_tape_create(&tc, &t), ATTN_OK);
        float *ones = malloc((size_t)n * sizeof *ones);
        for (int64_t i = 0; i < n; i++) ones[i] = 1.0f;
        attn_var *x, *y;
        cr_assert_eq(attn_tape_input(t, ones, 1, &n, 1, &x), ATTN_OK);
        uint64_t seed, offset;
        attn_tape_get_rng(t, &seed, &offset);
        cr_assert_eq(attn_op_dropout(t, x, p, &y), ATTN_OK);
        int64_t kept = 0;
        for (int64_t i = 0; i < n; i++) {
            int keep = attn_dropout_keep(seed, offset, (uint64_t)i, p);
            kept += keep;
            cr_expect_eq(y->data[i], keep ? scale : 0.0f, "n=%lld i=%lld", (long long)n, (long long)i);
        }
        if (n > 1000) cr_expect(kept > n / 2 && kept < n - n / 10, "kept %lld of %lld", (long long)kept, (long long)n);
        /* backward: dx = dy where kept (scaled), 0 elsewhere */
        cr_assert_eq(attn_tape_backward(t, y, ones), ATTN_OK);
        for (int64_t i = 0; i < n; i++)
            cr_expect_eq(x->grad[i], attn_dropout_keep(seed, offset, (uint64_t)i, p) ? scale : 0.0f);
        free(ones);
        attn_tape_free(t);
    }
}

/* attn_dropout_mask_fill on every SIMD path the machine has: the decisions of attn_dropout_keep
 * at unaligned starts, lengths around the 64-element groups, and the edge probabilities. */
Test(dropout_op, mask_fill_equals_elementwise_on_every_isa)
{
    const attn_isa isas[] = {ATTN_ISA_PORTABLE, ATTN_ISA_AVX2, ATTN_ISA_AVX512};
    const uint64_t starts[] = {0, 1, 3, 4, 61, (1ull << 32) * 4 - 70}; /* the last crosses a 2^32 block carry */
    const int64_t lens[] = {0, 1, 63, 64, 65, 200, 1000};
    const float ps[] = {0.0f, 0.1f, 0.5f, 0.999f, 1.0f};
    uint8_t keep[1000];
    for (size_t a = 0; a < sizeof isas / sizeof isas[0]; a++) {
        if (!attn_isa_supported(isas[a])) continue;
        cr_assert_eq(attn_set_isa(isas[a]), ATTN_OK);
        for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++)
            for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++)
                for (size_t q = 0; q < sizeof ps / sizeof ps[0]; q++) {
                    const uint64_t seed = 0x123456789abcdefull + s, offset = 77 + l;
                    cr_assert_eq(attn_dropout_mask_fill(seed, offset, starts[s], lens[l], ps[q], keep), ATTN_OK);
                    int bad = 0;
                    for (int64_t i = 0; i < lens[l]; i++)
                        bad += keep[i] != attn_dropout_keep(seed, offset, starts[s] + (uint64_t)i, ps[q]);
                    cr_expect_eq(bad, 0, "%s: start %llu n %lld p %g: %d decisions differ", attn_isa_name(isas[a]),
                                 (unsigned long long)starts[s], (long long)lens[l], (double)ps[q], bad);
                }
    }
    attn_set_isa(ATTN_ISA_AUTO);
}
