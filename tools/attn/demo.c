/* demo.c — `attn demo`, the default job: teach a small encoder–decoder Transformer to translate
 * English dates in many written forms ("Saturday, 3 March 2021", "march 3rd 21", "3/3/2021", …)
 * into ISO 8601 ("2021-03-03"), on every core, then measure exact match on held-out dates and
 * show where the cross-attention looks.
 *
 * The data, the task and the training run are the library's (attn_dates_run, attn/train.h):
 * everything is a function of the seed, so the same seed and thread count give the same run, bit
 * for bit, and --resume continues a saved run (every
 * --log-every steps: a metrics.csv row, the held-out loss, the run state) with the same losses
 * as an uninterrupted one. Under `mpirun -np N` each batch is shared among the ranks and rank 0
 * alone prints and writes; a run state holds no rank state, so it resumes at any N. */
#include "cli.h"

#include "args.h"
#include "train_view.h"
#include "viz.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct demo_cfg {
    uint64_t seed;
    long steps;
    int batch;
    int threads;
    int eval_n, val_n;
    float lr;
    const char *out_dir;
    int resume;
    long log_every; /* a metrics.csv row, a validation and a save every N steps */
    const char *losses; /* --losses FILE: every step's loss, %.9g (tests) */
    attn_seq2seq_config model;
} demo_cfg;

/* The progress printer, plus every step's loss to --losses FILE (tests compare them). */
typedef struct demo_view {
    train_view v;
    FILE *losses;
    const demo_cfg *c;
    const attn_dates_run_result *res;
} demo_view;

static int demo_event(void *user, const attn_train_event *e)
{
    demo_view *d = user;
    if (e->kind == ATTN_TRAIN_STEP && d->losses) fprintf(d->losses, "%lld %.9g\n", (long long)e->step, e->loss), fflush(d->losses);
    if (e->kind == ATTN_TRAIN_EPOCH) return 0; /* a row every few steps: the progress line says enough */
    return train_view_event(&d->v, e);
}

static int demo_stage(void *user, attn_run_stage stage)
{
    const demo_view *d = user;
    const demo_cfg *c = d->c;
    if (stage != ATTN_RUN_MODEL) return 0;
    printf("attn demo: English dates -> ISO 8601 with a Transformer (%lld parameters, d_model %lld,"
           " %lld+%lld layers, %lld heads), %ld steps of %d, %d threads\n",
           (long long)d->res->params, (long long)c->model.d_model, (long long)c->model.num_encoder_layers,
           (long long)c->model.num_decoder_layers, (long long)c->model.nhead, c->steps, c->batch,
           attn_get_num_threads());
    fflush(stdout);
    return 0;
}

static void show_example(void *user, int64_t i, const attn_dates_example *ex, const char *hyp, int ok)
{
    (void)user;
    if (i < 5) printf("  %-34s -> %-12s %s\n", ex->src, hyp, ok ? "ok" : "WRONG");
}

/* Where the cross-attention looks: over `n` held-out examples with teacher forcing on the gold
 * target, the share of aligned output characters whose strongest source character lies in
 * their gold span, per cross-attention head; prints the best head. Then the viewer and heatmaps
 * of the five shown examples, and the loss curve. */
