/* progress.h — live training progress and the metrics.csv log.
 *
 * On a terminal: one line redrawn in place (a bar, step, loss, tokens/s, ETA). Elsewhere (a
 * log file, CI): a plain line every `interval` seconds and at the end. */
#ifndef ATTN_PROGRESS_H
#define ATTN_PROGRESS_H

#include <stdio.h>

#include "attn.h"

typedef struct progress {
    FILE *out;
    int tty;
    long total;
    double t0, last;
    double interval; /* seconds between plain lines */
    char label[32];
} progress;

void progress_init(progress *p, FILE *out, long total_steps, const char *label);
/* extra: e.g. "acc 0.93" or NULL */
void progress_update(progress *p, long step, double loss, double tokens_per_s, const char *extra);
/* Ends the live line (prints a newline on a terminal). */
void progress_done(progress *p);

/* metrics.csv: "step,loss,lr,tokens_per_s,val_metric" — one row per report, flushed, so a
 * running training can be plotted; val_metric NaN is written as an empty field. Through
 * attn_metrics: a resumed run's rows after resume_step are cut, write errors are errors. */
typedef struct metrics_log {
    attn_metrics *m;
} metrics_log;

int metrics_open(metrics_log *m, const char *path, int resume, long resume_step);
int metrics_row(metrics_log *m, long step, double loss, double lr, double tokens_per_s,
                double val_metric);
int metrics_close(metrics_log *m);

#endif
