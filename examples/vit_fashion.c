/* vit_fashion.c — a short Vision Transformer training on a Fashion-MNIST subset.
 *
 * Data: the first --train images of Debian's dataset-fashion-mnist training file, and the last
 * --heldout images of the same file as held-out images (the test file is left alone). Each
 * step takes the next --batch images of an epoch order (attn_permutation(n, seed, epoch)),
 * augments them (random crop with 2-pixel padding, horizontal flips; stream seed + 1, counter =
 * step), normalises them and runs one AdamW step (warm-up, cosine decay, clipping at 1).
 * bench/torch_vit.py trains the same model from the same initial weights on the same batches.
 *
 *   vit_fashion [--steps 300] [--train 2000] [--heldout 1000] [--batch 64] [--patch 7]
 *               [--d 48] [--layers 2] [--heads 4] [--pool cls|mean] [--pos learned|sincos]
 *               [--lr 2e-3] [--threads 2] [--seed 1] [--min-acc 0.5] [--data DIR]
 * Prints the held-out accuracy, the time and patches/s ("result: ..." line); exits non-zero
 * when the accuracy is below --min-acc. Without the dataset it says so and exits 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attn.h"

#define TRY(x)                                                                                 \
    do {                                                                                       \
        int st_ = (x);                                                                         \
        if (st_ < 0) {                                                                         \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, attn_status_string(st_),      \
                    attn_last_error());                                                        \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

static const float MEAN = 0.2860f, STD = 0.3530f; /* Fashion-MNIST's training pixels */

static double now(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct opts {
    long steps, train, heldout, batch, patch, d, layers, heads, threads, seed;
    int pool_cls, sincos;
    double lr, min_acc;
    const char *data;
} opts;

static void parse(int argc, char **argv, opts *o)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        long n = strtol(v, NULL, 10);
        if (!strcmp(k, "--steps")) o->steps = n;
        else if (!strcmp(k, "--train")) o->train = n;
        else if (!strcmp(k, "--heldout")) o->heldout = n;
        else if (!strcmp(k, "--batch")) o->batch = n;
        else if (!strcmp(k, "--patch")) o->patch = n;
        else if (!strcmp(k, "--d")) o->d = n;
        else if (!strcmp(k, "--layers")) o->layers = n;
        else if (!strcmp(k, "--heads")) o->heads = n;
        else if (!strcmp(k, "--threads")) o->threads = n;
        else if (!strcmp(k, "--seed")) o->seed = n;
        else if (!strcmp(k, "--pool")) o->pool_cls = !strcmp(v, "cls");
        else if (!strcmp(k, "--pos")) o->sincos = !strcmp(v, "sincos");
        else if (!strcmp(k, "--lr")) o->lr = strtod(v, NULL);
        else if (!strcmp(k, "--min-acc")) o->min_acc = strtod(v, NULL);
        else if (!strcmp(k, "--data")) o->data = v;
        else {
            fprintf(stderr, "unknown option %s\n", k);
            exit(2);
        }
    }
}

/* A checksum of the batches (pixels after augmentation, labels) that bench/torch_vit.py
 * computes the same way: h = (h·1000003 + v mod M) mod M, M = 2^31 − 1, with
 * v = Σ_k aug[k]·(k + 1) + Σ_j y[j]·(j + 1) over the batch. */
static uint64_t batch_hash(uint64_t h, const uint8_t *aug, const int32_t *y, int64_t B, int64_t px)
{
    const uint64_t M = 2147483647u;
    uint64_t v = 0;
    for (int64_t k = 0; k < B * px; k++) v += (uint64_t)aug[k] * (uint64_t)(k + 1);
    for (int64_t j = 0; j < B; j++) v += (uint64_t)y[j] * (uint64_t)(j + 1);
    return (h * 1000003u + v % M) % M;
}

/* Held-out accuracy, in evaluation mode, 250 images at a time. */
static double accuracy(attn_tape *t, const attn_vit *m, const attn_image_set *s, int64_t first,
                       int64_t n, float *x)
{
    const int64_t px = s->height * s->width;
    int64_t right = 0;
    attn_tape_set_training(t, 0);
    for (int64_t at = 0; at < n; at += 250) {
        int64_t b = n - at < 250 ? n - at : 250;
        TRY(attn_image_normalize(s->pixels + (first + at) * px, b * px, MEAN, STD, x));
        TRY(attn_tape_reset(t));
        attn_var *logits;
        TRY(attn_vit_forward(t, m, x, b, &logits, NULL));
        const int64_t C = logits->shape[1];
        for (int64_t i = 0; i < b; i++) {
            const float *row = logits->data + i * C;
            int64_t best = 0;
            for (int64_t c = 1; c < C; c++) best = row[c] > row[best] ? c : best;
            right += best == s->labels[first + at + i];
        }
    }
    attn_tape_set_training(t, 1);
    return (double)right / (double)n;
}

