/* bench_ring.c — `attn bench ring --len L [--heads H --dim E --causal]`: ring attention over the
 * ranks of an mpirun job (one process without it), forward and backward, checked against the
 * single-process fused kernel on the same inputs. Every rank draws the inputs of its own chunks
 * from the seed (Philox, by global position), so nothing is scattered.
 *
 * Check (after the timed ring, so the peak RSS reported is the ring's own):
 *   --check full   each rank generates the whole sequence and runs the fused kernel forward and
 *                  backward on one process, comparing out, lse, dq, dk, dv of its own chunks;
 *   --check rows   (large L) the last 16 query rows of each local chunk against the fused kernel
 *                  over their key prefix: out, lse and dq (dk/dv need every query: not checked);
 *   --check none.  Default: full up to L = 8192, rows beyond. */
#include "args.h"
#include "cli.h"

#include "bench_util.h"
#include "attn/mpi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { T_Q = 1, T_K, T_V, T_DO };
#define SAMPLE_ROWS 16

static char kv_msg[100]; /* why the bench failed, when the ring itself did not */

/* Element (h, pos, e) of tensor t of the sequence, uniform in [−1, 1). */
static float gen(uint64_t seed, int t, int64_t L, int64_t E, int64_t h, int64_t pos, int64_t e)
{
    return 2.0f * attn_philox_uniform(seed, (uint64_t)t, (uint64_t)((h * L + pos) * E + e)) - 1.0f;
}

/* Local [2][H][c][E] array of tensor t for this rank. */
static void gen_local(float *x, uint64_t seed, int t, const attn_mpi_ring_problem *p, int rank, int ranks)
{
    const int64_t c = p->len / (2 * ranks), E = p->dim;
    for (int s = 0; s < 2; s++) {
        const int64_t base = attn_mpi_ring_chunk_of(rank, ranks, s) * c;
        for (int64_t h = 0; h < p->heads; h++)
            for (int64_t i = 0; i < c; i++)
                for (int64_t e = 0; e < E; e++)
                    x[((s * p->heads + h) * c + i) * E + e] = gen(seed, t, p->len, E, h, base + i, e);
    }
}

/* Whole [1][H][L][E] tensor t. */
static float *gen_full(uint64_t seed, int t, const attn_mpi_ring_problem *p)
{
    const int64_t L = p->len, E = p->dim;
    float *x = malloc((size_t)(p->heads * L * E) * sizeof *x);
    if (!x) return NULL;
    for (int64_t h = 0; h < p->heads; h++)
        for (int64_t i = 0; i < L; i++)
            for (int64_t e = 0; e < E; e++) x[(h * L + i) * E + e] = gen(seed, t, L, E, h, i, e);
    return x;
}

static double maxdiff_chunks(const float *loc, const float *full, const attn_mpi_ring_problem *p, int rank,
                             int ranks, int64_t w)
{
    const int64_t c = p->len / (2 * ranks);
    double m = 0;
    for (int s = 0; s < 2; s++) {
        const int64_t base = attn_mpi_ring_chunk_of(rank, ranks, s) * c;
        for (int64_t h = 0; h < p->heads; h++)
            for (int64_t i = 0; i < c; i++)
                for (int64_t e = 0; e < w; e++) {
                    double a = loc[((s * p->heads + h) * c + i) * w + e];
                    double b = full[(h * p->len + base + i) * w + e];
                    double dd = fabs(a - b);
                    if (!(dd <= m)) m = isnan(dd) ? INFINITY : dd;
                }
    }
    return m;
}

