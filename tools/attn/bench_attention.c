/* bench_attention.c — `attn bench attention`: scaled dot-product attention, fused vs reference.
 *
 *   attn bench attention [--shapes S1,S2,...] [--threads N] [--kernel flash|reference]
 *                        [--pass fwd|bwd|both] [--reps N] [--isa portable|avx2|avx512]
 *
 * One line per case: shape, kernel, pass, threads, median ms, GFLOP/s and % of the FMA peak
 * (decoding, S6: GB/s and % of the measured memory bandwidth instead), and the
 * case's peak resident set (VmHWM, reset before each case) next to the size of its inputs and
 * outputs, and the median CPU time of the process per repetition (cpu_ms: on a shared machine
 * wall time also counts waiting for a core). FLOPs: 4·B·H·Lq·Lk·E forward (halved for causal; S7 counts only unmasked keys),
 * 2.5× that backward.
 * The peaks are the best of short calibration runs taken at the start and between the
 * repetitions of every case (bandwidth: before and after the decoding case), so one busy moment
 * cannot set the yardstick; a percentage above 100 is printed with `..._calibration=off`. */
#include "attn.h"
#include "args.h"
#include "cli.h"
#include "bench_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct shape {
    const char *name;
    int64_t B, H, Lq, Lk, E;
    int causal, decode, lengths;
} shape;

static const shape shapes[] = {
    {"S1", 1, 8, 512, 512, 64, 0, 0, 0},      {"S2", 1, 8, 2048, 2048, 64, 0, 0, 0},
    {"S3", 1, 8, 2048, 2048, 64, 1, 0, 0},    {"S4", 1, 8, 8192, 8192, 64, 1, 0, 0},
    {"S5", 1, 16, 2048, 2048, 128, 1, 0, 0},  {"S6", 1, 32, 1, 4096, 128, 0, 1, 0},
    {"S7", 4, 12, 512, 512, 64, 0, 0, 1},
    /* not in the default list: the attention of `attn bench train` (GPT at the shakespeare-char
     * size: batch 8, 6 heads of 64, context 256, causal) */
    {"S8", 8, 6, 256, 256, 64, 1, 0, 0},
};
#define NSHAPES (int)(sizeof shapes / sizeof shapes[0])

static float *filled(int64_t n, unsigned seed)
{
    float *p = malloc((size_t)n * sizeof *p);
    if (!p) return NULL;
    unsigned s = seed;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)((s >> 8) * (1.0 / 16777216.0)) * 2 - 1;
    }
    return p;
}

