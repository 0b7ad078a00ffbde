/* lm.c — `attn train lm --data FILE --out DIR [--config F] [--threads N] [--resume]`: a GPT on a
 * text file at the character level (nanoGPT's shakespeare-char convention: the vocabulary is the
 * file's distinct bytes, the first 90 % trains, the last 10 % validates), through the library's
 * language-model task and trainer (attn/train.h): random windows drawn from (seed, step),
 * validation every eval_every steps, metrics.csv, best.safetensors, run.safetensors for --resume.
 * The vocabulary travels in every checkpoint (attn.tokenizer = "chars", attn/text.h). */
#include "args.h"
#include "cli.h"

#include "config.h"
#include "lm.h"
#include "train_view.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lm_cfg {
    attn_gpt_config model; /* vocab from the data */
    attn_lm_task_config task;
    int64_t warmup;
    float lr, min_lr_ratio, weight_decay, clip;
    double minutes; /* wall-time limit (0: none) */
    int budget;     /* lr decays linearly to 0 over the time limit (attn_budget_factor) */
} lm_cfg;

static int read_config(lm_cfg *c, const char *path)
{
    const cfg_field f[] = {
        {"n_layer", CFG_I64, &c->model.n_layer, 1, 64, NULL, NULL},
        {"n_head", CFG_I64, &c->model.n_head, 1, 64, NULL, NULL},
        {"d_model", CFG_I64, &c->model.d_model, 1, 4096, NULL, NULL},
        {"context", CFG_I64, &c->model.context, 2, 8192, NULL, NULL},
        {"dropout", CFG_FLOAT, &c->model.dropout, 0, 0.9, NULL, NULL},
        {"batch", CFG_I64, &c->task.batch, 1, 4096, NULL, NULL},
        {"steps", CFG_I64, &c->task.steps, 1, 1e9, NULL, NULL},
        {"warmup", CFG_I64, &c->warmup, 0, 1e9, NULL, NULL},
        {"eval_every", CFG_I64, &c->task.eval_every, 1, 1e9, NULL, NULL},
        {"eval_batches", CFG_I64, &c->task.eval_batches, 1, 1e6, NULL, NULL},
        {"lr", CFG_FLOAT, &c->lr, 0, 10, NULL, NULL},
        {"min_lr_ratio", CFG_FLOAT, &c->min_lr_ratio, 0, 1, NULL, NULL},
        {"weight_decay", CFG_FLOAT, &c->weight_decay, 0, 10, NULL, NULL},
        {"clip", CFG_FLOAT, &c->clip, 0, 1e9, NULL, NULL},
        {"seed", CFG_U64, &c->task.seed, 0, 9007199254740992.0, NULL, NULL},
        {"minutes", CFG_DOUBLE, &c->minutes, 0, 1e7, NULL, NULL},
        {"budget", CFG_BOOL, &c->budget, 0, 1, NULL, NULL},
    };
    return cfg_load("train lm", path, f, (int)(sizeof f / sizeof f[0]));
}

