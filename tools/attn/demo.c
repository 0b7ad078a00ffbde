/* demo.c — `attn demo`, the default job: teach a small encoder–decoder Transformer to translate
 * English dates in many written forms ("Saturday, 3 March 2021", "march 3rd 21", "3/3/2021", …)
 * into ISO 8601 ("2021-03-03"), on every core, then measure exact match on held-out dates.
 *
 * Everything is a function of the seed: the data (counter-based generator), the initial
 * weights, dropout. The same seed and thread count give the same run, bit for bit, and
 * --resume continues a saved run with the same losses as an uninterrupted one.
 *
 * Under `mpirun -np N` each global batch is split into N equal shards (every example has the
 * same number of target tokens, so the mean of the shard losses is the batch loss), gradients
 * are averaged in a fixed order (attn_mpi_average_grads) before clipping, and rank 0 alone prints
 * and writes metrics and checkpoints. A checkpoint holds no rank state: it resumes at any N. */
#include "cli.h"

#include "bench_util.h"
#include "../text/chars.h"
#include "dates.h"
#include "attn/mpi.h"
#include "progress.h"
#include "cli.h"
#include "viz.h"
#include "viz_model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the character vocabulary ------------------------------------------------------------- */

enum { PAD = CH_PAD, BOS = CH_BOS, EOS = CH_EOS, VOCAB = CH_VOCAB };
#define char_id chars_id
#define id_char chars_char

/* The held-out set is every date whose day number falls in one residue class: training skips
 * them, so no held-out date (in any written form) is ever seen in training. */
static int heldout_date(const char *iso)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *c = iso; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
    return h % 16 == 0;
}

static void example(uint64_t seed, int heldout, uint64_t index, dates_example *ex)
{
    /* stream offset 2·index (+1 held-out) and a sub-counter until the split matches */
    for (uint64_t k = 0;; k++) {
        dates_generate(seed, (index * 2 + (uint64_t)heldout) * 64 + k, ex);
        if (heldout_date(ex->tgt) == heldout) return;
    }
}

typedef struct demo_cfg {
    uint64_t seed;
    long steps;
    int batch;
    int threads;
    int eval_n;
    float lr;
    const char *out_dir;
    int resume;
    long save_every;
    long log_every; /* a metrics.csv row (mean loss of the window) every N steps */
    int quiet;
    const char *losses; /* --losses FILE: every step's loss, %.9g (tests) */
    attn_seq2seq_config model;
} demo_cfg;

/* A batch: src [N, S] padded, decoder input [N, T] (BOS + target), labels [N, T] (target + EOS). */
typedef struct batch {
    int32_t *src, *tgt_in, *tgt_out;
    int64_t N, S, T;
} batch;

static void make_batch(const demo_cfg *c, int heldout, uint64_t first, int64_t N, batch *b,
                       dates_example *exs)
{
    int64_t S = 1;
    for (int64_t i = 0; i < N; i++) {
        example(c->seed, heldout, first + (uint64_t)i, &exs[i]);
        int64_t len = (int64_t)strlen(exs[i].src);
        if (len > S) S = len;
    }
    b->N = N, b->S = S, b->T = DATES_TGT_LEN + 1;
    for (int64_t i = 0; i < N; i++) {
        for (int64_t j = 0; j < S; j++)
            b->src[i * S + j] = exs[i].src[j] ? char_id((unsigned char)exs[i].src[j]) : PAD;
        int64_t len = (int64_t)strlen(exs[i].src);
        for (int64_t j = len; j < S; j++) b->src[i * S + j] = PAD;
        b->tgt_in[i * b->T] = BOS;
        for (int64_t j = 0; j < DATES_TGT_LEN; j++) {
            int32_t y = char_id((unsigned char)exs[i].tgt[j]);
            b->tgt_in[i * b->T + j + 1] = y;
            b->tgt_out[i * b->T + j] = y;
        }
        b->tgt_out[i * b->T + DATES_TGT_LEN] = EOS;
    }
}

static int usage(void)
{
    fprintf(stderr,
            "usage: attn demo [--steps N] [--batch N] [--threads N] [--seed N] [--lr X]\n"
            "                 [--out DIR] [--resume] [--save-every N] [--eval N] [--log-every N]\n"
            "                 [--heads N] [--d-model N] [--layers N] [--dec-layers N] [--losses FILE]\n"
            "Trains a Transformer to translate English dates to ISO 8601 and reports exact match\n"
            "on held-out dates. Writes DIR/model.safetensors and DIR/metrics.csv (DIR: out/demo).\n");
    return 2;
}