/* Run one case; returns 0, or 1 on a library error. */
static int run_case(const shape *s, attn_kernel kernel, int bwd, int threads, int reps_opt,
                    attn_machine_peak *pk)
{
    const int64_t B = s->B, H = s->H, Lq = s->Lq, Lk = s->Lk, E = s->E;
    const char *kname = kernel == ATTN_KERNEL_REFERENCE ? "reference" : "flash";
    double flops = 4.0 * B * H * Lq * Lk * E * (s->causal ? 0.5 : 1.0);
    int32_t lens[16];
    if (s->lengths) {
        double kept = 0;
        for (int64_t b = 0; b < B; b++) lens[b] = (int32_t)(b < B / 2 ? Lk : Lk / 2), kept += lens[b];
        flops *= kept / ((double)B * Lk);
    }
    if (bwd) flops *= 2.5;
    if (kernel == ATTN_KERNEL_REFERENCE && flops > 3e9) {
        printf("shape=%s kernel=%s pass=%s threads=%d skipped=too_slow\n", s->name, kname,
               bwd ? "bwd" : "fwd", threads);
        return 0;
    }
    const int membound = s->decode && !bwd;
    if (membound) (void)attn_machine_bandwidth(pk, 3); /* before the RSS reset */
    (void)attn_rss_hwm_reset(); /* without it the peak is the process's */
    const int64_t nq = B * H * Lq * E, nk = B * H * Lk * E;
    float *q = filled(nq, 1), *k = filled(nk, 2), *v = filled(nk, 3), *o = calloc((size_t)nq, 4);
    float *lse = calloc((size_t)(B * H * Lq), 4);
    float *dout = bwd ? filled(nq, 4) : NULL;
    float *dq = bwd ? calloc((size_t)nq, 4) : NULL, *dk = bwd ? calloc((size_t)nk, 4) : NULL;
    float *dv = bwd ? calloc((size_t)nk, 4) : NULL;
    double io_mb = (3.0 * nq + 2.0 * nk + B * H * Lq) * 4 / 1048576.0;
    if (bwd) io_mb += (2.0 * nq + 2.0 * nk) * 4 / 1048576.0;
    int rc = 0;
    if (!q || !k || !v || !o || !lse || (bwd && (!dout || !dq || !dk || !dv))) {
        fprintf(stderr, "bench attention: out of memory for %s\n", s->name);
        rc = 1;
        goto done;
    }
    attn_tensor tq = attn_tensor_4d(q, B, H, Lq, E), tk = attn_tensor_4d(k, B, H, Lk, E);
    attn_tensor tv = attn_tensor_4d(v, B, H, Lk, E), to = attn_tensor_4d(o, B, H, Lq, E);
    attn_tensor tdo = attn_tensor_4d(dout, B, H, Lq, E), tdq = attn_tensor_4d(dq, B, H, Lq, E);
    attn_tensor tdk = attn_tensor_4d(dk, B, H, Lk, E), tdv = attn_tensor_4d(dv, B, H, Lk, E);
    attn_sdpa_options opt;
    memset(&opt, 0, sizeof opt);
    opt.causal = s->causal;
    opt.key_lengths = s->lengths ? lens : NULL;
    opt.kernel = kernel;
    opt.num_threads = threads;
    int st = attn_sdpa_forward(&tq, &tk, &tv, &opt, &to, lse, NULL);
    double times[64], cpu[64];
    int reps = reps_opt, n = 0;
    for (int r = 0; st == 0 && r < (reps ? reps : 64); r++) {
        if (!membound) (void)attn_machine_peak_sample(pk); /* interleaved calibration, outside the timing */
        double t0 = attn_now(), c0 = attn_cpu_seconds();
        if (bwd)
            st = attn_sdpa_backward(&tq, &tk, &tv, &to, lse, &tdo, &opt, &tdq, &tdk, &tdv, NULL);
        else
            st = attn_sdpa_forward(&tq, &tk, &tv, &opt, &to, lse, NULL);
        cpu[n] = attn_cpu_seconds() - c0;
        times[n++] = attn_now() - t0;
        if (!reps) { /* about a second of repetitions, 3 to 64 */
            double sum = 0;
            for (int i = 0; i < n; i++) sum += times[i];
            if (n >= 3 && sum > 1.0) break;
        }
    }
    if (st != 0) {
        fprintf(stderr, "bench attention: %s: %s\n", s->name, attn_last_error());
        rc = 1;
        goto done;
    }
    double t = bench_median(times, n), rss = attn_rss_hwm_mb();
    if (membound) (void)attn_machine_bandwidth(pk, 3); /* after: the best of both sides */
    printf("shape=%s kernel=%s pass=%s threads=%d ms=%.3f reps=%d", s->name, kname,
           bwd ? "bwd" : "fwd", threads, t * 1e3, n);
    if (membound) {
        double gbs = 4.0 * (2.0 * nk + 2.0 * nq) / t * 1e-9;
        printf(" gbs=%.2f peak_gbs=%.2f", gbs, pk->gbs);
        bench_print_pct(pk, "pct_peak", gbs, pk->gbs);
    } else {
        printf(" gflops=%.2f peak_gflops=%.2f", flops / t * 1e-9, pk->gflops);
        bench_print_pct(pk, "pct_peak", flops / t * 1e-9, pk->gflops);
    }
    /* CPU time per repetition: on a shared machine, wall time includes waiting for a core */
    double c = bench_median(cpu, n);
    printf(" cpu_ms=%.3f", c * 1e3);
    if (!membound) {
        printf(" cpu_gflops_per_core=%.2f", flops / c * 1e-9);
        bench_print_pct(pk, "cpu_pct_peak", flops / c * 1e-9, pk->core_gflops);
    }
    printf(" rss_mb=%.1f io_mb=%.1f\n", rss, io_mb);
    fflush(stdout);
done:
    free(q), free(k), free(v), free(o), free(lse), free(dout), free(dq), free(dk), free(dv);
    return rc;
}

