/* tasks.c — `attn train <task>` and `attn eval <task>`: one entry per task. */
#include "args.h"
#include "cli.h"
#include "image_cli.h"
#include "lm.h"

#include <stdio.h>
#include <string.h>

int cli_train(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "classify")) return cli_train_classify(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "translate")) return cli_train_translate(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "lm")) return cli_train_lm(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "image")) return cli_train_image(argc - 1, argv + 1);
    FILE *f = argc >= 2 && argv[1][0] == '-' && args_wants_help(argc, argv) ? stdout : stderr;
    if (argc >= 2 && f == stderr) fprintf(stderr, "attn train: unknown task '%s'\n", argv[1]);
    fprintf(f, "usage: attn train classify --data PATH --out DIR [--config F] [--threads N] [--resume]\n"
                    "       attn train image [--data DIR] --out DIR [--config F] [--threads N] [--resume]\n"
                    "       attn train lm --data FILE --out DIR [--config F] [--threads N] [--resume]\n"
                    "       attn train translate --arch transformer --data DIR --out DIR [--config F] [--resume]\n"
                    "`attn train TASK --help` for the options of each.\n");
    return f == stdout ? 0 : 2;
}

int cli_eval(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "classify")) return cli_eval_classify(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "translate")) return cli_eval_translate(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "lm")) return cli_eval_lm(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "image")) return cli_eval_image(argc - 1, argv + 1);
    FILE *f = argc >= 2 && argv[1][0] == '-' && args_wants_help(argc, argv) ? stdout : stderr;
    if (argc >= 2 && f == stderr) fprintf(stderr, "attn eval: unknown task '%s'\n", argv[1]);
    fprintf(f, "usage: attn eval classify --model M --data PATH\n"
               "       attn eval image --model M [--data DIR] [--split test|train]\n"
               "       attn eval translate --model M --src F.en --ref F.de [--beam N]\n"
               "       attn eval lm --model M --data FILE [--batch N] [--threads N]\n"
               "`attn eval TASK --help` for the options of each.\n");
    return f == stdout ? 0 : 2;
}
