/* params.c — the parameter table: one list of (name, shape, data, grad) that drives
 * allocation, initialisation, checkpoint names, counting and the optimisers. */
#include "nn_internal.h"

#include <stdio.h>

struct attn_params {
    attn_param **items; /* each separately allocated, so pointers stay valid as the table grows */
    int count, cap;
    uint64_t seed;
    int deferred;       /* names and shapes only: data comes with attn_params_alloc_data */
    int max_count;      /* deferred: more parameters than this is an error (0: no limit) */
};

int attn_params_create(uint64_t seed, attn_params **out)
{
    ATTN_REQUIRE_NONNULL("attn_params_create", out);
    attn_params *P = calloc(1, sizeof *P);
    if (!P) return attn_fail(ATTN_E_NOMEM, "attn_params_create: out of memory");
    P->seed = seed;
    *out = P;
    return ATTN_OK;
}

int attn_params_create_deferred(int max_count, attn_params **out)
{
    ATTN_TRY(attn_params_create(0, out));
    (*out)->deferred = 1;
    (*out)->max_count = max_count;
    return ATTN_OK;
}

int attn_params_alloc_data(attn_params *P)
{
    for (int i = 0; i < P->count; i++) {
        attn_param *p = P->items[i];
        if (p->data) continue;
        p->data = attn_aligned_alloc((size_t)p->numel * sizeof(float));
        if (!p->data)
            return attn_fail(ATTN_E_NOMEM, "attn_params_alloc_data: out of memory for %s (%lld floats)",
                             p->name, (long long)p->numel);
    }
    P->deferred = 0;
    return ATTN_OK;
}

int attn_param_need_grad(attn_param *p)
{
    if (!p || p->grad) return ATTN_OK;
    p->grad = attn_aligned_alloc((size_t)p->numel * sizeof(float));
    if (!p->grad)
        return attn_fail(ATTN_E_NOMEM, "gradient of %s: out of memory (%lld floats)", p->name,
                         (long long)p->numel);
    memset(p->grad, 0, (size_t)p->numel * sizeof(float));
    return ATTN_OK;
}

int attn_params_alloc_grads(attn_params *P)
{
    ATTN_REQUIRE_NONNULL("attn_params_alloc_grads", P);
    for (int i = 0; i < P->count; i++) ATTN_TRY(attn_param_need_grad(P->items[i]));
    return ATTN_OK;
}

void attn_params_free(attn_params *P)
{
    if (!P) return;
    for (int i = 0; i < P->count; i++) {
        free(P->items[i]->data);
        free(P->items[i]->grad);
        free(P->items[i]);
    }
    free(P->items);
    free(P);
}

/* Box–Muller on two uniforms of the stream: a standard normal sample. */
float attn_normal_sample(uint64_t seed, uint64_t offset, uint64_t index)
{
    double u1 = attn_philox_uniform(seed, offset, 2 * index);
    double u2 = attn_philox_uniform(seed, offset, 2 * index + 1);
    u1 = 1.0 - u1; /* (0, 1] */
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

static void init_values(float *x, int64_t n, attn_init init, float a, uint64_t seed,
                        uint64_t offset)
{
    for (int64_t i = 0; i < n; i++) {
        switch (init) {
        case ATTN_INIT_ZEROS: x[i] = 0; break;
        case ATTN_INIT_ONES: x[i] = 1; break;
        case ATTN_INIT_UNIFORM:
            x[i] = a * (2.0f * attn_philox_uniform(seed, offset, (uint64_t)i) - 1.0f);
            break;
        case ATTN_INIT_NORMAL: x[i] = a * attn_normal_sample(seed, offset, (uint64_t)i); break;
        }
    }
}

int attn_params_add(attn_params *P, const char *prefix, const char *name, int ndim,
                    const int64_t *shape, attn_init init, float a, attn_param **out)
{
    static const char fn[] = "attn_params_add";
    ATTN_REQUIRE_NONNULL(fn, P);
    ATTN_REQUIRE_NONNULL(fn, name);
    ATTN_REQUIRE_NONNULL(fn, shape);
    if (ndim < 1 || ndim > ATTN_MAX_DIMS)
        return attn_fail(ATTN_E_ARG, "%s: ndim=%d must be in [1, %d]", fn, ndim, ATTN_MAX_DIMS);
    if (init < ATTN_INIT_ZEROS || init > ATTN_INIT_NORMAL)
        return attn_fail(ATTN_E_ARG, "%s: unknown init %d", fn, (int)init);
    char full[ATTN_PARAM_NAME_MAX];
    int len = snprintf(full, sizeof full, "%s%s", prefix ? prefix : "", name);
    if (len < 0 || len >= (int)sizeof full)
        return attn_fail(ATTN_E_ARG, "%s: name '%s%s' longer than %d", fn, prefix ? prefix : "",
                         name, ATTN_PARAM_NAME_MAX - 1);
    if (attn_params_find(P, full))
        return attn_fail(ATTN_E_ARG, "%s: parameter '%s' already exists", fn, full);
    int64_t numel;
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 1)
            return attn_fail(ATTN_E_SHAPE, "%s: %s shape[%d]=%lld must be >= 1", fn, full, d,
                             (long long)shape[d]);
    ATTN_TRY(attn_checked_numel(fn, shape, ndim, &numel));
    if (numel > (int64_t)(SIZE_MAX / 8))
        return attn_fail(ATTN_E_OVERFLOW, "%s: %s is too large", fn, full);
    if (P->deferred && P->max_count > 0 && P->count >= P->max_count)
        return attn_fail(ATTN_E_FORMAT, "checkpoint: the configuration needs more than the %d tensors the file has (at %s)",
                         P->max_count, full);
    if (P->count == P->cap) {
        int cap = P->cap ? 2 * P->cap : 16;
        attn_param **items = realloc(P->items, (size_t)cap * sizeof *items);
        if (!items) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
        P->items = items, P->cap = cap;
    }
    /* the gradient comes with the first backward or optimiser (attn_param_need_grad): a model
     * used for inference never has one */
    attn_param *p = calloc(1, sizeof *p);
    float *data = P->deferred ? NULL : attn_aligned_alloc((size_t)numel * sizeof(float));
    if (!p || (!data && !P->deferred)) {
        free(p), free(data);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory for %s (%lld floats)", fn, full,
                         (long long)numel);
    }
    memcpy(p->name, full, (size_t)len + 1);
    p->ndim = ndim;
    memcpy(p->shape, shape, (size_t)ndim * sizeof *shape);
    p->numel = numel;
    p->data = data;
    if (data) init_values(data, numel, init, a, P->seed, (uint64_t)P->count);
    P->items[P->count++] = p;
    if (out) *out = p;
    return ATTN_OK;
}

int attn_params_count(const attn_params *P) { return P ? P->count : 0; }

attn_param *attn_params_at(const attn_params *P, int i)
{
    return P && i >= 0 && i < P->count ? P->items[i] : NULL;
}

attn_param *attn_params_find(const attn_params *P, const char *name)
{
    if (!P || !name) return NULL;
    for (int i = 0; i < P->count; i++)
        if (strcmp(P->items[i]->name, name) == 0) return P->items[i];
    return NULL;
}

int64_t attn_params_numel(const attn_params *P)
{
    int64_t n = 0;
    for (int i = 0; P && i < P->count; i++) n += P->items[i]->numel;
    return n;
}

void attn_params_zero_grad(attn_params *P)
{
    for (int i = 0; P && i < P->count; i++)
        if (P->items[i]->grad) memset(P->items[i]->grad, 0, (size_t)P->items[i]->numel * sizeof(float));
}