int bench_attention(int argc, char **argv)
{
    const char *list = "S1,S2,S3,S4,S5,S6,S7", *pass = "both";
    int threads = attn_get_num_threads(), reps = 0;
    attn_kernel kernel = ATTN_KERNEL_FLASH;
    int pass_i = 2, kernel_i = 0, isa_i = -1;
    const arg_opt opts[] = {
        {"shapes", 's', ARG_STR, &list, .meta = "S1,...", .help = "shapes to run (S1..S8)"},
        {"threads", 'j', ARG_INT, &threads, .lo = 1, .hi = 4096, .help = "threads"},
        {"kernel", 0, ARG_CHOICE, &kernel_i, .choices = "flash|reference", .help = "the fused or the textbook kernel"},
        {"pass", 0, ARG_CHOICE, &pass_i, .choices = "fwd|bwd|both", .help = "forward, backward or both"},
        {"reps", 0, ARG_INT, &reps, .lo = 0, .hi = 64, .help = "repetitions (0: by the shape's size)"},
        {"isa", 0, ARG_CHOICE, &isa_i, .choices = "portable|avx2|avx512", .help = "force an instruction set"},
        {0}};
    const arg_spec spec = {.cmd = "bench attention", .synopsis = "[options]", .opts = opts,
                           .about = "The attention kernels on the shapes S1..S8: ms, GFLOP/s, % of the FMA peak measured\n"
                                    "in the same run, peak RSS."};
    ARGS_PARSE_OR_RETURN(&spec, argc, argv, NULL, NULL);
    static const char *const passes[] = {"fwd", "bwd", "both"};
    static const attn_isa isas[] = {ATTN_ISA_PORTABLE, ATTN_ISA_AVX2, ATTN_ISA_AVX512};
    pass = passes[pass_i];
    kernel = kernel_i ? ATTN_KERNEL_REFERENCE : ATTN_KERNEL_FLASH;
    if (isa_i >= 0) {
        const int st = attn_set_isa(isas[isa_i]);
        if (st) return cli_error("bench attention", "--isa", st);
    }
    attn_machine_peak pk;
    (void)attn_machine_peak_init(&pk, threads);
    printf("# attention: isa=%s threads=%d peak_gflops=%.1f core_cpu_peak_gflops=%.1f (start; "
           "recalibrated between repetitions)\n",
           attn_isa_name(attn_get_isa()), threads, pk.gflops, pk.core_gflops);
    int rc = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        const shape *s = NULL;
        for (int i = 0; i < NSHAPES; i++)
            if (!strcmp(tok, shapes[i].name)) s = &shapes[i];
        if (!s) {
            fprintf(stderr, "bench attention: unknown shape '%s' (S1..S8)\n", tok);
            return 2;
        }
        if (strcmp(pass, "bwd")) rc |= run_case(s, kernel, 0, threads, reps, &pk);
        if (strcmp(pass, "fwd") && !s->decode) rc |= run_case(s, kernel, 1, threads, reps, &pk);
    }
    printf("# peaks, best of all calibration runs: peak_gflops=%.1f (%d runs) "
           "core_cpu_peak_gflops=%.1f peak_gbs=%.2f (%d runs)\n",
           pk.gflops, pk.fma_runs, pk.core_gflops, pk.gbs, pk.bw_runs);
    return rc;
}
