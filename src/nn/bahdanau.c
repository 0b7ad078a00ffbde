/* bahdanau.c — one step of the Bahdanau attention decoder, forward and backward:
 *
 *     ctx = Σ_j α_j enc_j,  α = softmax_j(vᵀ tanh(W_q s_prev + W_k enc_j + b))
 *     s   = GRUCell([emb; ctx], s_prev)
 *     out = W_out [s; ctx; emb] + b_out
 *
 * Built from additive attention (additive.c) and the GRU cell kernels (rnn_util.c). */
#include "rnn_internal.h"

#include <string.h>

struct attn_bahdanau_cache {
    int64_t B, Lk;
    attn_bahdanau_config cfg;
    int filled;
    int owned;                /* made by attn_bahdanau_cache_create: free() the block */
    attn_additive_cache *att; /* B, Lq = 1, Lk, A */
    float *xin;               /* [B, Dm + De]: GRU input [emb; ctx] */
    float *feat;              /* [B, H + De + Dm]: output features [s; ctx; emb] */
    float *gates;             /* [B, 4H] */
    float *gi, *gh;           /* [B, 3H] scratch */
};

/* Same sizes (the thread count may differ). */
static int same_sizes(const attn_bahdanau_config *a, const attn_bahdanau_config *b)
{
    return a->hidden_size == b->hidden_size && a->enc_size == b->enc_size &&
           a->emb_size == b->emb_size && a->attn_size == b->attn_size && a->out_size == b->out_size;
}

static int check_config(const char *fn, const attn_bahdanau_config *cfg)
{
    if (!cfg) return attn_fail(ATTN_E_ARG, "%s: cfg is NULL", fn);
    if (cfg->hidden_size < 1 || cfg->enc_size < 1 || cfg->emb_size < 1 || cfg->attn_size < 1 ||
        cfg->out_size < 1)
        return attn_fail(ATTN_E_ARG, "%s: hidden_size=%lld, enc_size=%lld, emb_size=%lld, attn_size=%lld, out_size=%lld must all be >= 1",
                         fn, (long long)cfg->hidden_size, (long long)cfg->enc_size,
                         (long long)cfg->emb_size, (long long)cfg->attn_size,
                         (long long)cfg->out_size);
    if (cfg->num_threads < 0)
        return attn_fail(ATTN_E_ARG, "%s: num_threads=%d must be >= 0", fn, cfg->num_threads);
    int64_t n, d[3] = {4 * cfg->hidden_size, cfg->hidden_size + cfg->enc_size + cfg->emb_size,
                       cfg->out_size + cfg->attn_size};
    return attn_checked_numel(fn, d, 3, &n);
}

#define ROUND64(x) ((((size_t)(x)) + 63) / 64 * 64)

/* struct | additive cache | floats [B, X + F + 4H + 6H] */
static int cache_layout(const char *fn, const attn_bahdanau_config *cfg, int64_t B, int64_t Lk,
                        size_t *att_bytes, int64_t *nfloats, size_t *bytes)
{
    ATTN_TRY(check_config(fn, cfg));
    if (B < 1 || Lk < 1)
        return attn_fail(ATTN_E_ARG, "%s: B=%lld and Lk=%lld must be >= 1", fn, (long long)B,
                         (long long)Lk);
    const int64_t H = cfg->hidden_size, De = cfg->enc_size, Dm = cfg->emb_size;
    int64_t d[2] = {B, (Dm + De) + (H + De + Dm) + 4 * H + 6 * H};
    ATTN_TRY(attn_checked_numel(fn, d, 2, nfloats));
    ATTN_TRY(attn_additive_cache_bytes(B, 1, Lk, cfg->attn_size, att_bytes));
    if (*nfloats > (int64_t)(PTRDIFF_MAX / 16) || *att_bytes > (size_t)PTRDIFF_MAX / 4)
        return attn_fail(ATTN_E_OVERFLOW, "%s: cache too large", fn);
    *bytes = ROUND64(sizeof(attn_bahdanau_cache)) + ROUND64(*att_bytes) +
             (size_t)*nfloats * sizeof(float);
    return ATTN_OK;
}

