/* seq2seq_cache.c — incremental decoding with cached keys and values (see seq2seq_cache.h).
 *
 * Mirrors attn_seq2seq_decode position by position: token embedding + sinusoidal position,
 * decoder layers (pre- or post-norm as the model's), the final LayerNorm and the generator,
 * reading the parameters directly. Causal self-attention of the newest position over the
 * cached positions is the bottom-right aligned causal mask with Lq = 1, Lk = t + 1. */
#include "seq2seq_cache.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct cache {
    const attn_seq2seq *m;
    int64_t R, S, Lmax, d, H, hd, nl;
    float *sk, *sv;  /* [nl][R, H, Lmax, hd] */
    float *sk2, *sv2; /* the same: where reorder gathers the rows, then swapped with sk, sv */
    float *ck, *cv;  /* [nl][R, H, S, hd] */
    uint8_t *keep;   /* [R, S] nonzero: source position is a real token */
    float *x, *h, *q, *a, *f; /* work: [R, d] ×4, [R, ff] */
    int threads;
} cache;

static void cache_free(cache *c)
{
    free(c->sk), free(c->sv), free(c->sk2), free(c->sv2), free(c->ck), free(c->cv), free(c->keep);
    free(c->x), free(c->h), free(c->q), free(c->a), free(c->f);
}

/* y [R, out] = x [R, in] · Wᵀ + b, W [out, in] rows starting at w. */
static int linear(const cache *c, const float *x, int64_t R, int64_t in, const float *w, const float *b,
                  int64_t out, float *y, int64_t ldy)
{
    ATTN_TRY_CLI(attn_sgemm(ATTN_NO_TRANS, ATTN_TRANS, R, out, in, 1.0f, x, in, w, in, 0.0f, y, ldy,
                            c->threads));
    if (b)
        for (int64_t r = 0; r < R; r++)
            for (int64_t j = 0; j < out; j++) y[r * ldy + j] += b[j];
    return ATTN_OK;
}

static void layernorm(const attn_layernorm *n, const float *x, float *y, int64_t R)
{
    const int64_t d = n->dim;
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x + r * d;
        float *yr = y + r * d;
        double mean = 0, var = 0;
        for (int64_t j = 0; j < d; j++) mean += xr[j];
        mean /= (double)d;
        for (int64_t j = 0; j < d; j++) var += ((double)xr[j] - mean) * ((double)xr[j] - mean);
        double inv = 1.0 / sqrt(var / (double)d + n->eps);
        for (int64_t j = 0; j < d; j++) {
            double v = ((double)xr[j] - mean) * inv;
            if (n->weight) v = v * n->weight->data[j] + n->bias->data[j];
            yr[j] = (float)v;
        }
    }
}

/* Projection weights of one of q (0), k (1), v (2). */
static void proj(const attn_mha *a, int which, const float **w, const float **b)
{
    const int64_t E = a->cfg.embed_dim;
    if (a->packed)
        *w = a->in_proj_weight->data + which * E * E;
    else
        *w = (which == 0 ? a->q_proj_weight : which == 1 ? a->k_proj_weight : a->v_proj_weight)->data;
    *b = a->in_proj_bias ? a->in_proj_bias->data + which * E : NULL;
}

/* dst [R, H, len, hd] at position p ← src [R, d] (head-major split). */
static void scatter_heads(const cache *c, const float *src, float *dst, int64_t len, int64_t p)
{
    for (int64_t r = 0; r < c->R; r++)
        for (int64_t h = 0; h < c->H; h++)
            memcpy(dst + ((r * c->H + h) * len + p) * c->hd, src + r * c->d + h * c->hd,
                   (size_t)c->hd * sizeof *dst);
}

static attn_tensor view4(float *data, int64_t R, int64_t H, int64_t L, int64_t hd, int64_t sR, int64_t sH,
                         int64_t sL)
{
    attn_tensor v = {.data = data, .ndim = 4};
    v.shape[0] = R, v.shape[1] = H, v.shape[2] = L, v.shape[3] = hd;
    v.stride[0] = sR, v.stride[1] = sH, v.stride[2] = sL, v.stride[3] = 1;
    return v;
}

