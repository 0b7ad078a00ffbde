/* bench_ring.c — `attn bench ring --len L [--heads H --dim E --causal]`: ring attention over the
 * ranks of an mpirun job (one process without it), forward and backward, checked against the
 * single-process fused kernel on the same inputs (attn_mpi_ring_check). Every rank draws the
 * inputs of its own chunks from the seed (attn_mpi_ring_fill), so nothing is scattered.
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

static char kv_msg[100]; /* why the bench failed, when the ring itself did not */

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
        st = attn_mpi_ring_fill(q, seed, ATTN_MPI_RING_Q, &p, rank, N);
        if (st == ATTN_OK) st = attn_mpi_ring_fill(k, seed, ATTN_MPI_RING_K, &p, rank, N);
        if (st == ATTN_OK) st = attn_mpi_ring_fill(v, seed, ATTN_MPI_RING_V, &p, rank, N);
        if (st == ATTN_OK) st = attn_mpi_ring_fill(g, seed, ATTN_MPI_RING_DOUT, &p, rank, N);
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
    double rss = attn_peak_rss_mb();
    /* k and v travel round the ring in place: they must be home, bit for bit */
    if (st == ATTN_OK) {
        float *home = malloc((size_t)n * sizeof *home);
        if (!home) st = ATTN_E_NOMEM;
        for (int t = ATTN_MPI_RING_K; st == ATTN_OK && t <= ATTN_MPI_RING_V; t++) {
            st = attn_mpi_ring_fill(home, seed, t, &p, rank, N);
            if (st == ATTN_OK && memcmp(home, t == ATTN_MPI_RING_K ? k : v, (size_t)n * sizeof(float))) {
                snprintf(kv_msg, sizeof kv_msg, "%s is not restored after the ring", t == ATTN_MPI_RING_K ? "k" : "v");
                st = ATTN_E_STATE;
            }
        }
        free(home);
    }
    double ferr = NAN, berr = NAN;
    if (st == ATTN_OK && strcmp(check, "none"))
        st = attn_mpi_ring_check(&p, seed, rank, N, !strcmp(check, "rows"), out, lse, backward ? dq : NULL, dk, dv,
                                 &ferr, &berr);
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