/* Size of a step cache placed in caller memory (internal: the decoder places T of them). */
int rnn_bahdanau_cache_bytes(const attn_bahdanau_config *cfg, int64_t B, int64_t Lk, size_t *bytes)
{
    size_t ab;
    int64_t nf;
    return cache_layout("attn_bahdanau_cache_bytes", cfg, B, Lk, &ab, &nf, bytes);
}

int rnn_bahdanau_cache_init(void *mem, const attn_bahdanau_config *cfg, int64_t B, int64_t Lk,
                            attn_bahdanau_cache **cache)
{
    static const char fn[] = "attn_bahdanau_cache_init";
    size_t ab = 0, bytes = 0;
    int64_t nf = 0;
    ATTN_TRY(cache_layout(fn, cfg, B, Lk, &ab, &nf, &bytes));
    attn_bahdanau_cache *c = mem;
    memset(c, 0, sizeof *c);
    char *p = (char *)mem + ROUND64(sizeof *c);
    ATTN_TRY(attn_additive_cache_init(p, ab, B, 1, Lk, cfg->attn_size, &c->att));
    p += ROUND64(ab);
    const int64_t H = cfg->hidden_size, De = cfg->enc_size, Dm = cfg->emb_size;
    c->B = B, c->Lk = Lk, c->cfg = *cfg;
    c->xin = (float *)p;
    c->feat = c->xin + B * (Dm + De);
    c->gates = c->feat + B * (H + De + Dm);
    c->gi = c->gates + B * 4 * H;
    c->gh = c->gi + B * 3 * H;
    *cache = c;
    return ATTN_OK;
}

int attn_bahdanau_cache_create(const attn_bahdanau_config *cfg, int64_t B, int64_t Lk,
                               attn_bahdanau_cache **cache)
{
    static const char fn[] = "attn_bahdanau_cache_create";
    ATTN_REQUIRE_NONNULL(fn, cache);
    *cache = NULL;
    size_t ab = 0, bytes = 0;
    int64_t nf = 0;
    ATTN_TRY(cache_layout(fn, cfg, B, Lk, &ab, &nf, &bytes));
    void *mem = attn_aligned_alloc(bytes);
    if (!mem) return attn_fail(ATTN_E_NOMEM, "%s: cannot allocate %zu bytes", fn, bytes);
    int st = rnn_bahdanau_cache_init(mem, cfg, B, Lk, cache);
    if (st) {
        free(mem);
        return st;
    }
    (*cache)->owned = 1;
    return ATTN_OK;
}

void attn_bahdanau_cache_free(attn_bahdanau_cache *cache)
{
    if (cache && cache->owned) free(cache);
}

static int check_params(const char *fn, const attn_bahdanau_params *p)
{
    if (!p) return attn_fail(ATTN_E_ARG, "%s: p is NULL", fn);
    if (!p->attn_w_q || !p->attn_w_k || !p->attn_v || !p->weight_ih || !p->weight_hh || !p->w_out)
        return attn_fail(ATTN_E_ARG, "%s: a required weight of p is NULL (attn_w_q, attn_w_k, attn_v, weight_ih, weight_hh, w_out)",
                         fn);
    return ATTN_OK;
}

/* [B, 1, W] view of a contiguous [B, W] array. */
static attn_tensor rows_as_3d(const float *data, int64_t B, int64_t W)
{
    int64_t shape[3] = {B, 1, W};
    return attn_tensor_make((float *)data, 3, shape);
}

/* The attention's parameters; W_k left out when the keys come projected. */
static attn_additive_params attn_part(const attn_bahdanau_params *p, int64_t A, int projected)
{
    attn_additive_params a = {A, p->attn_w_q, projected ? NULL : p->attn_w_k, p->attn_b, p->attn_v};
    return a;
}

