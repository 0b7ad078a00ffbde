/* sdpa_op.c — scaled dot-product attention as a tape op: attn_sdpa_forward records, and
 * backward calls attn_sdpa_backward with the saved output and row log-sum-exp. */
#include "nn_internal.h"

typedef struct sdpa_ctx {
    attn_var *q, *k, *v, *y;
    float *lse;
    attn_sdpa_options opt;
    attn_bool_tensor mask;
    attn_tensor bias;
} sdpa_ctx;

static attn_tensor var_view(attn_var *v, float *data)
{
    return attn_tensor_4d(data, v->shape[0], v->shape[1], v->shape[2], v->shape[3]);
}

/* Elements spanned by a strided view (largest offset + 1). */
static size_t view_span(int ndim, const int64_t *shape, const int64_t *stride)
{
    size_t span = 1;
    for (int d = 0; d < ndim; d++) span += (size_t)((shape[d] - 1) * stride[d]);
    return span;
}

static void bind(sdpa_ctx *c)
{
    c->opt.mask = c->mask.data ? &c->mask : NULL;
    c->opt.bias = c->bias.data ? &c->bias : NULL;
}

static int sdpa_backward(attn_tape *t, void *p)
{
    sdpa_ctx *c = p;
    if (!c->y->grad) return ATTN_OK;
    attn_var *in[3] = {c->q, c->k, c->v};
    float *g[3];
    for (int i = 0; i < 3; i++) { /* sdpa_backward overwrites: run into scratch, then add */
        g[i] = attn_tape_alloc(t, (size_t)in[i]->numel * sizeof(float));
        if (!g[i]) return ATTN_E_NOMEM;
    }
    attn_tensor q = var_view(c->q, c->q->data), k = var_view(c->k, c->k->data);
    attn_tensor v = var_view(c->v, c->v->data), o = var_view(c->y, c->y->data);
    attn_tensor d = var_view(c->y, c->y->grad);
    attn_tensor dq = var_view(c->q, g[0]), dk = var_view(c->k, g[1]), dv = var_view(c->v, g[2]);
    bind(c);
    ATTN_TRY(attn_sdpa_backward(&q, &k, &v, &o, c->lse, &d, &c->opt, &dq, &dk, &dv, NULL));
    for (int i = 0; i < 3; i++) {
        if (!in[i]->requires_grad) continue;
        float *dst = attn_var_grad(t, in[i]);
        if (!dst) return ATTN_E_NOMEM;
        for (int64_t j = 0; j < in[i]->numel; j++) dst[j] += g[i][j];
    }
    return ATTN_OK;
}

int attn_op_sdpa(attn_tape *t, attn_var *q, attn_var *k, attn_var *v, const attn_sdpa_options *opt,
                 attn_var **out)
{
    static const char fn[] = "attn_op_sdpa";
    static const attn_sdpa_options defaults;
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, out);
    ATTN_TRY(attn_check_var(fn, "q", q));
    ATTN_TRY(attn_check_var(fn, "k", k));
    ATTN_TRY(attn_check_var(fn, "v", v));
    if (q->ndim != 4 || k->ndim != 4 || v->ndim != 4)
        return attn_fail(ATTN_E_SHAPE, "%s: q, k, v must be 4-d", fn);
    if (!opt) opt = &defaults;
    sdpa_ctx *c = attn_tape_calloc(t, sizeof *c);
    if (!c) return ATTN_E_NOMEM;
    c->q = q, c->k = k, c->v = v, c->opt = *opt;
    if (opt->mask) {
        c->mask = *opt->mask;
        if (!c->mask.data) return attn_fail(ATTN_E_ARG, "%s: mask.data is NULL", fn);
        if (c->mask.ndim < 1 || c->mask.ndim > 4) return attn_fail(ATTN_E_SHAPE, "%s: mask ndim", fn);
        size_t n = view_span(c->mask.ndim, c->mask.shape, c->mask.stride);
        if (!(c->mask.data = attn_tape_copy(t, opt->mask->data, n))) return ATTN_E_NOMEM;
    }
    if (opt->bias) {
        c->bias = *opt->bias;
        if (!c->bias.data) return attn_fail(ATTN_E_ARG, "%s: bias.data is NULL", fn);
        if (c->bias.ndim < 1 || c->bias.ndim > 4) return attn_fail(ATTN_E_SHAPE, "%s: bias ndim", fn);
        size_t n = view_span(c->bias.ndim, c->bias.shape, c->bias.stride);
        if (!(c->bias.data = attn_tape_copy(t, opt->bias->data, n * sizeof(float)))) return ATTN_E_NOMEM;
    }
    if (opt->key_lengths &&
        !(c->opt.key_lengths = attn_tape_copy(t, opt->key_lengths, (size_t)q->shape[0] * sizeof(int32_t))))
        return ATTN_E_NOMEM;
    if (opt->alibi_slopes &&
        !(c->opt.alibi_slopes = attn_tape_copy(t, opt->alibi_slopes, (size_t)q->shape[1] * sizeof(float))))
        return ATTN_E_NOMEM;
    c->opt.dropout_p = attn_tape_training(t) ? opt->dropout_p : 0.0f;
    if (c->opt.dropout_p > 0) c->opt.seed = attn_tape_seed(t), c->opt.offset = attn_tape_next_offset(t);
    if (!c->opt.num_threads)
        c->opt.num_threads = attn_threads_for(attn_tape_threads(t), (double)q->shape[0] * q->shape[1] *
                                                                        q->shape[2] * k->shape[2] * q->shape[3]);
    bind(c);
    int64_t oshape[4] = {q->shape[0], q->shape[1], q->shape[2], v->shape[3]};
    ATTN_TRY(attn_tape_var(t, 4, oshape, q->requires_grad || k->requires_grad || v->requires_grad,
                           &c->y));
    if (!(c->lse = attn_tape_alloc(t, (size_t)(q->shape[0] * q->shape[1] * q->shape[2]) * sizeof(float))))
        return ATTN_E_NOMEM;
    attn_tensor qv = var_view(q, q->data), kv = var_view(k, k->data), vv = var_view(v, v->data);
    attn_tensor ov = var_view(c->y, c->y->data);
    ATTN_TRY(attn_sdpa_forward(&qv, &kv, &vv, &c->opt, &ov, c->lse, NULL));
    ATTN_TRY(attn_tape_record(t, sdpa_backward, c));
    *out = c->y;
    return ATTN_OK;
}
