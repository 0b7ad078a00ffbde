/* progress.c — the live progress line of long commands (progress.h). */
#include "progress.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void progress_init(progress *p, FILE *out, long total_steps, const char *label)
{
    memset(p, 0, sizeof *p);
    if (!out) out = stderr;
    p->out = out;
    const char *env = getenv("ATTN_PROGRESS");
    p->quiet = env && !strcmp(env, "0");
    p->tty = isatty(fileno(out));
    p->total = total_steps;
    p->t0 = p->last = attn_now();
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

/* Whether to print now (sets p->last); if so the line's ETA, its bar (24 of '#' and '.') and the
 * time elapsed, for done of p->total. */
static int due(progress *p, long done, char eta[16], char bar[25], double *elapsed)
{
    const double now = attn_now();
    if (p->quiet) return 0;
    int final = p->total > 0 && done >= p->total;
    if (!p->tty && !final && now - p->last < p->interval) return 0;
    if (p->tty && !final && now - p->last < 0.1) return 0;
    p->last = now;
    p->shown = 1;
    *elapsed = now - p->t0;
    const double frac = p->total > 0 ? (double)done / (double)p->total : 0;
    format_eta(eta, 16, frac > 0 ? *elapsed * (1 - frac) / frac : -1);
    for (int i = 0; i < 24; i++) bar[i] = i < (int)(frac * 24) ? '#' : '.';
    bar[24] = '\0';
    return 1;
}

void progress_items(progress *p, long done, const char *unit)
{
    char eta[16], bar[25], tot[32] = "";
    double elapsed;
    if (!due(p, done, eta, bar, &elapsed)) return;
    if (p->total > 0) snprintf(tot, sizeof tot, "/%ld", p->total);
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    if (p->tty)
        fprintf(p->out, "\r%s [%s] %ld%s %s %.1f %s/s eta %s\033[K", p->label, bar, done, tot, unit, rate, unit, eta);
    else
        fprintf(p->out, "%s %ld%s %s %.1f %s/s elapsed %.0fs eta %s\n", p->label, done, tot, unit, rate, unit,
                elapsed, eta);
    fflush(p->out);
}

void progress_update(progress *p, long step, double loss, double rate, const char *extra)
{
    char eta[16], bar[25];
    double elapsed;
    if (!due(p, step, eta, bar, &elapsed)) return;
    const char *unit = p->unit ? p->unit : "tokens", *sp = extra ? " " : "";
    if (p->tty)
        fprintf(p->out, "\r%s [%s] %ld/%ld loss %.4f %.0f %s/s eta %s%s%s\033[K", p->label, bar, step, p->total,
                loss, rate, unit, eta, sp, extra ? extra : "");
    else
        fprintf(p->out, "%s step %ld/%ld loss %.4f %s/s %.0f elapsed %.0fs eta %s%s%s\n", p->label, step, p->total,
                loss, unit, rate, elapsed, eta, sp, extra ? extra : "");
    fflush(p->out);
}

void progress_done(progress *p)
{
    if (p->tty && p->shown && !p->quiet) fprintf(p->out, "\n");
    fflush(p->out);
}