/* Exact match of greedy translations of the first n held-out examples; prints `show` of them. */
static int evaluate(const demo_cfg *c, attn_tape *t, const attn_seq2seq *m, int n, int show,
                    double *exact)
{
    const int64_t chunk = 250, L = DATES_TGT_LEN + 2;
    batch b = {0};
    dates_example *exs = malloc((size_t)chunk * sizeof *exs);
    b.src = malloc((size_t)(chunk * DATES_SRC_MAX) * sizeof *b.src);
    b.tgt_in = malloc((size_t)(chunk * (DATES_TGT_LEN + 1)) * sizeof *b.tgt_in);
    b.tgt_out = malloc((size_t)(chunk * (DATES_TGT_LEN + 1)) * sizeof *b.tgt_out);
    int32_t *out = malloc((size_t)(chunk * (L + 1)) * sizeof *out); /* [chunk, L + 1] */
    int64_t *len = malloc((size_t)chunk * sizeof *len);
    int st = (!exs || !b.src || !b.tgt_in || !b.tgt_out || !out || !len) ? ATTN_E_NOMEM : ATTN_OK;
    long right = 0;
    attn_generate_options o = {.bos_id = BOS, .eos_id = EOS, .max_new = L};
    for (int64_t first = 0; st == ATTN_OK && first < n; first += chunk) {
        int64_t N = n - first < chunk ? n - first : chunk;
        make_batch(c, 1, (uint64_t)first, N, &b, exs);
        st = attn_seq2seq_generate(m, t, b.src, N, b.S, &o, out, L + 1, len, NULL);
        for (int64_t i = 0; st == ATTN_OK && i < N; i++) {
            char hyp[64];
            int64_t k = 0;
            for (; k < len[i] && k < 63; k++) hyp[k] = id_char(out[i * (L + 1) + k]);
            hyp[k] = '\0';
            int ok = !strcmp(hyp, exs[i].tgt);
            right += ok;
            if (first + i < show)
                printf("  %-34s -> %-12s %s\n", exs[i].src, hyp, ok ? "ok" : "WRONG");
        }
    }
    *exact = n > 0 ? (double)right / n : 0;
    free(exs), free(b.src), free(b.tgt_in), free(b.tgt_out), free(out), free(len);
    return st;
}

#define DEMO_WARMUP 100 /* warm-up steps of the learning-rate schedule */

/* The running loss window of metrics.csv (sum and count of the steps since the last row): saved
 * with a checkpoint so a resumed run writes the same rows as an uninterrupted one. */
typedef struct loss_window {
    double sum;
    long n;
} loss_window;

/* The run state (run.safetensors: model, optimiser, step, dropout stream, and the demo's own
 * seed, loss window and schedule length) after the model itself (model.safetensors, stamped
 * with the step): a kill in between leaves the previous state, whose steps are redone. */
static int save_run(const demo_cfg *c, attn_seq2seq *m, attn_optim *opt, attn_tape *t, long step,
                    const loss_window *lw)
{
    char path[600], buf[2048], seed[32], lsum[40], ln[32], total[32];
    const char *kv[64];
    int n = attn_seq2seq_config_to_meta(&m->cfg, buf, sizeof buf, kv, 56);
    if (n < 0) return n;
    kv[n++] = "attn.arch", kv[n++] = "transformer-seq2seq";
    kv[n++] = "attn.task", kv[n++] = "dates";
    kv[n++] = "attn.tokenizer", kv[n++] = "chars-ascii";
    kv[n] = NULL;
    snprintf(path, sizeof path, "%s/model.safetensors", c->out_dir);
    ATTN_TRY_CLI(attn_run_export(path, m->P, step, kv));
    attn_run_state rs = {.step = step, .best_metric = -INFINITY};
    attn_tape_get_rng(t, &rs.rng_seed, &rs.rng_offset);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->seed);
    snprintf(lsum, sizeof lsum, "%.17g", lw->sum);
    snprintf(ln, sizeof ln, "%ld", lw->n);
    snprintf(total, sizeof total, "%ld", c->steps);
    const char *okv[] = {"demo.seed", seed, "demo.loss_sum", lsum, "demo.loss_n", ln, "demo.total_steps", total, NULL};
    snprintf(path, sizeof path, "%s/run.safetensors", c->out_dir);
    return attn_run_save(path, m->P, opt, &rs, okv);
}