static int show_attention(const demo_cfg *c, attn_tape *t, const attn_seq2seq *m, const char *mpath)
{
    enum { N_ALIGN = 200, MAXH = 64 };
    const int64_t L = m->cfg.num_decoder_layers, H = m->cfg.nhead;
    double hits[MAXH] = {0}, total[MAXH] = {0};
    for (int i = 0; i < N_ALIGN && L * H <= MAXH; i++) {
        attn_dates_example ex;
        attn_dates_example_of(c->seed, 1, (uint64_t)i, &ex);
        attn_attention_view *r;
        if (attn_seq2seq_ascii_attention_view(t, m, ex.src, ex.tgt, &ex, &r)) return -1;
        attn_attention_head_metrics *hm = malloc((size_t)r->n_maps * sizeof *hm);
        if (!hm || attn_attention_view_metrics(r, hm)) {
            free(hm), attn_attention_view_free(r);
            return -1;
        }
        for (int k = 0; k < r->n_maps; k++)
            if (hm[k].kind == ATTN_ATTENTION_CROSS && hm[k].n_aligned > 0) {
                hits[hm[k].layer * H + hm[k].head] += hm[k].align_acc * hm[k].n_aligned;
                total[hm[k].layer * H + hm[k].head] += hm[k].n_aligned;
            }
        free(hm);
        attn_attention_view_free(r);
    }
    int best = 0;
    for (int k = 1; k < L * H && k < MAXH; k++)
        if (total[k] > 0 && hits[k] / total[k] > hits[best] / (total[best] > 0 ? total[best] : 1)) best = k;
    printf("\ncross-attention alignment over %d held-out dates (argmax on an aligned source character):\n",
           N_ALIGN);
    for (int k = 0; k < L * H && k < MAXH; k++)
        printf("  layer %d head %d: %5.1f%%%s\n", (int)(k / H), (int)(k % H),
               total[k] > 0 ? 100 * hits[k] / total[k] : 0.0, k == best ? "  <- best" : "");
    printf("alignment: best_head=L%dH%d align_acc=%.4f\n", (int)(best / H), (int)(best % H),
           total[best] > 0 ? hits[best] / total[best] : 0.0);
    printf("\nattention viewer and heatmaps of the five examples:\n");
    for (int i = 0; i < 5; i++) {
        attn_dates_example ex;
        attn_dates_example_of(c->seed, 1, (uint64_t)i, &ex);
        attn_attention_view *r;
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/viz/example%d", c->out_dir, i + 1);
        int st = attn_seq2seq_ascii_attention_view(t, m, ex.src, NULL, &ex, &r);
        if (!st) st = viz_render_all(r, dir, ATTN_ROLLOUT_MEAN);
        attn_attention_view_free(r);
        if (st) {
            fprintf(stderr, "attn demo: %s\n", attn_last_error());
            return -1;
        }
        printf("  %s/attention.html  (%s)\n", dir, ex.src);
    }
    char png[4200];
    snprintf(png, sizeof png, "%s/loss.png", c->out_dir);
    if (viz_plot_csv(mpath, png)) {
        fprintf(stderr, "attn demo: %s\n", attn_last_error());
        return -1;
    }
    printf("  %s  (training loss)\n", png);
    return 0;
}

