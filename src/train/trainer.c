/* trainer.c — attn_train_run: the one training loop of the library (attn/train.h). Every task
 * (translation, classification, language model, images, the demo) supplies its batches' losses
 * and its validation; the loop, the schedule, the files and the resume are the same for all. */
#include "internal.h"
#include "attn/train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The same stream offset attn_mpi_rank_rng applies: rank 0 keeps the saved stream, so the run
 * state (written by rank 0) resumes at any number of ranks. */
static void rank_rng(attn_tape *t, int rank)
{
    if (rank <= 0) return;
    uint64_t seed, offset;
    attn_tape_get_rng(t, &seed, &offset);
    attn_tape_set_rng(t, seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)rank), offset);
}

/* A checksum of what a resume loaded (weights, moments, counters): ranks compare it. */
typedef struct loop {
    const attn_train_config *c;
    const attn_train_task *task;
    const attn_train_comm *comm;
    attn_params *P;
    attn_tape *t;
    attn_optim *opt;
    attn_metrics *csv;
    attn_run_state rs;
    int rank, ranks, writer;
    double t0, t_train, reserve, items;
    char *path; /* scratch: out_dir + a file name */
    size_t path_cap;
} loop;

static const char *file(loop *L, const char *name)
{
    snprintf(L->path, L->path_cap, "%s/%s", L->c->out_dir, name);
    return L->path;
}

static float lr_at(const attn_train_config *c, const attn_budget_plan *plan, int64_t s)
{
    if (!c->budget) return attn_schedule_lr(&c->schedule, s);
    const int64_t w = c->schedule.warmup_steps;
    const double warm = w > 0 && s < w ? (double)s / (double)w : 1;
    return (float)(c->schedule.base_lr * warm * attn_budget_factor(plan, s));
}

static int comm_error(const loop *L, int st)
{
    if (st == ATTN_OK) return ATTN_OK;
    char why[512]; /* a copy: the message is formatted into the buffer it comes from */
    snprintf(why, sizeof why, "%s", attn_last_error());
    return attn_fail(st, "attn_train_run (rank %d of %d): %s", L->rank, L->ranks, why);
}

/* Rank 0 alone writes (st = busy(L, 1), then the writing, then end_busy(L, st)): the waiting
 * ranks hear it is alive meanwhile. */
static int busy(loop *L, int begin)
{
    if (L->ranks < 2 || !L->comm->busy) return ATTN_OK;
    return comm_error(L, L->comm->busy(L->comm->ctx, begin, "writing the run's files"));
}
static int end_busy(loop *L, int st)
{
    const int e = busy(L, 0);
    return st ? st : e;
}

static int emit(loop *L, attn_train_event *e)
{
    if (!L->c->progress) return 0;
    e->elapsed_s = now_s() - L->t0;
    e->items_per_s = L->items / (now_s() - L->t_train + 1e-12);
    return L->c->progress(L->c->progress_user, e);
}

static int export(loop *L, const char *name, int64_t step)
{
    if (L->task->before_save) ATTN_TRY(L->task->before_save(L->task->ctx));
    return attn_run_export(file(L, name), L->P, step, L->task->meta);
}

static int validate(loop *L, double *metric, double *vloss)
{
    *metric = NAN, *vloss = NAN;
    if (!L->task->validate) return ATTN_OK;
    attn_tape_set_training(L->t, 0);
    int st = L->task->validate(L->task->ctx, L->t, metric, vloss);
    attn_tape_set_training(L->t, 1);
    return st;
}

/* One batch: this rank's share, its gradient, the ranks' sum, clipping, the update. *lstep
 * receives the whole batch's loss, *total its weight. */
static int step(loop *L, const attn_train_batch *b, float lr, double *lstep, double *total)
{
    attn_var *loss = NULL;
    double w = 0;
    *total = 0;
    attn_params_zero_grad(L->P);
    ATTN_TRY(L->task->batch_loss(L->task->ctx, L->t, b, &loss, &w, total));
    if (!(*total > 0) || w < 0 || w > *total * (1 + 1e-9))
        return attn_fail(ATTN_E_ARG, "attn_train_run: batch %lld of epoch %lld: share weight %g of total %g",
                         (long long)b->index, (long long)b->epoch, w, *total);
    if (w > 0 && !loss) return attn_fail(ATTN_E_ARG, "attn_train_run: batch_loss gave no loss");
    *lstep = 0;
    if (w > 0) {
        ATTN_TRY(attn_tape_backward(L->t, loss, NULL));
        *lstep = L->ranks > 1 ? loss->data[0] * w / *total : loss->data[0];
    }
    if (L->ranks > 1) {
        ATTN_TRY(comm_error(L, L->comm->reduce_grads(L->comm->ctx, L->P, w / *total)));
        ATTN_TRY(comm_error(L, L->comm->sum(L->comm->ctx, lstep)));
    }
    if (L->c->clip > 0) ATTN_TRY(attn_clip_grad_norm(L->P, L->c->clip, NULL));
    return attn_optim_step(L->opt, lr);
}

