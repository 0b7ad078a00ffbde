/* ring_check.c — inputs a ring-attention job can generate on every rank without scattering
 * anything, and the check of a rank's results against the single-process fused kernel
 * (attn/mpi.h: attn_mpi_ring_fill, attn_mpi_ring_check). */
#include "attn/mpi.h"

#include "attn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Element (h, pos, e) of tensor t of the sequence, uniform in [−1, 1). */
static float gen(uint64_t seed, int t, int64_t L, int64_t E, int64_t h, int64_t pos, int64_t e)
{
    return 2.0f * attn_philox_uniform(seed, (uint64_t)t, (uint64_t)((h * L + pos) * E + e)) - 1.0f;
}

static int check_args(const char *fn, const attn_mpi_ring_problem *p, int rank, int ranks, int tensor)
{
    if (!p) return attn_set_error(ATTN_E_ARG, "%s: problem is NULL", fn);
    if (ranks < 1 || rank < 0 || rank >= ranks || attn_mpi_ring_local_floats(p, ranks) <= 0)
        return attn_set_error(ATTN_E_ARG, "%s: len %lld, heads %lld, dim %lld over %d ranks (rank %d)", fn,
                              (long long)p->len, (long long)p->heads, (long long)p->dim, ranks, rank);
    if (tensor < ATTN_MPI_RING_Q || tensor > ATTN_MPI_RING_DOUT)
        return attn_set_error(ATTN_E_ARG, "%s: tensor %d", fn, tensor);
    return ATTN_OK;
}

int attn_mpi_ring_fill(float *x, uint64_t seed, int tensor, const attn_mpi_ring_problem *p, int rank, int ranks)
{
    int st = check_args("attn_mpi_ring_fill", p, rank, ranks, tensor);
    if (st) return st;
    if (!x) return attn_set_error(ATTN_E_ARG, "attn_mpi_ring_fill: x is NULL");
    const int64_t c = p->len / (2 * ranks), E = p->dim;
    for (int s = 0; s < 2; s++) {
        const int64_t base = attn_mpi_ring_chunk_of(rank, ranks, s) * c;
        for (int64_t h = 0; h < p->heads; h++)
            for (int64_t i = 0; i < c; i++)
                for (int64_t e = 0; e < E; e++)
                    x[((s * p->heads + h) * c + i) * E + e] = gen(seed, tensor, p->len, E, h, base + i, e);
    }
    return ATTN_OK;
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

/* the larger of m and |a − b|, NaN counting as infinite */
static double worst(double m, double a, double b)
{
    double d = fabs(a - b);
    return d <= m ? m : isnan(d) ? INFINITY : d;
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
                for (int64_t e = 0; e < w; e++)
                    m = worst(m, loc[((s * p->heads + h) * c + i) * w + e], full[(h * p->len + base + i) * w + e]);
    }
    return m;
}

static attn_sdpa_options fused(const attn_mpi_ring_problem *p, int bottom_right)
{
    attn_sdpa_options opt;
    memset(&opt, 0, sizeof opt);
    opt.causal = p->causal, opt.scale = p->scale, opt.kernel = ATTN_KERNEL_FLASH, opt.num_threads = p->threads;
    if (bottom_right) opt.align = ATTN_ALIGN_BOTTOM_RIGHT;
    return opt;
}

