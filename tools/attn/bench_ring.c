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

#include "attn/mpi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* the larger, a NaN counting as the largest */
static double worse(double m, double v) { return v > m || isnan(v) ? v : m; }

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
    if (check_i < 0) check_i = p.len <= 8192 ? 0 : 1;
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
    static const int modes[] = {ATTN_MPI_RING_BENCH_CHECK_FULL, ATTN_MPI_RING_BENCH_CHECK_ROWS,
                                ATTN_MPI_RING_BENCH_NO_CHECK};
    attn_mpi_ring_bench_result mine, *all = calloc((size_t)N, sizeof *all);
    st = all ? attn_mpi_ring_bench(d, &p, seed, reps > 64 ? 64 : reps, backward, modes[check_i], &mine)
             : attn_set_error(ATTN_E_NOMEM, "out of memory");
    if (st) {
        fprintf(stderr, "attn bench ring (rank %d of %d): %s\n", rank, N, attn_last_error());
        attn_mpi_abort(d, "bench ring failed");
        return 1;
    }
    st = attn_mpi_ring_bench_gather(d, &mine, all);
    if (st == ATTN_OK && rank == 0) {
        printf("ring attention: %d ranks, len %lld (%lld per chunk, 2 chunks per rank), %lld heads "
               "of %lld, %s, check %s\n", N, (long long)p.len, (long long)(p.len / (2 * N)),
               (long long)p.heads, (long long)p.dim, p.causal ? "causal" : "full", checks[check_i]);
        for (int r = 0; r < N; r++)
            printf("  rank %d: fwd %.1f ms bwd %.1f ms, fwd err %.3g bwd err %.3g, peak RSS %.1f MB, "
                   "comm wait %.1f%%\n", r, all[r].fwd_ms, all[r].bwd_ms, all[r].fwd_err, all[r].bwd_err,
                   all[r].rss_mb, all[r].wait_pct);
        attn_mpi_ring_bench_result m = all[0];
        for (int r = 1; r < N; r++) {
            m.fwd_ms = worse(m.fwd_ms, all[r].fwd_ms), m.bwd_ms = worse(m.bwd_ms, all[r].bwd_ms);
            m.fwd_err = worse(m.fwd_err, all[r].fwd_err), m.bwd_err = worse(m.bwd_err, all[r].bwd_err);
            m.rss_mb = worse(m.rss_mb, all[r].rss_mb), m.wait_pct = worse(m.wait_pct, all[r].wait_pct);
        }
        printf("result: ranks=%d len=%lld ms=%.1f max_err=%.3g peak_rss_mb_per_rank=%.1f "
               "comm_wait_pct=%.1f bwd_ms=%.1f bwd_max_err=%.3g\n", N, (long long)p.len, m.fwd_ms,
               m.fwd_err, m.rss_mb, m.wait_pct, m.bwd_ms, m.bwd_err);
    }
    free(all);
    attn_mpi_finalize(d);
    return st ? 1 : 0;
}
