/* record.c — the attention recorder: every map a model's multi-head attention computes on a
 * tape, kept with the module's name, kind and layer (attn/analysis.h). */
#include "internal.h"
#include "../nn/nn_internal.h"
#include "attn/analysis.h"

#include <stdio.h>
#include <string.h>

/* What a named module's maps are called. */
typedef struct rec_label {
    char name[ATTN_ATTENTION_NAME_MAX];
    attn_attention_kind kind;
    int layer;
} rec_label;

typedef struct rec_module {
    const attn_mha *m;
    rec_label label;
} rec_module;

typedef struct rec_map {
    char *name; /* owned (not in the array, which moves as it grows) */
    attn_attention_kind kind;
    int layer;
    int64_t N, H, L, S;
    float *w; /* [N, H, L, S], owned */
} rec_map;

struct attn_attention_record {
    attn_tape *t; /* NULL once stopped */
    rec_module *mods;
    int n_mods, cap_mods;
    rec_map *maps;
    int n_maps, cap_maps;
    int status;    /* first failure while observing */
    char msg[256]; /* its message */
};

static const char *const kind_names[ATTN_ATTENTION_NKINDS] = {"encoder-self", "decoder-self", "cross",
                                                              "other", "classifier-self"};

const char *attn_attention_kind_name(attn_attention_kind kind)
{
    return (unsigned)kind < ATTN_ATTENTION_NKINDS ? kind_names[kind] : "unknown";
}

int attn_attention_kind_parse(const char *name)
{
    for (int k = 0; name && k < ATTN_ATTENTION_NKINDS; k++)
        if (!strcmp(name, kind_names[k])) return k;
    return -1;
}

int attn_attention_kind_is_self(attn_attention_kind kind) { return kind != ATTN_ATTENTION_CROSS; }

/* Grow *p (n used of *cap, elements of size sz) to hold one more. */
static int grow(void **p, int n, int *cap, size_t sz, const char *fn)
{
    if (n < *cap) return ATTN_OK;
    if (*cap >= (1 << 24)) return attn_fail(ATTN_E_OVERFLOW, "%s: more than %d entries", fn, *cap);
    int c = *cap ? 2 * *cap : 16;
    void *q = realloc(*p, (size_t)c * sz);
    if (!q) return attn_fail(ATTN_E_NOMEM, "%s: %d entries", fn, c);
    *p = q;
    *cap = c;
    return ATTN_OK;
}

/* Elements of [N, H, L, S] (all ≥ 1), or ATTN_E_ARG / ATTN_E_OVERFLOW. */
static int map_numel(const char *fn, int64_t N, int64_t H, int64_t L, int64_t S, size_t *n)
{
    if (N < 1 || H < 1 || L < 1 || S < 1)
        return attn_fail(ATTN_E_ARG, "%s: shape [%lld, %lld, %lld, %lld] (each ≥ 1)", fn,
                         (long long)N, (long long)H, (long long)L, (long long)S);
    const int64_t lim = (int64_t)1 << 40;
    if (N > lim / H || N * H > lim / L || N * H * L > lim / S)
        return attn_fail(ATTN_E_OVERFLOW, "%s: shape [%lld, %lld, %lld, %lld] too large", fn,
                         (long long)N, (long long)H, (long long)L, (long long)S);
    *n = (size_t)(N * H * L * S);
    return ATTN_OK;
}

static int push_map(attn_attention_record *r, const rec_label *label, const float *w, int64_t N,
                    int64_t H, int64_t L, int64_t S, size_t numel)
{
    const char *fn = "attn_attention_record";
    ATTN_TRY(grow((void **)&r->maps, r->n_maps, &r->cap_maps, sizeof *r->maps, fn));
    float *copy = malloc(numel * sizeof *copy);
    char *name = strdup(label->name);
    if (!copy || !name) {
        free(copy);
        free(name);
        return attn_fail(ATTN_E_NOMEM, "%s: map of %zu weights", fn, numel);
    }
    memcpy(copy, w, numel * sizeof *copy);
    r->maps[r->n_maps++] = (rec_map){name, label->kind, label->layer, N, H, L, S, copy};
    return ATTN_OK;
}

static const rec_label unnamed = {"", ATTN_ATTENTION_OTHER, -1};

