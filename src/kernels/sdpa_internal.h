/* sdpa_internal.h — a validated scaled dot-product attention problem, shared by the reference
 * and the fused kernels so that both read the options in exactly one way.
 *
 * Positions: query i sits at key position i' = i + off. The structural masks (key lengths,
 * causal, window) admit a contiguous range of keys for each row, [jlo, jhi); kernels use it to
 * skip work. The element masks (bool mask, additive bias, ALiBi, softcap) are applied per score
 * by sdpa_adjust(). */
#ifndef ATTN_SDPA_INTERNAL_H
#define ATTN_SDPA_INTERNAL_H

#include "internal.h"

typedef struct attn_sdpa_problem {
    int64_t B, Hq, Hkv, Lq, Lk, E, Ev;
    int64_t group; /* Hq / Hkv: query head h reads kv head h / group */
    float scale;
    /* strides in elements, in [B, H, L, E] order */
    const float *q, *k, *v;
    int64_t qs[4], ks[4], vs[4];
    float *o; /* NULL in backward problems */
    int64_t os[4];
    const uint8_t *mask; /* NULL: none; strides 0 on broadcast dims */
    int64_t ms[4];
    const float *bias; /* NULL: none */
    int64_t bs[4];
    int64_t bias_shape[4];
    const int32_t *key_lengths; /* NULL: all Lk */
    int causal;
    int64_t off; /* i' = i + off */
    int window;
    int64_t wl, wr;
    const float *alibi; /* [Hq] or NULL */
    float softcap;      /* 0: off */
    float dropout_p;
    float dropout_scale; /* 1 / (1 - p) */
    int weights_before_dropout;
    uint64_t seed, offset;
    int threads;
    attn_kernel kernel;
} attn_sdpa_problem;

/* Validate q, k, v, options and out (out may be NULL) and fill p. `fn` names the caller in
 * messages. */
ATTN_INTERNAL int attn_sdpa_problem_init(const char *fn, const attn_tensor *q, const attn_tensor *k,
                                         const attn_tensor *v, const attn_sdpa_options *opt,
                                         const attn_tensor *out, attn_sdpa_problem *p);

/* Keys of batch b that exist (key_lengths[b] clamped to [0, Lk]). */
static inline int64_t sdpa_keys(const attn_sdpa_problem *p, int64_t b)
{
    if (!p->key_lengths) return p->Lk;
    int64_t n = p->key_lengths[b];
    return n < 0 ? 0 : (n > p->Lk ? p->Lk : n);
}

/* The contiguous range [*jlo, *jhi) of keys that row i of batch b may attend before element
 * masks; empty when *jlo >= *jhi. Both ends never decrease as i grows (flash's mask_keys
 * relies on it; a new kind of range must keep it). */
static inline void sdpa_row_range(const attn_sdpa_problem *p, int64_t b, int64_t i, int64_t *jlo,
                                  int64_t *jhi)
{
    int64_t lo = 0, hi = sdpa_keys(p, b);
    int64_t ip = i + p->off;
    if (p->causal && ip + 1 < hi) hi = ip + 1;
    if (p->window) {
        if (ip - p->wl > lo) lo = ip - p->wl;
        if (ip + p->wr + 1 < hi) hi = ip + p->wr + 1;
    }
    if (hi < lo) hi = lo;
    *jlo = lo;
    *jhi = hi;
}

/* Whether any element mask is active (when none is, s stays scale·q·k). */
static inline int sdpa_has_elementwise(const attn_sdpa_problem *p)
{
    return p->mask || p->bias || p->alibi || p->softcap > 0;
}

/* Score of (b, h, i, j) from the scaled dot product s = scale·q·k: softcap, then bias and
 * ALiBi added, then the bool mask. Returns -INFINITY when masked. */
static inline float sdpa_adjust(const attn_sdpa_problem *p, int64_t b, int64_t h, int64_t i,
                                int64_t j, float s)
{
    if (p->softcap > 0) s = p->softcap * tanhf(s / p->softcap);
    if (p->bias) s += p->bias[b * p->bs[0] + h * p->bs[1] + i * p->bs[2] + j * p->bs[3]];
    if (p->alibi) {
        int64_t d = i + p->off - j;
        s -= p->alibi[h] * (float)(d < 0 ? -d : d);
    }
    if (p->mask && !p->mask[b * p->ms[0] + h * p->ms[1] + i * p->ms[2] + j * p->ms[3]])
        s = -INFINITY;
    return s;
}

/* Dropout stream index of weight (b, h, i, j). */
static inline uint64_t sdpa_dropout_index(const attn_sdpa_problem *p, int64_t b, int64_t h,
                                          int64_t i, int64_t j)
{
    return (((uint64_t)b * (uint64_t)p->Hq + (uint64_t)h) * (uint64_t)p->Lq + (uint64_t)i) *
               (uint64_t)p->Lk + (uint64_t)j;
}

/* Kernels, called with a validated problem. */
ATTN_INTERNAL int attn_sdpa_ref_forward(const attn_sdpa_problem *p, float *lse,
                                        const attn_tensor *weights);
ATTN_INTERNAL int attn_sdpa_ref_backward(const attn_sdpa_problem *p, const attn_tensor *dout,
                                         const attn_tensor *dq, const attn_tensor *dk,
                                         const attn_tensor *dv, const attn_tensor *dbias);

/* Fused kernel (flash_*.c). `supported` says whether it can serve p (else AUTO falls back to the
 * reference). out and lse of backward may be NULL: then the kernel recomputes them. */
ATTN_INTERNAL int attn_sdpa_flash_supported(const attn_sdpa_problem *p);
ATTN_INTERNAL int attn_sdpa_flash_forward(const attn_sdpa_problem *p, float *lse);
ATTN_INTERNAL int attn_sdpa_flash_backward(const attn_sdpa_problem *p, const attn_tensor *out,
                                           const float *lse, const attn_tensor *dout,
                                           const attn_tensor *dq, const attn_tensor *dk,
                                           const attn_tensor *dv, const attn_tensor *dbias);

#endif
