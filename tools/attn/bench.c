/* bench.c — `attn bench <what>`: dispatch to the benchmark programs (bench_*.c). A benchmark
 * not linked in says so. */
#include "args.h"
#include "cli.h"

#include <stdio.h>
#include <string.h>

__attribute__((weak)) int bench_attention(int argc, char **argv);
__attribute__((weak)) int bench_gemm(int argc, char **argv);
__attribute__((weak)) int bench_train(int argc, char **argv);
__attribute__((weak)) int bench_ring(int argc, char **argv);

int cli_bench(int argc, char **argv)
{
    struct {
        const char *name;
        int (*fn)(int, char **);
    } benches[] = {{"attention", bench_attention}, {"gemm", bench_gemm}, {"train", bench_train},
                   {"ring", bench_ring}};
    static const char usage[] =
        "usage: attn bench attention|gemm|train|ring [options]\n"
        "  attention  attention kernels, forward and backward, against the machine's peak\n"
        "  gemm       the matrix products under them\n"
        "  train      training steps of the models\n"
        "  ring       ring attention across processes (MPI)\n"
        "`attn bench NAME --help` for the options of each.\n";
    if (argc < 2 || (argv[1][0] == '-' && args_wants_help(argc, argv))) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++) {
        if (strcmp(argv[1], benches[i].name)) continue;
        if (!benches[i].fn) {
            fprintf(stderr, "attn bench: '%s' is not built into this attn\n", argv[1]);
            return 2;
        }
        return benches[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "attn bench: unknown benchmark '%s'\n%s", argv[1], usage);
    return 2;
}
