/* dist_mpi.c — libattn_mpi's job and collectives over MPI (Debian's OpenMPI).
 *
 * Collectives are written on non-blocking point-to-point messages so that (1) their reduction
 * order is ours and fixed, and (2) every wait has a deadline: a rank that dies or stops
 * answering produces an error naming it instead of a hang. The deadline (ATTN_DIST_TIMEOUT
 * seconds, default 300) runs from the last sign of life: a message of the wait completing, or a
 * heartbeat from a rank inside attn_mpi_busy_begin/end. Waits poll briefly, then sleep between
 * polls with a doubling nap capped at 2 ms, so a waiting rank leaves its core to others. A wait
 * that fails cancels its messages before anyone frees their buffers. */
#include "attn/mpi.h"

#include "mpi_internal.h"

#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { TAG_SENDRECV = 77, TAG_BCAST = 78, TAG_EXCHANGE = 79, TAG_HEARTBEAT = 80 };

#define SPIN_S 100e-6     /* poll without sleeping for the first 100 µs of a wait */
#define NAP_FIRST_NS 10000 /* then sleep 10 µs, 20 µs, … */
#define NAP_CAP_NS 2000000 /* … at most 2 ms between polls */

struct attn_mpi_ctx {
    MPI_Comm comm;
    int rank, size;
    double timeout; /* seconds without a sign of life before a wait fails */
    MPI_Request req[2];
    int pending;
    int we_initialised;
    int threads_ok; /* MPI allows a heartbeat thread (MPI_THREAD_SERIALIZED or more) */
    int failed;     /* a wait failed: the ranks are out of step, no more communication */
    int stuck;      /* requests MPI could not cancel: their buffers must never be freed */
    void **parked;  /* library buffers of stuck requests, freed after MPI_Finalize */
    int nparked, capparked;
    /* the busy section's heartbeat thread */
    int busy;
    pthread_t hb;
    int hb_thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int hb_stop;
    double hb_period;
};

static const unsigned char heartbeat_byte = 1; /* never freed: a heartbeat send may outlive its request */

int attn_mpi_available(void) { return 1; }

int attn_mpi_init(int *argc, char ***argv, attn_mpi_ctx **out)
{
    attn_mpi_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return attn_set_error(ATTN_E_NOMEM, "attn_mpi_init: out of memory");
    int inited = 0, provided = MPI_THREAD_SINGLE;
    MPI_Initialized(&inited);
    if (!inited) {
        /* SERIALIZED: the heartbeat thread of a busy section calls MPI while the main thread
         * does not */
        if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS) {
            free(ctx);
            return attn_set_error(ATTN_E_STATE, "attn_mpi_init: MPI_Init failed");
        }
        ctx->we_initialised = 1;
    } else {
        MPI_Query_thread(&provided);
    }
    ctx->threads_ok = provided >= MPI_THREAD_SERIALIZED;
    MPI_Comm_dup(MPI_COMM_WORLD, &ctx->comm);
    /* errors come back as codes, so we can say which rank failed */
    MPI_Comm_set_errhandler(ctx->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(ctx->comm, &ctx->rank);
    MPI_Comm_size(ctx->comm, &ctx->size);
    const char *t = getenv("ATTN_DIST_TIMEOUT");
    ctx->timeout = t && atof(t) > 0 ? atof(t) : 300.0;
    ctx->hb_period = ctx->timeout / 4 < 1.0 ? ctx->timeout / 4 : 1.0;
    ctx->req[0] = ctx->req[1] = MPI_REQUEST_NULL;
    pthread_mutex_init(&ctx->mu, NULL);
    pthread_cond_init(&ctx->cv, NULL);
    *out = ctx;
    return ATTN_OK;
}

void attn_mpi_finalize(attn_mpi_ctx *ctx)
{
    if (!ctx) return;
    if (ctx->busy) attn_mpi_busy_end(ctx);
    MPI_Comm_free(&ctx->comm);
    if (ctx->we_initialised) MPI_Finalize();
    /* after MPI_Finalize nothing can touch the buffers of stuck requests any more; when the
     * host keeps MPI running they stay allocated */
    for (int i = 0; i < ctx->nparked && ctx->we_initialised; i++) free(ctx->parked[i]);
    free(ctx->parked);
    pthread_mutex_destroy(&ctx->mu);
    pthread_cond_destroy(&ctx->cv);
    free(ctx);
}

