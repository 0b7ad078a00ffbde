/* lm_task.c — a language model's training task (attn/train.h): random windows of a token stream
 * per step, fixed validation windows, and the loss of a whole stream. */
#include "internal.h"
#include "attn/train.h"
#include "train_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct attn_lm_task {
    const attn_gpt *m;
    const int32_t *train, *val;
    int64_t n_train, n_val;
    attn_lm_task_config c;
    int32_t *x, *y; /* [batch · context] */
};

/* N windows of T + 1 ids of ids[0..n), their starts drawn from the stream (seed, key). */
static void windows(const int32_t *ids, int64_t n, int64_t N, int64_t T, uint64_t seed, uint64_t key, int32_t *x,
                    int32_t *y)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ull ^ key;
    for (int64_t i = 0; i < N; i++) {
        const int64_t start = (int64_t)(attn_splitmix64(&s) % (uint64_t)(n - T));
        memcpy(x + i * T, ids + start, (size_t)T * sizeof *x);
        memcpy(y + i * T, ids + start + 1, (size_t)T * sizeof *y);
    }
}

static int loss_of(attn_tape *t, const attn_gpt *m, const int32_t *x, const int32_t *y, int64_t N, int64_t T,
                   attn_var **loss)
{
    attn_var *logits;
    attn_ce_options ce = {.ignore_index = -1};
    ATTN_TRY(attn_tape_reset(t));
    ATTN_TRY(attn_gpt_forward(t, m, x, N, T, &logits));
    return attn_op_cross_entropy(t, logits, y, &ce, loss);
}

static int begin_epoch(void *ctx, int64_t epoch, int64_t step, int64_t *batches)
{
    const attn_lm_task *lt = ctx;
    (void)epoch;
    *batches = attn_period_batches(step, lt->c.steps, lt->c.eval_every);
    return ATTN_OK;
}

static int batch_loss(void *ctx, attn_tape *t, const attn_train_batch *b, attn_var **loss, double *weight,
                      double *total)
{
    attn_lm_task *lt = ctx;
    const int64_t N = lt->c.batch, T = lt->m->cfg.context;
    const int64_t lo = N * b->rank / b->ranks, hi = N * (b->rank + 1) / b->ranks;
    windows(lt->train, lt->n_train, N, T, lt->c.seed, (uint64_t)b->step, lt->x, lt->y);
    *total = (double)(N * T), *weight = (double)((hi - lo) * T), *loss = NULL;
    if (hi == lo) return ATTN_OK;
    return loss_of(t, lt->m, lt->x + lo * T, lt->y + lo * T, hi - lo, T, loss);
}

static int validate(void *ctx, attn_tape *t, double *metric, double *vloss)
{
    attn_lm_task *lt = ctx;
    const int64_t N = lt->c.batch, T = lt->m->cfg.context;
    if (lt->c.eval_all) {
        const int st = attn_lm_stream_loss(lt->m, t, lt->val, lt->n_val, N, vloss, NULL);
        attn_tape_set_training(t, 0); /* attn_lm_stream_loss leaves it on; the trainer restores it */
        *metric = -*vloss;
        return st;
    }
    double sum = 0;
    for (int64_t b = 0; b < lt->c.eval_batches; b++) {
        windows(lt->val, lt->n_val, N, T, lt->c.seed, 0xe7a1000000ull + (uint64_t)b, lt->x, lt->y);
        attn_var *loss;
        ATTN_TRY(loss_of(t, lt->m, lt->x, lt->y, N, T, &loss));
        sum += loss->data[0];
    }
    *vloss = sum / (double)lt->c.eval_batches;
    *metric = -*vloss;
    return ATTN_OK;
}

