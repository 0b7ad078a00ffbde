/* train.c — train a small GPT with the library's training loop (attn_train_run), stop it
 * halfway, resume it into a fresh model, and check that it ends exactly where an uninterrupted
 * run does.
 *
 *     cc train.c $(pkg-config --cflags --libs attn) -o train && ./train [DIR]
 *
 * A task is three callbacks: how many batches an epoch has, the loss of a batch, and (optional)
 * a validation figure. The trainer does the rest: optimiser, schedule, clipping, the files in
 * DIR (model.safetensors, best.safetensors, run.safetensors, metrics.csv) and the resume. Here
 * the task is to continue a counting sequence (token t+1 follows t, modulo 10). */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <attn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { V = 10, T = 16, N = 8, EPOCHS = 6, PER_EPOCH = 10 };

#define TRY(e) do { if ((e) != ATTN_OK) { fprintf(stderr, "%s: %s\n", #e, attn_last_error()); exit(1); } } while (0)

typedef struct counting { attn_gpt *m; int32_t ids[N * T], next[N * T]; } counting;

static int begin_epoch(void *ctx, int64_t epoch, int64_t step, int64_t *batches)
{
    (void)ctx, (void)epoch, (void)step;
    *batches = PER_EPOCH;
    return ATTN_OK;
}

/* The batch is drawn from the step number: where the data stands is part of the run state. */
static int batch_loss(void *ctx, attn_tape *t, const attn_train_batch *b, attn_var **loss, double *w, double *total)
{
    counting *c = ctx;
    for (int i = 0; i < N * T; i++) c->ids[i] = (int32_t)((b->step * 7 + i / T * 3 + i % T) % V), c->next[i] = (c->ids[i] + 1) % V;
    attn_var *logits;
    attn_ce_options ce = {.ignore_index = -1};
    *w = *total = N * T;
    int st = attn_tape_reset(t);
    if (st == ATTN_OK) st = attn_gpt_forward(t, c->m, c->ids, N, T, &logits);
    return st ? st : attn_op_cross_entropy(t, logits, c->next, &ce, loss);
}

/* The progress callback: remembers each epoch's loss; asked to, stops the run halfway (as a kill
 * would, except that the trainer saves first: a kill resumes from the last epoch's save). */
typedef struct watch { int stop; double first, last; } watch;
static int on_event(void *user, const attn_train_event *e)
{
    watch *w = user;
    if (e->kind == ATTN_TRAIN_EPOCH && e->epoch == 0) w->first = e->loss;
    if (e->kind == ATTN_TRAIN_EPOCH) w->last = e->loss;
    return w->stop && e->kind == ATTN_TRAIN_STEP && e->step == EPOCHS * PER_EPOCH / 2;
}

/* One call of the trainer on a fresh model made from seed; the model is returned in *m. */
static watch run(const char *dir, uint64_t seed, int resume, int stop, attn_gpt **m)
{
    attn_gpt_config mc = {.vocab = V, .context = T, .n_layer = 1, .n_head = 2, .d_model = 32, .dropout = 0.1f};
    attn_tape_config tc = {.num_threads = 1, .seed = 7};
    counting c = {0};
    attn_tape *t;
    TRY(attn_gpt_create(&mc, seed, &c.m));
    TRY(attn_tape_create(&tc, &t));
    watch w = {.stop = stop};
    attn_train_task task = {.ctx = &c, .begin_epoch = begin_epoch, .batch_loss = batch_loss};
    attn_train_config cfg = {.out_dir = dir, .resume = resume, .epochs = EPOCHS,
                             .optim = {.kind = ATTN_OPTIM_ADAMW, .beta2 = 0.99f},
                             .schedule = {.kind = ATTN_SCHEDULE_COSINE, .base_lr = 3e-3f, .warmup_steps = 5,
                                          .total_steps = EPOCHS * PER_EPOCH, .min_ratio = 0.1f},
                             .clip = 1.0f, .progress = on_event, .progress_user = &w};
    attn_train_result r;
    TRY(attn_train_run(&cfg, &task, c.m->P, t, &r));
    printf("%-14s ended at step %2lld, last epoch's loss %.4f\n", resume ? "resumed:" : stop ? "stopped:" : "uninterrupted:",
           (long long)r.state.step, w.last);
    attn_tape_free(t);
    *m = c.m;
    return w;
}

int main(int argc, char **argv)
{
    char tmp[] = "/tmp/attn_train_example_XXXXXX", a[600], b[600];
    const char *dir = argc > 1 ? argv[1] : mkdtemp(tmp);
    snprintf(a, sizeof a, "%s/a", dir), snprintf(b, sizeof b, "%s/b", dir);
    attn_gpt *full, *half, *resumed;
    const watch w = run(a, 1, 0, 0, &full); /* uninterrupted */
    run(b, 1, 0, 1, &half);                 /* stopped halfway, saved */
    run(b, 99, 1, 0, &resumed);             /* resumed into a model of other initial weights */
    int same = 1;
    for (int i = 0; i < attn_params_count(full->P); i++) {
        const attn_param *p = attn_params_at(full->P, i), *q = attn_params_at(resumed->P, i);
        same &= !memcmp(p->data, q->data, (size_t)p->numel * sizeof(float));
    }
    printf("loss %.4f -> %.4f; resumed weights %s\n", w.first, w.last, same ? "bit-identical" : "DIFFERENT");
    attn_gpt_free(full), attn_gpt_free(half), attn_gpt_free(resumed);
    static const char *const files[] = {"model.safetensors", "best.safetensors", "run.safetensors", "metrics.csv"};
    for (int k = 0; argc <= 1 && k < 2; k++) { /* a temporary directory: leave nothing behind */
        char f[700];
        for (int i = 0; i < 4; i++) snprintf(f, sizeof f, "%s/%s", k ? b : a, files[i]), remove(f);
        rmdir(k ? b : a);
    }
    if (argc <= 1) rmdir(dir);
    return same && w.last < 0.5 * w.first ? 0 : 1;
}