int attn_mpi_rank(const attn_mpi_ctx *ctx) { return ctx->rank; }
int attn_mpi_size(const attn_mpi_ctx *ctx) { return ctx->size; }

void attn_mpi_internal_release(attn_mpi_ctx *ctx, void *p)
{
    if (!p) return;
    if (!ctx || !ctx->stuck) {
        free(p);
        return;
    }
    if (ctx->nparked == ctx->capparked) { /* a buffer MPI may still write: keep it, or leak it */
        int cap = ctx->capparked ? 2 * ctx->capparked : 8;
        void **np = realloc(ctx->parked, (size_t)cap * sizeof *np);
        if (!np) return;
        ctx->parked = np, ctx->capparked = cap;
    }
    ctx->parked[ctx->nparked++] = p;
}

static void nap(long ns)
{
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
}

/* Cancel the requests still active in req [n] and complete them, so that MPI no longer uses
 * their buffers. A request that does not complete within about 0.2 s (OpenMPI cannot cancel a
 * send whose receiver is gone) is released to MPI and counted as stuck: the buffers of the
 * failed call are then parked, never freed, and the context refuses any further call. */
static void cancel_all(attn_mpi_ctx *ctx, int n, MPI_Request *req)
{
    for (int i = 0; i < n; i++)
        if (req[i] != MPI_REQUEST_NULL) MPI_Cancel(&req[i]);
    double t0 = MPI_Wtime();
    for (int left = n; left > 0 && MPI_Wtime() - t0 < 0.2;) {
        left = 0;
        for (int i = 0; i < n; i++) {
            if (req[i] == MPI_REQUEST_NULL) continue;
            int done = 0;
            if (MPI_Test(&req[i], &done, MPI_STATUS_IGNORE) != MPI_SUCCESS || !done) left++;
        }
        if (left) nap(1000000);
    }
    for (int i = 0; i < n; i++)
        if (req[i] != MPI_REQUEST_NULL) {
            MPI_Request_free(&req[i]);
            ctx->stuck++;
        }
    ctx->failed = 1;
}

/* Receive the heartbeats that arrived (from ranks in a busy section); 1 if there were any. */
static int heard_heartbeat(attn_mpi_ctx *ctx)
{
    int any = 0;
    for (;;) {
        int flag = 0;
        MPI_Status s;
        if (MPI_Iprobe(MPI_ANY_SOURCE, TAG_HEARTBEAT, ctx->comm, &flag, &s) != MPI_SUCCESS || !flag) return any;
        unsigned char b;
        if (MPI_Recv(&b, 1, MPI_BYTE, s.MPI_SOURCE, TAG_HEARTBEAT, ctx->comm, MPI_STATUS_IGNORE) != MPI_SUCCESS)
            return any;
        any = 1;
    }
}

static int refuse_failed(const attn_mpi_ctx *ctx, const char *what)
{
    (void)ctx;
    return attn_set_error(ATTN_E_STATE, "%s: an earlier communication of this job failed; the ranks are out of "
                          "step and the job cannot go on", what);
}

#define CHECK_USABLE(ctx, what)                                                                         \
    do {                                                                                                \
        if ((ctx)->failed) return refuse_failed(ctx, what);                                             \
        if ((ctx)->busy)                                                                                \
            return attn_set_error(ATTN_E_STATE, "%s: called inside attn_mpi_busy_begin/end", what);    \
    } while (0)

/* Wait for the n requests in req (MPI_REQUEST_NULL ones count as done). The deadline runs from
 * the last sign of life: one of the requests completing or a heartbeat. peer names the rank we
 * wait on. On failure every request is cancelled (see cancel_all). */
