/* progress.h — live progress of long commands.
 *
 * Progress goes to standard error (as tqdm's does), so standard output keeps only results.
 * On a terminal: one line redrawn in place (a bar, count, rate, ETA). Elsewhere (a log file,
 * CI, a pipe): a plain line every `interval` seconds (10) and at the end.
 *
 * Training (from a step callback):
 *     progress p;
 *     progress_init(&p, NULL, total_steps, "translate");       // NULL: stderr
 *     ... each step: progress_update(&p, step, loss, tokens_per_s, NULL);
 *     progress_done(&p);
 * Anything counted (lines translated, reviews classified, batches evaluated):
 *     progress_init(&p, NULL, n_lines, "translate");
 *     ... progress_items(&p, lines_done, "lines");
 *     progress_done(&p);
 * total 0: unknown (no bar, no ETA). progress_init(&p, NULL, ...) with ATTN_PROGRESS=0 in the
 * environment, or p.quiet = 1 after init, prints nothing. */
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
    int quiet;       /* nonzero: print nothing */
    int shown;       /* something was printed (progress_done ends a live line only then) */
    char label[32];
    const char *unit; /* what the rate counts: "tokens" unless set after init (e.g. "images") */
} progress;

/* out NULL: stderr. */
void progress_init(progress *p, FILE *out, long total_steps, const char *label);
/* rate: p->unit per second; extra: e.g. "acc 0.93" or NULL */
void progress_update(progress *p, long step, double loss, double rate, const char *extra);
/* done of total items counted in `unit` ("lines"), with their rate. */
void progress_items(progress *p, long done, const char *unit);
/* Ends the live line (prints a newline on a terminal). */
void progress_done(progress *p);

#endif
