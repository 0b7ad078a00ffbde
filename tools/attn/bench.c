/* bench.c — `attn bench <what>`: dispatch to the benchmark programs. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

int cli_bench(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: attn bench <attention|gemm|train> [options]\n");
        return 2;
    }
    fprintf(stderr, "attn bench: unknown benchmark '%s'\n", argv[1]);
    return 2;
}
