/* runs.c — what every task's run entry point shares (attn/train.h "task runs"): rank 0's bytes
 * and the configuration check through a communicator, the stage hook; the language model's run
 * settings; the date demo's run. */
#include "internal.h"
#include "attn/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int attn_train_comm_share(const attn_train_comm *c, void **data, size_t *n)
{
    ATTN_REQUIRE_NONNULL("attn_train_comm_share", data);
    ATTN_REQUIRE_NONNULL("attn_train_comm_share", n);
    if (!c || c->size <= 1) return ATTN_OK;
    if (!c->bcast) return attn_fail(ATTN_E_ARG, "attn_train_comm_share: the communicator has no bcast");
    uint64_t len = c->rank == 0 ? (uint64_t)*n : 0;
    ATTN_TRY(c->bcast(c->ctx, &len, sizeof len));
    if (c->rank == 0) return len ? c->bcast(c->ctx, *data, (size_t)len) : ATTN_OK;
    *data = NULL, *n = 0;
    if (len == 0) return ATTN_OK;
    unsigned char *buf = malloc((size_t)len);
    if (!buf) /* the peers then time out on the broadcast, naming this rank */
        return attn_fail(ATTN_E_NOMEM, "attn_train_comm_share: out of memory for %llu bytes", (unsigned long long)len);
    int st = c->bcast(c->ctx, buf, (size_t)len);
    if (st) {
        free(buf);
        return st;
    }
    *data = buf, *n = (size_t)len;
    return ATTN_OK;
}

int attn_train_comm_check_same(const attn_train_comm *c, const void *desc, size_t n, const char *what)
{
    if (!c || c->size <= 1) return ATTN_OK;
    if (!desc && n) return attn_fail(ATTN_E_ARG, "attn_train_comm_check_same: desc is NULL");
    if (c->same_bytes) return c->same_bytes(c->ctx, desc, n, what);
    if (!c->same) return attn_fail(ATTN_E_ARG, "attn_train_comm_check_same: the communicator has no same");
    return c->same(c->ctx, attn_hash64(ATTN_HASH64_INIT, desc, n), what);
}

int attn_run_hooks_stage(const attn_run_hooks *hooks, attn_run_stage s)
{
    if (!hooks || !hooks->stage) return ATTN_OK;
    const int r = hooks->stage(hooks->user, s);
    if (r == 0) return ATTN_OK;
    if (r < 0) return r;
    return attn_fail(ATTN_E_STATE, "the run was stopped by its stage hook (stage %d)", (int)s);
}

/* ---- the language model's settings ----------------------------------------------------------- */

void attn_lm_run_config_default(attn_lm_run_config *c)
{
    if (!c) return;
    /* configs/lm_shakespeare.json: 30 minutes on 2 cores reach validation loss 1.51 on tiny
     * shakespeare (BENCHMARKS.md); steps is only a ceiling, the budget ends the run */
    *c = (attn_lm_run_config){.model = {.context = 128, .n_layer = 4, .n_head = 6, .d_model = 192},
                              .task = {.batch = 16, .steps = 1000000, .eval_every = 250, .eval_batches = 20, .seed = 1337},
                              .warmup = 100, .lr = 1.5e-3f, .min_lr_ratio = 0.1f, .weight_decay = 0.1f, .clip = 1.0f,
                              .minutes = 30, .budget = 1, .vocab = 1024};
}

