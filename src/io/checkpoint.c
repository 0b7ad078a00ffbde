/* checkpoint.c — parameter tables and optimiser state to and from safetensors files. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int add_meta(attn_st_writer *w, const char *const *meta)
{
    for (int i = 0; meta && meta[i]; i += 2) {
        if (!meta[i + 1])
            return attn_fail(ATTN_E_ARG, "checkpoint: metadata key \"%s\" has no value", meta[i]);
        ATTN_TRY(attn_st_writer_set_metadata(w, meta[i], meta[i + 1]));
    }
    return ATTN_OK;
}

int attn_checkpoint_save(const attn_params *P, const char *path, const char *const *meta)
{
    static const char fn[] = "attn_checkpoint_save";
    ATTN_REQUIRE_NONNULL(fn, P);
    ATTN_REQUIRE_NONNULL(fn, path);
    attn_st_writer *w;
    ATTN_TRY(attn_st_writer_create(&w));
    int st = add_meta(w, meta);
    for (int i = 0; st == ATTN_OK && i < attn_params_count(P); i++) {
        const attn_param *p = attn_params_at(P, i);
        st = attn_st_writer_add(w, p->name, p->ndim, p->shape, p->data);
    }
    if (st == ATTN_OK) st = attn_st_writer_commit(w, path);
    attn_st_writer_free(w);
    return st;
}

/* Tensor `name` must exist with exactly this shape and a dtype attn_st_read_f32 converts. */
static int check_entry(const char *fn, const attn_st_reader *st, const char *name, int ndim,
                       const int64_t *shape)
{
    int64_t idx = attn_st_find(st, name);
    if (idx < 0) return attn_fail(ATTN_E_FORMAT, "%s: the file has no tensor \"%s\"", fn, name);
    attn_st_entry e;
    ATTN_TRY(attn_st_info(st, idx, &e));
    int same = e.ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = e.shape[d] == shape[d];
    if (!same) {
        char want[96] = "", have[96] = "";
        for (int d = 0; d < ndim; d++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", d ? ", " : "",
                     (long long)shape[d]);
        for (int d = 0; d < e.ndim && d < 8; d++)
            snprintf(have + strlen(have), sizeof have - strlen(have), "%s%lld", d ? ", " : "",
                     (long long)e.shape[d]);
        return attn_fail(ATTN_E_FORMAT, "%s: tensor \"%s\" is [%s] in the file, the model needs [%s]",
                         fn, name, have, want);
    }
    static const char *const floats[] = {"F32", "F16", "BF16", "F64"};
    for (int k = 0; k < 4; k++)
        if (!strcmp(e.dtype, floats[k])) return ATTN_OK;
    return attn_fail(ATTN_E_FORMAT, "%s: tensor \"%s\" is %s, a model needs F32, F16, BF16 or F64", fn,
                     name, e.dtype);
}

int attn_checkpoint_check_layers(const char *fn, const attn_st_reader *st, int64_t layers)
{
    if (layers > attn_st_count(st))
        return attn_fail(ATTN_E_FORMAT, "%s: the configuration asks for %lld layers, the file has only %lld tensors",
                         fn, (long long)layers, (long long)attn_st_count(st));
    return ATTN_OK;
}

int attn_checkpoint_load(attn_params *P, const attn_st_reader *st)
{
    static const char fn[] = "attn_checkpoint_load";
    ATTN_REQUIRE_NONNULL(fn, P);
    ATTN_REQUIRE_NONNULL(fn, st);
    int n = attn_params_count(P);
    /* strict: the file holds exactly the model's tensors, each of the model's shape, so the
     * bytes read (and allocated, for a table made without data) are what the file holds */
    for (int64_t i = 0; i < attn_st_count(st); i++) {
        attn_st_entry e;
        ATTN_TRY(attn_st_info(st, i, &e));
        if (!attn_params_find(P, e.name) && attn_st_metadata(st, "run.optim_steps"))
            return attn_fail(ATTN_E_FORMAT, "%s: the file is a training run's state (run.safetensors), not a "
                             "model: load the model.safetensors or best.safetensors beside it", fn);
        if (!attn_params_find(P, e.name))
            return attn_fail(ATTN_E_FORMAT, "%s: the file has a tensor \"%s\" the model does not", fn,
                             e.name);
    }
    for (int i = 0; i < n; i++) {
        attn_param *p = attn_params_at(P, i);
        ATTN_TRY(check_entry(fn, st, p->name, p->ndim, p->shape));
    }
    ATTN_TRY(attn_params_alloc_data(P)); /* (a deferred table's data: none before this point) */
    for (int i = 0; i < n; i++) {
        attn_param *p = attn_params_at(P, i);
        ATTN_TRY(attn_st_read_f32(st, p->name, p->data, p->numel));
    }
    return ATTN_OK;
}

