/* image_run.c — attn_image_train_run: the training loop of the image task on the library's run
 * state (attn/train.h). Steps are numbered globally; everything a step does is a function of
 * its number (batch, augmentation, learning rate) and of the state saved with the run (weights,
 * moments, dropout stream), so a resumed run repeats an uninterrupted one bit for bit. */
#include "../nn/nn_internal.h"

#include "attn/image.h"
#include "attn/io.h"
#include "attn/train.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Everything that decides the run's steps, as text: a resume under another configuration is
 * refused (the run state keeps its checksum). */
static uint64_t config_hash(const attn_image_train_config *c, int ranks)
{
    char buf[1024];
    const attn_vit_config *m = &c->model;
    int n = snprintf(buf, sizeof buf,
                     "vit %lld %lld %lld %lld %lld %lld %lld %lld %.9g %d %d %d | %lld %lld %lld %lld "
                     "%lld %.9g %.9g %.9g %.9g %.9g %d %d %llu | ranks %d",
                     (long long)m->image_size, (long long)m->channels, (long long)m->patch_size,
                     (long long)m->d_model, (long long)m->nhead, (long long)m->num_layers,
                     (long long)m->dim_feedforward, (long long)m->num_classes, (double)m->dropout,
                     (int)m->activation, (int)m->pooling, (int)m->pos, (long long)c->batch,
                     (long long)c->epochs, (long long)c->val_size, (long long)c->warmup_steps,
                     (long long)c->eval_every, (double)c->lr, (double)c->min_lr_ratio,
                     (double)c->weight_decay, (double)c->clip, (double)c->label_smoothing, c->pad,
                     c->hflip, (unsigned long long)c->seed, ranks);
    return attn_hash64(ATTN_HASH64_INIT, buf, (size_t)n);
}

typedef struct run {
    const attn_image_train_config *c;
    const char *dir;
    attn_vit *m;
    float mean, std;
    char path[4200];
} run;

static const char *join(run *r, const char *name)
{
    snprintf(r->path, sizeof r->path, "%s/%s", r->dir, name);
    return r->path;
}

static int export_model(run *r, const char *name, int64_t step)
{
    char buf[2048];
    const char *kv[64];
    char labels[256];
    size_t at = 0;
    labels[0] = 0;
    if (r->c->model.num_classes == 10) /* the data the defaults are for */
        for (int k = 0; k < 10; k++)
            at += (size_t)snprintf(labels + at, sizeof labels - at, "%s%s", k ? "," : "",
                                   attn_fashion_mnist_class_name(k));
    int n = attn_image_model_meta(r->m, r->mean, r->std, at ? labels : NULL, buf, sizeof buf, kv,
                                  62);
    if (n < 0) return n;
    return attn_run_export(join(r, name), r->m->P, step, kv);
}