/* Common validation; *B and *Lk from enc. */
static int check_call(const char *fn, const attn_bahdanau_config *cfg, const attn_bahdanau_params *p,
                      const attn_additive_options *opt, const float *s_prev,
                      const attn_tensor *enc, const attn_tensor *enc_proj, const float *emb,
                      int64_t *B, int64_t *Lk)
{
    ATTN_TRY(check_config(fn, cfg));
    ATTN_TRY(check_params(fn, p));
    ATTN_REQUIRE_NONNULL(fn, s_prev);
    ATTN_REQUIRE_NONNULL(fn, emb);
    ATTN_TRY(attn_check_view(fn, "enc", enc, 3));
    if (enc->shape[2] != cfg->enc_size)
        return attn_fail(ATTN_E_SHAPE, "%s: enc.shape[2]=%lld but enc_size=%lld", fn,
                         (long long)enc->shape[2], (long long)cfg->enc_size);
    *B = enc->shape[0], *Lk = enc->shape[1];
    if (enc_proj) ATTN_TRY(rnn_check3(fn, "enc_proj", enc_proj, *B, *Lk, cfg->attn_size));
    if (opt && opt->mask && opt->mask->ndim == 3 && opt->mask->shape[1] != 1)
        return attn_fail(ATTN_E_SHAPE, "%s: mask.shape[1]=%lld must be 1 (one query per step)", fn,
                         (long long)opt->mask->shape[1]);
    return ATTN_OK;
}

int attn_bahdanau_project_keys(const attn_bahdanau_config *cfg, const attn_bahdanau_params *p,
                               const attn_tensor *enc, attn_tensor *enc_proj)
{
    static const char fn[] = "attn_bahdanau_project_keys";
    ATTN_TRY(check_config(fn, cfg));
    ATTN_TRY(check_params(fn, p));
    ATTN_TRY(rnn_check3(fn, "enc", enc, enc ? enc->shape[0] : 0, enc ? enc->shape[1] : 0,
                        cfg->enc_size));
    const int64_t B = enc->shape[0], Lk = enc->shape[1], A = cfg->attn_size;
    ATTN_TRY(rnn_check3(fn, "enc_proj", enc_proj, B, Lk, A));
    float *y = attn_aligned_alloc((size_t)(B * Lk * (A + cfg->enc_size)) * sizeof(float));
    if (!y) return attn_fail(ATTN_E_NOMEM, "%s: cannot allocate scratch", fn);
    int st = rnn_project(enc, p->attn_w_k, NULL, A, y, y + B * Lk * A,
                         attn_resolve_threads(cfg->num_threads));
    if (st == ATTN_OK) rnn_unpack3(y, enc_proj);
    free(y);
    return st;
}

int attn_bahdanau_project_keys_backward(const attn_bahdanau_config *cfg,
                                        const attn_bahdanau_params *p, const attn_tensor *enc,
                                        const attn_tensor *denc_proj, attn_tensor *denc,
                                        attn_bahdanau_params *grads)
{
    static const char fn[] = "attn_bahdanau_project_keys_backward";
    ATTN_TRY(check_config(fn, cfg));
    ATTN_TRY(check_params(fn, p));
    ATTN_TRY(rnn_check3(fn, "enc", enc, enc ? enc->shape[0] : 0, enc ? enc->shape[1] : 0,
                        cfg->enc_size));
    const int64_t B = enc->shape[0], Lk = enc->shape[1], A = cfg->attn_size, De = cfg->enc_size;
    ATTN_TRY(rnn_check3(fn, "denc_proj", denc_proj, B, Lk, A));
    if (denc) ATTN_TRY(rnn_check3(fn, "denc", denc, B, Lk, De));
    /* dy [B·Lk, A] | dx [B, Lk, De] | pack scratch [B·Lk, De] */
    float *dy = attn_aligned_alloc((size_t)(B * Lk * (A + 2 * De)) * sizeof(float));
    if (!dy) return attn_fail(ATTN_E_NOMEM, "%s: cannot allocate scratch", fn);
    float *dx = dy + B * Lk * A, *tmp = dx + B * Lk * De;
    rnn_pack3(denc_proj, dy);
    int64_t shape[3] = {B, Lk, De};
    attn_tensor tdx = attn_tensor_make(dx, 3, shape);
    int st = rnn_project_backward(enc, p->attn_w_k, A, dy, denc ? &tdx : NULL,
                                  grads ? grads->attn_w_k : NULL, NULL, tmp,
                                  attn_resolve_threads(cfg->num_threads));
    if (st == ATTN_OK && denc)
        for (int64_t b = 0; b < B; b++)
            for (int64_t j = 0; j < Lk; j++)
                for (int64_t e = 0; e < De; e++) RNN_AT3(denc, b, j, e) += dx[(b * Lk + j) * De + e];
    free(dy);
    return st;
}

