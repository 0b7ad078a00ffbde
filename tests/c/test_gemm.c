/* test_gemm.c — attn_sgemm against a naive double-precision product.
 *
 * Every element must satisfy |C − C_ref| ≤ 2·(K + 4)·ε·(|alpha|·Σ_k |a||b| + |beta|·|c₀|),
 * the forward error bound of a K-term float sum. Operands sit inside larger buffers whose
 * padding holds NaN (A, B: must never be read) or a sentinel (C: must never be written). */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attn.h"

static const int64_t SIZES[] = {1, 2, 3, 7, 17, 31, 64, 100, 129, 257};
#define NSIZES ((int)(sizeof SIZES / sizeof SIZES[0]))
#define C_SENTINEL 12345.0f

static uint32_t rng_state = 1;
static float urand(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) * (2.0 / 16777216.0) - 1.0);
}

/* One product with padded leading dimensions; returns the number of bad elements (and
 * reports the first). c_init: 0 random, 1 NaN. */
static int check_case(attn_trans ta, attn_trans tb, int64_t M, int64_t N, int64_t K, float alpha,
                      float beta, int64_t pad_a, int64_t pad_b, int64_t pad_c, int c_nan,
                      int threads)
{
    int64_t ra = ta ? K : M, ca = ta ? M : K, rb = tb ? N : K, cb = tb ? K : N;
    int64_t lda = (ca > 1 ? ca : 1) + pad_a, ldb = (cb > 1 ? cb : 1) + pad_b,
            ldc = (N > 1 ? N : 1) + pad_c;
    size_t na = (size_t)(ra * lda + 1), nb = (size_t)(rb * ldb + 1), nc = (size_t)(M * ldc + 1);
    float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B), *C = malloc(nc * sizeof *C);
    float *C0 = malloc(nc * sizeof *C0);
    cr_assert(A && B && C && C0);
    for (size_t i = 0; i < na; i++) A[i] = NAN;
    for (size_t i = 0; i < nb; i++) B[i] = NAN;
    for (size_t i = 0; i < nc; i++) C[i] = C_SENTINEL;
    for (int64_t r = 0; r < ra; r++)
        for (int64_t c = 0; c < ca; c++) A[r * lda + c] = urand();
    for (int64_t r = 0; r < rb; r++)
        for (int64_t c = 0; c < cb; c++) B[r * ldb + c] = urand();
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) C[i * ldc + j] = c_nan ? NAN : urand();
    memcpy(C0, C, nc * sizeof *C);

    int rc = attn_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, threads);
    cr_assert_eq(rc, ATTN_OK, "attn_sgemm failed: %s", attn_last_error());

    int bad = 0;
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < ldc; j++) {
            float got = C[i * ldc + j];
            if (j >= N) { /* padding of C: untouched */
                if (got != C_SENTINEL && bad++ == 0)
                    cr_log_error("C padding (%lld,%lld) overwritten", (long long)i, (long long)j);
                continue;
            }
            double s = 0, mag = 0;
            for (int64_t p = 0; p < K; p++) {
                double a = ta ? A[p * lda + i] : A[i * lda + p];
                double b = tb ? B[j * ldb + p] : B[p * ldb + j];
                s += a * b;
                mag += fabs(a * b);
            }
            double c0 = C0[i * ldc + j];
            double ref = (double)alpha * s, bound = fabs((double)alpha) * mag;
            if (beta != 0.0f) {
                ref += (double)beta * c0;
                bound += fabs((double)beta * c0);
            }
            double tol = 2.0 * (double)(K + 4) * FLT_EPSILON * bound + 1e-30;
            if (!(fabs(got - ref) <= tol) && bad++ == 0)
                cr_log_error("%c%c M=%lld N=%lld K=%lld alpha=%g beta=%g: C[%lld,%lld]=%.9g, "
                             "want %.9g (tol %.3g)",
                             ta ? 'T' : 'N', tb ? 'T' : 'N', (long long)M, (long long)N,
                             (long long)K, alpha, beta, (long long)i, (long long)j, got, ref, tol);
        }
    }
    if (C[M * ldc] != C_SENTINEL && bad++ == 0) cr_log_error("C overrun past the last row");
    free(A), free(B), free(C), free(C0);
    return bad;
}

