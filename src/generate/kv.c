/* kv.c — one position of a Transformer layer for R rows, with cached keys and values.
 *
 * The step mirrors the tape's layer forward (src/nn/transformer.c, mha.c) operation by
 * operation: the same projections (attn_dense_forward, the routine attn_mha_forward calls), the
 * same attention kernel (attn_sdpa_forward: the newest position's query over the cached keys,
 * which is the causal mask aligned bottom-right), the same layer norm and activation code
 * (attn_layernorm_rows, attn_activation_rows). Inference only: no dropout. */
#include "generate_internal.h"
#include "../nn/nn_internal.h"

#include <stdlib.h>
#include <string.h>

void attn_kv_free(attn_kv *c)
{
    if (!c) return;
    free(c->k), free(c->v), free(c->k2), free(c->v2);
    free(c->x), free(c->h), free(c->q), free(c->a), free(c->f);
    memset(c, 0, sizeof *c);
}

int attn_kv_init(attn_kv *c, int64_t R, int64_t d, int64_t H, int64_t nl, int64_t cap, int64_t ff,
                 int threads)
{
    memset(c, 0, sizeof *c);
    int64_t cache_n, row_n, ff_n;
    const int64_t dims_cache[4] = {nl, R, cap, d}, dims_row[2] = {R, d}, dims_ff[2] = {R, ff > d ? ff : d};
    ATTN_TRY(attn_checked_numel("attn_kv_init", dims_cache, 4, &cache_n));
    ATTN_TRY(attn_checked_numel("attn_kv_init", dims_row, 2, &row_n));
    ATTN_TRY(attn_checked_numel("attn_kv_init", dims_ff, 2, &ff_n));
    c->R = R, c->d = d, c->H = H, c->hd = d / H, c->nl = nl, c->cap = cap, c->ff = ff;
    c->threads = threads > 0 ? threads : 1;
    const size_t fs = sizeof(float);
    c->k = malloc((size_t)cache_n * fs), c->v = malloc((size_t)cache_n * fs);
    c->k2 = malloc((size_t)cache_n * fs), c->v2 = malloc((size_t)cache_n * fs);
    c->x = malloc((size_t)row_n * fs), c->h = malloc((size_t)row_n * fs);
    c->q = malloc((size_t)row_n * fs), c->a = malloc((size_t)row_n * fs);
    c->f = malloc((size_t)ff_n * fs);
    if (!c->k || !c->v || !c->k2 || !c->v2 || !c->x || !c->h || !c->q || !c->a || !c->f) {
        attn_kv_free(c);
        return attn_fail(ATTN_E_NOMEM, "attn_kv_init: out of memory for a cache of %lld rows × %lld positions",
                         (long long)R, (long long)cap);
    }
    return ATTN_OK;
}

int attn_kv_check_mha(const char *fn, const attn_mha *a, int64_t d)
{
    if (a->cfg.add_bias_kv || a->cfg.add_zero_attn || a->cfg.embed_dim != d || a->cfg.kdim != d ||
        a->cfg.vdim != d)
        return attn_fail(ATTN_E_UNSUPPORTED,
                         "%s: the cached step covers attention with kdim = vdim = embed_dim and no bias_kv/zero_attn", fn);
    return ATTN_OK;
}

/* Projection weights and bias of q (0), k (1) or v (2). */
static void proj(const attn_mha *a, int which, const float **w, const float **b)
{
    const int64_t E = a->cfg.embed_dim;
    if (a->packed)
        *w = a->in_proj_weight->data + which * E * E;
    else
        *w = (which == 0 ? a->q_proj_weight : which == 1 ? a->k_proj_weight : a->v_proj_weight)->data;
    *b = a->in_proj_bias ? a->in_proj_bias->data + which * E : NULL;
}

static int project(const attn_kv *c, const attn_mha *a, int which, const float *x, int64_t rows, float *y)
{
    const float *w, *b;
    proj(a, which, &w, &b);
    return attn_dense_forward(rows, c->d, c->d, x, c->d, w, b, y, c->d, c->threads);
}

/* dst [R, H, len, hd] at position p ← src [R, d] (heads split). */
static void scatter_heads(const attn_kv *c, const float *src, float *dst, int64_t len, int64_t p)
{
    for (int64_t r = 0; r < c->R; r++)
        for (int64_t h = 0; h < c->H; h++)
            memcpy(dst + ((r * c->H + h) * len + p) * c->hd, src + r * c->d + h * c->hd,
                   (size_t)c->hd * sizeof *dst);
}

static attn_tensor view4(float *data, int64_t R, int64_t H, int64_t L, int64_t hd, int64_t sR,
                         int64_t sH, int64_t sL)
{
    attn_tensor v = {.data = data, .ndim = 4};
    v.shape[0] = R, v.shape[1] = H, v.shape[2] = L, v.shape[3] = hd;
    v.stride[0] = sR, v.stride[1] = sH, v.stride[2] = sL, v.stride[3] = 1;
    return v;
}