static int wait_all(attn_mpi_ctx *ctx, int n, MPI_Request *req, int peer, const char *what)
{
    const double t0 = MPI_Wtime();
    double life = t0;
    long ns = 0;
    for (;;) {
        int progressed = 0, left = 0;
        for (int i = 0; i < n; i++) {
            if (req[i] == MPI_REQUEST_NULL) continue;
            int done = 0;
            if (MPI_Test(&req[i], &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
                cancel_all(ctx, n, req);
                return attn_set_error(ATTN_E_IO, "%s: communication with rank %d failed (did it exit?)", what, peer);
            }
            if (done) progressed = 1;
            else left++;
        }
        if (!left) return ATTN_OK;
        const double now = MPI_Wtime();
        if (now - t0 < SPIN_S) continue;
        if (heard_heartbeat(ctx)) progressed = 1;
        if (progressed) life = now, ns = 0;
        if (now - life > ctx->timeout) {
            cancel_all(ctx, n, req);
            return attn_set_error(ATTN_E_IO, "%s: rank %d did not answer within %g s (no message or heartbeat "
                                  "for that long; did it die?)", what, peer, ctx->timeout);
        }
        ns = ns ? 2 * ns : NAP_FIRST_NS;
        if (ns > NAP_CAP_NS) ns = NAP_CAP_NS;
        nap(ns);
    }
}

/* ---- busy sections: a heartbeat thread ----------------------------------------------------- */

static void *heartbeat_main(void *arg)
{
    attn_mpi_ctx *ctx = arg;
    MPI_Request *rq = malloc((size_t)ctx->size * sizeof *rq);
    for (int r = 0; rq && r < ctx->size; r++) rq[r] = MPI_REQUEST_NULL;
    pthread_mutex_lock(&ctx->mu);
    while (rq && !ctx->hb_stop) {
        pthread_mutex_unlock(&ctx->mu);
        /* one heartbeat in flight per peer at most: a silent peer does not pile them up */
        for (int r = 0; r < ctx->size; r++) {
            if (r == ctx->rank) continue;
            int done = 1;
            if (rq[r] != MPI_REQUEST_NULL && MPI_Test(&rq[r], &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) done = 0;
            if (done && rq[r] == MPI_REQUEST_NULL)
                MPI_Isend((void *)&heartbeat_byte, 1, MPI_BYTE, r, TAG_HEARTBEAT, ctx->comm, &rq[r]);
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long long at = (long long)until.tv_nsec + (long long)(ctx->hb_period * 1e9);
        until.tv_sec += (time_t)(at / 1000000000LL), until.tv_nsec = (long)(at % 1000000000LL);
        pthread_mutex_lock(&ctx->mu);
        while (!ctx->hb_stop && pthread_cond_timedwait(&ctx->cv, &ctx->mu, &until) == 0) {
        }
    }
    pthread_mutex_unlock(&ctx->mu);
    /* the byte is static: a send still in flight can complete on its own */
    for (int r = 0; rq && r < ctx->size; r++)
        if (rq[r] != MPI_REQUEST_NULL) MPI_Request_free(&rq[r]);
    free(rq);
    return NULL;
}

/* One heartbeat to every rank from the calling thread (no thread support, or the section's
 * start and end). */
static void heartbeat_once(attn_mpi_ctx *ctx)
{
    for (int r = 0; r < ctx->size; r++) {
        if (r == ctx->rank) continue;
        MPI_Request q;
        if (MPI_Isend((void *)&heartbeat_byte, 1, MPI_BYTE, r, TAG_HEARTBEAT, ctx->comm, &q) == MPI_SUCCESS)
            MPI_Request_free(&q);
    }
}

int attn_mpi_busy_begin(attn_mpi_ctx *ctx, const char *what)
{
    (void)what;
    if (!ctx) return attn_set_error(ATTN_E_ARG, "attn_mpi_busy_begin: the context is NULL");
    CHECK_USABLE(ctx, "attn_mpi_busy_begin");
    if (ctx->size == 1) return ATTN_OK;
    heartbeat_once(ctx);
    ctx->busy = 1;
    ctx->hb_stop = 0;
    ctx->hb_thread = ctx->threads_ok && pthread_create(&ctx->hb, NULL, heartbeat_main, ctx) == 0;
    return ATTN_OK;
}

int attn_mpi_busy_end(attn_mpi_ctx *ctx)
{
    if (!ctx) return attn_set_error(ATTN_E_ARG, "attn_mpi_busy_end: the context is NULL");
    if (!ctx->busy) return ctx->size == 1 ? ATTN_OK : attn_set_error(ATTN_E_STATE, "attn_mpi_busy_end: not busy");
    if (ctx->hb_thread) {
        pthread_mutex_lock(&ctx->mu);
        ctx->hb_stop = 1;
        pthread_cond_signal(&ctx->cv);
        pthread_mutex_unlock(&ctx->mu);
        pthread_join(ctx->hb, NULL);
        ctx->hb_thread = 0;
    }
    ctx->busy = 0;
    if (!ctx->failed) heartbeat_once(ctx);
    return ATTN_OK;
}

static int sendrecv(attn_mpi_ctx *ctx, const void *s, int sn, int to, void *r, int rn, int from,
                    MPI_Datatype type, const char *what)
{
    MPI_Request req[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
    if (MPI_Irecv(r, rn, type, from, TAG_SENDRECV, ctx->comm, &req[0]) != MPI_SUCCESS ||
        MPI_Isend(s, sn, type, to, TAG_SENDRECV, ctx->comm, &req[1]) != MPI_SUCCESS) {
        cancel_all(ctx, 2, req);
        return attn_set_error(ATTN_E_IO, "%s: could not post messages to rank %d / from rank %d", what, to, from);
    }
    return wait_all(ctx, 2, req, from, what);
}

/* Ring all-reduce: reduce-scatter then all-gather over `size` blocks. Block c starts at rank c
 * and collects c+1, c+2, … in ring order, so its sum order depends only on the rank count. */
int attn_mpi_allreduce_sum(attn_mpi_ctx *ctx, float *buf, size_t n)
{
    const int P = ctx->size;
    if (P == 1 || n == 0) return ATTN_OK;
    CHECK_USABLE(ctx, "attn_mpi_allreduce_sum");
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
    attn_mpi_internal_release(ctx, tmp);
    return st;
}

/* Ring all-gather of one item of `bytes` bytes per rank: all [P * bytes] holds this rank's at
 * its place on entry, every rank's on return. */
static int allgather(attn_mpi_ctx *ctx, unsigned char *all, int bytes, const char *what)
{
    const int P = ctx->size;
    int st = ATTN_OK;
    for (int s = 0; s < P - 1 && st == ATTN_OK; s++) {
        int sc = (ctx->rank - s + P) % P, rc = (ctx->rank - s - 1 + P) % P;
        st = sendrecv(ctx, all + (size_t)sc * (size_t)bytes, bytes, (ctx->rank + 1) % P,
                      all + (size_t)rc * (size_t)bytes, bytes, (ctx->rank + P - 1) % P, MPI_BYTE, what);
    }
    return st;
}

/* Gather every rank's value at every rank, then add in rank order. */
int attn_mpi_allreduce_sum_double(attn_mpi_ctx *ctx, double *value)
{
    const int P = ctx->size;
    if (P == 1) return ATTN_OK;
    CHECK_USABLE(ctx, "attn_mpi_allreduce_sum_double");
    double *all = malloc((size_t)P * sizeof *all);
    if (!all) return attn_set_error(ATTN_E_NOMEM, "attn_mpi_allreduce_sum_double: out of memory");
    all[ctx->rank] = *value;
    int st = allgather(ctx, (unsigned char *)all, (int)sizeof *all, "attn_mpi_allreduce_sum_double");
    if (st == ATTN_OK) {
        double sum = 0;
        for (int r = 0; r < P; r++) sum += all[r];
        *value = sum;
    }
    attn_mpi_internal_release(ctx, all);
    return st;
}

/* Broadcast along a chain root → root+1 → … (simple, ordered, with deadlines). */
int attn_mpi_bcast(attn_mpi_ctx *ctx, void *buf, size_t bytes, int root)
{
    const int P = ctx->size;
    if (P == 1) return ATTN_OK;
    CHECK_USABLE(ctx, "attn_mpi_bcast");
    if (bytes > (size_t)1 << 31) return attn_set_error(ATTN_E_ARG, "attn_mpi_bcast: %zu bytes is too many", bytes);
    int pos = (ctx->rank - root + P) % P;
    MPI_Request req = MPI_REQUEST_NULL;
    if (pos > 0) {
        int from = (ctx->rank + P - 1) % P;
        if (MPI_Irecv(buf, (int)bytes, MPI_BYTE, from, TAG_BCAST, ctx->comm, &req) != MPI_SUCCESS) {
            cancel_all(ctx, 1, &req);
            return attn_set_error(ATTN_E_IO, "attn_mpi_bcast: receive from rank %d failed", from);
        }
        int st = wait_all(ctx, 1, &req, from, "attn_mpi_bcast");
        if (st) return st;
    }
    if (pos < P - 1) {
        int to = (ctx->rank + 1) % P;
        if (MPI_Isend(buf, (int)bytes, MPI_BYTE, to, TAG_BCAST, ctx->comm, &req) != MPI_SUCCESS) {
            cancel_all(ctx, 1, &req);
            return attn_set_error(ATTN_E_IO, "attn_mpi_bcast: send to rank %d failed", to);
        }
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

/* Every rank's value at every rank; *first: the first rank whose value differs from rank 0's
 * (−1: none), *count: how many do. */
static int compare_u64(attn_mpi_ctx *ctx, uint64_t value, const char *fn, uint64_t *v0, uint64_t *vf, int *first,
                       int *count)
{
    const int P = ctx->size;
    *first = -1, *count = 0, *v0 = *vf = value;
    if (P == 1) return ATTN_OK;
    CHECK_USABLE(ctx, fn);
    uint64_t *all = calloc((size_t)P, sizeof *all);
    if (!all) return attn_set_error(ATTN_E_NOMEM, "%s: out of memory", fn);
    all[ctx->rank] = value;
    int st = allgather(ctx, (unsigned char *)all, 8, fn);
    for (int r = 1; r < P && st == ATTN_OK; r++)
        if (all[r] != all[0]) {
            if (*first < 0) *first = r, *vf = all[r];
            ++*count;
        }
    *v0 = all[0];
    attn_mpi_internal_release(ctx, all);
    return st;
}

int attn_mpi_check_same(attn_mpi_ctx *ctx, const void *desc, size_t bytes, const char *what)
{
    uint64_t v0, vf;
    int first, count;
    int st = compare_u64(ctx, fnv1a(desc, bytes), "attn_mpi_check_same", &v0, &vf, &first, &count);
    if (st || first < 0) return st;
    return attn_set_error(ATTN_E_STATE,
                "%s differs between rank 0 and rank %d (%d of %d ranks differ from rank 0): "
                "start every rank with the same options", what, first, count, ctx->size);
}

int attn_mpi_check_same_u64(attn_mpi_ctx *ctx, uint64_t value, const char *what)
{
    uint64_t v0, vf;
    int first, count;
    int st = compare_u64(ctx, value, "attn_mpi_check_same_u64", &v0, &vf, &first, &count);
    if (st || first < 0) return st;
    return attn_set_error(ATTN_E_STATE, "%s differs between rank 0 (%016llx) and rank %d (%016llx); %d of %d ranks "
                          "differ from rank 0", what, (unsigned long long)v0, first, (unsigned long long)vf,
                          count, ctx->size);
}

int attn_mpi_exchange_start(attn_mpi_ctx *ctx, const void *sbuf, void *rbuf, size_t bytes, int to, int from)
{
    CHECK_USABLE(ctx, "attn_mpi_exchange_start");
    if (ctx->pending) return attn_set_error(ATTN_E_STATE, "attn_mpi_exchange_start: an exchange is in flight");
    if (to < 0 || to >= ctx->size || from < 0 || from >= ctx->size)
        return attn_set_error(ATTN_E_ARG, "attn_mpi_exchange_start: rank %d/%d out of range", to, from);
    if (bytes > (size_t)1 << 31) return attn_set_error(ATTN_E_ARG, "attn_mpi_exchange_start: too many bytes");
    ctx->req[0] = ctx->req[1] = MPI_REQUEST_NULL;
    if (MPI_Irecv(rbuf, (int)bytes, MPI_BYTE, from, TAG_EXCHANGE, ctx->comm, &ctx->req[0]) != MPI_SUCCESS ||
        MPI_Isend(sbuf, (int)bytes, MPI_BYTE, to, TAG_EXCHANGE, ctx->comm, &ctx->req[1]) != MPI_SUCCESS) {
        cancel_all(ctx, 2, ctx->req);
        return attn_set_error(ATTN_E_IO, "attn_mpi_exchange_start: could not post messages");
    }
    ctx->pending = from + 1;
    return ATTN_OK;
}

int attn_mpi_exchange_wait(attn_mpi_ctx *ctx)
{
    if (!ctx->pending) return attn_set_error(ATTN_E_STATE, "attn_mpi_exchange_wait: nothing in flight");
    int from = ctx->pending - 1;
    ctx->pending = 0;
    /* a failed context still completes (or cancels) the exchange it started */
    return wait_all(ctx, 2, ctx->req, from, "attn_mpi_exchange_wait");
}

void attn_mpi_abort(attn_mpi_ctx *ctx, const char *message)
{
    fprintf(stderr, "attn (rank %d of %d): %s\n", ctx ? ctx->rank : -1, ctx ? ctx->size : -1, message);
    fflush(stderr);
    MPI_Abort(ctx ? ctx->comm : MPI_COMM_WORLD, 1); /* MPI ends every rank of the job */
}
