/* main.c — the attn command: dispatch to subcommands. */
#include "args.h"
#include "cli.h"
#include "image_cli.h"
#include "lm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *name;
    attn_cli_fn fn;
    const char *help;
} command;

static const command commands[] = {
    {"demo", cli_demo, "run the default job"},
    {"translate", cli_translate, "translate text with a saved model: attn translate --model M TEXT"},
    {"train", cli_train, "train a model: attn train classify|translate|lm|image --data PATH --out DIR"},
    {"generate", cli_generate, "continue a prompt with a language model: attn generate --model M --prompt TEXT"},
    {"eval", cli_eval, "evaluate a model: attn eval classify|translate|image --model M ..."},
    {"bench", cli_bench, "benchmarks: attn bench attention|gemm|..."},
    {"bleu", cli_bleu, "BLEU and chrF of a translation: attn bleu HYP REF [REF...]"},
    {"spm", cli_spm, "SentencePiece: attn spm train|encode|decode --model FILE"},
    {"viz", cli_viz, "see what a model attends to: heatmaps, attention.html, metrics"},
    {"plot", cli_plot, "training curves: attn plot metrics.csv --out loss.png"},
    {"classify", cli_classify, "label texts with a classifier: attn classify --model M TEXT"},
    {"classify-image", cli_classify_image, "label an image with a ViT: attn classify-image --model M FILE.png|IDX[i]"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: attn <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\noptions: -h, --help (this list), -V, --version\n"
               "Every command takes -h/--help (usage on standard output), --opt value or --opt=value,\n"
               "options before or after its arguments, and exits 2 on a usage error.\n"
               "attn %s; `attn <command> --help` for a command's options\n", attn_version());
}

/* `attn CMD ... --help`: the command's usage on standard output, exit status 0. Commands on the
 * args.h grammar do this themselves; for the others (which print their usage to stderr and
 * return 2) the usage is routed to standard output and the status made 0 here. */
static int run_help(const command *c, int argc, char **argv)
{
    fflush(stderr);
    fflush(stdout);
    int saved = dup(STDERR_FILENO);
    if (saved >= 0) dup2(STDOUT_FILENO, STDERR_FILENO);
    int rc = c->fn(argc, argv);
    fflush(stderr);
    if (saved >= 0) {
        dup2(saved, STDERR_FILENO);
        close(saved);
    }
    return rc == 2 ? 0 : rc;
}

int cli_error(const char *cmd, const char *what, int status)
{
    /* "attn CMD: WHAT: why (ATTN_E_CODE)": the library's message says why; its status code
     * (the part of attn_status_string before the colon) stays greppable at the end */
    const char *detail = attn_last_error(), *name = attn_status_string(status);
    int code_len = (int)strcspn(name, ":");
    if (detail[0])
        fprintf(stderr, "attn %s: %s: %s (%.*s)\n", cmd, what, detail, code_len, name);
    else
        fprintf(stderr, "attn %s: %s: %s\n", cmd, what, name);
    return 1;
}

/* libgomp's threads spin (~300k rounds) after every parallel region unless OMP_WAIT_POLICY
 * says otherwise, and on a machine with as many threads as cores that spin takes the core a
 * matrix-product worker needs next. The policy is read once when libgomp loads, so the tool
 * re-executes itself (/proc/self/exe) with OMP_WAIT_POLICY=passive unless the user chose one.
 * Setting ATTN_NO_REEXEC (to anything) turns this off, e.g. under a tool such as valgrind that
 * would not follow the exec. */
static void passive_openmp(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("ATTN_NO_REEXEC")) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1)) return;
    execv("/proc/self/exe", argv);
    unsetenv("OMP_WAIT_POLICY"); /* exec failed: go on as we are */
}

int main(int argc, char **argv)
{
    passive_openmp(argv);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("attn %s\n", attn_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return args_wants_help(argc - 1, argv + 1) ? run_help(&commands[i], argc - 1, argv + 1)
                                                       : commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "attn: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
