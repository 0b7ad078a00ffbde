/* image_cli.c — `attn train image` and `attn eval image`: a Vision Transformer on an IDX image
 * set (Fashion-MNIST by default). The training, its run state and the evaluation are the
 * library's (attn/image.h); this file parses options, wires libattn_mpi in as the communicator
 * and prints. */
#include "args.h"
#include "cli.h"

#include "config.h"
#include "image_cli.h"
#include "train_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


typedef struct train_opts {
    attn_image_train_config c;
    int64_t train_images;
} train_opts;

int cli_train_image(int argc, char **argv)
{
    const char *data = NULL, *out = NULL, *config = NULL;
    int threads = 0, resume = 0;
    const arg_opt opts[] = {
        {"data", 'd', ARG_STR, &data, .meta = "DIR", .help = "the IDX files (default " ATTN_FASHION_MNIST_DIR ")"},
        {"out", 'o', ARG_STR, &out, .meta = "DIR", .help = "run directory (required)"},
        {"config", 'c', ARG_STR, &config, .meta = "FILE", .help = "JSON configuration (keys below)"},
        {"threads", 'j', ARG_INT, &threads, .lo = 0, .hi = 4096, .help = "threads (0: all cores)"},
        {"resume", 0, ARG_FLAG, &resume, .help = "continue the run in --out"},
        {0}};
    const arg_spec spec = {
        .cmd = "train image", .synopsis = "--out DIR [options]", .opts = opts,
        .about = "A Vision Transformer on Fashion-MNIST: DIR holds train-images-idx3-ubyte[.gz] and\n"
                 "train-labels-idx1-ubyte[.gz]; the last val_size training images validate.",
        .epilog = "Configuration keys: patch d_model heads layers ff dropout pool (cls|mean) pos (learned|sincos)\n"
                  "  batch epochs val_size train_images (0: all) warmup eval_every lr min_lr_ratio\n"
                  "  weight_decay clip label_smoothing pad hflip seed average_last (N > 1: average the last\n"
                  "  N epochs; the better of it and the best epoch on validation is final) minutes (a wall-time\n"
                  "  budget: the learning rate falls linearly to 0 over it instead of the cosine; epochs caps it)\n"
                  "Under mpirun each rank trains on its share of every batch (batch divisible by the ranks).\n"};
    ARGS_PARSE_OR_RETURN(&spec, argc, argv, NULL, NULL);
    if (!out) return args_usage_error(&spec, "--out is required");
    setvbuf(stdout, NULL, _IOLBF, 0);
    train_opts o = {0};
    attn_image_train_defaults(&o.c);
    if (config) {
        int legacy = 0, st = attn_image_train_config_load(config, &o.c, &o.train_images, &legacy);
        if (cfg_report("train image", config, legacy, st)) return 2;
    }
    if (threads > 0) attn_set_num_threads(threads);
    attn_mpi_ctx *dc = NULL;
    attn_train_comm comm;
    const attn_train_comm *use;
    if (train_mpi_begin("train image", &argc, &argv, &dc, &comm, &use)) return 1;
    const int ranks = attn_mpi_size(dc);
    attn_image_set *s = NULL;
    int st = attn_fashion_mnist_load(data, "train", &s);
    if (st) {
        cli_error("train image", data ? data : ATTN_FASHION_MNIST_DIR, st);
        return train_mpi_end("train image", dc, st);
    }
    attn_image_set view = *s;
    if (o.train_images && o.train_images < view.n) view.n = o.train_images;
    const attn_vit_config *m = &o.c.model;
    printf("attn train image: ViT patch %lld (%lld patches), d %lld, %lld layers, %lld heads, ff %lld, %s "
           "pooling, %s positions; %lld training / %lld validation images, batch %lld, %lld epochs, "
           "%d thread(s)%s\n",
           (long long)m->patch_size, (long long)((m->image_size / m->patch_size) * (m->image_size / m->patch_size)),
           (long long)m->d_model, (long long)m->num_layers, (long long)m->nhead, (long long)m->dim_feedforward,
           m->pooling == ATTN_POOL_FIRST ? "class-token" : "mean", m->pos == ATTN_VIT_POS_SINCOS ? "sinusoidal" : "learned",
           (long long)(view.n - o.c.val_size), (long long)o.c.val_size, (long long)o.c.batch, (long long)o.c.epochs,
           attn_get_num_threads(), ranks > 1 ? " per rank" : "");
    if (ranks > 1) printf("data-parallel over %d ranks\n", ranks);
    train_view tv = {.cmd = "train image", .out = out, .metric_label = "val acc", .by_step = 0,
                     .epochs = o.c.epochs, .items = "images"};
    if (o.c.eval_every) { /* the trainer's periods are then eval_every steps */
        const int64_t steps = (view.n - o.c.val_size) / o.c.batch * o.c.epochs;
        tv.epochs = (steps + o.c.eval_every - 1) / o.c.eval_every;
    }
    attn_train_result res;
    const double c0 = attn_cpu_seconds();
    st = attn_image_train_run(&o.c, &view, out, resume, use, train_view_event, &tv, &res);
    if (st) cli_error("train image", out, st);
    else
        printf("result: task=image val_acc=%.4f steps=%lld minutes=%.1f cpu_minutes=%.1f images_per_s=%.0f "
               "final=%s/%s\n",
               res.best_metric, (long long)res.state.step, res.seconds / 60, (attn_cpu_seconds() - c0) / 60,
               res.seconds > 0 ? res.items / res.seconds : 0, out, res.final_name ? res.final_name : "");
    attn_image_set_free(s);
    return train_mpi_end("train image", dc, st);
}


