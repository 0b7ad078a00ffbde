/* lm.c — `attn train lm --data FILE --out DIR [--config F] [--threads N] [--resume]`: a GPT on a
 * text file at the character level (nanoGPT's shakespeare-char convention: the vocabulary is the
 * file's distinct bytes, the first 90 % trains, the last 10 % validates). Batches are random
 * windows drawn from (seed, step), so a resumed run draws what an uninterrupted one would.
 * Every eval_every steps: validation loss on fixed windows → metrics.csv, best.safetensors when
 * it improves, then the run state (run.safetensors, attn/train.h). The vocabulary travels in
 * every checkpoint (attn.tokenizer = "chars", attn.chars.vocab = base64 of the bytes). */
#include "cli.h"

#include "bench_util.h"
#include "config.h"
#include "lm.h"
#include "progress.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lm_cfg {
    attn_gpt_config model; /* vocab from the data */
    int64_t batch, steps, warmup, eval_every, eval_batches;
    float lr, min_lr_ratio, weight_decay, clip;
    uint64_t seed;
} lm_cfg;

static int usage(void)
{
    fprintf(stderr, "usage: attn train lm --data FILE --out DIR [--config F.json] [--threads N] [--resume]\n"
                    "Config keys: n_layer n_head d_model context dropout batch steps lr min_lr_ratio warmup\n"
                    "  weight_decay clip eval_every eval_batches seed (defaults: nanoGPT's CPU shakespeare-char:\n"
                    "  4 layers, 4 heads, 128 wide, context 64, batch 12, 2,000 steps, lr 1e-3, no dropout).\n");
    return 2;
}

int lm_vocab_meta(const lm_text *d, char **b64) { return attn_base64_encode(d->vocab, (size_t)d->V, b64); }

int lm_text_load(const char *path, lm_text *d)
{
    memset(d, 0, sizeof *d);
    FILE *f = fopen(path, "rb");
    if (!f) return attn_set_error(ATTN_E_IO, "%s: cannot open", path);
    size_t cap = 1 << 20, n = 0;
    unsigned char *buf = malloc(cap);
    for (size_t got; buf && (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap && cap < ((size_t)1 << 30)) {
            unsigned char *g = realloc(buf, cap *= 2);
            if (!g) free(buf);
            buf = g;
        } else if (n == cap) {
            free(buf), fclose(f);
            return attn_set_error(ATTN_E_FORMAT, "%s: larger than 1 GiB", path);
        }
    }
    fclose(f);
    if (!buf) return attn_set_error(ATTN_E_NOMEM, "%s: out of memory", path);
    int seen[256] = {0};
    for (size_t i = 0; i < n; i++) seen[buf[i]] = 1;
    for (int c = 0; c < 256; c++)
        if (seen[c]) d->id[c] = (int32_t)d->V, d->vocab[d->V++] = (unsigned char)c;
    d->ids = malloc((n ? n : 1) * sizeof *d->ids);
    if (!d->ids) {
        free(buf);
        return attn_set_error(ATTN_E_NOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < n; i++) d->ids[i] = d->id[buf[i]];
    free(buf);
    d->n = (int64_t)n;
    return ATTN_OK;
}

/* N windows of T + 1 ids from [lo, hi), starts drawn from stream (seed, key). */
static void windows(const lm_text *d, int64_t lo, int64_t hi, int64_t N, int64_t T, uint64_t seed, uint64_t key,
                    int32_t *x, int32_t *y)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull ^ key;
    for (int64_t i = 0; i < N; i++) {
        const int64_t start = lo + (int64_t)(attn_splitmix64(&s) % (uint64_t)(hi - lo - T));
        memcpy(x + i * T, d->ids + start, (size_t)T * sizeof *x);
        memcpy(y + i * T, d->ids + start + 1, (size_t)T * sizeof *y);
    }
}

static int loss_of(attn_tape *t, const attn_gpt *m, const int32_t *x, const int32_t *y, int64_t N, int64_t T,
                   attn_var **loss)
{
    attn_var *logits;
    attn_ce_options ce = {.ignore_index = -1};
    ATTN_TRY_CLI(attn_tape_reset(t));
    ATTN_TRY_CLI(attn_gpt_forward(t, m, x, N, T, &logits));
    return attn_op_cross_entropy(t, logits, y, &ce, loss);
}

/* Mean loss over eval_batches fixed windows of the validation part. */
static int validate(attn_tape *t, const attn_gpt *m, const lm_text *d, const lm_cfg *c, int32_t *x, int32_t *y,
                    double *val)
{
    const int64_t T = c->model.context, split = d->n * 9 / 10;
    attn_tape_set_training(t, 0);
    double sum = 0;
    int st = ATTN_OK;
    for (int64_t b = 0; st == ATTN_OK && b < c->eval_batches; b++) {
        windows(d, split, d->n, c->batch, T, c->seed, 0xe7a1000000ull + (uint64_t)b, x, y);
        attn_var *loss;
        st = loss_of(t, m, x, y, c->batch, T, &loss);
        if (st == ATTN_OK) sum += loss->data[0];
    }
    attn_tape_set_training(t, 1);
    *val = sum / (double)c->eval_batches;
    return st;
}