/* a [R, d] = attention of q [R, d] (one position) over L keys/values of [R, H, cap, hd]. */
static int attend(attn_kv *c, const float *k, const float *v, int64_t cap, int64_t L, const uint8_t *keep)
{
    attn_tensor q = view4(c->q, c->R, c->H, 1, c->hd, c->d, c->hd, c->hd);
    attn_tensor o = view4(c->a, c->R, c->H, 1, c->hd, c->d, c->hd, c->hd);
    attn_tensor kt = view4((float *)k, c->R, c->H, L, c->hd, c->H * cap * c->hd, cap * c->hd, c->hd);
    attn_tensor vt = view4((float *)v, c->R, c->H, L, c->hd, c->H * cap * c->hd, cap * c->hd, c->hd);
    attn_sdpa_options so = {.num_threads = c->threads};
    attn_bool_tensor mask = {.data = keep, .ndim = 4};
    if (!keep) {
        so.causal = 1, so.align = ATTN_ALIGN_BOTTOM_RIGHT;
    } else {
        mask.shape[0] = c->R, mask.shape[1] = 1, mask.shape[2] = 1, mask.shape[3] = L;
        mask.stride[0] = L, mask.stride[3] = 1;
        so.mask = &mask;
    }
    return attn_sdpa_forward(&q, &kt, &vt, &so, &o, NULL, NULL);
}

/* The residual block around attention or the FFN: in = norm(x) or x; x += y; post-norm after. */
static const float *block_in(attn_kv *c, const attn_layernorm *n, int norm_first)
{
    if (!norm_first) return c->x;
    attn_layernorm_rows(n, c->x, c->R, c->h, c->threads);
    return c->h;
}

static void block_out(attn_kv *c, const float *y, const attn_layernorm *n, int norm_first)
{
    for (int64_t i = 0; i < c->R * c->d; i++) c->x[i] += y[i];
    if (!norm_first) attn_layernorm_rows(n, c->x, c->R, c->x, c->threads);
}

static int out_proj(attn_kv *c, const attn_mha *a)
{
    return attn_dense_forward(c->R, c->d, c->d, c->a, c->d, a->out_proj_weight->data,
                              a->out_proj_bias ? a->out_proj_bias->data : NULL, c->h, c->d, c->threads);
}

int attn_kv_self(attn_kv *c, const attn_mha *a, const attn_layernorm *n, int norm_first, int64_t l,
                 int64_t pos)
{
    const float *in = block_in(c, n, norm_first);
    float *k = c->k + l * c->R * c->cap * c->d, *v = c->v + l * c->R * c->cap * c->d;
    ATTN_TRY(project(c, a, 0, in, c->R, c->q));
    ATTN_TRY(project(c, a, 1, in, c->R, c->f));
    scatter_heads(c, c->f, k, c->cap, pos);
    ATTN_TRY(project(c, a, 2, in, c->R, c->f));
    scatter_heads(c, c->f, v, c->cap, pos);
    ATTN_TRY(attend(c, k, v, c->cap, pos + 1, NULL));
    ATTN_TRY(out_proj(c, a));
    block_out(c, c->h, n, norm_first);
    return ATTN_OK;
}

int attn_kv_project_memory(const attn_kv *c, const attn_mha *a, const float *mem, int64_t S, float *tmp,
                           float *ck, float *cv)
{
    for (int which = 1; which <= 2; which++) {
        ATTN_TRY(project(c, a, which, mem, c->R * S, tmp));
        float *dst = which == 1 ? ck : cv;
        for (int64_t r = 0; r < c->R; r++)
            for (int64_t s = 0; s < S; s++)
                for (int64_t h = 0; h < c->H; h++)
                    memcpy(dst + ((r * c->H + h) * S + s) * c->hd, tmp + (r * S + s) * c->d + h * c->hd,
                           (size_t)c->hd * sizeof *dst);
    }
    return ATTN_OK;
}

int attn_kv_cross(attn_kv *c, const attn_mha *a, const attn_layernorm *n, int norm_first, const float *ck,
                  const float *cv, const uint8_t *keep, int64_t S)
{
    const float *in = block_in(c, n, norm_first);
    ATTN_TRY(project(c, a, 0, in, c->R, c->q));
    ATTN_TRY(attend(c, ck, cv, S, S, keep));
    ATTN_TRY(out_proj(c, a));
    block_out(c, c->h, n, norm_first);
    return ATTN_OK;
}

int attn_kv_ffn(attn_kv *c, const attn_ffn *f, const attn_layernorm *n, int norm_first)
{
    const float *in = block_in(c, n, norm_first);
    const int64_t ff = f->linear1.out_features;
    ATTN_TRY(attn_linear_rows(&f->linear1, in, c->R, c->f, c->threads));
    ATTN_TRY(attn_activation_rows(f->activation, c->f, c->R * ff, c->f, c->threads));
    ATTN_TRY(attn_linear_rows(&f->linear2, c->f, c->R, c->h, c->threads));
    block_out(c, c->h, n, norm_first);
    return ATTN_OK;
}

void attn_kv_reorder(attn_kv *c, const int64_t *parent, int64_t pos)
{
    /* gather each row's positions 0..pos from its parent into the spare cache, then swap: one
     * copy, no allocation (positions past pos are written before they are read) */
    const int64_t per = c->H * c->cap * c->hd, run = (pos + 1) * c->hd;
#pragma omp parallel for collapse(2) schedule(static) num_threads(c->threads)
    for (int64_t l = 0; l < c->nl; l++)
        for (int64_t r = 0; r < c->R; r++) {
            const int64_t from = (l * c->R + parent[r]) * per, to = (l * c->R + r) * per;
            for (int64_t h = 0; h < c->H; h++) {
                memcpy(c->k2 + to + h * c->cap * c->hd, c->k + from + h * c->cap * c->hd,
                       (size_t)run * sizeof(float));
                memcpy(c->v2 + to + h * c->cap * c->hd, c->v + from + h * c->cap * c->hd,
                       (size_t)run * sizeof(float));
            }
        }
    float *t = c->k;
    c->k = c->k2, c->k2 = t;
    t = c->v, c->v = c->v2, c->v2 = t;
}
