/* bench_util.h — what every benchmark measures about the machine and itself. */
#ifndef ATTN_BENCH_UTIL_H
#define ATTN_BENCH_UTIL_H

#include <stddef.h>

/* Wall clock in seconds (monotonic). */
double bench_now(void);

/* FP32 FMA peak in GFLOP/s on `threads` threads, measured by an FMA-bound loop on the widest
 * SIMD path this CPU has (each FMA counts 2 flops per lane). Takes ~0.3 s. */
double bench_peak_gflops(int threads);

/* Sustained memory bandwidth in GB/s on `threads` threads: a STREAM-style triad
 * a[i] = b[i] + s*c[i] over arrays far larger than the caches, counting 3 arrays moved
 * (the write-allocate read is not counted, as STREAM). Takes ~0.5 s. */
double bench_mem_bandwidth_gbs(int threads);

/* Peak resident set size of this process so far, in MB (getrusage). */
double bench_peak_rss_mb(void);

/* Median of n doubles (sorts in place). */
double bench_median(double *v, int n);

#endif
