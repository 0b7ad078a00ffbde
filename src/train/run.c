/* run.c — the run state in one atomic file, exported checkpoints, the run directory, metrics.csv
 * and checkpoint averaging (attn/train.h). */
#include "internal.h"
#include "attn/train.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NAME_CAP (ATTN_PARAM_NAME_MAX + 24)

/* The library's own metadata, as text. */
typedef struct run_meta {
    char v[11][64];
} run_meta;

static const char *const run_keys[11] = {"run.step",       "run.epoch",     "run.batch",      "run.rng_seed",
                                         "run.rng_offset", "run.best",      "run.best_epoch", "run.data_hash",
                                         "run.plan_anchor", "run.plan_span", "run.plan_d"};

static void meta_of(const attn_run_state *s, run_meta *m)
{
    snprintf(m->v[0], 64, "%lld", (long long)s->step);
    snprintf(m->v[1], 64, "%lld", (long long)s->epoch);
    snprintf(m->v[2], 64, "%lld", (long long)s->batch);
    snprintf(m->v[3], 64, "%llu", (unsigned long long)s->rng_seed);
    snprintf(m->v[4], 64, "%llu", (unsigned long long)s->rng_offset);
    snprintf(m->v[5], 64, "%.17g", s->best_metric);
    snprintf(m->v[6], 64, "%lld", (long long)s->best_epoch);
    snprintf(m->v[7], 64, "%llu", (unsigned long long)s->data_hash);
    snprintf(m->v[8], 64, "%lld", (long long)s->plan.anchor);
    snprintf(m->v[9], 64, "%lld", (long long)s->plan.span);
    snprintf(m->v[10], 64, "%.17g,%.17g", s->plan.d0, s->plan.d1);
}

static int add_meta(attn_st_writer *w, const char *const *meta)
{
    for (int i = 0; meta && meta[i]; i += 2) {
        if (!meta[i + 1]) return attn_fail(ATTN_E_ARG, "attn_run: metadata key \"%s\" has no value", meta[i]);
        if (!strncmp(meta[i], "run.", 4))
            return attn_fail(ATTN_E_ARG, "attn_run: metadata key \"%s\": run.* keys are the library's", meta[i]);
        ATTN_TRY(attn_st_writer_set_metadata(w, meta[i], meta[i + 1]));
    }
    return ATTN_OK;
}

int attn_run_save(const char *path, const attn_params *P, attn_optim *o, const attn_run_state *s,
                  const char *const *meta)
{
    static const char fn[] = "attn_run_save";
    ATTN_REQUIRE_NONNULL(fn, path);
    ATTN_REQUIRE_NONNULL(fn, P);
    ATTN_REQUIRE_NONNULL(fn, s);
    const int n = attn_params_count(P);
    char *names = calloc((size_t)(3 * n + 1), NAME_CAP); /* alive until the commit */
    attn_st_writer *w = NULL;
    int st = names ? attn_st_writer_create(&w) : attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    run_meta rm;
    meta_of(s, &rm);
    for (int k = 0; st == ATTN_OK && k < 11; k++) st = attn_st_writer_set_metadata(w, run_keys[k], rm.v[k]);
    char steps[32];
    snprintf(steps, sizeof steps, "%lld", (long long)(o ? attn_optim_steps(o) : 0));
    if (st == ATTN_OK) st = attn_st_writer_set_metadata(w, "run.optim_steps", steps);
    if (st == ATTN_OK) st = add_meta(w, meta);
    for (int i = 0; st == ATTN_OK && i < n; i++) {
        const attn_param *p = attn_params_at(P, i);
        char *name = names + (size_t)(3 * i) * NAME_CAP;
        snprintf(name, NAME_CAP, "model/%s", p->name);
        st = attn_st_writer_add(w, name, p->ndim, p->shape, p->data);
        float *b[2] = {NULL, NULL};
        if (st == ATTN_OK && o) st = attn_optim_state(o, i, &b[0], &b[1]);
        for (int k = 0; st == ATTN_OK && k < 2; k++) {
            if (!b[k]) continue;
            name = names + (size_t)(3 * i + 1 + k) * NAME_CAP;
            snprintf(name, NAME_CAP, "optim/%s.state%d", p->name, k + 1);
            st = attn_st_writer_add(w, name, p->ndim, p->shape, b[k]);
        }
    }
    if (st == ATTN_OK) st = attn_st_writer_commit(w, path);
    attn_st_writer_free(w);
    free(names);
    return st;
}

