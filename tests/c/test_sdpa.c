/* test_sdpa.c — scaled dot-product attention: gradients against central finite differences,
 * fully masked rows, guard zones after every output, and one test per validation of sdpa.c
 * asserting both the status code and that attn_last_error() names the problem.
 *
 * Finite differences: the loss is Σ out ⊙ W (so dout = W), summed in double; inputs are
 * multiples of 1/32 and the step is 2^-8, so x ± h is exact in float32 and the only noise is
 * the float32 rounding of out (≈ 1e-7 relative) divided by 2h. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "attn.h"

#define GUARD 16
static const uint32_t SENTINEL = 0x7fc0beefu; /* a NaN payload no kernel writes */

/* n floats followed by GUARD sentinel floats. */
static float *galloc(size_t n)
{
    float *p = malloc((n + GUARD) * sizeof *p);
    cr_assert_not_null(p);
    for (size_t i = 0; i < n; i++) p[i] = 0;
    for (size_t i = n; i < n + GUARD; i++) memcpy(&p[i], &SENTINEL, 4);
    return p;
}

static int guard_intact(const float *p, size_t n)
{
    for (size_t i = n; i < n + GUARD; i++)
        if (memcmp(&p[i], &SENTINEL, 4) != 0) return 0;
    return 1;
}

static uint64_t rng_state = 1;
static float rnd(void) /* a multiple of 1/32 in [-1, 1] */
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((int)((rng_state >> 33) % 65) - 32) / 32.0f;
}

static void fill(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = rnd();
}

typedef struct {
    int64_t B, Hq, Hkv, Lq, Lk, E, Ev;
    int blhe; /* memory [B, L, H, E] */
    float *q, *k, *v, *w;
    attn_tensor tq, tk, tv, tw;
} problem;

static attn_tensor view4(float *d, int blhe, int64_t B, int64_t H, int64_t L, int64_t E)
{
    return blhe ? attn_tensor_blhe(d, B, L, H, E) : attn_tensor_4d(d, B, H, L, E);
}

static size_t nq(const problem *p) { return (size_t)(p->B * p->Hq * p->Lq * p->E); }
static size_t nk(const problem *p) { return (size_t)(p->B * p->Hkv * p->Lk * p->E); }
static size_t nv(const problem *p) { return (size_t)(p->B * p->Hkv * p->Lk * p->Ev); }
static size_t no(const problem *p) { return (size_t)(p->B * p->Hq * p->Lq * p->Ev); }

static problem make_problem(int64_t B, int64_t Hq, int64_t Hkv, int64_t Lq, int64_t Lk, int64_t E,
                            int64_t Ev, int blhe, uint64_t seed)
{
    problem p = {B, Hq, Hkv, Lq, Lk, E, Ev, blhe, 0, 0, 0, 0, {0}, {0}, {0}, {0}};
    rng_state = seed;
    p.q = galloc(nq(&p)), p.k = galloc(nk(&p)), p.v = galloc(nv(&p)), p.w = galloc(no(&p));
    fill(p.q, nq(&p)), fill(p.k, nk(&p)), fill(p.v, nv(&p)), fill(p.w, no(&p));
    p.tq = view4(p.q, blhe, B, Hq, Lq, E);
    p.tk = view4(p.k, blhe, B, Hkv, Lk, E);
    p.tv = view4(p.v, blhe, B, Hkv, Lk, Ev);
    p.tw = view4(p.w, blhe, B, Hq, Lq, Ev);
    return p;
}

static void free_problem(problem *p)
{
    free(p->q), free(p->k), free(p->v), free(p->w);
}

/* Σ out ⊙ W in double (out and W share one layout). */
static double loss(const problem *p, const attn_sdpa_options *opt)
{
    size_t n = no(p);
    float *o = galloc(n);
    attn_tensor to = view4(o, p->blhe, p->B, p->Hq, p->Lq, p->Ev);
    int rc = attn_sdpa_forward(&p->tq, &p->tk, &p->tv, opt, &to, NULL, NULL);
    cr_assert_eq(rc, ATTN_OK, "forward: %s", attn_last_error());
    cr_assert(guard_intact(o, n), "forward wrote past out");
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)o[i] * p->w[i];
    free(o);
    return s;
}

/* Max over i of |FD_i − g_i| relative to max(max |g|, 1e-2), perturbing x[0..n). */
static double fd_error(const problem *p, const attn_sdpa_options *opt, float *x, const float *g,
                       size_t n)
{
    const float h = 1.0f / 256;
    double gmax = 1e-2, emax = 0;
    for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(g[i]));
    for (size_t i = 0; i < n; i++) {
        float save = x[i];
        x[i] = save + h;
        double lp = loss(p, opt);
        x[i] = save - h;
        double lm = loss(p, opt);
        x[i] = save;
        double fd = (lp - lm) / (2.0 * h);
        cr_assert(isfinite(g[i]), "gradient %zu is %g", i, (double)g[i]);
        emax = fmax(emax, fabs(fd - g[i]));
    }
    if (getenv("FD_VERBOSE")) fprintf(stderr, "fd err %.3g (gmax %.3g)\n", emax / gmax, gmax);
    return emax / gmax;
}

/* Analytic gradients of Σ out ⊙ W against finite differences for q, k, v (and the bias), with
 * the kernel opt->kernel. */