static int check_full(const attn_mpi_ring_problem *p, uint64_t seed, int rank, int ranks, const float *out,
                      const float *lse, const float *dq, const float *dk, const float *dv, double *fwd_err,
                      double *bwd_err)
{
    const int64_t H = p->heads, L = p->len, E = p->dim;
    float *Q = gen_full(seed, ATTN_MPI_RING_Q, p), *K = gen_full(seed, ATTN_MPI_RING_K, p);
    float *V = gen_full(seed, ATTN_MPI_RING_V, p), *G = dq ? gen_full(seed, ATTN_MPI_RING_DOUT, p) : NULL;
    size_t n = (size_t)(H * L * E);
    float *O = malloc(n * sizeof *O), *LS = malloc((size_t)(H * L) * sizeof *LS);
    float *DQ = malloc(n * sizeof *DQ), *DK = malloc(n * sizeof *DK), *DV = malloc(n * sizeof *DV);
    int st = attn_set_error(ATTN_E_NOMEM, "attn_mpi_ring_check: the whole sequence (%lld floats)", (long long)n);
    if (Q && K && V && (G || !dq) && O && LS && DQ && DK && DV) {
        attn_tensor q = attn_tensor_4d(Q, 1, H, L, E), k = attn_tensor_4d(K, 1, H, L, E);
        attn_tensor v = attn_tensor_4d(V, 1, H, L, E), o = attn_tensor_4d(O, 1, H, L, E);
        attn_tensor g = attn_tensor_4d(G, 1, H, L, E), tq = attn_tensor_4d(DQ, 1, H, L, E);
        attn_tensor tk = attn_tensor_4d(DK, 1, H, L, E), tv = attn_tensor_4d(DV, 1, H, L, E);
        attn_sdpa_options opt = fused(p, 0);
        st = attn_sdpa_forward(&q, &k, &v, &opt, &o, LS, NULL);
        if (st == ATTN_OK && dq) st = attn_sdpa_backward(&q, &k, &v, &o, LS, &g, &opt, &tq, &tk, &tv, NULL);
        if (st == ATTN_OK) {
            *fwd_err = fmax(maxdiff_chunks(out, O, p, rank, ranks, E), maxdiff_chunks(lse, LS, p, rank, ranks, 1));
            if (dq)
                *bwd_err = fmax(maxdiff_chunks(dq, DQ, p, rank, ranks, E),
                                fmax(maxdiff_chunks(dk, DK, p, rank, ranks, E), maxdiff_chunks(dv, DV, p, rank, ranks, E)));
        }
    }
    free(Q), free(K), free(V), free(G), free(O), free(LS), free(DQ), free(DK), free(DV);
    return st;
}

static int check_rows(const attn_mpi_ring_problem *p, uint64_t seed, int rank, int ranks, const float *out,
                      const float *lse, const float *dq, double *fwd_err, double *bwd_err)
{
    const int64_t H = p->heads, L = p->len, E = p->dim, c = L / (2 * ranks), m = ATTN_MPI_RING_CHECK_ROWS;
    float *K = gen_full(seed, ATTN_MPI_RING_K, p), *V = gen_full(seed, ATTN_MPI_RING_V, p);
    float *Q = malloc((size_t)(H * m * E) * sizeof *Q), *G = malloc((size_t)(H * m * E) * sizeof *G);
    float *O = malloc((size_t)(H * m * E) * sizeof *O), *LS = malloc((size_t)(H * m) * sizeof *LS);
    float *DQ = malloc((size_t)(H * m * E) * sizeof *DQ);
    float *DK = malloc((size_t)(H * L * E) * sizeof *DK), *DV = malloc((size_t)(H * L * E) * sizeof *DV);
    int st = attn_set_error(ATTN_E_NOMEM, "attn_mpi_ring_check: the keys and values (%lld floats)", (long long)(H * L * E));
    if (K && V && Q && G && O && LS && DQ && DK && DV) {
        st = ATTN_OK;
        for (int s = 0; s < 2 && st == ATTN_OK; s++) {
            const int64_t end = (attn_mpi_ring_chunk_of(rank, ranks, s) + 1) * c; /* rows [end − m, end) */
            const int64_t nk = p->causal ? end : L;
            for (int64_t h = 0; h < H; h++)
                for (int64_t i = 0; i < m; i++)
                    for (int64_t e = 0; e < E; e++) {
                        Q[(h * m + i) * E + e] = gen(seed, ATTN_MPI_RING_Q, L, E, h, end - m + i, e);
                        G[(h * m + i) * E + e] = gen(seed, ATTN_MPI_RING_DOUT, L, E, h, end - m + i, e);
                    }
            attn_tensor q = attn_tensor_4d(Q, 1, H, m, E), g = attn_tensor_4d(G, 1, H, m, E);
            attn_tensor o = attn_tensor_4d(O, 1, H, m, E), tq = attn_tensor_4d(DQ, 1, H, m, E);
            attn_tensor k = attn_tensor_4d(K, 1, H, L, E), v = attn_tensor_4d(V, 1, H, L, E);
            k.shape[2] = v.shape[2] = nk; /* the key prefix (strides keep the full layout) */
            attn_tensor tk = attn_tensor_4d(DK, 1, H, nk, E), tv = attn_tensor_4d(DV, 1, H, nk, E);
            attn_sdpa_options opt = fused(p, 1);
            st = attn_sdpa_forward(&q, &k, &v, &opt, &o, LS, NULL);
            if (st == ATTN_OK && dq) st = attn_sdpa_backward(&q, &k, &v, &o, LS, &g, &opt, &tq, &tk, &tv, NULL);
            for (int64_t h = 0; h < H && st == ATTN_OK; h++)
                for (int64_t i = 0; i < m; i++) {
                    *fwd_err = worst(*fwd_err, lse[(s * H + h) * c + c - m + i], LS[h * m + i]);
                    for (int64_t e = 0; e < E; e++) {
                        const int64_t li = ((s * H + h) * c + c - m + i) * E + e, ri = (h * m + i) * E + e;
                        *fwd_err = worst(*fwd_err, out[li], O[ri]);
                        if (dq) *bwd_err = worst(*bwd_err, dq[li], DQ[ri]);
                    }
                }
        }
    }
    free(K), free(V), free(Q), free(G), free(O), free(LS), free(DQ), free(DK), free(DV);
    return st;
}

