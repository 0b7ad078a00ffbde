/* bench_util.c — timing, machine peak, memory bandwidth, RSS. */
#include "bench_util.h"

#include "attn.h"

#include <omp.h>
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

static double fma_loop(long iters)
{
    if (attn_isa_supported(ATTN_ISA_AVX512)) return bench_fma_loop_avx512(iters);
    if (attn_isa_supported(ATTN_ISA_AVX2)) return bench_fma_loop_avx2(iters);
    return fma_loop_portable(iters);
}

double bench_peak_gflops(int threads)
{
    if (threads < 1) threads = 1;
    double best = 0;
    /* wake every thread first: the first parallel region pays for starting them */
    double warm = 0;
#pragma omp parallel num_threads(threads) reduction(+ : warm)
    warm += fma_loop(200000);
    (void)warm;
    for (int rep = 0; rep < 5; rep++) {
        double flops = 0;
        double t0 = bench_now();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
        flops += fma_loop(8000000); /* ~25 ms per thread on one FMA a cycle */
        double t = bench_now() - t0;
        double g = flops / t * 1e-9;
        if (g > best) best = g;
    }
    return best;
}

double bench_mem_bandwidth_gbs(int threads)
{
    const size_t n = (size_t)1 << 25; /* 3 arrays × 128 MB */
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return 0;
    }
#pragma omp parallel for num_threads(threads) schedule(static)
    for (size_t i = 0; i < n; i++) a[i] = 0, b[i] = 1, c[i] = 2;
    double best = 0;
    for (int rep = 0; rep < 4; rep++) {
        double t0 = bench_now();
#pragma omp parallel for num_threads(threads) schedule(static)
        for (size_t i = 0; i < n; i++) a[i] = b[i] + 0.5f * c[i];
        double t = bench_now() - t0;
        double g = 3.0 * n * sizeof(float) / t * 1e-9;
        if (g > best) best = g;
    }
    volatile float sink = a[n / 2];
    (void)sink;
    free(a), free(b), free(c);
    return best;
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
