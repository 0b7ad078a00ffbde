/* args.h — the one command-line grammar of every attn subcommand.
 *
 * Grammar (what the user gets):
 *   --name VALUE   --name=VALUE   -n VALUE   -nVALUE      an option with a value
 *   --flag   -f   (-fg: two short flags)                   an option without one
 *   options and positional arguments in any order; "--" ends the options (what follows is
 *   positional even when it starts with '-'); a lone "-" is positional (stdin by convention).
 *   -h / --help (anywhere before "--", even after a bad value; -h is reserved for it): the
 *   usage, generated from the table, on stdout; exit status 0.
 *   A usage error: "attn CMD: REASON" and "try 'attn CMD --help'" on stderr; exit status 2.
 *   Numbers are parsed whole (strtol/strtod: no trailing characters, no overflow, inside the
 *   option's range): `--threads abc`, `--beam 3x`, `--threads -1` are usage errors that say why.
 *   Runtime errors (not usage) are "attn CMD: what: why" with exit status 1 (cli_error in cli.h).
 *
 * API: describe the options in a table ending with {0}, call args_parse, act on its result.
 *
 *     static int threads = 0, beam = 1, quiet = 0, tok = 0;
 *     static double lp = 0.6;
 *     static const char *model = NULL;
 *     static const arg_opt opts[] = {
 *         {"model",   'm', ARG_STR,    &model,   .meta = "FILE", .help = "saved model (required)"},
 *         {"beam",    'b', ARG_INT,    &beam,    .lo = 1, .hi = 64, .help = "beam width"},
 *         {"threads", 't', ARG_INT,    &threads, .lo = 0, .hi = 4096, .help = "0: all cores"},
 *         {"len-penalty", 0, ARG_DOUBLE, &lp,    .lo = 0, .hi = 10, .help = "GNMT alpha"},
 *         {"tokenize", 0, ARG_CHOICE,  &tok,     .choices = "13a|intl|char|none"},
 *         {"quiet",   'q', ARG_FLAG,   &quiet,   .help = "no progress"},
 *         {0}};
 *     static const arg_spec spec = {
 *         .cmd = "translate", .synopsis = "--model FILE [options] [TEXT ...]",
 *         .about = "Translates each TEXT, or each line of standard input.",
 *         .opts = opts, .min_pos = 0, .max_pos = -1};
 *     int cli_translate(int argc, char **argv)
 *     {
 *         char **pos; int npos;
 *         ARGS_PARSE_OR_RETURN(&spec, argc, argv, &pos, &npos); // returns 0 after --help, 2 after a usage error
 *         if (!model) return args_usage_error(&spec, "--model is required");
 *         ...                                        // pos[0..npos): the positionals, in order
 *     }
 *
 * argv[0] is the command's own name and is skipped. Destinations keep their value when the
 * option is absent, so initialise them with the defaults (the help shows them). Kinds and
 * their destinations: ARG_FLAG int (set to 1), ARG_STR const char * (argv's string), ARG_INT
 * int, ARG_LONG long, ARG_I64 int64_t, ARG_DOUBLE double, ARG_FLOAT float, ARG_CHOICE int
 * (index into the '|'-separated choices). Numeric ranges [lo, hi] are checked when lo < hi
 * (set hi = ARGS_INF for "lo or more"). pos points into argv (which args_parse reorders:
 * positionals first); nothing is allocated. A command with sub-modes ("attn spm train")
 * parses the mode as its first positional, or calls args_parse on argc - 1, argv + 1 with a
 * spec whose cmd is "spm train".
 */
#ifndef ATTN_ARGS_H
#define ATTN_ARGS_H

#include <stdio.h>

typedef enum arg_kind {
    ARG_FLAG = 1,
    ARG_STR,
    ARG_INT,
    ARG_LONG,
    ARG_I64,
    ARG_DOUBLE,
    ARG_FLOAT,
    ARG_CHOICE
} arg_kind;

#define ARGS_INF 1e300

typedef struct arg_opt {
    const char *name;    /* long name without "--" */
    char short_name;     /* 0: none */
    arg_kind kind;
    void *dest;
    double lo, hi;       /* numeric range, inclusive; checked when lo < hi */
    const char *choices; /* ARG_CHOICE: "a|b|c" */
    const char *meta;    /* the value's name in the help (default from the kind) */
    const char *help;    /* one line */
} arg_opt;

typedef struct arg_spec {
    const char *cmd;      /* as the user typed it after "attn": "bleu", "train translate" */
    const char *synopsis; /* the usage line after "attn CMD " */
    const char *about;    /* printed after the usage line (may hold newlines); NULL: none */
    const arg_opt *opts;  /* ends with an entry whose name is NULL */
    int min_pos, max_pos; /* positional argument count; max_pos -1: any */
    const char *epilog;   /* printed after the options; NULL: none */
} arg_spec;

/* The options every `attn train TASK` command shares (data, out, config, threads, resume), as
 * table entries: {ARGS_TRAIN_OPTS(&data, &out, &config, &threads, &resume), …task's own…, {0}}. */
#define ARGS_TRAIN_OPTS(data, out, config, threads, resume)                                        \
    {"data", 'd', ARG_STR, data, .meta = "PATH", .help = "the training data"},                      \
    {"out", 'o', ARG_STR, out, .meta = "DIR", .help = "run directory (required)"},                  \
    {"config", 'c', ARG_STR, config, .meta = "FILE", .help = "JSON configuration (keys below)"},    \
    {"threads", 'j', ARG_INT, threads, .lo = 0, .hi = 4096, .help = "threads (0: all cores)"},      \
    {"resume", 0, ARG_FLAG, resume, .help = "continue the run in --out"}

#define ARGS_OK (-1)

/* Parse argv[1..argc). ARGS_OK: the destinations are set and pos[0..*npos) are the
 * positionals. Otherwise the exit status to return at once: 0 after -h/--help (usage printed
 * to stdout), 2 after a usage error (reason printed to stderr). */
int args_parse(const arg_spec *s, int argc, char **argv, char ***pos, int *npos);

/* args_parse, returning from the calling command with its status unless it is ARGS_OK. Use
 * this rather than keeping args_parse's result in a variable: ARGS_OK (-1) returned by a
 * command by mistake would be exit status 255. */
#define ARGS_PARSE_OR_RETURN(s, argc, argv, pos, npos)                                           \
    do {                                                                                       \
        int args_st_ = args_parse(s, argc, argv, pos, npos);                                   \
        if (args_st_ != ARGS_OK) return args_st_;                                              \
    } while (0)

/* Print "attn CMD: REASON" and the --help hint to stderr; return 2. */
int args_usage_error(const arg_spec *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Strict number parsing, for values that are not options (e.g. a positional): 0 and *out set
 * when the whole of text is an integer in [lo, hi]; otherwise 2 after printing
 * "attn CMD: WHAT must be ..., got TEXT" to stderr. */
int args_long(const arg_spec *s, const char *what, const char *text, long lo, long hi, long *out);

/* 1 when argv[1..argc) holds -h or --help before any "--" (for dispatchers that route to a
 * subcommand and want to answer help themselves when no mode was given). */
int args_wants_help(int argc, char **argv);

#endif
