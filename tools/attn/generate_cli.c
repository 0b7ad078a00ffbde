/* generate_cli.c — `attn generate --model M [--prompt TEXT] [--max-new N] [--temperature T]
 * [--top-k K] [--top-p P] [--seed S] [--threads N] [--greedy]`: continue a prompt with a GPT,
 * streaming each token as it is sampled (--temperature 0 is --greedy) (attn_lm_model_generate: the key/value cache). M is
 * a checkpoint of `attn train lm` (character vocabulary in its metadata) or a Hugging Face
 * GPT-2 directory (byte-level BPE; attn_lm_model_open). The same seed gives the same text. */
#include "args.h"
#include "cli.h"

#include "lm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int print_text(void *user, const char *bytes, size_t n)
{
    *(int *)user = 1; /* the prompt came first: the text ends with a newline */
    if (n) fwrite(bytes, 1, n, stdout);
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
    attn_lm_model lm;
    int s = attn_lm_model_open(model, &lm), printed = 0;
    if (s == ATTN_OK) s = attn_lm_model_generate(&lm, prompt, max_new, &o, print_text, &printed, NULL);
    if (printed) putchar('\n');
    attn_lm_model_free(&lm);
    return s ? cli_error("generate", model, s) : 0;
}