static void check_gradients_with(problem *p, const attn_sdpa_options *opt, float *bias,
                                 size_t nbias, const attn_tensor *tbias, const char *what)
{
    /* the reference accumulates in double; a fused kernel's float32 sums add FD noise */
    const double tol = opt->kernel == ATTN_KERNEL_REFERENCE ? 5e-4 : 2e-3;
    float *dq = galloc(nq(p)), *dk = galloc(nk(p)), *dv = galloc(nv(p));
    float *db = tbias ? galloc(nbias) : NULL;
    attn_tensor tdq = view4(dq, p->blhe, p->B, p->Hq, p->Lq, p->E);
    attn_tensor tdk = view4(dk, p->blhe, p->B, p->Hkv, p->Lk, p->E);
    attn_tensor tdv = view4(dv, p->blhe, p->B, p->Hkv, p->Lk, p->Ev);
    attn_tensor tdb;
    if (tbias) tdb = attn_tensor_make(db, 4, tbias->shape);
    int rc = attn_sdpa_backward(&p->tq, &p->tk, &p->tv, NULL, NULL, &p->tw, opt, &tdq, &tdk, &tdv,
                                tbias ? &tdb : NULL);
    cr_assert_eq(rc, ATTN_OK, "%s: backward: %s", what, attn_last_error());
    cr_expect(guard_intact(dq, nq(p)) && guard_intact(dk, nk(p)) && guard_intact(dv, nv(p)),
              "%s: backward wrote past dq/dk/dv", what);
    double e;
    e = fd_error(p, opt, p->q, dq, nq(p));
    cr_expect_leq(e, tol, "%s (kernel %d): dq differs from finite differences by %g (relative)",
                  what, (int)opt->kernel, e);
    e = fd_error(p, opt, p->k, dk, nk(p));
    cr_expect_leq(e, tol, "%s (kernel %d): dk differs from finite differences by %g", what,
                  (int)opt->kernel, e);
    e = fd_error(p, opt, p->v, dv, nv(p));
    cr_expect_leq(e, tol, "%s (kernel %d): dv differs from finite differences by %g", what,
                  (int)opt->kernel, e);
    if (tbias) {
        cr_expect(guard_intact(db, nbias), "%s: backward wrote past dbias", what);
        e = fd_error(p, opt, bias, db, nbias);
        cr_expect_leq(e, tol, "%s (kernel %d): dbias differs from finite differences by %g", what,
                      (int)opt->kernel, e);
    }
    free(dq), free(dk), free(dv), free(db);
}

/* Whether `kernel` serves this problem (the fused one may decline: ATTN_E_UNSUPPORTED). */
static int kernel_serves(const problem *p, const attn_sdpa_options *opt)
{
    float *o = galloc(no(p));
    attn_tensor to = view4(o, p->blhe, p->B, p->Hq, p->Lq, p->Ev);
    int rc = attn_sdpa_forward(&p->tq, &p->tk, &p->tv, opt, &to, NULL, NULL);
    free(o);
    if (rc == ATTN_E_UNSUPPORTED && opt->kernel == ATTN_KERNEL_FLASH) return 0;
    cr_assert_eq(rc, ATTN_OK, "kernel %d: %s", (int)opt->kernel, attn_last_error());
    return 1;
}

/* The reference kernel always; the fused kernel too when it serves the problem. */
static void check_gradients(problem *p, const attn_sdpa_options *opt, float *bias, size_t nbias,
                            const attn_tensor *tbias, const char *what)
{
    attn_sdpa_options o = *opt;
    o.kernel = ATTN_KERNEL_REFERENCE;
    check_gradients_with(p, &o, bias, nbias, tbias, what);
    o.kernel = ATTN_KERNEL_FLASH;
    if (kernel_serves(p, &o))
        check_gradients_with(p, &o, bias, nbias, tbias, what);
    else
        cr_log_info("%s: the fused kernel does not serve this case; reference only", what);
}

Test(sdpa_grad, plain_gqa)
{
    problem p = make_problem(2, 4, 2, 5, 6, 3, 2, 0, 11);
    attn_sdpa_options opt = {0};
    opt.kernel = ATTN_KERNEL_REFERENCE;
    check_gradients(&p, &opt, NULL, 0, NULL, "plain GQA");
    opt.scale = 2.5f; /* peaked softmax */
    check_gradients(&p, &opt, NULL, 0, NULL, "plain GQA, scale 2.5");
    free_problem(&p);
}

Test(sdpa_grad, bool_mask_bias_keylen_causal_alibi)
{
    problem p = make_problem(2, 4, 1, 5, 7, 4, 3, 0, 12);
    uint8_t m[2 * 5 * 7]; /* [B, 1, Lq, Lk] */
    for (int i = 0; i < 2 * 5 * 7; i++) m[i] = (i * 7 + 3) % 5 != 0;
    attn_bool_tensor tm = attn_bool_tensor_4d(m, 2, 1, 5, 7);
    size_t nb = 4 * 5 * 7; /* [1, Hq, Lq, Lk]: dbias sums over the batch */
    float *bias = galloc(nb);
    fill(bias, nb);
    attn_tensor tb = attn_tensor_4d(bias, 1, 4, 5, 7);
    int32_t kl[2] = {7, 5};
    float slopes[4] = {0.5f, 0.25f, 0.125f, 0.0625f};
    attn_sdpa_options opt = {0};
    opt.mask = &tm, opt.bias = &tb, opt.key_lengths = kl, opt.alibi_slopes = slopes;
    opt.causal = 1, opt.align = ATTN_ALIGN_BOTTOM_RIGHT;
    opt.kernel = ATTN_KERNEL_REFERENCE;
    check_gradients(&p, &opt, bias, nb, &tb, "bool mask + bias + key lengths + causal + ALiBi");
    free(bias);
    free_problem(&p);
}