int cli_demo(int argc, char **argv)
{
    demo_cfg c = {.seed = 0, .steps = 900, .batch = 128, .eval_n = 1000, .val_n = 256, .lr = 1e-3f,
                  .out_dir = "out/demo", .log_every = 50};
    c.model = (attn_seq2seq_config){.src_vocab = ATTN_ASCII_VOCAB,
                                    .tgt_vocab = ATTN_ASCII_VOCAB,
                                    .d_model = 128,
                                    .nhead = 1, /* one head per layer: its cross-attention must do the aligning, which the viewer shows best */
                                    .num_encoder_layers = 2,
                                    .num_decoder_layers = 2,
                                    .dim_feedforward = 256,
                                    .max_len = 64,
                                    .dropout = 0.0f,
                                    .activation = ATTN_ACT_RELU,
                                    .norm_first = 1,
                                    .share_embeddings = 1,
                                    .pad_id = ATTN_ASCII_PAD};
    int64_t seed_arg = 0, layers = c.model.num_encoder_layers, dec_layers = 0;
    const arg_opt opts[] = {
        {"steps", 0, ARG_LONG, &c.steps, .lo = 1, .hi = ARGS_INF, .help = "training steps"},
        {"batch", 'b', ARG_INT, &c.batch, .lo = 1, .hi = 1 << 20, .help = "examples per step"},
        {"threads", 'j', ARG_INT, &c.threads, .lo = 0, .hi = 4096, .help = "threads (0: all cores)"},
        {"seed", 0, ARG_I64, &seed_arg, .lo = 0, .hi = 9007199254740992.0, .help = "data, weights and dropout"},
        {"lr", 0, ARG_FLOAT, &c.lr, .lo = 1e-9, .hi = 10, .help = "peak learning rate"},
        {"out", 'o', ARG_STR, &c.out_dir, .meta = "DIR", .help = "run directory"},
        {"resume", 0, ARG_FLAG, &c.resume, .help = "continue the run saved in DIR"},
        {"eval", 0, ARG_INT, &c.eval_n, .lo = 0, .hi = 1 << 24, .help = "held-out dates for exact match"},
        {"val", 0, ARG_INT, &c.val_n, .lo = 0, .hi = 1 << 24, .help = "held-out dates for the validation loss"},
        {"log-every", 0, ARG_LONG, &c.log_every, .lo = 1, .hi = ARGS_INF,
         .help = "steps between metrics rows, validations and saves"},
        {"heads", 0, ARG_I64, &c.model.nhead, .lo = 1, .hi = 64, .help = "attention heads"},
        {"d-model", 0, ARG_I64, &c.model.d_model, .lo = 2, .hi = 4096, .help = "model width"},
        {"layers", 0, ARG_I64, &layers, .lo = 1, .hi = 64, .help = "encoder and decoder layers"},
        {"dec-layers", 0, ARG_I64, &dec_layers, .lo = 0, .hi = 64, .help = "decoder layers (0: as --layers)"},
        {"losses", 0, ARG_STR, &c.losses, .meta = "FILE", .help = "every step's loss (for tests)"},
        {0}};
    const arg_spec spec = {
        .cmd = "demo", .synopsis = "[options]", .opts = opts,
        .about = "Trains a Transformer to translate English dates to ISO 8601 and reports exact match on\n"
                 "held-out dates, with the cross-attention drawn. Every --log-every steps: a row of\n"
                 "DIR/metrics.csv, the loss on --val held-out dates, and DIR/run.safetensors for --resume."};
    ARGS_PARSE_OR_RETURN(&spec, argc, argv, NULL, NULL);
    c.seed = (uint64_t)seed_arg;
    c.model.num_encoder_layers = layers;
    c.model.num_decoder_layers = dec_layers ? dec_layers : layers;
    if (c.model.d_model % c.model.nhead)
        return args_usage_error(&spec, "--d-model %lld is not a multiple of --heads %lld", (long long)c.model.d_model,
                                (long long)c.model.nhead);
    attn_mpi_ctx *dc;
    attn_train_comm comm;
    const attn_train_comm *use;
    if (train_mpi_begin("demo", &argc, &argv, &dc, &comm, &use)) return 1;
    const int rank = attn_mpi_rank(dc), ranks = attn_mpi_size(dc);
    { /* every rank must run the same job; rank 0 names the first that differs */
        char desc[700];
        int n = snprintf(desc, sizeof desc, "seed=%llu steps=%ld batch=%d lr=%.9g eval=%d val=%d resume=%d "
                         "log_every=%ld out=%s", (unsigned long long)c.seed, c.steps, c.batch,
                         (double)c.lr, c.eval_n, c.val_n, c.resume, c.log_every, c.out_dir);
        n = n < 0 ? 0 : n >= (int)sizeof desc ? (int)sizeof desc - 1 : n; /* what was written */
        int e = attn_mpi_check_same(dc, desc, (size_t)n, "the demo configuration");
        if (e == ATTN_OK && c.batch % ranks)
            fprintf(stderr, "attn demo: --batch %d is not a multiple of the %d ranks\n", c.batch, ranks), e = -1;
        if (e) {
            if (rank == 0 && e != -1) fprintf(stderr, "attn demo: %s\n", attn_last_error());
            attn_mpi_finalize(dc);
            return 1;
        }
    }
    if (c.threads) attn_set_num_threads(c.threads);
    attn_seq2seq *m = NULL;
    attn_tape *t = NULL;
    attn_dates_run_result res = {0};
    demo_view view = {.v = {.cmd = "demo", .out = c.out_dir, .by_step = 1, .items = "tokens"}, .c = &c, .res = &res};
    view.losses = rank == 0 && c.losses ? fopen(c.losses, c.resume ? "a" : "w") : NULL;
    const attn_dates_run_config rc = {.model = c.model, .lr = c.lr,
                                      .task = {.batch = c.batch, .steps = c.steps, .period = c.log_every,
                                               .val_examples = c.val_n, .seed = c.seed}};
    const attn_run_hooks hooks = {.progress = demo_event, .stage = demo_stage, .user = &view, .comm = use,
                                  .threads = c.threads};
    int st = attn_dates_run(&rc, c.out_dir, c.resume, &hooks, &res, &m, &t);
    if (st) {
        cli_error("demo", "training", st);
        goto done;
    }
    if (rank > 0) goto done;
    printf("\nfive held-out examples (greedy decoding):\n");
    double exact = 0;
    st = attn_dates_exact_match(m, t, c.seed, c.eval_n, show_example, NULL, &exact);
    if (st) {
        cli_error("demo", "evaluation", st);
        goto done;
    }
    char mpath[4200];
    snprintf(mpath, sizeof mpath, "%s/metrics.csv", c.out_dir);
    if (show_attention(&c, t, m, mpath)) st = ATTN_E_IO;
    printf("\nsaved %s/model.safetensors, %s\n", c.out_dir, mpath);
    printf("translate with: build/attn translate --model %s/model.safetensors \"march 3rd 2021\"\n", c.out_dir);
    printf("result: task=dates exact_match=%.4f steps=%lld seconds=%.1f tokens_per_s=%.0f\n", exact,
           (long long)res.train.state.step, res.train.seconds,
           res.train.items / (res.train.seconds > 0 ? res.train.seconds : 1));
done:
    if (view.losses) fclose(view.losses);
    attn_tape_free(t);
    attn_seq2seq_free(m);
    return train_mpi_end("demo", dc, st);
}