static const attn_trans OPS[4][2] = {{ATTN_NO_TRANS, ATTN_NO_TRANS},
                                     {ATTN_NO_TRANS, ATTN_TRANS},
                                     {ATTN_TRANS, ATTN_NO_TRANS},
                                     {ATTN_TRANS, ATTN_TRANS}};

/* Every transpose combination over a grid of sizes; K over a subset to keep it quick. */
static int sweep(const int64_t *ks, int nks, const int64_t *ms, int nms, int threads)
{
    int bad = 0;
    for (int op = 0; op < 4; op++)
        for (int a = 0; a < nms; a++)
            for (int b = 0; b < nms; b++)
                for (int c = 0; c < nks; c++)
                    bad += check_case(OPS[op][0], OPS[op][1], ms[a], ms[b], ks[c], 1.0f, 0.0f, 0,
                                      0, 0, 0, threads) != 0;
    return bad;
}

Test(gemm, all_ops_all_sizes, .timeout = 120)
{
    static const int64_t ks[] = {1, 3, 17, 100, 257};
    int bad = sweep(ks, 5, SIZES, NSIZES, 0);
    cr_expect_eq(bad, 0, "%d of %d cases wrong", bad, 4 * NSIZES * NSIZES * 5);
}

Test(gemm, k_and_n_blocking, .timeout = 120)
{
    /* K beyond one K block, N beyond one N block, M beyond many row panels. */
    static const int64_t cases[][3] = {{17, 100, 1000}, {31, 1000, 500}, {129, 65, 777},
                                       {300, 200, 900}, {5, 1030, 390},  {70, 3, 2000}};
    for (int op = 0; op < 4; op++)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            cr_expect_eq(check_case(OPS[op][0], OPS[op][1], cases[i][0], cases[i][1],
                                    cases[i][2], 1.0f, 0.5f, 0, 0, 0, 0, 2),
                         0);
    /* K so long the packed B of a column block is not kept whole (one K block at a time). */
    cr_expect_eq(check_case(ATTN_NO_TRANS, ATTN_NO_TRANS, 30, 70, 140000, 1.0f, 0.0f, 0, 0, 0, 0, 2),
                 0);
}