/* Tensor name with exactly shape (float32: the run state is written by attn_run_save). */
static int check(const char *fn, const attn_st_reader *r, const char *path, const char *name, const attn_param *p)
{
    const int64_t i = attn_st_find(r, name);
    if (i < 0) return attn_fail(ATTN_E_FORMAT, "%s: %s has no tensor \"%s\"", fn, path, name);
    attn_st_entry e;
    ATTN_TRY(attn_st_info(r, i, &e));
    int same = e.ndim == p->ndim && !strcmp(e.dtype, "F32");
    for (int d = 0; same && d < p->ndim; d++) same = e.shape[d] == p->shape[d];
    if (!same) return attn_fail(ATTN_E_FORMAT, "%s: %s: tensor \"%s\" is not the model's (F32, %d dims)", fn, path, name, p->ndim);
    return ATTN_OK;
}

static int parse_i64(const char *fn, const char *path, const char *key, const char *v, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || !*v || *end || errno || x < 0)
        return attn_fail(ATTN_E_FORMAT, "%s: %s: metadata %s is %s%s%s, not a count", fn, path, key, v ? "\"" : "",
                         v ? v : "missing", v ? "\"" : "");
    *out = x;
    return ATTN_OK;
}

static int parse_u64(const char *fn, const char *path, const char *key, const char *v, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long x = v && *v != '-' ? strtoull(v, &end, 10) : 0;
    if (!v || !*v || *v == '-' || *end || errno)
        return attn_fail(ATTN_E_FORMAT, "%s: %s: metadata %s is not an unsigned number", fn, path, key);
    *out = x;
    return ATTN_OK;
}

static int parse_f64(const char *fn, const char *path, const char *key, const char *v, double *out, char stop)
{
    char *end = NULL;
    double x = v ? strtod(v, &end) : 0;
    if (!v || end == v || *end != stop || isnan(x))
        return attn_fail(ATTN_E_FORMAT, "%s: %s: metadata %s is not a number", fn, path, key);
    *out = x;
    return ATTN_OK;
}

static int read_state(const char *fn, const char *path, const attn_st_reader *r, attn_run_state *s,
                      int64_t *optim_steps)
{
    const char *v[11];
    for (int k = 0; k < 11; k++) v[k] = attn_st_metadata(r, run_keys[k]);
    ATTN_TRY(parse_i64(fn, path, run_keys[0], v[0], &s->step));
    ATTN_TRY(parse_i64(fn, path, run_keys[1], v[1], &s->epoch));
    ATTN_TRY(parse_i64(fn, path, run_keys[2], v[2], &s->batch));
    ATTN_TRY(parse_u64(fn, path, run_keys[3], v[3], &s->rng_seed));
    ATTN_TRY(parse_u64(fn, path, run_keys[4], v[4], &s->rng_offset));
    ATTN_TRY(parse_f64(fn, path, run_keys[5], v[5], &s->best_metric, '\0'));
    ATTN_TRY(parse_i64(fn, path, run_keys[6], v[6], &s->best_epoch));
    ATTN_TRY(parse_u64(fn, path, run_keys[7], v[7], &s->data_hash));
    ATTN_TRY(parse_i64(fn, path, run_keys[8], v[8], &s->plan.anchor));
    ATTN_TRY(parse_i64(fn, path, run_keys[9], v[9], &s->plan.span));
    ATTN_TRY(parse_f64(fn, path, run_keys[10], v[10], &s->plan.d0, ','));
    ATTN_TRY(parse_f64(fn, path, run_keys[10], strchr(v[10], ',') + 1, &s->plan.d1, '\0'));
    return parse_i64(fn, path, "run.optim_steps", attn_st_metadata(r, "run.optim_steps"), optim_steps);
}

