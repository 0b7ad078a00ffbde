/* tape.c — the autograd tape: an arena of activations and a list of recorded nodes.
 *
 * The arena is a list of chunks; allocation bumps a pointer in the newest chunk and opens a new
 * chunk when it is full, so earlier pointers never move. attn_tape_reset drops everything and,
 * if the step needed more than one chunk, replaces them by a single chunk of the high-water
 * size: from the second step on, a step allocates nothing outside that chunk. */
#include "nn_internal.h"

#include <stdio.h>

#define ARENA_ALIGN 64

typedef struct chunk {
    struct chunk *prev;
    size_t cap, used;
    unsigned char *base;
} chunk;

typedef struct node {
    struct node *prev;
    attn_backward_fn backward;
    void *ctx;
} node;

struct attn_tape {
    chunk *arena;   /* newest chunk */
    size_t total;   /* bytes in use across chunks (for the high-water mark) */
    size_t peak;
    node *last;     /* newest node */
    int training;
    int threads;
    uint64_t seed, offset;
    int backward_done;
    attn_attention_observer observer; /* sees every attention map (visualisation) */
    void *observer_ctx;
};

static chunk *chunk_new(size_t cap, chunk *prev)
{
    chunk *c = malloc(sizeof *c);
    if (!c) return NULL;
    c->base = attn_aligned_alloc(cap);
    if (!c->base) {
        free(c);
        return NULL;
    }
    c->cap = cap, c->used = 0, c->prev = prev;
    return c;
}

static void chunks_free(chunk *c)
{
    while (c) {
        chunk *p = c->prev;
        free(c->base);
        free(c);
        c = p;
    }
}

int attn_tape_create(const attn_tape_config *cfg, attn_tape **out)
{
    static const char fn[] = "attn_tape_create";
    static const attn_tape_config defaults;
    ATTN_REQUIRE_NONNULL(fn, out);
    if (!cfg) cfg = &defaults;
    if (cfg->num_threads < 0)
        return attn_fail(ATTN_E_ARG, "%s: num_threads=%d must be >= 0", fn, cfg->num_threads);
    attn_tape *t = calloc(1, sizeof *t);
    size_t cap = cfg->arena_bytes ? cfg->arena_bytes : (size_t)1 << 20;
    if (t) t->arena = chunk_new(cap, NULL);
    if (!t || !t->arena) {
        free(t);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory for a %zu-byte arena", fn, cap);
    }
    t->training = 1;
    t->threads = cfg->num_threads;
    t->seed = cfg->seed;
    *out = t;
    return ATTN_OK;
}

void attn_tape_free(attn_tape *t)
{
    if (!t) return;
    chunks_free(t->arena);
    free(t);
}

int attn_tape_reset(attn_tape *t)
{
    ATTN_REQUIRE_NONNULL("attn_tape_reset", t);
    if (t->arena->prev) { /* coalesce into one chunk of the high-water size */
        size_t cap = t->peak; /* a step like the last one fits exactly: same requests, same rounding */
        chunk *one = chunk_new(cap, NULL);
        if (!one) return attn_fail(ATTN_E_NOMEM, "attn_tape_reset: out of memory (%zu bytes)", cap);
        chunks_free(t->arena);
        t->arena = one;
    }
    t->arena->used = 0;
    t->total = 0;
    t->last = NULL;
    t->backward_done = 0;
    return ATTN_OK;
}

void attn_tape_set_training(attn_tape *t, int training)
{
    if (t) t->training = training != 0;
}
void attn_tape_set_rng(attn_tape *t, uint64_t seed, uint64_t offset)
{
    if (t) t->seed = seed, t->offset = offset;
}

void attn_tape_get_rng(const attn_tape *t, uint64_t *seed, uint64_t *offset)
{
    if (t && seed) *seed = t->seed;
    if (t && offset) *offset = t->offset;
}

int attn_tape_training(const attn_tape *t) { return t ? t->training : 0; }
int attn_tape_num_threads(const attn_tape *t) { return t ? attn_resolve_threads(t->threads) : 0; }
int attn_tape_threads(const attn_tape *t) { return attn_resolve_threads(t->threads); }
uint64_t attn_tape_seed(const attn_tape *t) { return t->seed; }
uint64_t attn_tape_next_offset(attn_tape *t) { return t->offset++; }

size_t attn_tape_arena_used(const attn_tape *t) { return t ? t->total : 0; }

size_t attn_tape_arena_capacity(const attn_tape *t)
{
    size_t cap = 0;
    for (chunk *c = t ? t->arena : NULL; c; c = c->prev) cap += c->cap;
    return cap;
}

void *attn_tape_alloc(attn_tape *t, size_t bytes)
{
    size_t need = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < bytes) {
        attn_fail(ATTN_E_OVERFLOW, "tape arena: request of %zu bytes overflows", bytes);
        return NULL;
    }
    chunk *c = t->arena;
    if (c->cap - c->used < need) {
        size_t cap = c->cap * 2 > need ? c->cap * 2 : need;
        chunk *n = chunk_new(cap, c);
        if (!n) {
            attn_fail(ATTN_E_NOMEM, "tape arena: out of memory for %zu bytes", cap);
            return NULL;
        }
        t->arena = c = n;
    }
    void *p = c->base + c->used;
    c->used += need;
    t->total += need;
    if (t->total > t->peak) t->peak = t->total;
    return p;
}

