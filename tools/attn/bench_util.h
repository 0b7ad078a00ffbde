/* bench_util.h — what the benchmark commands (bench_*.c) share: the --isa option and the report
 * of a percentage of a peak. The measuring itself is libattn's (attn/bench.h, attn/core.h). */
#ifndef ATTN_BENCH_UTIL_H
#define ATTN_BENCH_UTIL_H

#include "attn.h"

/* Print " KEY=PCT" with PCT = 100·value/peak; above 100 (the peak was measured low: a busy
 * machine during every calibration run, or frequency changes) also " KEY_calibration=off",
 * and a note on stderr once per process. */
void bench_print_pct(attn_machine_peak *p, const char *key, double value, double peak);

/* The --isa option of a table, into an int that starts at -1 (not given). */
#define BENCH_ISA_OPT(dest) {"isa", 0, ARG_CHOICE, dest, .choices = "portable|avx2|avx512", .help = "force an instruction set"}
/* Apply it: 0, or cli_error's status naming cmd. */
int bench_set_isa(const char *cmd, int isa_i);

#endif
