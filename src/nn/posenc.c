/* posenc.c — positional encodings: the sinusoidal table, learned absolute embeddings (forward
 * and backward), rotary embeddings (RoPE, both pairings, forward and its inverse for backward)
 * and ALiBi slopes. Angles are computed in double so that large positions stay accurate. */
#include "internal.h"

#include <string.h>

static double base_or_default(float base) { return base > 0 ? (double)base : 10000.0; }

static int check_base(const char *fn, float base)
{
    if (!(base >= 0) || isinf(base) || (base > 0 && base <= 1))
        return attn_fail(ATTN_E_ARG, "%s: base=%g must be > 1 (0: 10000)", fn, (double)base);
    return ATTN_OK;
}

int attn_posenc_sinusoidal(float *out, int64_t L, int64_t d, int64_t offset, float base)
{
    static const char fn[] = "attn_posenc_sinusoidal";
    ATTN_REQUIRE_NONNULL(fn, out);
    if (L < 1 || d < 1 || offset < 0)
        return attn_fail(ATTN_E_ARG, "%s: L=%lld, d=%lld must be >= 1 and offset=%lld >= 0", fn,
                         (long long)L, (long long)d, (long long)offset);
    ATTN_TRY(check_base(fn, base));
    int64_t n, dims[2] = {L, d};
    ATTN_TRY(attn_checked_numel(fn, dims, 2, &n));
    if (offset > INT64_MAX - L) return attn_fail(ATTN_E_OVERFLOW, "%s: offset + L overflows", fn);
    const double lb = log(base_or_default(base));
    for (int64_t c = 0; c < d; c += 2) {
        /* 1 / base^(2i/d) with c = 2i */
        double inv = exp(-lb * (double)c / (double)d);
        for (int64_t r = 0; r < L; r++) {
            double ang = (double)(offset + r) * inv;
            out[r * d + c] = (float)sin(ang);
            if (c + 1 < d) out[r * d + c + 1] = (float)cos(ang);
        }
    }
    return ATTN_OK;
}

static int check_learned(const char *fn, const char *name, const attn_tensor *x, int64_t max_len,
                         int64_t offset)
{
    ATTN_TRY(attn_check_view(fn, name, x, 3));
    if (max_len < 1 || offset < 0)
        return attn_fail(ATTN_E_ARG, "%s: max_len=%lld must be >= 1 and offset=%lld >= 0", fn,
                         (long long)max_len, (long long)offset);
    if (offset > max_len || x->shape[1] > max_len - offset)
        return attn_fail(ATTN_E_SHAPE, "%s: positions %lld..%lld exceed the table's %lld rows", fn,
                         (long long)offset, (long long)offset + (long long)x->shape[1] - 1,
                         (long long)max_len);
    int64_t n, dims[2] = {max_len, x->shape[2]};
    return attn_checked_numel(fn, dims, 2, &n);
}

static int same_shape3(const char *fn, const char *name, const attn_tensor *y, const attn_tensor *x)
{
    ATTN_TRY(attn_check_view(fn, name, y, 3));
    for (int i = 0; i < 3; i++)
        if (y->shape[i] != x->shape[i])
            return attn_fail(ATTN_E_SHAPE, "%s: %s.shape[%d]=%lld but the input's is %lld", fn,
                             name, i, (long long)y->shape[i], (long long)x->shape[i]);
    return ATTN_OK;
}

#define AT3(t, a, b, c) ((t)->data[(a) * (t)->stride[0] + (b) * (t)->stride[1] + (c) * (t)->stride[2]])

int attn_posenc_learned_forward(const attn_tensor *x, const float *table, int64_t max_len,
                                int64_t offset, attn_tensor *y)
{
    static const char fn[] = "attn_posenc_learned_forward";
    ATTN_TRY(check_learned(fn, "x", x, max_len, offset));
    ATTN_REQUIRE_NONNULL(fn, table);
    ATTN_TRY(same_shape3(fn, "y", y, x));
    const int64_t D = x->shape[2];
    for (int64_t b = 0; b < x->shape[0]; b++)
        for (int64_t l = 0; l < x->shape[1]; l++) {
            const float *row = table + (offset + l) * D;
            for (int64_t e = 0; e < D; e++) AT3(y, b, l, e) = AT3(x, b, l, e) + row[e];
        }
    return ATTN_OK;
}

int attn_posenc_learned_backward(const attn_tensor *dy, int64_t max_len, int64_t offset,
                                 attn_tensor *dx, float *dtable)
{
    static const char fn[] = "attn_posenc_learned_backward";
    ATTN_TRY(check_learned(fn, "dy", dy, max_len, offset));
    if (dx) ATTN_TRY(same_shape3(fn, "dx", dx, dy));
    const int64_t D = dy->shape[2];
    for (int64_t b = 0; b < dy->shape[0]; b++)
        for (int64_t l = 0; l < dy->shape[1]; l++) {
            float *row = dtable ? dtable + (offset + l) * D : NULL;
            for (int64_t e = 0; e < D; e++) {
                float g = AT3(dy, b, l, e);
                if (row) row[e] += g;
                if (dx) AT3(dx, b, l, e) = g;
            }
        }
    return ATTN_OK;
}

#define AT4(t, a, b, c, d)                                                                     \
    ((t)->data[(a) * (t)->stride[0] + (b) * (t)->stride[1] + (c) * (t)->stride[2] +              \
               (d) * (t)->stride[3]])

