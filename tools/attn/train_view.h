/* train_view.h — what the trainers print while attn_train_run runs: a progress line per epoch,
 * a summary line per validation, one for the average. */
#ifndef ATTN_TRAIN_VIEW_H
#define ATTN_TRAIN_VIEW_H

#include "progress.h"

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

#endif
