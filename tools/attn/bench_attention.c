/* bench_attention.c — `attn bench attention`: scaled dot-product attention, fused vs reference.
 *
 *   attn bench attention [--shapes S1,S2,...] [--threads N] [--kernel flash|reference]
 *                        [--pass fwd|bwd|both] [--reps N] [--isa portable|avx2|avx512]
 *
 * One line per case (attn_bench_sdpa_named, attn_bench_sdpa: attn/bench.h): shape, kernel, pass, threads, median ms,
 * GFLOP/s and % of the FMA peak (decoding, S6: GB/s and % of the measured memory bandwidth
 * instead), the median CPU time of the process per repetition (cpu_ms: on a shared machine wall
 * time also counts waiting for a core), and the case's peak resident set next to the size of
 * its inputs and outputs. The peaks are the best of short calibration runs taken at the start
 * and between the repetitions of every case (bandwidth: before and after the decoding case), so
 * one busy moment cannot set the yardstick; a percentage above 100 is printed with
 * `..._calibration=off`. */
#include "attn.h"
#include "args.h"
#include "cli.h"
#include "bench_util.h"

#include <stdio.h>
#include <string.h>

/* Run one case; returns 0, or 1 on a library error. */
static int run_case(const char *name, attn_bench_sdpa_case c, int membound, attn_machine_peak *pk)
{
    const char *kname = c.kernel == ATTN_KERNEL_REFERENCE ? "reference" : "flash", *pass = c.backward ? "bwd" : "fwd";
    const int threads = c.threads;
    double flops = 0;
    if (attn_bench_sdpa_count(&c, &flops, NULL)) return cli_error("bench attention", name, ATTN_E_ARG);
    if (c.kernel == ATTN_KERNEL_REFERENCE && flops > 3e9) {
        printf("shape=%s kernel=%s pass=%s threads=%d skipped=too_slow\n", name, kname, pass, threads);
        return 0;
    }
    if (membound) (void)attn_machine_bandwidth(pk, 3); /* before the case resets the peak RSS */
    attn_bench_sdpa_result r;
    int st = attn_bench_sdpa(&c, membound ? NULL : pk, &r);
    if (st) return cli_error("bench attention", name, st);
    if (membound) (void)attn_machine_bandwidth(pk, 3); /* after: the best of both sides */
    const double t = r.t.ms * 1e-3, c_s = r.t.cpu_ms * 1e-3;
    printf("shape=%s kernel=%s pass=%s threads=%d ms=%.3f reps=%d", name, kname, pass, threads, r.t.ms, r.t.reps);
    if (membound) {
        printf(" gbs=%.2f peak_gbs=%.2f", r.bytes / t * 1e-9, pk->gbs);
        bench_print_pct(pk, "pct_peak", r.bytes / t * 1e-9, pk->gbs);
    } else {
        printf(" gflops=%.2f peak_gflops=%.2f", r.flops / t * 1e-9, pk->gflops);
        bench_print_pct(pk, "pct_peak", r.flops / t * 1e-9, pk->gflops);
    }
    printf(" cpu_ms=%.3f", r.t.cpu_ms);
    if (!membound) {
        printf(" cpu_gflops_per_core=%.2f", r.flops / c_s * 1e-9);
        bench_print_pct(pk, "cpu_pct_peak", r.flops / c_s * 1e-9, pk->core_gflops);
    }
    printf(" rss_mb=%.1f io_mb=%.1f\n", r.rss_mb, r.io_mb);
    fflush(stdout);
    return 0;
}

int bench_attention(int argc, char **argv)
{
    const char *list = ATTN_BENCH_SDPA_DEFAULT;
    int threads = attn_get_num_threads(), reps = 0, pass_i = 2, kernel_i = 0, isa_i = -1;
    const arg_opt opts[] = {
        {"shapes", 's', ARG_STR, &list, .meta = "S1,...", .help = "shapes to run (S1..S8)"},
        {"threads", 'j', ARG_INT, &threads, .lo = 1, .hi = 4096, .help = "threads"},
        {"kernel", 0, ARG_CHOICE, &kernel_i, .choices = "flash|reference", .help = "the fused or the textbook kernel"},
        {"pass", 0, ARG_CHOICE, &pass_i, .choices = "fwd|bwd|both", .help = "forward, backward or both"},
        {"reps", 0, ARG_INT, &reps, .lo = 0, .hi = 64, .help = "repetitions (0: by the shape's size)"},
        BENCH_ISA_OPT(&isa_i),
        {0}};
    const arg_spec spec = {.cmd = "bench attention", .synopsis = "[options]", .opts = opts,
                           .about = "The attention kernels on the shapes S1..S8: ms, GFLOP/s, % of the FMA peak measured\n"
                                    "in the same run, peak RSS."};
    ARGS_PARSE_OR_RETURN(&spec, argc, argv, NULL, NULL);
    const attn_kernel kernel = kernel_i ? ATTN_KERNEL_REFERENCE : ATTN_KERNEL_FLASH;
    if (bench_set_isa("bench attention", isa_i)) return 1;
    attn_machine_peak pk;
    (void)attn_machine_peak_init(&pk, threads);
    printf("# attention: isa=%s threads=%d peak_gflops=%.1f core_cpu_peak_gflops=%.1f (start; "
           "recalibrated between repetitions)\n",
           attn_isa_name(attn_get_isa()), threads, pk.gflops, pk.core_gflops);
    int rc = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        attn_bench_sdpa_case c;
        int decode = 0;
        if (attn_bench_sdpa_named(tok, threads, reps, &c, &decode)) {
            fprintf(stderr, "bench attention: unknown shape '%s' (S1..S8)\n", tok);
            return 2;
        }
        c.kernel = kernel;
        if (pass_i != 1) rc |= run_case(tok, c, decode, &pk);
        c.backward = 1;
        if (pass_i != 0 && !decode) rc |= run_case(tok, c, 0, &pk);
    }
    printf("# peaks, best of all calibration runs: peak_gflops=%.1f (%d runs) "
           "core_cpu_peak_gflops=%.1f peak_gbs=%.2f (%d runs)\n",
           pk.gflops, pk.fma_runs, pk.core_gflops, pk.gbs, pk.bw_runs);
    return rc;
}