int main(int argc, char **argv)
{
    opts o = {.steps = 300, .train = 2000, .heldout = 1000, .batch = 64, .patch = 7, .d = 48,
              .layers = 2, .heads = 4, .threads = 2, .seed = 1, .pool_cls = 1, .lr = 2e-3,
              .min_acc = 0.5};
    parse(argc, argv, &o);
    attn_image_set *s;
    if (attn_fashion_mnist_load(o.data, "train", &s) != ATTN_OK) {
        printf("skipped: no Fashion-MNIST (%s); scripts/deps.sh installs dataset-fashion-mnist\n",
               attn_last_error());
        return 0;
    }
    if (o.train < o.batch || o.heldout < 1 || o.train + o.heldout > s->n) {
        fprintf(stderr, "--train %ld + --heldout %ld must fit in %lld images (train ≥ batch)\n",
                o.train, o.heldout, (long long)s->n);
        return 2;
    }
    attn_set_num_threads((int)o.threads);
    attn_vit_config cfg = {.image_size = s->height, .channels = 1, .patch_size = o.patch,
                           .d_model = o.d, .nhead = o.heads, .num_layers = o.layers,
                           .dim_feedforward = 2 * o.d, .num_classes = 10,
                           .activation = ATTN_ACT_GELU,
                           .pooling = o.pool_cls ? ATTN_POOL_FIRST : ATTN_POOL_MEAN,
                           .pos = o.sincos ? ATTN_VIT_POS_SINCOS : ATTN_VIT_POS_LEARNED};
    attn_vit *m;
    TRY(attn_vit_create(&cfg, (uint64_t)o.seed, &m));
    attn_tape *t;
    attn_tape_config tc = {.num_threads = (int)o.threads, .seed = (uint64_t)o.seed};
    TRY(attn_tape_create(&tc, &t));
    attn_optim *opt;
    attn_optim_config oc = {.kind = ATTN_OPTIM_ADAMW, .weight_decay = 0.05f};
    TRY(attn_optim_create(m->P, &oc, &opt));
    attn_schedule sched = {ATTN_SCHEDULE_COSINE, (float)o.lr, o.steps / 10, o.steps, 0.05f};

    const int64_t px = s->height * s->width, B = o.batch, n = o.train;
    const int64_t heldout_first = s->n - o.heldout;
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    uint8_t *raw = malloc((size_t)(B * px)), *aug = malloc((size_t)(B * px));
    int32_t *y = malloc((size_t)B * sizeof *y);
    float *x = malloc((size_t)(250 * px) * sizeof *x);
    if (!perm || !raw || !aug || !y || !x) return 1;
    printf("vit_fashion: %ld steps of %lld images from %lld (held out %ld), patch %ld (%lld "
           "tokens), d %ld, %ld layers, %ld heads, %s pooling, %s positions, %lld parameters, "
           "%ld threads\n", o.steps, (long long)B, (long long)n, o.heldout, o.patch,
           (long long)m->tokens, o.d, o.layers, o.heads, o.pool_cls ? "cls" : "mean",
           o.sincos ? "sincos" : "learned", (long long)attn_params_numel(m->P), o.threads);
    double acc0 = accuracy(t, m, s, heldout_first, o.heldout, x);
    double t0 = now(), loss_sum = 0;
    uint64_t data_hash = 0;
    int64_t epoch = -1;
    attn_ce_options ce = {.ignore_index = -100};
    for (long step = 0; step < o.steps; step++) {
        for (int64_t j = 0; j < B; j++) {
            int64_t p = step * B + j;
            if (p / n != epoch) TRY(attn_permutation(n, (uint64_t)o.seed, (uint64_t)(epoch = p / n), perm));
            int64_t idx = perm[p % n];
            memcpy(raw + j * px, s->pixels + idx * px, (size_t)px);
            y[j] = s->labels[idx];
        }
        attn_augment_options ao = {.pad = 2, .hflip = 1};
        TRY(attn_image_augment(&ao, raw, B, 1, s->height, s->width, (uint64_t)o.seed + 1,
                               (uint64_t)step, aug));
        data_hash = batch_hash(data_hash, aug, y, B, px);
        TRY(attn_image_normalize(aug, B * px, MEAN, STD, x));
        TRY(attn_tape_reset(t));
        attn_var *logits, *loss;
        TRY(attn_vit_forward(t, m, x, B, &logits, NULL));
        TRY(attn_op_cross_entropy(t, logits, y, &ce, &loss));
        attn_params_zero_grad(m->P);
        TRY(attn_tape_backward(t, loss, NULL));
        TRY(attn_clip_grad_norm(m->P, 1.0f, NULL));
        TRY(attn_optim_step(opt, attn_schedule_lr(&sched, step)));
        loss_sum += loss->data[0];
        if ((step + 1) % 50 == 0 || step + 1 == o.steps) {
            printf("step %4ld  loss %.4f  %.1f s\n", step + 1, loss_sum / 50, now() - t0);
            fflush(stdout);
            loss_sum = 0;
        }
    }
    double secs = now() - t0;
    double acc = accuracy(t, m, s, heldout_first, o.heldout, x);
    double patches = (double)o.steps * (double)B * (double)(m->tokens - (o.pool_cls ? 1 : 0));
    printf("held-out accuracy %.4f (%.4f before training, chance 0.1) after %ld steps in %.1f s\n",
           acc, acc0, o.steps, secs);
    printf("result: impl=attn steps=%ld batch=%lld acc=%.4f train_s=%.2f patches_per_s=%.0f "
           "images_per_s=%.1f data_hash=%llu\n", o.steps, (long long)B, acc, secs,
           patches / secs, (double)o.steps * (double)B / secs, (unsigned long long)data_hash);
    free(perm), free(raw), free(aug), free(y), free(x);
    attn_optim_free(opt);
    attn_tape_free(t);
    attn_vit_free(m);
    attn_image_set_free(s);
    if (acc < o.min_acc) {
        fprintf(stderr, "FAIL: held-out accuracy %.4f below %.2f\n", acc, o.min_acc);
        return 1;
    }
    return 0;
}