int cli_eval_image(int argc, char **argv)
{
    const char *model = NULL, *data = NULL;
    int threads = 0, split_i = 0;
    const arg_opt opts[] = {
        {"model", 'm', ARG_STR, &model, .meta = "M", .help = "a trained ViT (a file or a run directory; required)"},
        {"data", 'd', ARG_STR, &data, .meta = "DIR", .help = "the IDX files (default " ATTN_FASHION_MNIST_DIR ")"},
        {"split", 0, ARG_CHOICE, &split_i, .choices = "test|train", .help = "t10k (test) or train files"},
        {"threads", 'j', ARG_INT, &threads, .lo = 0, .hi = 4096, .help = "threads (0: all cores)"},
        {0}};
    const arg_spec spec = {.cmd = "eval image", .synopsis = "--model M [options]", .opts = opts,
                           .about = "Accuracy, per-class precision and recall, the confusion matrix (rows: true class,\n"
                                    "columns: predicted) and a result: line."};
    ARGS_PARSE_OR_RETURN(&spec, argc, argv, NULL, NULL);
    if (!model) return args_usage_error(&spec, "--model is required");
    const char *split = split_i ? "train" : "test";
    if (threads > 0) attn_set_num_threads(threads);
    attn_image_model *m = NULL;
    attn_image_set *s = NULL;
    attn_image_eval e = {0};
    int st = attn_image_model_load(model, &m);
    if (st) return cli_error("eval image", model, st);
    st = attn_fashion_mnist_load(data, split, &s);
    if (st) {
        attn_image_model_free(m);
        return cli_error("eval image", data ? data : ATTN_FASHION_MNIST_DIR, st);
    }
    const double t0 = attn_now();
    st = attn_image_evaluate(m, s, &e);
    const double secs = attn_now() - t0;
    if (st) {
        cli_error("eval image", model, st);
    } else {
        const int64_t C = e.classes;
        printf("%lld images (%s): accuracy %.4f (%lld right), %.1f s\n\n", (long long)e.n, split, e.accuracy,
               (long long)e.correct, secs);
        printf("%-14s %9s %9s %7s\n", "class", "precision", "recall", "images");
        for (int64_t k = 0; k < C; k++) {
            int64_t row = 0;
            for (int64_t j = 0; j < C; j++) row += e.confusion[k * C + j];
            printf("%-14s %9.4f %9.4f %7lld\n", m->labels[k], e.precision[k], e.recall[k], (long long)row);
        }
        printf("\nconfusion matrix (rows: true class, columns: predicted)\n%14s", "");
        for (int64_t j = 0; j < C; j++) printf(" %5lld", (long long)j);
        printf("\n");
        for (int64_t k = 0; k < C; k++) {
            printf("%2lld %-11.11s", (long long)k, m->labels[k]);
            for (int64_t j = 0; j < C; j++) printf(" %5lld", (long long)e.confusion[k * C + j]);
            printf("\n");
        }
        printf("result: task=image split=%s n=%lld accuracy=%.4f macro_precision=%.4f macro_recall=%.4f "
               "seconds=%.1f\n", split, (long long)e.n, e.accuracy, e.macro_precision, e.macro_recall, secs);
    }
    attn_image_eval_free(&e);
    attn_image_set_free(s);
    attn_image_model_free(m);
    return st ? 1 : 0;
}