/* Attention of q [R, d] (one position) over L cached keys of a [R, H, Lcap, hd] cache → a [R, d]. */
static int attend(const cache *c, float *k, float *v, int64_t Lcap, int64_t L, int self)
{
    attn_tensor q = view4(c->q, c->R, c->H, 1, c->hd, c->d, c->hd, c->hd);
    attn_tensor o = view4(c->a, c->R, c->H, 1, c->hd, c->d, c->hd, c->hd);
    attn_tensor kt = view4(k, c->R, c->H, L, c->hd, c->H * Lcap * c->hd, Lcap * c->hd, c->hd);
    attn_tensor vt = view4(v, c->R, c->H, L, c->hd, c->H * Lcap * c->hd, Lcap * c->hd, c->hd);
    attn_sdpa_options so = {.num_threads = c->threads};
    attn_bool_tensor mask = {.data = c->keep, .ndim = 4};
    if (self) {
        so.causal = 1, so.align = ATTN_ALIGN_BOTTOM_RIGHT;
    } else {
        mask.shape[0] = c->R, mask.shape[1] = 1, mask.shape[2] = 1, mask.shape[3] = c->S;
        mask.stride[0] = c->S, mask.stride[3] = 1;
        so.mask = &mask;
    }
    return attn_sdpa_forward(&q, &kt, &vt, &so, &o, NULL, NULL);
}

/* Set up the cache for rows whose encoder output is mem [R, S, d] and source src [R, S]. */
static int cache_init(cache *c, const attn_seq2seq *m, const float *mem, const int32_t *src, int64_t R,
                      int64_t S, int64_t Lmax, int threads)
{
    memset(c, 0, sizeof *c);
    c->m = m, c->R = R, c->S = S, c->Lmax = Lmax, c->d = m->cfg.d_model, c->H = m->cfg.nhead;
    c->hd = c->d / c->H, c->nl = m->cfg.num_decoder_layers, c->threads = threads;
    size_t self_n = (size_t)(c->nl * R * Lmax * c->d), cross_n = (size_t)(c->nl * R * S * c->d);
    c->sk = malloc(self_n * sizeof(float)), c->sv = malloc(self_n * sizeof(float));
    c->sk2 = malloc(self_n * sizeof(float)), c->sv2 = malloc(self_n * sizeof(float));
    c->ck = malloc(cross_n * sizeof(float)), c->cv = malloc(cross_n * sizeof(float));
    c->keep = malloc((size_t)(R * S));
    c->x = malloc((size_t)(R * c->d) * sizeof(float)), c->h = malloc((size_t)(R * c->d) * sizeof(float));
    c->q = malloc((size_t)(R * c->d) * sizeof(float)), c->a = malloc((size_t)(R * c->d) * sizeof(float));
    int64_t ff = m->cfg.dim_feedforward, big = (ff > S * c->d ? ff : S * c->d);
    c->f = malloc((size_t)(R * big) * sizeof(float));
    if (!c->sk || !c->sv || !c->sk2 || !c->sv2 || !c->ck || !c->cv || !c->keep || !c->x || !c->h ||
        !c->q || !c->a || !c->f)
        return ATTN_E_NOMEM;
    for (int64_t i = 0; i < R * S; i++) c->keep[i] = src[i] != m->cfg.pad_id;
    for (int64_t l = 0; l < c->nl; l++) {
        const attn_mha *ca = &m->dec[l].multihead_attn;
        for (int which = 1; which <= 2; which++) {
            const float *w, *b;
            proj(ca, which, &w, &b);
            /* f [R·S, d] = mem · Wᵀ + b, then split heads into the cross cache */
            ATTN_TRY_CLI(linear(c, mem, R * S, c->d, w, b, c->d, c->f, c->d));
            float *dst = (which == 1 ? c->ck : c->cv) + l * R * S * c->d;
            for (int64_t r = 0; r < R; r++)
                for (int64_t s = 0; s < S; s++)
                    for (int64_t h = 0; h < c->H; h++)
                        memcpy(dst + ((r * c->H + h) * S + s) * c->hd, c->f + (r * S + s) * c->d + h * c->hd,
                               (size_t)c->hd * sizeof(float));
        }
    }
    return ATTN_OK;
}

static void add_into(float *x, const float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) x[i] += y[i];
}

