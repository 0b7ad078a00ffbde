/* args.c — the table-driven option parser of every attn subcommand (grammar in args.h). */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int args_usage_error(const arg_spec *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "attn %s: ", s->cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\ntry 'attn %s --help'\n", s->cmd);
    va_end(ap);
    return 2;
}

static int has_range(const arg_opt *o) { return o->lo < o->hi; }

/* "1..64", "0 or more", "0.5..2" into buf. */
static void range_text(const arg_opt *o, char *buf, size_t cap)
{
    if (o->hi >= ARGS_INF) snprintf(buf, cap, "%.15g or more", o->lo);
    else snprintf(buf, cap, "%.15g..%.15g", o->lo, o->hi);
}

static void kind_limits(arg_kind k, long long *lo, long long *hi)
{
    *lo = k == ARG_INT ? INT32_MIN : INT64_MIN; /* long is 64-bit on our targets */
    *hi = k == ARG_INT ? INT32_MAX : INT64_MAX;
}

/* Parse a whole integer of the option's kind; 0 or a usage error (2). */
static int parse_integer(const arg_spec *s, const char *what, const arg_opt *o, const char *v,
                         long long *out)
{
    char rng[64] = "";
    if (has_range(o)) range_text(o, rng, sizeof rng);
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    long long klo, khi;
    kind_limits(o->kind, &klo, &khi);
    if (end == v || *end || v[0] == ' ' || v[0] == '\t' || v[0] == '\n')
        return args_usage_error(s, "%s must be an integer%s%s, got '%s'", what, rng[0] ? " " : "",
                                rng, v);
    if (errno == ERANGE || x < klo || x > khi || (has_range(o) && ((double)x < o->lo || (double)x > o->hi)))
        return args_usage_error(s, "%s must be %s, got %s", what, rng[0] ? rng : "a smaller integer", v);
    *out = x;
    return 0;
}

static int parse_real(const arg_spec *s, const char *what, const arg_opt *o, const char *v,
                      double *out)
{
    char rng[64] = "";
    if (has_range(o)) range_text(o, rng, sizeof rng);
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || v[0] == ' ' || v[0] == '\t' || v[0] == '\n' || !isfinite(x))
        return args_usage_error(s, "%s must be a number%s%s, got '%s'", what, rng[0] ? " " : "",
                                rng, v);
    if (errno == ERANGE && fabs(x) > 1) return args_usage_error(s, "%s is out of range: %s", what, v);
    if (has_range(o) && (x < o->lo || x > o->hi))
        return args_usage_error(s, "%s must be %s, got %s", what, rng, v);
    *out = x;
    return 0;
}

/* The index of name among "a|b|c", or -1. */
static int choice_index(const char *choices, const char *name)
{
    size_t n = strlen(name);
    int i = 0;
    for (const char *p = choices; p; i++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, name, n)) return i;
        p = bar ? bar + 1 : NULL;
    }
    return -1;
}

static int set_value(const arg_spec *s, const arg_opt *o, const char *v)
{
    char what[80];
    snprintf(what, sizeof what, "--%s", o->name);
    long long ll;
    double d;
    switch (o->kind) {
    case ARG_STR: *(const char **)o->dest = v; return 0;
    case ARG_INT:
        if (parse_integer(s, what, o, v, &ll)) return 2;
        *(int *)o->dest = (int)ll;
        return 0;
    case ARG_LONG:
        if (parse_integer(s, what, o, v, &ll)) return 2;
        *(long *)o->dest = (long)ll;
        return 0;
    case ARG_I64:
        if (parse_integer(s, what, o, v, &ll)) return 2;
        *(int64_t *)o->dest = (int64_t)ll;
        return 0;
    case ARG_DOUBLE:
        if (parse_real(s, what, o, v, &d)) return 2;
        *(double *)o->dest = d;
        return 0;
    case ARG_FLOAT:
        if (parse_real(s, what, o, v, &d)) return 2;
        *(float *)o->dest = (float)d;
        return 0;
    case ARG_CHOICE: {
        int k = choice_index(o->choices, v);
        if (k < 0) return args_usage_error(s, "%s must be one of %s, got '%s'", what, o->choices, v);
        *(int *)o->dest = k;
        return 0;
    }
    case ARG_FLAG: *(int *)o->dest = 1; return 0;
    }
    return args_usage_error(s, "%s: bad option table", what);
}

static const char *default_meta(const arg_opt *o)
{
    if (o->meta) return o->meta;
    switch (o->kind) {
    case ARG_INT: case ARG_LONG: case ARG_I64: return "N";
    case ARG_DOUBLE: case ARG_FLOAT: return "X";
    case ARG_CHOICE: return o->choices;
    default: return "VALUE";
    }
}

