/* test_train.c — attn/train.h: the run state round trip (bit-exact, every tensor checked before
 * anything changes, other data refused), exported checkpoints, the run directory's stale
 * temporary files, metrics.csv cut back on resume, length-bucketed batches, shuffles, the budget
 * schedule and checkpoint averaging. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attn.h"
#include "test_tmp.h"

static const char *test_dir(void) { return test_tmp_dir(); }
static char *path_of(const char *name) { return test_tmp_path(name); }

/* A small model with an optimiser that has taken two steps (moments nonzero). */
static void model(uint64_t seed, attn_params **P, attn_optim **o)
{
    cr_assert_eq(attn_params_create(seed, P), ATTN_OK);
    int64_t s1[2] = {3, 5}, s2[1] = {7};
    cr_assert_eq(attn_params_add(*P, "", "w", 2, s1, ATTN_INIT_NORMAL, 1.0f, NULL), ATTN_OK);
    cr_assert_eq(attn_params_add(*P, "", "b", 1, s2, ATTN_INIT_UNIFORM, 0.5f, NULL), ATTN_OK);
    attn_optim_config oc = {.kind = ATTN_OPTIM_ADAMW, .beta1 = 0.9f, .beta2 = 0.98f, .eps = 1e-9f};
    cr_assert_eq(attn_optim_create(*P, &oc, o), ATTN_OK, "%s", attn_last_error());
    for (int step = 0; step < 2; step++) {
        for (int i = 0; i < attn_params_count(*P); i++) {
            attn_param *p = attn_params_at(*P, i);
            for (int64_t k = 0; k < p->numel; k++) p->grad[k] = sinf((float)(k + 7 * i + step));
        }
        cr_assert_eq(attn_optim_step(*o, 0.01f), ATTN_OK, "%s", attn_last_error());
    }
}

static void same_params(attn_params *a, attn_params *b)
{
    for (int i = 0; i < attn_params_count(a); i++) {
        attn_param *x = attn_params_at(a, i), *y = attn_params_at(b, i);
        cr_assert_eq(memcmp(x->data, y->data, (size_t)x->numel * 4), 0, "%s differs", x->name);
    }
}

Test(train, run_state_round_trip_is_exact)
{
    attn_params *P, *Q;
    attn_optim *o, *q;
    model(1, &P, &o);
    model(2, &Q, &q);
    attn_run_state s = {.step = 42, .epoch = 3, .batch = 0, .rng_seed = 99, .rng_offset = 1234567890123ull,
                        .best_metric = 31.25, .best_epoch = 2, .data_hash = 0xfeedfacecafebeefull,
                        .plan = {40, 10, 0.5, 0.375}};
    const char *meta[] = {"attn.tokenizer", "spm", "note", "x", NULL};
    const char *p = path_of("run.safetensors");
    cr_assert_eq(attn_run_save(p, P, o, &s, meta), ATTN_OK, "%s", attn_last_error());
    attn_run_state t;
    attn_st_reader *r;
    cr_assert_eq(attn_run_load(p, Q, q, s.data_hash, &t, &r), ATTN_OK, "%s", attn_last_error());
    same_params(P, Q);
    cr_assert_eq(memcmp(&s, &t, sizeof s), 0, "the state comes back field for field");
    cr_assert_str_eq(attn_st_metadata(r, "note"), "x");
    attn_st_close(r);
    cr_assert_eq(attn_optim_steps(q), 2);
    for (int i = 0; i < attn_params_count(P); i++) {
        float *m1, *v1, *m2, *v2;
        attn_optim_state(o, i, &m1, &v1);
        attn_optim_state(q, i, &m2, &v2);
        const int64_t n = attn_params_at(P, i)->numel;
        cr_assert(!memcmp(m1, m2, (size_t)n * 4) && !memcmp(v1, v2, (size_t)n * 4), "moments of %d", i);
    }
    /* other data: refused, nothing changed */
    attn_params *R;
    attn_optim *ro;
    model(3, &R, &ro);
    const float before = attn_params_at(R, 0)->data[0];
    cr_assert_eq(attn_run_load(p, R, ro, 0x1234, &t, NULL), ATTN_E_STATE);
    cr_assert(strstr(attn_last_error(), "other data") != NULL, "%s", attn_last_error());
    cr_assert_eq(attn_params_at(R, 0)->data[0], before);
    /* data_hash 0: no check */
    cr_assert_eq(attn_run_load(p, R, ro, 0, &t, NULL), ATTN_OK);
    /* the caller cannot overwrite the library's keys */
    const char *bad[] = {"run.step", "7", NULL};
    cr_assert_eq(attn_run_save(path_of("bad.safetensors"), P, o, &s, bad), ATTN_E_ARG);
    attn_optim_free(o), attn_optim_free(q), attn_optim_free(ro);
    attn_params_free(P), attn_params_free(Q), attn_params_free(R);
}

