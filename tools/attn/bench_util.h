/* bench_util.h — the benchmarks' names for the library's machine measurement (attn/core.h:
 * attn_now, attn_machine_peak, attn_peak_rss_mb), and their shared report helpers. */
#ifndef ATTN_BENCH_UTIL_H
#define ATTN_BENCH_UTIL_H

#include "attn.h"

typedef attn_machine_peak bench_peak;

static inline double bench_now(void) { return attn_now(); }
static inline double bench_peak_gflops(int threads) { return attn_machine_peak_gflops(threads); }
static inline void bench_peak_init(bench_peak *p, int threads) { (void)attn_machine_peak_init(p, threads); }
static inline void bench_peak_sample(bench_peak *p) { (void)attn_machine_peak_sample(p); }
static inline void bench_peak_bandwidth(bench_peak *p, int runs) { (void)attn_machine_bandwidth(p, runs); }
static inline double bench_peak_rss_mb(void) { return attn_peak_rss_mb(); }

/* Print " KEY=PCT" with PCT = 100·value/peak; above 100 (the peak was measured low: a busy
 * machine during every calibration run, or frequency changes) also " KEY_calibration=off",
 * and a note on stderr once per process. */
void bench_print_pct(bench_peak *p, const char *key, double value, double peak);

/* Median of n doubles (sorts in place). */
double bench_median(double *v, int n);

#endif
