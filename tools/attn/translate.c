/* translate.c — `attn translate --model M [--beam N] [--len-penalty A] [TEXT...]`: translate the
 * arguments, or each line of standard input, with a saved translation model through the
 * library's translator (tools/text/translator.h): the checkpoint's attn.tokenizer picks the text
 * side, "chars-ascii" (the date demo) or "spm" (a SentencePiece model stored inside it). */
#include "cli.h"

#include "../text/translator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: attn translate --model FILE [--beam N] [--len-penalty A] [--max-len N]"
                    " [--threads N] [--no-cache] [TEXT ...]\n"
                    "Translates each TEXT, or each line of standard input when none is given.\n");
    return 2;
}

/* The lines of standard input, malloc'ed. */
static int read_lines(char ***out, int64_t *n)
{
    char **lines = NULL, *line = NULL;
    size_t lcap = 0;
    int64_t k = 0, cap = 0;
    int s = ATTN_OK;
    while (s == ATTN_OK && getline(&line, &lcap, stdin) >= 0) {
        line[strcspn(line, "\r\n")] = '\0';
        if (k == cap) {
            cap = cap ? 2 * cap : 64;
            char **g = realloc(lines, (size_t)cap * sizeof *g);
            if (!g) s = ATTN_E_NOMEM;
            else lines = g;
        }
        if (s == ATTN_OK && !(lines[k++] = strdup(line))) s = ATTN_E_NOMEM;
    }
    free(line);
    *out = lines, *n = k;
    return s;
}

int cli_translate(int argc, char **argv)
{
    const char *model = NULL;
    attn_generate_options o = {.beam = 1, .len_penalty = 0.6f};
    int threads = 0, first_text = argc;
    for (int a = 1; a < argc; a++) {
        int more = a + 1 < argc;
        if (!strcmp(argv[a], "--model") && more) model = argv[++a];
        else if (!strcmp(argv[a], "--beam") && more) o.beam = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--len-penalty") && more) o.len_penalty = (float)atof(argv[++a]);
        else if (!strcmp(argv[a], "--max-len") && more) o.max_new = atol(argv[++a]);
        else if (!strcmp(argv[a], "--threads") && more) threads = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--no-cache")) o.no_cache = 1;
        else if (!strcmp(argv[a], "--")) {
            first_text = a + 1;
            break;
        } else if (argv[a][0] == '-' && argv[a][1] == '-') return usage();
        else {
            first_text = a;
            break;
        }
    }
    if (!model || o.beam < 1 || o.beam > 64 || threads < 0 || o.max_new < 0) return usage();
    if (threads) attn_set_num_threads(threads);
    attn_translator *tr = NULL;
    int s = attn_translator_open(model, &tr);
    if (s) return cli_error("translate", model, s);
    char **lines = argv + first_text, **hyp = NULL;
    int64_t n = argc - first_text;
    if (n == 0) s = read_lines(&lines, &n);
    if (s == ATTN_OK && n > 0) s = attn_translator_translate(tr, (const char *const *)lines, n, &o, &hyp);
    for (int64_t i = 0; s == ATTN_OK && i < n; i++) printf("%s\n", hyp[i]);
    attn_translator_free_strings(hyp, hyp ? n : 0);
    if (lines != argv + first_text) attn_translator_free_strings(lines, n);
    attn_translator_free(tr);
    return s ? cli_error("translate", s == ATTN_E_NOMEM ? "memory" : "decoding", s) : 0;
}
