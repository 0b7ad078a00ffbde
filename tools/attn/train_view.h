/* train_view.h — what the trainers print while attn_train_run runs: a progress line per epoch,
 * a summary line per validation, one for the average; and how they start and end under mpirun. */
#ifndef ATTN_TRAIN_VIEW_H
#define ATTN_TRAIN_VIEW_H

#include "progress.h"

#include "attn/mpi.h"

typedef struct train_view {
    progress bar;
    const char *cmd;          /* "train lm": prefixes messages */
    const char *out;          /* the run directory (named when resuming) */
    const char *metric_label; /* "val BLEU", "val acc"; NULL: the task has only a loss */
    double metric_scale;      /* shown as metric · scale (0 = 1) */
    int by_step;              /* periods are "step N" (language models), not "epoch N" */
    int64_t epochs;           /* for the label */
    const char *items;        /* "tok/s" unit name, e.g. "tokens" */
} train_view;

/* attn_train_progress_fn: prints to stdout. */
int train_view_event(void *view, const attn_train_event *e);

/* Join the job (libattn_mpi; alone without mpirun) and make the communicator for the library's
 * runs: *use = comm under several ranks, else NULL. Ranks other than 0 lose their stdout (rank 0
 * alone prints). Returns 0, or prints the error as "attn CMD: …" and returns 1. */
int train_mpi_begin(const char *cmd, int *argc, char ***argv, attn_mpi_ctx **dc, attn_train_comm *comm,
                    const attn_train_comm **use);
/* The end of a training command with status st: under several ranks an error ends the process
 * at once, saying which rank stopped (a peer may be gone: MPI_Finalize would wait for it);
 * otherwise the job is left. Returns the exit status (0 or 1). */
int train_mpi_end(const char *cmd, attn_mpi_ctx *dc, int st);

#endif
