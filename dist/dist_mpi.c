/* dist_mpi.c — libattn_mpi's job and collectives over MPI (Debian's OpenMPI).
 *
 * Collectives are written on non-blocking point-to-point messages so that (1) their reduction
 * order is ours and fixed, and (2) every wait has a deadline: a rank that dies or stops
 * answering produces an error naming it instead of a hang (ATTN_DIST_TIMEOUT seconds, default
 * 300). */
#include "attn/mpi.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct attn_mpi_ctx {
    MPI_Comm comm;
    int rank, size;
    double timeout;
    MPI_Request req[2];
    int pending;
    int we_initialised;
};

int attn_mpi_available(void) { return 1; }

int attn_mpi_init(int *argc, char ***argv, attn_mpi_ctx **out)
{
    attn_mpi_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return attn_set_error(ATTN_E_NOMEM, "attn_mpi_init: out of memory");
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
        int provided;
        if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
            free(ctx);
            return attn_set_error(ATTN_E_STATE, "attn_mpi_init: MPI_Init failed");
        }
        ctx->we_initialised = 1;
    }
    MPI_Comm_dup(MPI_COMM_WORLD, &ctx->comm);
    /* errors come back as codes, so we can say which rank failed */
    MPI_Comm_set_errhandler(ctx->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(ctx->comm, &ctx->rank);
    MPI_Comm_size(ctx->comm, &ctx->size);
    const char *t = getenv("ATTN_DIST_TIMEOUT");
    ctx->timeout = t && atof(t) > 0 ? atof(t) : 300.0;
    *out = ctx;
    return ATTN_OK;
}

void attn_mpi_finalize(attn_mpi_ctx *ctx)
{
    if (!ctx) return;
    MPI_Comm_free(&ctx->comm);
    if (ctx->we_initialised) MPI_Finalize();
    free(ctx);
}

int attn_mpi_rank(const attn_mpi_ctx *ctx) { return ctx->rank; }
int attn_mpi_size(const attn_mpi_ctx *ctx) { return ctx->size; }

/* Wait for n requests with the context's deadline; peer names the rank we wait on. */
static int wait_all(attn_mpi_ctx *ctx, int n, MPI_Request *req, int peer, const char *what)
{
    double t0 = MPI_Wtime();
    for (;;) {
        int done = 0;
        int rc = MPI_Testall(n, req, &done, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS)
            return attn_set_error(ATTN_E_IO, "%s: communication with rank %d failed (did it exit?)", what, peer);
        if (done) return ATTN_OK;
        if (MPI_Wtime() - t0 > ctx->timeout)
            return attn_set_error(ATTN_E_IO, "%s: rank %d did not answer within %.0f s (did it die?)", what,
                        peer, ctx->timeout);
    }
}

static int sendrecv(attn_mpi_ctx *ctx, const void *s, int sn, int to, void *r, int rn, int from,
                    MPI_Datatype type, const char *what)
{
    MPI_Request req[2];
    if (MPI_Irecv(r, rn, type, from, 77, ctx->comm, &req[0]) != MPI_SUCCESS ||
        MPI_Isend(s, sn, type, to, 77, ctx->comm, &req[1]) != MPI_SUCCESS)
        return attn_set_error(ATTN_E_IO, "%s: could not post messages to rank %d / from rank %d", what, to, from);
    return wait_all(ctx, 2, req, from, what);
}

/* Ring all-reduce: reduce-scatter then all-gather over `size` blocks. Block c starts at rank c
 * and collects c+1, c+2, … in ring order, so its sum order depends only on the rank count. */
