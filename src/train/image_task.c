/* image_task.c — the image classification task (attn/image.h): the configuration, the split of
 * the training set, batches (epoch orders, augmentation, normalisation), the loss of a slice of
 * a batch and the validation accuracy. image_run.c hands them to attn_train_run. */
#include "../nn/nn_internal.h"

#include "attn/image.h"
#include "attn/train.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

struct attn_image_task {
    attn_image_train_config cfg;
    const attn_image_set *s;
    const attn_vit *m;
    int64_t n_train, n_val, px; /* px: pixels per image, C·H·W */
    int64_t cached_epoch;       /* the epoch whose order perm holds (−1: none) */
    int64_t *perm;              /* [n_train] */
    uint8_t *raw, *aug;         /* [batch, px] */
    float *x;                   /* [max(batch, 256), px] */
    int32_t *y;                 /* [batch] */
    float mean, std;
    char meta_buf[2048], labels[256];
    const char *meta[64]; /* the image model's metadata, NULL-terminated */
};

void attn_image_train_defaults(attn_image_train_config *c)
{
    if (!c) return;
    memset(c, 0, sizeof *c);
    c->model = (attn_vit_config){.image_size = 28, .channels = 1, .patch_size = 7, .d_model = 64,
                                 .nhead = 4, .num_layers = 6, .dim_feedforward = 128,
                                 .num_classes = 10, .dropout = 0, .activation = ATTN_ACT_GELU,
                                 .pooling = ATTN_POOL_FIRST, .pos = ATTN_VIT_POS_LEARNED};
    c->batch = 128;
    c->epochs = 36; /* validation 0.888 after 20 epochs, 0.905 after 28, 0.909 after 36 (BENCHMARKS.md) */
    c->val_size = 5000;
    c->warmup_steps = 500;
    c->eval_every = 0;
    c->lr = 2e-3f;
    c->min_lr_ratio = 0.01f;
    c->weight_decay = 0.05f;
    c->clip = 1.0f;
    c->label_smoothing = 0.1f;
    c->pad = 2;
    c->hflip = 1;
    c->seed = 1;
}

int attn_image_train_check(const attn_image_train_config *c, const attn_image_set *s)
{
    static const char fn[] = "attn_image_train_check";
    ATTN_REQUIRE_NONNULL(fn, c);
    const char *bad = NULL;
    if (c->batch < 1 || c->batch > (1 << 16)) bad = "batch (1..65536)";
    else if (c->epochs < 1 || c->epochs > 100000) bad = "epochs (1..100000)";
    else if (c->val_size < 1) bad = "val_size (at least 1)";
    else if (c->warmup_steps < 0) bad = "warmup_steps (at least 0)";
    else if (c->eval_every < 0) bad = "eval_every (at least 0)";
    else if (!(c->lr > 0 && c->lr < 10)) bad = "lr (0..10)";
    else if (!(c->min_lr_ratio >= 0 && c->min_lr_ratio <= 1)) bad = "min_lr_ratio (0..1)";
    else if (!(c->weight_decay >= 0 && c->weight_decay < 10)) bad = "weight_decay (0..10)";
    else if (!(c->clip >= 0 && c->clip < 1e9)) bad = "clip (0: none)";
    else if (!(c->label_smoothing >= 0 && c->label_smoothing < 1)) bad = "label_smoothing (0..1)";
    else if (c->average_last < 0 || c->average_last > 1000) bad = "average_last (0..1000)";
    else if (!(c->minutes >= 0 && c->minutes <= 1e7)) bad = "minutes (0..1e7)";
    else if (c->pad < 0 || c->pad > 64) bad = "pad (0..64)";
    if (bad) return attn_fail(ATTN_E_ARG, "%s: %s out of range", fn, bad);
    attn_vit *probe = NULL; /* the model's own checks, with their message */
    ATTN_TRY(attn_vit_create(&c->model, 0, &probe));
    attn_vit_free(probe);
    if (!s) return ATTN_OK;
    if (s->height != s->width || s->height != c->model.image_size ||
        s->channels != c->model.channels)
        return attn_fail(ATTN_E_ARG, "%s: the images are %lld×%lld×%lld, the model takes %lld×%lld×%lld",
                         fn, (long long)s->channels, (long long)s->height, (long long)s->width,
                         (long long)c->model.channels, (long long)c->model.image_size,
                         (long long)c->model.image_size);
    for (int64_t i = 0; i < s->n; i++)
        if (s->labels[i] >= c->model.num_classes)
            return attn_fail(ATTN_E_ARG, "%s: image %lld has label %d, the model has %lld classes",
                             fn, (long long)i, (int)s->labels[i], (long long)c->model.num_classes);
    if (s->n - c->val_size < c->batch)
        return attn_fail(ATTN_E_ARG,
                         "%s: %lld images less %lld for validation leave less than one batch of %lld",
                         fn, (long long)s->n, (long long)c->val_size, (long long)c->batch);
    return ATTN_OK;
}