int cli_train_lm(int argc, char **argv)
{
    const char *data = NULL, *out = NULL, *config = NULL;
    int threads = 0, resume = 0;
    const arg_opt opts[] = {
        ARGS_TRAIN_OPTS(&data, &out, &config, &threads, &resume),
        {0}};
    const arg_spec spec = {.cmd = "train lm", .synopsis = "--data PATH --out DIR [options]", .opts = opts,
                           .about = "A GPT on a text file, character by character (nanoGPT's shakespeare-char convention: the\n"
                                    "file's distinct bytes are the vocabulary, the first 90% trains, the last 10% validates).",
                           .epilog = "Configuration keys: n_layer n_head d_model context dropout batch steps lr min_lr_ratio warmup\n"
                                     "  weight_decay clip eval_every eval_batches seed minutes (a wall-time limit) budget (true: the\n"
                                     "  learning rate falls linearly to 0 over the minutes). Defaults: nanoGPT's CPU shakespeare-char\n"
                                     "  (4 layers, 4 heads, 128 wide, context 64, batch 12, 2,000 steps, lr 1e-3, no dropout).\n"};
    ARGS_PARSE_OR_RETURN(&spec, argc, argv, NULL, NULL);
    if (!data || !out) return args_usage_error(&spec, "--data and --out are required");
    lm_cfg c = {.model = {.context = 64, .n_layer = 4, .n_head = 4, .d_model = 128},
                .task = {.batch = 12, .steps = 2000, .eval_every = 200, .eval_batches = 20, .seed = 1337},
                .warmup = 100, .lr = 1e-3f, .min_lr_ratio = 0.1f, .weight_decay = 0.1f, .clip = 1.0f};
    if (config && read_config(&c, config)) return 2;
    if (c.model.d_model % c.model.n_head) {
        fprintf(stderr, "attn train lm: d_model %lld is not a multiple of n_head %lld\n", (long long)c.model.d_model,
                (long long)c.model.n_head);
        return 2;
    }
    if (threads) attn_set_num_threads(threads);
    char *text = NULL, *vocab_b64 = NULL, meta_buf[1024];
    size_t n = 0;
    int32_t *ids = NULL;
    attn_chars chars;
    attn_gpt *m = NULL;
    attn_tape *t = NULL;
    attn_lm_task *lt = NULL;
    int st = attn_data_read_file(data, &text, &n);
    if (st) return cli_error("train lm", data, st);
    attn_chars_of_text(text, n, &chars);
    const int64_t split = (int64_t)n * 9 / 10, T = c.model.context;
    c.model.vocab = chars.V;
    ids = malloc((n ? n : 1) * sizeof *ids);
    st = ids ? attn_chars_encode(&chars, text, n, ids, data) : attn_set_error(ATTN_E_NOMEM, "out of memory");
    if (st == ATTN_OK && (split - T < 1 || (int64_t)n - split - T < 1))
        st = attn_set_error(ATTN_E_ARG, "%zu bytes leave no window of %lld in both parts", n, (long long)T);
    if (st == ATTN_OK) st = attn_chars_to_meta(&chars, &vocab_b64);
    if (st == ATTN_OK) st = attn_gpt_create(&c.model, c.task.seed, &m);
    attn_tape_config tc = {.num_threads = threads, .seed = c.task.seed ^ 0x5eedull};
    if (st == ATTN_OK) st = attn_tape_create(&tc, &t);
    if (st == ATTN_OK) st = attn_lm_task_create(m, ids, split, ids + split, (int64_t)n - split, &c.task, &lt);
    const char *kv[48];
    int nk = st ? 0 : attn_gpt_config_to_meta(&m->cfg, meta_buf, sizeof meta_buf, kv, 40);
    if (nk < 0) st = nk;
    if (st) {
        cli_error("train lm", data, st);
        goto done;
    }
    kv[nk++] = "attn.arch", kv[nk++] = "gpt";
    kv[nk++] = "attn.tokenizer", kv[nk++] = "chars";
    kv[nk++] = "attn.chars.vocab", kv[nk++] = vocab_b64;
    kv[nk] = NULL;
    attn_train_task task = attn_lm_task_get(lt);
    task.meta = kv;
    train_view view = {.cmd = "train lm", .out = out, .by_step = 1, .items = "tokens"};
    attn_train_config tcfg = {
        .out_dir = out, .resume = resume,
        .optim = {.kind = ATTN_OPTIM_ADAMW, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f, .weight_decay = c.weight_decay},
        .schedule = {.kind = ATTN_SCHEDULE_COSINE, .base_lr = c.lr, .warmup_steps = c.warmup,
                     .total_steps = c.task.steps, .min_ratio = c.min_lr_ratio},
        .max_seconds = c.minutes * 60, .budget = c.budget && c.minutes > 0,
        .clip = c.clip, .data_hash = attn_hash64(ATTN_HASH64_INIT, ids, n * sizeof *ids), .items_name = "tokens",
        .progress = train_view_event, .progress_user = &view};
    attn_lm_task_configure(lt, &tcfg);
    printf("attn train lm: GPT %lld parameters (%lld layers, %lld heads, d %lld, context %lld), vocabulary %d "
           "characters, %lld training / %lld validation bytes, %d threads\n",
           (long long)attn_params_numel(m->P), (long long)c.model.n_layer, (long long)c.model.n_head,
           (long long)c.model.d_model, (long long)T, chars.V, (long long)split, (long long)((int64_t)n - split),
           attn_get_num_threads());
    attn_train_result r;
    st = attn_train_run(&tcfg, &task, m->P, t, &r);
    if (st) cli_error("train lm", "training", st);
    else
        printf("result: task=lm val_loss=%.4f steps=%lld minutes=%.1f best=%s/best.safetensors\n", -r.best_metric,
               (long long)r.state.step, r.seconds / 60, out);
done:
    attn_lm_task_free(lt);
    attn_tape_free(t);
    attn_gpt_free(m);
    free(ids), free(text), free(vocab_b64);
    return st ? 1 : 0;
}
