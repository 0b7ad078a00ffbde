/* translate.c — translate standard input, one sentence a line, with a saved translation model,
 * through the installed libraries only:
 *
 *     cc translate.c $(pkg-config --cflags --libs attn-text) -o translate
 *     ./translate runs/mt/best.safetensors < sentences.en
 *
 * Any model `attn train translate` or `attn demo` saved: the Transformer or the GRU, with the
 * SentencePiece or the character tokenizer stored inside the checkpoint. Beam search of 5. */
#define _POSIX_C_SOURCE 200809L /* getline, strdup */
#include <attn/translator.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL < lines\n", argv[0]);
        return 2;
    }
    attn_translator *tr;
    if (attn_translator_open(argv[1], &tr) != ATTN_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], attn_last_error());
        return 1;
    }
    char **lines = NULL, *line = NULL;
    size_t cap = 0;
    int64_t n = 0;
    while (getline(&line, &cap, stdin) >= 0) {
        line[strcspn(line, "\r\n")] = '\0';
        char **more = realloc(lines, (size_t)(n + 1) * sizeof *lines);
        if (!more || !(more[n] = strdup(line))) return 1;
        lines = more, n++;
    }
    free(line);
    attn_generate_options o = {.beam = 5, .len_penalty = 0.6f};
    char **out = NULL;
    int rc = 0;
    if (n > 0 && attn_translator_translate(tr, (const char *const *)lines, n, &o, &out) != ATTN_OK) {
        fprintf(stderr, "translate: %s\n", attn_last_error());
        rc = 1;
    }
    for (int64_t i = 0; out && i < n; i++) printf("%s\n", out[i]);
    attn_translator_free_strings(out, out ? n : 0);
    attn_translator_free_strings(lines, n);
    attn_translator_free(tr);
    return rc;
}