Test(sdpa_grad, softcap_window_broadcast_bias)
{
    problem p = make_problem(1, 2, 2, 6, 6, 5, 4, 0, 13);
    size_t nb = 6; /* [1, 1, Lq, 1]: one number per query row, summed over heads and keys */
    float *bias = galloc(nb);
    fill(bias, nb);
    attn_tensor tb = attn_tensor_4d(bias, 1, 1, 6, 1);
    attn_sdpa_options opt = {0};
    opt.bias = &tb;
    opt.scale = 3.0f, opt.softcap = 1.5f; /* scores well into the tanh's curve */
    opt.window = 1, opt.window_left = 2, opt.window_right = 1;
    opt.kernel = ATTN_KERNEL_REFERENCE;
    check_gradients(&p, &opt, bias, nb, &tb, "softcap + window + row bias");
    opt.causal = 1;
    check_gradients(&p, &opt, bias, nb, &tb, "softcap + window + causal");
    free(bias);
    free_problem(&p);
}

Test(sdpa_grad, dropout_fixed_seed_full_bias)
{
    problem p = make_problem(2, 2, 2, 4, 9, 3, 3, 0, 14);
    size_t nb = 2 * 2 * 4 * 9; /* full [B, Hq, Lq, Lk]: the parallel dbias path */
    float *bias = galloc(nb);
    fill(bias, nb);
    attn_tensor tb = attn_tensor_4d(bias, 2, 2, 4, 9);
    attn_sdpa_options opt = {0};
    opt.bias = &tb;
    opt.dropout_p = 0.3f, opt.seed = 1234, opt.offset = 7;
    opt.kernel = ATTN_KERNEL_REFERENCE;
    check_gradients(&p, &opt, bias, nb, &tb, "dropout");
    free(bias);
    free_problem(&p);
}

Test(sdpa_grad, blhe_layout)
{
    problem p = make_problem(2, 3, 3, 4, 5, 4, 2, 1, 15);
    attn_sdpa_options opt = {0};
    opt.causal = 1;
    opt.kernel = ATTN_KERNEL_REFERENCE;
    check_gradients(&p, &opt, NULL, 0, NULL, "[B, L, H, E] layout");
    free_problem(&p);
}

/* The same problem in [B, H, L, E] and [B, L, H, E] memory gives the same numbers. */
Test(sdpa, layouts_agree)
{
    problem a = make_problem(2, 3, 1, 4, 6, 5, 3, 0, 21);
    problem b = make_problem(2, 3, 1, 4, 6, 5, 3, 1, 99);
    /* copy a's values into b's [B, L, H, E] buffers */
    for (int64_t bb = 0; bb < 2; bb++)
        for (int64_t l = 0; l < 6; l++)
            for (int64_t e = 0; e < 5; e++) {
                if (l < 4)
                    for (int64_t h = 0; h < 3; h++)
                        b.q[((bb * 4 + l) * 3 + h) * 5 + e] = a.q[((bb * 3 + h) * 4 + l) * 5 + e];
                b.k[(bb * 6 + l) * 5 + e] = a.k[(bb * 6 + l) * 5 + e];
                if (e < 3) b.v[(bb * 6 + l) * 3 + e] = a.v[(bb * 6 + l) * 3 + e];
            }
    float *oa = galloc(no(&a)), *ob = galloc(no(&b));
    attn_tensor ta = view4(oa, 0, 2, 3, 4, 3), tb = view4(ob, 1, 2, 3, 4, 3);
    attn_sdpa_options opt = {0};
    opt.kernel = ATTN_KERNEL_REFERENCE;
    cr_assert_eq(attn_sdpa_forward(&a.tq, &a.tk, &a.tv, &opt, &ta, NULL, NULL), ATTN_OK);
    cr_assert_eq(attn_sdpa_forward(&b.tq, &b.tk, &b.tv, &opt, &tb, NULL, NULL), ATTN_OK);
    for (int64_t bb = 0; bb < 2; bb++)
        for (int64_t h = 0; h < 3; h++)
            for (int64_t l = 0; l < 4; l++)
                for (int64_t e = 0; e < 3; e++)
                    cr_expect_eq(oa[((bb * 3 + h) * 4 + l) * 3 + e],
                                 ob[((bb * 4 + l) * 3 + h) * 3 + e]);
    cr_expect(guard_intact(oa, no(&a)) && guard_intact(ob, no(&b)));
    free(oa), free(ob);
    free_problem(&a), free_problem(&b);
}

static int all_finite(const float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(p[i])) return 0;
    return 1;
}