Test(train, run_load_checks_before_changing)
{
    attn_params *P, *Q;
    attn_optim *o, *q;
    model(1, &P, &o);
    attn_run_state s = {.step = 1, .best_metric = -INFINITY};
    const char *p = path_of("run2.safetensors");
    cr_assert_eq(attn_run_save(p, P, o, &s, NULL), ATTN_OK);
    /* a model with one more parameter: the file lacks it */
    model(5, &Q, &q);
    int64_t sh[1] = {2};
    attn_param *extra;
    cr_assert_eq(attn_params_add(Q, "", "c", 1, sh, ATTN_INIT_ONES, 0, &extra), ATTN_OK);
    attn_optim_free(q);
    attn_optim_config oc = {.kind = ATTN_OPTIM_ADAMW, .beta1 = 0.9f, .beta2 = 0.98f, .eps = 1e-9f};
    cr_assert_eq(attn_optim_create(Q, &oc, &q), ATTN_OK);
    const float w0 = attn_params_at(Q, 0)->data[0];
    attn_run_state t = {0};
    cr_assert_eq(attn_run_load(p, Q, q, 0, &t, NULL), ATTN_E_FORMAT);
    cr_assert(strstr(attn_last_error(), "model/c") != NULL, "%s", attn_last_error());
    cr_assert_eq(attn_params_at(Q, 0)->data[0], w0, "nothing read before every tensor was found");
    cr_assert_eq(t.step, 0);
    /* a plain checkpoint is not a run state */
    const char *plain = path_of("plain.safetensors");
    cr_assert_eq(attn_run_export(plain, P, 17, NULL), ATTN_OK);
    cr_assert_eq(attn_run_load(plain, P, o, 0, &t, NULL), ATTN_E_FORMAT);
    attn_st_reader *r;
    cr_assert_eq(attn_st_open(plain, &r), ATTN_OK);
    cr_assert_str_eq(attn_st_metadata(r, "run.step"), "17", "exports carry the step");
    attn_st_close(r);
    cr_assert_eq(attn_run_load(path_of("missing.safetensors"), P, o, 0, &t, NULL), ATTN_E_IO);
    attn_optim_free(o), attn_optim_free(q);
    attn_params_free(P), attn_params_free(Q);
}

Test(train, dir_prepare_creates_and_removes_stale_temporaries)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/a/b/c", test_dir());
    cr_assert_eq(attn_run_dir_prepare(dir), ATTN_OK, "%s", attn_last_error());
    char stale[400], keep[400];
    snprintf(stale, sizeof stale, "%s/run.safetensors.tmp.123.0", dir);
    snprintf(keep, sizeof keep, "%s/model.safetensors", dir);
    FILE *f = fopen(stale, "w");
    fputs("half a file", f), fclose(f);
    f = fopen(keep, "w");
    fputs("a model", f), fclose(f);
    char mine[400];
    snprintf(mine, sizeof mine, "%s/notes.tmp.txt", dir);
    f = fopen(mine, "w");
    fputs("the user's", f), fclose(f);
    cr_assert_eq(attn_run_dir_prepare(dir), ATTN_OK);
    cr_assert_neq(access(stale, F_OK), 0, "the stale temporary is gone");
    cr_assert_eq(access(keep, F_OK), 0, "other files stay");
    cr_assert_eq(access(mine, F_OK), 0, "a file that only looks like a temporary stays");
    cr_assert_eq(attn_run_dir_prepare(keep), ATTN_E_IO, "a file is not a directory");
}

