/* test_image.c — the image task and image models (attn/image.h) on a small synthetic image set:
 * a batch does not depend on how it is split between ranks, the task's validation accuracy and
 * attn_image_evaluate's confusion matrix agree with predictions counted here, a checkpoint
 * written with the task's metadata reloads to the same predictions, the class token's maps sum
 * to 1, and bad arguments fail with a message. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attn.h"

enum { N = 96, S = 8, CLASSES = 3 };

/* Images whose class is which third of the image is bright, with noise. */
static attn_image_set *make_set(void)
{
    attn_image_set *s = calloc(1, sizeof *s);
    s->n = N, s->channels = 1, s->height = S, s->width = S, s->num_classes = CLASSES;
    s->pixels = malloc(N * S * S);
    s->labels = malloc(N);
    uint64_t r = 5;
    for (int i = 0; i < N; i++) {
        s->labels[i] = (uint8_t)(i % CLASSES);
        for (int p = 0; p < S * S; p++) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            const int band = (p % S) * CLASSES / S;
            s->pixels[i * S * S + p] = (uint8_t)((band == s->labels[i] ? 180 : 20) + (r >> 59));
        }
    }
    return s;
}

static void free_set(attn_image_set *s)
{
    free(s->pixels), free(s->labels), free(s);
}

static attn_image_train_config small_config(void)
{
    attn_image_train_config c;
    attn_image_train_defaults(&c);
    c.model = (attn_vit_config){.image_size = S, .channels = 1, .patch_size = 4, .d_model = 16,
                                .nhead = 2, .num_layers = 2, .dim_feedforward = 32,
                                .num_classes = CLASSES, .activation = ATTN_ACT_GELU,
                                .pooling = ATTN_POOL_FIRST, .pos = ATTN_VIT_POS_LEARNED};
    c.batch = 16, c.epochs = 15, c.val_size = 32, c.warmup_steps = 4;
    c.hflip = 0, c.pad = 1; /* a flip would swap the classes of these images */
    return c;
}

Test(image, batch_slices_do_not_depend_on_the_split)
{
    attn_image_set *s = make_set();
    attn_image_train_config c = small_config();
    attn_vit *m;
    cr_assert_eq(attn_vit_create(&c.model, 1, &m), ATTN_OK);
    attn_image_task *t;
    cr_assert_eq(attn_image_task_create(&c, s, m, &t), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(attn_image_task_steps_per_epoch(t), (N - 32) / 16);
    float whole[16 * S * S], part[8 * S * S];
    int32_t yw[16], yp[8];
    for (int64_t step = 0; step < 9; step += 4) { /* step 4 is in the second epoch */
        cr_assert_eq(attn_image_task_batch(t, step, 0, 16, whole, yw), ATTN_OK);
        for (int half = 0; half < 2; half++) {
            cr_assert_eq(attn_image_task_batch(t, step, 8 * half, 8, part, yp), ATTN_OK);
            cr_assert(!memcmp(part, whole + 8 * half * S * S, sizeof part), "step %lld half %d", (long long)step, half);
            cr_assert(!memcmp(yp, yw + 8 * half, sizeof yp));
        }
        for (int j = 0; j < 16; j++) cr_assert(yw[j] >= 0 && yw[j] < CLASSES);
    }
    /* a slice past the batch is an error, with a message */
    cr_assert_eq(attn_image_task_batch(t, 0, 10, 8, part, yp), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "slice") != NULL);
    attn_image_task_free(t);
    attn_vit_free(m);
    free_set(s);
}

