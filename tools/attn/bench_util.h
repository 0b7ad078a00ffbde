/* bench_util.h — what every benchmark measures about the machine and itself. */
#ifndef ATTN_BENCH_UTIL_H
#define ATTN_BENCH_UTIL_H

#include <stddef.h>

/* Wall clock in seconds (monotonic). */
double bench_now(void);

/* FP32 FMA peak in GFLOP/s on `threads` threads, measured by an FMA-bound loop on the SIMD path
 * in use (each FMA counts 2 flops per lane): the best of 5 short runs (bench_peak_init). */
double bench_peak_gflops(int threads);

/* The machine's peaks as the best of several short runs, taken at the start and again between
 * the measurements (interleaved, so a busy moment at the start does not set the yardstick for
 * the whole run): FMA GFLOP/s on `threads` threads (wall time), one core's FMA GFLOP/s per
 * second of its CPU time (immune to waiting for a core), and the triad bandwidth. */
typedef struct bench_peak {
    int threads;
    double gflops;      /* best FMA GFLOP/s on `threads` threads so far */
    double core_gflops; /* best FMA GFLOP/s of one core per CPU second so far */
    double gbs;         /* best triad GB/s so far (0 until bench_peak_bandwidth) */
    int fma_runs, bw_runs;
    int warned;         /* the "calibration off" note went to stderr */
} bench_peak;

/* FMA runs of each kind, long (~8 ms) and short (~0.5 ms), ~0.1 s in all; a triad bandwidth is
 * measured only on request. */
void bench_peak_init(bench_peak *p, int threads);
/* A few more FMA runs (~15 ms); the best is kept. Call between repetitions. */
void bench_peak_sample(bench_peak *p);
/* `runs` triad passes over 3 × 64 MB (allocated and freed here); the best is kept. */
void bench_peak_bandwidth(bench_peak *p, int runs);
/* Print " KEY=PCT" with PCT = 100·value/peak; above 100 (the peak was measured low: a busy
 * machine during every calibration run, or frequency changes) also " KEY_calibration=off",
 * and a note on stderr once. */
void bench_print_pct(bench_peak *p, const char *key, double value, double peak);

/* Peak resident set size of this process so far, in MB (getrusage). */
double bench_peak_rss_mb(void);

/* Median of n doubles (sorts in place). */
double bench_median(double *v, int n);

#endif
