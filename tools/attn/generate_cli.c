/* generate_cli.c — `attn generate --model M [--prompt TEXT] [--max-new N] [--temperature T]
 * [--top-k K] [--top-p P] [--seed S] [--threads N] [--greedy]`: continue a prompt with a GPT,
 * streaming each token as it is sampled (--temperature 0 is --greedy) (attn_gpt_generate with the key/value cache). M is
 * a checkpoint of `attn train lm` (character vocabulary in its metadata) or a Hugging Face
 * GPT-2 directory (byte-level BPE; see lm_model.c). The same seed gives the same text. */
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

static int print_token(void *ctx, int64_t step, const int32_t *tokens, int64_t N)
{
    (void)step, (void)N;
    const char *b;
    const size_t n = tokens[0] >= 0 ? lm_model_token(ctx, tokens[0], &b) : 0;
    if (n) fwrite(b, 1, n, stdout);
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
    if (o.temperature == 0) o.sample = 0, o.temperature = 1; /* temperature 0: the arg max (greedy) */
    if (!model || max_new < 1 || !(o.temperature > 0) || o.top_k < 0 || !(o.top_p >= 0 && o.top_p <= 1) ||
        threads < 0 || !*prompt)
        return usage();
    if (threads) attn_set_num_threads(threads);
    lm_model lm;
    int32_t *ids = NULL, *out = NULL;
    int64_t P = 0;
    int s = lm_model_open(model, &lm);
    if (s == ATTN_OK) s = lm_model_encode(&lm, "the prompt", (const unsigned char *)prompt, strlen(prompt), &ids, &P);
    if (s == ATTN_OK && P < 1) s = attn_set_error(ATTN_E_ARG, "the prompt encodes to no token");
    const attn_gpt *m = lm.m;
    out = s ? NULL : malloc((size_t)(max_new + 1) * sizeof *out);
    if (s == ATTN_OK && !out) s = attn_set_error(ATTN_E_NOMEM, "out of memory");
    const int64_t room = m ? m->cfg.context - P : 0;
    if (s == ATTN_OK && room < 1)
        s = attn_set_error(ATTN_E_ARG, "a prompt of %lld tokens fills the model's context of %lld", (long long)P,
                           (long long)m->cfg.context);
    o.max_new = max_new < room ? max_new : room;
    o.on_token = print_token, o.ctx = &lm;
    int64_t len = 0;
    if (s == ATTN_OK) {
        fputs(prompt, stdout);
        s = attn_gpt_generate(m, ids, 1, P, &o, out, max_new + 1, &len, NULL);
        putchar('\n');
    }
    free(ids), free(out);
    lm_model_free(&lm);
    return s ? cli_error("generate", model, s) : 0;
}
