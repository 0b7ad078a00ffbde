/* sdpa.c — the public entry points of scaled dot-product attention: validate everything once,
 * then hand a attn_sdpa_problem to the reference or the fused kernel. */
#include "sdpa_internal.h"

#include <string.h>

static int broadcast_ndim(const char *fn, const char *name, int ndim)
{
    if (ndim != 4)
        return attn_fail(ATTN_E_SHAPE, "%s: %s must have 4 dimensions [B|1, Hq|1, Lq|1, Lk|1], has %d",
                         fn, name, ndim);
    return ATTN_OK;
}

/* Element strides of a mask/bias view broadcast to [B, Hq, Lq, Lk]: each dim must be 1 or the
 * full size; size-1 dims get stride 0. */
static int broadcast_strides(const char *fn, const char *name, int ndim, const int64_t *shape,
                             const int64_t *stride, const int64_t full[4], int64_t out[4])
{
    static const char *dim_names[4] = {"B", "Hq", "Lq", "Lk"};
    if (ndim != 4)
        return attn_fail(ATTN_E_SHAPE, "%s: %s must have 4 dimensions [B|1, Hq|1, Lq|1, Lk|1], has %d",
                         fn, name, ndim);
    for (int d = 0; d < 4; d++) {
        if (shape[d] != 1 && shape[d] != full[d])
            return attn_fail(ATTN_E_SHAPE, "%s: %s.shape[%d]=%lld does not broadcast to %s=%lld", fn,
                             name, d, (long long)shape[d], dim_names[d], (long long)full[d]);
        out[d] = shape[d] == 1 ? 0 : stride[d];
    }
    return ATTN_OK;
}