Test(gemm, leading_dims_alpha_beta)
{
    static const float ab[][2] = {{1.0f, 0.0f}, {0.5f, -1.5f}, {-2.0f, 1.0f}, {3.0f, 0.25f}};
    static const int64_t shapes[][3] = {{7, 17, 31}, {64, 129, 100}, {1, 257, 64}, {100, 1, 7},
                                        {129, 64, 3}};
    for (int op = 0; op < 4; op++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (size_t v = 0; v < sizeof ab / sizeof ab[0]; v++)
                cr_expect_eq(check_case(OPS[op][0], OPS[op][1], shapes[s][0], shapes[s][1],
                                        shapes[s][2], ab[v][0], ab[v][1], 3, 5, 1 + (int)s, 0,
                                        0),
                             0);
}

Test(gemm, beta_zero_ignores_nan_in_c)
{
    static const int64_t shapes[][3] = {{1, 1, 1}, {7, 100, 17}, {129, 31, 257}, {64, 64, 1000}};
    for (int op = 0; op < 4; op++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            cr_expect_eq(check_case(OPS[op][0], OPS[op][1], shapes[s][0], shapes[s][1],
                                    shapes[s][2], 1.5f, 0.0f, 2, 0, 3, 1, 0),
                         0);
}

Test(gemm, alpha_zero_or_k_zero_scales_c)
{
    float A[4] = {NAN, NAN, NAN, NAN}, B[4] = {NAN, NAN, NAN, NAN};
    float C[4] = {1, 2, 3, 4};
    cr_assert_eq(attn_sgemm(ATTN_NO_TRANS, ATTN_NO_TRANS, 2, 2, 2, 0.0f, A, 2, B, 2, 2.0f, C, 2, 0),
                 ATTN_OK);
    cr_expect(C[0] == 2 && C[1] == 4 && C[2] == 6 && C[3] == 8);
    float D[4] = {NAN, NAN, NAN, NAN};
    cr_assert_eq(attn_sgemm(ATTN_NO_TRANS, ATTN_NO_TRANS, 2, 2, 0, 1.0f, NULL, 1, NULL, 2, 0.0f, D,
                            2, 0),
                 ATTN_OK);
    cr_expect(D[0] == 0 && D[1] == 0 && D[2] == 0 && D[3] == 0);
    float E[2] = {1, -1};
    cr_assert_eq(attn_sgemm(ATTN_TRANS, ATTN_TRANS, 1, 2, 0, 1.0f, NULL, 1, NULL, 1, -3.0f, E, 2, 1),
                 ATTN_OK);
    cr_expect(E[0] == -3 && E[1] == 3);
    /* Empty C: nothing to do; only the operands that have elements need a pointer. */
    cr_expect_eq(attn_sgemm(ATTN_NO_TRANS, ATTN_NO_TRANS, 0, 2, 2, 1.0f, NULL, 2, B, 2, 0.0f,
                            NULL, 2, 0),
                 ATTN_OK);
    cr_expect_eq(attn_sgemm(ATTN_NO_TRANS, ATTN_NO_TRANS, 0, 2, 2, 1.0f, NULL, 2, NULL, 2, 0.0f,
                            NULL, 2, 0),
                 ATTN_E_ARG);
}

Test(gemm, every_isa_path, .timeout = 120)
{
    static const attn_isa isas[] = {ATTN_ISA_PORTABLE, ATTN_ISA_AVX2, ATTN_ISA_AVX512};
    static const int64_t ms[] = {1, 3, 7, 17, 64, 129}, ks[] = {1, 31, 257};
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
        if (!attn_isa_supported(isas[i])) {
            cr_log_info("skipping %s: not supported by this CPU", attn_isa_name(isas[i]));
            continue;
        }
        cr_assert_eq(attn_set_isa(isas[i]), ATTN_OK);
        int bad = sweep(ks, 3, ms, 6, 2);
        bad += check_case(ATTN_NO_TRANS, ATTN_TRANS, 100, 1030, 500, -0.5f, 2.0f, 1, 2, 3, 0, 2);
        bad += check_case(ATTN_TRANS, ATTN_NO_TRANS, 70, 33, 1100, 1.0f, 0.0f, 0, 0, 0, 1, 2);
        cr_expect_eq(bad, 0, "%s: %d cases wrong", attn_isa_name(isas[i]), bad);
    }
    cr_assert_eq(attn_set_isa(ATTN_ISA_AUTO), ATTN_OK);
}

/* The same product on 1, 2 and 7 threads, and twice on 2: bit for bit the same. */
static void expect_thread_invariant(attn_trans ta, attn_trans tb, int64_t M, int64_t N, int64_t K)
{
    int64_t lda = ta ? M : K, ldb = tb ? K : N;
    float *A = malloc((size_t)(M * K) * sizeof *A), *B = malloc((size_t)(K * N) * sizeof *B);
    float *C[4];
    cr_assert(A && B);
    for (int64_t i = 0; i < M * K; i++) A[i] = urand();
    for (int64_t i = 0; i < K * N; i++) B[i] = urand();
    static const int threads[4] = {1, 2, 7, 2};
    for (int t = 0; t < 4; t++) {
        C[t] = malloc((size_t)(M * N) * sizeof *C[t]);
        cr_assert(C[t]);
        for (int64_t i = 0; i < M * N; i++) C[t][i] = (float)(i % 13) * 0.25f;
        cr_assert_eq(attn_sgemm(ta, tb, M, N, K, 0.75f, A, lda, B, ldb, -1.25f, C[t], N,
                                threads[t]),
                     ATTN_OK);
    }
    for (int t = 1; t < 4; t++)
        cr_expect(memcmp(C[0], C[t], (size_t)(M * N) * sizeof(float)) == 0,
                  "%c%c %lldx%lldx%lld: %d threads differ from 1 thread", ta ? 'T' : 'N',
                  tb ? 'T' : 'N', (long long)M, (long long)N, (long long)K, threads[t]);
    for (int t = 0; t < 4; t++) free(C[t]);
    free(A), free(B);
}

static void dot_rows_independent_of_batch(void);

Test(gemm, bit_identical_across_thread_counts, .timeout = 120)
{
    dot_rows_independent_of_batch();
    static const attn_isa isas[] = {ATTN_ISA_AUTO, ATTN_ISA_PORTABLE, ATTN_ISA_AVX2};
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++) {
        if (!attn_isa_supported(isas[i])) continue;
        cr_assert_eq(attn_set_isa(isas[i]), ATTN_OK);
        for (int op = 0; op < 4; op++) {
            expect_thread_invariant(OPS[op][0], OPS[op][1], 301, 203, 907);
            expect_thread_invariant(OPS[op][0], OPS[op][1], 9, 1100, 400);
            expect_thread_invariant(OPS[op][0], OPS[op][1], 1000, 20, 70);
            expect_thread_invariant(OPS[op][0], OPS[op][1], 50, 2000, 1100); /* 4×3 blocks */
            expect_thread_invariant(OPS[op][0], OPS[op][1], 3, 700, 300);  /* dots by columns */
            expect_thread_invariant(OPS[op][0], OPS[op][1], 900, 3, 500);  /* dots by rows */
            expect_thread_invariant(OPS[op][0], OPS[op][1], 700, 30, 400); /* narrow tile */
            expect_thread_invariant(OPS[op][0], OPS[op][1], 29, 1103, 301); /* dot tiles + tails */
        }
    }
    cr_assert_eq(attn_set_isa(ATTN_ISA_AUTO), ATTN_OK);
}

