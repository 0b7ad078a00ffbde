/* test_rnn_util.h — helpers shared by test_rnn.c and test_rnn_decoder.c: random buffers and
 * central finite differences of a double-precision loss. Header-only (static). */
#ifndef TEST_RNN_UTIL_H
#define TEST_RNN_UTIL_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn.h"

/* ---------------------------------------------------------------- helpers */

static uint64_t rng_state __attribute__((unused)) = 0x9e3779b97f4a7c15ull;
__attribute__((unused)) static float urand(void) /* uniform in [-1, 1) */
{
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) / 8388608.0 - 1.0);
}
__attribute__((unused)) static float *rand_buf(int64_t n, float scale)
{
    float *p = malloc((size_t)n * sizeof *p);
    cr_assert_not_null(p);
    for (int64_t i = 0; i < n; i++) p[i] = urand() * scale;
    return p;
}
__attribute__((unused)) static float *zeros(int64_t n)
{
    float *p = calloc((size_t)n, sizeof *p);
    cr_assert_not_null(p);
    return p;
}
__attribute__((unused)) static double dot(const float *a, const float *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

typedef double (*loss_fn)(void *ctx);

/* Largest |fd − g| / max(1, max|g|) over x[0..n), central differences of step h. */
__attribute__((unused)) static double fd_error(loss_fn f, void *ctx, float *x, int64_t n, const float *g, float h)
{
    double scale = 1, worst = 0;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(g[i]));
    for (int64_t i = 0; i < n; i++) {
        float x0 = x[i];
        x[i] = x0 + h;
        double xp = x[i], lp = f(ctx);
        x[i] = x0 - h;
        double xm = x[i], lm = f(ctx);
        x[i] = x0;
        double fd = (lp - lm) / (xp - xm);
        worst = fmax(worst, fabs(fd - g[i]) / scale);
    }
    return worst;
}

#define FD_TOL 5e-4
#define EXPECT_FD(label, f, ctx, x, n, g)                                                        \
    do {                                                                                       \
        double e_ = fd_error((f), (ctx), (x), (n), (g), 1e-2f);                                  \
        fprintf(stderr, "fd %-28s max err %.2e\n", (label), e_);                               \
        cr_expect(e_ < FD_TOL, "%s: finite-difference error %.3e", (label), e_);               \
    } while (0)

#define EXPECT_ERR(call, code, fname)                                                          \
    do {                                                                                       \
        attn_clear_error();                                                                    \
        int st_ = (call);                                                                      \
        cr_expect_eq(st_, (code), "%s returned %d, expected %d", #call, st_, (code));          \
        cr_expect(strstr(attn_last_error(), (fname)) != NULL, "message '%s' lacks %s",         \
                  attn_last_error(), (fname));                                                 \
    } while (0)

#endif
