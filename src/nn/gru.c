/* gru.c — torch.nn.GRU: multi-layer, bidirectional, variable lengths (packed-sequence
 * semantics), forward and backward through time.
 *
 * Per layer and direction the input half of every gate is one matrix product over all steps,
 * gi = X·W_ihᵀ + b_ih [L·B, 3H]; the recurrent half is one [B, H]×[H, 3H] product per step
 * (rnn_gru_cell). Backward runs the steps in reverse, collects ∂/∂gi for all steps and turns it
 * into ∂X, ∂W_ih, ∂b_ih with two more products. */
#include "rnn_internal.h"

#include <stdio.h>
#include <string.h>

#define GRU_MAX_LAYERS 1024

struct attn_gru_cache {
    int64_t Lmax, B, In, H;
    int layers, D;
    int64_t L;      /* steps of the last forward */
    int filled;
    int owned;      /* made by attn_gru_cache_create: free() the block */
    int32_t *len;   /* [B] effective lengths */
    uint8_t *act;   /* [L, B] step t active for row b */
    float *x;       /* [L, B, In] time-major copy of the input */
    float *out;     /* [layers, L, B, D·H] outputs of every layer */
    float *gates;   /* [layers, D, L, B, 4H]: r, z, n, W_hn·h + b_hn */
    float *hprev;   /* [layers, D, L, B, H]: the state each step started from */
    float *gi;      /* [L, B, 3H] scratch */
    float *gh;      /* [B, 3H] scratch */
    float *h;       /* [B, H] scratch */
};

static int check_config(const char *fn, const attn_gru_config *cfg)
{
    if (!cfg) return attn_fail(ATTN_E_ARG, "%s: cfg is NULL", fn);
    if (cfg->input_size < 1 || cfg->hidden_size < 1)
        return attn_fail(ATTN_E_ARG, "%s: input_size=%lld and hidden_size=%lld must be >= 1", fn,
                         (long long)cfg->input_size, (long long)cfg->hidden_size);
    if (cfg->num_layers < 1 || cfg->num_layers > GRU_MAX_LAYERS)
        return attn_fail(ATTN_E_ARG, "%s: num_layers=%d must be in [1, %d]", fn, cfg->num_layers,
                         GRU_MAX_LAYERS);
    if (cfg->num_threads < 0)
        return attn_fail(ATTN_E_ARG, "%s: num_threads=%d must be >= 0", fn, cfg->num_threads);
    /* the largest matrix, 3H × max(In, 2H), and the parameter total must be countable */
    int64_t w = cfg->input_size > 2 * cfg->hidden_size ? cfg->input_size : 2 * cfg->hidden_size;
    int64_t n, dims[4] = {3, cfg->hidden_size, w + cfg->hidden_size + 2, 2 * cfg->num_layers};
    return attn_checked_numel(fn, dims, 4, &n);
}

static int dirs(const attn_gru_config *cfg) { return cfg->bidirectional ? 2 : 1; }

static int64_t layer_in(const attn_gru_config *cfg, int l)
{
    return l == 0 ? cfg->input_size : dirs(cfg) * cfg->hidden_size;
}

/* Offsets of the four tensors of (layer l, direction d); bias offsets −1 without biases. */
typedef struct gru_slot { int64_t w_ih, w_hh, b_ih, b_hh; } gru_slot;

static gru_slot slot_of(const attn_gru_config *cfg, int l, int d)
{
    const int64_t H = cfg->hidden_size, nb = cfg->no_bias ? 0 : 6 * H;
    int64_t off = 0;
    for (int i = 0; i < l; i++) off += dirs(cfg) * (3 * H * layer_in(cfg, i) + 3 * H * H + nb);
    off += d * (3 * H * layer_in(cfg, l) + 3 * H * H + nb);
    gru_slot s;
    s.w_ih = off;
    s.w_hh = off + 3 * H * layer_in(cfg, l);
    s.b_ih = cfg->no_bias ? -1 : s.w_hh + 3 * H * H;
    s.b_hh = cfg->no_bias ? -1 : s.b_ih + 3 * H;
    return s;
}

/* The tensors of (layer l, direction d) in a table of pointers in attn_gru_param_info order. */
typedef struct gru_w { const float *w_ih, *w_hh, *b_ih, *b_hh; } gru_w;
typedef struct gru_g { float *w_ih, *w_hh, *b_ih, *b_hh; } gru_g;