int attn_bahdanau_step_forward(const attn_bahdanau_config *cfg, const attn_bahdanau_params *p,
                               const attn_additive_options *opt, const float *s_prev,
                               const attn_tensor *enc, const attn_tensor *enc_proj,
                               const float *emb, float *s, float *ctx, float *weights, float *out,
                               attn_bahdanau_cache *cache)
{
    static const char fn[] = "attn_bahdanau_step_forward";
    int64_t B = 0, Lk = 0;
    ATTN_TRY(check_call(fn, cfg, p, opt, s_prev, enc, enc_proj, emb, &B, &Lk));
    ATTN_REQUIRE_NONNULL(fn, s);
    ATTN_REQUIRE_NONNULL(fn, ctx);
    ATTN_REQUIRE_NONNULL(fn, out);
    if (s == s_prev) return attn_fail(ATTN_E_ARG, "%s: s must not alias s_prev", fn);
    if (cache && (cache->B != B || cache->Lk != Lk ||
                  !same_sizes(&cache->cfg, cfg)))
        return attn_fail(ATTN_E_SHAPE, "%s: cache was made for B=%lld, Lk=%lld or another config",
                         fn, (long long)cache->B, (long long)cache->Lk);
    const int64_t H = cfg->hidden_size, De = cfg->enc_size, Dm = cfg->emb_size,
                  Do = cfg->out_size, F = H + De + Dm, X = Dm + De;
    const int threads = attn_resolve_threads(cfg->num_threads);
    attn_bahdanau_cache *c = cache;
    if (!c) ATTN_TRY(attn_bahdanau_cache_create(cfg, B, Lk, &c));
    c->filled = 0;
    attn_tensor q = rows_as_3d(s_prev, B, H), tctx = rows_as_3d(ctx, B, De);
    attn_tensor tw = rows_as_3d(weights, B, Lk);
    attn_additive_params ap = attn_part(p, cfg->attn_size, enc_proj != NULL);
    attn_additive_options o = opt ? *opt : (attn_additive_options){0};
    o.num_threads = cfg->num_threads;
    int st = attn_additive_forward(&q, enc_proj ? enc_proj : enc, enc, &ap, &o, &tctx,
                                   weights ? &tw : NULL, c->att);
    if (st == ATTN_OK) {
        for (int64_t b = 0; b < B; b++) {
            memcpy(c->xin + b * X, emb + b * Dm, (size_t)Dm * sizeof(float));
            memcpy(c->xin + b * X + Dm, ctx + b * De, (size_t)De * sizeof(float));
        }
        /* gi = [emb; ctx]·W_ihᵀ + b_ih */
        st = attn_sgemm(ATTN_NO_TRANS, ATTN_TRANS, B, 3 * H, X, 1.0f, c->xin, X, p->weight_ih, X,
                        0.0f, c->gi, 3 * H, threads);
    }
    if (st == ATTN_OK && p->bias_ih)
        for (int64_t b = 0; b < B; b++)
            for (int64_t u = 0; u < 3 * H; u++) c->gi[b * 3 * H + u] += p->bias_ih[u];
    if (st == ATTN_OK)
        st = rnn_gru_cell(B, H, c->gi, 3 * H, s_prev, H, p->weight_hh, p->bias_hh, c->gh, c->gates,
                          s, H, NULL, threads);
    if (st == ATTN_OK) {
        for (int64_t b = 0; b < B; b++) {
            memcpy(c->feat + b * F, s + b * H, (size_t)H * sizeof(float));
            memcpy(c->feat + b * F + H, ctx + b * De, (size_t)De * sizeof(float));
            memcpy(c->feat + b * F + H + De, emb + b * Dm, (size_t)Dm * sizeof(float));
        }
        /* out = [s; ctx; emb]·W_outᵀ + b_out */
        st = attn_sgemm(ATTN_NO_TRANS, ATTN_TRANS, B, Do, F, 1.0f, c->feat, F, p->w_out, F, 0.0f,
                        out, Do, threads);
    }
    if (st == ATTN_OK && p->b_out)
        for (int64_t b = 0; b < B; b++)
            for (int64_t u = 0; u < Do; u++) out[b * Do + u] += p->b_out[u];
    if (st == ATTN_OK) c->filled = 1;
    if (c != cache) attn_bahdanau_cache_free(c);
    return st;
}