static void observe(void *ctx, const attn_mha *m, const float *w, int64_t N, int64_t H, int64_t L,
                    int64_t S)
{
    attn_attention_record *r = ctx;
    if (r->status) return; /* the maps are already incomplete: keep the first failure */
    const rec_label *label = &unnamed;
    for (int i = 0; i < r->n_mods; i++)
        if (r->mods[i].m == m) label = &r->mods[i].label;
    size_t numel = 0;
    int st = map_numel("attn_attention_record", N, H, L, S, &numel);
    if (!st) st = push_map(r, label, w, N, H, L, S, numel);
    if (st) {
        r->status = st;
        snprintf(r->msg, sizeof r->msg, "%s", attn_last_error());
    }
}

int attn_attention_record_create(attn_tape *t, attn_attention_record **out)
{
    ATTN_REQUIRE_NONNULL("attn_attention_record_create", out);
    *out = NULL;
    ATTN_REQUIRE_NONNULL("attn_attention_record_create", t);
    attn_attention_record *r = calloc(1, sizeof *r);
    if (!r) return attn_fail(ATTN_E_NOMEM, "attn_attention_record_create");
    r->t = t;
    attn_tape_set_observer(t, observe, r);
    *out = r;
    return ATTN_OK;
}

void attn_attention_record_stop(attn_attention_record *r)
{
    if (!r || !r->t) return;
    void *ctx = NULL;
    if (attn_tape_observer(r->t, &ctx) == observe && ctx == r) attn_tape_set_observer(r->t, NULL, NULL);
    r->t = NULL;
}

void attn_attention_record_clear(attn_attention_record *r)
{
    if (!r) return;
    for (int i = 0; i < r->n_maps; i++) free(r->maps[i].w), free(r->maps[i].name);
    r->n_maps = 0;
    r->status = ATTN_OK;
    r->msg[0] = '\0';
}

void attn_attention_record_free(attn_attention_record *r)
{
    if (!r) return;
    attn_attention_record_stop(r);
    attn_attention_record_clear(r);
    free(r->maps);
    free(r->mods);
    free(r);
}

/* A label from the caller's arguments, checked. */
static int make_label(const char *fn, const char *name, attn_attention_kind kind, int layer,
                      rec_label *out)
{
    if (!name) name = "";
    if ((unsigned)kind >= ATTN_ATTENTION_NKINDS)
        return attn_fail(ATTN_E_ARG, "%s: kind=%d unknown", fn, (int)kind);
    if (layer < -1) return attn_fail(ATTN_E_ARG, "%s: layer=%d (≥ 0, or −1 for none)", fn, layer);
    size_t len = strlen(name);
    if (len >= sizeof out->name)
        return attn_fail(ATTN_E_ARG, "%s: name of %zu bytes (at most %zu)", fn, len,
                         sizeof out->name - 1);
    memcpy(out->name, name, len + 1);
    out->kind = kind;
    out->layer = layer;
    return ATTN_OK;
}

int attn_attention_record_name(attn_attention_record *r, const attn_mha *m, const char *name,
                               attn_attention_kind kind, int layer)
{
    const char *fn = "attn_attention_record_name";
    ATTN_REQUIRE_NONNULL(fn, r);
    ATTN_REQUIRE_NONNULL(fn, m);
    rec_label label;
    ATTN_TRY(make_label(fn, name, kind, layer, &label));
    for (int i = 0; i < r->n_mods; i++)
        if (r->mods[i].m == m) {
            r->mods[i].label = label;
            return ATTN_OK;
        }
    ATTN_TRY(grow((void **)&r->mods, r->n_mods, &r->cap_mods, sizeof *r->mods, fn));
    r->mods[r->n_mods++] = (rec_module){m, label};
    return ATTN_OK;
}

/* Name module m "<prefix><i>.<what>". */
static int name_layer(attn_attention_record *r, const attn_mha *m, const char *prefix, int64_t i,
                      const char *what, attn_attention_kind kind)
{
    char name[ATTN_ATTENTION_NAME_MAX];
    snprintf(name, sizeof name, "%s%lld.%s", prefix, (long long)i, what);
    return attn_attention_record_name(r, m, name, kind, (int)i);
}

/* Name layers[i].self_attn "<prefix><i>.self_attn" for a stack of n encoder layers. model is
 * the caller's model pointer, checked for NULL here. */
