/* bench_gemm.c — `attn bench gemm`: attn_sgemm against OpenBLAS's cblas_sgemm, side by side.
 *
 * For each shape both implementations run on the same operands, --reps times each or more (a
 * short product is repeated until each implementation has been timed for about 0.2 s: seven
 * runs of a 1.6 ms product made its ratio a draw between 0.6 and 1.5 on a shared machine), in
 * up to four alternating rounds so machine load hits both alike. Lines quote the median time
 * (and min/max, to show the noise) and the ratio of the medians.
 * Shapes are M×N×K: C[M,N] = op(A)[M,K]·op(B)[K,N]. The FMA peak behind pct_peak is the best of
 * short calibration runs at the start and before every timed block (attn/bench.h). */
#include "bench_util.h"
#include "args.h"
#include "cli.h"

#ifdef ATTN_HAVE_OPENBLAS /* mk/gemm.mk: set when pkg-config finds openblas */
#include <cblas.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef ATTN_HAVE_OPENBLAS
#pragma weak openblas_set_num_threads
#pragma weak openblas_get_corename
#endif

/* Square products, the Transformer Linear layer (X[4096,384], W 384↔1536) forward and
 * backward, and skinny products (decoding one token, a few rows). */
static const char default_shapes[] =
    "512,1024,2048,"
    "4096x1536x384:NN,4096x1536x384:NT,4096x384x1536:NN,4096x384x1536:NT,1536x384x4096:TN,"
    "384x1536x4096:TN,1x1536x384:NN,1x1536x384:NT,16x1536x384:NN,16x1536x384:NT,"
    "4096x64x64:NN,64x64x4096:TN";

static float *random_matrix(int64_t n, unsigned *state)
{
    float *p = malloc((size_t)n * sizeof *p);
    if (!p) return NULL;
    for (int64_t i = 0; i < n; i++) {
        *state = *state * 1664525u + 1013904223u;
        p[i] = (float)((*state >> 8) * (2.0 / 16777216.0) - 1.0);
    }
    return p;
}

/* OpenBLAS's product on the operands attn_bench_sgemm hands over */
static int run_openblas(void *ctx, const attn_bench_sgemm_case *c, const float *A, const float *B, float *C)
{
    (void)ctx;
#ifdef ATTN_HAVE_OPENBLAS
    cblas_sgemm(CblasRowMajor, c->ta ? CblasTrans : CblasNoTrans, c->tb ? CblasTrans : CblasNoTrans, (int)c->M,
                (int)c->N, (int)c->K, 1.0f, A, (int)(c->ta ? c->M : c->K), B, (int)(c->tb ? c->K : c->N), 0.0f, C,
                (int)c->N);
#else
    (void)c, (void)A, (void)B, (void)C;
#endif
    return 0;
}

/* One product, attn_sgemm beside OpenBLAS (attn_bench_sgemm, attn/bench.h); returns the exit
 * status: 0, 1 (out of memory, a library error) or 2 (a bad shape). */