static void print_help(const arg_spec *s, FILE *f)
{
    fprintf(f, "usage: attn %s %s\n", s->cmd, s->synopsis ? s->synopsis : "[options]");
    if (s->about) fprintf(f, "%s%s", s->about, s->about[strlen(s->about) - 1] == '\n' ? "" : "\n");
    fprintf(f, "\noptions:\n");
    for (const arg_opt *o = s->opts; o && o->name; o++) {
        char head[96], note[160] = "", rng[64] = "";
        int k = snprintf(head, sizeof head, "  %c%c%s--%s", o->short_name ? '-' : ' ',
                         o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ", o->name);
        if (o->kind != ARG_FLAG && k > 0 && (size_t)k < sizeof head)
            snprintf(head + k, sizeof head - (size_t)k, " %s", default_meta(o));
        if (has_range(o) && o->kind != ARG_CHOICE) range_text(o, rng, sizeof rng);
        char def[64] = "";
        switch (o->kind) {
        case ARG_INT: snprintf(def, sizeof def, "%d", *(int *)o->dest); break;
        case ARG_LONG: snprintf(def, sizeof def, "%ld", *(long *)o->dest); break;
        case ARG_I64: snprintf(def, sizeof def, "%lld", (long long)*(int64_t *)o->dest); break;
        case ARG_DOUBLE: snprintf(def, sizeof def, "%g", *(double *)o->dest); break;
        case ARG_FLOAT: snprintf(def, sizeof def, "%g", (double)*(float *)o->dest); break;
        case ARG_STR:
            if (*(const char **)o->dest) snprintf(def, sizeof def, "%s", *(const char **)o->dest);
            break;
        case ARG_CHOICE: {
            int idx = *(int *)o->dest, i = 0;
            for (const char *p = o->choices; p && i <= idx; i++) {
                const char *bar = strchr(p, '|');
                if (i == idx)
                    snprintf(def, sizeof def, "%.*s", bar ? (int)(bar - p) : (int)strlen(p), p);
                p = bar ? bar + 1 : NULL;
            }
            break;
        }
        case ARG_FLAG: break;
        }
        if (rng[0] && def[0]) snprintf(note, sizeof note, " (%s; default %s)", rng, def);
        else if (rng[0]) snprintf(note, sizeof note, " (%s)", rng);
        else if (def[0]) snprintf(note, sizeof note, " (default %s)", def);
        if (strlen(head) > 28) fprintf(f, "%s\n%-28s %s%s\n", head, "", o->help ? o->help : "", note);
        else fprintf(f, "%-28s %s%s\n", head, o->help ? o->help : "", note);
    }
    fprintf(f, "%-28s %s\n", "  -h, --help", "show this help and exit");
    if (s->epilog) fprintf(f, "\n%s%s", s->epilog, s->epilog[strlen(s->epilog) - 1] == '\n' ? "" : "\n");
}

static const arg_opt *find_long(const arg_spec *s, const char *name, size_t len)
{
    for (const arg_opt *o = s->opts; o && o->name; o++)
        if (strlen(o->name) == len && !strncmp(o->name, name, len)) return o;
    return NULL;
}

static const arg_opt *find_short(const arg_spec *s, char c)
{
    for (const arg_opt *o = s->opts; o && o->name; o++)
        if (o->short_name == c) return o;
    return NULL;
}

int args_wants_help(int argc, char **argv)
{
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--")) return 0;
        if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) return 1;
    }
    return 0;
}

int args_parse(const arg_spec *s, int argc, char **argv, char ***pos, int *npos)
{
    if (args_wants_help(argc, argv)) { /* help wins over any error in the other arguments */
        print_help(s, stdout);
        return 0;
    }
    int w = 1, only_pos = 0;
    for (int a = 1; a < argc; a++) {
        char *t = argv[a];
        if (only_pos || t[0] != '-' || t[1] == '\0') {
            argv[w++] = t; /* w <= a: a slot already read */
            continue;
        }
        if (!strcmp(t, "--")) {
            only_pos = 1;
            continue;
        }
        if (t[1] == '-') {
            const char *name = t + 2, *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const arg_opt *o = find_long(s, name, len);
            if (!o && len == 4 && !strncmp(name, "help", 4)) {
                print_help(s, stdout);
                return 0;
            }
            if (!o) return args_usage_error(s, "unknown option --%.*s", (int)len, name);
            if (o->kind == ARG_FLAG) {
                if (eq) return args_usage_error(s, "--%s takes no value", o->name);
                *(int *)o->dest = 1;
                continue;
            }
            const char *v = eq ? eq + 1 : a + 1 < argc ? argv[++a] : NULL;
            if (!v) return args_usage_error(s, "--%s needs a value (%s)", o->name, default_meta(o));
            if (set_value(s, o, v)) return 2;
            continue;
        }
        for (const char *c = t + 1; *c; c++) { /* -abc: flags; -oFILE or -o FILE: a value */
            const arg_opt *o = find_short(s, *c);
            if (!o && *c == 'h') {
                print_help(s, stdout);
                return 0;
            }
            if (!o) return args_usage_error(s, "unknown option -%c", *c);
            if (o->kind == ARG_FLAG) {
                *(int *)o->dest = 1;
                continue;
            }
            const char *v = c[1] ? c + 1 : a + 1 < argc ? argv[++a] : NULL;
            if (!v) return args_usage_error(s, "-%c (--%s) needs a value (%s)", *c, o->name, default_meta(o));
            if (set_value(s, o, v)) return 2;
            break;
        }
    }
    int n = w - 1;
    if (n < s->min_pos)
        return args_usage_error(s, "needs %d argument%s, got %d (usage: attn %s %s)", s->min_pos,
                                s->min_pos == 1 ? "" : "s", n, s->cmd, s->synopsis ? s->synopsis : "");
    if (s->max_pos >= 0 && n > s->max_pos)
        return args_usage_error(s, "unexpected argument '%s'", argv[1 + s->max_pos]);
    if (pos) *pos = argv + 1;
    if (npos) *npos = n;
    return ARGS_OK;
}

int args_long(const arg_spec *s, const char *what, const char *text, long lo, long hi, long *out)
{
    arg_opt o = {.kind = ARG_LONG, .lo = (double)lo, .hi = (double)hi};
    long long v = 0;
    if (parse_integer(s, what, &o, text, &v)) return 2;
    *out = (long)v;
    return 0;
}
