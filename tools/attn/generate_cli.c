/* generate_cli.c — `attn generate --model M [--prompt TEXT] [--max-new N] [--temperature T]
 * [--top-k K] [--top-p P] [--seed S] [--threads N] [--greedy]`: continue a prompt with a GPT,
 * streaming each character as it is sampled (attn_gpt_generate with the key/value cache). M is
 * a checkpoint of `attn train lm` (character vocabulary in its metadata). The same seed gives
 * the same text. */
#include "cli.h"

#include "lm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: attn generate --model M [--prompt TEXT] [--max-new N] [--temperature T] [--top-k K]\n"
                    "                     [--top-p P] [--seed S] [--greedy] [--threads N]\n");
    return 2;
}

typedef struct stream {
    const unsigned char *vocab;
} stream;

static int print_token(void *ctx, int64_t step, const int32_t *tokens, int64_t N)
{
    (void)step, (void)N;
    const stream *s = ctx;
    if (tokens[0] >= 0) putchar(s->vocab[tokens[0]]);
    fflush(stdout);
    return 0;
}

int cli_generate(int argc, char **argv)
{
    const char *model = NULL, *prompt = "\n";
    attn_generate_options o = {.eos_id = -1, .sample = 1, .temperature = 0.8f, .top_k = 0, .seed = 1};
    long max_new = 500;
    int threads = 0;
    for (int a = 1; a < argc; a++) {
        const int more = a + 1 < argc;
        if (!strcmp(argv[a], "--model") && more) model = argv[++a];
        else if (!strcmp(argv[a], "--prompt") && more) prompt = argv[++a];
        else if (!strcmp(argv[a], "--max-new") && more) max_new = atol(argv[++a]);
        else if (!strcmp(argv[a], "--temperature") && more) o.temperature = (float)atof(argv[++a]);
        else if (!strcmp(argv[a], "--top-k") && more) o.top_k = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--top-p") && more) o.top_p = (float)atof(argv[++a]);
        else if (!strcmp(argv[a], "--seed") && more) o.seed = strtoull(argv[++a], NULL, 10);
        else if (!strcmp(argv[a], "--threads") && more) threads = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--greedy")) o.sample = 0;
        else return usage();
    }
    if (!model || max_new < 1 || !(o.temperature > 0) || o.top_k < 0 || !(o.top_p >= 0 && o.top_p <= 1) ||
        threads < 0 || !*prompt)
        return usage();
    if (threads) attn_set_num_threads(threads);
    attn_st_reader *st = NULL;
    attn_gpt *m = NULL;
    unsigned char *vocab = NULL;
    size_t V = 0;
    int s = attn_st_open(model, &st);
    const char *tok = s ? NULL : attn_st_metadata(st, "attn.tokenizer"), *vb = s ? NULL : attn_st_metadata(st, "attn.chars.vocab");
    if (s == ATTN_OK && (!tok || strcmp(tok, "chars") || !vb))
        s = attn_set_error(ATTN_E_FORMAT, "%s is not a character language model (attn.tokenizer=%s)", model,
                           tok ? tok : "none");
    if (s == ATTN_OK) s = attn_base64_decode(vb, strlen(vb), &vocab, &V);
    if (s == ATTN_OK) s = attn_gpt_open(st, &m);
    if (s == ATTN_OK && (int64_t)V != m->cfg.vocab)
        s = attn_set_error(ATTN_E_FORMAT, "%s: %zu characters in the vocabulary, the model has %lld", model, V,
                           (long long)m->cfg.vocab);
    attn_st_close(st);
    const int64_t P = (int64_t)strlen(prompt);
    int32_t *ids = s ? NULL : malloc((size_t)P * sizeof *ids);
    int32_t *out = s ? NULL : malloc((size_t)(max_new + 1) * sizeof *out);
    if (s == ATTN_OK && (!ids || !out)) s = attn_set_error(ATTN_E_NOMEM, "out of memory");
    for (int64_t i = 0; s == ATTN_OK && i < P; i++) {
        const unsigned char c = (unsigned char)prompt[i];
        int64_t k = 0;
        while (k < (int64_t)V && vocab[k] != c) k++;
        if (k == (int64_t)V) s = attn_set_error(ATTN_E_ARG, "the prompt's byte 0x%02x (at %lld) is not in the model's vocabulary", c, (long long)i);
        else ids[i] = (int32_t)k;
    }
    const int64_t room = m ? m->cfg.context - P : 0;
    if (s == ATTN_OK && room < 1)
        s = attn_set_error(ATTN_E_ARG, "a prompt of %lld characters fills the model's context of %lld", (long long)P,
                           (long long)m->cfg.context);
    stream ss = {vocab};
    o.max_new = max_new < room ? max_new : room;
    o.on_token = print_token, o.ctx = &ss;
    int64_t len = 0;
    if (s == ATTN_OK) {
        fputs(prompt, stdout);
        s = attn_gpt_generate(m, ids, 1, P, &o, out, max_new + 1, &len, NULL);
        putchar('\n');
    }
    free(ids), free(out), free(vocab);
    attn_gpt_free(m);
    return s ? cli_error("generate", model, s) : 0;
}
