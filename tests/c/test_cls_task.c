/* test_cls_task.c — the classification task of attn/train.h: the epoch orders are the ones the
 * old command drew (its private generator kept here as the reference), batches are sorted
 * slices; a batch split over ranks gives the whole batch's loss; validation's loss and accuracy
 * agree with a direct computation from the probabilities; a run learns a separable task; the
 * evaluation report against counts by hand; bad data is refused. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attn.h"

/* ---- the old command's epoch order (tools/attn/classify_train.c before the move) ---- */
static uint64_t old_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
static void old_shuffle(int64_t *a, int64_t n, uint64_t *state)
{
    for (int64_t i = n - 1; i > 0; i--) {
        *state = old_mix64(*state);
        int64_t j = (int64_t)(*state % (uint64_t)(i + 1)), t = a[i];
        a[i] = a[j], a[j] = t;
    }
}
static const attn_cls_data *old_set;
static int old_by_len(const void *a, const void *b)
{
    int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
    int64_t li = old_set->off[i + 1] - old_set->off[i], lj = old_set->off[j + 1] - old_set->off[j];
    return li < lj ? -1 : li > lj ? 1 : (i > j) - (i < j);
}
static void old_epoch_order(const attn_cls_data *s, int64_t bs, uint64_t seed, int e, int64_t *order)
{
    uint64_t state = old_mix64(seed * 1000003u + (uint64_t)e);
    for (int64_t i = 0; i < s->n; i++) order[i] = i;
    old_shuffle(order, s->n, &state);
    int64_t chunk = bs * 50;
    old_set = s;
    for (int64_t c = 0; c < s->n; c += chunk)
        qsort(order + c, (size_t)(s->n - c < chunk ? s->n - c : chunk), sizeof *order, old_by_len);
    int64_t nb = (s->n + bs - 1) / bs;
    int64_t *perm = malloc((size_t)nb * sizeof *perm), *tmp = malloc((size_t)s->n * sizeof *tmp);
    for (int64_t b = 0; b < nb; b++) perm[b] = b;
    old_shuffle(perm, nb, &state);
    int64_t k = 0;
    for (int64_t b = 0; b < nb; b++)
        for (int64_t i = perm[b] * bs; i < s->n && i < (perm[b] + 1) * bs; i++) tmp[k++] = order[i];
    memcpy(order, tmp, (size_t)s->n * sizeof *order);
    free(perm), free(tmp);
}

/* n sequences of lengths 0..max_len over vocab V; label 1 when token 3 occurs (a separable
 * task), with `classes` classes (labels ≥ 2 never occur unless classes > 2: then label 2 when
 * token 4 occurs and 3 does not). */
static void make_set(attn_cls_data *d, int64_t n, int64_t max_len, int V, int classes, uint64_t seed)
{
    d->n = n;
    d->off = malloc((size_t)(n + 1) * sizeof *d->off);
    d->ids = malloc((size_t)(n * max_len + 1) * sizeof *d->ids);
    d->label = malloc((size_t)n * sizeof *d->label);
    uint64_t s = seed;
    d->off[0] = 0;
    for (int64_t i = 0; i < n; i++) {
        const int64_t L = 1 + (int64_t)(attn_splitmix64(&s) % (uint64_t)max_len);
        int has3 = 0, has4 = 0;
        for (int64_t k = 0; k < L; k++) {
            int32_t id = 5 + (int32_t)(attn_splitmix64(&s) % (uint64_t)(V - 5));
            if (k == 0 && attn_splitmix64(&s) % 2) id = 3;
            if (k == 1 && classes > 2 && attn_splitmix64(&s) % 3 == 0) id = 4;
            has3 |= id == 3, has4 |= id == 4;
            d->ids[d->off[i] + k] = id;
        }
        d->off[i + 1] = d->off[i] + L;
        d->label[i] = has3 ? 1 : (classes > 2 && has4) ? 2 : 0;
    }
}

static void free_set(attn_cls_data *d)
{
    free(d->off), free(d->ids), free(d->label);
}

static attn_classifier *model(int classes, int64_t max_len, float dropout)
{
    attn_classifier_config c = {.vocab = 20, .d_model = 16, .nhead = 2, .num_layers = 1, .dim_feedforward = 32,
                                .max_len = max_len, .num_classes = classes, .dropout = dropout,
                                .activation = ATTN_ACT_GELU, .norm_first = 1, .pooling = ATTN_POOL_MEAN, .pad_id = 0};
    attn_classifier *m = NULL;
    cr_assert_eq(attn_classifier_create(&c, 3, &m), ATTN_OK, "%s", attn_last_error());
    return m;
}