/* After an epoch: the metrics row, the models, the run state last (a kill in between redoes the
 * epoch bit for bit and rewrites them; metrics.csv is cut back on resume). Rank 0 only. */
static int save_epoch(loop *L, int64_t epoch, double train_loss, double vloss, double metric, float lr, int best)
{
    char row[320];
    const double el = now_s() - L->t0, ips = L->items / (now_s() - L->t_train + 1e-12);
    if (L->c->metric_name)
        snprintf(row, sizeof row, "%lld,%lld,%.6g,%.6g,%.4f,%.6g,%.1f,%.1f", (long long)epoch + 1,
                 (long long)L->rs.step, train_loss, vloss, metric, (double)lr, ips, el);
    else
        snprintf(row, sizeof row, "%lld,%lld,%.6g,%.6g,%.6g,%.1f,%.1f", (long long)epoch + 1, (long long)L->rs.step,
                 train_loss, vloss, (double)lr, ips, el);
    ATTN_TRY(attn_metrics_row(L->csv, row));
    ATTN_TRY(export(L, "model.safetensors", L->rs.step));
    if (best) ATTN_TRY(export(L, "best.safetensors", L->rs.step));
    const int64_t avg = L->c->average_last;
    if (avg > 1) {
        char name[64];
        snprintf(name, sizeof name, "epoch%lld.safetensors", (long long)epoch + 1);
        ATTN_TRY(export(L, name, L->rs.step));
        if (epoch + 1 - avg >= 1) {
            snprintf(name, sizeof name, "epoch%lld.safetensors", (long long)(epoch + 1 - avg));
            remove(file(L, name));
        }
    }
    if (L->task->before_save) ATTN_TRY(L->task->before_save(L->task->ctx));
    return attn_run_save(file(L, "run.safetensors"), L->P, L->opt, &L->rs, L->task->meta);
}

/* The mean of the last epochs' models, validated: the final model when it beats the best. */
static int average(loop *L, attn_train_result *r)
{
    const int n = L->c->average_last;
    const char **names = calloc((size_t)n, sizeof *names);
    int st = names ? ATTN_OK : attn_fail(ATTN_E_NOMEM, "attn_train_run: out of memory");
    for (int i = 0; st == ATTN_OK && i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "epoch%lld.safetensors", (long long)(L->rs.epoch - n + 1 + i));
        if (!(names[i] = strdup(file(L, name)))) st = attn_fail(ATTN_E_NOMEM, "attn_train_run: out of memory");
    }
    if (st == ATTN_OK) st = attn_params_average_files(L->P, names, n);
    for (int i = 0; names && i < n; i++) free((void *)names[i]);
    free(names);
    double metric, vloss;
    if (st == ATTN_OK) st = validate(L, &metric, &vloss);
    if (st == ATTN_OK) st = export(L, "average.safetensors", L->rs.step);
    if (st) return st;
    const int better = !(metric <= r->best_metric) && !isnan(metric);
    if (better) r->final_name = "average.safetensors", r->final_metric = metric;
    attn_train_event e = {.kind = ATTN_TRAIN_AVERAGE, .step = L->rs.step, .epoch = L->rs.epoch - 1,
                          .val_loss = vloss, .metric = metric, .best = better};
    emit(L, &e);
    return ATTN_OK;
}