/* A row of A·Bᵀ gets the same bits whatever the other rows and columns are: the products
 * with 29 and 30 rows (rows 27, 28 alone vs in a group of three) and with 1103 and 1104
 * columns agree on their common part, on every ISA. */
static void dot_rows_independent_of_batch(void)
{
    static const attn_isa isas[] = {ATTN_ISA_PORTABLE, ATTN_ISA_AVX2, ATTN_ISA_AVX512};
    const int64_t K = 301, M = 30, N = 1104;
    float *A = malloc((size_t)(M * K) * sizeof *A), *B = malloc((size_t)(N * K) * sizeof *B);
    float *C1 = malloc((size_t)(M * N) * sizeof *C1), *C2 = malloc((size_t)(M * N) * sizeof *C2);
    cr_assert(A && B && C1 && C2);
    for (int64_t i = 0; i < M * K; i++) A[i] = urand();
    for (int64_t i = 0; i < N * K; i++) B[i] = urand();
    for (size_t v = 0; v < sizeof isas / sizeof isas[0]; v++) {
        if (!attn_isa_supported(isas[v])) continue;
        cr_assert_eq(attn_set_isa(isas[v]), ATTN_OK);
        cr_assert_eq(attn_sgemm(ATTN_NO_TRANS, ATTN_TRANS, M, N, K, 1.0f, A, K, B, K, 0.0f, C1, N, 2), ATTN_OK);
        cr_assert_eq(attn_sgemm(ATTN_NO_TRANS, ATTN_TRANS, M - 1, N - 1, K, 1.0f, A, K, B, K, 0.0f, C2, N, 2),
                     ATTN_OK);
        int same = 1;
        for (int64_t i = 0; i < M - 1; i++)
            same &= memcmp(C1 + i * N, C2 + i * N, (size_t)(N - 1) * sizeof(float)) == 0;
        cr_expect(same, "ISA %d: the rows of a 29x1103 product differ from those of 30x1104", (int)isas[v]);
    }
    cr_assert_eq(attn_set_isa(ATTN_ISA_AUTO), ATTN_OK);
    free(A), free(B), free(C1), free(C2);
}

static void expect_error(int rc, int want, const char *needle)
{
    cr_expect_eq(rc, want, "status %d, want %d (%s)", rc, want, attn_last_error());
    cr_expect(strstr(attn_last_error(), "attn_sgemm") != NULL, "message: %s", attn_last_error());
    if (needle)
        cr_expect(strstr(attn_last_error(), needle) != NULL, "message '%s' lacks '%s'",
                  attn_last_error(), needle);
}

