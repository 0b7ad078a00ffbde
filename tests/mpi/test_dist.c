/* test_dist.c — the MPI layer under mpirun: all-reduce sums and their fixed order, broadcast,
 * configuration checks, exchanges, and a dying rank that must produce an error, not a hang.
 *   mpirun -np N build/test_dist [normal|mismatch|die|hang|idle S|busy S]
 * Prints "N passed, N failed" from rank 0; exit status nonzero on failure.
 * idle S: rank 0 sleeps S seconds while the others wait in an all-reduce; rank 0 prints each
 * waiting rank's CPU time over its wall time (a wait must back off, not spin); fails above 5%.
 * busy S: rank 0 works alone for S seconds inside attn_mpi_busy_begin/end (a checkpoint write)
 * while the others wait; run with ATTN_DIST_TIMEOUT < S: nobody may time out.
 * late (2 ranks, ATTN_DIST_TIMEOUT=1): rank 1 answers rank 0's exchange 3 s late; rank 0's wait
 * fails, then its receive buffer must stay untouched (the receive was cancelled) and the
 * context must refuse further calls. */
#include "attn/mpi.h"

#include "attn.h"

#include <math.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int passed, failed;

static void check(attn_mpi_ctx *c, int ok, const char *what)
{
    double bad = ok ? 0 : 1;
    attn_mpi_allreduce_sum_double(c, &bad);
    if (attn_mpi_rank(c) == 0) printf("%s %s\n", bad == 0 ? "ok  " : "FAIL", what);
    if (bad == 0)
        passed++;
    else
        failed++;
}

/* value of element i on rank r: varied magnitudes so the order of additions shows in the bits */
static float value(int r, size_t i)
{
    return attn_philox_uniform(7, (uint64_t)r, i) * powf(10.0f, (float)((i + (size_t)r) % 7) - 3.0f);
}