int attn_mpi_ring_check(const attn_mpi_ring_problem *p, uint64_t seed, int rank, int ranks, int rows_only,
                        const float *out, const float *lse, const float *dq, const float *dk, const float *dv,
                        double *fwd_err, double *bwd_err)
{
    int st = check_args("attn_mpi_ring_check", p, rank, ranks, ATTN_MPI_RING_Q);
    if (st) return st;
    if (!out || !lse || !fwd_err || !bwd_err || (!rows_only && dq && (!dk || !dv)))
        return attn_set_error(ATTN_E_ARG, "attn_mpi_ring_check: out, lse, fwd_err and bwd_err are needed (and dk, "
                                          "dv with dq for the full check)");
    if (rows_only && p->len / (2 * ranks) < ATTN_MPI_RING_CHECK_ROWS)
        return attn_set_error(ATTN_E_ARG, "attn_mpi_ring_check: chunks of %lld rows, fewer than %d",
                              (long long)(p->len / (2 * ranks)), ATTN_MPI_RING_CHECK_ROWS);
    *fwd_err = 0, *bwd_err = dq ? 0 : NAN;
    return rows_only ? check_rows(p, seed, rank, ranks, out, lse, dq, fwd_err, bwd_err)
                     : check_full(p, seed, rank, ranks, out, lse, dq, dk, dv, fwd_err, bwd_err);
}

/* ---- attn_mpi_ring_bench: `attn bench ring` as a call ------------------------------------- */

