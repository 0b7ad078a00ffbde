/* lm_eval.c — `attn eval lm --model M --data FILE [--batch N] [--threads N]`: the language
 * model's mean next-token loss and perplexity on a text file (attn_lm_stream_loss: consecutive
 * windows of the model's context, every token but the first predicted once). M as `attn
 * generate` takes it: a checkpoint of `attn train lm` (a byte outside its vocabulary is an
 * error naming its line and byte) or a Hugging Face GPT-2 directory. Bits per byte make the
 * two comparable. */
#include "args.h"
#include "cli.h"

#include "lm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_eval_lm(int argc, char **argv)
{
    const char *model = NULL, *data = NULL;
    int threads = 0;
    long batch = 8;
    const arg_opt opts[] = {
        {"model", 'm', ARG_STR, &model, .meta = "M", .help = "an attn train lm checkpoint or a GPT-2 directory (required)"},
        {"data", 'd', ARG_STR, &data, .meta = "FILE", .help = "the text (required)"},
        {"batch", 'b', ARG_LONG, &batch, .lo = 1, .hi = 65536, .help = "windows per forward pass"},
        {"threads", 'j', ARG_INT, &threads, .lo = 0, .hi = 4096, .help = "threads (0: all cores)"},
        {0}};
    const arg_spec spec = {.cmd = "eval lm", .synopsis = "--model M --data FILE [options]", .opts = opts,
                           .about = "The mean loss, perplexity and bits per byte of a language model on a file."};
    ARGS_PARSE_OR_RETURN(&spec, argc, argv, NULL, NULL);
    if (!model || !data) return args_usage_error(&spec, "--model and --data are required");
    if (threads) attn_set_num_threads(threads);
    attn_lm_model lm;
    char *text = NULL;
    size_t bytes = 0;
    int64_t count = 0;
    double loss = 0;
    int s = attn_lm_model_open(model, &lm);
    const char *culprit = s ? model : data; /* what the message is about: past here, the data */
    if (s == ATTN_OK) s = attn_data_read_file(data, &text, &bytes);
    const double t0 = attn_now();
    if (s == ATTN_OK) s = attn_lm_model_eval(&lm, data, text, bytes, batch, threads, &loss, &count);
    if (s && culprit == data && s != ATTN_E_IO && s != ATTN_E_ARG) culprit = model;
    if (s == ATTN_OK)
        printf("result: task=lm loss=%.4f perplexity=%.3f tokens=%lld bytes=%zu bits_per_byte=%.4f seconds=%.1f\n",
               loss, exp(loss), (long long)count, bytes, loss * (double)count / ((double)bytes * log(2.0)),
               attn_now() - t0);
    free(text);
    attn_lm_model_free(&lm);
    return s ? cli_error("eval lm", culprit, s) : 0;
}