Test(gemm, errors)
{
    float a[64] = {0}, b[64] = {0}, c[64] = {0};
    const attn_trans N = ATTN_NO_TRANS, T = ATTN_TRANS;
    expect_error(attn_sgemm(N, N, -1, 2, 2, 1, a, 2, b, 2, 0, c, 2, 0), ATTN_E_ARG, "negative");
    expect_error(attn_sgemm(N, N, 2, -1, 2, 1, a, 2, b, 2, 0, c, 2, 0), ATTN_E_ARG, "negative");
    expect_error(attn_sgemm(N, N, 2, 2, -1, 1, a, 2, b, 2, 0, c, 2, 0), ATTN_E_ARG, "negative");
    expect_error(attn_sgemm((attn_trans)2, N, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2, 0), ATTN_E_ARG,
                 "trans_a");
    expect_error(attn_sgemm(N, (attn_trans)-1, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2, 0), ATTN_E_ARG,
                 "trans_b");
    expect_error(attn_sgemm(N, N, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2, -1), ATTN_E_ARG, "num_threads");
    expect_error(attn_sgemm(N, N, 2, 2, 2, 1, NULL, 2, b, 2, 0, c, 2, 0), ATTN_E_ARG, "A");
    expect_error(attn_sgemm(N, N, 2, 2, 2, 1, a, 2, NULL, 2, 0, c, 2, 0), ATTN_E_ARG, "B");
    expect_error(attn_sgemm(N, N, 2, 2, 2, 1, a, 2, b, 2, 0, NULL, 2, 0), ATTN_E_ARG, "C");
    /* Leading dimensions: A is M×K (N) or K×M (T); B is K×N (N) or N×K (T). */
    expect_error(attn_sgemm(N, N, 3, 4, 5, 1, a, 4, b, 4, 0, c, 4, 0), ATTN_E_ARG, "lda");
    expect_error(attn_sgemm(T, N, 3, 4, 5, 1, a, 2, b, 4, 0, c, 4, 0), ATTN_E_ARG, "lda");
    expect_error(attn_sgemm(N, N, 3, 4, 5, 1, a, 5, b, 3, 0, c, 4, 0), ATTN_E_ARG, "ldb");
    expect_error(attn_sgemm(N, T, 3, 4, 5, 1, a, 5, b, 4, 0, c, 4, 0), ATTN_E_ARG, "ldb");
    expect_error(attn_sgemm(N, N, 3, 4, 5, 1, a, 5, b, 4, 0, c, 3, 0), ATTN_E_ARG, "ldc");
    expect_error(attn_sgemm(N, N, 3, 0, 5, 1, a, 5, b, 0, 0, c, 0, 0), ATTN_E_ARG, "ldb");
    /* The transposed forms accept what the plain forms reject, and vice versa. */
    cr_expect_eq(attn_sgemm(T, T, 3, 4, 5, 1, a, 3, b, 5, 0, c, 4, 0), ATTN_OK);
    /* Extents that do not fit in 64 bits or in the address space. */
    const int64_t big = (int64_t)1 << 40;
    expect_error(attn_sgemm(N, N, big, 1, big, 1, a, big, b, 1, 0, c, 1, 0), ATTN_E_OVERFLOW, "a");
    expect_error(attn_sgemm(N, N, 1, big, big, 1, a, big, b, big, 0, c, big, 0), ATTN_E_OVERFLOW,
                 "b");
    expect_error(attn_sgemm(N, N, (int64_t)1 << 31, (int64_t)1 << 31, 1, 1, a, 1, b,
                            (int64_t)1 << 31, 0, c, (int64_t)1 << 31, 0),
                 ATTN_E_OVERFLOW, "c");
    expect_error(attn_sgemm(N, N, 2, 2, INT64_MAX, 1, a, INT64_MAX, b, 2, 0, c, 2, 0),
                 ATTN_E_OVERFLOW, NULL);
    /* Nothing was written by the failing calls. */
    for (int i = 0; i < 64; i++) cr_expect_eq(c[i], 0.0f);
}