int attn_mpi_allreduce_sum(attn_mpi_ctx *ctx, float *buf, size_t n)
{
    const int P = ctx->size;
    if (P == 1 || n == 0) return ATTN_OK;
    size_t block = (n + (size_t)P - 1) / (size_t)P;
    if (block > (size_t)1 << 30) return attn_set_error(ATTN_E_ARG, "attn_mpi_allreduce_sum: %zu floats is too many", n);
    float *tmp = malloc(block * sizeof *tmp);
    if (!tmp) return attn_set_error(ATTN_E_NOMEM, "attn_mpi_allreduce_sum: out of memory");
    int next = (ctx->rank + 1) % P, prev = (ctx->rank + P - 1) % P;
#define BLK_LO(c) ((size_t)(c) * block < n ? (size_t)(c) * block : n)
#define BLK_N(c) (BLK_LO((c) + 1) - BLK_LO(c))
    int st = ATTN_OK;
    for (int s = 0; s < P - 1 && st == ATTN_OK; s++) {
        int sc = (ctx->rank - s + P) % P, rc = (ctx->rank - s - 1 + 2 * P) % P;
        st = sendrecv(ctx, buf + BLK_LO(sc), (int)BLK_N(sc), next, tmp, (int)BLK_N(rc), prev,
                      MPI_FLOAT, "attn_mpi_allreduce_sum");
        if (st == ATTN_OK) {
            float *dst = buf + BLK_LO(rc);
            for (size_t i = 0; i < BLK_N(rc); i++) dst[i] = tmp[i] + dst[i];
        }
    }
    for (int s = 0; s < P - 1 && st == ATTN_OK; s++) {
        int sc = (ctx->rank + 1 - s + P) % P, rc = (ctx->rank - s + P) % P;
        st = sendrecv(ctx, buf + BLK_LO(sc), (int)BLK_N(sc), next, buf + BLK_LO(rc),
                      (int)BLK_N(rc), prev, MPI_FLOAT, "attn_mpi_allreduce_sum");
    }
#undef BLK_LO
#undef BLK_N
    free(tmp);
    return st;
}

/* Gather every rank's value at every rank, then add in rank order. */
int attn_mpi_allreduce_sum_double(attn_mpi_ctx *ctx, double *value)
{
    const int P = ctx->size;
    if (P == 1) return ATTN_OK;
    double *all = malloc((size_t)P * sizeof *all);
    if (!all) return attn_set_error(ATTN_E_NOMEM, "attn_mpi_allreduce_sum_double: out of memory");
    all[ctx->rank] = *value;
    int st = ATTN_OK;
    /* ring all-gather of one value per rank */
    for (int s = 0; s < P - 1 && st == ATTN_OK; s++) {
        int sc = (ctx->rank - s + P) % P, rc = (ctx->rank - s - 1 + P) % P;
        st = sendrecv(ctx, &all[sc], 1, (ctx->rank + 1) % P, &all[rc], 1, (ctx->rank + P - 1) % P,
                      MPI_DOUBLE, "attn_mpi_allreduce_sum_double");
    }
    if (st == ATTN_OK) {
        double sum = 0;
        for (int r = 0; r < P; r++) sum += all[r];
        *value = sum;
    }
    free(all);
    return st;
}

/* Broadcast along a chain root → root+1 → … (simple, ordered, with deadlines). */
int attn_mpi_bcast(attn_mpi_ctx *ctx, void *buf, size_t bytes, int root)
{
    const int P = ctx->size;
    if (P == 1) return ATTN_OK;
    if (bytes > (size_t)1 << 31) return attn_set_error(ATTN_E_ARG, "attn_mpi_bcast: %zu bytes is too many", bytes);
    int pos = (ctx->rank - root + P) % P;
    MPI_Request req;
    if (pos > 0) {
        int from = (ctx->rank + P - 1) % P;
        if (MPI_Irecv(buf, (int)bytes, MPI_BYTE, from, 78, ctx->comm, &req) != MPI_SUCCESS)
            return attn_set_error(ATTN_E_IO, "attn_mpi_bcast: receive from rank %d failed", from);
        int st = wait_all(ctx, 1, &req, from, "attn_mpi_bcast");
        if (st) return st;
    }
    if (pos < P - 1) {
        int to = (ctx->rank + 1) % P;
        if (MPI_Isend(buf, (int)bytes, MPI_BYTE, to, 78, ctx->comm, &req) != MPI_SUCCESS)
            return attn_set_error(ATTN_E_IO, "attn_mpi_bcast: send to rank %d failed", to);
        int st = wait_all(ctx, 1, &req, to, "attn_mpi_bcast");
        if (st) return st;
    }
    return ATTN_OK;
}

