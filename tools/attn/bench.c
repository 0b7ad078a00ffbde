/* bench.c — `attn bench <what>`: dispatch to the benchmark programs (bench_*.c), and what they
 * share (bench_util.h). */
#include "args.h"
#include "bench_util.h"
#include "cli.h"

#include <stdio.h>
#include <string.h>

int bench_attention(int argc, char **argv);
int bench_gemm(int argc, char **argv);
int bench_train(int argc, char **argv);
int bench_ring(int argc, char **argv);
int bench_generate(int argc, char **argv);

int cli_bench(int argc, char **argv)
{
    struct {
        const char *name;
        int (*fn)(int, char **);
    } benches[] = {{"attention", bench_attention}, {"gemm", bench_gemm}, {"train", bench_train},
                   {"ring", bench_ring}, {"generate", bench_generate}};
    static const char usage[] =
        "usage: attn bench attention|gemm|train|ring|generate [options]\n"
        "  attention  attention kernels, forward and backward, against the machine's peak\n"
        "  gemm       the matrix products under them\n"
        "  train      training steps of the models\n"
        "  ring       ring attention across processes (MPI)\n"
        "  generate   batch-1 sampling with the key/value cache against the memory bandwidth\n"
        "`attn bench NAME --help` for the options of each.\n";
    if (argc < 2 || (argv[1][0] == '-' && args_wants_help(argc, argv))) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
        if (!strcmp(argv[1], benches[i].name)) return benches[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "attn bench: unknown benchmark '%s'\n%s", argv[1], usage);
    return 2;
}

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

int bench_set_isa(const char *cmd, int isa_i)
{
    static const attn_isa isas[] = {ATTN_ISA_PORTABLE, ATTN_ISA_AVX2, ATTN_ISA_AVX512};
    const int st = isa_i >= 0 ? attn_set_isa(isas[isa_i]) : 0;
    return st ? cli_error(cmd, "--isa", st) : 0;
}