void attn_image_task_free(attn_image_task *t)
{
    if (!t) return;
    free(t->perm), free(t->raw), free(t->aug), free(t->x), free(t->y);
    free(t);
}

int attn_image_task_create(const attn_image_train_config *c, const attn_image_set *s,
                           const attn_vit *m, attn_image_task **out)
{
    static const char fn[] = "attn_image_task_create";
    ATTN_REQUIRE_NONNULL(fn, c);
    ATTN_REQUIRE_NONNULL(fn, s);
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    ATTN_TRY(attn_image_train_check(c, s));
    if (memcmp(&m->cfg, &c->model, sizeof m->cfg))
        return attn_fail(ATTN_E_ARG, "%s: the model's configuration is not the task's", fn);
    attn_image_task *t = calloc(1, sizeof *t);
    if (!t) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    t->cfg = *c;
    t->s = s;
    t->m = m;
    t->n_val = c->val_size;
    t->n_train = s->n - c->val_size;
    t->px = s->channels * s->height * s->width;
    t->cached_epoch = -1;
    const int64_t xb = c->batch > 256 ? c->batch : 256;
    t->perm = malloc((size_t)t->n_train * sizeof *t->perm);
    t->raw = malloc((size_t)(c->batch * t->px));
    t->aug = malloc((size_t)(c->batch * t->px));
    t->x = malloc((size_t)(xb * t->px) * sizeof *t->x);
    t->y = malloc((size_t)c->batch * sizeof *t->y);
    if (!t->perm || !t->raw || !t->aug || !t->x || !t->y) {
        attn_image_task_free(t);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    }
    /* the training part's pixel statistics, in [0, 1] */
    double sum = 0, sq = 0;
    const int64_t npx = t->n_train * t->px;
    for (int64_t i = 0; i < npx; i++) {
        const double v = s->pixels[i] / 255.0;
        sum += v, sq += v * v;
    }
    const double mean = sum / (double)npx, var = sq / (double)npx - mean * mean;
    t->mean = (float)mean;
    t->std = var > 1e-12 ? (float)sqrt(var) : 1.0f;
    size_t at = 0;
    if (c->model.num_classes == 10) /* Fashion-MNIST's names, the data the defaults are for */
        for (int k = 0; k < 10; k++)
            at += (size_t)snprintf(t->labels + at, sizeof t->labels - at, "%s%s", k ? "," : "",
                                   attn_fashion_mnist_class_name(k));
    const int n = attn_image_model_meta(m, t->mean, t->std, at ? t->labels : NULL, t->meta_buf,
                                        sizeof t->meta_buf, t->meta, 62);
    if (n < 0) {
        attn_image_task_free(t);
        return n;
    }
    *out = t;
    return ATTN_OK;
}

int64_t attn_image_task_steps_per_epoch(const attn_image_task *t)
{
    return t ? t->n_train / t->cfg.batch : 0;
}

void attn_image_task_normalization(const attn_image_task *t, float *mean, float *std)
{
    if (!t) return;
    if (mean) *mean = t->mean;
    if (std) *std = t->std;
}