static int watch_stack(attn_attention_record *r, const char *fn, const void *model,
                       const attn_encoder_layer *layers, int64_t n, const char *prefix,
                       attn_attention_kind kind)
{
    ATTN_REQUIRE_NONNULL(fn, r);
    ATTN_REQUIRE_NONNULL(fn, model);
    for (int64_t i = 0; i < n; i++)
        ATTN_TRY(name_layer(r, &layers[i].self_attn, prefix, i, "self_attn", kind));
    return ATTN_OK;
}

int attn_attention_record_watch_seq2seq(attn_attention_record *r, const attn_seq2seq *m)
{
    ATTN_TRY(watch_stack(r, "attn_attention_record_watch_seq2seq", m, m ? m->enc : NULL,
                         m ? m->cfg.num_encoder_layers : 0, "encoder.layers.",
                         ATTN_ATTENTION_ENCODER_SELF));
    for (int64_t i = 0; i < m->cfg.num_decoder_layers; i++) {
        ATTN_TRY(name_layer(r, &m->dec[i].self_attn, "decoder.layers.", i, "self_attn",
                            ATTN_ATTENTION_DECODER_SELF));
        ATTN_TRY(name_layer(r, &m->dec[i].multihead_attn, "decoder.layers.", i, "multihead_attn",
                            ATTN_ATTENTION_CROSS));
    }
    return ATTN_OK;
}

int attn_attention_record_watch_classifier(attn_attention_record *r, const attn_classifier *m)
{
    return watch_stack(r, "attn_attention_record_watch_classifier", m, m ? m->layers : NULL,
                       m ? m->cfg.num_layers : 0, "layers.", ATTN_ATTENTION_ENCODER_SELF);
}

int attn_attention_record_watch_gpt(attn_attention_record *r, const attn_gpt *m)
{
    return watch_stack(r, "attn_attention_record_watch_gpt", m, m ? m->h : NULL,
                       m ? m->cfg.n_layer : 0, "h.", ATTN_ATTENTION_DECODER_SELF);
}

int attn_attention_record_add(attn_attention_record *r, const char *name, attn_attention_kind kind,
                              int layer, const float *w, int64_t N, int64_t H, int64_t L, int64_t S)
{
    const char *fn = "attn_attention_record_add";
    ATTN_REQUIRE_NONNULL(fn, r);
    ATTN_REQUIRE_NONNULL(fn, w);
    rec_label label;
    size_t numel = 0;
    ATTN_TRY(make_label(fn, name, kind, layer, &label));
    ATTN_TRY(map_numel(fn, N, H, L, S, &numel));
    for (size_t k = 0; k < numel; k++)
        if (!isfinite(w[k]) || w[k] < 0)
            return attn_fail(ATTN_E_ARG, "%s: weight %zu = %g (finite and ≥ 0 wanted)", fn, k,
                             (double)w[k]);
    return push_map(r, &label, w, N, H, L, S, numel);
}

int attn_attention_record_status(const attn_attention_record *r)
{
    ATTN_REQUIRE_NONNULL("attn_attention_record_status", r);
    return r->status ? attn_fail(r->status, "%s", r->msg) : ATTN_OK;
}

int attn_attention_record_count(const attn_attention_record *r) { return r ? r->n_maps : 0; }

int attn_attention_record_map(const attn_attention_record *r, int i, attn_attention_map *out)
{
    ATTN_REQUIRE_NONNULL("attn_attention_record_map", r);
    ATTN_REQUIRE_NONNULL("attn_attention_record_map", out);
    if (i < 0 || i >= r->n_maps)
        return attn_fail(ATTN_E_ARG, "attn_attention_record_map: map %d not in [0, %d)", i,
                         r->n_maps);
    const rec_map *m = &r->maps[i];
    *out = (attn_attention_map){m->name, m->kind, m->layer, m->N, m->H, m->L, m->S, m->w};
    return ATTN_OK;
}

int attn_attention_record_find(const attn_attention_record *r, attn_attention_kind kind, int layer,
                               int from)
{
    for (int i = from < 0 ? 0 : from; r && i < r->n_maps; i++)
        if (r->maps[i].kind == kind && r->maps[i].layer == layer) return i;
    return -1;
}