/* Rotate every (b, h, l) row of x into y by sign·pos·θ_i. */
static int rope_apply(const char *fn, const attn_tensor *x, const attn_rope_options *opt,
                      attn_tensor *y, double sign)
{
    static const attn_rope_options defaults;
    if (!opt) opt = &defaults;
    ATTN_TRY(attn_check_view(fn, "x", x, 4));
    ATTN_TRY(attn_check_view(fn, "y", y, 4));
    for (int i = 0; i < 4; i++)
        if (y->shape[i] != x->shape[i])
            return attn_fail(ATTN_E_SHAPE, "%s: output shape[%d]=%lld but input's is %lld", fn, i,
                             (long long)y->shape[i], (long long)x->shape[i]);
    const int64_t B = x->shape[0], H = x->shape[1], L = x->shape[2], E = x->shape[3];
    if (opt->pairing != ATTN_ROPE_HALF && opt->pairing != ATTN_ROPE_INTERLEAVED)
        return attn_fail(ATTN_E_ARG, "%s: unknown pairing %d", fn, (int)opt->pairing);
    ATTN_TRY(check_base(fn, opt->base));
    const int64_t R = opt->rotary_dim ? opt->rotary_dim : E;
    if (R < 2 || R > E || R % 2)
        return attn_fail(ATTN_E_ARG, "%s: rotary_dim=%lld must be even and in [2, E=%lld]", fn,
                         (long long)R, (long long)E);
    if (opt->offset < 0)
        return attn_fail(ATTN_E_ARG, "%s: offset=%lld must be >= 0", fn, (long long)opt->offset);
    if (opt->batch_offsets)
        for (int64_t b = 0; b < B; b++)
            if (opt->batch_offsets[b] < 0)
                return attn_fail(ATTN_E_ARG, "%s: batch_offsets[%lld]=%d must be >= 0", fn,
                                 (long long)b, opt->batch_offsets[b]);
    if (opt->offset > INT64_MAX / 2 - L - INT32_MAX)
        return attn_fail(ATTN_E_OVERFLOW, "%s: offset=%lld too large", fn, (long long)opt->offset);
    if (opt->num_threads < 0)
        return attn_fail(ATTN_E_ARG, "%s: num_threads=%d must be >= 0", fn, opt->num_threads);
    const int64_t half = R / 2;
    double *inv = malloc((size_t)half * sizeof *inv);
    int failed = 0;
    if (!inv) return attn_fail(ATTN_E_NOMEM, "%s: cannot allocate %lld frequencies", fn, (long long)half);
    const double lb = log(base_or_default(opt->base));
    for (int64_t i = 0; i < half; i++) inv[i] = exp(-lb * (double)(2 * i) / (double)R);
    const int interleaved = opt->pairing == ATTN_ROPE_INTERLEAVED;
    const int threads = attn_resolve_threads(opt->num_threads);
#pragma omp parallel num_threads(threads)
    {
        float *cs = malloc((size_t)(2 * half) * sizeof *cs);
        if (!cs) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp barrier
        if (!failed) {
#pragma omp for schedule(static)
            for (int64_t r = 0; r < B * L; r++) {
                const int64_t b = r / L, l = r % L;
                const int64_t pos = opt->offset + l + (opt->batch_offsets ? opt->batch_offsets[b] : 0);
                for (int64_t i = 0; i < half; i++) {
                    double ang = (double)pos * inv[i];
                    cs[2 * i] = (float)cos(ang), cs[2 * i + 1] = (float)(sign * sin(ang));
                }
                for (int64_t h = 0; h < H; h++) {
                    for (int64_t i = 0; i < half; i++) {
                        int64_t ia = interleaved ? 2 * i : i, ib = interleaved ? 2 * i + 1 : i + half;
                        float xa = AT4(x, b, h, l, ia), xb = AT4(x, b, h, l, ib);
                        float c = cs[2 * i], s = cs[2 * i + 1];
                        AT4(y, b, h, l, ia) = xa * c - xb * s;
                        AT4(y, b, h, l, ib) = xa * s + xb * c;
                    }
                    if (y->data != x->data || y->stride[3] != x->stride[3])
                        for (int64_t e = R; e < E; e++) AT4(y, b, h, l, e) = AT4(x, b, h, l, e);
                }
            }
        }
        free(cs);
    }
    free(inv);
    if (failed) return attn_fail(ATTN_E_NOMEM, "%s: cannot allocate scratch", fn);
    return ATTN_OK;
}

int attn_rope_forward(const attn_tensor *x, const attn_rope_options *opt, attn_tensor *y)
{
    return rope_apply("attn_rope_forward", x, opt, y, 1.0);
}

int attn_rope_backward(const attn_tensor *dy, const attn_rope_options *opt, attn_tensor *dx)
{
    /* y = R(θ)·x per pair, R orthogonal: dx = R(θ)ᵀ·dy = R(−θ)·dy */
    return rope_apply("attn_rope_backward", dy, opt, dx, -1.0);
}

int attn_alibi_slopes(float *slopes, int64_t H)
{
    static const char fn[] = "attn_alibi_slopes";
    ATTN_REQUIRE_NONNULL(fn, slopes);
    if (H < 1 || H > (INT64_C(1) << 40))
        return attn_fail(ATTN_E_ARG, "%s: H=%lld must be in [1, 2^40]", fn, (long long)H);
    int64_t n = 1;
    while (n * 2 <= H) n *= 2;
    /* the n heads of the closest power of two: 2^(−8(h+1)/n) */
    for (int64_t h = 0; h < n; h++) slopes[h] = (float)exp2(-8.0 * (double)(h + 1) / (double)n);
    /* the rest: slopes 1, 3, 5, … (0-based 0, 2, 4, …) of 2n heads: 2^(−8(2m+1)/(2n)) */
    for (int64_t m = 0; n + m < H; m++)
        slopes[n + m] = (float)exp2(-8.0 * (double)(2 * m + 1) / (double)(2 * n));
    return ATTN_OK;
}
