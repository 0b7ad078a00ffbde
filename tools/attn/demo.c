/* demo.c — `attn demo`: the default job. */
#include "cli.h"

#include <stdio.h>

int cli_demo(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "attn demo: not built yet\n");
    return 1;
}
