/* test_trainer.c — attn_train_run with the language-model task: the loss falls, a run stopped
 * mid-period and resumed ends bit-identical to an uninterrupted one, the files are there, bad
 * configurations are refused, averaging names the final model on validation; and
 * attn_lm_stream_loss against a direct forward pass, and as the validation of eval_all. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attn.h"
#include "test_tmp.h"

/* A learnable stream: a repeating pattern with noise from a fixed generator. */
static void make_stream(int32_t *ids, int64_t n, int V)
{
    uint64_t s = 42;
    for (int64_t i = 0; i < n; i++) ids[i] = attn_splitmix64(&s) % 8 == 0 ? (int32_t)(attn_splitmix64(&s) % (uint64_t)V) : (int32_t)(i % 5);
}

typedef struct fixture {
    attn_gpt *m;
    attn_tape *t;
    attn_lm_task *lt;
    int32_t ids[3000];
} fixture;

static void setup_fixture(fixture *f, int steps, uint64_t seed)
{
    attn_gpt_config mc = {.vocab = 7, .context = 8, .n_layer = 1, .n_head = 2, .d_model = 16, .dropout = 0.1f};
    cr_assert_eq(attn_gpt_create(&mc, seed, &f->m), ATTN_OK, "%s", attn_last_error());
    attn_tape_config tc = {.num_threads = 1, .seed = 7};
    cr_assert_eq(attn_tape_create(&tc, &f->t), ATTN_OK);
    make_stream(f->ids, 3000, 7);
    attn_lm_task_config c = {.batch = 4, .steps = steps, .eval_every = 4, .eval_batches = 2, .seed = 3};
    cr_assert_eq(attn_lm_task_create(f->m, f->ids, 2500, f->ids + 2500, 500, &c, &f->lt), ATTN_OK, "%s",
                 attn_last_error());
}

static void free_fixture(fixture *f)
{
    attn_lm_task_free(f->lt);
    attn_tape_free(f->t);
    attn_gpt_free(f->m);
}

static attn_train_config config_for(const attn_lm_task *lt, const char *dir)
{
    attn_train_config c = {.out_dir = dir,
                           .optim = {.kind = ATTN_OPTIM_ADAMW, .weight_decay = 0.01f},
                           .schedule = {.kind = ATTN_SCHEDULE_CONSTANT, .base_lr = 3e-3f},
                           .clip = 1.0f};
    attn_lm_task_configure(lt, &c);
    return c;
}

static int stop_at;
static int64_t events[5];
static int stop_at_step(void *user, const attn_train_event *e)
{
    (void)user;
    events[e->kind]++;
    return e->kind == ATTN_TRAIN_STEP && e->step == stop_at;
}

static char *dir_of(const char *name)
{
    static char buf[2][128];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s/%s", test_tmp_dir(), name);
    return buf[k];
}