int attn_mpi_ring_bench(attn_mpi_ctx *ctx, const attn_mpi_ring_problem *p, uint64_t seed, int reps, int backward,
                        int check, attn_mpi_ring_bench_result *r)
{
    const int N = ctx ? attn_mpi_size(ctx) : 0, rank = ctx ? attn_mpi_rank(ctx) : 0;
    if (!ctx || !r) return attn_set_error(ATTN_E_ARG, "attn_mpi_ring_bench: %s is NULL", ctx ? "r" : "ctx");
    int st = check_args("attn_mpi_ring_bench", p, rank, N, ATTN_MPI_RING_Q);
    if (st) return st;
    if (reps < 1 || reps > 64 || check < ATTN_MPI_RING_BENCH_NO_CHECK || check > ATTN_MPI_RING_BENCH_CHECK_ROWS)
        return attn_set_error(ATTN_E_ARG, "attn_mpi_ring_bench: reps %d (1..64), check %d", reps, check);
    memset(r, 0, sizeof *r);
    r->fwd_err = r->bwd_err = NAN;
    const int64_t n = attn_mpi_ring_local_floats(p, N), l1 = n / p->dim;
    float *arr[9];
    for (int i = 0; i < 9; i++) arr[i] = malloc((size_t)(i < 8 ? n : l1) * sizeof(float));
    float *q = arr[0], *k = arr[1], *v = arr[2], *out = arr[3], *g = arr[4], *dq = arr[5], *dk = arr[6],
          *dv = arr[7], *lse = arr[8];
    for (int i = 0; i < 9 && !st; i++)
        if (!arr[i]) st = attn_set_error(ATTN_E_NOMEM, "attn_mpi_ring_bench: out of memory (%lld floats)", (long long)n);
    for (int t = ATTN_MPI_RING_Q; t <= ATTN_MPI_RING_DOUT && !st; t++)
        st = attn_mpi_ring_fill(t == ATTN_MPI_RING_DOUT ? g : arr[t - 1], seed, t, p, rank, N);
    attn_mpi_ring_stats fs = {0, 0, 0, 0}, bs = {0, 0, 0, 0};
    double fr[64], br[64], wait = 0, total = 0;
    for (int i = 0; i < reps && !st; i++) {
        st = attn_mpi_barrier(ctx);
        if (!st) st = attn_mpi_ring_forward(ctx, p, q, k, v, out, lse, &fs);
        fr[i] = fs.total_ms;
        if (!st && backward) st = attn_mpi_ring_backward(ctx, p, q, k, v, out, lse, g, dq, dk, dv, &bs);
        br[i] = bs.total_ms;
    }
    if (!st) {
        r->fwd_ms = attn_bench_median(fr, reps), r->bwd_ms = attn_bench_median(br, reps);
        wait = fs.wait_ms + bs.wait_ms, total = fs.total_ms + bs.total_ms; /* the last repetition's */
        r->wait_pct = 100.0 * wait / fmax(total, 1e-9);
        r->rss_mb = attn_peak_rss_mb(); /* the ring's own: before the check */
    }
    /* k and v travel round the ring in place: they must be home, bit for bit (g: scratch) */
    for (int t = ATTN_MPI_RING_K; t <= ATTN_MPI_RING_V && !st; t++) {
        st = attn_mpi_ring_fill(g, seed, t, p, rank, N);
        if (!st && memcmp(g, t == ATTN_MPI_RING_K ? k : v, (size_t)n * sizeof(float)))
            st = attn_set_error(ATTN_E_STATE, "attn_mpi_ring_bench: %s is not restored after the ring",
                                t == ATTN_MPI_RING_K ? "k" : "v");
    }
    if (!st && check != ATTN_MPI_RING_BENCH_NO_CHECK)
        st = attn_mpi_ring_check(p, seed, rank, N, check == ATTN_MPI_RING_BENCH_CHECK_ROWS, out, lse,
                                 backward ? dq : NULL, dk, dv, &r->fwd_err, &r->bwd_err);
    for (int i = 0; i < 9; i++) free(arr[i]);
    return st;
}

int attn_mpi_ring_bench_gather(attn_mpi_ctx *ctx, const attn_mpi_ring_bench_result *mine,
                               attn_mpi_ring_bench_result *all)
{
    if (!ctx || !mine || !all) return attn_set_error(ATTN_E_ARG, "attn_mpi_ring_bench_gather: a NULL argument");
    const int N = attn_mpi_size(ctx), me = attn_mpi_rank(ctx);
    /* every rank's six values, as sums of one-hot vectors (exact in float) */
    float *v = calloc((size_t)N * 6, sizeof *v);
    if (!v) return attn_set_error(ATTN_E_NOMEM, "attn_mpi_ring_bench_gather: %d ranks", N);
    const double x[6] = {mine->fwd_ms, mine->bwd_ms, mine->fwd_err, mine->bwd_err, mine->rss_mb, mine->wait_pct};
    for (int i = 0; i < 6; i++) v[(size_t)i * N + me] = (float)x[i];
    int st = attn_mpi_allreduce_sum(ctx, v, (size_t)N * 6);
    for (int r = 0; r < N && !st; r++)
        all[r] = (attn_mpi_ring_bench_result){v[r], v[N + r], v[2 * N + r], v[3 * N + r], v[4 * N + r], v[5 * N + r]};
    free(v);
    return st;
}