int attn_sdpa_problem_init(const char *fn, const attn_tensor *q, const attn_tensor *k,
                           const attn_tensor *v, const attn_sdpa_options *opt,
                           const attn_tensor *out, attn_sdpa_problem *p)
{
    static const attn_sdpa_options defaults;
    if (!opt) opt = &defaults;
    memset(p, 0, sizeof *p);
    ATTN_TRY(attn_check_view(fn, "q", q, 4));
    ATTN_TRY(attn_check_view(fn, "k", k, 4));
    ATTN_TRY(attn_check_view(fn, "v", v, 4));
    p->B = q->shape[0], p->Hq = q->shape[1], p->Lq = q->shape[2], p->E = q->shape[3];
    p->Hkv = k->shape[1], p->Lk = k->shape[2], p->Ev = v->shape[3];
    if (k->shape[0] != p->B || v->shape[0] != p->B)
        return attn_fail(ATTN_E_SHAPE, "%s: batch sizes differ: q %lld, k %lld, v %lld", fn,
                         (long long)p->B, (long long)k->shape[0], (long long)v->shape[0]);
    if (k->shape[3] != p->E)
        return attn_fail(ATTN_E_SHAPE, "%s: k.shape[3]=%lld but q.shape[3]=%lld", fn,
                         (long long)k->shape[3], (long long)p->E);
    if (v->shape[1] != p->Hkv || v->shape[2] != p->Lk)
        return attn_fail(ATTN_E_SHAPE, "%s: v is [%lld, %lld, %lld, %lld] but k has %lld heads of %lld keys",
                         fn, (long long)v->shape[0], (long long)v->shape[1], (long long)v->shape[2],
                         (long long)v->shape[3], (long long)p->Hkv, (long long)p->Lk);
    if (p->Hq % p->Hkv != 0)
        return attn_fail(ATTN_E_SHAPE, "%s: q has %lld heads, not a multiple of k's %lld", fn,
                         (long long)p->Hq, (long long)p->Hkv);
    p->group = p->Hq / p->Hkv;
    /* every index the kernels form (incl. the Lq×Lk dropout index per head) must fit */
    int64_t n;
    int64_t dims[4] = {p->B, p->Hq, p->Lq, p->Lk};
    ATTN_TRY(attn_checked_numel(fn, dims, 4, &n));
    /* ... and every per-thread scratch size and output element count (views of broadcast
     * inputs may have zero strides, so their own checks do not bound these products) */
    int64_t width = p->E > p->Ev ? p->E : p->Ev;
    int64_t qo[4] = {p->B, p->Hq, p->Lq, width}, kv[4] = {p->B, p->Hkv, p->Lk, width};
    ATTN_TRY(attn_checked_numel(fn, qo, 4, &n));
    ATTN_TRY(attn_checked_numel(fn, kv, 4, &n));
    if (n > (int64_t)(PTRDIFF_MAX / 8))
        return attn_fail(ATTN_E_OVERFLOW, "%s: k/v of %lld elements exceed the address space", fn,
                         (long long)n);
    if (out) {
        ATTN_TRY(attn_check_view(fn, "out", out, 4));
        if (out->shape[0] != p->B || out->shape[1] != p->Hq || out->shape[2] != p->Lq ||
            out->shape[3] != p->Ev)
            return attn_fail(ATTN_E_SHAPE, "%s: out is [%lld, %lld, %lld, %lld], expected [%lld, %lld, %lld, %lld]",
                             fn, (long long)out->shape[0], (long long)out->shape[1],
                             (long long)out->shape[2], (long long)out->shape[3], (long long)p->B,
                             (long long)p->Hq, (long long)p->Lq, (long long)p->Ev);
        p->o = out->data;
        memcpy(p->os, out->stride, sizeof p->os);
    }
    p->q = q->data, p->k = k->data, p->v = v->data;
    memcpy(p->qs, q->stride, sizeof p->qs);
    memcpy(p->ks, k->stride, sizeof p->ks);
    memcpy(p->vs, v->stride, sizeof p->vs);

    if (!(opt->scale >= 0) || isinf(opt->scale))
        return attn_fail(ATTN_E_ARG, "%s: scale=%g must be finite and >= 0 (0: 1/sqrt(E))", fn,
                         (double)opt->scale);
    p->scale = opt->scale > 0 ? opt->scale : 1.0f / sqrtf((float)p->E);
    if (opt->align != ATTN_ALIGN_TOP_LEFT && opt->align != ATTN_ALIGN_BOTTOM_RIGHT)
        return attn_fail(ATTN_E_ARG, "%s: unknown align %d", fn, (int)opt->align);
    p->causal = opt->causal != 0;
    p->off = opt->align == ATTN_ALIGN_BOTTOM_RIGHT ? p->Lk - p->Lq : 0;
    p->window = opt->window != 0;
    if (p->window) {
        if (opt->window_left < 0 || opt->window_right < 0)
            return attn_fail(ATTN_E_ARG, "%s: window_left=%d, window_right=%d must be >= 0", fn,
                             opt->window_left, opt->window_right);
        p->wl = opt->window_left, p->wr = opt->window_right;
    }
    const int64_t full[4] = {p->B, p->Hq, p->Lq, p->Lk};
    if (opt->mask) {
        /* ndim first: a view with ndim > 4 must not be read past its shape array */
        ATTN_TRY(broadcast_ndim(fn, "mask", opt->mask->ndim));
        ATTN_TRY(attn_check_bool_view(fn, "mask", opt->mask, 4));
        ATTN_TRY(broadcast_strides(fn, "mask", opt->mask->ndim, opt->mask->shape,
                                   opt->mask->stride, full, p->ms));
        p->mask = opt->mask->data;
    }
    if (opt->bias) {
        ATTN_TRY(broadcast_ndim(fn, "bias", opt->bias->ndim));
        ATTN_TRY(attn_check_view(fn, "bias", opt->bias, 4));
        ATTN_TRY(broadcast_strides(fn, "bias", opt->bias->ndim, opt->bias->shape,
                                   opt->bias->stride, full, p->bs));
        p->bias = opt->bias->data;
        memcpy(p->bias_shape, opt->bias->shape, sizeof p->bias_shape);
    }
    p->key_lengths = opt->key_lengths;
    p->alibi = opt->alibi_slopes;
    if (!(opt->softcap >= 0) || isinf(opt->softcap))
        return attn_fail(ATTN_E_ARG, "%s: softcap=%g must be finite and >= 0", fn,
                         (double)opt->softcap);
    p->softcap = opt->softcap;
    if (!(opt->dropout_p >= 0 && opt->dropout_p < 1))
        return attn_fail(ATTN_E_ARG, "%s: dropout_p=%g must be in [0, 1)", fn,
                         (double)opt->dropout_p);
    p->dropout_p = opt->dropout_p;
    p->dropout_scale = 1.0f / (1.0f - opt->dropout_p);
    p->seed = opt->seed, p->offset = opt->offset;
    p->weights_before_dropout = opt->weights_before_dropout != 0;
    if (opt->num_threads < 0 || opt->num_threads > 4096)
        return attn_fail(ATTN_E_ARG, "%s: num_threads=%d must be in [0, 4096]", fn,
                         opt->num_threads);
    p->threads = attn_resolve_threads(opt->num_threads);
    if (opt->kernel < ATTN_KERNEL_AUTO || opt->kernel > ATTN_KERNEL_FLASH)
        return attn_fail(ATTN_E_ARG, "%s: unknown kernel %d", fn, (int)opt->kernel);
    p->kernel = opt->kernel;
    return ATTN_OK;
}

