/* test_core.c — errors, views, threads, ISA switch, counter-based RNG. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "attn.h"

Test(core, status_strings_are_distinct)
{
    int codes[] = {ATTN_OK, ATTN_E_ARG, ATTN_E_SHAPE, ATTN_E_OVERFLOW, ATTN_E_NOMEM,
                   ATTN_E_UNSUPPORTED, ATTN_E_IO, ATTN_E_FORMAT, ATTN_E_STATE};
    int n = sizeof codes / sizeof codes[0];
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            cr_expect_str_neq(attn_status_string(codes[i]), attn_status_string(codes[j]));
    cr_expect_str_eq(attn_status_string(12345), "unknown status");
}

/* a message may quote the one before it (the buffer is not read while it is written) */
Test(core, error_message_wraps_the_previous_one)
{
    cr_assert_eq(attn_set_error(ATTN_E_FORMAT, "inner %d", 7), ATTN_E_FORMAT);
    cr_assert_eq(attn_set_error(ATTN_E_IO, "outer (%s) and again (%s)", attn_last_error(), attn_last_error()),
                 ATTN_E_IO);
    cr_expect_str_eq(attn_last_error(), "outer (inner 7) and again (inner 7)");
    char longer[600];
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = 0;
    attn_set_error(ATTN_E_ARG, "%s", longer); /* cut at the buffer's size, terminated */
    cr_expect_eq(strlen(attn_last_error()), 511);
}

Test(core, blhe_view_strides)
{
    float buf[2 * 3 * 4 * 5];
    attn_tensor t = attn_tensor_blhe(buf, 2, 3, 4, 5); /* B=2 L=3 H=4 E=5 → [B,H,L,E] */
    cr_expect_eq(t.shape[1], 4);
    cr_expect_eq(t.shape[2], 3);
    cr_expect_eq(t.stride[0], 60);
    cr_expect_eq(t.stride[1], 5);
    cr_expect_eq(t.stride[2], 20);
    cr_expect_eq(t.stride[3], 1);
}

Test(core, thread_count_validated)
{
    cr_expect_eq(attn_set_num_threads(-1), ATTN_E_ARG);
    cr_expect(strstr(attn_last_error(), "attn_set_num_threads") != NULL);
    cr_expect_eq(attn_set_num_threads(3), ATTN_OK);
    cr_expect_eq(attn_get_num_threads(), 3);
    cr_expect_eq(attn_set_num_threads(0), ATTN_OK);
    cr_expect_geq(attn_get_num_threads(), 1);
}

Test(core, isa_switch)
{
    cr_expect(attn_isa_supported(ATTN_ISA_PORTABLE));
    cr_expect_eq(attn_set_isa(ATTN_ISA_PORTABLE), ATTN_OK);
    cr_expect_eq(attn_get_isa(), ATTN_ISA_PORTABLE);
    cr_expect_eq(attn_set_isa((attn_isa)99), ATTN_E_ARG);
    cr_expect_eq(attn_set_isa(ATTN_ISA_AUTO), ATTN_OK);
    cr_expect_neq(attn_get_isa(), ATTN_ISA_AUTO);
}

/* Philox-4x32-10 known-answer tests (Random123's kat_vectors). The block function is
 * internal; the test binary links the static library, where it is visible. */
extern void attn_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

static void expect_philox(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0,
                          uint32_t k1, uint32_t r0, uint32_t r1, uint32_t r2, uint32_t r3)
{
    uint32_t ctr[4] = {c0, c1, c2, c3}, key[2] = {k0, k1}, out[4];
    attn_philox4x32(ctr, key, out);
    cr_expect_eq(out[0], r0, "got %08x want %08x", out[0], r0);
    cr_expect_eq(out[1], r1);
    cr_expect_eq(out[2], r2);
    cr_expect_eq(out[3], r3);
}

Test(core, philox_known_answers)
{
    expect_philox(0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8);
    expect_philox(~0u, ~0u, ~0u, ~0u, ~0u, ~0u, 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd);
    expect_philox(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0,
                  0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1);
    /* the public uniform is lane index%4 of block index/4, top 24 bits */
    cr_expect_float_eq(attn_philox_uniform(0, 0, 3), (float)(0x9b00dbd8u >> 8) / 16777216.0f, 0.0f);
}

Test(core, philox_uniform_statistics)
{
    /* mean of U[0,1) over 1e5 draws within 4 sigma of 1/2; values in range */
    const int n = 100000;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        float u = attn_philox_uniform(42, 7, (uint64_t)i);
        cr_assert(u >= 0.0f && u < 1.0f);
        sum += u;
    }
    double sigma = sqrt(1.0 / 12.0 / n);
    cr_expect(fabs(sum / n - 0.5) < 4 * sigma, "mean %f", sum / n);
    /* reproducible, and a different seed or offset gives a different stream */
    cr_expect_eq(attn_philox_uniform(42, 7, 123), attn_philox_uniform(42, 7, 123));
    cr_expect_neq(attn_philox_uniform(42, 7, 123), attn_philox_uniform(43, 7, 123));
    cr_expect_neq(attn_philox_uniform(42, 7, 123), attn_philox_uniform(42, 8, 123));
}
