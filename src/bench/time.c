/* time.c — the benchmarks' timing loop: repetitions in alternating blocks, medians; the machine's
 * load (bench.h). */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double attn_bench_median(double *v, int n)
{
    if (!v || n <= 0) return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double attn_bench_load(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && fscanf(f, "%lf", &l) != 1) l = -1;
    if (f) fclose(f);
    return l;
}

static void pause_s(double s)
{
    if (!(s > 0)) return;
    if (s > 10) s = 10;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* the batch of calls of one repetition: 0 or the function's failing status */
static int call_batch(attn_bench_fn fn, void *ctx, int batch)
{
    for (int i = 0; i < batch; i++) {
        int st = fn(ctx);
        if (st) return st;
    }
    return 0;
}

int attn_bench_time(int n_fns, const attn_bench_fn *fns, void *const *ctx,
                    const attn_bench_options *o, attn_bench_timing *out)
{
    static const attn_bench_options defaults;
    if (!o) o = &defaults;
    ATTN_REQUIRE_NONNULL("attn_bench_time", fns);
    ATTN_REQUIRE_NONNULL("attn_bench_time", out);
    if (n_fns < 1 || n_fns > ATTN_BENCH_MAX_FNS)
        return attn_fail(ATTN_E_ARG, "attn_bench_time: n_fns=%d, not 1..%d", n_fns, ATTN_BENCH_MAX_FNS);
    for (int f = 0; f < n_fns; f++)
        if (!fns[f]) return attn_fail(ATTN_E_ARG, "attn_bench_time: fns[%d] is NULL", f);
    if (o->reps < 0 || o->max_reps < 0 || o->rounds < 0 || o->batch < 0 || !(o->min_seconds >= 0) ||
        !(o->pause_seconds >= 0))
        return attn_fail(ATTN_E_ARG, "attn_bench_time: a negative option (reps %d, max_reps %d, rounds %d, "
                                     "batch %d, min_seconds %g, pause_seconds %g)",
                         o->reps, o->max_reps, o->rounds, o->batch, o->min_seconds, o->pause_seconds);
    const int max = o->max_reps && o->max_reps < ATTN_BENCH_MAX_REPS ? o->max_reps : ATTN_BENCH_MAX_REPS;
    const int batch = o->batch ? o->batch : 1;
    int reps = o->reps ? o->reps : 1;
    if (reps > max) reps = max;
    int st = 0;
    for (int f = 0; f < n_fns && !st; f++) st = fns[f](ctx ? ctx[f] : NULL); /* cold calls */
    if (!st && o->min_seconds > 0) { /* one warm repetition sets the count */
        double t0 = attn_now();
        st = call_batch(fns[0], ctx ? ctx[0] : NULL, batch);
        const double t = attn_now() - t0;
        while (!st && reps < max && reps * t <= o->min_seconds) reps++;
    }
    if (st) return st;
    double *wall = malloc(2 * (size_t)n_fns * (size_t)reps * sizeof *wall);
    if (!wall) return attn_fail(ATTN_E_NOMEM, "attn_bench_time: %d repetitions", reps);
    double *cpu = wall + (size_t)n_fns * (size_t)reps;
    int n[ATTN_BENCH_MAX_FNS] = {0};
    const int rounds = o->rounds < 1 ? 1 : o->rounds > reps ? reps : o->rounds;
    for (int r = 0; r < rounds && !st; r++) {
        for (int f = 0; f < n_fns && !st; f++) {
            void *c = ctx ? ctx[f] : NULL;
            const int count = (r + 1) * reps / rounds - r * reps / rounds;
            if (n_fns > 1) pause_s(o->pause_seconds);
            if (o->peak) (void)attn_machine_peak_sample(o->peak);
            if (o->warm_each_block) st = fns[f](c);
            for (int k = 0; k < count && !st; k++) {
                const double t0 = attn_now(), c0 = attn_cpu_seconds();
                st = call_batch(fns[f], c, batch);
                cpu[(size_t)f * reps + n[f]] = (attn_cpu_seconds() - c0) * 1e3 / batch;
                wall[(size_t)f * reps + n[f]++] = (attn_now() - t0) * 1e3 / batch;
            }
        }
    }
    for (int f = 0; f < n_fns && !st; f++) {
        double *w = wall + (size_t)f * reps;
        attn_bench_timing *t = &out[f];
        t->reps = n[f];
        t->ms_min = t->ms_max = w[0];
        for (int k = 1; k < n[f]; k++) t->ms_min = fmin(t->ms_min, w[k]), t->ms_max = fmax(t->ms_max, w[k]);
        t->ms = attn_bench_median(w, n[f]);
        t->cpu_ms = attn_bench_median(cpu + (size_t)f * reps, n[f]);
    }
    free(wall);
    return st;
}
