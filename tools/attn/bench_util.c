/* bench_util.c — timing, machine peak, memory bandwidth, RSS. */
#include "bench_util.h"

#include "attn.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

double bench_fma_loop_avx512(long iters); /* peak_avx512.c: flops done */
double bench_fma_loop_avx2(long iters);   /* peak_avx2.c */

double bench_now(void)
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

/* the FMA loop of the path in use (--isa may have chosen a narrower one than the CPU's best) */
static double fma_loop(long iters)
{
    attn_isa isa = attn_get_isa();
    if (isa == ATTN_ISA_AVX512) return bench_fma_loop_avx512(iters);
    if (isa == ATTN_ISA_AVX2) return bench_fma_loop_avx2(iters);
    return fma_loop_portable(iters);
}

double bench_peak_gflops(int threads)
{
    bench_peak p;
    bench_peak_init(&p, threads);
    return p.gflops;
}

/* one FMA run on p->threads threads (wall time); the best is kept */
static void fma_wall(bench_peak *p, long iters)
{
    double flops = 0;
    double t0 = bench_now();
#pragma omp parallel num_threads(p->threads) reduction(+ : flops)
    flops += fma_loop(iters);
    double t = bench_now() - t0;
    if (t > 0 && flops / t * 1e-9 > p->gflops) p->gflops = flops / t * 1e-9;
    p->fma_runs++;
}

/* one FMA run on this thread, per second of its CPU time (waiting for a core does not count) */
static void fma_cpu(bench_peak *p, long iters)
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
static void fma_burst(bench_peak *p, int short_runs)
{
    fma_wall(p, 3000000);
    for (int i = 0; i < short_runs; i++) fma_wall(p, 200000);
    fma_cpu(p, 1000000);
}

void bench_peak_init(bench_peak *p, int threads)
{
    memset(p, 0, sizeof *p);
    p->threads = threads < 1 ? 1 : threads;
    double warm = 0; /* the first parallel region pays for starting the threads */
#pragma omp parallel num_threads(p->threads) reduction(+ : warm)
    warm += fma_loop(200000);
    (void)warm;
    for (int r = 0; r < 5; r++) fma_burst(p, 8);
}

void bench_peak_sample(bench_peak *p)
{
    fma_burst(p, 4); /* ~15 ms */
}

void bench_peak_bandwidth(bench_peak *p, int runs)
{
    const size_t n = (size_t)1 << 24; /* 3 arrays × 64 MB: well beyond any L3 */
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return;
    }
#pragma omp parallel for num_threads(p->threads) schedule(static)
    for (size_t i = 0; i < n; i++) a[i] = 0, b[i] = 1, c[i] = 2;
    for (int rep = 0; rep < runs; rep++) {
        double t0 = bench_now();
#pragma omp parallel for num_threads(p->threads) schedule(static)
        for (size_t i = 0; i < n; i++) a[i] = b[i] + 0.5f * c[i];
        double t = bench_now() - t0;
        double g = 3.0 * n * sizeof(float) / t * 1e-9;
        if (g > p->gbs) p->gbs = g;
        p->bw_runs++;
    }
    volatile float sink = a[n / 2];
    (void)sink;
    free(a), free(b), free(c);
}

void bench_print_pct(bench_peak *p, const char *key, double value, double peak)
{
    double pct = peak > 0 ? 100.0 * value / peak : 0;
    printf(" %s=%.1f", key, pct);
    if (pct <= 100.0) return;
    printf(" %s_calibration=off", key);
    if (!p->warned)
        fprintf(stderr, "attn bench: %s=%.1f: measured above the calibrated peak (best of %d "
                        "FMA and %d bandwidth runs): the calibration was off (a busy machine or a "
                        "changing clock); read the percentages as approximate\n",
                key, pct, p->fma_runs, p->bw_runs);
    p->warned = 1;
}

double bench_peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
    if (n <= 0) return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
