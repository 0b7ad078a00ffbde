/* bahdanau_decoder.c — T teacher-forced Bahdanau decoder steps, forward and backward through
 * time. The encoder keys are projected once (attn_bahdanau_project_keys); their gradient is
 * collected over all steps and sent back through the projection once. */
#include "rnn_internal.h"

#include <string.h>

struct attn_bahdanau_decoder_cache {
    int64_t B, T, Lk;
    attn_bahdanau_config cfg;
    int filled;
    int owned;                   /* made by _create: free() the block */
    attn_bahdanau_cache **steps; /* [T] */
    float *states;               /* [T + 1, B, H]: s0, s1, …, sT */
    float *enc_proj;             /* [B, Lk, A] */
    float *emb;                  /* [T, B, Dm] packed copy of the inputs */
    float *ctx, *w, *out;        /* [B, De], [B, Lk], [B, Do] scratch */
};

#define ROUND64(x) ((((size_t)(x)) + 63) / 64 * 64)

/* struct | steps [T] pointers | floats | T step caches of step_bytes each */
static int cache_layout(const char *fn, const attn_bahdanau_config *cfg, int64_t B, int64_t T,
                        int64_t Lk, int64_t *nfloats, size_t *step_bytes, size_t *bytes)
{
    ATTN_REQUIRE_NONNULL(fn, cfg);
    if (B < 1 || T < 1 || Lk < 1)
        return attn_fail(ATTN_E_ARG, "%s: B=%lld, T=%lld, Lk=%lld must be >= 1", fn, (long long)B,
                         (long long)T, (long long)Lk);
    if (T > (1 << 24)) return attn_fail(ATTN_E_ARG, "%s: T=%lld is too many steps", fn, (long long)T);
    const int64_t H = cfg->hidden_size, Dm = cfg->emb_size;
    if (H < 1 || Dm < 1 || cfg->attn_size < 1 || cfg->enc_size < 1 || cfg->out_size < 1)
        return attn_fail(ATTN_E_ARG, "%s: every size of cfg must be >= 1", fn);
    /* floats: B·((T+1)·H + Lk·A + T·Dm + De + Lk + Do), each term checked */
    int64_t terms[6][2] = {{T + 1, H}, {Lk, cfg->attn_size}, {T, Dm}, {1, cfg->enc_size},
                           {1, Lk}, {1, cfg->out_size}};
    int64_t row = 0;
    for (int i = 0; i < 6; i++) {
        int64_t x;
        ATTN_TRY(attn_checked_numel(fn, terms[i], 2, &x));
        if (__builtin_add_overflow(row, x, &row))
            return attn_fail(ATTN_E_OVERFLOW, "%s: cache size overflows", fn);
    }
    int64_t d[2] = {B, row};
    ATTN_TRY(attn_checked_numel(fn, d, 2, nfloats));
    if (*nfloats > (int64_t)(PTRDIFF_MAX / 16))
        return attn_fail(ATTN_E_OVERFLOW, "%s: cache of %lld floats is too large", fn,
                         (long long)*nfloats);
    ATTN_TRY(rnn_bahdanau_cache_bytes(cfg, B, Lk, step_bytes));
    *step_bytes = ROUND64(*step_bytes);
    if (*step_bytes > (size_t)PTRDIFF_MAX / 4 / (size_t)T)
        return attn_fail(ATTN_E_OVERFLOW, "%s: cache too large", fn);
    *bytes = ROUND64(sizeof(attn_bahdanau_decoder_cache)) + ROUND64((size_t)T * sizeof(void *)) +
             ROUND64((size_t)*nfloats * sizeof(float)) + (size_t)T * *step_bytes;
    return ATTN_OK;
}

int attn_bahdanau_decoder_cache_bytes(const attn_bahdanau_config *cfg, int64_t B, int64_t T,
                                      int64_t Lk, size_t *bytes)
{
    static const char fn[] = "attn_bahdanau_decoder_cache_bytes";
    ATTN_REQUIRE_NONNULL(fn, bytes);
    int64_t nf;
    size_t sb;
    return cache_layout(fn, cfg, B, T, Lk, &nf, &sb, bytes);
}