static int run_shape(const char *tok, unsigned *seed, int threads, int reps, int with_openblas, attn_machine_peak *pk)
{
    attn_bench_sgemm_case c = {.threads = threads, .reps = reps > ATTN_BENCH_MAX_REPS ? ATTN_BENCH_MAX_REPS : reps};
    if (attn_bench_sgemm_parse(tok, &c)) {
        fprintf(stderr, "attn bench gemm: bad shape '%s'\n", tok);
        return 2;
    }
    float *A = random_matrix(c.M * c.K, seed), *B = random_matrix(c.K * c.N, seed);
    attn_bench_sgemm_result r;
    int st = !A || !B ? attn_set_error(ATTN_E_NOMEM, "out of memory") : ATTN_OK;
    if (st == ATTN_OK) st = attn_bench_sgemm(&c, A, B, with_openblas ? run_openblas : NULL, NULL, pk, &r);
    free(A), free(B);
    if (st) return cli_error("bench gemm", tok, st);
    const char *names[2] = {"attn", "openblas"};
    const char op[3] = {c.ta ? 'T' : 'N', c.tb ? 'T' : 'N', 0};
    for (int k = 0; k < 1 + with_openblas; k++) {
        double gf = r.flops / (r.t[k].ms * 1e-3) * 1e-9;
        printf("shape=%lldx%lldx%lld op=%s threads=%d impl=%s ms=%.4f ms_min=%.4f ms_max=%.4f reps=%d gflops=%.1f "
               "peak_gflops=%.1f", (long long)c.M, (long long)c.N, (long long)c.K, op, threads, names[k], r.t[k].ms,
               r.t[k].ms_min, r.t[k].ms_max, r.t[k].reps, gf, pk->gflops);
        bench_print_pct(pk, "pct_peak", gf, pk->gflops);
        printf("\n");
    }
    if (with_openblas)
        printf("shape=%lldx%lldx%lld op=%s threads=%d speedup_vs_openblas=%.3f max_abs_diff=%.3g max_abs=%.3g\n",
               (long long)c.M, (long long)c.N, (long long)c.K, op, threads, r.t[1].ms / r.t[0].ms, r.max_abs_diff,
               r.max_abs);
    fflush(stdout);
    return 0;
}

int bench_gemm(int argc, char **argv)
{
    int threads = 2, reps = 7, no_openblas = 0, isa_i = -1;
    const char *shapes = default_shapes;
    const arg_opt opts[] = {
        {"threads", 'j', ARG_INT, &threads, .lo = 1, .hi = 4096, .help = "threads"},
        {"reps", 0, ARG_INT, &reps, .lo = 1, .hi = 1000, .help = "repetitions (the median is reported)"},
        {"shapes", 's', ARG_STR, &shapes, .meta = "MxNxK,...", .help = "products to time"},
        {"no-openblas", 0, ARG_FLAG, &no_openblas, .help = "attn alone"},
        BENCH_ISA_OPT(&isa_i),
        {0}};
    const arg_spec spec = {.cmd = "bench gemm", .synopsis = "[options]", .opts = opts,
                           .about = "attn's matrix products beside OpenBLAS's on the same shapes, in one run."};
    ARGS_PARSE_OR_RETURN(&spec, argc, argv, NULL, NULL);
    int with_openblas = !no_openblas;
    if (bench_set_isa("bench gemm", isa_i)) return 1;
    attn_machine_peak pk;
    (void)attn_machine_peak_init(&pk, threads); /* before OpenBLAS starts its threads */
    const char *core = "none";
#ifdef ATTN_HAVE_OPENBLAS
    if (openblas_set_num_threads) openblas_set_num_threads(threads);
    core = openblas_get_corename ? openblas_get_corename() : "?";
#else
    if (with_openblas)
        fprintf(stderr, "attn bench gemm: built without OpenBLAS (libopenblas-dev): timing attn alone\n");
    with_openblas = 0;
#endif
    printf("# attn bench gemm: threads=%d reps=%d isa=%s openblas_core=%s peak_gflops=%.1f\n",
           threads, reps, attn_isa_name(attn_get_isa()), core, pk.gflops);
    printf("# shape=MxNxK: C[M,N] = op(A)[M,K]·op(B)[K,N]; ms = median (min..max) of reps\n");
    char *list = strdup(shapes);
    if (!list) return 1;
    int status = 0;
    unsigned seed = 12345;
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok && !status; tok = strtok_r(NULL, ",", &save))
        status = run_shape(tok, &seed, threads, reps, with_openblas, &pk);
    free(list);
    printf("# peak_gflops=%.1f: best of %d calibration runs, interleaved with the timing\n",
           pk.gflops, pk.fma_runs);
    printf("# peak_rss_mb=%.1f\n", attn_peak_rss_mb());
    return status;
}
