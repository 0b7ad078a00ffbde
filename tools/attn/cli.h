/* cli.h — what the attn command's subcommands share. */
#ifndef ATTN_CLI_H
#define ATTN_CLI_H

#include "attn.h"

/* A subcommand: argv[0] is its own name. Returns the process exit status. */
typedef int (*attn_cli_fn)(int argc, char **argv);

int cli_demo(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_translate(int argc, char **argv); /* translate.c */
int cli_bleu(int argc, char **argv); /* text_cli.c */
int cli_spm(int argc, char **argv);  /* text_cli.c */
int cli_viz(int argc, char **argv);  /* viz_cli.c */
int cli_plot(int argc, char **argv); /* viz_plot.c */
int cli_train(int argc, char **argv); /* tasks.c: attn train <task> */
int cli_eval(int argc, char **argv);  /* tasks.c: attn eval <task> */
int cli_train_translate(int argc, char **argv); /* mt_train.c (argv[0] = "translate") */
int cli_eval_translate(int argc, char **argv);  /* mt_eval.c (argv[0] = "translate") */
int cli_train_classify(int argc, char **argv);  /* classify_train.c (argv[0] = "classify") */
int cli_eval_classify(int argc, char **argv);   /* classify.c (argv[0] = "eval") */
int cli_classify(int argc, char **argv);        /* classify.c */

/* Print "attn <cmd>: <what>: <library message> (ATTN_E_CODE)" to stderr and return 1: the one
 * format of runtime errors (usage errors: args_usage_error in args.h, exit status 2). */
int cli_error(const char *cmd, const char *what, int status);

/* Return a failing library status at once. */
#define ATTN_TRY_CLI(e)                                                                         \
    do {                                                                                       \
        int s_ = (e);                                                                          \
        if (s_ < 0) return s_;                                                                 \
    } while (0)

#endif
