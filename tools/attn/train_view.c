/* train_view.c — the trainers' progress callback, and their start and end under mpirun
 * (train_view.h). */
#include "train_view.h"

#include <math.h>
#include <stdio.h>
#include <unistd.h>

int train_view_event(void *view, const attn_train_event *e)
{
    train_view *v = view;
    const double scale = v->metric_scale > 0 ? v->metric_scale : 1;
    char label[48];
    switch (e->kind) {
    case ATTN_TRAIN_BEGIN:
        if (e->resumed && v->by_step)
            printf("resumed %s at step %lld\n", v->out ? v->out : "the run", (long long)e->step);
        else if (e->resumed)
            printf("resumed %s after epoch %lld (step %lld)\n", v->out ? v->out : "the run", (long long)e->epoch,
                   (long long)e->step);
        break;
    case ATTN_TRAIN_STEP:
        if (e->batch == 1) {
            if (v->by_step)
                snprintf(label, sizeof label, "steps %lld-%lld", (long long)e->step, (long long)(e->step + e->batches - 1));
            else
                snprintf(label, sizeof label, "epoch %lld/%lld", (long long)e->epoch + 1, (long long)v->epochs);
            progress_init(&v->bar, NULL, (long)e->batches, label);
            v->bar.unit = v->items; /* NULL: tokens */
        }
        progress_update(&v->bar, (long)e->batch, e->loss, e->items_per_s, NULL);
        break;
    case ATTN_TRAIN_EPOCH:
        progress_done(&v->bar);
        if (v->by_step)
            printf("step %lld: train loss %.4f  val loss %.4f  (%.0f %s/s, %.1f min)%s\n", (long long)e->step, e->loss,
                   e->val_loss, e->items_per_s, v->items ? v->items : "items", e->elapsed_s / 60,
                   e->best ? "  best" : "");
        else if (v->metric_label)
            printf("epoch %lld: train loss %.4f  val loss %.4f  %s %.2f  (%.0f %s/s, %.1f min)%s\n",
                   (long long)e->epoch + 1, e->loss, e->val_loss, v->metric_label, e->metric * scale, e->items_per_s,
                   v->items ? v->items : "items", e->elapsed_s / 60, e->best ? "  best" : "");
        else
            printf("epoch %lld: train loss %.4f  val loss %.4f  (%.0f %s/s, %.1f min)%s\n", (long long)e->epoch + 1,
                   e->loss, e->val_loss, e->items_per_s, v->items ? v->items : "items", e->elapsed_s / 60,
                   e->best ? "  best" : "");
        break;
    case ATTN_TRAIN_AVERAGE:
        printf("average of the last epochs: val loss %.4f", e->val_loss);
        if (v->metric_label) printf("  %s %.2f", v->metric_label, e->metric * scale);
        printf("%s\n", e->best ? "  best" : "");
        break;
    case ATTN_TRAIN_END:
        break;
    }
    fflush(stdout);
    return 0;
}

int train_mpi_begin(const char *cmd, int *argc, char ***argv, attn_mpi_ctx **dc, attn_train_comm *comm,
                    const attn_train_comm **use)
{
    *use = NULL;
    if (attn_mpi_init(argc, argv, dc) || attn_mpi_train_comm(*dc, comm)) {
        fprintf(stderr, "attn %s: %s\n", cmd, attn_last_error());
        return 1;
    }
    if (attn_mpi_size(*dc) > 1) *use = comm;
    if (attn_mpi_rank(*dc) > 0 && !freopen("/dev/null", "w", stdout)) return 1; /* rank 0 alone prints */
    return 0;
}

int train_mpi_end(const char *cmd, attn_mpi_ctx *dc, int st)
{
    if (st && attn_mpi_size(dc) > 1) {
        fprintf(stderr, "attn %s (rank %d of %d): stopped with an error\n", cmd, attn_mpi_rank(dc), attn_mpi_size(dc));
        fflush(stdout), fflush(stderr);
        _exit(1);
    }
    attn_mpi_finalize(dc);
    return st ? 1 : 0;
}
