/* progress.c — live progress line and metrics.csv. */
#include "progress.h"

#include "bench_util.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

void progress_init(progress *p, FILE *out, long total_steps, const char *label)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->tty = isatty(fileno(out));
    p->total = total_steps;
    p->t0 = p->last = bench_now();
    p->interval = 10.0;
    snprintf(p->label, sizeof p->label, "%s", label ? label : "train");
}

static void format_eta(char *buf, size_t cap, double seconds)
{
    if (!(seconds >= 0) || seconds > 360000) {
        snprintf(buf, cap, "--:--");
        return;
    }
    int s = (int)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, cap, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, cap, "%02d:%02d", s / 60, s % 60);
}

void progress_update(progress *p, long step, double loss, double tokens_per_s, const char *extra)
{
    double now = bench_now(), elapsed = now - p->t0;
    int final = p->total > 0 && step >= p->total;
    if (!p->tty && !final && now - p->last < p->interval) return;
    if (p->tty && !final && now - p->last < 0.1) return;
    p->last = now;
    char eta[16];
    double frac = p->total > 0 ? (double)step / (double)p->total : 0;
    format_eta(eta, sizeof eta, frac > 0 ? elapsed * (1 - frac) / frac : -1);
    if (p->tty) {
        char bar[25];
        int filled = (int)(frac * 24);
        for (int i = 0; i < 24; i++) bar[i] = i < filled ? '#' : '.';
        bar[24] = '\0';
        fprintf(p->out, "\r%s [%s] %ld/%ld loss %.4f %.0f tok/s eta %s%s%s\033[K", p->label, bar,
                step, p->total, loss, tokens_per_s, eta, extra ? " " : "", extra ? extra : "");
    } else {
        fprintf(p->out, "%s step %ld/%ld loss %.4f tokens/s %.0f elapsed %.0fs eta %s%s%s\n",
                p->label, step, p->total, loss, tokens_per_s, elapsed, eta, extra ? " " : "",
                extra ? extra : "");
    }
    fflush(p->out);
}

void progress_done(progress *p)
{
    if (p->tty) fprintf(p->out, "\n");
    fflush(p->out);
}

int metrics_open(metrics_log *m, const char *path, int resume, long resume_step)
{
    return attn_metrics_open(path, "step,loss,lr,tokens_per_s,val_metric", resume, resume_step, &m->m);
}

int metrics_row(metrics_log *m, long step, double loss, double lr, double tokens_per_s,
                double val_metric)
{
    if (!m->m) return ATTN_OK;
    char row[160], val[40] = "";
    if (!isnan(val_metric)) snprintf(val, sizeof val, "%.6g", val_metric);
    snprintf(row, sizeof row, "%ld,%.6g,%.6g,%.1f,%s", step, loss, lr, tokens_per_s, val);
    return attn_metrics_row(m->m, row);
}

int metrics_close(metrics_log *m)
{
    int st = attn_metrics_close(m->m);
    m->m = NULL;
    return st;
}