Test(trainer, learns_and_resumes_bit_identical)
{
    char a[128], b[128], pa[160], pb[160];
    snprintf(a, sizeof a, "%s", dir_of("a"));
    snprintf(b, sizeof b, "%s", dir_of("b"));
    fixture f;
    setup_fixture(&f, 24, 11);
    attn_train_task task = attn_lm_task_get(f.lt);
    attn_train_config c = config_for(f.lt, a);
    attn_train_result r;
    stop_at = -1;
    memset(events, 0, sizeof events);
    c.progress = stop_at_step;
    cr_assert_eq(attn_train_run(&c, &task, f.m->P, f.t, &r), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(r.state.step, 24);
    cr_expect_eq(events[ATTN_TRAIN_STEP], 24);
    cr_expect_eq(events[ATTN_TRAIN_EPOCH], 6, "validations every 4 steps: %lld", (long long)events[ATTN_TRAIN_EPOCH]);
    cr_expect_eq(events[ATTN_TRAIN_END], 1);
    cr_expect(r.best_metric > -log(7.0) + 0.3, "validation loss %.4f barely below chance %.4f", -r.best_metric, log(7.0));
    cr_expect_str_eq(r.final_name, "best.safetensors");
    free_fixture(&f);

    /* the same run stopped after step 10 (mid-period), then resumed by a new process's worth of objects */
    setup_fixture(&f, 24, 11);
    task = attn_lm_task_get(f.lt);
    c = config_for(f.lt, b);
    c.progress = stop_at_step;
    stop_at = 10;
    cr_assert_eq(attn_train_run(&c, &task, f.m->P, f.t, &r), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(r.state.step, 10);
    free_fixture(&f);
    setup_fixture(&f, 24, 999); /* other initial weights: the resume must replace them all */
    task = attn_lm_task_get(f.lt);
    c = config_for(f.lt, b);
    c.resume = 1;
    stop_at = -1;
    c.progress = stop_at_step;
    cr_assert_eq(attn_train_run(&c, &task, f.m->P, f.t, &r), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(r.state.step, 24);
    free_fixture(&f);
    snprintf(pa, sizeof pa, "%s/model.safetensors", a), snprintf(pb, sizeof pb, "%s/model.safetensors", b);
    cr_expect(test_same_file(pa, pb), "the resumed run's model differs from the uninterrupted one's");
    snprintf(pa, sizeof pa, "%s/best.safetensors", a), snprintf(pb, sizeof pb, "%s/best.safetensors", b);
    cr_expect(test_same_file(pa, pb), "best.safetensors differs");
    /* metrics.csv: the interrupted run has one more row (its stop at step 10), each step once */
    snprintf(pb, sizeof pb, "%s/metrics.csv", b);
    FILE *m = fopen(pb, "r");
    cr_assert_not_null(m);
    char line[400];
    int rows = 0;
    long last = -1, st;
    cr_assert_not_null(fgets(line, sizeof line, m));
    cr_expect(strstr(line, "epoch,step,train_loss,val_loss,lr,items_per_s") == line, "header %s", line);
    while (fgets(line, sizeof line, m)) {
        long ep;
        cr_assert_eq(sscanf(line, "%ld,%ld,", &ep, &st), 2);
        cr_expect(st > last, "step %ld after %ld", st, last);
        last = st, rows++;
    }
    fclose(m);
    cr_expect_eq(rows, 7);
    cr_expect_eq(last, 24);
}

Test(trainer, refuses_bad_configurations)
{
    fixture f;
    setup_fixture(&f, 8, 1);
    attn_train_task task = attn_lm_task_get(f.lt);
    attn_train_config c = config_for(f.lt, NULL);
    c.schedule.base_lr = 0;
    cr_expect_eq(attn_train_run(&c, &task, f.m->P, f.t, NULL), ATTN_E_ARG);
    c = config_for(f.lt, NULL);
    c.resume = 1; /* nowhere to resume from */
    cr_expect_eq(attn_train_run(&c, &task, f.m->P, f.t, NULL), ATTN_E_ARG);
    c = config_for(f.lt, NULL);
    attn_train_task none = task;
    none.batch_loss = NULL;
    cr_expect_eq(attn_train_run(&c, &none, f.m->P, f.t, NULL), ATTN_E_ARG);
    c = config_for(f.lt, dir_of("missing"));
    c.resume = 1;
    cr_expect_neq(attn_train_run(&c, &task, f.m->P, f.t, NULL), ATTN_OK, "resuming a run that never saved");
    /* without a directory nothing is written, and the run still trains */
    c = config_for(f.lt, NULL);
    attn_train_result r;
    cr_expect_eq(attn_train_run(&c, &task, f.m->P, f.t, &r), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(r.state.step, 8);
    cr_expect_null(r.final_name);
    free_fixture(&f);
}

Test(trainer, average_is_validated_and_may_be_final)
{
    fixture f;
    setup_fixture(&f, 16, 5);
    attn_train_task task = attn_lm_task_get(f.lt);
    attn_train_config c = config_for(f.lt, dir_of("avg"));
    c.average_last = 3;
    attn_train_result r;
    memset(events, 0, sizeof events);
    stop_at = -1;
    c.progress = stop_at_step;
    cr_assert_eq(attn_train_run(&c, &task, f.m->P, f.t, &r), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(events[ATTN_TRAIN_AVERAGE], 1);
    cr_expect(!strcmp(r.final_name, "best.safetensors") || !strcmp(r.final_name, "average.safetensors"));
    cr_expect(r.final_metric >= r.best_metric, "final %.6f below best %.6f", r.final_metric, r.best_metric);
    char p[200];
    snprintf(p, sizeof p, "%s/average.safetensors", dir_of("avg"));
    cr_expect_eq(access(p, R_OK), 0);
    snprintf(p, sizeof p, "%s/epoch1.safetensors", dir_of("avg"));
    cr_expect_neq(access(p, R_OK), 0, "only the last 3 epochs' models are kept");
    free_fixture(&f);
}

Test(trainer, stream_loss_matches_a_forward_pass)
{
    fixture f;
    setup_fixture(&f, 4, 2);
    /* 17 tokens, context 8: windows [0..8], [8..16] predict tokens 1..16 — one forward of 2 windows */
    double loss;
    int64_t k;
    cr_assert_eq(attn_lm_stream_loss(f.m, f.t, f.ids, 17, 1, &loss, &k), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(k, 16);
    attn_var *logits, *l;
    int32_t y[16];
    for (int i = 0; i < 16; i++) y[i] = f.ids[i + 1];
    attn_tape_set_training(f.t, 0);
    cr_assert_eq(attn_tape_reset(f.t), ATTN_OK);
    cr_assert_eq(attn_gpt_forward(f.t, f.m, f.ids, 2, 8, &logits), ATTN_OK);
    attn_ce_options ce = {.ignore_index = -1};
    cr_assert_eq(attn_op_cross_entropy(f.t, logits, y, &ce, &l), ATTN_OK);
    cr_expect(fabs(loss - l->data[0]) < 1e-6, "%.8f vs %.8f", loss, (double)l->data[0]);
    /* a token outside the vocabulary is an error */
    int32_t bad[10] = {0, 1, 2, 7};
    cr_expect_eq(attn_lm_stream_loss(f.m, f.t, bad, 10, 1, &loss, NULL), ATTN_E_ARG);
    free_fixture(&f);
}

/* eval_all: the validation of a run is the loss of the whole validation stream, attn_lm_stream_loss's */
Test(trainer, eval_all_validates_on_the_whole_stream)
{
    fixture f;
    setup_fixture(&f, 4, 5);
    attn_lm_task_free(f.lt); /* one period: the one validation is the final model's */
    attn_lm_task_config c = {.batch = 4, .steps = 4, .eval_every = 4, .eval_batches = 2, .seed = 3, .eval_all = 1};
    cr_assert_eq(attn_lm_task_create(f.m, f.ids, 2500, f.ids + 2500, 500, &c, &f.lt), ATTN_OK, "%s", attn_last_error());
    attn_train_config tc = config_for(f.lt, NULL);
    attn_train_task task = attn_lm_task_get(f.lt);
    attn_train_result r;
    cr_assert_eq(attn_train_run(&tc, &task, f.m->P, f.t, &r), ATTN_OK, "%s", attn_last_error());
    double loss;
    int64_t k;
    cr_assert_eq(attn_lm_stream_loss(f.m, f.t, f.ids + 2500, 500, 4, &loss, &k), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(k, 499);
    cr_expect(fabs(r.final_metric + loss) < 1e-6, "validation %.8f vs stream loss %.8f", -r.final_metric, loss);
    free_fixture(&f);
}