/* Cosine from lr to lr·min_lr_ratio after a linear warm-up. */
static float lr_at(const lm_cfg *c, int64_t s)
{
    attn_schedule sc = {.kind = ATTN_SCHEDULE_COSINE, .base_lr = c->lr, .warmup_steps = c->warmup,
                        .total_steps = c->steps, .min_ratio = c->min_lr_ratio};
    return attn_schedule_lr(&sc, s);
}

static int save(const char *path, const attn_gpt *m, const char *vocab_b64, int64_t step)
{
    char buf[1024];
    const char *kv[40];
    int n = attn_gpt_config_to_meta(&m->cfg, buf, sizeof buf, kv, 32);
    if (n < 0) return n;
    kv[n++] = "attn.arch", kv[n++] = "gpt";
    kv[n++] = "attn.tokenizer", kv[n++] = "chars";
    kv[n++] = "attn.chars.vocab", kv[n++] = vocab_b64;
    kv[n] = NULL;
    return attn_run_export(path, m->P, step, kv);
}

int cli_train_lm(int argc, char **argv)
{
    const char *data = NULL, *out = NULL, *config = NULL;
    int threads = 0, resume = 0;
    for (int a = 1; a < argc; a++) {
        const int more = a + 1 < argc;
        if (!strcmp(argv[a], "--data") && more) data = argv[++a];
        else if (!strcmp(argv[a], "--out") && more) out = argv[++a];
        else if (!strcmp(argv[a], "--config") && more) config = argv[++a];
        else if (!strcmp(argv[a], "--threads") && more) threads = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--resume")) resume = 1;
        else return usage();
    }
    if (!data || !out || threads < 0) return usage();
    lm_cfg c = {.model = {.context = 64, .n_layer = 4, .n_head = 4, .d_model = 128},
                .batch = 12, .steps = 2000, .warmup = 100, .eval_every = 200, .eval_batches = 20,
                .lr = 1e-3f, .min_lr_ratio = 0.1f, .weight_decay = 0.1f, .clip = 1.0f, .seed = 1337};
    const cfg_field f[] = {
        {"n_layer", CFG_I64, &c.model.n_layer, 1, 64, NULL, NULL},
        {"n_head", CFG_I64, &c.model.n_head, 1, 64, NULL, NULL},
        {"d_model", CFG_I64, &c.model.d_model, 1, 4096, NULL, NULL},
        {"context", CFG_I64, &c.model.context, 2, 8192, NULL, NULL},
        {"dropout", CFG_FLOAT, &c.model.dropout, 0, 0.9, NULL, NULL},
        {"batch", CFG_I64, &c.batch, 1, 4096, NULL, NULL},
        {"steps", CFG_I64, &c.steps, 1, 1e9, NULL, NULL},
        {"warmup", CFG_I64, &c.warmup, 0, 1e9, NULL, NULL},
        {"eval_every", CFG_I64, &c.eval_every, 1, 1e9, NULL, NULL},
        {"eval_batches", CFG_I64, &c.eval_batches, 1, 1e6, NULL, NULL},
        {"lr", CFG_FLOAT, &c.lr, 0, 10, NULL, NULL},
        {"min_lr_ratio", CFG_FLOAT, &c.min_lr_ratio, 0, 1, NULL, NULL},
        {"weight_decay", CFG_FLOAT, &c.weight_decay, 0, 10, NULL, NULL},
        {"clip", CFG_FLOAT, &c.clip, 0, 1e9, NULL, NULL},
        {"seed", CFG_U64, &c.seed, 0, 9007199254740992.0, NULL, NULL},
    };
    if (config && cfg_load("train lm", config, f, (int)(sizeof f / sizeof f[0]))) return 2;
    if (c.model.d_model % c.model.n_head) {
        fprintf(stderr, "attn train lm: d_model %lld is not a multiple of n_head %lld\n", (long long)c.model.d_model,
                (long long)c.model.n_head);
        return 2;
    }
    if (threads) attn_set_num_threads(threads);
    lm_text d;
    int st = lm_text_load(data, &d);
    if (st) return cli_error("train lm", data, st);
    const int64_t T = c.model.context, split = d.n * 9 / 10;
    if (split - T < 1 || d.n - split - T < 1) {
        fprintf(stderr, "attn train lm: %s: %lld bytes leave no window of %lld in both parts\n", data,
                (long long)d.n, (long long)T);
        lm_text_free(&d);
        return 1;
    }
    c.model.vocab = d.V;
    char *vocab_b64 = NULL, path[4200];
    attn_gpt *m = NULL;
    attn_tape *t = NULL;
    attn_optim *o = NULL;
    attn_metrics *csv = NULL;
    int32_t *x = malloc((size_t)(c.batch * T) * sizeof *x), *y = malloc((size_t)(c.batch * T) * sizeof *y);
    attn_run_state rs = {.best_metric = -INFINITY};
    const uint64_t data_hash = attn_hash64(ATTN_HASH64_INIT, d.ids, (size_t)d.n * sizeof *d.ids);
    st = x && y ? attn_run_dir_prepare(out) : ATTN_E_NOMEM;
    if (st == ATTN_OK) st = lm_vocab_meta(&d, &vocab_b64);
    if (st == ATTN_OK) st = attn_gpt_create(&c.model, c.seed, &m);
    attn_tape_config tc = {.num_threads = threads, .seed = c.seed ^ 0x5eedull};
    if (st == ATTN_OK) st = attn_tape_create(&tc, &t);
    attn_optim_config oc = {.kind = ATTN_OPTIM_ADAMW, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f,
                            .weight_decay = c.weight_decay};
    if (st == ATTN_OK) st = attn_optim_create(m->P, &oc, &o);
    snprintf(path, sizeof path, "%s/run.safetensors", out);
    if (st == ATTN_OK && resume) st = attn_run_load(path, m->P, o, data_hash, &rs, NULL);
    if (st == ATTN_OK && resume) {
        attn_tape_set_rng(t, rs.rng_seed, rs.rng_offset);
        printf("resumed %s at step %lld (best validation loss %.4f)\n", out, (long long)rs.step, -rs.best_metric);
    }
    snprintf(path, sizeof path, "%s/metrics.csv", out);
    if (st == ATTN_OK) st = attn_metrics_open(path, "step,train_loss,val_loss,lr,tokens_per_s,elapsed_s", resume, rs.step, &csv);
    if (st) {
        cli_error("train lm", "setup", st);
        goto done;
    }
    printf("attn train lm: GPT %lld parameters (%lld layers, %lld heads, d %lld, context %lld), vocabulary %d "
           "characters, %lld training / %lld validation bytes, %d threads\n",
           (long long)attn_params_numel(m->P), (long long)c.model.n_layer, (long long)c.model.n_head,
           (long long)c.model.d_model, (long long)T, d.V, (long long)split, (long long)(d.n - split),
           attn_get_num_threads());
    progress prog;
    progress_init(&prog, NULL, c.steps, "lm");
    const double t0 = bench_now();
    const int64_t first = rs.step; /* tokens/s over this process's steps */
    double lsum = 0;
    int64_t ln = 0;
    for (int64_t s = rs.step; st == ATTN_OK && s < c.steps; s++) {
        windows(&d, 0, split, c.batch, T, c.seed, (uint64_t)s, x, y);
        attn_var *loss;
        st = loss_of(t, m, x, y, c.batch, T, &loss);
        if (st == ATTN_OK) attn_params_zero_grad(m->P), st = attn_tape_backward(t, loss, NULL);
        if (st == ATTN_OK && c.clip > 0) st = attn_clip_grad_norm(m->P, c.clip, NULL);
        const float lr = lr_at(&c, s);
        if (st == ATTN_OK) st = attn_optim_step(o, lr);
        if (st) break;
        lsum += loss->data[0], ln++;
        const double tps = (double)((s + 1 - first) * c.batch * T) / (bench_now() - t0);
        progress_update(&prog, s + 1, loss->data[0], tps, NULL);
        if ((s + 1) % c.eval_every && s + 1 != c.steps) continue;
        double val;
        st = validate(t, m, &d, &c, x, y, &val);
        char row[200];
        snprintf(row, sizeof row, "%lld,%.6g,%.6g,%.6g,%.1f,%.1f", (long long)(s + 1), lsum / (double)ln, val, lr, tps,
                 bench_now() - t0);
        lsum = 0, ln = 0;
        if (st == ATTN_OK) st = attn_metrics_row(csv, row);
        const int best = -val > rs.best_metric;
        snprintf(path, sizeof path, "%s/best.safetensors", out);
        if (st == ATTN_OK && best) st = save(path, m, vocab_b64, s + 1);
        snprintf(path, sizeof path, "%s/model.safetensors", out);
        if (st == ATTN_OK) st = save(path, m, vocab_b64, s + 1);
        if (best) rs.best_metric = -val, rs.best_epoch = s + 1;
        rs.step = s + 1, rs.data_hash = data_hash;
        attn_tape_get_rng(t, &rs.rng_seed, &rs.rng_offset);
        snprintf(path, sizeof path, "%s/run.safetensors", out);
        if (st == ATTN_OK) st = attn_run_save(path, m->P, o, &rs, NULL);
        printf("\nstep %lld: validation loss %.4f%s\n", (long long)(s + 1), val, best ? "  best" : "");
    }
    progress_done(&prog);
    if (st) cli_error("train lm", "training", st);
    else
        printf("result: task=lm val_loss=%.4f steps=%lld minutes=%.1f best=%s/best.safetensors\n", -rs.best_metric,
               (long long)rs.step, (bench_now() - t0) / 60, out);
done:
    if (attn_metrics_close(csv) && st == ATTN_OK) st = cli_error("train lm", "metrics.csv", ATTN_E_IO);
    free(x), free(y), free(vocab_b64);
    attn_optim_free(o);
    attn_tape_free(t);
    attn_gpt_free(m);
    lm_text_free(&d);
    return st ? 1 : 0;
}

void lm_text_free(lm_text *d) { free(d->ids), d->ids = NULL; }