int attn_optim_save(attn_optim *o, const attn_params *P, const char *path, const char *const *meta)
{
    static const char fn[] = "attn_optim_save";
    ATTN_REQUIRE_NONNULL(fn, o);
    ATTN_REQUIRE_NONNULL(fn, P);
    ATTN_REQUIRE_NONNULL(fn, path);
    attn_st_writer *w;
    ATTN_TRY(attn_st_writer_create(&w));
    char steps[32];
    snprintf(steps, sizeof steps, "%lld", (long long)attn_optim_steps(o));
    int st = add_meta(w, meta);
    if (st == ATTN_OK) st = attn_st_writer_set_metadata(w, "optim.steps", steps);
    /* names are kept alive in one block until the commit */
    int n = attn_params_count(P);
    char *names = st == ATTN_OK ? calloc((size_t)n * 2, ATTN_PARAM_NAME_MAX + 16) : NULL;
    if (st == ATTN_OK && !names && n > 0) st = attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    for (int i = 0; st == ATTN_OK && i < n; i++) {
        const attn_param *p = attn_params_at(P, i);
        float *s1, *s2;
        st = attn_optim_state(o, i, &s1, &s2);
        float *bufs[2] = {s1, s2};
        for (int k = 0; st == ATTN_OK && k < 2; k++) {
            if (!bufs[k]) continue;
            char *name = names + (size_t)(2 * i + k) * (ATTN_PARAM_NAME_MAX + 16);
            snprintf(name, ATTN_PARAM_NAME_MAX + 16, "%s.%s", p->name, k ? "state2" : "state1");
            st = attn_st_writer_add(w, name, p->ndim, p->shape, bufs[k]);
        }
    }
    if (st == ATTN_OK) st = attn_st_writer_commit(w, path);
    attn_st_writer_free(w);
    free(names);
    return st;
}

int attn_optim_load(attn_optim *o, const attn_params *P, const attn_st_reader *st)
{
    static const char fn[] = "attn_optim_load";
    ATTN_REQUIRE_NONNULL(fn, o);
    ATTN_REQUIRE_NONNULL(fn, P);
    ATTN_REQUIRE_NONNULL(fn, st);
    const char *steps = attn_st_metadata(st, "optim.steps");
    char *end = NULL;
    errno = 0;
    long long s = steps && steps[0] >= '0' && steps[0] <= '9' ? strtoll(steps, &end, 10) : -1;
    if (s < 0 || errno || *end)
        return attn_fail(ATTN_E_FORMAT, "%s: metadata \"optim.steps\" is missing or not a count", fn);
    int n = attn_params_count(P), expected = 0;
    char name[ATTN_PARAM_NAME_MAX + 16];
    for (int pass = 0; pass < 2; pass++) { /* check everything before changing anything */
        for (int i = 0; i < n; i++) {
            const attn_param *p = attn_params_at(P, i);
            float *s1, *s2;
            ATTN_TRY(attn_optim_state(o, i, &s1, &s2));
            float *bufs[2] = {s1, s2};
            for (int k = 0; k < 2; k++) {
                if (!bufs[k]) continue;
                snprintf(name, sizeof name, "%s.%s", p->name, k ? "state2" : "state1");
                if (pass == 0) {
                    ATTN_TRY(check_entry(fn, st, name, p->ndim, p->shape));
                    expected++;
                } else {
                    ATTN_TRY(attn_st_read_f32(st, name, bufs[k], p->numel));
                }
            }
        }
        if (pass == 0 && attn_st_count(st) != expected)
            return attn_fail(ATTN_E_FORMAT, "%s: the file has %lld tensors, this optimiser keeps %d",
                             fn, (long long)attn_st_count(st), expected);
    }
    return attn_optim_set_steps(o, s);
}
