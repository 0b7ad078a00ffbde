/* classify_train.c — `attn train classify --data PATH --out DIR [--config F] [--threads N]
 * [--resume] [--export-tokens FILE]`: the library's run (attn_cls_run, text_classifier.h: a
 * SentencePiece tokenizer learned from the training text, a validation split carved from train
 * by movie, attn_cls_task on attn_train_run); this file parses, prints and, under
 * `mpirun -np N`, hands it libattn_mpi's communicator (rank 0 alone prints). */
#include "classify.h"
#include "args.h"
#include "cli.h"
#include "train_view.h"

#include <stdlib.h>
#include <string.h>

typedef struct cls_print {
    train_view view;
    const attn_cls_run_result *res;
    const attn_cls_run_config *c;
    const char *data, *export_path, *config;
    int rank, ranks;
} cls_print;

static int on_stage(void *user, attn_run_stage stage)
{
    const cls_print *p = user;
    const attn_cls_run_result *r = p->res;
    if (stage == ATTN_RUN_TOKENIZER)
        printf("tokenizer: SentencePiece BPE, %d pieces, learned in %.1f s\n", p->c->vocab_size, r->tokenizer_seconds);
    if (stage == ATTN_RUN_DATA) {
        printf("data: %lld training reviews (%lld tokens), %lld validation (split by movie), encoded in %.1f s\n",
               (long long)r->n_train, (long long)r->train_tokens, (long long)r->n_val, r->encode_seconds);
        if (p->export_path && p->rank == 0) {
            attn_cls_run_config c = *p->c;
            int32_t vocab = 0;
            ATTN_TRY_CLI(attn_spm_vocab_size(r->sp, &vocab));
            c.model.vocab = vocab;
            ATTN_TRY_CLI(attn_cls_export_tokens(p->export_path, r->sp, r->train_set, r->val_set, p->data, &c, p->config));
            printf("exported the token ids to %s\n", p->export_path);
        }
    }
    if (stage == ATTN_RUN_MODEL)
        printf("model: %lld parameters; %lld steps of %lld reviews (%lld per epoch), %d threads%s\n",
               (long long)r->params, (long long)r->steps, (long long)p->c->batch_size, (long long)r->steps_per_epoch,
               attn_get_num_threads(), p->ranks > 1 ? ", data-parallel" : "");
    return 0;
}

static int on_event(void *user, const attn_train_event *e) { return train_view_event(&((cls_print *)user)->view, e); }

int cli_train_classify(int argc, char **argv)
{
    const char *data = NULL, *out = NULL, *config = NULL, *export_path = NULL;
    int threads = 0, resume = 0;
    const arg_opt opts[] = {
        ARGS_TRAIN_OPTS(&data, &out, &config, &threads, &resume),
        {"export-tokens", 0, ARG_STR, &export_path, .meta = "FILE", .help = "write the tokenized splits (for bench/torch_imdb.py)"},
        {0}};
    const arg_spec spec = {.cmd = "train classify", .synopsis = "--data PATH --out DIR [options]", .opts = opts,
                           .about = "A Transformer-encoder classifier with a SentencePiece tokenizer learned from the training\n"
                                    "text; the validation split is carved from the training set by movie.",
                           .epilog = "PATH: a directory with train.tsv.gz (+ train.ids) or an aclImdb/ folder, or a .tsv(.gz).\n"
                                     "Configuration: see configs/imdb.json.\n"};
    ARGS_PARSE_OR_RETURN(&spec, argc, argv, NULL, NULL);
    if (!data || !out) return args_usage_error(&spec, "--data and --out are required");
    setvbuf(stdout, NULL, _IOLBF, 0); /* a log file follows the run line by line */
    attn_cls_run_config c;
    attn_cls_run_config_default(&c);
    if (config && cls_config_load(config, &c)) return 1;
    if (threads > 0) attn_set_num_threads(threads);
    attn_mpi_ctx *dc = NULL;
    attn_train_comm comm;
    const attn_train_comm *use;
    if (train_mpi_begin("train classify", &argc, &argv, &dc, &comm, &use)) return 1;
    const double t_start = attn_now();
    attn_cls_run_result r;
    cls_print p = {.view = {.cmd = "train classify", .out = out, .metric_label = "val acc", .metric_scale = 100,
                            .epochs = c.epochs, .items = "reviews"},
                   .res = &r, .c = &c, .data = data, .export_path = export_path, .config = config, .rank = attn_mpi_rank(dc),
                   .ranks = attn_mpi_size(dc)};
    const attn_run_hooks hooks = {.progress = on_event, .stage = on_stage, .user = &p, .comm = use, .threads = threads};
    const int st = attn_cls_run(&c, data, out, resume, &hooks, &r);
    if (st == ATTN_OK) {
        printf("done: %lld steps, best validation accuracy %.4f, %.1f min\n", (long long)r.train.state.step,
               r.train.best_metric, (attn_now() - t_start) / 60);
        printf("result: task=imdb impl=attn val_accuracy=%.4f steps=%lld reviews_per_s=%.1f total_minutes=%.1f "
               "model=%s/%s\n", r.train.final_metric, (long long)r.train.state.step,
               r.train.seconds > 0 ? r.train.items / r.train.seconds : 0, (attn_now() - t_start) / 60, out,
               r.train.final_name);
    } else {
        fprintf(stderr, "attn train classify: %s\n", attn_last_error());
    }
    return train_mpi_end("train classify", dc, st);
}