/* Rows with nothing to attend: output 0, weights 0, lse −inf, dq 0, and no NaN anywhere. */
static void fully_masked_rows_with(attn_kernel kernel)
{
    /* batch 0: key length 0 (every row empty); batch 1: the mask empties query row 2, and
     * bottom-right causal with Lq > Lk empties rows 0 and 1 (i' = i − 2 < 0). */
    problem p = make_problem(2, 2, 2, 5, 3, 4, 3, 0, 31);
    uint8_t m[5 * 3];
    for (int i = 0; i < 15; i++) m[i] = i / 3 != 2;
    attn_bool_tensor tm = attn_bool_tensor_4d(m, 1, 1, 5, 3);
    int32_t kl[2] = {0, 3};
    size_t nb = 2 * 2 * 5 * 3;
    float *bias = galloc(nb);
    fill(bias, nb);
    attn_tensor tbias = attn_tensor_4d(bias, 2, 2, 5, 3);
    attn_sdpa_options opt = {0};
    opt.mask = &tm, opt.key_lengths = kl, opt.bias = &tbias;
    opt.causal = 1, opt.align = ATTN_ALIGN_BOTTOM_RIGHT;
    opt.kernel = kernel;
    const int want_w = kernel == ATTN_KERNEL_REFERENCE; /* the fused kernel returns no weights */
    size_t nrow = 2 * 2 * 5, nw = nrow * 3;
    float *o = galloc(no(&p)), *lse = galloc(nrow), *w = galloc(nw);
    for (size_t i = 0; i < no(&p); i++) o[i] = NAN;
    attn_tensor to = view4(o, 0, 2, 2, 5, 3), tw = attn_tensor_4d(w, 2, 2, 5, 3);
    int rc = attn_sdpa_forward(&p.tq, &p.tk, &p.tv, &opt, &to, lse, want_w ? &tw : NULL);
    if (rc == ATTN_E_UNSUPPORTED && kernel == ATTN_KERNEL_FLASH) {
        cr_log_info("fully masked rows: the fused kernel does not serve this case");
        free(o), free(lse), free(w), free(bias);
        free_problem(&p);
        return;
    }
    cr_assert_eq(rc, ATTN_OK, "kernel %d: %s", (int)kernel, attn_last_error());
    cr_expect(guard_intact(o, no(&p)) && guard_intact(lse, nrow) && guard_intact(w, nw));
    for (int64_t b = 0; b < 2; b++)
        for (int64_t h = 0; h < 2; h++)
            for (int64_t i = 0; i < 5; i++) {
                size_t r = (size_t)((b * 2 + h) * 5 + i);
                int empty = b == 0 || i < 2 || i == 2;
                double wsum = 0;
                for (int j = 0; j < 3; j++) wsum += w[r * 3 + j];
                if (empty) {
                    cr_expect(isinf(lse[r]) && lse[r] < 0, "row %zu: lse %g, want -inf", r, lse[r]);
                    cr_expect(!want_w || wsum == 0.0, "row %zu: weights sum %g", r, wsum);
                    for (int e = 0; e < 3; e++) cr_expect_eq(o[r * 3 + e], 0.0f, "row %zu out", r);
                } else {
                    cr_expect(isfinite(lse[r]), "row %zu: lse %g", r, lse[r]);
                    cr_expect(!want_w || fabs(wsum - 1) < 1e-6, "row %zu: weights sum %g", r,
                              wsum);
                    cr_expect(all_finite(o + r * 3, 3));
                }
            }
    float *dq = galloc(nq(&p)), *dk = galloc(nk(&p)), *dv = galloc(nv(&p)), *db = galloc(nb);
    attn_tensor tdq = view4(dq, 0, 2, 2, 5, 4), tdk = view4(dk, 0, 2, 2, 3, 4);
    attn_tensor tdv = view4(dv, 0, 2, 2, 3, 3), tdb = attn_tensor_4d(db, 2, 2, 5, 3);
    cr_assert_eq(attn_sdpa_backward(&p.tq, &p.tk, &p.tv, &to, lse, &p.tw, &opt, &tdq, &tdk, &tdv,
                                    &tdb),
                 ATTN_OK, "%s", attn_last_error());
    cr_expect(all_finite(dq, nq(&p)) && all_finite(dk, nk(&p)) && all_finite(dv, nv(&p)) &&
              all_finite(db, nb), "NaN or inf in a gradient");
    cr_expect(guard_intact(dq, nq(&p)) && guard_intact(dk, nk(&p)) && guard_intact(dv, nv(&p)) &&
              guard_intact(db, nb));
    for (size_t i = 0; i < nq(&p) / 2; i++) cr_expect_eq(dq[i], 0.0f, "batch 0 dq[%zu]", i);
    for (size_t i = 0; i < nk(&p) / 2; i++) cr_expect_eq(dk[i], 0.0f, "batch 0 dk[%zu]", i);
    for (size_t i = 0; i < nv(&p) / 2; i++) cr_expect_eq(dv[i], 0.0f, "batch 0 dv[%zu]", i);
    for (size_t i = 0; i < nb / 2; i++) cr_expect_eq(db[i], 0.0f, "batch 0 dbias[%zu]", i);
    for (int64_t h = 0; h < 2; h++) /* batch 1, empty rows 0..2 */
        for (int64_t i = 0; i < 3; i++)
            for (int64_t e = 0; e < 4; e++)
                cr_expect_eq(dq[((2 + h) * 5 + i) * 4 + e], 0.0f, "batch 1 dq row %lld",
                             (long long)i);
    free(o), free(lse), free(w), free(dq), free(dk), free(dv), free(db), free(bias);
    free_problem(&p);
}

Test(sdpa, fully_masked_rows)
{
    fully_masked_rows_with(ATTN_KERNEL_REFERENCE);
    fully_masked_rows_with(ATTN_KERNEL_FLASH);
}

/* Bit-identical results for any thread count (rows and (batch, kv head) units are independent),
 * including the serial path of a dbias broadcast over the batch. */
Test(sdpa, thread_count_does_not_change_results)
{
    problem p = make_problem(3, 4, 2, 7, 9, 6, 5, 0, 41);
    size_t nb = 4 * 7 * 9;
    float *bias = galloc(nb);
    fill(bias, nb);
    attn_tensor tb = attn_tensor_4d(bias, 1, 4, 7, 9);
    attn_sdpa_options opt = {0};
    opt.bias = &tb, opt.dropout_p = 0.2f, opt.seed = 5, opt.causal = 1;
    opt.kernel = ATTN_KERNEL_REFERENCE;
    float *res[2][5];
    size_t sizes[5] = {no(&p), nq(&p), nk(&p), nv(&p), nb};
    for (int t = 0; t < 2; t++) {
        opt.num_threads = t == 0 ? 1 : 3;
        for (int i = 0; i < 5; i++) res[t][i] = galloc(sizes[i]);
        attn_tensor to = view4(res[t][0], 0, 3, 4, 7, 5), tdq = view4(res[t][1], 0, 3, 4, 7, 6);
        attn_tensor tdk = view4(res[t][2], 0, 3, 2, 9, 6), tdv = view4(res[t][3], 0, 3, 2, 9, 5);
        attn_tensor tdb = attn_tensor_4d(res[t][4], 1, 4, 7, 9);
        cr_assert_eq(attn_sdpa_forward(&p.tq, &p.tk, &p.tv, &opt, &to, NULL, NULL), ATTN_OK);
        cr_assert_eq(attn_sdpa_backward(&p.tq, &p.tk, &p.tv, NULL, NULL, &p.tw, &opt, &tdq, &tdk,
                                        &tdv, &tdb),
                     ATTN_OK, "%s", attn_last_error());
    }
    for (int i = 0; i < 5; i++) {
        cr_expect(memcmp(res[0][i], res[1][i], sizes[i] * sizeof(float)) == 0,
                  "tensor %d differs between 1 and 3 threads", i);
        free(res[0][i]), free(res[1][i]);
    }
    free(bias);
    free_problem(&p);
}