static int check_config(const attn_train_config *c, const attn_train_task *task, const attn_params *P,
                        const attn_tape *t)
{
    static const char fn[] = "attn_train_run";
    ATTN_REQUIRE_NONNULL(fn, c);
    ATTN_REQUIRE_NONNULL(fn, task);
    ATTN_REQUIRE_NONNULL(fn, P);
    ATTN_REQUIRE_NONNULL(fn, t);
    if (!task->begin_epoch || !task->batch_loss)
        return attn_fail(ATTN_E_ARG, "%s: the task needs begin_epoch and batch_loss", fn);
    if (c->epochs < 1 || c->max_steps < 0 || !(c->max_seconds >= 0) || c->average_last < 0 || !(c->clip >= 0))
        return attn_fail(ATTN_E_ARG, "%s: epochs %lld, max_steps %lld, max_seconds %g, average_last %d, clip %g", fn,
                         (long long)c->epochs, (long long)c->max_steps, c->max_seconds, c->average_last,
                         (double)c->clip);
    if (!(c->schedule.base_lr > 0) || c->schedule.warmup_steps < 0)
        return attn_fail(ATTN_E_ARG, "%s: learning rate %g, warm-up %lld", fn, (double)c->schedule.base_lr,
                         (long long)c->schedule.warmup_steps);
    if ((c->resume || c->average_last > 1) && !c->out_dir)
        return attn_fail(ATTN_E_ARG, "%s: resume and average_last need out_dir", fn);
    const attn_train_comm *m = c->comm;
    if (m && (m->size < 1 || m->rank < 0 || m->rank >= m->size || !m->reduce_grads || !m->sum || !m->agree ||
              !m->bcast || !m->same))
        return attn_fail(ATTN_E_ARG, "%s: the communicator (rank %d of %d) lacks a function", fn, m->rank, m->size);
    return ATTN_OK;
}

static int setup(loop *L, attn_train_event *begin)
{
    const attn_train_config *c = L->c;
    if (c->out_dir) {
        L->path_cap = strlen(c->out_dir) + 64;
        if (!(L->path = malloc(L->path_cap))) return attn_fail(ATTN_E_NOMEM, "attn_train_run: out of memory");
        if (L->writer) ATTN_TRY(attn_run_dir_prepare(c->out_dir));
    }
    ATTN_TRY(attn_optim_create(L->P, &c->optim, &L->opt));
    L->rs = (attn_run_state){.best_metric = -INFINITY, .data_hash = c->data_hash};
    attn_tape_get_rng(L->t, &L->rs.rng_seed, &L->rs.rng_offset);
    if (c->resume) {
        ATTN_TRY(attn_run_load(file(L, "run.safetensors"), L->P, L->opt, c->data_hash, &L->rs, NULL));
        attn_tape_set_rng(L->t, L->rs.rng_seed, L->rs.rng_offset);
        if (L->ranks > 1)
            ATTN_TRY(comm_error(L, L->comm->same(L->comm->ctx, attn_run_state_hash(L->P, L->opt, &L->rs),
                                                 "the resumed run state")));
    }
    rank_rng(L->t, L->rank);
    if (L->writer && c->out_dir) {
        char header[200];
        snprintf(header, sizeof header, "epoch,step,train_loss,val_loss%s%s,lr,%s_per_s,elapsed_s",
                 c->metric_name ? "," : "", c->metric_name ? c->metric_name : "",
                 c->items_name ? c->items_name : "items");
        ATTN_TRY(attn_metrics_open(file(L, "metrics.csv"), header, c->resume, L->rs.step, &L->csv));
    }
    *begin = (attn_train_event){.kind = ATTN_TRAIN_BEGIN, .step = L->rs.step, .epoch = L->rs.epoch,
                                .metric = L->rs.best_metric, .resumed = c->resume, .val_loss = NAN};
    return ATTN_OK;
}

/* One epoch of steps; *stop when the time, the step limit or the callback ends the run. */
static int run_epoch(loop *L, int64_t epoch, int64_t nb, int *stop, double *train_loss, float *lr)
{
    const attn_train_config *c = L->c;
    double lsum = 0, lw = 0;
    for (int64_t bi = 0; bi < nb && !*stop; bi++) {
        const attn_train_batch b = {.step = L->rs.step, .epoch = epoch, .index = bi, .count = nb,
                                    .rank = L->rank, .ranks = L->ranks};
        double lstep = 0, total = 0;
        *lr = lr_at(c, &L->rs.plan, L->rs.step);
        ATTN_TRY(step(L, &b, *lr, &lstep, &total));
        L->rs.step++;
        lsum += lstep * total, lw += total, L->items += total;
        attn_train_event e = {.kind = ATTN_TRAIN_STEP, .step = L->rs.step, .epoch = epoch, .batch = bi + 1,
                              .batches = nb, .loss = lstep, .lr = *lr, .val_loss = NAN, .metric = NAN};
        int want = emit(L, &e) != 0;
        want |= c->max_seconds > 0 && now_s() - L->t0 + L->reserve > c->max_seconds;
        want |= c->max_steps > 0 && L->rs.step >= c->max_steps;
        if (L->ranks > 1) {
            const int agreed = L->comm->agree(L->comm->ctx, want); /* rank 0's clock and callback decide */
            if (agreed < 0) return comm_error(L, agreed);
            want = agreed;
        }
        *stop = want;
    }
    *train_loss = lw > 0 ? lsum / lw : NAN;
    return ATTN_OK;
}