Test(cls_task, epoch_order_is_the_old_commands_and_batches_are_sorted)
{
    attn_cls_data d;
    make_set(&d, 1234, 40, 20, 2, 5);
    int64_t *a = malloc(1234 * sizeof *a), *b = malloc(1234 * sizeof *b), *seen = calloc(1234, sizeof *seen);
    for (int e = 0; e < 3; e++)
        for (int64_t bs = 1; bs <= 32; bs += 31) { /* bs 32: chunks of 1,600 hold all; bs 1: 50-row chunks */
            cr_assert_eq(attn_cls_epoch_order(&d, bs, 77, e, a), ATTN_OK);
            old_epoch_order(&d, bs, 77, e, b);
            cr_assert_eq(memcmp(a, b, 1234 * sizeof *a), 0, "epoch %d batch %lld: not the old order", e, (long long)bs);
        }
    /* a permutation; every batch of 2 (617 of them, chunks of 100) nondecreasing in length */
    cr_assert_eq(attn_cls_epoch_order(&d, 2, 9, 1, a), ATTN_OK);
    for (int64_t i = 0; i < 1234; i++) seen[a[i]]++;
    for (int64_t i = 0; i < 1234; i++) cr_assert_eq(seen[i], 1);
    for (int64_t i = 0; i < 1234; i += 2) {
        const int64_t l0 = d.off[a[i] + 1] - d.off[a[i]], l1 = d.off[a[i + 1] + 1] - d.off[a[i + 1]];
        cr_assert_leq(l0, l1, "batch %lld: lengths %lld, %lld", (long long)i / 2, (long long)l0, (long long)l1);
    }
    cr_assert_eq(attn_cls_epoch_order(&d, 2, 9, 2, b), ATTN_OK);
    cr_assert_neq(memcmp(a, b, 1234 * sizeof *a), 0, "epochs 1 and 2 have the same order");
    free(a), free(b), free(seen);
    free_set(&d);
}