Test(image, validation_evaluation_and_reload_agree)
{
    attn_image_set *s = make_set();
    attn_image_train_config c = small_config();
    char dir[] = "/tmp/attn_image_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    attn_train_result res;
    cr_assert_eq(attn_image_train_run(&c, s, dir, 0, NULL, NULL, NULL, &res), ATTN_OK, "%s", attn_last_error());
    char path[256];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    attn_image_model *m;
    cr_assert_eq(attn_image_model_load(path, &m), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(m->classes, CLASSES);
    cr_assert_str_eq(m->labels[2], "2"); /* three classes: no Fashion-MNIST names */
    /* the validation part (the last 32 images) counted here, against the task's figure */
    int32_t pred[N];
    float probs[N * CLASSES];
    cr_assert_eq(attn_image_model_predict(m, s->pixels, N, pred, probs), ATTN_OK);
    int right_val = 0;
    for (int i = N - 32; i < N; i++) right_val += pred[i] == s->labels[i];
    attn_tape *tp;
    attn_tape_config tc = {0};
    cr_assert_eq(attn_tape_create(&tc, &tp), ATTN_OK);
    attn_image_task *t;
    cr_assert_eq(attn_image_task_create(&c, s, m->vit, &t), ATTN_OK);
    double acc, loss;
    cr_assert_eq(attn_image_task_validate(t, tp, &acc, &loss), ATTN_OK);
    cr_assert_float_eq(acc, right_val / 32.0, 1e-12);
    cr_assert(loss > 0 && isfinite(loss));
    cr_assert(acc > 0.6, "validation accuracy %g after 15 epochs on an easy task", acc);
    /* the confusion matrix against the predictions */
    attn_image_eval e;
    cr_assert_eq(attn_image_evaluate(m, s, &e), ATTN_OK);
    int64_t conf[CLASSES * CLASSES] = {0}, right = 0;
    for (int i = 0; i < N; i++) conf[s->labels[i] * CLASSES + pred[i]]++, right += pred[i] == s->labels[i];
    cr_assert(!memcmp(conf, e.confusion, sizeof conf));
    cr_assert_eq(e.correct, right);
    double mp = 0, mr = 0;
    int np = 0, nr = 0;
    for (int k = 0; k < CLASSES; k++) {
        int64_t col = 0, row = 0;
        for (int j = 0; j < CLASSES; j++) col += conf[j * CLASSES + k], row += conf[k * CLASSES + j];
        if (col) cr_assert_float_eq(e.precision[k], (double)conf[k * CLASSES + k] / col, 1e-12);
        else cr_assert(isnan(e.precision[k]));
        cr_assert_float_eq(e.recall[k], (double)conf[k * CLASSES + k] / row, 1e-12);
        if (col) mp += (double)conf[k * CLASSES + k] / col, np++;
        if (row) mr += (double)conf[k * CLASSES + k] / row, nr++;
    }
    /* the macro averages: over the classes where each is defined */
    cr_assert_float_eq(e.macro_precision, mp / np, 1e-12);
    cr_assert_float_eq(e.macro_recall, mr / nr, 1e-12);
    for (int i = 0; i < N; i++) {
        double sum = 0;
        for (int k = 0; k < CLASSES; k++) sum += probs[i * CLASSES + k];
        cr_assert_float_eq(sum, 1.0, 1e-5);
    }
    /* attention maps: per head and rolled out, each a distribution over the 4 patches */
    float maps[2 * 2 * 4], roll[4];
    cr_assert_eq(attn_image_model_attention(m, s->pixels, maps, roll), ATTN_OK, "%s", attn_last_error());
    for (int h = 0; h < 5; h++) {
        const float *w = h < 4 ? maps + 4 * h : roll;
        double sum = 0;
        for (int j = 0; j < 4; j++) {
            cr_assert(w[j] >= 0);
            sum += w[j];
        }
        cr_assert_float_eq(sum, 1.0, 1e-5);
    }
    /* a set of another size is refused */
    attn_image_set other = *s;
    other.height = other.width = 4;
    attn_image_eval e2;
    cr_assert_eq(attn_image_evaluate(m, &other, &e2), ATTN_E_ARG);
    attn_image_eval_free(&e);
    attn_image_task_free(t);
    attn_tape_free(tp);
    attn_image_model_free(m);
    /* a run state is not loaded as a model without its metadata being an image model's … it is
     * one (the task's metadata rides along), but a text file is refused */
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    cr_assert_neq(attn_image_model_load(path, &m), ATTN_OK);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
    free_set(s);
}

Test(image, configuration_errors)
{
    attn_image_set *s = make_set();
    attn_image_train_config c = small_config();
    c.val_size = N - 8; /* leaves less than one batch */
    cr_assert_eq(attn_image_train_check(&c, s), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "less than one batch") != NULL);
    c = small_config();
    c.model.image_size = 16;
    cr_assert_eq(attn_image_train_check(&c, s), ATTN_E_ARG);
    c = small_config();
    c.model.num_classes = 2; /* label 2 exists */
    cr_assert_eq(attn_image_train_check(&c, s), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "label 2") != NULL);
    c = small_config();
    c.lr = 0;
    cr_assert_eq(attn_image_train_check(&c, s), ATTN_E_ARG);
    c = small_config();
    c.average_last = -1;
    cr_assert_eq(attn_image_train_check(&c, s), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "average_last") != NULL);
    c = small_config();
    c.minutes = NAN;
    cr_assert_eq(attn_image_train_check(&c, s), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "minutes") != NULL);
    free_set(s);
}

/* minutes and average_last reach the trainer: a time budget with its schedule, and averaging */
Test(image, budget_and_averaging_configure_the_trainer)
{
    attn_image_set *s = make_set();
    attn_image_train_config c = small_config();
    attn_vit *m;
    cr_assert_eq(attn_vit_create(&c.model, 1, &m), ATTN_OK);
    attn_image_task *t;
    cr_assert_eq(attn_image_task_create(&c, s, m, &t), ATTN_OK);
    attn_train_config tc = {0};
    attn_image_task_configure(t, &tc);
    cr_expect_eq(tc.budget, 0);
    cr_expect_eq(tc.max_seconds, 0);
    cr_expect_eq(tc.schedule.kind, ATTN_SCHEDULE_COSINE);
    attn_image_task_free(t);
    c.minutes = 1.5;
    c.average_last = 3;
    cr_assert_eq(attn_image_task_create(&c, s, m, &t), ATTN_OK);
    attn_image_task_configure(t, &tc);
    cr_expect_eq(tc.budget, 1);
    cr_expect_float_eq(tc.max_seconds, 90.0, 1e-12);
    cr_expect_eq(tc.average_last, 3);
    cr_expect_float_eq(tc.schedule.base_lr, c.lr, 0);
    attn_image_task_free(t);
    attn_vit_free(m);
    free_set(s);
}
