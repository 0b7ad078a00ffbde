/* bench_gemm.c — `attn bench gemm`: attn_sgemm against OpenBLAS's cblas_sgemm, side by side.
 *
 * For each shape both implementations run on the same operands, --reps times each or more (a
 * short product is repeated until each implementation has been timed for about 0.2 s: seven
 * runs of a 1.6 ms product made its ratio a draw between 0.6 and 1.5 on a shared machine), in
 * up to four alternating rounds so machine load hits both alike. Lines quote the median time (and
 * min/max, to show the noise) and the ratio of the medians.
 * Shapes are M×N×K: C[M,N] = op(A)[M,K]·op(B)[K,N]. The FMA peak behind pct_peak is the best of
 * short calibration runs at the start and before every timed block (bench_util.h). */
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
#include <time.h>

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

typedef struct {
    int64_t M, N, K;
    int ta, tb;
} shape;

static int parse_shape(const char *s, shape *out)
{
    long long m, n, k;
    char op[3] = "NN";
    int used = 0;
    if (sscanf(s, "%lldx%lldx%lld%n", &m, &n, &k, &used) == 3) {
    } else if (sscanf(s, "%lld%n", &m, &used) == 1) {
        n = k = m;
    } else {
        return -1;
    }
    if (s[used] == ':') {
        if (strlen(s + used + 1) != 2) return -1;
        memcpy(op, s + used + 1, 2);
    } else if (s[used] != '\0') {
        return -1;
    }
    if (m < 1 || n < 1 || k < 1) return -1;
    if ((op[0] != 'N' && op[0] != 'T') || (op[1] != 'N' && op[1] != 'T')) return -1;
    *out = (shape){m, n, k, op[0] == 'T', op[1] == 'T'};
    return 0;
}

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

static void run_attn(const shape *s, const float *A, const float *B, float *C, int threads)
{
    int64_t lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    int rc = attn_sgemm(s->ta ? ATTN_TRANS : ATTN_NO_TRANS, s->tb ? ATTN_TRANS : ATTN_NO_TRANS,
                        s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, s->N, threads);
    if (rc) cli_error("bench gemm", "attn_sgemm", rc);
}

static void run_openblas(const shape *s, const float *A, const float *B, float *C)
{
#ifdef ATTN_HAVE_OPENBLAS
    int lda = (int)(s->ta ? s->M : s->K), ldb = (int)(s->tb ? s->K : s->N);
    cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans,
                s->tb ? CblasTrans : CblasNoTrans, (int)s->M, (int)s->N, (int)s->K, 1.0f, A, lda,
                B, ldb, 0.0f, C, (int)s->N);
#else
    (void)s, (void)A, (void)B, (void)C;