int attn_image_train_run(const attn_image_train_config *c, const attn_image_set *set,
                         const char *out_dir, int resume, int64_t stop_after,
                         const attn_image_comm *comm, attn_image_progress_fn progress,
                         void *progress_ctx, attn_image_run_result *result)
{
    static const char fn[] = "attn_image_train_run";
    ATTN_REQUIRE_NONNULL(fn, c);
    ATTN_REQUIRE_NONNULL(fn, set);
    ATTN_REQUIRE_NONNULL(fn, out_dir);
    const int rank = comm ? comm->rank : 0, ranks = comm ? comm->size : 1;
    if (ranks < 1 || rank < 0 || rank >= ranks || c->batch % ranks ||
        (comm && (!comm->average_grads || !comm->sum_double || !comm->broadcast_params)))
        return attn_fail(ATTN_E_ARG, "%s: communicator rank %d of %d (batch %lld must divide "
                         "evenly, every function set)", fn, rank, ranks, (long long)c->batch);
    if (stop_after < 0) return attn_fail(ATTN_E_ARG, "%s: stop_after %lld", fn, (long long)stop_after);
    attn_image_task *task = NULL;
    attn_tape *tp = NULL;
    attn_optim *o = NULL;
    attn_metrics *csv = NULL;
    run r = {.c = c, .dir = out_dir};
    ATTN_TRY(attn_image_task_create(c, set, &task));
    attn_image_task_normalization(task, &r.mean, &r.std);
    const int64_t spe = attn_image_task_steps_per_epoch(task), steps = spe * c->epochs;
    const int64_t every = c->eval_every ? c->eval_every : spe, share = c->batch / ranks;
    const uint64_t cfg_sum = config_hash(c, ranks);
    const uint64_t data_hash = attn_hash64(attn_hash64(cfg_sum, set->pixels, (size_t)(set->n * set->channels * set->height * set->width)),
                                           set->labels, (size_t)set->n * sizeof *set->labels);
    attn_run_state rs = {.best_metric = -INFINITY, .best_epoch = -1};
    int st = rank == 0 ? attn_run_dir_prepare(out_dir) : ATTN_OK;
    if (st == ATTN_OK) st = attn_vit_create(&c->model, c->seed, &r.m);
    attn_tape_config tc = {.seed = c->seed ^ 0x5eedull};
    if (st == ATTN_OK) st = attn_tape_create(&tc, &tp);
    attn_optim_config oc = {.kind = ATTN_OPTIM_ADAMW, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                            .weight_decay = c->weight_decay};
    if (st == ATTN_OK) st = attn_optim_create(r.m->P, &oc, &o);
    if (st == ATTN_OK && resume) {
        st = attn_run_load(join(&r, "run.safetensors"), r.m->P, o, data_hash, &rs, NULL);
        if (st == ATTN_E_STATE)
            st = attn_fail(ATTN_E_STATE, "%s: %s was started with another configuration or other "
                           "data (%s)", fn, r.path, attn_last_error());
        if (st == ATTN_OK) attn_tape_set_rng(tp, rs.rng_seed, rs.rng_offset);
    }
    if (st == ATTN_OK && comm) st = comm->broadcast_params(comm->ctx, r.m->P);
    if (st == ATTN_OK && comm && rank > 0) /* each rank its own dropout stream */
        attn_tape_set_rng(tp, rs.rng_seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)rank), rs.rng_offset);
    if (st == ATTN_OK && rank == 0)
        st = attn_metrics_open(join(&r, "metrics.csv"),
                               "step,epoch,train_loss,val_acc,lr,images_per_s,elapsed_s", resume,
                               rs.step, &csv);
    const attn_schedule sched = {ATTN_SCHEDULE_COSINE, c->lr, c->warmup_steps, steps,
                                 c->min_lr_ratio};
    const double t0 = wall_now(), c0 = cpu_now();
    const int64_t first = rs.step;
    double lsum = 0;
    int64_t ln = 0, s = rs.step;
    int stop = 0;
    if (result) memset(result, 0, sizeof *result), result->resumed_from = (int)rs.step;
    for (; st == ATTN_OK && s < steps && !stop; s++) {
        attn_var *loss = NULL;
        st = attn_image_task_loss(task, tp, r.m, s, rank * share, share, &loss);
        if (st == ATTN_OK) attn_params_zero_grad(r.m->P), st = attn_tape_backward(tp, loss, NULL);
        if (st == ATTN_OK && comm) st = comm->average_grads(comm->ctx, r.m->P);
        if (st == ATTN_OK && c->clip > 0) st = attn_clip_grad_norm(r.m->P, c->clip, NULL);
        const float lr = attn_schedule_lr(&sched, s);
        if (st == ATTN_OK) st = attn_optim_step(o, lr);
        if (st != ATTN_OK) break;
        double l = loss->data[0];
        if (comm) st = comm->sum_double(comm->ctx, &l), l /= ranks;
        lsum += l, ln++;
        const double el = wall_now() - t0;
        attn_image_progress p = {.step = s + 1, .steps = steps, .epoch = (s + 1) / spe,
                                 .loss = l, .lr = lr, .elapsed_s = el, .cpu_s = cpu_now() - c0,
                                 .images_per_s = (double)((s + 1 - first) * c->batch) / el};
        const int at_eval = (s + 1) % every == 0 || s + 1 == steps;
        if (!at_eval) {
            if (progress && rank == 0) progress(&p, progress_ctx);
            continue;
        }
        double acc = 0;
        if (st == ATTN_OK) st = attn_image_task_validate(task, tp, r.m, &acc);
        const int best = acc > rs.best_metric;
        if (best) rs.best_metric = acc, rs.best_epoch = s + 1;
        rs.step = s + 1;
        rs.epoch = (s + 1) / spe;
        rs.batch = (s + 1) % spe;
        rs.data_hash = data_hash;
        attn_tape_get_rng(tp, &rs.rng_seed, &rs.rng_offset);
        if (rank == 0 && st == ATTN_OK) {
            char row[256];
            snprintf(row, sizeof row, "%lld,%lld,%.6g,%.6g,%.6g,%.1f,%.1f", (long long)(s + 1),
                     (long long)rs.epoch, lsum / (double)ln, acc, (double)lr, p.images_per_s, el);
            st = attn_metrics_row(csv, row);
            if (st == ATTN_OK && best) st = export_model(&r, "best.safetensors", s + 1);
            if (st == ATTN_OK) st = export_model(&r, "model.safetensors", s + 1);
            if (st == ATTN_OK)
                st = attn_run_save(join(&r, "run.safetensors"), r.m->P, o, &rs, NULL);
        }
        p.validated = 1, p.best = best, p.val_accuracy = acc, p.train_loss_mean = lsum / (double)ln;
        if (progress && rank == 0) progress(&p, progress_ctx);
        lsum = 0, ln = 0;
        stop = stop_after && s + 1 - first >= stop_after;
    }
    if (result) {
        result->steps = s;
        result->best_step = rs.best_epoch;
        result->best_val_accuracy = rs.best_metric;
        result->seconds = wall_now() - t0;
        result->cpu_seconds = cpu_now() - c0;
        result->images_per_s = result->seconds > 0 ? (double)((s - first) * c->batch) / result->seconds : 0;
    }
    if (csv) {
        const int cs = attn_metrics_close(csv);
        if (st == ATTN_OK && cs) st = cs;
    }
    attn_optim_free(o);
    attn_tape_free(tp);
    attn_vit_free(r.m);
    attn_image_task_free(task);
    return st;
}