static int cache_place(const char *fn, void *mem, size_t bytes, const attn_bahdanau_config *cfg,
                       int64_t B, int64_t T, int64_t Lk, attn_bahdanau_decoder_cache **cache)
{
    ATTN_REQUIRE_NONNULL(fn, cache);
    *cache = NULL;
    ATTN_REQUIRE_NONNULL(fn, mem);
    if ((uintptr_t)mem % 64) return attn_fail(ATTN_E_ARG, "%s: mem must be 64-byte aligned", fn);
    int64_t nf = 0;
    size_t sb = 0, need = 0;
    ATTN_TRY(cache_layout(fn, cfg, B, T, Lk, &nf, &sb, &need));
    if (bytes < need) return attn_fail(ATTN_E_ARG, "%s: %zu bytes given, %zu needed", fn, bytes, need);
    attn_bahdanau_decoder_cache *c = mem;
    memset(c, 0, sizeof *c);
    char *p = (char *)mem + ROUND64(sizeof *c);
    c->B = B, c->T = T, c->Lk = Lk, c->cfg = *cfg;
    c->steps = (attn_bahdanau_cache **)p;
    p += ROUND64((size_t)T * sizeof(void *));
    const int64_t H = cfg->hidden_size, Dm = cfg->emb_size;
    c->states = (float *)p;
    c->enc_proj = c->states + (T + 1) * B * H;
    c->emb = c->enc_proj + B * Lk * cfg->attn_size;
    c->ctx = c->emb + T * B * Dm;
    c->w = c->ctx + B * cfg->enc_size;
    c->out = c->w + B * Lk;
    p += ROUND64((size_t)nf * sizeof(float));
    for (int64_t t = 0; t < T; t++, p += sb) ATTN_TRY(rnn_bahdanau_cache_init(p, cfg, B, Lk, &c->steps[t]));
    *cache = c;
    return ATTN_OK;
}

int attn_bahdanau_decoder_cache_init(void *mem, size_t bytes, const attn_bahdanau_config *cfg,
                                     int64_t B, int64_t T, int64_t Lk,
                                     attn_bahdanau_decoder_cache **cache)
{
    return cache_place("attn_bahdanau_decoder_cache_init", mem, bytes, cfg, B, T, Lk, cache);
}

int attn_bahdanau_decoder_cache_create(const attn_bahdanau_config *cfg, int64_t B, int64_t T,
                                       int64_t Lk, attn_bahdanau_decoder_cache **cache)
{
    static const char fn[] = "attn_bahdanau_decoder_cache_create";
    ATTN_REQUIRE_NONNULL(fn, cache);
    *cache = NULL;
    int64_t nf = 0;
    size_t sb = 0, bytes = 0;
    ATTN_TRY(cache_layout(fn, cfg, B, T, Lk, &nf, &sb, &bytes));
    void *mem = attn_aligned_alloc(bytes);
    if (!mem) return attn_fail(ATTN_E_NOMEM, "%s: cannot allocate %zu bytes", fn, bytes);
    int st = cache_place(fn, mem, bytes, cfg, B, T, Lk, cache);
    if (st) {
        free(mem);
        return st;
    }
    (*cache)->owned = 1;
    return ATTN_OK;
}

void attn_bahdanau_decoder_cache_free(attn_bahdanau_decoder_cache *cache)
{
    if (cache && cache->owned) free(cache);
}

/* Column t of a [B, T, W] view as a [B, 1, W] view. */
static attn_tensor step_view(const attn_tensor *t, int64_t step)
{
    attn_tensor v = *t;
    v.data += step * t->stride[1];
    v.shape[1] = 1;
    return v;
}

static int check_seq(const char *fn, const char *name, const attn_tensor *t, int64_t B, int64_t W)
{
    ATTN_TRY(attn_check_view(fn, name, t, 3));
    if (t->shape[0] != B || t->shape[2] != W)
        return attn_fail(ATTN_E_SHAPE, "%s: %s is [%lld, %lld, %lld], expected [%lld, T, %lld]", fn,
                         name, (long long)t->shape[0], (long long)t->shape[1],
                         (long long)t->shape[2], (long long)B, (long long)W);
    return ATTN_OK;
}