static int tensor_base(const attn_gru_config *cfg, int l, int d)
{
    return (l * dirs(cfg) + d) * (cfg->no_bias ? 2 : 4);
}

static gru_w weights_of(const attn_gru_config *cfg, const float *const *t, int l, int d)
{
    const int i = tensor_base(cfg, l, d);
    gru_w w = {t[i], t[i + 1], cfg->no_bias ? NULL : t[i + 2], cfg->no_bias ? NULL : t[i + 3]};
    return w;
}

static gru_g grads_of(const attn_gru_config *cfg, float *const *t, int l, int d)
{
    gru_g g = {NULL, NULL, NULL, NULL};
    if (!t) return g;
    const int i = tensor_base(cfg, l, d);
    g.w_ih = t[i], g.w_hh = t[i + 1];
    if (!cfg->no_bias) g.b_ih = t[i + 2], g.b_hh = t[i + 3];
    return g;
}

int attn_gru_num_params(const attn_gru_config *cfg, int *num_tensors, int64_t *num_floats)
{
    static const char fn[] = "attn_gru_num_params";
    ATTN_TRY(check_config(fn, cfg));
    int per = cfg->no_bias ? 2 : 4;
    if (num_tensors) *num_tensors = cfg->num_layers * dirs(cfg) * per;
    if (num_floats) {
        gru_slot last = slot_of(cfg, cfg->num_layers - 1, dirs(cfg) - 1);
        const int64_t H = cfg->hidden_size;
        *num_floats = cfg->no_bias ? last.w_hh + 3 * H * H : last.b_hh + 3 * H;
    }
    return ATTN_OK;
}

