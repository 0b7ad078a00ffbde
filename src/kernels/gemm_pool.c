/* gemm_pool.c — the worker threads of attn_sgemm.
 *
 * Why not an OpenMP parallel region: its closing barrier makes the caller wait until every
 * team thread has at least arrived, and libgomp spins (~300k rounds by default) while it
 * waits. On a shared, oversubscribed machine a worker that has not even been scheduled yet
 * then costs the caller its whole time slice — measured 3–5× slower than OpenBLAS on 512³
 * under a load of ~15 on 2 cores, and on par with it under OMP_WAIT_POLICY=passive.
 *
 * Here a job is open to late joiners only while the caller works on it: the caller runs the
 * job function itself, then closes the job and waits (asleep) only for the workers that did
 * join. The job function must therefore hand out its work dynamically and be correct with
 * any number of participants (attn_sgemm's are). Workers poll briefly for the next job,
 * yielding the core, then sleep on a condition variable. One job at a time: a caller that
 * finds the pool busy (another thread's product) runs its job alone. */
#include "gemm_internal.h"

#include <pthread.h>
#include <sched.h>

#define POLL_ROUNDS 2000 /* sched_yield rounds a worker polls for the next job before sleeping */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* workers: a job opened */
    pthread_cond_t idle; /* caller: the last joined worker left */
    int nworkers;        /* threads started so far */
    uint64_t gen;        /* job number */
    int open;            /* the current job accepts joiners */
    int want, joined;    /* joiners wanted / joined so far */
    int active;          /* joined workers still running the job */
    int busy;            /* a caller owns the pool */
    void (*fn)(void *, int);
    void *arg;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER,
        .wake = PTHREAD_COND_INITIALIZER,
        .idle = PTHREAD_COND_INITIALIZER};

static int can_join(uint64_t seen)
{
    return pool.open && pool.gen != seen && pool.joined < pool.want;
}

static void *worker(void *unused)
{
    (void)unused;
    uint64_t seen = 0;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        if (!can_join(seen)) {
            pthread_mutex_unlock(&pool.lock);
            for (int r = 0; r < POLL_ROUNDS; r++) {
                if (__atomic_load_n(&pool.open, __ATOMIC_RELAXED) &&
                    __atomic_load_n(&pool.gen, __ATOMIC_RELAXED) != seen)
                    break;
                sched_yield();
            }
            pthread_mutex_lock(&pool.lock);
            while (!can_join(seen)) pthread_cond_wait(&pool.wake, &pool.lock);
        }
        seen = pool.gen;
        const int tid = 1 + pool.joined++;
        pool.active++;
        void (*fn)(void *, int) = pool.fn;
        void *arg = pool.arg;
        pthread_mutex_unlock(&pool.lock);
        fn(arg, tid);
        pthread_mutex_lock(&pool.lock);
        if (--pool.active == 0) pthread_cond_signal(&pool.idle);
    }
    return NULL;
}

void attn_gemm_run(void (*fn)(void *arg, int tid), void *arg, int nt)
{
    if (nt <= 1) {
        fn(arg, 0);
        return;
    }
    pthread_mutex_lock(&pool.lock);
    if (pool.busy) { /* another caller's product is running: do this one alone */
        pthread_mutex_unlock(&pool.lock);
        fn(arg, 0);
        return;
    }
    pool.busy = 1;
    while (pool.nworkers < nt - 1) {
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&th, &attr, worker, NULL);
        pthread_attr_destroy(&attr);
        if (rc != 0) break; /* fewer helpers; the job still completes */
        pool.nworkers++;
    }
    pool.fn = fn;
    pool.arg = arg;
    pool.want = nt - 1 < pool.nworkers ? nt - 1 : pool.nworkers;
    pool.joined = 0;
    __atomic_store_n(&pool.gen, pool.gen + 1, __ATOMIC_RELAXED);
    __atomic_store_n(&pool.open, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);

    fn(arg, 0);

    pthread_mutex_lock(&pool.lock);
    __atomic_store_n(&pool.open, 0, __ATOMIC_RELAXED); /* late workers stay out */
    while (pool.active > 0) pthread_cond_wait(&pool.idle, &pool.lock);
    pool.busy = 0;
    pthread_mutex_unlock(&pool.lock);
}