int attn_image_task_batch(const attn_image_task *tc, int64_t step, int64_t first, int64_t count,
                          float *x, int32_t *y)
{
    static const char fn[] = "attn_image_task_batch";
    ATTN_REQUIRE_NONNULL(fn, tc);
    ATTN_REQUIRE_NONNULL(fn, x);
    ATTN_REQUIRE_NONNULL(fn, y);
    attn_image_task *t = (attn_image_task *)tc; /* the order cache is not part of its value */
    const int64_t B = t->cfg.batch, spe = t->n_train / B;
    if (step < 0 || first < 0 || count < 1 || first + count > B)
        return attn_fail(ATTN_E_ARG, "%s: step %lld, slice [%lld, %lld) of a batch of %lld", fn,
                         (long long)step, (long long)first, (long long)(first + count),
                         (long long)B);
    const int64_t epoch = step / spe, b = step % spe;
    if (epoch != t->cached_epoch) {
        ATTN_TRY(attn_permutation(t->n_train, t->cfg.seed, (uint64_t)epoch, t->perm));
        t->cached_epoch = epoch;
    }
    for (int64_t j = 0; j < B; j++) {
        const int64_t idx = t->perm[b * B + j];
        memcpy(t->raw + j * t->px, t->s->pixels + idx * t->px, (size_t)t->px);
        t->y[j] = t->s->labels[idx];
    }
    const attn_augment_options ao = {.pad = t->cfg.pad, .hflip = t->cfg.hflip};
    ATTN_TRY(attn_image_augment(&ao, t->raw, B, t->s->channels, t->s->height, t->s->width,
                                t->cfg.seed + 1, (uint64_t)step, t->aug));
    ATTN_TRY(attn_image_normalize(t->aug + first * t->px, count * t->px, t->mean, t->std, x));
    memcpy(y, t->y + first, (size_t)count * sizeof *y);
    return ATTN_OK;
}

int attn_image_task_loss(attn_image_task *t, attn_tape *tp, int64_t step, int64_t first,
                         int64_t count, attn_var **loss)
{
    static const char fn[] = "attn_image_task_loss";
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, tp);
    ATTN_REQUIRE_NONNULL(fn, loss);
    ATTN_TRY(attn_image_task_batch(t, step, first, count, t->x, t->y));
    attn_var *logits;
    const attn_ce_options ce = {.ignore_index = -100, .label_smoothing = t->cfg.label_smoothing};
    ATTN_TRY(attn_tape_reset(tp));
    ATTN_TRY(attn_vit_forward(tp, t->m, t->x, count, &logits, NULL));
    return attn_op_cross_entropy(tp, logits, t->y, &ce, loss);
}

int attn_image_task_validate(attn_image_task *t, attn_tape *tp, double *accuracy, double *loss)
{
    static const char fn[] = "attn_image_task_validate";
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, tp);
    ATTN_REQUIRE_NONNULL(fn, accuracy);
    const int was_training = attn_tape_training(tp);
    attn_tape_set_training(tp, 0);
    int64_t right = 0;
    double nll = 0;
    int st = ATTN_OK;
    for (int64_t at = 0; st == ATTN_OK && at < t->n_val; at += 256) {
        const int64_t b = t->n_val - at < 256 ? t->n_val - at : 256, first = t->n_train + at;
        attn_var *logits = NULL;
        st = attn_image_normalize(t->s->pixels + first * t->px, b * t->px, t->mean, t->std, t->x);
        if (st == ATTN_OK) st = attn_tape_reset(tp);
        if (st == ATTN_OK) st = attn_vit_forward(tp, t->m, t->x, b, &logits, NULL);
        if (st != ATTN_OK) break;
        const int64_t C = logits->shape[1];
        for (int64_t i = 0; i < b; i++) {
            const float *row = logits->data + i * C;
            int64_t best = 0;
            for (int64_t k = 1; k < C; k++) best = row[k] > row[best] ? k : best;
            right += best == t->s->labels[first + i];
            double z = 0;
            for (int64_t k = 0; k < C; k++) z += exp((double)(row[k] - row[best]));
            nll += log(z) - (double)(row[t->s->labels[first + i]] - row[best]);
        }
    }
    attn_tape_set_training(tp, was_training);
    *accuracy = (double)right / (double)t->n_val;
    if (loss) *loss = nll / (double)t->n_val;
    return st;
}

/* ---- the callbacks of attn_train_run ---------------------------------------------------------- */

static int64_t total_steps(const attn_image_task *t) { return t->n_train / t->cfg.batch * t->cfg.epochs; }