/* A whole number of the run state's metadata, strictly parsed. */
static int meta_long(const attn_st_reader *st, const char *path, const char *key, long *out)
{
    const char *v = attn_st_metadata(st, key);
    char *end = NULL;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || !*v || *end || errno || x < 0) {
        fprintf(stderr, "attn demo: %s: metadata %s is missing or not a count: not a demo run\n", path, key);
        return ATTN_E_FORMAT;
    }
    *out = x;
    return ATTN_OK;
}

/* Restore model, optimiser, dropout stream, step and loss window from out_dir/run.safetensors;
 * *hash: the loaded state's fingerprint (attn_run_state_hash and the loss window), which the
 * ranks of a job compare. */
static int load_run(const demo_cfg *c, attn_seq2seq *m, attn_optim *opt, attn_tape *t, long *step,
                    loss_window *lw, uint64_t *hash)
{
    char path[600];
    snprintf(path, sizeof path, "%s/run.safetensors", c->out_dir);
    attn_run_state rs;
    attn_st_reader *st;
    ATTN_TRY_CLI(attn_run_load(path, m->P, opt, 0, &rs, &st));
    long seed = 0, total = 0, ln = 0;
    int s = meta_long(st, path, "demo.seed", &seed);
    if (s == ATTN_OK) s = meta_long(st, path, "demo.total_steps", &total);
    if (s == ATTN_OK) s = meta_long(st, path, "demo.loss_n", &ln);
    const char *ls = attn_st_metadata(st, "demo.loss_sum");
    char *end = NULL;
    const double lsum = ls ? strtod(ls, &end) : 0;
    if (s == ATTN_OK && (!ls || end == ls || *end)) {
        fprintf(stderr, "attn demo: %s: metadata demo.loss_sum is not a number\n", path);
        s = ATTN_E_FORMAT;
    }
    if (s == ATTN_OK && (unsigned long long)seed != c->seed) {
        fprintf(stderr, "attn demo: %s was trained with --seed %ld, not %llu\n", path, seed,
                (unsigned long long)c->seed);
        s = ATTN_E_ARG;
    }
    if (s == ATTN_OK) {
        *step = (long)rs.step;
        attn_tape_set_rng(t, rs.rng_seed, rs.rng_offset);
        lw->sum = lsum, lw->n = ln;
        *hash = attn_hash64(attn_hash64(attn_run_state_hash(m->P, opt, &rs), &lsum, sizeof lsum), &ln, sizeof ln);
        /* the cosine schedule spans --steps: past the warm-up, the steps already taken followed
         * the saved run's span, so the result will differ from one uninterrupted run */
        if (total != c->steps && *step > DEMO_WARMUP)
            fprintf(stderr, "attn demo: note: steps 1..%ld followed a learning-rate schedule for"
                            " --steps %ld, the rest follows one for --steps %ld\n",
                    *step, total, c->steps);
    }
    attn_st_close(st);
    return s;
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
        dates_example ex;
        example(c->seed, 1, (uint64_t)i, &ex);
        viz_record *r;
        if (viz_seq2seq_record(t, m, ex.src, ex.tgt, &ex, &r)) return -1;
        viz_head_metrics *hm = malloc((size_t)r->n_maps * sizeof *hm);
        if (!hm || viz_metrics_compute(r, hm)) {
            free(hm), viz_record_free(r);
            return -1;
        }
        for (int k = 0; k < r->n_maps; k++)
            if (hm[k].kind == VIZ_CROSS && hm[k].n_aligned > 0) {
                hits[hm[k].layer * H + hm[k].head] += hm[k].align_acc * hm[k].n_aligned;
                total[hm[k].layer * H + hm[k].head] += hm[k].n_aligned;
            }
        free(hm);
        viz_record_free(r);
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
        dates_example ex;
        example(c->seed, 1, (uint64_t)i, &ex);
        viz_record *r;
        char dir[700];
        snprintf(dir, sizeof dir, "%s/viz/example%d", c->out_dir, i + 1);
        if (viz_seq2seq_record(t, m, ex.src, NULL, &ex, &r)) return -1;
        int st = viz_render_all(r, dir, VIZ_POOL_MEAN);
        viz_record_free(r);
        if (st) {
            fprintf(stderr, "attn demo: %s\n", viz_last_error());
            return -1;
        }
        printf("  %s/attention.html  (%s)\n", dir, ex.src);
    }
    char png[700];
    snprintf(png, sizeof png, "%s/loss.png", c->out_dir);
    if (viz_plot_csv(mpath, png)) {
        fprintf(stderr, "attn demo: %s\n", viz_last_error());
        return -1;
    }
    printf("  %s  (training loss)\n", png);
    return 0;
}