/* One attention block (self or cross) on c->x, pre- or post-norm. */
static int attn_block(cache *c, const attn_decoder_layer *L, int64_t l, int self, int64_t p)
{
    const attn_mha *a = self ? &L->self_attn : &L->multihead_attn;
    const attn_layernorm *n = self ? &L->norm1 : &L->norm2;
    const int64_t R = c->R, d = c->d;
    const float *in = c->x;
    if (L->cfg.norm_first) layernorm(n, c->x, c->h, R), in = c->h;
    const float *w, *b;
    proj(a, 0, &w, &b);
    ATTN_TRY_CLI(linear(c, in, R, d, w, b, d, c->q, d));
    if (self) {
        float *sk = c->sk + l * R * c->Lmax * d, *sv = c->sv + l * R * c->Lmax * d;
        proj(a, 1, &w, &b);
        ATTN_TRY_CLI(linear(c, in, R, d, w, b, d, c->f, d));
        scatter_heads(c, c->f, sk, c->Lmax, p);
        proj(a, 2, &w, &b);
        ATTN_TRY_CLI(linear(c, in, R, d, w, b, d, c->f, d));
        scatter_heads(c, c->f, sv, c->Lmax, p);
        ATTN_TRY_CLI(attend(c, sk, sv, c->Lmax, p + 1, 1));
    } else {
        ATTN_TRY_CLI(attend(c, c->ck + l * R * c->S * d, c->cv + l * R * c->S * d, c->S, c->S, 0));
    }
    ATTN_TRY_CLI(linear(c, c->a, R, d, a->out_proj_weight->data, a->out_proj_bias ? a->out_proj_bias->data : NULL,
                        d, c->h, d));
    add_into(c->x, c->h, R * d);
    if (!L->cfg.norm_first) layernorm(n, c->x, c->x, R);
    return ATTN_OK;
}

static float act(attn_activation a, float x)
{
    if (a == ATTN_ACT_RELU) return x > 0 ? x : 0;
    if (a == ATTN_ACT_GELU) return (float)(0.5 * x * (1.0 + erf(x / sqrt(2.0))));
    double u = 0.7978845608028654 * (x + 0.044715 * (double)x * x * x);
    return (float)(0.5 * x * (1.0 + tanh(u)));
}

static int ffn_block(cache *c, const attn_decoder_layer *L)
{
    const int64_t R = c->R, d = c->d, ff = L->ffn.linear1.out_features;
    const float *in = c->x;
    if (L->cfg.norm_first) layernorm(&L->norm3, c->x, c->h, R), in = c->h;
    const attn_linear *l1 = &L->ffn.linear1, *l2 = &L->ffn.linear2;
    ATTN_TRY_CLI(linear(c, in, R, d, l1->weight->data, l1->bias ? l1->bias->data : NULL, ff, c->f, ff));
    for (int64_t i = 0; i < R * ff; i++) c->f[i] = act(L->ffn.activation, c->f[i]);
    ATTN_TRY_CLI(linear(c, c->f, R, ff, l2->weight->data, l2->bias ? l2->bias->data : NULL, d, c->h, d));
    add_into(c->x, c->h, R * d);
    if (!L->cfg.norm_first) layernorm(&L->norm3, c->x, c->x, R);
    return ATTN_OK;
}

/* Tokens y [R] at position p → log-probabilities logp [R, V]; appends to the self caches. */
static int step(cache *c, const int32_t *y, int64_t p, float *logp)
{
    const attn_seq2seq *m = c->m;
    const int64_t R = c->R, d = c->d, V = m->cfg.tgt_vocab;
    const float *E = m->tgt_embed.weight->data, es = m->cfg.scale_embedding ? sqrtf((float)d) : 1.0f;
    for (int64_t r = 0; r < R; r++)
        for (int64_t j = 0; j < d; j++) c->x[r * d + j] = E[(int64_t)y[r] * d + j] * es + m->pos[p * d + j];
    for (int64_t l = 0; l < c->nl; l++) {
        ATTN_TRY_CLI(attn_block(c, &m->dec[l], l, 1, p));
        ATTN_TRY_CLI(attn_block(c, &m->dec[l], l, 0, p));
        ATTN_TRY_CLI(ffn_block(c, &m->dec[l]));
    }
    layernorm(&m->dec_norm, c->x, c->h, R);
    ATTN_TRY_CLI(linear(c, c->h, R, d, m->generator.weight->data,
                        m->generator.bias ? m->generator.bias->data : NULL, V, logp, V));
    decode_log_softmax(logp, R, V);
    return ATTN_OK;
}