int attn_run_load(const char *path, attn_params *P, attn_optim *o, uint64_t data_hash, attn_run_state *s,
                  attn_st_reader **meta)
{
    static const char fn[] = "attn_run_load";
    ATTN_REQUIRE_NONNULL(fn, path);
    ATTN_REQUIRE_NONNULL(fn, P);
    ATTN_REQUIRE_NONNULL(fn, s);
    if (meta) *meta = NULL;
    attn_st_reader *r;
    ATTN_TRY(attn_st_open(path, &r));
    attn_run_state got = {0};
    int64_t osteps = 0;
    int st = read_state(fn, path, r, &got, &osteps);
    if (st == ATTN_OK && data_hash && got.data_hash != data_hash)
        st = attn_fail(ATTN_E_STATE,
                       "%s: %s was trained on other data (checksum %016llx, this data %016llx): resume with the same data",
                       fn, path, (unsigned long long)got.data_hash, (unsigned long long)data_hash);
    const int n = attn_params_count(P);
    char name[NAME_CAP];
    int64_t expected = 0;
    for (int pass = 0; pass < 2 && st == ATTN_OK; pass++) /* check everything before changing anything */
        for (int i = 0; st == ATTN_OK && i < n; i++) {
            attn_param *p = attn_params_at(P, i);
            snprintf(name, sizeof name, "model/%s", p->name);
            if (pass == 0) st = check(fn, r, path, name, p), expected++;
            else st = attn_st_read_f32(r, name, p->data, p->numel);
            float *b[2] = {NULL, NULL};
            if (st == ATTN_OK && o) st = attn_optim_state(o, i, &b[0], &b[1]);
            for (int k = 0; st == ATTN_OK && k < 2; k++) {
                if (!b[k]) continue;
                snprintf(name, sizeof name, "optim/%s.state%d", p->name, k + 1);
                if (pass == 0) st = check(fn, r, path, name, p), expected++;
                else st = attn_st_read_f32(r, name, b[k], p->numel);
            }
        }
    if (st == ATTN_OK && o) st = attn_optim_set_steps(o, osteps);
    (void)expected;
    if (st == ATTN_OK) *s = got;
    if (st == ATTN_OK && meta) *meta = r;
    else attn_st_close(r);
    return st;
}

int attn_run_export(const char *path, const attn_params *P, int64_t step, const char *const *meta)
{
    static const char fn[] = "attn_run_export";
    ATTN_REQUIRE_NONNULL(fn, path);
    ATTN_REQUIRE_NONNULL(fn, P);
    int n = 0;
    while (meta && meta[n]) n += 2;
    const char **kv = malloc((size_t)(n + 3) * sizeof *kv);
    if (!kv) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    char sv[32];
    snprintf(sv, sizeof sv, "%lld", (long long)step);
    for (int i = 0; i < n; i++) kv[i] = meta[i];
    kv[n] = "run.step", kv[n + 1] = sv, kv[n + 2] = NULL;
    int st = attn_checkpoint_save(P, path, kv);
    free(kv);
    return st;
}

/* ---- the run directory ------------------------------------------------------------------------ */

int attn_run_dir_prepare(const char *dir)
{
    static const char fn[] = "attn_run_dir_prepare";
    ATTN_REQUIRE_NONNULL(fn, dir);
    const size_t len = strlen(dir);
    if (len == 0 || len > 4000) return attn_fail(ATTN_E_ARG, "%s: a directory name of %zu bytes", fn, len);
    char buf[4096];
    memcpy(buf, dir, len + 1);
    for (char *p = buf + 1; ; p++) {
        const char c = *p;
        if (c != '/' && c != '\0') continue;
        *p = '\0';
        if (mkdir(buf, 0777) && errno != EEXIST)
            return attn_fail(ATTN_E_IO, "%s: cannot create %s: %s", fn, buf, strerror(errno));
        *p = c;
        if (c == '\0') break;
    }
    struct stat sb;
    if (stat(dir, &sb) || !S_ISDIR(sb.st_mode)) return attn_fail(ATTN_E_IO, "%s: %s is not a directory", fn, dir);
    DIR *d = opendir(dir);
    if (!d) return attn_fail(ATTN_E_IO, "%s: cannot read %s: %s", fn, dir, strerror(errno));
    int st = ATTN_OK;
    for (struct dirent *e; st == ATTN_OK && (e = readdir(d));) {
        /* what a killed atomic write leaves: "<file>.tmp.<pid>[.<k>]" (attn_st_writer_commit,
         * the tokenizer file) or "<file>.tmp.cut" (attn_metrics) — nothing else is touched */
        const char *m = strstr(e->d_name, ".tmp.");
        if (!m || !(isdigit((unsigned char)m[5]) || !strcmp(m + 5, "cut"))) continue;
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (remove(p) && errno != ENOENT) st = attn_fail(ATTN_E_IO, "%s: cannot remove %s: %s", fn, p, strerror(errno));
    }
    closedir(d);
    return st;
}