static int same_sizes(const attn_bahdanau_config *a, const attn_bahdanau_config *b)
{
    return a->hidden_size == b->hidden_size && a->enc_size == b->enc_size &&
           a->emb_size == b->emb_size && a->attn_size == b->attn_size && a->out_size == b->out_size;
}

int attn_bahdanau_decoder_forward(const attn_bahdanau_config *cfg, const attn_bahdanau_params *p,
                                  const attn_additive_options *opt, const attn_tensor *enc,
                                  const float *s0, const attn_tensor *emb, attn_tensor *out,
                                  attn_tensor *weights, float *s_last,
                                  attn_bahdanau_decoder_cache *cache)
{
    static const char fn[] = "attn_bahdanau_decoder_forward";
    ATTN_REQUIRE_NONNULL(fn, cfg);
    ATTN_TRY(attn_check_view(fn, "enc", enc, 3));
    ATTN_REQUIRE_NONNULL(fn, s0);
    const int64_t B = enc->shape[0], Lk = enc->shape[1], H = cfg->hidden_size;
    ATTN_TRY(check_seq(fn, "emb", emb, B, cfg->emb_size));
    const int64_t T = emb->shape[1];
    ATTN_TRY(check_seq(fn, "out", out, B, cfg->out_size));
    if (out->shape[1] != T)
        return attn_fail(ATTN_E_SHAPE, "%s: out has %lld steps, emb %lld", fn,
                         (long long)out->shape[1], (long long)T);
    if (weights) ATTN_TRY(rnn_check3(fn, "weights", weights, B, T, Lk));
    if (cache && (cache->B != B || cache->T != T || cache->Lk != Lk || !same_sizes(&cache->cfg, cfg)))
        return attn_fail(ATTN_E_SHAPE, "%s: cache was made for B=%lld, T=%lld, Lk=%lld or another config",
                         fn, (long long)cache->B, (long long)cache->T, (long long)cache->Lk);
    attn_bahdanau_decoder_cache *c = cache;
    if (!c) ATTN_TRY(attn_bahdanau_decoder_cache_create(cfg, B, T, Lk, &c));
    c->filled = 0;
    const int64_t A = cfg->attn_size, Dm = cfg->emb_size;
    int64_t ks[3] = {B, Lk, A};
    attn_tensor kp = attn_tensor_make(c->enc_proj, 3, ks);
    int st = attn_bahdanau_project_keys(cfg, p, enc, &kp);
    if (st == ATTN_OK) memcpy(c->states, s0, (size_t)(B * H) * sizeof(float));
    for (int64_t t = 0; t < T && st == ATTN_OK; t++) {
        attn_tensor e = step_view(emb, t);
        float *emb_t = c->emb + t * B * Dm;
        rnn_pack3(&e, emb_t);
        st = attn_bahdanau_step_forward(cfg, p, opt, c->states + t * B * H, enc, &kp, emb_t,
                                        c->states + (t + 1) * B * H, c->ctx, c->w, c->out,
                                        c->steps[t]);
        if (st) break;
        attn_tensor o = step_view(out, t);
        rnn_unpack3(c->out, &o);
        if (weights) {
            attn_tensor w = step_view(weights, t);
            rnn_unpack3(c->w, &w);
        }
    }
    if (st == ATTN_OK) {
        if (s_last) memcpy(s_last, c->states + T * B * H, (size_t)(B * H) * sizeof(float));
        c->filled = 1;
    }
    if (c != cache) attn_bahdanau_decoder_cache_free(c);
    return st;
}