Test(sdpa, dropout_mask_fill_matches_keep)
{
    uint8_t keep[1000];
    /* every start lane, lengths across the 64-element batches, probabilities that are not
     * multiples of 2^-24 (the integer threshold must round as the float comparison does),
     * 0 and 1, and block counters that carry into the high word */
    static const float ps[] = {0.35f, 0.1f, 0.3f, 1e-7f, 0.99999994f, 0.0f, 1.0f, 0.5f};
    static const uint64_t starts[] = {0, 1, 2, 3, 5, 64, 67, (4ull << 32) - 130, (4ull << 32) - 3};
    static const int64_t lens[] = {0, 1, 3, 63, 64, 65, 103, 260, 1000};
    int bad = 0, checked = 0;
    for (size_t a = 0; a < sizeof ps / sizeof *ps; a++)
        for (size_t b = 0; b < sizeof starts / sizeof *starts; b++)
            for (size_t c = 0; c < sizeof lens / sizeof *lens; c++) {
                memset(keep, 7, sizeof keep);
                cr_assert_eq(attn_dropout_mask_fill(77 + a, 3 + b, starts[b], lens[c], ps[a], keep), ATTN_OK);
                for (int64_t i = 0; i < lens[c]; i++, checked++)
                    bad += keep[i] != attn_dropout_keep(77 + a, 3 + b, starts[b] + (uint64_t)i, ps[a]);
                if (lens[c] < 1000) bad += keep[lens[c]] != 7; /* nothing written past n */
            }
    cr_expect_eq(bad, 0, "%d of %d decisions differ from attn_dropout_keep", bad, checked);
    cr_expect_eq(attn_dropout_mask_fill(1, 0, 0, -1, 0.5f, keep), ATTN_E_ARG);
    cr_expect(strstr(attn_last_error(), "n=-1") != NULL, "%s", attn_last_error());
    cr_expect_eq(attn_dropout_mask_fill(1, 0, 0, 4, 0.5f, NULL), ATTN_E_ARG);
    cr_expect(strstr(attn_last_error(), "keep is NULL") != NULL, "%s", attn_last_error());
    cr_expect_eq(attn_dropout_mask_fill(1, 0, 0, 4, 1.5f, keep), ATTN_E_ARG);
    cr_expect(strstr(attn_last_error(), "p=1.5") != NULL, "%s", attn_last_error());
    cr_expect_eq(attn_dropout_mask_fill(1, 0, UINT64_MAX - 2, 4, 0.5f, keep), ATTN_E_OVERFLOW);
    cr_expect_eq(attn_dropout_mask_fill(1, 0, 0, 0, 0.5f, NULL), ATTN_OK);
}

/* Weights with dropout: by default those that multiply V (P ⊙ keep / (1 − p), as torch's
 * MultiheadAttention returns them); with weights_before_dropout, P itself (rows sum to 1). */
Test(sdpa, weights_after_or_before_dropout)
{
    enum { B = 2, H = 3, L = 5, S = 7, E = 4 };
    float q[B * H * L * E], k[B * H * S * E], v[B * H * S * E], o[B * H * L * E];
    float after[B * H * L * S], before[B * H * L * S];
    uint8_t keep[B * H * L * S];
    fill(q, sizeof q / 4), fill(k, sizeof k / 4), fill(v, sizeof v / 4);
    attn_tensor tq = attn_tensor_4d(q, B, H, L, E), tk = attn_tensor_4d(k, B, H, S, E);
    attn_tensor tv = attn_tensor_4d(v, B, H, S, E), to = attn_tensor_4d(o, B, H, L, E);
    attn_tensor ta = attn_tensor_4d(after, B, H, L, S), tb = attn_tensor_4d(before, B, H, L, S);
    attn_sdpa_options opt = {.dropout_p = 0.4f, .seed = 5, .offset = 2};
    cr_assert_eq(attn_sdpa_forward(&tq, &tk, &tv, &opt, &to, NULL, &ta), ATTN_OK);
    opt.weights_before_dropout = 1;
    cr_assert_eq(attn_sdpa_forward(&tq, &tk, &tv, &opt, &to, NULL, &tb), ATTN_OK);
    cr_assert_eq(attn_dropout_mask_fill(5, 2, 0, B * H * L * S, 0.4f, keep), ATTN_OK);
    int dropped = 0;
    for (int r = 0; r < B * H * L; r++) {
        double sum = 0;
        for (int j = 0; j < S; j++) {
            int i = r * S + j;
            sum += before[i];
            dropped += !keep[i];
            float want = keep[i] ? before[i] / 0.6f : 0.0f;
            cr_expect(fabsf(after[i] - want) <= 1e-6f * (1 + want), "weight %d: %g, want %g", i,
                      (double)after[i], (double)want);
        }
        cr_expect(fabs(sum - 1) < 1e-5, "row %d of P sums to %g", r, sum);
    }
    cr_expect(dropped > 0 && dropped < B * H * L * S, "the mask dropped %d weights", dropped);
}

