/* lm_eval.c — `attn eval lm --model M --data FILE [--batch N] [--threads N]`: the language
 * model's mean next-token loss and perplexity on a text file (attn_lm_stream_loss: consecutive
 * windows of the model's context, every token but the first predicted once). M as `attn
 * generate` takes it: a checkpoint of `attn train lm` (a byte outside its vocabulary is an
 * error naming its line and byte) or a Hugging Face GPT-2 directory. Bits per byte make the
 * two comparable. */
#include "cli.h"

#include "bench_util.h"
#include "lm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: attn eval lm --model M --data FILE [--batch N] [--threads N]\n");
    return 2;
}

int cli_eval_lm(int argc, char **argv)
{
    const char *model = NULL, *data = NULL;
    int threads = 0;
    long batch = 8;
    for (int a = 1; a < argc; a++) {
        const int more = a + 1 < argc;
        if (!strcmp(argv[a], "--model") && more) model = argv[++a];
        else if (!strcmp(argv[a], "--data") && more) data = argv[++a];
        else if (!strcmp(argv[a], "--batch") && more) batch = atol(argv[++a]);
        else if (!strcmp(argv[a], "--threads") && more) threads = atoi(argv[++a]);
        else return usage();
    }
    if (!model || !data || batch < 1 || batch > 65536 || threads < 0) return usage();
    if (threads) attn_set_num_threads(threads);
    lm_model lm;
    char *text = NULL;
    size_t bytes = 0;
    int32_t *ids = NULL;
    int64_t n = 0, count = 0;
    double loss = 0;
    int s = lm_model_open(model, &lm);
    if (s == ATTN_OK) s = attn_data_read_file(data, &text, &bytes);
    if (s == ATTN_OK) s = lm_model_encode(&lm, data, (const unsigned char *)text, bytes, &ids, &n);
    if (s == ATTN_OK && n < 2) s = attn_set_error(ATTN_E_ARG, "%s: %lld tokens, at least 2 needed", data, (long long)n);
    const double t0 = bench_now();
    attn_tape *t = NULL;
    attn_tape_config tc = {.num_threads = threads};
    if (s == ATTN_OK) s = attn_tape_create(&tc, &t);
    if (s == ATTN_OK) s = attn_lm_stream_loss(lm.m, t, ids, n, batch, &loss, &count);
    attn_tape_free(t);
    if (s == ATTN_OK)
        printf("result: task=lm loss=%.4f perplexity=%.3f tokens=%lld bytes=%zu bits_per_byte=%.4f seconds=%.1f\n",
               loss, exp(loss), (long long)count, bytes, loss * (double)count / ((double)bytes * log(2.0)),
               bench_now() - t0);
    free(text), free(ids);
    lm_model_free(&lm);
    return s ? cli_error("eval lm", s == ATTN_E_IO || s == ATTN_E_ARG ? data : model, s) : 0;
}