/* Full check: errors of out, lse (as max over both), and of dq, dk, dv. */
static int check_full(const attn_mpi_ring_problem *p, uint64_t seed, int rank, int ranks, const float *out,
                      const float *lse, const float *dq, const float *dk, const float *dv,
                      double *fwd_err, double *bwd_err)
{
    const int64_t H = p->heads, L = p->len, E = p->dim;
    float *Q = gen_full(seed, T_Q, p), *K = gen_full(seed, T_K, p), *V = gen_full(seed, T_V, p);
    float *G = gen_full(seed, T_DO, p);
    size_t n = (size_t)(H * L * E);
    float *O = malloc(n * sizeof *O), *LS = malloc((size_t)(H * L) * sizeof *LS);
    float *DQ = malloc(n * sizeof *DQ), *DK = malloc(n * sizeof *DK), *DV = malloc(n * sizeof *DV);
    int st = ATTN_E_NOMEM;
    if (Q && K && V && G && O && LS && DQ && DK && DV) {
        attn_tensor q = attn_tensor_4d(Q, 1, H, L, E), k = attn_tensor_4d(K, 1, H, L, E);
        attn_tensor v = attn_tensor_4d(V, 1, H, L, E), o = attn_tensor_4d(O, 1, H, L, E);
        attn_tensor g = attn_tensor_4d(G, 1, H, L, E), tq = attn_tensor_4d(DQ, 1, H, L, E);
        attn_tensor tk = attn_tensor_4d(DK, 1, H, L, E), tv = attn_tensor_4d(DV, 1, H, L, E);
        attn_sdpa_options opt;
        memset(&opt, 0, sizeof opt);
        opt.causal = p->causal, opt.scale = p->scale, opt.kernel = ATTN_KERNEL_FLASH;
        opt.num_threads = p->threads;
        st = attn_sdpa_forward(&q, &k, &v, &opt, &o, LS, NULL);
        if (st == ATTN_OK) st = attn_sdpa_backward(&q, &k, &v, &o, LS, &g, &opt, &tq, &tk, &tv, NULL);
        if (st == ATTN_OK) {
            double e1 = maxdiff_chunks(out, O, p, rank, ranks, E);
            double e2 = maxdiff_chunks(lse, LS, p, rank, ranks, 1);
            *fwd_err = e1 > e2 ? e1 : e2;
            double b1 = maxdiff_chunks(dq, DQ, p, rank, ranks, E);
            double b2 = maxdiff_chunks(dk, DK, p, rank, ranks, E);
            double b3 = maxdiff_chunks(dv, DV, p, rank, ranks, E);
            *bwd_err = fmax(b1, fmax(b2, b3));
        }
    }
    free(Q), free(K), free(V), free(G), free(O), free(LS), free(DQ), free(DK), free(DV);
    return st;
}

/* Rows check: the last SAMPLE_ROWS query rows of each local chunk. */
static int check_rows(const attn_mpi_ring_problem *p, uint64_t seed, int rank, int ranks, const float *out,
                      const float *lse, const float *dq, double *fwd_err, double *bwd_err)
{
    const int64_t H = p->heads, L = p->len, E = p->dim, c = L / (2 * ranks), m = SAMPLE_ROWS;
    float *K = gen_full(seed, T_K, p), *V = gen_full(seed, T_V, p);
    float *Q = malloc((size_t)(H * m * E) * sizeof *Q), *G = malloc((size_t)(H * m * E) * sizeof *G);
    float *O = malloc((size_t)(H * m * E) * sizeof *O), *LS = malloc((size_t)(H * m) * sizeof *LS);
    float *DQ = malloc((size_t)(H * m * E) * sizeof *DQ), *DK = NULL, *DV = NULL;
    DK = malloc((size_t)(H * L * E) * sizeof *DK), DV = malloc((size_t)(H * L * E) * sizeof *DV);
    int st = ATTN_E_NOMEM;
    *fwd_err = *bwd_err = 0;
    if (K && V && Q && G && O && LS && DQ && DK && DV) {
        st = ATTN_OK;
        for (int s = 0; s < 2 && st == ATTN_OK; s++) {
            const int64_t end = (attn_mpi_ring_chunk_of(rank, ranks, s) + 1) * c; /* rows [end − m, end) */
            const int64_t nk = p->causal ? end : L;
            for (int64_t h = 0; h < H; h++)
                for (int64_t i = 0; i < m; i++)
                    for (int64_t e = 0; e < E; e++) {
                        Q[(h * m + i) * E + e] = gen(seed, T_Q, L, E, h, end - m + i, e);
                        G[(h * m + i) * E + e] = gen(seed, T_DO, L, E, h, end - m + i, e);
                    }
            attn_tensor q = attn_tensor_4d(Q, 1, H, m, E), g = attn_tensor_4d(G, 1, H, m, E);
            attn_tensor o = attn_tensor_4d(O, 1, H, m, E), tq = attn_tensor_4d(DQ, 1, H, m, E);
            attn_tensor k = attn_tensor_4d(K, 1, H, L, E), v = attn_tensor_4d(V, 1, H, L, E);
            k.shape[2] = v.shape[2] = nk; /* the key prefix (strides keep the full layout) */
            attn_tensor tk = attn_tensor_4d(DK, 1, H, nk, E), tv = attn_tensor_4d(DV, 1, H, nk, E);
            attn_sdpa_options opt;
            memset(&opt, 0, sizeof opt);
            opt.causal = p->causal, opt.align = ATTN_ALIGN_BOTTOM_RIGHT, opt.scale = p->scale;
            opt.kernel = ATTN_KERNEL_FLASH, opt.num_threads = p->threads;
            st = attn_sdpa_forward(&q, &k, &v, &opt, &o, LS, NULL);
            if (st == ATTN_OK) st = attn_sdpa_backward(&q, &k, &v, &o, LS, &g, &opt, &tq, &tk, &tv, NULL);
            for (int64_t h = 0; h < H && st == ATTN_OK; h++)
                for (int64_t i = 0; i < m; i++) {
                    double dl = fabs((double)lse[(s * H + h) * c + c - m + i] - LS[h * m + i]);
                    if (!(dl <= *fwd_err)) *fwd_err = isnan(dl) ? INFINITY : dl;
                    for (int64_t e = 0; e < E; e++) {
                        const int64_t li = ((s * H + h) * c + c - m + i) * E + e, ri = (h * m + i) * E + e;
                        double d1 = fabs((double)out[li] - O[ri]), d2 = fabs((double)dq[li] - DQ[ri]);
                        if (!(d1 <= *fwd_err)) *fwd_err = isnan(d1) ? INFINITY : d1;
                        if (!(d2 <= *bwd_err)) *bwd_err = isnan(d2) ? INFINITY : d2;
                    }
                }
        }
    }
    free(K), free(V), free(Q), free(G), free(O), free(LS), free(DQ), free(DK), free(DV);
    return st;
}

