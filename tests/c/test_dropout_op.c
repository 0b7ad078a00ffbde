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