int attn_bahdanau_step_backward(const attn_bahdanau_config *cfg, const attn_bahdanau_params *p,
                                const attn_additive_options *opt, const float *s_prev,
                                const attn_tensor *enc, const attn_tensor *enc_proj,
                                const float *emb, const attn_bahdanau_cache *cache,
                                const float *dout, const float *ds, float *ds_prev,
                                attn_tensor *denc, attn_tensor *denc_proj, float *demb,
                                attn_bahdanau_params *grads)
{
    static const char fn[] = "attn_bahdanau_step_backward";
    int64_t B = 0, Lk = 0;
    ATTN_TRY(check_call(fn, cfg, p, opt, s_prev, enc, enc_proj, emb, &B, &Lk));
    ATTN_REQUIRE_NONNULL(fn, cache);
    if (cache->B != B || cache->Lk != Lk || !same_sizes(&cache->cfg, cfg))
        return attn_fail(ATTN_E_SHAPE, "%s: cache was made for B=%lld, Lk=%lld or another config",
                         fn, (long long)cache->B, (long long)cache->Lk);
    if (!cache->filled) return attn_fail(ATTN_E_STATE, "%s: the cache holds no forward pass", fn);
    if (denc) ATTN_TRY(rnn_check3(fn, "denc", denc, B, Lk, cfg->enc_size));
    if (denc_proj) {
        if (!enc_proj)
            return attn_fail(ATTN_E_ARG, "%s: denc_proj given but the step had no enc_proj", fn);
        ATTN_TRY(rnn_check3(fn, "denc_proj", denc_proj, B, Lk, cfg->attn_size));
    }
    const int64_t H = cfg->hidden_size, De = cfg->enc_size, Dm = cfg->emb_size,
                  Do = cfg->out_size, F = H + De + Dm, X = Dm + De;
    const int threads = attn_resolve_threads(cfg->num_threads);
    const attn_bahdanau_cache *c = cache;
    /* dfeat [B, F] | dh [B, H] | dgi [B, 3H] | dgh [B, 3H] | dxin [B, X] | dq [B, H] |
     * dk [B, Lk, Dk] | dvals [B, Lk, De] */
    const int64_t Dk = enc_proj ? cfg->attn_size : De;
    const int64_t n_small = B * (F + H + 6 * H + X + H), n_k = B * Lk * Dk, n_enc = B * Lk * De;
    float *buf = attn_aligned_alloc((size_t)(n_small + n_k + n_enc) * sizeof(float));
    if (!buf) return attn_fail(ATTN_E_NOMEM, "%s: cannot allocate scratch", fn);
    float *dfeat = buf, *dh = dfeat + B * F, *dgi = dh + B * H, *dgh = dgi + 3 * B * H;
    float *dxin = dgh + 3 * B * H, *dq = dxin + B * X, *dk = dq + B * H, *dvals = dk + n_k;
    int st = ATTN_OK;
    /* out = feat·W_outᵀ + b_out */
    if (dout) {
        st = attn_sgemm(ATTN_NO_TRANS, ATTN_NO_TRANS, B, F, Do, 1.0f, dout, Do, p->w_out, F, 0.0f,
                        dfeat, F, threads);
        if (st == ATTN_OK && grads && grads->w_out)
            st = attn_sgemm(ATTN_TRANS, ATTN_NO_TRANS, Do, F, B, 1.0f, dout, Do, c->feat, F, 1.0f,
                            grads->w_out, F, threads);
        if (grads && grads->b_out)
            for (int64_t b = 0; b < B; b++)
                for (int64_t u = 0; u < Do; u++) grads->b_out[u] += dout[b * Do + u];
    } else {
        memset(dfeat, 0, (size_t)(B * F) * sizeof *dfeat);
    }
    /* feat = [s; ctx; emb]: ∂s = dfeat_s + ds */
    for (int64_t b = 0; b < B; b++)
        for (int64_t u = 0; u < H; u++) dh[b * H + u] = dfeat[b * F + u] + (ds ? ds[b * H + u] : 0.0f);
    /* s = GRUCell(xin, s_prev) */
    if (st == ATTN_OK)
        st = rnn_gru_cell_backward(B, H, s_prev, H, p->weight_hh, c->gates, dh, dgi, 3 * H, dgh,
                                   grads ? grads->weight_hh : NULL, grads ? grads->bias_hh : NULL,
                                   NULL, threads);
    /* gi = xin·W_ihᵀ + b_ih */
    if (st == ATTN_OK)
        st = attn_sgemm(ATTN_NO_TRANS, ATTN_NO_TRANS, B, X, 3 * H, 1.0f, dgi, 3 * H, p->weight_ih,
                        X, 0.0f, dxin, X, threads);
    if (st == ATTN_OK && grads && grads->weight_ih)
        st = attn_sgemm(ATTN_TRANS, ATTN_NO_TRANS, 3 * H, X, B, 1.0f, dgi, 3 * H, c->xin, X, 1.0f,
                        grads->weight_ih, X, threads);
    if (st == ATTN_OK && grads && grads->bias_ih)
        for (int64_t b = 0; b < B; b++)
            for (int64_t u = 0; u < 3 * H; u++) grads->bias_ih[u] += dgi[b * 3 * H + u];
    /* ∂ctx and ∂emb collect from the features and from the GRU input: reuse dfeat in place */
    for (int64_t b = 0; b < B; b++) {
        float *dctx = dfeat + b * F + H, *dm = dfeat + b * F + H + De;
        for (int64_t u = 0; u < De; u++) dctx[u] += dxin[b * X + Dm + u];
        for (int64_t u = 0; u < Dm; u++) dm[u] += dxin[b * X + u];
        if (demb) memcpy(demb + b * Dm, dm, (size_t)Dm * sizeof(float));
    }
    /* ctx = additive_attention(s_prev, enc, enc); dout of that call = dctx, row stride F */
    if (st == ATTN_OK) {
        attn_tensor q = rows_as_3d(s_prev, B, H), tdq = rows_as_3d(dq, B, H);
        attn_tensor tdctx = rows_as_3d(dfeat + H, B, De);
        tdctx.stride[0] = F;
        int64_t es[3] = {B, Lk, De}, ks[3] = {B, Lk, Dk};
        attn_tensor tdk = attn_tensor_make(dk, 3, ks), tdv = attn_tensor_make(dvals, 3, es);
        attn_additive_params ap = attn_part(p, cfg->attn_size, enc_proj != NULL);
        attn_additive_params ag = {cfg->attn_size, NULL, NULL, NULL, NULL};
        if (grads) ag = (attn_additive_params){cfg->attn_size, grads->attn_w_q,
                                               enc_proj ? NULL : grads->attn_w_k, grads->attn_b,
                                               grads->attn_v};
        attn_additive_options o = opt ? *opt : (attn_additive_options){0};
        o.num_threads = cfg->num_threads;
        const int want_dk = enc_proj ? denc_proj != NULL : denc != NULL;
        st = attn_additive_backward(&q, enc_proj ? enc_proj : enc, enc, &ap, &o, c->att, &tdctx,
                                    &tdq, want_dk ? &tdk : NULL, denc ? &tdv : NULL, &ag);
    }
    if (st == ATTN_OK) {
        if (ds_prev)
            for (int64_t i = 0; i < B * H; i++) ds_prev[i] = dh[i] + dq[i];
        /* enc is the values (and, unprojected, the keys) */
        if (denc)
            for (int64_t b = 0; b < B; b++)
                for (int64_t j = 0; j < Lk; j++)
                    for (int64_t e = 0; e < De; e++) {
                        int64_t i = (b * Lk + j) * De + e;
                        RNN_AT3(denc, b, j, e) += dvals[i] + (enc_proj ? 0.0f : dk[i]);
                    }
        if (denc_proj)
            for (int64_t b = 0; b < B; b++)
                for (int64_t j = 0; j < Lk; j++)
                    for (int64_t a = 0; a < Dk; a++)
                        RNN_AT3(denc_proj, b, j, a) += dk[(b * Lk + j) * Dk + a];
    }
    free(buf);
    return st;
}