/* A [d0..d3] view of exactly these sizes. */
static int check_shape4(const char *fn, const char *name, const attn_tensor *t, int64_t d0,
                        int64_t d1, int64_t d2, int64_t d3)
{
    ATTN_TRY(attn_check_view(fn, name, t, 4));
    if (t->shape[0] != d0 || t->shape[1] != d1 || t->shape[2] != d2 || t->shape[3] != d3)
        return attn_fail(ATTN_E_SHAPE, "%s: %s is [%lld, %lld, %lld, %lld], expected [%lld, %lld, %lld, %lld]",
                         fn, name, (long long)t->shape[0], (long long)t->shape[1],
                         (long long)t->shape[2], (long long)t->shape[3], (long long)d0,
                         (long long)d1, (long long)d2, (long long)d3);
    return ATTN_OK;
}

/* Which kernel serves p: FLASH is an error if it cannot, AUTO falls back. */
static int choose_flash(const char *fn, const attn_sdpa_problem *p, int want_weights)
{
    if (p->kernel == ATTN_KERNEL_REFERENCE) return 0;
    int ok = !want_weights && attn_sdpa_flash_supported(p);
    if (p->kernel == ATTN_KERNEL_FLASH && !ok)
        return attn_fail(ATTN_E_UNSUPPORTED, "%s: the fused kernel cannot serve this request%s", fn,
                         want_weights ? " (it does not return the weights matrix)" : "");
    return ok;
}

int attn_sdpa_forward(const attn_tensor *q, const attn_tensor *k, const attn_tensor *v,
                      const attn_sdpa_options *opt, attn_tensor *out, float *lse,
                      attn_tensor *weights)
{
    static const char fn[] = "attn_sdpa_forward";
    attn_sdpa_problem p;
    ATTN_REQUIRE_NONNULL(fn, out);
    ATTN_TRY(attn_sdpa_problem_init(fn, q, k, v, opt, out, &p));
    if (weights) ATTN_TRY(check_shape4(fn, "weights", weights, p.B, p.Hq, p.Lq, p.Lk));
    int flash = choose_flash(fn, &p, weights != NULL);
    ATTN_TRY(flash);
    return flash ? attn_sdpa_flash_forward(&p, lse) : attn_sdpa_ref_forward(&p, lse, weights);
}

int attn_sdpa_backward(const attn_tensor *q, const attn_tensor *k, const attn_tensor *v,
                       const attn_tensor *out, const float *lse, const attn_tensor *dout,
                       const attn_sdpa_options *opt, attn_tensor *dq, attn_tensor *dk,
                       attn_tensor *dv, attn_tensor *dbias)
{
    static const char fn[] = "attn_sdpa_backward";
    attn_sdpa_problem p;
    ATTN_TRY(attn_sdpa_problem_init(fn, q, k, v, opt, NULL, &p));
    ATTN_TRY(check_shape4(fn, "dout", dout, p.B, p.Hq, p.Lq, p.Ev));
    ATTN_TRY(check_shape4(fn, "dq", dq, p.B, p.Hq, p.Lq, p.E));
    ATTN_TRY(check_shape4(fn, "dk", dk, p.B, p.Hkv, p.Lk, p.E));
    ATTN_TRY(check_shape4(fn, "dv", dv, p.B, p.Hkv, p.Lk, p.Ev));
    if (out) ATTN_TRY(check_shape4(fn, "out", out, p.B, p.Hq, p.Lq, p.Ev));
    if (dbias) {
        if (!p.bias)
            return attn_fail(ATTN_E_ARG, "%s: dbias given but options have no bias", fn);
        ATTN_TRY(check_shape4(fn, "dbias", dbias, p.bias_shape[0], p.bias_shape[1],
                              p.bias_shape[2], p.bias_shape[3]));
    }
    int flash = choose_flash(fn, &p, 0);
    ATTN_TRY(flash);
    if (flash) return attn_sdpa_flash_backward(&p, out, lse, dout, dq, dk, dv, dbias);
    return attn_sdpa_ref_backward(&p, dout, dq, dk, dv, dbias);
}
