/* bench_util.c — the benchmarks' shared report helpers (bench_util.h). */
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>

void bench_print_pct(attn_machine_peak *p, const char *key, double value, double peak)
{
    static int warned; /* the "calibration off" note went to stderr */
    double pct = peak > 0 ? 100.0 * value / peak : 0;
    printf(" %s=%.1f", key, pct);
    if (pct <= 100.0) return;
    printf(" %s_calibration=off", key);
    if (!warned)
        fprintf(stderr, "attn bench: %s=%.1f: measured above the calibrated peak (best of %d "
                        "FMA and %d bandwidth runs): the calibration was off (a busy machine or a "
                        "changing clock); read the percentages as approximate\n",
                key, pct, p->fma_runs, p->bw_runs);
    warned = 1;
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