int attn_bahdanau_decoder_backward(const attn_bahdanau_config *cfg, const attn_bahdanau_params *p,
                                   const attn_additive_options *opt, const attn_tensor *enc,
                                   const float *s0, const attn_tensor *emb,
                                   const attn_bahdanau_decoder_cache *cache,
                                   const attn_tensor *dout, const float *ds_last,
                                   attn_tensor *denc, float *ds0, attn_tensor *demb,
                                   attn_bahdanau_params *grads)
{
    static const char fn[] = "attn_bahdanau_decoder_backward";
    ATTN_REQUIRE_NONNULL(fn, cfg);
    ATTN_TRY(attn_check_view(fn, "enc", enc, 3));
    ATTN_REQUIRE_NONNULL(fn, s0);
    ATTN_REQUIRE_NONNULL(fn, cache);
    const attn_bahdanau_decoder_cache *c = cache;
    const int64_t B = enc->shape[0], Lk = enc->shape[1], H = cfg->hidden_size;
    const int64_t A = cfg->attn_size, De = cfg->enc_size, Dm = cfg->emb_size, Do = cfg->out_size;
    ATTN_TRY(check_seq(fn, "emb", emb, B, Dm));
    const int64_t T = emb->shape[1];
    if (c->B != B || c->T != T || c->Lk != Lk || !same_sizes(&c->cfg, cfg))
        return attn_fail(ATTN_E_SHAPE, "%s: cache was made for B=%lld, T=%lld, Lk=%lld or another config",
                         fn, (long long)c->B, (long long)c->T, (long long)c->Lk);
    if (!c->filled) return attn_fail(ATTN_E_STATE, "%s: the cache holds no forward pass", fn);
    if (dout) {
        ATTN_TRY(rnn_check3(fn, "dout", dout, B, T, Do));
    }
    if (denc) ATTN_TRY(rnn_check3(fn, "denc", denc, B, Lk, De));
    if (demb) ATTN_TRY(rnn_check3(fn, "demb", demb, B, T, Dm));
    /* ds, ds_prev [B, H] | dout_t [B, Do] | demb_t [B, Dm] | denc [B, Lk, De] | dkp [B, Lk, A] */
    const int64_t n = B * (2 * H + Do + Dm + Lk * De + Lk * A);
    float *buf = attn_aligned_alloc((size_t)n * sizeof(float));
    if (!buf) return attn_fail(ATTN_E_NOMEM, "%s: cannot allocate scratch", fn);
    memset(buf, 0, (size_t)n * sizeof(float));
    float *ds = buf, *ds_prev = ds + B * H, *dout_t = ds_prev + B * H, *demb_t = dout_t + B * Do;
    float *dE = demb_t + B * Dm, *dkp = dE + B * Lk * De;
    if (ds_last) memcpy(ds, ds_last, (size_t)(B * H) * sizeof(float));
    int64_t es[3] = {B, Lk, De}, ks[3] = {B, Lk, A};
    attn_tensor tdE = attn_tensor_make(dE, 3, es), tdkp = attn_tensor_make(dkp, 3, ks);
    attn_tensor kp = attn_tensor_make(c->enc_proj, 3, ks);
    int st = ATTN_OK;
    for (int64_t t = T - 1; t >= 0 && st == ATTN_OK; t--) {
        if (dout) {
            attn_tensor d = step_view(dout, t);
            rnn_pack3(&d, dout_t);
        }
        st = attn_bahdanau_step_backward(cfg, p, opt, c->states + t * B * H, enc, &kp,
                                         c->emb + t * B * Dm, c->steps[t], dout ? dout_t : NULL, ds,
                                         ds_prev, denc ? &tdE : NULL, &tdkp, demb_t, grads);
        if (st) break;
        memcpy(ds, ds_prev, (size_t)(B * H) * sizeof(float));
        if (demb) {
            attn_tensor d = step_view(demb, t);
            rnn_unpack3(demb_t, &d);
        }
    }
    if (st == ATTN_OK)
        st = attn_bahdanau_project_keys_backward(cfg, p, enc, &tdkp, denc ? &tdE : NULL, grads);
    if (st == ATTN_OK) {
        if (denc) rnn_unpack3(dE, denc);
        if (ds0) memcpy(ds0, ds, (size_t)(B * H) * sizeof(float));
    }
    free(buf);
    return st;
}