int cli_demo(int argc, char **argv)
{
    demo_cfg c = {.seed = 0,
                  .steps = 900,
                  .batch = 128,
                  .threads = 0,
                  .eval_n = 1000,
                  .lr = 1e-3f,
                  .out_dir = "out/demo",
                  .save_every = 200,
                  .log_every = 50};
    c.model = (attn_seq2seq_config){.src_vocab = VOCAB,
                                    .tgt_vocab = VOCAB,
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
                                    .pad_id = PAD};
    for (int a = 1; a < argc; a++) {
        const char *s = argv[a];
        int more = a + 1 < argc;
        if (!strcmp(s, "--steps") && more) c.steps = atol(argv[++a]);
        else if (!strcmp(s, "--batch") && more) c.batch = atoi(argv[++a]);
        else if (!strcmp(s, "--threads") && more) c.threads = atoi(argv[++a]);
        else if (!strcmp(s, "--seed") && more) c.seed = strtoull(argv[++a], NULL, 10);
        else if (!strcmp(s, "--lr") && more) c.lr = (float)atof(argv[++a]);
        else if (!strcmp(s, "--out") && more) c.out_dir = argv[++a];
        else if (!strcmp(s, "--eval") && more) c.eval_n = atoi(argv[++a]);
        else if (!strcmp(s, "--save-every") && more) c.save_every = atol(argv[++a]);
        else if (!strcmp(s, "--heads") && more) c.model.nhead = atol(argv[++a]);
        else if (!strcmp(s, "--d-model") && more) c.model.d_model = atol(argv[++a]);
        else if (!strcmp(s, "--layers") && more)
            c.model.num_encoder_layers = c.model.num_decoder_layers = atol(argv[++a]);
        else if (!strcmp(s, "--dec-layers") && more) c.model.num_decoder_layers = atol(argv[++a]);
        else if (!strcmp(s, "--log-every") && more) c.log_every = atol(argv[++a]);
        else if (!strcmp(s, "--resume")) c.resume = 1;
        else if (!strcmp(s, "--losses") && more) c.losses = argv[++a];
        else return usage();
    }
    if (c.steps < 1 || c.batch < 1 || c.threads < 0 || c.eval_n < 0 || !(c.lr > 0) ||
        c.log_every < 1)
        return usage();
    attn_mpi_ctx *dc;
    if (attn_mpi_init(&argc, &argv, &dc)) {
        fprintf(stderr, "attn demo: %s\n", attn_last_error());
        return 1;
    }
    const int rank = attn_mpi_rank(dc), ranks = attn_mpi_size(dc);
    { /* every rank must run the same job; rank 0 names the first that differs */
        char desc[700];
        int n = snprintf(desc, sizeof desc, "seed=%llu steps=%ld batch=%d lr=%.9g eval=%d resume=%d "
                         "save_every=%ld out=%s", (unsigned long long)c.seed, c.steps, c.batch,
                         (double)c.lr, c.eval_n, c.resume, c.save_every, c.out_dir);
        if (n >= (int)sizeof desc) n = (int)sizeof desc - 1; /* snprintf says what it would have written */
        int e = attn_mpi_check_same(dc, desc, n > 0 ? (size_t)n : 0, "the demo configuration");
        if (e == ATTN_OK && c.batch % ranks)
            fprintf(stderr, "attn demo: --batch %d is not a multiple of the %d ranks\n", c.batch, ranks), e = -1;
        if (e) {
            if (rank == 0 && e != -1) fprintf(stderr, "attn demo: %s\n", attn_last_error());
            attn_mpi_finalize(dc);
            return 1;
        }
    }
    if (strlen(c.out_dir) > 500) { /* the demo's file names must fit its buffers */
        if (rank == 0) fprintf(stderr, "attn demo: --out is %zu characters long; at most 500 are supported\n", strlen(c.out_dir));
        attn_mpi_finalize(dc);
        return 2;
    }
    if (rank > 0 && !freopen("/dev/null", "w", stdout)) return 1; /* rank 0 alone prints */
    FILE *lossf = rank == 0 && c.losses ? fopen(c.losses, c.resume ? "a" : "w") : NULL;
    if (c.threads) attn_set_num_threads(c.threads);
    if (attn_run_dir_prepare(c.out_dir)) {
        attn_mpi_finalize(dc);
        return cli_error("demo", c.out_dir, ATTN_E_IO);
    }
    double t_start = bench_now();
    attn_seq2seq *m = NULL;
    attn_tape *t = NULL;
    attn_optim *opt = NULL;
    metrics_log mlog = {0};
    batch b = {0};
    dates_example *exs = NULL;
    int st = attn_seq2seq_create(&c.model, c.seed, &m);
    if (st) {
        attn_mpi_finalize(dc);
        return cli_error("demo", "model", st);
    }
    attn_tape_config tc = {.num_threads = c.threads, .seed = c.seed ^ 0x5eedull};
    st = attn_tape_create(&tc, &t);
    attn_optim_config oc = {.kind = ATTN_OPTIM_ADAMW, .beta1 = 0.9f, .beta2 = 0.98f, .eps = 1e-9f,
                            .weight_decay = 0.01f};
    if (st == ATTN_OK) st = attn_optim_create(m->P, &oc, &opt);
    long step = 0;
    loss_window lw = {0, 0};
    uint64_t state_hash = 0;
    if (st == ATTN_OK && c.resume) {
        st = load_run(&c, m, opt, t, &step, &lw, &state_hash);
        if (st == ATTN_OK) printf("resumed %s at step %ld\n", c.out_dir, step);
    }
    if (c.resume && ranks > 1) { /* every rank, even one that failed: the ranks resumed one state */
        int e = attn_mpi_check_same_u64(dc, st == ATTN_OK ? state_hash : 0, "the resumed run state");
        if (e && rank == 0)
            fprintf(stderr, "attn demo: %s: every rank must resume from the same %s/run.safetensors\n",
                    attn_last_error(), c.out_dir);
        if (st == ATTN_OK) st = e;
    }
    if (st) {
        cli_error("demo", "setup", st);
        goto train_done;
    }
    printf("attn demo: English dates -> ISO 8601 with a Transformer (%lld parameters, d_model %lld,"
           " %lld+%lld layers, %lld heads), %ld steps of %d, %d threads\n",
           (long long)attn_params_numel(m->P), (long long)c.model.d_model,
           (long long)c.model.num_encoder_layers, (long long)c.model.num_decoder_layers,
           (long long)c.model.nhead, c.steps, c.batch, attn_get_num_threads());

    attn_schedule sched = {.kind = ATTN_SCHEDULE_COSINE, .base_lr = c.lr, .warmup_steps = DEMO_WARMUP,
                           .total_steps = c.steps, .min_ratio = 0.02f};
    exs = malloc((size_t)c.batch * sizeof *exs);
    b.src = malloc((size_t)c.batch * DATES_SRC_MAX * sizeof *b.src);
    b.tgt_in = malloc((size_t)c.batch * (DATES_TGT_LEN + 1) * sizeof *b.tgt_in);
    b.tgt_out = malloc((size_t)c.batch * (DATES_TGT_LEN + 1) * sizeof *b.tgt_out);
    if (!exs || !b.src || !b.tgt_in || !b.tgt_out) {
        st = ATTN_E_NOMEM;
        cli_error("demo", "batch", st);
        goto train_done;
    }
    char mpath[600];
    snprintf(mpath, sizeof mpath, "%s/metrics.csv", c.out_dir);
    if (rank == 0 && (st = metrics_open(&mlog, mpath, c.resume, step))) {
        cli_error("demo", mpath, st);
        goto train_done;
    }
    progress prog;
    progress_init(&prog, stdout, c.steps, "demo");
    attn_ce_options ce = {.ignore_index = PAD, .label_smoothing = 0.0f};
    double tokens = 0, t_train = bench_now();
    for (; step < c.steps; step++) {
        const int shard = c.batch / ranks; /* this rank's examples of the global batch */
        make_batch(&c, 0, (uint64_t)step * (uint64_t)c.batch + (uint64_t)(rank * shard), shard, &b, exs);
        attn_var *memory, *logits, *loss;
        st = attn_tape_reset(t);
        if (st == ATTN_OK) st = attn_seq2seq_encode(t, m, b.src, b.N, b.S, &memory);
        if (st == ATTN_OK) st = attn_seq2seq_decode(t, m, memory, b.src, b.S, b.tgt_in, b.T, &logits);
        if (st == ATTN_OK) st = attn_op_cross_entropy(t, logits, b.tgt_out, &ce, &loss);
        if (st == ATTN_OK) attn_params_zero_grad(m->P);
        if (st == ATTN_OK) st = attn_tape_backward(t, loss, NULL);
        if (st == ATTN_OK && (st = attn_mpi_average_grads(dc, m->P, 1 << 20, NULL)))
            fprintf(stderr, "attn demo (rank %d of %d): %s\n", rank, ranks, attn_last_error());
        if (st == ATTN_OK) st = attn_clip_grad_norm(m->P, 1.0f, NULL);
        double lstep = st == ATTN_OK ? loss->data[0] : 0;
        if (st == ATTN_OK && ranks > 1) { /* mean of the shards' losses, in rank order */
            st = attn_mpi_allreduce_sum_double(dc, &lstep);
            lstep /= ranks;
            if (st) fprintf(stderr, "attn demo (rank %d of %d): %s\n", rank, ranks, attn_last_error());
        }
        float lr = attn_schedule_lr(&sched, step);
        if (st == ATTN_OK) st = attn_optim_step(opt, lr);
        if (st) {
            cli_error("demo", "training step", st);
            break;
        }
        tokens += (double)b.N * (double)(b.S + b.T) * ranks;
        lw.sum += lstep, lw.n++;
        if (lossf) fprintf(lossf, "%ld %.9g\n", step + 1, lstep), fflush(lossf);
        double tps = tokens / (bench_now() - t_train);
        progress_update(&prog, step + 1, lstep, tps, NULL);
        /* the last row of a run may cover part of a window: it is written, but the window
         * goes on in the saved state, so a resumed run's next row is the full window's */
        if ((step + 1) % c.log_every == 0 || step + 1 == c.steps)
            st = metrics_row(&mlog, step + 1, lw.sum / (double)lw.n, lr, tps, NAN);
        if ((step + 1) % c.log_every == 0) lw.sum = 0, lw.n = 0;
        if (st) {
            cli_error("demo", mpath, st);
            break;
        }
        if (rank == 0 && c.save_every > 0 && (step + 1) % c.save_every == 0 && step + 1 < c.steps) {
            /* the other ranks wait in the next step's all-reduce: tell them rank 0 is alive */
            st = attn_mpi_busy_begin(dc, "writing a checkpoint");
            if (st == ATTN_OK) st = save_run(&c, m, opt, t, step + 1, &lw);
            if (attn_mpi_busy_end(dc) && st == ATTN_OK) st = ATTN_E_STATE;
            if (st) {
                cli_error("demo", "saving a checkpoint", st);
                break;
            }
        }
    }
    progress_done(&prog);
    double train_s = bench_now() - t_train, tps = tokens / (train_s > 0 ? train_s : 1);
    if (st == ATTN_OK && rank == 0) st = save_run(&c, m, opt, t, step, &lw);
    if (st || rank > 0) goto train_done;

    printf("\nfive held-out examples (greedy decoding):\n");
    double exact = 0;
    st = evaluate(&c, t, m, c.eval_n, 5, &exact);
    if (st) {
        cli_error("demo", "evaluation", st);
        goto train_done;
    }
    st = metrics_row(&mlog, step, NAN, 0, tps, exact);
    if (st == ATTN_OK) st = metrics_close(&mlog);
    if (st) {
        cli_error("demo", mpath, st);
        goto train_done;
    }
    if (show_attention(&c, t, m, mpath)) st = ATTN_E_IO;
    printf("\nsaved %s/model.safetensors, %s\n", c.out_dir, mpath);
    printf("translate with: build/attn translate --model %s/model.safetensors \"march 3rd 2021\"\n",
           c.out_dir);
    printf("result: task=dates exact_match=%.4f steps=%ld seconds=%.1f tokens_per_s=%.0f\n", exact,
           step, bench_now() - t_start, tps);
train_done:
    if (st && ranks > 1) { /* a peer may be gone: leave without MPI_Finalize, which would wait
                            * for it; mpirun then ends the job with a nonzero status */
        fprintf(stderr, "attn demo (rank %d of %d): stopped with an error\n", rank, ranks);
        fflush(stdout), fflush(stderr);
        _exit(1);
    }
    if (lossf) fclose(lossf);
    attn_mpi_finalize(dc);
    metrics_close(&mlog);
    free(exs), free(b.src), free(b.tgt_in), free(b.tgt_out);
    attn_optim_free(opt);
    attn_tape_free(t);
    attn_seq2seq_free(m);
    return st ? 1 : 0;
}