/* ------------------------------------------------------------------------------------------ */
/* Error paths: one valid call, then one thing wrong at a time                                */
/* ------------------------------------------------------------------------------------------ */

typedef struct {
    float q[2 * 4 * 3 * 5], k[2 * 2 * 6 * 5], v[2 * 2 * 6 * 7], o[2 * 4 * 3 * 7];
    float dq[2 * 4 * 3 * 5], dk[2 * 2 * 6 * 5], dv[2 * 2 * 6 * 7], w[2 * 4 * 3 * 6];
    float bias[4 * 3 * 6], db[4 * 3 * 6], lse[2 * 4 * 3];
    uint8_t m[3 * 6];
    attn_tensor tq, tk, tv, to, tdq, tdk, tdv, tdo, tw, tb, tdb;
    attn_bool_tensor tm;
    attn_sdpa_options opt;
} fixture;

static fixture *fx(void)
{
    fixture *f = calloc(1, sizeof *f);
    cr_assert_not_null(f);
    f->tq = attn_tensor_4d(f->q, 2, 4, 3, 5);
    f->tk = attn_tensor_4d(f->k, 2, 2, 6, 5);
    f->tv = attn_tensor_4d(f->v, 2, 2, 6, 7);
    f->to = attn_tensor_4d(f->o, 2, 4, 3, 7);
    f->tdo = attn_tensor_4d(f->o, 2, 4, 3, 7);
    f->tdq = attn_tensor_4d(f->dq, 2, 4, 3, 5);
    f->tdk = attn_tensor_4d(f->dk, 2, 2, 6, 5);
    f->tdv = attn_tensor_4d(f->dv, 2, 2, 6, 7);
    f->tw = attn_tensor_4d(f->w, 2, 4, 3, 6);
    f->tb = attn_tensor_4d(f->bias, 1, 4, 3, 6);
    f->tdb = attn_tensor_4d(f->db, 1, 4, 3, 6);
    memset(f->m, 1, sizeof f->m);
    f->tm = attn_bool_tensor_4d(f->m, 1, 1, 3, 6);
    f->opt.kernel = ATTN_KERNEL_REFERENCE;
    return f;
}

static int fwd(fixture *f)
{
    return attn_sdpa_forward(&f->tq, &f->tk, &f->tv, &f->opt, &f->to, f->lse, NULL);
}

static int fwd_w(fixture *f)
{
    return attn_sdpa_forward(&f->tq, &f->tk, &f->tv, &f->opt, &f->to, f->lse, &f->tw);
}
static int bwd(fixture *f)
{
    return attn_sdpa_backward(&f->tq, &f->tk, &f->tv, NULL, NULL, &f->tdo, &f->opt, &f->tdq,
                              &f->tdk, &f->tdv, NULL);
}

#define EXPECT_FAIL(call, code, ...)                                                            \
    do {                                                                                        \
        attn_clear_error();                                                                     \
        int rc_ = (call);                                                                       \
        cr_expect_eq(rc_, (code), "%s returned %d (%s), want %d", #call, rc_,                   \
                     attn_last_error(), (code));                                                \
        const char *words_[] = {__VA_ARGS__};                                                   \
        for (size_t w_ = 0; w_ < sizeof words_ / sizeof words_[0]; w_++)                        \
            cr_expect(strstr(attn_last_error(), words_[w_]) != NULL,                            \
                      "%s: message \"%s\" does not mention \"%s\"", #call, attn_last_error(),   \
                      words_[w_]);                                                              \
    } while (0)