static int run(loop *L, attn_train_result *r)
{
    const attn_train_config *c = L->c;
    attn_train_event begin;
    ATTN_TRY(setup(L, &begin));
    r->best_metric = isinf(L->rs.best_metric) ? NAN : L->rs.best_metric;
    L->t_train = now_s();
    int stop = c->max_steps > 0 && L->rs.step >= c->max_steps;
    if (emit(L, &begin)) stop = 1;
    for (int64_t epoch = L->rs.epoch; epoch < c->epochs && !stop; epoch++) {
        const double t_epoch = now_s();
        int64_t nb = 0;
        ATTN_TRY(L->task->begin_epoch(L->task->ctx, epoch, L->rs.step, &nb));
        if (nb < 1) return attn_fail(ATTN_E_ARG, "attn_train_run: epoch %lld has %lld batches", (long long)epoch, (long long)nb);
        double train_loss = NAN;
        float lr = 0;
        ATTN_TRY(run_epoch(L, epoch, nb, &stop, &train_loss, &lr));
        const double t_val = now_s();
        double metric, vloss;
        ATTN_TRY(validate(L, &metric, &vloss));
        /* the time limit covers the validations still to come: this one, and the average's */
        L->reserve = (now_s() - t_val) * (c->average_last > 1 ? 2 : 1);
        if (c->budget && !stop) {
            L->rs.plan = attn_budget_replan(L->rs.step, nb, epoch, c->epochs,
                                            c->max_seconds > 0 ? c->max_seconds - L->reserve : 0, now_s() - L->t0,
                                            now_s() - t_epoch);
            if (L->ranks > 1) ATTN_TRY(comm_error(L, L->comm->bcast(L->comm->ctx, &L->rs.plan, sizeof L->rs.plan)));
        }
        const int best = !L->task->validate || metric > L->rs.best_metric;
        if (best) L->rs.best_metric = L->task->validate ? metric : L->rs.best_metric, L->rs.best_epoch = epoch + 1;
        if (best && L->task->validate) r->best_metric = metric;
        L->rs.epoch = epoch + 1, L->rs.batch = 0;
        attn_tape_get_rng(L->t, &L->rs.rng_seed, &L->rs.rng_offset); /* rank 0's is the one saved */
        if (L->writer && c->out_dir) {
            ATTN_TRY(busy(L, 1));
            ATTN_TRY(end_busy(L, save_epoch(L, epoch, train_loss, vloss, metric, lr, best)));
        }
        attn_train_event e = {.kind = ATTN_TRAIN_EPOCH, .step = L->rs.step, .epoch = epoch, .batch = nb,
                              .batches = nb, .loss = train_loss, .val_loss = vloss, .metric = metric,
                              .best = best, .lr = lr};
        if (emit(L, &e)) stop = 1;
    }
    r->final_name = !c->out_dir ? NULL : L->task->validate ? "best.safetensors" : "model.safetensors";
    r->final_metric = r->best_metric;
    if (c->average_last > 1 && L->writer && L->rs.epoch >= c->average_last) ATTN_TRY(average(L, r));
    return ATTN_OK;
}

int attn_train_run(const attn_train_config *cfg, const attn_train_task *task, attn_params *P, attn_tape *t,
                   attn_train_result *res)
{
    ATTN_TRY(check_config(cfg, task, P, t));
    loop L = {.c = cfg, .task = task, .comm = cfg->comm, .P = P, .t = t, .t0 = now_s(),
              .rank = cfg->comm ? cfg->comm->rank : 0, .ranks = cfg->comm ? cfg->comm->size : 1};
    L.writer = L.rank == 0;
    attn_train_result r = {.best_metric = NAN, .final_metric = NAN};
    int st = run(&L, &r);
    if (L.csv) {
        const int cs = attn_metrics_close(L.csv);
        if (cs && st == ATTN_OK) st = cs;
    }
    r.state = L.rs;
    r.seconds = now_s() - L.t0;
    r.items = L.items;
    if (st == ATTN_OK) {
        attn_train_event e = {.kind = ATTN_TRAIN_END, .step = L.rs.step, .epoch = L.rs.epoch, .val_loss = NAN,
                              .metric = r.final_metric, .final_name = r.final_name};
        emit(&L, &e);
    }
    if (res) *res = r;
    attn_optim_free(L.opt);
    free(L.path);
    return st;
}
