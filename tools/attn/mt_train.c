/* mt_train.c — `attn train translate --arch transformer|gru --data DIR --out DIR [--config F]
 * [--resume]`: the library's run (attn_mt_run, translator.h: a joint SentencePiece BPE learned
 * from the training text, token-based batches of similar lengths, validation BLEU each epoch,
 * the last epochs averaged and the final model named); this file parses, prints and, under
 * `mpirun -np N`, hands it libattn_mpi's communicator (rank 0 alone prints). */
#include "args.h"
#include "cli.h"
#include "config.h"

#include "../text/translator.h"
#include "train_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mt_print {
    train_view view;
    const attn_mt_run_result *res;
    const attn_mt_run_config *c;
    int gru;
} mt_print;

static int on_stage(void *user, attn_run_stage stage)
{
    const mt_print *p = user;
    const attn_mt_run_result *r = p->res;
    const attn_mt_run_config *c = p->c;
    if (stage == ATTN_RUN_TOKENIZER_BEGIN) {
        printf("learning a joint BPE vocabulary of %d pieces from %lld training pairs\n", c->vocab, (long long)r->n_pairs);
        fflush(stdout);
    }
    if (stage != ATTN_RUN_MODEL) return 0;
    if (p->gru)
        printf("attn train translate: GRU encoder-decoder with additive attention, %lld parameters (embedding "
               "%lld, bidirectional encoder %lldx%lld, decoder %lld, attention %lld, output %lld)",
               (long long)r->params, (long long)c->gru.emb_size, (long long)c->gru.enc_layers,
               (long long)c->gru.enc_hidden, (long long)c->gru.dec_hidden, (long long)c->gru.attn_size,
               (long long)c->gru.out_size);
    else
        printf("attn train translate: Transformer %lld parameters%s (d_model %lld, %lld+%lld layers, %lld heads, "
               "FF %lld)", (long long)r->params, r->tied ? ", output projection tied to the embedding" : "",
               (long long)c->model.d_model, (long long)c->model.num_encoder_layers,
               (long long)c->model.num_decoder_layers, (long long)c->model.nhead, (long long)c->model.dim_feedforward);
    printf(", vocabulary %d, %lld training pairs (%lld too long dropped), %lld validation, %d threads\n", (int)r->vocab,
           (long long)r->n_train, (long long)r->dropped_train, (long long)r->n_val, attn_get_num_threads());
    return 0;
}

static int on_event(void *user, const attn_train_event *e) { return train_view_event(&((mt_print *)user)->view, e); }

int cli_train_translate(int argc, char **argv)
{
    const char *config = NULL, *data = NULL, *out = NULL;
    int gru = 0, epochs_cli = 0, threads = 0, resume = 0;
    double minutes_cli = 0;
    const arg_opt opts[] = {
        {"arch", 'a', ARG_CHOICE, &gru, .choices = "transformer|gru", .help = "the model"},
        {"data", 'd', ARG_STR, &data, .meta = "DIR", .help = "train.en/.de and val.en/.de (required)"},
        {"out", 'o', ARG_STR, &out, .meta = "DIR", .help = "run directory (required)"},
        {"config", 'c', ARG_STR, &config, .meta = "FILE", .help = "JSON configuration (keys below)"},
        {"threads", 'j', ARG_INT, &threads, .lo = 0, .hi = 4096, .help = "threads (0: all cores)"},
        {"epochs", 0, ARG_INT, &epochs_cli, .lo = 0, .hi = 100000, .help = "epochs (0: the configuration's)"},
        {"max-minutes", 0, ARG_DOUBLE, &minutes_cli, .lo = 0, .hi = 1e7,
         .help = "time limit of the whole command (0: the configuration's)"},
        {"resume", 0, ARG_FLAG, &resume, .help = "continue the run in --out"},
        {0}};
    const arg_spec spec = {
        .cmd = "train translate", .synopsis = "--data DIR --out DIR [options]", .opts = opts,
        .about = "An encoder-decoder (Transformer, or GRU with additive attention) on a parallel corpus,\n"
                 "with a joint SentencePiece BPE learned from the training text.",
        .epilog = "Configuration keys: vocab dropout max_len batch_tokens lr warmup epochs label_smoothing clip\n"
                  "  weight_decay max_minutes avg_last val_bleu_sentences seed schedule (invsqrt|budget)\n"
                  "  transformer: d_model nhead encoder_layers decoder_layers ff tie_output scale_embedding\n"
                  "  gru: emb enc_hidden enc_layers dec_hidden attn_size out_size\n"
                  "Defaults: transformer warmup 400, schedule budget, scale_embedding 1, 60 minutes;\n"
                  "  gru warmup 200, schedule invsqrt, 90 minutes.\n"};
    ARGS_PARSE_OR_RETURN(&spec, argc, argv, NULL, NULL);
    if (!data || !out) return args_usage_error(&spec, "--data and --out are required");
    attn_mt_run_config c;
    attn_mt_run_config_default(&c, gru);
    if (config) {
        int legacy = 0, st = attn_mt_run_config_load(config, &c, &legacy);
        if (cfg_report("train translate", config, legacy, st)) return 2;
    }
    if (epochs_cli > 0) c.epochs = epochs_cli;
    if (minutes_cli > 0) c.max_minutes = minutes_cli;
    if (gru && c.tie_output) {
        fprintf(stderr, "attn train translate: tie_output is a Transformer option (the GRU's output layer is not "
                        "embedding-sized)\n");
        return 2;
    }
    const int64_t max_len = gru ? c.gru.max_len : c.model.max_len;
    if (c.batch_tokens < max_len)
        return args_usage_error(&spec, "batch_tokens %ld is below max_len %lld", c.batch_tokens, (long long)max_len);
    if (!(c.lr > 0)) return args_usage_error(&spec, "lr must be above 0");
    if (threads) attn_set_num_threads(threads);
    const double t0 = attn_now();
    attn_mpi_ctx *dc = NULL;
    attn_train_comm comm;
    const attn_train_comm *use;
    if (train_mpi_begin("train translate", &argc, &argv, &dc, &comm, &use)) return 1;
    attn_mt_run_result r;
    mt_print p = {.view = {.cmd = "train translate", .out = out, .metric_label = "val BLEU", .epochs = c.epochs,
                           .items = "target tok"},
                  .res = &r, .c = &c, .gru = gru};
    const attn_run_hooks hooks = {.progress = on_event, .stage = on_stage, .user = &p, .comm = use, .threads = threads};
    const int st = attn_mt_run(&c, gru, data, out, resume, &hooks, &r);
    if (st == ATTN_OK) {
        printf("result: task=multi30k arch=%s val_bleu=%.2f epochs=%lld steps=%lld minutes=%.1f "
               "tokens_per_s=%.0f best=%s/best.safetensors final=%s/%s\n",
               gru ? "gru" : "transformer", r.train.final_metric, (long long)r.train.state.epoch,
               (long long)r.train.state.step, (attn_now() - t0) / 60,
               r.train.items / (r.train.seconds > 0 ? r.train.seconds : 1), out, out, r.train.final_name);
    } else {
        cli_error("train translate", data, st);
    }
    return train_mpi_end("train translate", dc, st);
}