Test(sdpa_errors, valid_fixture_passes)
{
    fixture *f = fx();
    f->opt.bias = &f->tb, f->opt.mask = &f->tm;
    cr_expect_eq(fwd_w(f), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(attn_sdpa_backward(&f->tq, &f->tk, &f->tv, &f->to, f->lse, &f->tdo, &f->opt,
                                    &f->tdq, &f->tdk, &f->tdv, &f->tdb),
                 ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(attn_sdpa_forward(&f->tq, &f->tk, &f->tv, NULL, &f->to, NULL, NULL), ATTN_OK,
                 "NULL options are the defaults");
    free(f);
}

Test(sdpa_errors, null_pointers)
{
    fixture *f = fx();
    EXPECT_FAIL(attn_sdpa_forward(NULL, &f->tk, &f->tv, &f->opt, &f->to, NULL, NULL), ATTN_E_ARG,
                "attn_sdpa_forward", "q is NULL");
    EXPECT_FAIL(attn_sdpa_forward(&f->tq, NULL, &f->tv, &f->opt, &f->to, NULL, NULL), ATTN_E_ARG,
                "k is NULL");
    EXPECT_FAIL(attn_sdpa_forward(&f->tq, &f->tk, NULL, &f->opt, &f->to, NULL, NULL), ATTN_E_ARG,
                "v is NULL");
    EXPECT_FAIL(attn_sdpa_forward(&f->tq, &f->tk, &f->tv, &f->opt, NULL, NULL, NULL), ATTN_E_ARG,
                "out is NULL");
    f->tq.data = NULL;
    EXPECT_FAIL(fwd(f), ATTN_E_ARG, "q.data is NULL");
    f->tq.data = f->q;
    EXPECT_FAIL(attn_sdpa_backward(&f->tq, &f->tk, &f->tv, NULL, NULL, NULL, &f->opt, &f->tdq,
                                   &f->tdk, &f->tdv, NULL),
                ATTN_E_ARG, "attn_sdpa_backward", "dout is NULL");
    EXPECT_FAIL(attn_sdpa_backward(&f->tq, &f->tk, &f->tv, NULL, NULL, &f->tdo, &f->opt, NULL,
                                   &f->tdk, &f->tdv, NULL),
                ATTN_E_ARG, "dq is NULL");
    EXPECT_FAIL(attn_sdpa_backward(&f->tq, &f->tk, &f->tv, NULL, NULL, &f->tdo, &f->opt, &f->tdq,
                                   NULL, &f->tdv, NULL),
                ATTN_E_ARG, "dk is NULL");
    EXPECT_FAIL(attn_sdpa_backward(&f->tq, &f->tk, &f->tv, NULL, NULL, &f->tdo, &f->opt, &f->tdq,
                                   &f->tdk, NULL, NULL),
                ATTN_E_ARG, "dv is NULL");
    f->tm.data = NULL;
    f->opt.mask = &f->tm;
    EXPECT_FAIL(fwd(f), ATTN_E_ARG, "mask.data is NULL");
    f->opt.mask = NULL;
    f->tb.data = NULL;
    f->opt.bias = &f->tb;
    EXPECT_FAIL(fwd(f), ATTN_E_ARG, "bias.data is NULL");
    free(f);
}

Test(sdpa_errors, shapes)
{
    fixture *f = fx();
    f->tq.ndim = 3;
    EXPECT_FAIL(fwd(f), ATTN_E_SHAPE, "q has 3 dimensions, expected 4");
    f->tq.ndim = 4;
    f->tk.shape[2] = 0;
    EXPECT_FAIL(fwd(f), ATTN_E_SHAPE, "k.shape[2]=0");
    f->tk.shape[2] = 6;
    f->tv.stride[1] = -1;
    EXPECT_FAIL(fwd(f), ATTN_E_SHAPE, "v.stride[1]=-1");
    f->tv.stride[1] = 6 * 7;
    f->tk.shape[0] = 1, f->tv.shape[0] = 1;
    EXPECT_FAIL(fwd(f), ATTN_E_SHAPE, "batch sizes differ");
    f->tk.shape[0] = 2, f->tv.shape[0] = 2;
    f->tk.shape[3] = 4;
    EXPECT_FAIL(fwd(f), ATTN_E_SHAPE, "k.shape[3]=4", "q.shape[3]=5");
    f->tk.shape[3] = 5;
    f->tv.shape[2] = 5;
    EXPECT_FAIL(fwd(f), ATTN_E_SHAPE, "v is [2, 2, 5, 7]");
    f->tv.shape[2] = 6;
    f->tq.shape[1] = 3; /* 3 query heads, 2 kv heads */
    f->to.shape[1] = 3;
    EXPECT_FAIL(fwd(f), ATTN_E_SHAPE, "q has 3 heads, not a multiple of k's 2");
    f->tq.shape[1] = 4;
    f->to.shape[1] = 4;
    f->to.shape[3] = 5;
    EXPECT_FAIL(fwd(f), ATTN_E_SHAPE, "out is [2, 4, 3, 5]");
    f->to.shape[3] = 7;
    f->tw.shape[3] = 5;
    EXPECT_FAIL(fwd_w(f), ATTN_E_SHAPE, "weights is [2, 4, 3, 5]");
    f->tw.shape[3] = 6;
    /* backward's own tensors */
    f->tdo.shape[2] = 2;
    EXPECT_FAIL(bwd(f), ATTN_E_SHAPE, "dout is [2, 4, 2, 7]");
    f->tdo.shape[2] = 3;
    f->tdq.shape[3] = 7;
    EXPECT_FAIL(bwd(f), ATTN_E_SHAPE, "dq is [2, 4, 3, 7]");
    f->tdq.shape[3] = 5;
    f->tdk.shape[1] = 4;
    EXPECT_FAIL(bwd(f), ATTN_E_SHAPE, "dk is [2, 4, 6, 5]");
    f->tdk.shape[1] = 2;
    f->tdv.shape[3] = 5;
    EXPECT_FAIL(bwd(f), ATTN_E_SHAPE, "dv is [2, 2, 6, 5]");
    f->tdv.shape[3] = 7;
    f->to.shape[0] = 1;
    EXPECT_FAIL(attn_sdpa_backward(&f->tq, &f->tk, &f->tv, &f->to, NULL, &f->tdo, &f->opt,
                                   &f->tdq, &f->tdk, &f->tdv, NULL),
                ATTN_E_SHAPE, "out is [1, 4, 3, 7]");
    f->to.shape[0] = 2;
    cr_expect_eq(bwd(f), ATTN_OK, "%s", attn_last_error());
    free(f);
}

Test(sdpa_errors, masks)
{
    fixture *f = fx();
    f->opt.mask = &f->tm;
    f->tm.shape[2] = 2;
    EXPECT_FAIL(fwd(f), ATTN_E_SHAPE, "mask.shape[2]=2 does not broadcast to Lq=3");
    f->tm.shape[2] = 3;
    f->tm.ndim = 3;
    EXPECT_FAIL(fwd(f), ATTN_E_SHAPE, "mask must have 4 dimensions");
    f->tm.ndim = 7; /* must be rejected before its shape array is read past its end */
    EXPECT_FAIL(fwd(f), ATTN_E_SHAPE, "mask must have 4 dimensions", "has 7");
    f->tm.ndim = 4;
    f->opt.mask = NULL;
    f->opt.bias = &f->tb;
    f->tb.shape[1] = 2;
    EXPECT_FAIL(fwd(f), ATTN_E_SHAPE, "bias.shape[1]=2 does not broadcast to Hq=4");
    f->tb.shape[1] = 4;
    f->tb.ndim = 2;
    EXPECT_FAIL(fwd(f), ATTN_E_SHAPE, "bias must have 4 dimensions");
    f->tb.ndim = 4;
    /* dbias: only with a bias, and of the bias's shape */
    f->opt.bias = NULL;
    EXPECT_FAIL(attn_sdpa_backward(&f->tq, &f->tk, &f->tv, NULL, NULL, &f->tdo, &f->opt, &f->tdq,
                                   &f->tdk, &f->tdv, &f->tdb),
                ATTN_E_ARG, "dbias given but options have no bias");
    f->opt.bias = &f->tb;
    f->tdb.shape[0] = 2;
    EXPECT_FAIL(attn_sdpa_backward(&f->tq, &f->tk, &f->tv, NULL, NULL, &f->tdo, &f->opt, &f->tdq,
                                   &f->tdk, &f->tdv, &f->tdb),
                ATTN_E_SHAPE, "dbias is [2, 4, 3, 6], expected [1, 4, 3, 6]");
    free(f);
}

Test(sdpa_errors, options)
{
    fixture *f = fx();
    f->opt.scale = -1;
    EXPECT_FAIL(fwd(f), ATTN_E_ARG, "scale=-1");
    f->opt.scale = NAN;
    EXPECT_FAIL(fwd(f), ATTN_E_ARG, "scale=nan");
    f->opt.scale = INFINITY;
    EXPECT_FAIL(fwd(f), ATTN_E_ARG, "scale=inf");
    f->opt.scale = 0;
    f->opt.align = (attn_align)5;
    EXPECT_FAIL(fwd(f), ATTN_E_ARG, "unknown align 5");
    f->opt.align = ATTN_ALIGN_TOP_LEFT;
    f->opt.window = 1, f->opt.window_left = -2;
    EXPECT_FAIL(fwd(f), ATTN_E_ARG, "window_left=-2");
    f->opt.window_left = 0, f->opt.window_right = -1;
    EXPECT_FAIL(fwd(f), ATTN_E_ARG, "window_right=-1");
    f->opt.window = 0;
    f->opt.softcap = -3;
    EXPECT_FAIL(fwd(f), ATTN_E_ARG, "softcap=-3");
    f->opt.softcap = NAN;
    EXPECT_FAIL(fwd(f), ATTN_E_ARG, "softcap=nan");
    f->opt.softcap = INFINITY;
    EXPECT_FAIL(fwd(f), ATTN_E_ARG, "softcap=inf");
    f->opt.softcap = 0;
    f->opt.dropout_p = 1;
    EXPECT_FAIL(fwd(f), ATTN_E_ARG, "dropout_p=1");
    f->opt.dropout_p = -0.25f;
    EXPECT_FAIL(fwd(f), ATTN_E_ARG, "dropout_p=-0.25");
    f->opt.dropout_p = NAN;
    EXPECT_FAIL(bwd(f), ATTN_E_ARG, "attn_sdpa_backward", "dropout_p=nan");
    f->opt.dropout_p = 0;
    f->opt.num_threads = -1;
    EXPECT_FAIL(fwd(f), ATTN_E_ARG, "num_threads=-1");
    f->opt.num_threads = 100000;
    EXPECT_FAIL(fwd(f), ATTN_E_ARG, "num_threads=100000");
    f->opt.num_threads = 0;
    f->opt.kernel = (attn_kernel)9;
    EXPECT_FAIL(fwd(f), ATTN_E_ARG, "unknown kernel 9");
    f->opt.kernel = ATTN_KERNEL_FLASH;
    EXPECT_FAIL(fwd_w(f), ATTN_E_UNSUPPORTED, "fused kernel", "weights");
    f->opt.kernel = ATTN_KERNEL_AUTO; /* AUTO with weights falls back to the reference */
    cr_expect_eq(fwd_w(f), ATTN_OK, "%s", attn_last_error());
    free(f);
}

Test(sdpa_errors, overflowing_sizes)
{
    fixture *f = fx();
    /* broadcast views (stride 0) of huge sizes: the views themselves are valid */
    int64_t big = (int64_t)1 << 32;
    attn_tensor q = f->tq, k = f->tk, v = f->tv, o = f->to;
    q.shape[2] = big, q.stride[2] = 0, o.shape[2] = big, o.stride[2] = 0;
    k.shape[2] = big, k.stride[2] = 0, v.shape[2] = big, v.stride[2] = 0;
    attn_clear_error();
    EXPECT_FAIL(attn_sdpa_forward(&q, &k, &v, &f->opt, &o, NULL, NULL), ATTN_E_OVERFLOW,
                "overflow");
    /* Lq·Lk fits, but Lk·E (backward scratch) does not */
    q.shape[2] = 1, o.shape[2] = 1;
    k.shape[2] = (int64_t)1 << 40, v.shape[2] = (int64_t)1 << 40;
    k.shape[3] = q.shape[3] = (int64_t)1 << 30;
    k.stride[3] = q.stride[3] = 0;
    EXPECT_FAIL(attn_sdpa_forward(&q, &k, &v, &f->opt, &o, NULL, NULL), ATTN_E_OVERFLOW,
                "attn_sdpa_forward");
    /* B·Hkv·Lk·E = 2^61 fits in 64 bits but not in memory */
    k.shape[2] = v.shape[2] = (int64_t)1 << 40;
    k.shape[3] = q.shape[3] = (int64_t)1 << 19;
    EXPECT_FAIL(attn_sdpa_forward(&q, &k, &v, &f->opt, &o, NULL, NULL), ATTN_E_OVERFLOW,
                "exceed the address space");
    /* a view whose span does not fit in 64 bits */
    attn_tensor q2 = f->tq;
    q2.shape[0] = (int64_t)1 << 40, q2.stride[0] = (int64_t)1 << 40;
    EXPECT_FAIL(attn_sdpa_forward(&q2, &f->tk, &f->tv, &f->opt, &f->to, NULL, NULL),
                ATTN_E_OVERFLOW, "q");
    free(f);
}