Test(cls_task, ranks_shares_sum_to_the_batch_and_validation_matches_probabilities)
{
    attn_classifier *m = model(3, 12, 0);
    attn_cls_data tr, va;
    make_set(&tr, 50, 12, 20, 3, 1);
    make_set(&va, 37, 12, 20, 3, 2);
    attn_cls_task *ct = NULL;
    const attn_cls_task_config kc = {.batch = 9, .label_smoothing = 0.1f, .seed = 4, .eval_batch = 5};
    cr_assert_eq(attn_cls_task_create(m, &tr, &va, &kc, &ct), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(attn_cls_task_batches(ct), 6);
    attn_train_task task = attn_cls_task_get(ct);
    attn_tape *t;
    attn_tape_config tc = {.num_threads = 1};
    cr_assert_eq(attn_tape_create(&tc, &t), ATTN_OK);
    int64_t nb = 0;
    cr_assert_eq(task.begin_epoch(task.ctx, 0, 0, &nb), ATTN_OK);
    cr_assert_eq(nb, 6);
    for (int64_t bi = 0; bi < nb; bi++) {
        attn_var *loss;
        double w, total, whole;
        attn_train_batch b = {.index = bi, .count = nb, .rank = 0, .ranks = 1};
        cr_assert_eq(task.batch_loss(task.ctx, t, &b, &loss, &w, &total), ATTN_OK);
        whole = loss->data[0];
        cr_assert_eq(w, total);
        cr_assert_eq(total, bi == nb - 1 ? 50 - 45 : 9, "batch %lld of %g", (long long)bi, total);
        for (int ranks = 2; ranks <= 4; ranks++) {
            double sum = 0, wsum = 0;
            for (int r = 0; r < ranks; r++) {
                b.rank = r, b.ranks = ranks;
                cr_assert_eq(task.batch_loss(task.ctx, t, &b, &loss, &w, &total), ATTN_OK);
                if (w > 0) sum += loss->data[0] * w;
                wsum += w;
            }
            cr_assert_eq(wsum, total);
            cr_assert_float_eq(sum / total, whole, 1e-5, "batch %lld at %d ranks: %g vs %g", (long long)bi, ranks,
                               sum / total, whole);
        }
    }
    /* validation = accuracy and the label-smoothed loss from the predicted probabilities */
    double metric, vloss;
    cr_assert_eq(task.validate(task.ctx, t, &metric, &vloss), ATTN_OK);
    float *p = malloc(37 * 3 * sizeof *p);
    cr_assert_eq(attn_classifier_predict(m, t, &va, 4, p), ATTN_OK);
    double want = 0;
    int64_t right = 0;
    for (int64_t i = 0; i < 37; i++) {
        double all = 0;
        int64_t k = 0;
        for (int c = 0; c < 3; c++) all += log(p[i * 3 + c]), k = p[i * 3 + c] > p[i * 3 + k] ? c : k;
        want += -0.9 * log(p[i * 3 + va.label[i]]) - 0.1 / 3 * all;
        right += k == va.label[i];
    }
    cr_assert_float_eq(vloss, want / 37, 1e-5, "validation loss %g, from the probabilities %g", vloss, want / 37);
    cr_assert_float_eq(metric, (double)right / 37, 1e-12);
    free(p);
    attn_tape_free(t);
    attn_cls_task_free(ct);
    attn_classifier_free(m);
    free_set(&tr), free_set(&va);
}

Test(cls_task, a_run_learns_a_separable_task)
{
    attn_classifier *m = model(2, 10, 0.1f);
    attn_cls_data tr, va;
    make_set(&tr, 400, 10, 20, 2, 11);
    make_set(&va, 100, 10, 20, 2, 12);
    attn_cls_task *ct = NULL;
    const attn_cls_task_config kc = {.batch = 16, .label_smoothing = 0.1f, .seed = 1};
    cr_assert_eq(attn_cls_task_create(m, &tr, &va, &kc, &ct), ATTN_OK, "%s", attn_last_error());
    attn_tape *t;
    attn_tape_config tc = {.num_threads = 1, .seed = 2};
    cr_assert_eq(attn_tape_create(&tc, &t), ATTN_OK);
    attn_train_task task = attn_cls_task_get(ct);
    attn_train_config c = {.epochs = 4, .optim = {.kind = ATTN_OPTIM_ADAMW, .weight_decay = 0.01f},
                           .schedule = {ATTN_SCHEDULE_COSINE, 3e-3f, 10, 100, 0}, .clip = 1};
    attn_train_result r;
    cr_assert_eq(attn_train_run(&c, &task, m->P, t, &r), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(r.state.step, 100);
    cr_assert_gt(r.best_metric, 0.95, "validation accuracy %g after 4 epochs", r.best_metric);
    attn_tape_free(t);
    attn_cls_task_free(ct);
    attn_classifier_free(m);
    free_set(&tr), free_set(&va);
}

static int stop_after_epoch_2(void *user, const attn_train_event *e)
{
    (void)user;
    return e->kind == ATTN_TRAIN_EPOCH && e->epoch == 1;
}

static void read_all(const char *path, char **buf, long *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    rewind(f);
    *buf = malloc((size_t)*n);
    cr_assert_eq(fread(*buf, 1, (size_t)*n, f), (size_t)*n);
    fclose(f);
}

/* 4 epochs with dropout in one go, and stopped after 2 then resumed: the same files, bit for bit */
Test(cls_task, a_stopped_run_resumes_bit_identical)
{
    attn_cls_data tr, va;
    make_set(&tr, 120, 10, 20, 2, 21);
    make_set(&va, 30, 10, 20, 2, 22);
    char dirs[2][64];
    char *model_bytes[2];
    long model_len[2];
    for (int run = 0; run < 2; run++) {
        snprintf(dirs[run], sizeof dirs[run], "/tmp/attn_cls_task_%d_%d", (int)getpid(), run);
        for (int part = 0; part < (run ? 2 : 1); part++) {
            attn_classifier *m = model(2, 10, 0.1f);
            attn_cls_task *ct = NULL;
            const attn_cls_task_config kc = {.batch = 16, .label_smoothing = 0.1f, .seed = 3};
            cr_assert_eq(attn_cls_task_create(m, &tr, &va, &kc, &ct), ATTN_OK, "%s", attn_last_error());
            attn_tape *t;
            attn_tape_config tc = {.num_threads = 1, .seed = 5};
            cr_assert_eq(attn_tape_create(&tc, &t), ATTN_OK);
            attn_train_task task = attn_cls_task_get(ct);
            attn_train_config c = {.out_dir = dirs[run], .resume = part == 1, .epochs = 4,
                                   .optim = {.kind = ATTN_OPTIM_ADAMW, .weight_decay = 0.01f},
                                   .schedule = {ATTN_SCHEDULE_COSINE, 3e-3f, 4, 32, 0}, .clip = 1,
                                   .metric_name = "val_acc",
                                   .progress = run == 1 && part == 0 ? stop_after_epoch_2 : NULL};
            attn_train_result r;
            cr_assert_eq(attn_train_run(&c, &task, m->P, t, &r), ATTN_OK, "%s", attn_last_error());
            cr_assert_eq(r.state.step, run == 1 && part == 0 ? 16 : 32, "run %d part %d", run, part);
            attn_tape_free(t);
            attn_cls_task_free(ct);
            attn_classifier_free(m);
        }
        char path[224];
        snprintf(path, sizeof path, "%s/model.safetensors", dirs[run]);
        read_all(path, &model_bytes[run], &model_len[run]);
    }
    cr_assert_eq(model_len[0], model_len[1]);
    cr_assert_eq(memcmp(model_bytes[0], model_bytes[1], (size_t)model_len[0]), 0, "the resumed run's last model differs");
    for (int run = 0; run < 2; run++) {
        const char *names[] = {"model.safetensors", "best.safetensors", "run.safetensors", "metrics.csv"};
        char path[224];
        for (int i = 0; i < 4; i++) snprintf(path, sizeof path, "%s/%s", dirs[run], names[i]), remove(path);
        rmdir(dirs[run]);
        free(model_bytes[run]);
    }
    free_set(&tr), free_set(&va);
}

Test(cls_task, evaluation_report_by_hand)
{
    /* 3 classes, 6 examples: true 0 0 1 1 2 2; predicted 0 1 1 1 0 2 (a tie in row 5: the first) */
    const float p[18] = {0.8f, 0.1f, 0.1f, 0.2f, 0.7f, 0.1f, 0.1f, 0.6f, 0.3f,
                         0.3f, 0.4f, 0.3f, 0.4f, 0.2f, 0.4f, 0.1f, 0.2f, 0.7f};
    const int32_t y[6] = {0, 0, 1, 1, 2, 2};
    attn_cls_report r;
    cr_assert_eq(attn_cls_evaluate(p, y, 6, 3, &r), ATTN_OK);
    const int64_t conf[9] = {1, 1, 0, 0, 2, 0, 1, 0, 1};
    for (int i = 0; i < 9; i++) cr_assert_eq(r.confusion[i], conf[i], "cell %d", i);
    cr_assert_float_eq(r.accuracy, 4.0 / 6, 1e-12);
    const double prec[3] = {0.5, 2.0 / 3, 1}, rec[3] = {0.5, 1, 0.5};
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(r.support[k], 2);
        cr_assert_float_eq(r.precision[k], prec[k], 1e-12);
        cr_assert_float_eq(r.recall[k], rec[k], 1e-12);
        cr_assert_float_eq(r.f1[k], 2 * prec[k] * rec[k] / (prec[k] + rec[k]), 1e-12);
    }
    attn_cls_report_free(&r);
    const int32_t bad[6] = {0, 0, 1, 3, 2, 2};
    cr_assert_eq(attn_cls_evaluate(p, bad, 6, 3, &r), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "example 3"), "%s", attn_last_error());
}

Test(cls_task, bad_data_is_refused)
{
    attn_classifier *m = model(2, 12, 0);
    attn_cls_data tr;
    make_set(&tr, 20, 12, 20, 2, 1);
    attn_cls_task *ct = NULL;
    attn_cls_task_config kc = {.batch = 4};
    tr.label[7] = 2;
    cr_assert_eq(attn_cls_task_create(m, &tr, NULL, &kc, &ct), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "sequence 7 has label 2"), "%s", attn_last_error());
    tr.label[7] = 0, tr.ids[tr.off[3]] = 20;
    cr_assert_eq(attn_cls_task_create(m, &tr, NULL, &kc, &ct), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "token 20"), "%s", attn_last_error());
    tr.ids[tr.off[3]] = 5;
    kc.batch = 0;
    cr_assert_eq(attn_cls_task_create(m, &tr, NULL, &kc, &ct), ATTN_E_ARG);
    kc.batch = 4;
    cr_assert_eq(attn_cls_task_create(m, &tr, NULL, &kc, &ct), ATTN_OK);
    cr_assert_null(attn_cls_task_get(ct).validate, "no validation set: no validate");
    attn_cls_task_free(ct);
    attn_classifier_free(m);
    free_set(&tr);
}