/* Rows r take the self caches (positions 0..p) of rows parent[r]. */
static int reorder(cache *c, const int64_t *parent, int64_t p)
{
    /* gather each row's positions 0..p from its parent into the spare cache, then swap: one
     * copy, no allocation per step (positions past p are written before they are read) */
    const int64_t per = c->H * c->Lmax * c->hd, run = (p + 1) * c->hd;
#pragma omp parallel for collapse(2) schedule(static) num_threads(c->threads)
    for (int64_t l = 0; l < c->nl; l++)
        for (int64_t r = 0; r < c->R; r++) {
            const int64_t from = (l * c->R + parent[r]) * per, to = (l * c->R + r) * per;
            for (int64_t h = 0; h < c->H; h++) {
                memcpy(c->sk2 + to + h * c->Lmax * c->hd, c->sk + from + h * c->Lmax * c->hd,
                       (size_t)run * sizeof(float));
                memcpy(c->sv2 + to + h * c->Lmax * c->hd, c->sv + from + h * c->Lmax * c->hd,
                       (size_t)run * sizeof(float));
            }
        }
    float *t = c->sk;
    c->sk = c->sk2, c->sk2 = t;
    t = c->sv, c->sv = c->sv2, c->sv2 = t;
    return ATTN_OK;
}

/* Encoder output [N, S, d], each sentence repeated K times → mem [N·K, S, d], src [N·K, S]. */
static int encode_rep(attn_tape *t, const attn_seq2seq *m, const int32_t *src, int64_t N, int64_t S,
                      int64_t K, float **mem, int32_t **srcK)
{
    const int64_t d = m->cfg.d_model;
    ATTN_TRY_CLI(attn_tape_reset(t));
    attn_var *memory;
    ATTN_TRY_CLI(attn_seq2seq_encode(t, m, src, N, S, &memory));
    *mem = malloc((size_t)(N * K * S * d) * sizeof **mem);
    *srcK = malloc((size_t)(N * K * S) * sizeof **srcK);
    if (!*mem || !*srcK) return ATTN_E_NOMEM;
    for (int64_t i = 0; i < N; i++)
        for (int64_t k = 0; k < K; k++) {
            memcpy(*mem + (i * K + k) * S * d, memory->data + i * S * d, (size_t)(S * d) * sizeof **mem);
            memcpy(*srcK + (i * K + k) * S, src + i * S, (size_t)S * sizeof **srcK);
        }
    return ATTN_OK;
}

static int step_cb(void *c, const int32_t *y, int64_t p, float *logp) { return step(c, y, p, logp); }
static int reorder_cb(void *c, const int64_t *parent, int64_t p) { return reorder(c, parent, p); }

int seq2seq_translate_cached(attn_tape *t, const attn_seq2seq *m, const int32_t *src, int64_t N,
                             int64_t S, const decode_options *o, int32_t *out, int64_t *out_len)
{
    if (!m || !src || !o || !out || !out_len || N < 1 || S < 1 || o->beam < 1 || o->max_len < 1 ||
        o->max_len + 1 > m->cfg.max_len || m->cfg.d_model % m->cfg.nhead)
        return ATTN_E_ARG;
    int was_training = attn_tape_training(t);
    attn_tape_set_training(t, 0);
    const int64_t K = o->beam > 1 ? o->beam : 1;
    float *mem = NULL;
    int32_t *srcK = NULL;
    cache c = {0};
    int st = encode_rep(t, m, src, N, S, K, &mem, &srcK);
    if (st == ATTN_OK) st = cache_init(&c, m, mem, srcK, N * K, S, o->max_len + 1, attn_tape_num_threads(t));
    decode_stepper d = {&c, m->cfg.tgt_vocab, m->cfg.pad_id, step_cb, reorder_cb};
    if (st == ATTN_OK) st = K == 1 ? decode_rows_greedy(&d, N, o, out, out_len) : decode_rows_beam(&d, N, o, out, out_len);
    cache_free(&c);
    free(mem), free(srcK);
    attn_tape_set_training(t, was_training);
    return st;
}