int attn_lm_run_config_load(const char *path, attn_lm_run_config *c, int *legacy)
{
    if (legacy) *legacy = 0;
    ATTN_REQUIRE_NONNULL("attn_lm_run_config_load", c);
    static const char *const tokenizers[] = {"chars", "bpe", NULL};
    const attn_config_field f[] = {
        {"tokenizer", ATTN_CONFIG_CHOICE, &c->bpe, 0, 0, tokenizers, NULL},
        {"vocab", ATTN_CONFIG_INT, &c->vocab, 261, 1 << 20, NULL, NULL},
        {"eval_all", ATTN_CONFIG_BOOL, &c->task.eval_all, 0, 1, NULL, NULL},
        {"n_layer", ATTN_CONFIG_I64, &c->model.n_layer, 1, 64, NULL, NULL},
        {"n_head", ATTN_CONFIG_I64, &c->model.n_head, 1, 64, NULL, NULL},
        {"d_model", ATTN_CONFIG_I64, &c->model.d_model, 1, 4096, NULL, NULL},
        {"context", ATTN_CONFIG_I64, &c->model.context, 2, 8192, NULL, NULL},
        {"dropout", ATTN_CONFIG_FLOAT, &c->model.dropout, 0, 0.9, NULL, NULL},
        {"batch", ATTN_CONFIG_I64, &c->task.batch, 1, 4096, NULL, NULL},
        {"steps", ATTN_CONFIG_I64, &c->task.steps, 1, 1e9, NULL, NULL},
        {"warmup", ATTN_CONFIG_I64, &c->warmup, 0, 1e9, NULL, NULL},
        {"eval_every", ATTN_CONFIG_I64, &c->task.eval_every, 1, 1e9, NULL, NULL},
        {"eval_batches", ATTN_CONFIG_I64, &c->task.eval_batches, 1, 1e6, NULL, NULL},
        {"lr", ATTN_CONFIG_FLOAT, &c->lr, 0, 10, NULL, NULL},
        {"min_lr_ratio", ATTN_CONFIG_FLOAT, &c->min_lr_ratio, 0, 1, NULL, NULL},
        {"weight_decay", ATTN_CONFIG_FLOAT, &c->weight_decay, 0, 10, NULL, NULL},
        {"clip", ATTN_CONFIG_FLOAT, &c->clip, 0, 1e9, NULL, NULL},
        {"seed", ATTN_CONFIG_U64, &c->task.seed, 0, 9007199254740992.0, NULL, NULL},
        {"minutes", ATTN_CONFIG_DOUBLE, &c->minutes, 0, 1e7, NULL, NULL},
        {"budget", ATTN_CONFIG_BOOL, &c->budget, 0, 1, NULL, NULL},
    };
    return attn_config_load(path, f, (int)(sizeof f / sizeof f[0]), legacy);
}

/* ---- the date demo's run ----------------------------------------------------------------------- */

int attn_dates_run(const attn_dates_run_config *c, const char *out_dir, int resume, const attn_run_hooks *hooks,
                   attn_dates_run_result *res, attn_seq2seq **model, attn_tape **tape)
{
    static const char fn[] = "attn_dates_run";
    if (model) *model = NULL;
    if (tape) *tape = NULL;
    ATTN_REQUIRE_NONNULL(fn, c);
    ATTN_REQUIRE_NONNULL(fn, res);
    memset(res, 0, sizeof *res);
    attn_seq2seq *m = NULL;
    attn_tape *t = NULL;
    attn_dates_task *dt = NULL;
    char buf[2048], seed[32];
    const char *kv[64];
    const uint64_t s = c->task.seed;
    int st = attn_seq2seq_create(&c->model, s, &m);
    attn_tape_config tc = {.num_threads = hooks ? hooks->threads : 0, .seed = s ^ 0x5eedull};
    if (st == ATTN_OK) st = attn_tape_create(&tc, &t);
    if (st == ATTN_OK) st = attn_dates_task_create(m, &c->task, &dt);
    if (st == ATTN_OK) st = attn_dates_model_meta(m, s, buf, sizeof buf, kv, 64);
    if (st == ATTN_OK) {
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)s);
        attn_train_task task = attn_dates_task_get(dt);
        task.meta = kv;
        attn_train_config tcfg = {
            .out_dir = out_dir, .resume = resume,
            .optim = {.kind = ATTN_OPTIM_ADAMW, .beta1 = 0.9f, .beta2 = 0.98f, .eps = 1e-9f, .weight_decay = 0.01f},
            .schedule = {.kind = ATTN_SCHEDULE_COSINE, .base_lr = c->lr, .warmup_steps = 100,
                         .total_steps = c->task.steps, .min_ratio = 0.02f},
            .clip = 1.0f, .data_hash = attn_hash64(ATTN_HASH64_INIT, seed, strlen(seed)), .items_name = "tokens",
            .progress = hooks ? hooks->progress : NULL, .progress_user = hooks ? hooks->user : NULL,
            .comm = hooks ? hooks->comm : NULL};
        attn_dates_task_configure(dt, &tcfg);
        res->params = attn_params_numel(m->P);
        st = attn_run_hooks_stage(hooks, ATTN_RUN_MODEL);
        if (st == ATTN_OK) st = attn_train_run(&tcfg, &task, m->P, t, &res->train);
    }
    attn_dates_task_free(dt);
    if (model) *model = m;
    else attn_seq2seq_free(m);
    if (tape) *tape = t;
    else attn_tape_free(t);
    return st;
}