int attn_gru_param_info(const attn_gru_config *cfg, int index, attn_gru_tensor_info *info)
{
    static const char fn[] = "attn_gru_param_info";
    int n;
    ATTN_TRY(attn_gru_num_params(cfg, &n, NULL));
    ATTN_REQUIRE_NONNULL(fn, info);
    if (index < 0 || index >= n)
        return attn_fail(ATTN_E_ARG, "%s: index=%d not in [0, %d)", fn, index, n);
    static const char *kinds[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    const int per = cfg->no_bias ? 2 : 4, kind = index % per;
    const int d = (index / per) % dirs(cfg), l = index / (per * dirs(cfg));
    const int64_t H = cfg->hidden_size;
    gru_slot s = slot_of(cfg, l, d);
    memset(info, 0, sizeof *info);
    snprintf(info->name, sizeof info->name, "%s_l%d%s", kinds[kind], l, d ? "_reverse" : "");
    int64_t offs[4] = {s.w_ih, s.w_hh, s.b_ih, s.b_hh};
    info->offset = offs[kind];
    info->ndim = kind < 2 ? 2 : 1;
    info->shape[0] = 3 * H;
    info->shape[1] = kind == 0 ? layer_in(cfg, l) : kind == 1 ? H : 0;
    info->numel = kind < 2 ? info->shape[0] * info->shape[1] : 3 * H;
    return ATTN_OK;
}

#define ROUND64(x) ((((size_t)(x)) + 63) / 64 * 64)

/* Floats of each part: x, out, gates, hprev, gi, gh, h. */
static int cache_layout(const char *fn, const attn_gru_config *cfg, int64_t L, int64_t B,
                        int64_t n[7], size_t *bytes)
{
    ATTN_TRY(check_config(fn, cfg));
    if (L < 1 || B < 1)
        return attn_fail(ATTN_E_ARG, "%s: L=%lld and B=%lld must be >= 1", fn, (long long)L,
                         (long long)B);
    const int64_t H = cfg->hidden_size, In = cfg->input_size, D = dirs(cfg), NL = cfg->num_layers;
    int64_t LB, total = 0;
    int64_t d0[2] = {L, B};
    ATTN_TRY(attn_checked_numel(fn, d0, 2, &LB));
    int64_t f0[2] = {LB, In}, f1[4] = {NL, LB, D, H}, f2[4] = {NL * D, LB, 4, H},
            f3[3] = {NL * D, LB, H}, f4[3] = {LB, 3, H}, f5[3] = {B, 3, H}, f6[2] = {B, H};
    ATTN_TRY(attn_checked_numel(fn, f0, 2, &n[0]));
    ATTN_TRY(attn_checked_numel(fn, f1, 4, &n[1]));
    ATTN_TRY(attn_checked_numel(fn, f2, 4, &n[2]));
    ATTN_TRY(attn_checked_numel(fn, f3, 3, &n[3]));
    ATTN_TRY(attn_checked_numel(fn, f4, 3, &n[4]));
    ATTN_TRY(attn_checked_numel(fn, f5, 3, &n[5]));
    ATTN_TRY(attn_checked_numel(fn, f6, 2, &n[6]));
    for (int i = 0; i < 7; i++)
        if (__builtin_add_overflow(total, n[i], &total))
            return attn_fail(ATTN_E_OVERFLOW, "%s: cache size overflows", fn);
    if (total > (int64_t)(PTRDIFF_MAX / 8) - LB - B)
        return attn_fail(ATTN_E_OVERFLOW, "%s: cache of %lld floats is too large", fn, (long long)total);
    /* struct | len [B] int32 | act [L·B] bytes | floats */
    *bytes = ROUND64(sizeof(attn_gru_cache)) + ROUND64((size_t)B * sizeof(int32_t)) +
             ROUND64((size_t)LB) + (size_t)total * sizeof(float);
    return ATTN_OK;
}

int attn_gru_cache_bytes(const attn_gru_config *cfg, int64_t L, int64_t B, size_t *bytes)
{
    static const char fn[] = "attn_gru_cache_bytes";
    ATTN_REQUIRE_NONNULL(fn, bytes);
    int64_t n[7];
    return cache_layout(fn, cfg, L, B, n, bytes);
}

static int cache_place(const char *fn, void *mem, size_t bytes, const attn_gru_config *cfg,
                       int64_t L, int64_t B, attn_gru_cache **cache)
{
    ATTN_REQUIRE_NONNULL(fn, cache);
    *cache = NULL;
    ATTN_REQUIRE_NONNULL(fn, mem);
    if ((uintptr_t)mem % 64) return attn_fail(ATTN_E_ARG, "%s: mem must be 64-byte aligned", fn);
    int64_t n[7];
    size_t need = 0;
    ATTN_TRY(cache_layout(fn, cfg, L, B, n, &need));
    if (bytes < need) return attn_fail(ATTN_E_ARG, "%s: %zu bytes given, %zu needed", fn, bytes, need);
    attn_gru_cache *c = mem;
    memset(c, 0, sizeof *c);
    char *p = (char *)mem + ROUND64(sizeof *c);
    c->len = (int32_t *)p;
    p += ROUND64((size_t)B * sizeof(int32_t));
    c->act = (uint8_t *)p;
    p += ROUND64((size_t)(L * B));
    c->x = (float *)p;
    c->out = c->x + n[0];
    c->gates = c->out + n[1];
    c->hprev = c->gates + n[2];
    c->gi = c->hprev + n[3];
    c->gh = c->gi + n[4];
    c->h = c->gh + n[5];
    c->Lmax = L, c->B = B, c->In = cfg->input_size, c->H = cfg->hidden_size;
    c->layers = cfg->num_layers, c->D = dirs(cfg);
    *cache = c;
    return ATTN_OK;
}

int attn_gru_cache_init(void *mem, size_t bytes, const attn_gru_config *cfg, int64_t L, int64_t B,
                        attn_gru_cache **cache)
{
    return cache_place("attn_gru_cache_init", mem, bytes, cfg, L, B, cache);
}

int attn_gru_cache_create(const attn_gru_config *cfg, int64_t L, int64_t B, attn_gru_cache **cache)
{
    static const char fn[] = "attn_gru_cache_create";
    ATTN_REQUIRE_NONNULL(fn, cache);
    *cache = NULL;
    int64_t n[7];
    size_t bytes = 0;
    ATTN_TRY(cache_layout(fn, cfg, L, B, n, &bytes));
    void *mem = attn_aligned_alloc(bytes);
    if (!mem) return attn_fail(ATTN_E_NOMEM, "%s: cannot allocate %zu bytes", fn, bytes);
    int st = cache_place(fn, mem, bytes, cfg, L, B, cache);
    if (st) {
        free(mem);
        return st;
    }
    (*cache)->owned = 1;
    return ATTN_OK;
}

void attn_gru_cache_free(attn_gru_cache *cache)
{
    if (cache && cache->owned) free(cache);
}

/* A [L, B, W] (batch_first: [B, L, W]) view seen time-major. */
static attn_tensor time_major(const attn_tensor *t, int batch_first)
{
    attn_tensor v = *t;
    if (batch_first) {
        int64_t s = v.shape[0];
        v.shape[0] = v.shape[1], v.shape[1] = s;
        s = v.stride[0];
        v.stride[0] = v.stride[1], v.stride[1] = s;
    }
    return v;
}

static int check_seq(const char *fn, const char *name, const attn_tensor *t,
                     const attn_gru_config *cfg, int64_t L, int64_t B, int64_t W)
{
    ATTN_TRY(attn_check_view(fn, name, t, 3));
    attn_tensor v = time_major(t, cfg->batch_first);
    if ((L >= 0 && v.shape[0] != L) || v.shape[1] != B || v.shape[2] != W)
        return attn_fail(ATTN_E_SHAPE, "%s: %s is [%lld, %lld, %lld], expected %s [%lld, %lld, %lld]",
                         fn, name, (long long)t->shape[0], (long long)t->shape[1],
                         (long long)t->shape[2], cfg->batch_first ? "batch-first" : "time-major",
                         (long long)(cfg->batch_first ? B : L), (long long)(cfg->batch_first ? L : B),
                         (long long)W);
    return ATTN_OK;
}

static float *layer_out(const attn_gru_cache *c, int l)
{
    return c->out + (int64_t)l * c->L * c->B * c->D * c->H;
}

static int64_t step_index(const attn_gru_cache *c, int l, int d, int64_t t)
{
    return (((int64_t)l * c->D + d) * c->Lmax + t) * c->B;
}

int attn_gru_forward(const attn_gru_config *cfg, const float *const *params, const attn_tensor *x,
                     const attn_tensor *h0, const int32_t *lengths, attn_tensor *y,
                     attn_tensor *h_n, attn_gru_cache *cache)
{
    static const char fn[] = "attn_gru_forward";
    ATTN_TRY(check_config(fn, cfg));
    ATTN_REQUIRE_NONNULL(fn, params);
    int ntensors;
    ATTN_TRY(attn_gru_num_params(cfg, &ntensors, NULL));
    for (int i = 0; i < ntensors; i++)
        if (!params[i]) return attn_fail(ATTN_E_ARG, "%s: params[%d] is NULL", fn, i);
    ATTN_TRY(attn_check_view(fn, "x", x, 3));
    attn_tensor xt = time_major(x, cfg->batch_first);
    const int64_t L = xt.shape[0], B = xt.shape[1], H = cfg->hidden_size;
    const int D = dirs(cfg), NL = cfg->num_layers;
    ATTN_TRY(check_seq(fn, "x", x, cfg, L, B, cfg->input_size));
    ATTN_TRY(check_seq(fn, "y", y, cfg, L, B, D * H));
    if (h0) ATTN_TRY(rnn_check3(fn, "h0", h0, (int64_t)NL * D, B, H));
    if (h_n) ATTN_TRY(rnn_check3(fn, "h_n", h_n, (int64_t)NL * D, B, H));
    if (lengths)
        for (int64_t b = 0; b < B; b++)
            if (lengths[b] < 0 || lengths[b] > L)
                return attn_fail(ATTN_E_ARG, "%s: lengths[%lld]=%d not in [0, L=%lld]", fn,
                                 (long long)b, lengths[b], (long long)L);
    if (cache && (cache->B != B || cache->Lmax < L || cache->H != H ||
                  cache->In != cfg->input_size || cache->layers != NL || cache->D != D))
        return attn_fail(ATTN_E_SHAPE, "%s: cache was made for another configuration or size (B=%lld, L<=%lld)",
                         fn, (long long)cache->B, (long long)cache->Lmax);
    attn_gru_cache *c = cache;
    if (!c) ATTN_TRY(attn_gru_cache_create(cfg, L, B, &c));
    c->filled = 0;
    c->L = L;
    const int threads = attn_resolve_threads(cfg->num_threads);
    for (int64_t b = 0; b < B; b++) c->len[b] = lengths ? lengths[b] : (int32_t)L;
    for (int64_t t = 0; t < L; t++)
        for (int64_t b = 0; b < B; b++) c->act[t * B + b] = t < c->len[b];
    rnn_pack3(&xt, c->x);
    int st = ATTN_OK;
    for (int l = 0; l < NL && st == ATTN_OK; l++) {
        const float *in = l == 0 ? c->x : layer_out(c, l - 1);
        const int64_t In = layer_in(cfg, l), W = D * H;
        float *out = layer_out(c, l);
        for (int d = 0; d < D && st == ATTN_OK; d++) {
            const gru_w w = weights_of(cfg, params, l, d);
            const float *b_ih = w.b_ih, *b_hh = w.b_hh;
            /* gi = X·W_ihᵀ + b_ih over all steps */
            st = attn_sgemm(ATTN_NO_TRANS, ATTN_TRANS, L * B, 3 * H, In, 1.0f, in, In,
                            w.w_ih, In, 0.0f, c->gi, 3 * H, threads);
            if (st) break;
            if (b_ih)
                for (int64_t r = 0; r < L * B; r++)
                    for (int64_t u = 0; u < 3 * H; u++) c->gi[r * 3 * H + u] += b_ih[u];
            for (int64_t b = 0; b < B; b++)
                for (int64_t u = 0; u < H; u++)
                    c->h[b * H + u] = h0 ? RNN_AT3(h0, (int64_t)l * D + d, b, u) : 0.0f;
            for (int64_t k = 0; k < L && st == ATTN_OK; k++) {
                const int64_t t = d == 0 ? k : L - 1 - k, si = step_index(c, l, d, t);
                const uint8_t *act = c->act + t * B;
                memcpy(c->hprev + si * H, c->h, (size_t)(B * H) * sizeof(float));
                st = rnn_gru_cell(B, H, c->gi + t * B * 3 * H, 3 * H, c->h, H, w.w_hh, b_hh,
                                  c->gh, c->gates + si * 4 * H, c->h, H, act, threads);
                for (int64_t b = 0; b < B; b++)
                    for (int64_t u = 0; u < H; u++)
                        out[(t * B + b) * W + d * H + u] = act[b] ? c->h[b * H + u] : 0.0f;
            }
            if (h_n)
                for (int64_t b = 0; b < B; b++)
                    for (int64_t u = 0; u < H; u++)
                        RNN_AT3(h_n, (int64_t)l * D + d, b, u) = c->h[b * H + u];
        }
    }
    if (st == ATTN_OK) {
        attn_tensor yt = time_major(y, cfg->batch_first);
        rnn_unpack3(layer_out(c, NL - 1), &yt);
        c->filled = 1;
    }
    if (c != cache) attn_gru_cache_free(c);
    return st;
}

int attn_gru_backward(const attn_gru_config *cfg, const float *const *params,
                      const attn_gru_cache *cache, const attn_tensor *dy, const attn_tensor *dh_n,
                      attn_tensor *dx, attn_tensor *dh0, float *const *dparams)
{
    static const char fn[] = "attn_gru_backward";
    ATTN_TRY(check_config(fn, cfg));
    ATTN_REQUIRE_NONNULL(fn, params);
    int ntensors;
    ATTN_TRY(attn_gru_num_params(cfg, &ntensors, NULL));
    for (int i = 0; i < ntensors; i++)
        if (!params[i]) return attn_fail(ATTN_E_ARG, "%s: params[%d] is NULL", fn, i);
    ATTN_REQUIRE_NONNULL(fn, cache);
    const attn_gru_cache *c = cache;
    const int D = dirs(cfg), NL = cfg->num_layers;
    const int64_t H = cfg->hidden_size, B = c->B, L = c->L;
    if (c->H != H || c->In != cfg->input_size || c->layers != NL || c->D != D)
        return attn_fail(ATTN_E_SHAPE, "%s: cache was made for another configuration", fn);
    if (!c->filled) return attn_fail(ATTN_E_STATE, "%s: the cache holds no forward pass", fn);
    if (dy) ATTN_TRY(check_seq(fn, "dy", dy, cfg, L, B, D * H));
    if (dx) ATTN_TRY(check_seq(fn, "dx", dx, cfg, L, B, cfg->input_size));
    if (dh_n) ATTN_TRY(rnn_check3(fn, "dh_n", dh_n, (int64_t)NL * D, B, H));
    if (dh0) ATTN_TRY(rnn_check3(fn, "dh0", dh0, (int64_t)NL * D, B, H));
    const int threads = attn_resolve_threads(cfg->num_threads);
    const int64_t W = D * H, maxin = cfg->input_size > W ? cfg->input_size : W;
    /* dcur [L, B, W]: ∂/∂(this layer's output) | din [L, B, maxin] | dgi [L, B, 3H] |
     * dh [B, H] | dgh [B, 3H] */
    const int64_t n_cur = L * B * W, n_in = L * B * maxin, n_gi = L * B * 3 * H;
    float *buf = attn_aligned_alloc((size_t)(n_cur + n_in + n_gi + B * 4 * H) * sizeof(float));
    if (!buf) return attn_fail(ATTN_E_NOMEM, "%s: cannot allocate scratch", fn);
    float *dcur = buf, *din = dcur + n_cur, *dgi = din + n_in, *dh = dgi + n_gi, *dgh = dh + B * H;
    if (dy) {
        attn_tensor dyt = time_major(dy, cfg->batch_first);
        rnn_pack3(&dyt, dcur);
    } else {
        memset(dcur, 0, (size_t)n_cur * sizeof *dcur);
    }
    int st = ATTN_OK;
    for (int l = NL - 1; l >= 0 && st == ATTN_OK; l--) {
        const int64_t In = layer_in(cfg, l);
        const float *in = l == 0 ? c->x : layer_out(c, l - 1);
        memset(din, 0, (size_t)(L * B * In) * sizeof *din);
        for (int d = 0; d < D && st == ATTN_OK; d++) {
            const gru_w w = weights_of(cfg, params, l, d);
            const gru_g g = grads_of(cfg, dparams, l, d);
            for (int64_t b = 0; b < B; b++)
                for (int64_t u = 0; u < H; u++)
                    dh[b * H + u] = dh_n ? RNN_AT3(dh_n, (int64_t)l * D + d, b, u) : 0.0f;
            for (int64_t k = L - 1; k >= 0 && st == ATTN_OK; k--) {
                const int64_t t = d == 0 ? k : L - 1 - k, si = step_index(c, l, d, t);
                const uint8_t *act = c->act + t * B;
                for (int64_t b = 0; b < B; b++)
                    if (act[b])
                        for (int64_t u = 0; u < H; u++)
                            dh[b * H + u] += dcur[(t * B + b) * W + d * H + u];
                st = rnn_gru_cell_backward(B, H, c->hprev + si * H, H, w.w_hh,
                                           c->gates + si * 4 * H, dh, dgi + t * B * 3 * H, 3 * H,
                                           dgh, g.w_hh, g.b_hh, act, threads);
            }
            if (st) break;
            if (dh0)
                for (int64_t b = 0; b < B; b++)
                    for (int64_t u = 0; u < H; u++)
                        RNN_AT3(dh0, (int64_t)l * D + d, b, u) = dh[b * H + u];
            /* gi = X·W_ihᵀ + b_ih: dX += dgi·W_ih, dW_ih += dgiᵀ·X, db_ih += Σ dgi */
            if (l > 0 || dx)
                st = attn_sgemm(ATTN_NO_TRANS, ATTN_NO_TRANS, L * B, In, 3 * H, 1.0f, dgi, 3 * H,
                                w.w_ih, In, 1.0f, din, In, threads);
            if (st == ATTN_OK && g.w_ih)
                st = attn_sgemm(ATTN_TRANS, ATTN_NO_TRANS, 3 * H, In, L * B, 1.0f, dgi, 3 * H, in,
                                In, 1.0f, g.w_ih, In, threads);
            if (g.b_ih)
                for (int64_t r = 0; r < L * B; r++)
                    for (int64_t u = 0; u < 3 * H; u++) g.b_ih[u] += dgi[r * 3 * H + u];
        }
        if (l > 0) memcpy(dcur, din, (size_t)(L * B * W) * sizeof *dcur);
    }
    if (st == ATTN_OK && dx) {
        attn_tensor dxt = time_major(dx, cfg->batch_first);
        rnn_unpack3(din, &dxt);
    }
    free(buf);
    return st;
}
