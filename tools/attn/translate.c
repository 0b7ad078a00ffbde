/* translate.c — `attn translate --model M [options] [TEXT...]`: translate the arguments, or each
 * line of the --input files (or standard input), with a saved translation model through the
 * library's translator (tools/text/translator.h): the checkpoint's attn.tokenizer picks the text
 * side, "chars-ascii" (the date demo) or "spm" (a SentencePiece model stored inside it). */
#include "args.h"
#include "cli.h"
#include "progress.h"

#include "../text/translator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *model, *input, *output;
static int beam = 1, threads = 0, no_cache = 0, replace_invalid = 0, quiet = 0;
/* lines handed to the translator at a time (it sorts them by length into batches of 32);
 * progress is drawn after each */
enum { CHUNK = 256 };
static float len_penalty = 0.6f;
static int64_t max_len = 0;

static const arg_opt opts[] = {
    {"model", 'm', ARG_STR, &model, .meta = "FILE", .help = "saved translation model (required)"},
    {"input", 'i', ARG_STR, &input, .meta = "FILE",
     .help = "translate each line of FILE ('-': standard input)"},
    {"output", 'o', ARG_STR, &output, .meta = "FILE", .help = "write the translations to FILE"},
    {"beam", 'b', ARG_INT, &beam, .lo = 1, .hi = 64, .help = "beam width (1: greedy)"},
    {"len-penalty", 0, ARG_FLOAT, &len_penalty, .lo = 0, .hi = 10,
     .help = "GNMT length penalty alpha of the beam search"},
    {"max-len", 'n', ARG_I64, &max_len, .lo = 0, .hi = 1000000,
     .help = "most tokens per translation (0: the model's bound)"},
    {"threads", 'j', ARG_INT, &threads, .lo = 0, .hi = 4096, .help = "threads (0: all cores)"},
    {"no-cache", 0, ARG_FLAG, &no_cache, .help = "recompute attention over the whole prefix"},
    {"replace-invalid", 0, ARG_FLAG, &replace_invalid,
     .help = "replace invalid UTF-8 by U+FFFD instead of stopping with an error"},
    {"quiet", 'q', ARG_FLAG, &quiet, .help = "no progress on standard error"},
    {0}};

static const arg_spec spec = {
    .cmd = "translate",
    .synopsis = "--model FILE [options] [TEXT ...]",
    .about = "Translates each TEXT, or each line of --input (standard input when neither is given),\n"
             "and prints one translation a line. Progress goes to standard error for inputs of more\n"
             "than 256 lines.",
    .opts = opts,
    .max_pos = -1,
};

int cli_translate(int argc, char **argv)
{
    char **texts;
    int ntexts;
    ARGS_PARSE_OR_RETURN(&spec, argc, argv, &texts, &ntexts);
    if (!model) return args_usage_error(&spec, "--model is required");
    if (input && ntexts) return args_usage_error(&spec, "give TEXT arguments or --input, not both");
    attn_generate_options o = {.beam = beam, .len_penalty = len_penalty, .max_new = max_len,
                               .no_cache = no_cache};
    if (threads) attn_set_num_threads(threads);
    char **lines = texts;
    int64_t n = ntexts;
    int s = ATTN_OK;
    if (!ntexts) {
        s = attn_lines_read(input ? input : "-", replace_invalid ? ATTN_LINES_REPLACE_INVALID : 0,
                            &lines, &n);
        if (s) return cli_error("translate", "reading", s);
    } else {
        for (int i = 0; i < ntexts && s == ATTN_OK; i++) {
            size_t bad;
            if (attn_utf8_validate(texts[i], strlen(texts[i]), &bad)) {
                fprintf(stderr, "attn translate: argument %d: invalid UTF-8 at byte %zu (0x%02X)\n",
                        i + 1, bad + 1, (unsigned char)texts[i][bad]);
                return 1;
            }
        }
    }
    FILE *out = stdout;
    if (output && !(out = fopen(output, "w"))) {
        perror("attn translate: --output");
        if (lines != texts) attn_lines_free(lines, n);
        return 1;
    }
    attn_translator *tr = NULL;
    s = attn_translator_open(model, &tr);
    if (s) {
        if (lines != texts) attn_lines_free(lines, n);
        if (out != stdout) fclose(out);
        return cli_error("translate", model, s);
    }
    progress p;
    progress_init(&p, NULL, (long)n, "translate");
    p.quiet |= quiet || n <= CHUNK;
    for (int64_t at = 0; s == ATTN_OK && at < n; at += CHUNK) {
        int64_t k = n - at < CHUNK ? n - at : CHUNK;
        char **hyp = NULL;
        s = attn_translator_translate(tr, (const char *const *)lines + at, k, &o, &hyp);
        for (int64_t i = 0; s == ATTN_OK && i < k; i++) fprintf(out, "%s\n", hyp[i]);
        attn_translator_free_strings(hyp, hyp ? k : 0);
        fflush(out);
        progress_items(&p, (long)(at + k), "lines");
    }
    progress_done(&p);
    if (lines != texts) attn_lines_free(lines, n);
    attn_translator_free(tr);
    if (out != stdout && fclose(out) && s == ATTN_OK) {
        perror("attn translate: --output");
        return 1;
    }
    return s ? cli_error("translate", s == ATTN_E_NOMEM ? "memory" : "decoding", s) : 0;
}