int attn_mpi_barrier(attn_mpi_ctx *ctx)
{
    double x = 0;
    return attn_mpi_allreduce_sum_double(ctx, &x);
}

static uint64_t fnv1a(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

int attn_mpi_check_same(attn_mpi_ctx *ctx, const void *desc, size_t bytes, const char *what)
{
    const int P = ctx->size;
    if (P == 1) return ATTN_OK;
    uint64_t *all = calloc((size_t)P, sizeof *all);
    if (!all) return attn_set_error(ATTN_E_NOMEM, "attn_mpi_check_same: out of memory");
    all[ctx->rank] = fnv1a(desc, bytes);
    int st = ATTN_OK;
    /* ring all-gather of every rank's fingerprint */
    for (int s = 0; s < P - 1 && st == ATTN_OK; s++) {
        int sc = (ctx->rank - s + P) % P, rc = (ctx->rank - s - 1 + P) % P;
        st = sendrecv(ctx, &all[sc], 8, (ctx->rank + 1) % P, &all[rc], 8, (ctx->rank + P - 1) % P,
                      MPI_BYTE, "attn_mpi_check_same");
    }
    int first = -1, count = 0;
    for (int r = 1; r < P && st == ATTN_OK; r++)
        if (all[r] != all[0]) {
            if (first < 0) first = r;
            count++;
        }
    free(all);
    if (st) return st;
    if (first < 0) return ATTN_OK;
    return attn_set_error(ATTN_E_STATE,
                "%s differs between rank 0 and rank %d (%d of %d ranks differ from rank 0): "
                "start every rank with the same options", what, first, count, P);
}

int attn_mpi_exchange_start(attn_mpi_ctx *ctx, const void *sbuf, void *rbuf, size_t bytes, int to, int from)
{
    if (ctx->pending) return attn_set_error(ATTN_E_STATE, "attn_mpi_exchange_start: an exchange is in flight");
    if (to < 0 || to >= ctx->size || from < 0 || from >= ctx->size)
        return attn_set_error(ATTN_E_ARG, "attn_mpi_exchange_start: rank %d/%d out of range", to, from);
    if (bytes > (size_t)1 << 31) return attn_set_error(ATTN_E_ARG, "attn_mpi_exchange_start: too many bytes");
    if (MPI_Irecv(rbuf, (int)bytes, MPI_BYTE, from, 79, ctx->comm, &ctx->req[0]) != MPI_SUCCESS ||
        MPI_Isend(sbuf, (int)bytes, MPI_BYTE, to, 79, ctx->comm, &ctx->req[1]) != MPI_SUCCESS)
        return attn_set_error(ATTN_E_IO, "attn_mpi_exchange_start: could not post messages");
    ctx->pending = from + 1;
    return ATTN_OK;
}

int attn_mpi_exchange_wait(attn_mpi_ctx *ctx)
{
    if (!ctx->pending) return attn_set_error(ATTN_E_STATE, "attn_mpi_exchange_wait: nothing in flight");
    int from = ctx->pending - 1;
    ctx->pending = 0;
    return wait_all(ctx, 2, ctx->req, from, "attn_mpi_exchange_wait");
}

void attn_mpi_abort(attn_mpi_ctx *ctx, const char *message)
{
    fprintf(stderr, "attn (rank %d of %d): %s\n", ctx ? ctx->rank : -1, ctx ? ctx->size : -1, message);
    fflush(stderr);
    MPI_Abort(ctx ? ctx->comm : MPI_COMM_WORLD, 1); /* MPI ends every rank of the job */
}