static int cb_begin_epoch(void *ctx, int64_t epoch, int64_t step, int64_t *batches)
{
    (void)epoch;
    const attn_image_task *t = ctx;
    const int64_t every = t->cfg.eval_every ? t->cfg.eval_every : t->n_train / t->cfg.batch;
    const int64_t left = total_steps(t) - step, next = every - step % every;
    *batches = left < next ? left : next;
    return *batches > 0 ? ATTN_OK : attn_fail(ATTN_E_STATE, "attn_image_task: no step left at %lld", (long long)step);
}

static int cb_batch_loss(void *ctx, attn_tape *tp, const attn_train_batch *b, attn_var **loss,
                         double *weight, double *total)
{
    attn_image_task *t = ctx;
    const int64_t B = t->cfg.batch;
    if (B % b->ranks)
        return attn_fail(ATTN_E_ARG, "attn_image_task: batch %lld does not split evenly over %d ranks",
                         (long long)B, b->ranks);
    const int64_t share = B / b->ranks;
    *weight = (double)share, *total = (double)B;
    return attn_image_task_loss(t, tp, b->step, b->rank * share, share, loss);
}

static int cb_validate(void *ctx, attn_tape *tp, double *metric, double *loss)
{
    return attn_image_task_validate(ctx, tp, metric, loss);
}

attn_train_task attn_image_task_get(attn_image_task *t)
{
    return (attn_train_task){.ctx = t, .begin_epoch = cb_begin_epoch, .batch_loss = cb_batch_loss,
                             .validate = cb_validate, .meta = t ? t->meta : NULL};
}

/* Everything that decides the run's steps, as text, in the data hash. */
static uint64_t config_hash(const attn_image_train_config *c)
{
    char buf[1024];
    const attn_vit_config *m = &c->model;
    int n = snprintf(buf, sizeof buf,
                     "vit %lld %lld %lld %lld %lld %lld %lld %lld %.9g %d %d %d | %lld %lld %lld %lld "
                     "%lld %.9g %.9g %.9g %.9g %.9g %d %d %llu",
                     (long long)m->image_size, (long long)m->channels, (long long)m->patch_size,
                     (long long)m->d_model, (long long)m->nhead, (long long)m->num_layers,
                     (long long)m->dim_feedforward, (long long)m->num_classes, (double)m->dropout,
                     (int)m->activation, (int)m->pooling, (int)m->pos, (long long)c->batch,
                     (long long)c->epochs, (long long)c->val_size, (long long)c->warmup_steps,
                     (long long)c->eval_every, (double)c->lr, (double)c->min_lr_ratio,
                     (double)c->weight_decay, (double)c->clip, (double)c->label_smoothing, c->pad,
                     c->hflip, (unsigned long long)c->seed);
    return attn_hash64(ATTN_HASH64_INIT, buf, (size_t)n);
}

void attn_image_task_configure(const attn_image_task *t, attn_train_config *cfg)
{
    if (!t || !cfg) return;
    const attn_image_train_config *c = &t->cfg;
    const int64_t steps = total_steps(t), every = c->eval_every ? c->eval_every : t->n_train / c->batch;
    cfg->epochs = (steps + every - 1) / every;
    cfg->optim = (attn_optim_config){.kind = ATTN_OPTIM_ADAMW, .beta1 = 0.9f, .beta2 = 0.999f,
                                     .eps = 1e-8f, .weight_decay = c->weight_decay};
    cfg->schedule = (attn_schedule){ATTN_SCHEDULE_COSINE, c->lr, c->warmup_steps, steps, c->min_lr_ratio};
    if (c->minutes > 0) { /* time decides the end: the budget schedule, replanned each epoch */
        cfg->max_seconds = 60 * c->minutes;
        cfg->budget = 1;
        cfg->schedule.kind = ATTN_SCHEDULE_CONSTANT;
    }
    cfg->clip = c->clip;
    cfg->average_last = c->average_last;
    const attn_image_set *s = t->s;
    uint64_t h = attn_hash64(config_hash(c), s->pixels, (size_t)(s->n * t->px));
    cfg->data_hash = attn_hash64(h, s->labels, (size_t)s->n * sizeof *s->labels);
    cfg->metric_name = "val_acc";
    cfg->items_name = "images";
}