void *attn_tape_calloc(attn_tape *t, size_t bytes)
{
    void *p = attn_tape_alloc(t, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void *attn_tape_copy(attn_tape *t, const void *src, size_t bytes)
{
    void *p = attn_tape_alloc(t, bytes);
    if (p) {
        if (src) memcpy(p, src, bytes);
        else memset(p, 0, bytes);
    }
    return p;
}

static int shape_numel(const char *fn, int ndim, const int64_t *shape, int64_t *numel)
{
    if (ndim < 1 || ndim > ATTN_MAX_DIMS)
        return attn_fail(ATTN_E_ARG, "%s: ndim=%d must be in [1, %d]", fn, ndim, ATTN_MAX_DIMS);
    ATTN_REQUIRE_NONNULL(fn, shape);
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 1)
            return attn_fail(ATTN_E_SHAPE, "%s: shape[%d]=%lld must be >= 1", fn, d,
                             (long long)shape[d]);
    ATTN_TRY(attn_checked_numel(fn, shape, ndim, numel));
    if (*numel > (int64_t)(SIZE_MAX / 16))
        return attn_fail(ATTN_E_OVERFLOW, "%s: %lld elements is too many", fn, (long long)*numel);
    return ATTN_OK;
}

int attn_tape_var(attn_tape *t, int ndim, const int64_t *shape, int requires_grad,
                  attn_var **out)
{
    int64_t numel;
    ATTN_TRY(shape_numel("attn_tape_var", ndim, shape, &numel));
    attn_var *v = attn_tape_calloc(t, sizeof *v);
    float *data = v ? attn_tape_alloc(t, (size_t)numel * sizeof(float)) : NULL;
    if (!data) return ATTN_E_NOMEM;
    v->data = data;
    v->ndim = ndim;
    memcpy(v->shape, shape, (size_t)ndim * sizeof *shape);
    v->numel = numel;
    v->requires_grad = requires_grad != 0;
    *out = v;
    return ATTN_OK;
}

int attn_tape_input(attn_tape *t, const float *data, int ndim, const int64_t *shape,
                    int requires_grad, attn_var **out)
{
    static const char fn[] = "attn_tape_input";
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, out);
    int64_t numel;
    ATTN_TRY(shape_numel(fn, ndim, shape, &numel));
    ATTN_TRY(attn_tape_var(t, ndim, shape, requires_grad, out));
    if (data) memcpy((*out)->data, data, (size_t)numel * sizeof(float));
    else memset((*out)->data, 0, (size_t)numel * sizeof(float));
    return ATTN_OK;
}

int attn_tape_param(attn_tape *t, attn_param *p, attn_var **out)
{
    static const char fn[] = "attn_tape_param";
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, p);
    ATTN_REQUIRE_NONNULL(fn, out);
    attn_var *v = attn_tape_calloc(t, sizeof *v);
    if (!v) return ATTN_E_NOMEM;
    v->data = p->data;
    v->grad = p->grad;
    v->ndim = p->ndim;
    memcpy(v->shape, p->shape, sizeof v->shape);
    v->numel = p->numel;
    v->requires_grad = 1;
    v->param = p;
    *out = v;
    return ATTN_OK;
}

int attn_tape_record(attn_tape *t, attn_backward_fn fn, void *ctx)
{
    node *n = attn_tape_alloc(t, sizeof *n);
    if (!n) return ATTN_E_NOMEM;
    n->prev = t->last, n->backward = fn, n->ctx = ctx;
    t->last = n;
    return ATTN_OK;
}

float *attn_var_grad(attn_tape *t, attn_var *v)
{
    /* a parameter's gradient is the table's, allocated when a gradient first reaches it (a
     * variable made by attn_tape_param before that has none yet) */
    if (!v->grad && v->param) {
        if (attn_param_need_grad(v->param)) return NULL;
        v->grad = v->param->grad;
    }
    if (!v->grad) v->grad = attn_tape_calloc(t, (size_t)v->numel * sizeof(float));
    return v->grad;
}

int attn_check_var(const char *fn, const char *name, const attn_var *v)
{
    if (!v) return attn_fail(ATTN_E_ARG, "%s: %s is NULL", fn, name);
    if (!v->data || v->ndim < 1 || v->ndim > ATTN_MAX_DIMS || v->numel < 1)
        return attn_fail(ATTN_E_ARG, "%s: %s is not a tape variable", fn, name);
    return ATTN_OK;
}

int attn_tape_backward(attn_tape *t, attn_var *y, const float *dy)
{
    static const char fn[] = "attn_tape_backward";
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_TRY(attn_check_var(fn, "y", y));
    if (t->backward_done)
        return attn_fail(ATTN_E_STATE, "%s: already ran on this recording (reset and record again)",
                         fn);
    if (!y->requires_grad)
        return attn_fail(ATTN_E_ARG, "%s: y does not depend on anything that requires a gradient",
                         fn);
    float *g = attn_var_grad(t, y);
    if (!g) return ATTN_E_NOMEM;
    for (int64_t i = 0; i < y->numel; i++) g[i] += dy ? dy[i] : 1.0f;
    t->backward_done = 1;
    for (node *n = t->last; n; n = n->prev) ATTN_TRY(n->backward(t, n->ctx));
    return ATTN_OK;
}

void attn_tape_set_observer(attn_tape *t, attn_attention_observer fn, void *ctx)
{
    if (!t) return;
    t->observer = fn;
    t->observer_ctx = ctx;
}

attn_attention_observer attn_tape_observer(const attn_tape *t, void **ctx)
{
    if (ctx) *ctx = t ? t->observer_ctx : NULL;
    return t ? t->observer : NULL;
}