/* Every rank's value, gathered at every rank (sum of one-hot vectors; exact). */
static int gather(attn_mpi_ctx *d, double x, double *all)
{
    int N = attn_mpi_size(d);
    float *v = calloc((size_t)N, sizeof *v);
    if (!v) return ATTN_E_NOMEM;
    v[attn_mpi_rank(d)] = (float)x;
    int st = attn_mpi_allreduce_sum(d, v, (size_t)N);
    for (int i = 0; i < N; i++) all[i] = v[i];
    free(v);
    return st;
}

static double max_of(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++) m = v[i] > m || isnan(v[i]) ? v[i] : m;
    return m;
}

int bench_ring(int argc, char **argv)
{
    attn_mpi_ring_problem p = {4096, 8, 64, 0, 0.0f, 0};
    uint64_t seed = 1234;
    int reps = 1, backward = 1, threads = -1;
    int64_t seed_arg = (int64_t)seed;
    int check_i = -1, no_backward = 0;
    const arg_opt opts[] = {
        {"len", 'n', ARG_I64, &p.len, .lo = 1, .hi = (double)(1 << 24), .help = "sequence length (tokens)"},
        {"heads", 0, ARG_I64, &p.heads, .lo = 1, .hi = 1024, .help = "attention heads"},
        {"dim", 0, ARG_I64, &p.dim, .lo = 1, .hi = 1024, .help = "head dimension"},
        {"causal", 0, ARG_FLAG, &p.causal, .help = "causal mask"},
        {"seed", 0, ARG_I64, &seed_arg, .lo = 0, .hi = 9007199254740992.0, .help = "inputs"},
        {"threads", 'j', ARG_INT, &threads, .lo = -1, .hi = 4096, .help = "threads per rank (-1: cores / ranks)"},
        {"reps", 0, ARG_INT, &reps, .lo = 1, .hi = 1000, .help = "timed repetitions"},
        {"check", 0, ARG_CHOICE, &check_i, .choices = "full|rows|none",
         .help = "against the single-process kernel (default: full up to 8,192 tokens, else rows)"},
        {"no-backward", 0, ARG_FLAG, &no_backward, .help = "forward only"},
        {0}};
    const arg_spec spec = {.cmd = "bench ring", .synopsis = "[options]", .opts = opts,
                           .about = "Ring attention over the ranks of mpirun (the sequence split among them): time,\n"
                                    "memory per rank, and the error against the single-process fused kernel."};
    ARGS_PARSE_OR_RETURN(&spec, argc, argv, NULL, NULL);
    seed = (uint64_t)seed_arg, backward = !no_backward;
    static const char *const checks[] = {"full", "rows", "none"};
    const char *check = check_i >= 0 ? checks[check_i] : p.len <= 8192 ? "full" : "rows";
    if (reps < 1) reps = 1;
    attn_mpi_ctx *d;
    if (attn_mpi_init(&argc, &argv, &d)) {
        fprintf(stderr, "attn bench ring: %s\n", attn_last_error());
        return 1;
    }
    const int N = attn_mpi_size(d), rank = attn_mpi_rank(d);
    p.threads = threads >= 0 ? threads : (N > 1 ? 1 : 0);
    int64_t desc[6] = {p.len, p.heads, p.dim, p.causal, (int64_t)seed, backward};
    int st = attn_mpi_check_same(d, desc, sizeof desc, "the bench ring options");
    if (st) {
        if (rank == 0) fprintf(stderr, "attn bench ring: %s\n", attn_last_error());
        attn_mpi_finalize(d);
        return 1;
    }
    int64_t n = attn_mpi_ring_local_floats(&p, N);
    const int64_t l1 = n / p.dim;
    float *arr[8];
    int ok = n > 0;
    for (int i = 0; i < 8; i++) arr[i] = ok ? malloc((size_t)n * sizeof(float)) : NULL;
    float *lse = ok ? malloc((size_t)l1 * sizeof *lse) : NULL;
    for (int i = 0; i < 8; i++) ok = ok && arr[i];
    float *q = arr[0], *k = arr[1], *v = arr[2], *out = arr[3], *g = arr[4], *dq = arr[5],
          *dk = arr[6], *dv = arr[7];
    attn_mpi_ring_stats fs = {0, 0, 0, 0}, bs = {0, 0, 0, 0};
    double fwd_ms = 0, bwd_ms = 0;
    if (!ok || !lse) st = ATTN_E_NOMEM;
    if (st == ATTN_OK) {
        gen_local(q, seed, T_Q, &p, rank, N), gen_local(k, seed, T_K, &p, rank, N);
        gen_local(v, seed, T_V, &p, rank, N), gen_local(g, seed, T_DO, &p, rank, N);
        double fr[64], br[64];
        if (reps > 64) reps = 64;
        for (int r = 0; r < reps && st == ATTN_OK; r++) {
            st = attn_mpi_barrier(d);
            if (st == ATTN_OK) st = attn_mpi_ring_forward(d, &p, q, k, v, out, lse, &fs);
            fr[r] = fs.total_ms;
            if (st == ATTN_OK && backward)
                st = attn_mpi_ring_backward(d, &p, q, k, v, out, lse, g, dq, dk, dv, &bs);
            br[r] = bs.total_ms;
        }
        if (st == ATTN_OK) fwd_ms = bench_median(fr, reps), bwd_ms = bench_median(br, reps);
    }
    double rss = bench_peak_rss_mb();
    /* k and v travel round the ring in place: they must be home, bit for bit */
    if (st == ATTN_OK) {
        float *home = malloc((size_t)n * sizeof *home);
        if (!home) st = ATTN_E_NOMEM;
        for (int t = T_K; st == ATTN_OK && t <= T_V; t++) {
            gen_local(home, seed, t, &p, rank, N);
            if (memcmp(home, t == T_K ? k : v, (size_t)n * sizeof(float))) {
                snprintf(kv_msg, sizeof kv_msg, "%s is not restored after the ring", t == T_K ? "k" : "v");
                st = ATTN_E_STATE;
            }
        }
        free(home);
    }
    double ferr = NAN, berr = NAN;
    if (st == ATTN_OK && !strcmp(check, "full"))
        st = check_full(&p, seed, rank, N, out, lse, dq, dk, dv, &ferr, &berr);
    else if (st == ATTN_OK && !strcmp(check, "rows"))
        st = check_rows(&p, seed, rank, N, out, lse, dq, &ferr, &berr);
    if (!backward) berr = NAN;
    if (st) {
        fprintf(stderr, "attn bench ring (rank %d of %d): %s\n", rank, N,
                st == ATTN_E_NOMEM ? "out of memory" : kv_msg[0] ? kv_msg : attn_last_error());
        attn_mpi_abort(d, "bench ring failed");
        return 1;
    }
    double all[6][256];
    double mine[6] = {fwd_ms, bwd_ms, ferr, berr, rss,
                      100.0 * (fs.wait_ms + bs.wait_ms) / fmax(fs.total_ms + bs.total_ms, 1e-9)};
    for (int i = 0; i < 6 && st == ATTN_OK && N <= 256; i++) st = gather(d, mine[i], all[i]);
    if (st == ATTN_OK && rank == 0 && N <= 256) {
        printf("ring attention: %d ranks, len %lld (%lld per chunk, 2 chunks per rank), %lld heads "
               "of %lld, %s, check %s\n", N, (long long)p.len, (long long)(p.len / (2 * N)),
               (long long)p.heads, (long long)p.dim, p.causal ? "causal" : "full", check);
        for (int r = 0; r < N; r++)
            printf("  rank %d: fwd %.1f ms bwd %.1f ms, fwd err %.3g bwd err %.3g, peak RSS %.1f MB, "
                   "comm wait %.1f%%\n", r, all[0][r], all[1][r], all[2][r], all[3][r], all[4][r], all[5][r]);
        printf("result: ranks=%d len=%lld ms=%.1f max_err=%.3g peak_rss_mb_per_rank=%.1f "
               "comm_wait_pct=%.1f bwd_ms=%.1f bwd_max_err=%.3g\n", N, (long long)p.len,
               max_of(all[0], N), max_of(all[2], N), max_of(all[4], N), max_of(all[5], N),
               max_of(all[1], N), max_of(all[3], N));
    }
    for (int i = 0; i < 8; i++) free(arr[i]);
    free(lse);
    attn_mpi_finalize(d);
    return st ? 1 : 0;
}
