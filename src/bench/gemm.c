/* gemm.c — a matrix-product benchmark case: attn_sgemm beside another implementation (bench.h). */
#include "internal.h"

#include <stdio.h>
#include <string.h>

int attn_bench_sgemm_parse(const char *spec, attn_bench_sgemm_case *c)
{
    ATTN_REQUIRE_NONNULL("attn_bench_sgemm_parse", spec);
    ATTN_REQUIRE_NONNULL("attn_bench_sgemm_parse", c);
    long long m, n, k;
    int used = 0, ok = 1;
    char op[2] = {'N', 'N'};
    if (sscanf(spec, "%lldx%lldx%lld%n", &m, &n, &k, &used) != 3) {
        used = 0;
        ok = sscanf(spec, "%lld%n", &m, &used) == 1;
        n = k = m;
    }
    if (ok && spec[used] == ':') {
        ok = strlen(spec + used + 1) == 2;
        if (ok) memcpy(op, spec + used + 1, 2);
    } else if (ok) {
        ok = spec[used] == '\0';
    }
    ok = ok && m >= 1 && n >= 1 && k >= 1 && (op[0] == 'N' || op[0] == 'T') && (op[1] == 'N' || op[1] == 'T');
    if (!ok) return attn_fail(ATTN_E_ARG, "attn_bench_sgemm_parse: '%s' is not MxNxK or N, with :NN/NT/TN/TT", spec);
    c->M = m, c->N = n, c->K = k;
    c->ta = op[0] == 'T' ? ATTN_TRANS : ATTN_NO_TRANS;
    c->tb = op[1] == 'T' ? ATTN_TRANS : ATTN_NO_TRANS;
    return ATTN_OK;
}

typedef struct product {
    const attn_bench_sgemm_case *c;
    const float *A, *B;
    float *C;
    attn_bench_sgemm_fn other;
    void *ctx;
} product;

static int run_attn(void *p)
{
    const product *g = p;
    const attn_bench_sgemm_case *c = g->c;
    return attn_sgemm(c->ta, c->tb, c->M, c->N, c->K, 1.0f, g->A, c->ta ? c->M : c->K, g->B, c->tb ? c->K : c->N,
                      0.0f, g->C, c->N, c->threads);
}

static int run_other(void *p)
{
    const product *g = p;
    return g->other(g->ctx, g->c, g->A, g->B, g->C);
}

int attn_bench_sgemm(const attn_bench_sgemm_case *c, const float *A, const float *B, attn_bench_sgemm_fn other,
                     void *other_ctx, attn_machine_peak *peak, attn_bench_sgemm_result *out)
{
    ATTN_REQUIRE_NONNULL("attn_bench_sgemm", c);
    ATTN_REQUIRE_NONNULL("attn_bench_sgemm", A);
    ATTN_REQUIRE_NONNULL("attn_bench_sgemm", B);
    ATTN_REQUIRE_NONNULL("attn_bench_sgemm", out);
    if (c->M < 1 || c->N < 1 || c->K < 1 || c->threads < 1 || c->reps < 1 || c->reps > ATTN_BENCH_MAX_REPS ||
        c->M > INT64_MAX / 8 / c->N)
        return attn_fail(ATTN_E_ARG, "attn_bench_sgemm: %lldx%lldx%lld, threads %d, reps %d", (long long)c->M,
                         (long long)c->N, (long long)c->K, c->threads, c->reps);
    memset(out, 0, sizeof *out);
    out->flops = 2.0 * c->M * c->N * c->K;
    float *C = malloc((size_t)(c->M * c->N) * sizeof *C), *C2 = other ? malloc((size_t)(c->M * c->N) * sizeof *C2) : NULL;
    int st = !C || (other && !C2) ? attn_fail(ATTN_E_NOMEM, "attn_bench_sgemm: C[%lld, %lld]", (long long)c->M,
                                              (long long)c->N)
                                  : ATTN_OK, batch = 1;
    while (batch < 4096 && out->flops * batch < 2e7) batch *= 2;
    product g[2] = {{c, A, B, C, NULL, NULL}, {c, A, B, C2, other, other_ctx}};
    const attn_bench_fn fns[2] = {run_attn, run_other};
    void *const ctx[2] = {&g[0], &g[1]};
    const attn_bench_options o = {.reps = c->reps, .min_seconds = 0.2, .rounds = 4, .batch = batch,
                                  .warm_each_block = 1, .pause_seconds = 0.12, .peak = peak};
    if (st == ATTN_OK) st = attn_bench_time(other ? 2 : 1, fns, ctx, &o, out->t);
    for (int64_t i = 0; st == ATTN_OK && other && i < c->M * c->N; i++) {
        out->max_abs_diff = fmax(out->max_abs_diff, fabs((double)C[i] - C2[i]));
        out->max_abs = fmax(out->max_abs, fabs(C2[i]));
    }
    free(C), free(C2);
    return st;
}