static char *slurp(const char *p)
{
    static char buf[4096];
    FILE *f = fopen(p, "r");
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

Test(train, metrics_are_cut_back_on_resume)
{
    const char *p = path_of("metrics.csv");
    attn_metrics *m;
    cr_assert_eq(attn_metrics_open(p, "epoch,step,loss", 0, 0, &m), ATTN_OK);
    cr_assert_eq(attn_metrics_row(m, "1,10,3.5"), ATTN_OK);
    cr_assert_eq(attn_metrics_row(m, "2,20,3.0"), ATTN_OK);
    cr_assert_eq(attn_metrics_row(m, "3,30,2.5"), ATTN_OK); /* written, then the run was killed */
    cr_assert_eq(attn_metrics_close(m), ATTN_OK);
    /* resumed from the state saved at step 20: row 3 goes, and comes again once */
    cr_assert_eq(attn_metrics_open(p, "epoch,step,loss", 1, 20, &m), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(attn_metrics_row(m, "3,30,2.5"), ATTN_OK);
    cr_assert_eq(attn_metrics_close(m), ATTN_OK);
    cr_assert_str_eq(slurp(p), "epoch,step,loss\n1,10,3.5\n2,20,3.0\n3,30,2.5\n");
    /* a new run rewrites */
    cr_assert_eq(attn_metrics_open(p, "epoch,step,loss", 0, 0, &m), ATTN_OK);
    cr_assert_eq(attn_metrics_close(m), ATTN_OK);
    cr_assert_str_eq(slurp(p), "epoch,step,loss\n");
    /* a write error is an error */
    if (access("/dev/full", W_OK) == 0) {
        cr_assert_eq(attn_metrics_open("/dev/full", "h", 0, 0, &m), ATTN_E_IO);
    }
}

Test(train, batches_by_length)
{
    enum { N = 500 };
    int64_t len[N];
    uint64_t s = 7;
    for (int i = 0; i < N; i++) len[i] = 1 + (int64_t)(attn_splitmix64(&s) % 60);
    len[17] = 300; /* longer than the budget: alone */
    for (int jitter = 0; jitter < 2; jitter++) {
        attn_batches b;
        cr_assert_eq(attn_batches_by_length(len, N, 256, 11, jitter, &b), ATTN_OK);
        char seen[N] = {0};
        for (int64_t k = 0; k < b.nb; k++) {
            int64_t longest = 0, count = b.start[k + 1] - b.start[k];
            cr_assert(count >= 1);
            for (int64_t i = b.start[k]; i < b.start[k + 1]; i++) {
                cr_assert(!seen[b.order[i]], "example %lld twice", (long long)b.order[i]);
                seen[b.order[i]] = 1;
                longest = len[b.order[i]] > longest ? len[b.order[i]] : longest;
            }
            cr_assert(count == 1 || count * longest <= 256, "batch %lld: %lld × %lld tokens", (long long)k,
                      (long long)count, (long long)longest);
        }
        for (int i = 0; i < N; i++) cr_assert(seen[i], "example %d missing", i);
        if (!jitter)
            for (int64_t i = 1; i < N; i++) cr_assert(len[b.order[i - 1]] <= len[b.order[i]], "sorted");
        attn_batches_free(&b);
    }
    attn_batches a, c;
    cr_assert_eq(attn_batches_by_length(len, N, 256, 11, 1, &a), ATTN_OK);
    cr_assert_eq(attn_batches_by_length(len, N, 256, 11, 1, &c), ATTN_OK);
    cr_assert(a.nb == c.nb && !memcmp(a.order, c.order, N * 8), "same seed, same batches");
    attn_batches_free(&c);
    cr_assert_eq(attn_batches_by_length(len, N, 256, 12, 1, &c), ATTN_OK);
    cr_assert(memcmp(a.order, c.order, N * 8), "another seed, other batches");
    attn_batches_free(&a), attn_batches_free(&c);
    cr_assert_eq(attn_batches_by_length(len, N, 0, 1, 0, &a), ATTN_E_ARG);
}

Test(train, shuffle_and_splitmix)
{
    int64_t p[100], q[100];
    for (int i = 0; i < 100; i++) p[i] = q[i] = i;
    attn_shuffle(p, 100, 5);
    attn_shuffle(q, 100, 5);
    cr_assert_eq(memcmp(p, q, sizeof p), 0);
    long sum = 0;
    int moved = 0;
    for (int i = 0; i < 100; i++) sum += p[i], moved += p[i] != i;
    cr_assert(sum == 4950 && moved > 80, "a permutation that moves most elements (%d)", moved);
    /* SplitMix64's published first outputs for seed 0 */
    uint64_t s = 0;
    cr_assert_eq(attn_splitmix64(&s), 0xe220a8397b1dcdafull);
    cr_assert_eq(attn_splitmix64(&s), 0x6e789e6aa1b965f4ull);
    cr_assert_eq(attn_hash64(ATTN_HASH64_INIT, "a", 1), 0xaf63dc4c8601ec8cull, "FNV-1a 64 of \"a\"");
}

Test(train, budget_schedule)
{
    attn_budget_plan none = {0};
    cr_assert_eq(attn_budget_factor(&none, 123), 1.0);
    attn_budget_plan b = attn_budget_replan(100, 50, 0, 4, 0, 0, 0);
    cr_assert(b.anchor == 100 && b.span == 50 && fabs(b.d0 - 0.75) < 1e-12 && fabs(b.d1 - 0.5) < 1e-12);
    cr_assert(fabs(attn_budget_factor(&b, 125) - 0.625) < 1e-12);
    cr_assert(fabs(attn_budget_factor(&b, 99) - 0.75) < 1e-12 && fabs(attn_budget_factor(&b, 1000) - 0.5) < 1e-12);
    /* time runs out first: 600 s budget, 450 used, 200 an epoch → 0.25 then 0 */
    b = attn_budget_replan(100, 50, 0, 4, 600, 450, 200);
    cr_assert(fabs(b.d0 - 0.25) < 1e-12 && b.d1 == 0);
}

Test(train, averaging_checkpoints)
{
    attn_params *P[3];
    attn_optim *o[3];
    const char *paths[3];
    char names[3][256];
    for (int k = 0; k < 3; k++) {
        model((uint64_t)k + 10, &P[k], &o[k]);
        snprintf(names[k], sizeof names[k], "%s", path_of(k == 0 ? "e1.safetensors" : k == 1 ? "e2.safetensors" : "e3.safetensors"));
        paths[k] = names[k];
        cr_assert_eq(attn_run_export(paths[k], P[k], k, NULL), ATTN_OK);
    }
    attn_params *A;
    attn_optim *ao;
    model(99, &A, &ao);
    cr_assert_eq(attn_params_average_files(A, paths, 3), ATTN_OK, "%s", attn_last_error());
    for (int i = 0; i < attn_params_count(A); i++)
        for (int64_t k = 0; k < attn_params_at(A, i)->numel; k++) {
            double want = 0;
            for (int f = 0; f < 3; f++) want += attn_params_at(P[f], i)->data[k];
            cr_assert(fabs(attn_params_at(A, i)->data[k] - want / 3) <= 1e-6 * (1 + fabs(want)));
        }
    const float w0 = attn_params_at(A, 0)->data[0];
    const char *bad[2] = {paths[0], path_of("nothing.safetensors")};
    cr_assert_neq(attn_params_average_files(A, bad, 2), ATTN_OK);
    cr_assert_eq(attn_params_at(A, 0)->data[0], w0, "a failed average changes nothing");
    for (int k = 0; k < 3; k++) attn_optim_free(o[k]), attn_params_free(P[k]);
    attn_optim_free(ao), attn_params_free(A);
}

/* The state hash the ranks of a job compare on resume: a saved and reloaded state hashes the
 * same; one changed bit of a weight, a moment, the optimiser's step count or a counter does not. */
Test(train, run_state_hash_follows_the_state)
{
    attn_params *P, *Q;
    attn_optim *o, *q;
    model(1, &P, &o);
    model(2, &Q, &q);
    attn_run_state s = {.step = 7, .epoch = 1, .rng_seed = 5, .rng_offset = 9, .best_metric = -INFINITY};
    const char *p = path_of("hash.safetensors");
    cr_assert_eq(attn_run_save(p, P, o, &s, NULL), ATTN_OK, "%s", attn_last_error());
    const uint64_t h = attn_run_state_hash(P, o, &s);
    cr_assert_neq(attn_run_state_hash(Q, q, &s), h, "another model");
    attn_run_state t;
    cr_assert_eq(attn_run_load(p, Q, q, 0, &t, NULL), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(attn_run_state_hash(Q, q, &t), h, "saved and loaded: the same hash");
    attn_param *w = attn_params_at(Q, 0);
    uint32_t bits;
    memcpy(&bits, &w->data[0], 4), bits ^= 1, memcpy(&w->data[0], &bits, 4);
    cr_assert_neq(attn_run_state_hash(Q, q, &t), h, "one bit of a weight");
    memcpy(&bits, &w->data[0], 4), bits ^= 1, memcpy(&w->data[0], &bits, 4);
    float *m, *v;
    cr_assert_eq(attn_optim_state(q, 1, &m, &v), ATTN_OK);
    v[0] = nextafterf(v[0], 1.0f);
    cr_assert_neq(attn_run_state_hash(Q, q, &t), h, "a second moment");
    v[0] = nextafterf(v[0], -1.0f);
    cr_assert_eq(attn_run_state_hash(Q, q, &t), h, "restored");
    attn_optim_set_steps(q, attn_optim_steps(q) + 1);
    cr_assert_neq(attn_run_state_hash(Q, q, &t), h, "the optimiser's step count");
    attn_optim_set_steps(q, attn_optim_steps(q) - 1);
    t.rng_offset++;
    cr_assert_neq(attn_run_state_hash(Q, q, &t), h, "the dropout stream's offset");
    t.rng_offset--, t.step++;
    cr_assert_neq(attn_run_state_hash(Q, q, &t), h, "the step");
    cr_assert_neq(attn_run_state_hash(Q, NULL, &s), h, "without the optimiser");
    attn_optim_free(o), attn_optim_free(q);
    attn_params_free(P), attn_params_free(Q);
}