int attn_lm_task_create(const attn_gpt *m, const int32_t *train, int64_t n_train, const int32_t *val, int64_t n_val,
                        const attn_lm_task_config *c, attn_lm_task **out)
{
    static const char fn[] = "attn_lm_task_create";
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, train);
    ATTN_REQUIRE_NONNULL(fn, val);
    ATTN_REQUIRE_NONNULL(fn, c);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    const int64_t T = m->cfg.context;
    if (c->batch < 1 || c->steps < 1 || c->eval_every < 1 || c->eval_batches < 1 || c->batch > (INT64_MAX / 4) / T)
        return attn_fail(ATTN_E_ARG, "%s: batch %lld, steps %lld, eval_every %lld, eval_batches %lld", fn,
                         (long long)c->batch, (long long)c->steps, (long long)c->eval_every,
                         (long long)c->eval_batches);
    if (n_train <= T || n_val <= T)
        return attn_fail(ATTN_E_ARG, "%s: %lld training and %lld validation tokens leave no window of %lld + 1", fn,
                         (long long)n_train, (long long)n_val, (long long)T);
    for (int64_t i = 0; i < n_train; i++)
        if (train[i] < 0 || train[i] >= m->cfg.vocab)
            return attn_fail(ATTN_E_ARG, "%s: training token %lld is %d, outside the vocabulary of %lld", fn,
                             (long long)i, train[i], (long long)m->cfg.vocab);
    for (int64_t i = 0; i < n_val; i++)
        if (val[i] < 0 || val[i] >= m->cfg.vocab)
            return attn_fail(ATTN_E_ARG, "%s: validation token %lld is %d, outside the vocabulary of %lld", fn,
                             (long long)i, val[i], (long long)m->cfg.vocab);
    attn_lm_task *lt = calloc(1, sizeof *lt);
    if (lt) lt->x = malloc((size_t)(c->batch * T) * sizeof *lt->x), lt->y = malloc((size_t)(c->batch * T) * sizeof *lt->y);
    if (!lt || !lt->x || !lt->y) {
        attn_lm_task_free(lt);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    }
    *lt = (attn_lm_task){.m = m, .train = train, .val = val, .n_train = n_train, .n_val = n_val, .c = *c,
                         .x = lt->x, .y = lt->y};
    *out = lt;
    return ATTN_OK;
}

attn_train_task attn_lm_task_get(attn_lm_task *lt)
{
    return (attn_train_task){.ctx = lt, .begin_epoch = begin_epoch, .batch_loss = batch_loss, .validate = validate};
}

void attn_lm_task_configure(const attn_lm_task *lt, attn_train_config *cfg)
{
    if (!lt || !cfg) return;
    cfg->max_steps = lt->c.steps;
    cfg->epochs = lt->c.steps; /* at least one step each */
}

void attn_lm_task_free(attn_lm_task *lt)
{
    if (!lt) return;
    free(lt->x), free(lt->y);
    free(lt);
}

int attn_lm_stream_loss(const attn_gpt *m, attn_tape *t, const int32_t *ids, int64_t n, int64_t batch, double *loss,
                        int64_t *tokens)
{
    static const char fn[] = "attn_lm_stream_loss";
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, ids);
    ATTN_REQUIRE_NONNULL(fn, loss);
    const int64_t T = m->cfg.context;
    if (n < 2 || batch < 1 || batch > (INT64_MAX / 4) / T)
        return attn_fail(ATTN_E_ARG, "%s: %lld tokens, batch %lld", fn, (long long)n, (long long)batch);
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->cfg.vocab)
            return attn_fail(ATTN_E_ARG, "%s: token %lld is %d, outside the vocabulary of %lld", fn, (long long)i,
                             ids[i], (long long)m->cfg.vocab);
    /* windows [s, s + T] over s = 0, T, 2T …; the last one shorter (ignored targets pad it) */
    const int64_t nw = (n - 1 + T - 1) / T;
    int32_t *x = malloc((size_t)(batch * T) * sizeof *x), *y = malloc((size_t)(batch * T) * sizeof *y);
    if (!x || !y) {
        free(x), free(y);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    }
    double sum = 0;
    int64_t count = 0;
    int st = ATTN_OK;
    attn_tape_set_training(t, 0);
    for (int64_t w0 = 0; st == ATTN_OK && w0 < nw; w0 += batch) {
        const int64_t N = nw - w0 < batch ? nw - w0 : batch;
        int64_t k = 0;
        for (int64_t i = 0; i < N; i++)
            for (int64_t j = 0; j < T; j++) {
                const int64_t p = (w0 + i) * T + j;
                const int ok = p + 1 < n;
                x[i * T + j] = ok ? ids[p] : 0, y[i * T + j] = ok ? ids[p + 1] : -1;
                k += ok;
            }
        attn_var *l;
        st = loss_of(t, m, x, y, N, T, &l);
        if (st == ATTN_OK) sum += (double)l->data[0] * (double)k, count += k;
    }
    attn_tape_set_training(t, 1);
    free(x), free(y);
    if (st) return st;
    *loss = sum / (double)count;
    if (tokens) *tokens = count;
    return ATTN_OK;
}
