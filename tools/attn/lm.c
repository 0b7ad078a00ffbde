/* lm.c — `attn train lm --data FILE --out DIR [--config F] [--threads N] [--resume]
 * [--tokenizer chars|bpe] [--vocab N]`: a GPT on a text file through the library's run
 * (attn_lm_run, lm_spm.h: the first 90 % of the bytes trains, the last 10 % validates; characters
 * or a SentencePiece BPE learned from the training part; random windows drawn from (seed, step),
 * validation every eval_every steps, metrics.csv, best.safetensors, run.safetensors for
 * --resume). Losses are per token; the result line adds bits per byte, comparable across
 * tokenizers. Under `mpirun -np N` the run is data-parallel through libattn_mpi's communicator
 * (rank 0 alone prints). */
#include "args.h"
#include "cli.h"

#include "config.h"
#include "lm.h"
#include "train_view.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lm_print {
    train_view view;
    const attn_lm_run_result *res;
    const attn_lm_run_config *c;
    int ranks;
} lm_print;

static int on_stage(void *user, attn_run_stage stage)
{
    const lm_print *p = user;
    const attn_lm_run_result *r = p->res;
    const attn_lm_run_config *c = p->c;
    if (stage == ATTN_RUN_TOKENIZER)
        printf("tokenizer: SentencePiece BPE of %d pieces (%d asked) learned from the %lld training bytes in %.1f s\n",
               (int)r->vocab, c->vocab, (long long)r->train_bytes, r->tokenizer_seconds);
    if (stage == ATTN_RUN_MODEL)
        printf("attn train lm: GPT %lld parameters (%lld layers, %lld heads, d %lld, context %lld), vocabulary %lld %s, "
               "%lld training / %lld validation bytes (%lld / %lld tokens, %.2f bytes per validation token), %d threads%s\n",
               (long long)r->params, (long long)c->model.n_layer, (long long)c->model.n_head,
               (long long)c->model.d_model, (long long)c->model.context,
               (long long)r->vocab, c->bpe ? "BPE pieces" : "characters",
               (long long)r->train_bytes, (long long)r->val_bytes, (long long)r->train_tokens, (long long)r->val_tokens,
               (double)r->val_bytes / (double)r->val_tokens, attn_get_num_threads(), p->ranks > 1 ? ", data-parallel" : "");
    return 0;
}

static int on_event(void *user, const attn_train_event *e) { return train_view_event(&((lm_print *)user)->view, e); }

int cli_train_lm(int argc, char **argv)
{
    const char *data = NULL, *out = NULL, *config = NULL;
    int threads = 0, resume = 0, tok_cli = -1, vocab_cli = 0;
    const arg_opt opts[] = {
        ARGS_TRAIN_OPTS(&data, &out, &config, &threads, &resume),
        {"tokenizer", 0, ARG_CHOICE, &tok_cli, .choices = "chars|bpe",
         .help = "characters (the file's bytes), or a SentencePiece BPE learned from the training part"},
        {"vocab", 0, ARG_INT, &vocab_cli, .lo = 0, .hi = 1 << 20,
         .help = "BPE pieces at most, above 260 (0: the configuration's vocab, else 1024)"},
        {0}};
    const arg_spec spec = {.cmd = "train lm", .synopsis = "--data PATH --out DIR [options]", .opts = opts,
                           .about = "A GPT on a text file, character by character (nanoGPT's shakespeare-char convention: the\n"
                                    "file's distinct bytes are the vocabulary) or on a SentencePiece BPE learned from the\n"
                                    "training part; the first 90% of the bytes trains, the last 10% validates.",
                           .epilog = "Configuration keys: n_layer n_head d_model context dropout batch steps lr min_lr_ratio warmup\n"
                                     "  weight_decay clip eval_every eval_batches seed minutes (a wall-time limit) budget (true: the\n"
                                     "  learning rate falls linearly to 0 over the minutes) tokenizer (chars|bpe) vocab eval_all\n"
                                     "  (true: validate on the whole validation part, as attn eval lm does). Defaults: 30 minutes\n"
                                     "  (configs/lm_shakespeare.json: 4 layers, 6 heads, 192 wide, context 128, batch 16, lr 1.5e-3,\n"
                                     "  budget schedule, no dropout; nanoGPT's CPU one is configs/lm_nanogpt_cpu.json). Losses\n"
                                     "  are per token; the result line adds bits per byte (loss x tokens / bytes / ln 2 on the\n"
                                     "  validation part), comparable across tokenizers.\n"
                                     "Under mpirun -np N the batches are split over the ranks (same losses as one process).\n"};
    ARGS_PARSE_OR_RETURN(&spec, argc, argv, NULL, NULL);
    if (!data || !out) return args_usage_error(&spec, "--data and --out are required");
    attn_lm_run_config c;
    attn_lm_run_config_default(&c);
    if (config) {
        int legacy = 0, st = attn_lm_run_config_load(config, &c, &legacy);
        if (cfg_report("train lm", config, legacy, st)) return 2;
    }
    if (tok_cli >= 0) c.bpe = tok_cli;
    if (vocab_cli) c.vocab = vocab_cli;
    if (c.vocab < 261) return args_usage_error(&spec, "a BPE needs more than 260 pieces (256 bytes and 4 specials)");
    if (c.model.d_model % c.model.n_head) {
        fprintf(stderr, "attn train lm: d_model %lld is not a multiple of n_head %lld\n", (long long)c.model.d_model,
                (long long)c.model.n_head);
        return 2;
    }
    if (threads) attn_set_num_threads(threads);
    attn_mpi_ctx *dc = NULL;
    attn_train_comm comm;
    const attn_train_comm *use;
    if (train_mpi_begin("train lm", &argc, &argv, &dc, &comm, &use)) return 1;
    const int ranks = attn_mpi_size(dc);
    attn_lm_run_result r;
    lm_print p = {.view = {.cmd = "train lm", .out = out, .by_step = 1, .items = "tokens"}, .res = &r, .c = &c,
                  .ranks = ranks};
    const attn_run_hooks hooks = {.progress = on_event, .stage = on_stage, .user = &p, .comm = use, .threads = threads};
    const int st = attn_lm_run(&c, data, out, resume, &hooks, &r);
    if (st == ATTN_OK && ranks > 1)
        printf("weights: the same on all %d ranks (checksum %016llx)\n", ranks, (unsigned long long)r.weights_hash);
    const double bytes_per_token = (double)r.val_bytes / (double)r.val_tokens;
    if (st == ATTN_OK)
        printf("result: task=lm tokenizer=%s val_loss=%.4f val_bits_per_byte=%.4f steps=%lld minutes=%.1f "
               "best=%s/best.safetensors\n", c.bpe ? "bpe" : "chars", -r.train.best_metric,
               -r.train.best_metric / (bytes_per_token * log(2.0)), (long long)r.train.state.step, r.train.seconds / 60,
               out);
    else
        cli_error("train lm", r.params ? "training" : data, st);
    return train_mpi_end("train lm", dc, st);
}
