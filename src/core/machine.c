/* machine.c — what a benchmark measures about the machine and itself: a monotonic clock, the
 * FP32 FMA peak on the SIMD path in use, the triad memory bandwidth, the peak RSS (core.h). */
#include "internal.h"

#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

ATTN_INTERNAL double attn_fma_loop_avx512(long iters); /* machine_avx512.c: flops done */
ATTN_INTERNAL double attn_fma_loop_avx2(long iters);   /* machine_avx2.c */

double attn_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double fma_loop_portable(long iters)
{
    float a[16], b = 1.0000001f, c = 1e-7f;
    for (int i = 0; i < 16; i++) a[i] = (float)i;
    for (long it = 0; it < iters; it++)
        for (int i = 0; i < 16; i++) a[i] = a[i] * b + c;
    volatile float sink = a[3];
    (void)sink;
    return 2.0 * 16 * iters;
}

/* the FMA loop of the path in use (attn_set_isa may have chosen a narrower one than the CPU's
 * best; the portable loop when the CPU has neither) */
static double fma_loop(long iters)
{
    attn_isa isa = attn_get_isa();
    if (isa == ATTN_ISA_AVX512) return attn_fma_loop_avx512(iters);
    if (isa == ATTN_ISA_AVX2) return attn_fma_loop_avx2(iters);
    return fma_loop_portable(iters);
}

/* one FMA run on p->threads threads (wall time); the best is kept */
static void fma_wall(attn_machine_peak *p, long iters)
{
    double flops = 0;
    double t0 = attn_now();
#pragma omp parallel num_threads(p->threads) reduction(+ : flops)
    flops += fma_loop(iters);
    double t = attn_now() - t0;
    if (t > 0 && flops / t * 1e-9 > p->gflops) p->gflops = flops / t * 1e-9;
    p->fma_runs++;
}

/* one FMA run on this thread, per second of its CPU time (waiting for a core does not count) */
static void fma_cpu(attn_machine_peak *p, long iters)
{
    struct timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    double f = fma_loop(iters);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    double c = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9;
    if (c > 0 && f / c * 1e-9 > p->core_gflops) p->core_gflops = f / c * 1e-9;
}

/* Runs of two lengths: ~8 ms, and ~0.5 ms ones that, like a short timed kernel, can fall in a
 * moment when no other process holds the cores (on a busy machine the long runs alone measured
 * half the peak a 0.1 ms product then "beat"). */
static void fma_burst(attn_machine_peak *p, int short_runs)
{
    fma_wall(p, 3000000);
    for (int i = 0; i < short_runs; i++) fma_wall(p, 200000);
    fma_cpu(p, 1000000);
}

int attn_machine_peak_init(attn_machine_peak *p, int threads)
{
    ATTN_REQUIRE_NONNULL("attn_machine_peak_init", p);
    if (threads < 0 || threads > 4096) {
        memset(p, 0, sizeof *p);
        return attn_fail(ATTN_E_ARG, "attn_machine_peak_init: threads = %d, not in [0, 4096]", threads);
    }
    memset(p, 0, sizeof *p);
    p->threads = threads < 1 ? 1 : threads;
    double warm = 0; /* the first parallel region pays for starting the threads */
#pragma omp parallel num_threads(p->threads) reduction(+ : warm)
    warm += fma_loop(200000);
    (void)warm;
    for (int r = 0; r < 5; r++) fma_burst(p, 8);
    return ATTN_OK;
}

int attn_machine_peak_sample(attn_machine_peak *p)
{
    ATTN_REQUIRE_NONNULL("attn_machine_peak_sample", p);
    if (p->threads < 1) return attn_fail(ATTN_E_ARG, "attn_machine_peak_sample: not initialised (threads = %d)", p->threads);
    fma_burst(p, 4); /* ~15 ms */
    return ATTN_OK;
}

int attn_machine_bandwidth(attn_machine_peak *p, int runs)
{
    ATTN_REQUIRE_NONNULL("attn_machine_bandwidth", p);
    if (p->threads < 1) return attn_fail(ATTN_E_ARG, "attn_machine_bandwidth: not initialised (threads = %d)", p->threads);
    if (runs < 0) return attn_fail(ATTN_E_ARG, "attn_machine_bandwidth: runs = %d", runs);
    const size_t n = (size_t)1 << 24; /* 3 arrays × 64 MB: well beyond any L3 */
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return attn_fail(ATTN_E_NOMEM, "attn_machine_bandwidth: 3 × %zu MB", n * sizeof *a >> 20);
    }
#pragma omp parallel for num_threads(p->threads) schedule(static)
    for (size_t i = 0; i < n; i++) a[i] = 0, b[i] = 1, c[i] = 2;
    for (int rep = 0; rep < runs; rep++) {
        double t0 = attn_now();
#pragma omp parallel for num_threads(p->threads) schedule(static)
        for (size_t i = 0; i < n; i++) a[i] = b[i] + 0.5f * c[i];
        double t = attn_now() - t0;
        double g = 3.0 * n * sizeof(float) / t * 1e-9;
        if (g > p->gbs) p->gbs = g;
        p->bw_runs++;
    }
    volatile float sink = a[n / 2];
    (void)sink;
    free(a), free(b), free(c);
    return ATTN_OK;
}

double attn_machine_peak_gflops(int threads)
{
    attn_machine_peak p;
    return attn_machine_peak_init(&p, threads) ? 0 : p.gflops;
}

double attn_peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

double attn_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int attn_rss_hwm_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return attn_fail(ATTN_E_UNSUPPORTED, "attn_rss_hwm_reset: /proc/self/clear_refs: %s", strerror(errno));
    int ok = fputs("5", f) >= 0;
    ok = (fclose(f) == 0) && ok;
    return ok ? ATTN_OK : attn_fail(ATTN_E_UNSUPPORTED, "attn_rss_hwm_reset: the kernel refused the reset");
}

double attn_rss_hwm_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = strtod(line + 6, NULL);
    if (f) fclose(f);
    return kb < 0 ? attn_peak_rss_mb() : kb / 1024.0;
}
