/* generate_cli.c — `attn generate --model M [--prompt TEXT] [--max-new N] [--temperature T]
 * [--top-k K] [--top-p P] [--seed S] [--threads N] [--greedy]`: continue a prompt with a GPT,
 * streaming each token as it is sampled (--temperature 0 is --greedy) (attn_gpt_generate with the key/value cache). M is
 * a checkpoint of `attn train lm` (character vocabulary in its metadata) or a Hugging Face
 * GPT-2 directory (byte-level BPE; see lm_model.c). The same seed gives the same text. */
#include "args.h"
#include "cli.h"

#include "lm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    int threads = 0, greedy = 0;
    int64_t seed = 1;
    double temperature = 0.8, top_p = 0;
    const arg_opt opts[] = {
        {"model", 'm', ARG_STR, &model, .meta = "M", .help = "an attn train lm checkpoint or a GPT-2 directory (required)"},
        {"prompt", 'p', ARG_STR, &prompt, .meta = "TEXT", .help = "the text to continue"},
        {"max-new", 'n', ARG_LONG, &max_new, .lo = 1, .hi = 1 << 24, .help = "tokens to generate at most"},
        {"temperature", 't', ARG_DOUBLE, &temperature, .lo = 0, .hi = 100, .help = "0: the arg max (greedy)"},
        {"top-k", 'k', ARG_INT, &o.top_k, .lo = 0, .hi = 1 << 24, .help = "sample among the k most likely (0: all)"},
        {"top-p", 0, ARG_DOUBLE, &top_p, .lo = 0, .hi = 1, .help = "nucleus sampling mass (0: 1)"},
        {"seed", 's', ARG_I64, &seed, .lo = 0, .hi = 9007199254740992.0, .help = "the same seed gives the same text"},
        {"greedy", 'g', ARG_FLAG, &greedy, .help = "the most likely token each time"},
        {"threads", 'j', ARG_INT, &threads, .lo = 0, .hi = 4096, .help = "threads (0: all cores)"},
        {0}};
    const arg_spec spec = {.cmd = "generate", .synopsis = "--model M [options]", .opts = opts,
                           .about = "Continues a prompt with a GPT, streaming each token as it is sampled (key/value\n"
                                    "cache)."};
    ARGS_PARSE_OR_RETURN(&spec, argc, argv, NULL, NULL);
    if (!model) return args_usage_error(&spec, "--model is required");
    if (!*prompt) return args_usage_error(&spec, "--prompt is empty");
    o.temperature = (float)temperature, o.top_p = (float)top_p, o.seed = (uint64_t)seed;
    if (greedy || temperature == 0) o.sample = 0, o.temperature = 1; /* temperature 0: the arg max (greedy) */
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