#endif
}

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Time `reps` runs (or more, see the top of the file) of each implementation in up to four
 * alternating rounds (attn, OpenBLAS, attn, OpenBLAS, …), so changes in machine load hit both
 * alike. A pause before each block lets the other library's worker threads stop spinning
 * (OpenBLAS's spin for ~0.1 s after a call and would steal the cores). Tiny products are
 * timed in batches so the clock resolution does not matter. t[impl] = median, min, max in ms.
 * Returns the repetitions timed per implementation. */
static int time_both(const shape *s, const float *A, const float *B, float *C, float *C2,
                     int threads, int reps, int with_openblas, double t[2][3], attn_machine_peak *pk)
{
    double v[2][256];
    int n[2] = {0, 0};
    if (reps > 256) reps = 256;
    int inner = 1;
    double flops = 2.0 * s->M * s->N * s->K;
    while (inner < 4096 && flops * inner < 2e7) inner *= 2;
    run_attn(s, A, B, C, threads); /* cold: page faults, the pool's threads */
    double t0 = attn_now();       /* one warm batch sets the repetitions */
    for (int i = 0; i < inner; i++) run_attn(s, A, B, C, threads);
    const double batch_ms = (attn_now() - t0) * 1e3;
    while (reps < 256 && reps * batch_ms < 200.0) reps++;
    const int rounds = reps < 4 ? reps : 4;
    for (int round = 0; round < rounds; round++) {
        for (int impl = 0; impl < 1 + with_openblas; impl++) {
            int count = (round + 1) * reps / rounds - round * reps / rounds;
            if (count == 0) continue;
            if (with_openblas) pause_ms(120);
            (void)attn_machine_peak_sample(pk); /* interleaved calibration (before OpenBLAS's threads wake) */
            impl ? run_openblas(s, A, B, C2) : run_attn(s, A, B, C, threads); /* warm-up */
            for (int r = 0; r < count; r++) {
                double t0 = attn_now();
                for (int i = 0; i < inner; i++)
                    impl ? run_openblas(s, A, B, C2) : run_attn(s, A, B, C, threads);
                v[impl][n[impl]++] = (attn_now() - t0) * 1e3 / inner;
            }
        }
    }
    for (int k = 0; k < 1 + with_openblas; k++) {
        double lo = v[k][0], hi = v[k][0];
        for (int r = 1; r < n[k]; r++)
            lo = v[k][r] < lo ? v[k][r] : lo, hi = v[k][r] > hi ? v[k][r] : hi;
        t[k][0] = bench_median(v[k], n[k]);
        t[k][1] = lo;
        t[k][2] = hi;
    }
    return reps;
}


int bench_gemm(int argc, char **argv)
{
    int threads = 2, reps = 7, with_openblas = 1;
    const char *shapes = default_shapes;
    int no_openblas = 0, isa_i = -1;
    const arg_opt opts[] = {
        {"threads", 'j', ARG_INT, &threads, .lo = 1, .hi = 4096, .help = "threads"},
        {"reps", 0, ARG_INT, &reps, .lo = 1, .hi = 1000, .help = "repetitions (the median is reported)"},
        {"shapes", 's', ARG_STR, &shapes, .meta = "MxNxK,...", .help = "products to time"},
        {"no-openblas", 0, ARG_FLAG, &no_openblas, .help = "attn alone"},
        {"isa", 0, ARG_CHOICE, &isa_i, .choices = "portable|avx2|avx512", .help = "force an instruction set"},
        {0}};
    const arg_spec spec = {.cmd = "bench gemm", .synopsis = "[options]", .opts = opts,
                           .about = "attn's matrix products beside OpenBLAS's on the same shapes, in one run."};
    ARGS_PARSE_OR_RETURN(&spec, argc, argv, NULL, NULL);
    with_openblas = !no_openblas;
    static const attn_isa isas[] = {ATTN_ISA_PORTABLE, ATTN_ISA_AVX2, ATTN_ISA_AVX512};
    if (isa_i >= 0) {
        const int st = attn_set_isa(isas[isa_i]);
        if (st) return cli_error("bench gemm", "--isa", st);
    }
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
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        shape s;
        if (parse_shape(tok, &s)) {
            fprintf(stderr, "attn bench gemm: bad shape '%s'\n", tok);
            status = 2;
            break;
        }
        float *A = random_matrix(s.M * s.K, &seed), *B = random_matrix(s.K * s.N, &seed);
        float *C = malloc((size_t)(s.M * s.N) * sizeof *C);
        float *C2 = malloc((size_t)(s.M * s.N) * sizeof *C2);
        if (!A || !B || !C || !C2) {
            fprintf(stderr, "attn bench gemm: out of memory for %s\n", tok);
            free(A), free(B), free(C), free(C2);
            status = 1;
            break;
        }
        char op[3] = {s.ta ? 'T' : 'N', s.tb ? 'T' : 'N', 0};
        double flops = 2.0 * s.M * s.N * s.K, t[2][3] = {{0}};
        const int timed = time_both(&s, A, B, C, C2, threads, reps, with_openblas, t, &pk);
        const char *names[2] = {"attn", "openblas"};
        for (int k = 0; k < 1 + with_openblas; k++) {
            double g = flops / (t[k][0] * 1e-3) * 1e-9;
            printf("shape=%lldx%lldx%lld op=%s threads=%d impl=%s ms=%.4f ms_min=%.4f "
                   "ms_max=%.4f reps=%d gflops=%.1f peak_gflops=%.1f",
                   (long long)s.M, (long long)s.N, (long long)s.K, op, threads, names[k],
                   t[k][0], t[k][1], t[k][2], timed, g, pk.gflops);
            bench_print_pct(&pk, "pct_peak", g, pk.gflops);
            printf("\n");
        }
        if (with_openblas) {
            double maxerr = 0, maxref = 0;
            for (int64_t i = 0; i < s.M * s.N; i++) {
                double d = fabs((double)C[i] - C2[i]);
                maxerr = d > maxerr ? d : maxerr;
                maxref = fabs(C2[i]) > maxref ? fabs(C2[i]) : maxref;
            }
            printf("shape=%lldx%lldx%lld op=%s threads=%d speedup_vs_openblas=%.3f "
                   "max_abs_diff=%.3g max_abs=%.3g\n",
                   (long long)s.M, (long long)s.N, (long long)s.K, op, threads, t[1][0] / t[0][0], maxerr,
                   maxref);
        }
        fflush(stdout);
        free(A), free(B), free(C), free(C2);
    }
    free(list);
    printf("# peak_gflops=%.1f: best of %d calibration runs, interleaved with the timing\n",
           pk.gflops, pk.fma_runs);
    printf("# peak_rss_mb=%.1f\n", attn_peak_rss_mb());
    return status;
}
