/* bench_util.h — the benchmarks' shared report helpers, over the library's machine measurement
 * (attn/core.h: attn_now, attn_machine_peak, attn_peak_rss_mb). */
#ifndef ATTN_BENCH_UTIL_H
#define ATTN_BENCH_UTIL_H

#include "attn.h"

/* Print " KEY=PCT" with PCT = 100·value/peak; above 100 (the peak was measured low: a busy
 * machine during every calibration run, or frequency changes) also " KEY_calibration=off",
 * and a note on stderr once per process. */
void bench_print_pct(attn_machine_peak *p, const char *key, double value, double peak);

/* Median of n doubles (sorts in place). */
double bench_median(double *v, int n);

#endif