/* ---- metrics.csv ------------------------------------------------------------------------------- */

struct attn_metrics {
    FILE *f;
    char *path;
};

static int metrics_fail(attn_metrics *m, const char *what)
{
    return attn_fail(ATTN_E_IO, "attn_metrics: %s %s: %s", what, m->path, strerror(errno));
}

/* Which comma-separated column of the header line is "step" (−1: none). */
static int step_column(const char *header)
{
    int col = 0;
    for (const char *p = header;; col++) {
        const size_t n = strcspn(p, ",\r\n");
        if (n == 4 && !strncmp(p, "step", 4)) return col;
        if (p[n] != ',') return -1;
        p += n + 1;
    }
}

/* Keep the header and the rows whose step is ≤ step; rewrite atomically. */
static int cut_rows(const char *path, int64_t step)
{
    FILE *in = fopen(path, "r");
    if (!in) return errno == ENOENT ? ATTN_OK : attn_fail(ATTN_E_IO, "attn_metrics: cannot read %s: %s", path, strerror(errno));
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.cut", path);
    FILE *out = fopen(tmp, "w");
    if (!out) {
        fclose(in);
        return attn_fail(ATTN_E_IO, "attn_metrics: cannot write %s: %s", tmp, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    int64_t row = 0;
    int col = -1, st = ATTN_OK;
    while (st == ATTN_OK && getline(&line, &cap, in) >= 0) {
        if (row++ == 0) {
            if ((col = step_column(line)) < 0)
                st = attn_fail(ATTN_E_FORMAT, "attn_metrics: %s has no \"step\" column to resume from", path);
            fputs(line, out);
            continue;
        }
        const char *c = line;
        for (int k = 0; k < col && c; k++) c = strchr(c, ','), c = c ? c + 1 : NULL;
        if (c && strtoll(c, NULL, 10) <= step) fputs(line, out);
    }
    free(line);
    fclose(in);
    const int bad = ferror(out) | fflush(out);
    if (fclose(out) || bad || (st == ATTN_OK && rename(tmp, path))) {
        remove(tmp);
        return st ? st : attn_fail(ATTN_E_IO, "attn_metrics: cannot rewrite %s: %s", path, strerror(errno));
    }
    if (st) remove(tmp);
    return st;
}

int attn_metrics_open(const char *path, const char *header, int resume, int64_t resume_step, attn_metrics **out)
{
    static const char fn[] = "attn_metrics_open";
    ATTN_REQUIRE_NONNULL(fn, path);
    ATTN_REQUIRE_NONNULL(fn, header);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    if (strlen(path) > 4000) return attn_fail(ATTN_E_ARG, "%s: path too long", fn);
    if (resume) ATTN_TRY(cut_rows(path, resume_step));
    attn_metrics *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    }
    m->f = fopen(path, resume ? "a" : "w");
    if (!m->f) {
        int st = metrics_fail(m, "cannot open");
        free(m->path), free(m);
        return st;
    }
    if (ftell(m->f) == 0 && (fprintf(m->f, "%s\n", header) < 0 || fflush(m->f))) {
        int st = metrics_fail(m, "cannot write");
        attn_metrics_close(m);
        return st;
    }
    *out = m;
    return ATTN_OK;
}

int attn_metrics_row(attn_metrics *m, const char *row)
{
    ATTN_REQUIRE_NONNULL("attn_metrics_row", m);
    ATTN_REQUIRE_NONNULL("attn_metrics_row", row);
    if (fprintf(m->f, "%s\n", row) < 0 || fflush(m->f) || ferror(m->f)) return metrics_fail(m, "cannot write");
    return ATTN_OK;
}

int attn_metrics_close(attn_metrics *m)
{
    if (!m) return ATTN_OK;
    int st = fclose(m->f) ? metrics_fail(m, "cannot close") : ATTN_OK;
    free(m->path), free(m);
    return st;
}

/* ---- averaging --------------------------------------------------------------------------------- */

int attn_params_average_files(attn_params *P, const char *const *paths, int n)
{
    static const char fn[] = "attn_params_average_files";
    ATTN_REQUIRE_NONNULL(fn, P);
    ATTN_REQUIRE_NONNULL(fn, paths);
    if (n < 1) return attn_fail(ATTN_E_ARG, "%s: n=%d", fn, n);
    const int np = attn_params_count(P);
    int64_t most = 1;
    for (int i = 0; i < np; i++) most = attn_params_at(P, i)->numel > most ? attn_params_at(P, i)->numel : most;
    float *tmp = malloc((size_t)most * sizeof *tmp);
    double **acc = calloc((size_t)(np > 0 ? np : 1), sizeof *acc);
    int st = tmp && acc ? ATTN_OK : attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    for (int i = 0; st == ATTN_OK && i < np; i++)
        if (!(acc[i] = calloc((size_t)attn_params_at(P, i)->numel, sizeof **acc)))
            st = attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    for (int f = 0; st == ATTN_OK && f < n; f++) {
        attn_st_reader *r = NULL;
        st = attn_st_open(paths[f], &r);
        for (int i = 0; st == ATTN_OK && i < np; i++) {
            attn_param *p = attn_params_at(P, i);
            st = attn_st_read_f32(r, p->name, tmp, p->numel);
            for (int64_t k = 0; st == ATTN_OK && k < p->numel; k++) acc[i][k] += tmp[k];
        }
        attn_st_close(r);
    }
    for (int i = 0; st == ATTN_OK && i < np; i++) { /* only now, when every file was read */
        attn_param *p = attn_params_at(P, i);
        for (int64_t k = 0; k < p->numel; k++) p->data[k] = (float)(acc[i][k] / n);
    }
    for (int i = 0; acc && i < np; i++) free(acc[i]);
    free(acc), free(tmp);
    return st;
}

/* ---- a fingerprint of the run state ----------------------------------------------------------- */

static uint64_t hash_i64(uint64_t h, int64_t x) { return attn_hash64(h, &x, sizeof x); }

uint64_t attn_run_state_hash(const attn_params *P, attn_optim *o, const attn_run_state *s)
{
    uint64_t h = ATTN_HASH64_INIT;
    const int n = P ? attn_params_count(P) : 0;
    h = hash_i64(h, n);
    for (int i = 0; i < n; i++) {
        const attn_param *p = attn_params_at(P, i);
        h = attn_hash64(h, p->name, strlen(p->name) + 1);
        h = hash_i64(h, p->numel);
        h = attn_hash64(h, p->data, (size_t)p->numel * sizeof *p->data);
        float *m[2] = {NULL, NULL};
        if (o && attn_optim_state(o, i, &m[0], &m[1]) != ATTN_OK) m[0] = m[1] = NULL;
        for (int k = 0; k < 2; k++) {
            h = hash_i64(h, m[k] != NULL);
            if (m[k]) h = attn_hash64(h, m[k], (size_t)p->numel * sizeof *m[k]);
        }
    }
    h = hash_i64(h, o ? attn_optim_steps(o) : -1);
    if (s) {
        const int64_t counters[] = {s->step, s->epoch, s->batch, (int64_t)s->rng_seed, (int64_t)s->rng_offset,
                                    s->best_epoch, (int64_t)s->data_hash, s->plan.anchor, s->plan.span};
        for (size_t k = 0; k < sizeof counters / sizeof counters[0]; k++) h = hash_i64(h, counters[k]);
        const double reals[] = {s->best_metric, s->plan.d0, s->plan.d1};
        h = attn_hash64(h, reals, sizeof reals);
    }
    return h;
}