int main(int argc, char **argv)
{
    attn_mpi_ctx *c;
    if (attn_mpi_init(&argc, &argv, &c)) {
        fprintf(stderr, "%s\n", attn_last_error());
        return 1;
    }
    const char *mode = argc > 1 ? argv[1] : "normal";
    int P = attn_mpi_size(c), R = attn_mpi_rank(c);

    if (!strcmp(mode, "die") || !strcmp(mode, "hang")) {
        /* rank 1 leaves without a word, or stops answering; rank 0 must report it, not hang */
        if (R == 1 && !strcmp(mode, "die")) _exit(3);
        if (R == 1) sleep(600);
        float x[4] = {1, 2, 3, 4};
        int st = attn_mpi_allreduce_sum(c, x, 4);
        if (R == 0) printf("rank 0 got status %d: %s\n", st, attn_last_error());
        if (st) {
            attn_mpi_abort(c, attn_last_error());
            return 1;
        }
        attn_mpi_finalize(c);
        return 0;
    }
    if (!strcmp(mode, "idle") || !strcmp(mode, "busy")) {
        const double secs = argc > 2 ? atof(argv[2]) : 3.0;
        const int busy = !strcmp(mode, "busy");
        struct timespec w0, w1;
        struct rusage u0, u1;
        clock_gettime(CLOCK_MONOTONIC, &w0);
        getrusage(RUSAGE_SELF, &u0);
        int st = ATTN_OK;
        if (R == 0) {
            if (busy) st = attn_mpi_busy_begin(c, "a long checkpoint write");
            struct timespec nap = {(time_t)secs, (long)((secs - floor(secs)) * 1e9)};
            nanosleep(&nap, NULL);
            if (busy && st == ATTN_OK) st = attn_mpi_busy_end(c);
        }
        float x = 1;
        if (st == ATTN_OK) st = attn_mpi_allreduce_sum(c, &x, 1);
        clock_gettime(CLOCK_MONOTONIC, &w1);
        getrusage(RUSAGE_SELF, &u1);
        if (st) {
            fprintf(stderr, "rank %d: %s\n", R, attn_last_error());
            attn_mpi_abort(c, attn_last_error());
            return 1;
        }
        double wall = (double)(w1.tv_sec - w0.tv_sec) + 1e-9 * (double)(w1.tv_nsec - w0.tv_nsec);
        double cpu = (double)(u1.ru_utime.tv_sec - u0.ru_utime.tv_sec + u1.ru_stime.tv_sec - u0.ru_stime.tv_sec) +
                     1e-6 * (double)(u1.ru_utime.tv_usec - u0.ru_utime.tv_usec + u1.ru_stime.tv_usec - u0.ru_stime.tv_usec);
        double *fig = calloc((size_t)(2 * P), sizeof *fig);
        fig[2 * R] = wall, fig[2 * R + 1] = cpu;
        for (int i = 0; i < 2 * P; i++) attn_mpi_allreduce_sum_double(c, &fig[i]);
        double worst = 0;
        for (int r = 1; r < P; r++) {
            double share = fig[2 * r + 1] / fig[2 * r];
            if (share > worst) worst = share;
            if (R == 0) printf("rank %d waited %.2f s of wall time using %.3f s of CPU (%.1f%%)\n", r, fig[2 * r],
                               fig[2 * r + 1], 100 * share);
        }
        if (R == 0) printf("%s: rank 0 %s %.1f s; the waiting ranks used at most %.1f%% of a core\n", mode,
                           busy ? "worked (busy section)" : "slept", secs, 100 * worst);
        free(fig);
        attn_mpi_finalize(c);
        return worst < 0.05 ? 0 : 1;
    }
    if (!strcmp(mode, "late")) {
        unsigned char sbuf[64], rbuf[64];
        memset(sbuf, 0x11 * (R + 1), sizeof sbuf);
        memset(rbuf, 0, sizeof rbuf);
        if (R == 1) sleep(3);
        int st = attn_mpi_exchange_start(c, sbuf, rbuf, sizeof sbuf, 1 - R, 1 - R);
        if (st == ATTN_OK) st = attn_mpi_exchange_wait(c);
        if (R == 0) printf("rank 0: exchange status %d: %s\n", st, st ? attn_last_error() : "");
        memset(rbuf, 0xAB, sizeof rbuf); /* whatever arrives from now on must not land here */
        int again = attn_mpi_barrier(c);
        if (R == 0) printf("rank 0: next call status %d: %s\n", again, again ? attn_last_error() : "");
        if (R == 0) sleep(4); /* rank 1's message arrives meanwhile */
        attn_mpi_finalize(c);
        int intact = 1;
        for (size_t i = 0; i < sizeof rbuf; i++) intact &= rbuf[i] == 0xAB;
        if (R == 0) printf("rank 0: receive buffer after the late message: %s\n", intact ? "untouched" : "OVERWRITTEN");
        return R != 0 || (st == ATTN_E_IO && again == ATTN_E_STATE && intact) ? 0 : 1;
    }
    if (!strcmp(mode, "mismatch")) {
        int cfg[2] = {64, R == P - 1 ? 3 : 2}; /* the last rank was started differently */
        int st = attn_mpi_check_same(c, cfg, sizeof cfg, "configuration");
        if (R == 0) printf("status %d: %s\n", st, attn_last_error());
        int ok = st == ATTN_E_STATE && strstr(attn_last_error(), "rank") != NULL;
        attn_mpi_finalize(c);
        return ok ? 0 : 1;
    }

    /* all-reduce of uneven sizes equals the sum in the documented order */
    size_t sizes[] = {1, 3, 7, 1000, 100003};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
        for (size_t i = 0; i < n; i++) x[i] = y[i] = value(R, i);
        int st = attn_mpi_allreduce_sum(c, x, n);
        size_t block = (n + (size_t)P - 1) / (size_t)P;
        int exact = st == 0;
        double maxerr = 0;
        for (size_t i = 0; i < n; i++) {
            int b = (int)(i / block); /* block b: x_b + x_{b+1} + … in ring order */
            float want = value(b % P, i);
            double ref = 0;
            for (int s = 1; s < P; s++) want = value((b + s) % P, i) + want;
            for (int r = 0; r < P; r++) ref += value(r, i);
            if (x[i] != want) exact = 0;
            double e = fabs(x[i] - ref) / (fabs(ref) + 1e-30);
            if (e > maxerr) maxerr = e;
        }
        char what[128];
        snprintf(what, sizeof what, "allreduce n=%zu ranks=%d: fixed order, bit for bit (rel err vs double %.1e)", n, P, maxerr);
        check(c, exact && maxerr < 1e-5, what);
        /* run to run identical */
        for (size_t i = 0; i < n; i++) y[i] = value(R, i);
        attn_mpi_allreduce_sum(c, y, n);
        check(c, memcmp(x, y, n * sizeof *x) == 0, "allreduce twice gives the same bits");
        free(x), free(y);
    }
    double d = R + 0.5;
    attn_mpi_allreduce_sum_double(c, &d);
    check(c, d == P * (P - 1) / 2.0 + 0.5 * P, "allreduce of a double");

    char msg[32] = "";
    if (R == P - 1) snprintf(msg, sizeof msg, "hello from %d", R);
    attn_mpi_bcast(c, msg, sizeof msg, P - 1);
    char want[32];
    snprintf(want, sizeof want, "hello from %d", P - 1);
    check(c, !strcmp(msg, want), "broadcast from the last rank");

    int cfg[3] = {1, 2, 3}, st0;
    check(c, attn_mpi_check_same(c, cfg, sizeof cfg, "configuration") == 0, "same configuration accepted");

    check(c, attn_mpi_check_same_u64(c, 0x1234abcdULL, "state") == 0, "same 64-bit value accepted");
    st0 = attn_mpi_check_same_u64(c, R == P - 1 && P > 1 ? 2 : 1, "the resumed state");
    char named[96];
    snprintf(named, sizeof named, "rank 0 (0000000000000001) and rank %d (0000000000000002)", P - 1);
    check(c, P == 1 ? st0 == ATTN_OK : st0 == ATTN_E_STATE && strstr(attn_last_error(), named) != NULL,
          "a different 64-bit value on the last rank is named with both values");
    if (P > 1) { /* inside a busy section the rank makes no collective call */
        st0 = attn_mpi_busy_begin(c, "test");
        float one = 1;
        int inside = st0 == ATTN_OK ? attn_mpi_allreduce_sum(c, &one, 1) : st0;
        int end = attn_mpi_busy_end(c);
        check(c, st0 == ATTN_OK && inside == ATTN_E_STATE && end == ATTN_OK, "collective inside a busy section refused");
    }

    /* ring exchange: after P-1 steps every rank has seen every other rank's block */
    int token = R, got = -1, seen = 1 << R;
    for (int s = 0; s < P - 1; s++) {
        attn_mpi_exchange_start(c, &token, &got, sizeof token, (R + 1) % P, (R + P - 1) % P);
        attn_mpi_exchange_wait(c);
        token = got;
        seen |= 1 << got;
    }
    check(c, seen == (1 << P) - 1, "ring exchange visits every rank");

    /* data-parallel helpers: weighted gradients, a parameter no backward reached, rank 0's bytes */
    attn_params *Pm = NULL;
    attn_param *w = NULL, *u = NULL;
    const int64_t shape[1] = {5};
    int st = attn_params_create(3, &Pm);
    if (st == ATTN_OK) st = attn_params_add(Pm, "", "w", 1, shape, ATTN_INIT_UNIFORM, 1.0f, &w);
    if (st == ATTN_OK) st = attn_params_alloc_grads(Pm);
    if (st == ATTN_OK) st = attn_params_add(Pm, "", "unused", 1, shape, ATTN_INIT_ZEROS, 0.0f, &u); /* no grad */
    for (int i = 0; st == ATTN_OK && i < 5; i++) w->grad[i] = (float)(R + 1);
    if (st == ATTN_OK) st = attn_mpi_weighted_grads(c, Pm, 1.0 / (R + 1), 1024, NULL); /* Σ 1 = P */
    int good = st == ATTN_OK && u->grad != NULL;
    for (int i = 0; good && i < 5; i++) good = w->grad[i] == (float)P && u->grad[i] == 0.0f;
    check(c, good, "weighted gradients; a missing gradient buffer takes part as zeros");
    attn_params_free(Pm);
    char hello[] = "rank 0's bytes";
    void *bytes = R == 0 ? hello : NULL;
    size_t nb = R == 0 ? sizeof hello : 0;
    st = attn_mpi_share_bytes(c, &bytes, &nb);
    check(c, st == ATTN_OK && nb == sizeof hello && !strcmp(bytes, hello), "share bytes from rank 0");
    if (R > 0) free(bytes);
    int yes = attn_mpi_agree(c, R == 0), no = attn_mpi_agree(c, R != 0);
    check(c, yes == 1 && no == 0, "rank 0's flag on every rank");

    /* errors come back through attn_last_error() with the function's name */
    st = attn_mpi_exchange_start(c, &token, &got, sizeof token, P, 0);
    check(c, st == ATTN_E_ARG && strstr(attn_last_error(), "attn_mpi_exchange_start"),
          "exchange to a missing rank refused");
    attn_mpi_ring_problem rp = {6 * P, 1, 8, 1, 0.0f, 1};
    float buf[64];
    st = attn_mpi_ring_forward(c, &rp, buf, buf, buf, buf, buf, NULL);
    check(c, st == ATTN_E_SHAPE && strstr(attn_last_error(), "attn_mpi_ring_forward: chunks"),
          "ring: short chunks refused");
    /* the ring's results against the fused kernel on one process (attn_mpi_ring_check), on
     * inputs every rank fills itself; a corrupted value is found; bad arguments refused */
    {
        attn_mpi_ring_problem q = {64 * P, 2, 8, 1, 0.0f, 1};
        const int64_t n = attn_mpi_ring_local_floats(&q, P);
        float *a[8], *lse = malloc((size_t)(n / q.dim) * sizeof *lse);
        int ok = lse != NULL;
        for (int i = 0; i < 8; i++) ok &= (a[i] = malloc((size_t)n * sizeof(float))) != NULL;
        for (int t = ATTN_MPI_RING_Q, i = 0; ok && t <= ATTN_MPI_RING_DOUT; t++, i++)
            ok = attn_mpi_ring_fill(a[i == 3 ? 4 : i], 77, t, &q, R, P) == ATTN_OK;
        ok = ok && attn_mpi_ring_forward(c, &q, a[0], a[1], a[2], a[3], lse, NULL) == ATTN_OK &&
             attn_mpi_ring_backward(c, &q, a[0], a[1], a[2], a[3], lse, a[4], a[5], a[6], a[7], NULL) == ATTN_OK;
        double fe = -1, be = -1, rfe = -1, rbe = -1, nfe = -1, nbe = 0;
        ok = ok && attn_mpi_ring_check(&q, 77, R, P, 0, a[3], lse, a[5], a[6], a[7], &fe, &be) == ATTN_OK &&
             attn_mpi_ring_check(&q, 77, R, P, 1, a[3], lse, a[5], NULL, NULL, &rfe, &rbe) == ATTN_OK &&
             attn_mpi_ring_check(&q, 77, R, P, 0, a[3], lse, NULL, NULL, NULL, &nfe, &nbe) == ATTN_OK;
        check(c, ok && fe >= 0 && fe < 1e-5 && be >= 0 && be < 1e-5 && rfe < 1e-5 && rbe < 1e-5 && nfe == fe && isnan(nbe),
              "ring check: the ring agrees with the fused kernel (full and rows), forward only gives NaN backward");
        double cfe = 0, cbe = 0;
        if (ok) a[3][5] += 0.25f, a[7][n - 1] -= 0.5f;
        ok = ok && attn_mpi_ring_check(&q, 77, R, P, 0, a[3], lse, a[5], a[6], a[7], &cfe, &cbe) == ATTN_OK;
        check(c, ok && cfe >= 0.2499 && cbe >= 0.4999, "ring check: corrupted out and dv are found");
        if (ok) a[3][5] = NAN;
        ok = ok && attn_mpi_ring_check(&q, 77, R, P, 0, a[3], lse, NULL, NULL, NULL, &cfe, &cbe) == ATTN_OK;
        check(c, ok && isinf(cfe), "ring check: a NaN counts as an infinite error");
        q.len = 16 * P;
        st = attn_mpi_ring_check(&q, 77, R, P, 1, a[3], lse, NULL, NULL, NULL, &cfe, &cbe);
        int st2 = attn_mpi_ring_fill(a[0], 77, 9, &q, R, P), st3 = attn_mpi_ring_fill(a[0], 77, 1, &q, R + P, P);
        check(c, st == ATTN_E_ARG && strstr(attn_last_error(), "attn_mpi_ring_fill") && st2 == ATTN_E_ARG && st3 == ATTN_E_ARG,
              "ring check: rows of 8-row chunks, an unknown tensor, a rank beyond the job refused");
        for (int i = 0; i < 8; i++) free(a[i]);
        free(lse);
    }
    st = attn_mpi_average_grads(c, NULL, 0, NULL);
    check(c, st == ATTN_E_ARG && strstr(attn_last_error(), "parameter table is NULL"),
          "average_grads: NULL table refused");

    if (R == 0) printf("%d passed, %d failed\n", passed, failed);
    attn_mpi_finalize(c);
    return failed ? 1 : 0;
}
