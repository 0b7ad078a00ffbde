/* flash_api.c — the fused kernel's own public calls: key slices and their merge, varlen
 * batches, attention weights on demand, and the forward with row entropies. Each validates its
 * arguments, then builds segments (flash_internal.h) for the shared forward/backward. */
#include "flash_internal.h"

#include <stdio.h>
#include <string.h>

static int require_flash(const char *fn, const attn_sdpa_problem *p)
{
    if (!attn_sdpa_flash_supported(p))
        return attn_fail(ATTN_E_UNSUPPORTED, "%s: the fused kernel serves E, Ev <= %d (E=%lld, Ev=%lld)",
                         fn, FLASH_MAX_E, (long long)p->E, (long long)p->Ev);
    if (p->kernel == ATTN_KERNEL_REFERENCE)
        return attn_fail(ATTN_E_UNSUPPORTED, "%s: runs on the fused kernel only (kernel=reference)", fn);
    return ATTN_OK;
}

static void seg_init(flash_seg *sg, const attn_sdpa_problem *p, float *lse)
{
    sg->p = *p;
    sg->kbase = 0, sg->kend = p->Lk;
    sg->lse = lse, sg->ent = NULL;
    sg->lse_bs = p->Hq * p->Lq, sg->lse_hs = p->Lq;
}

int attn_sdpa_forward_partial(const attn_tensor *q, const attn_tensor *k, const attn_tensor *v,
                              const attn_sdpa_options *opt, int64_t key_offset, int64_t total_keys,
                              attn_tensor *out, float *lse)
{
    static const char fn[] = "attn_sdpa_forward_partial";
    ATTN_REQUIRE_NONNULL(fn, out);
    ATTN_REQUIRE_NONNULL(fn, lse);
    ATTN_TRY(attn_check_view(fn, "k", k, 4));
    ATTN_TRY(attn_check_view(fn, "v", v, 4));
    const int64_t n = k->shape[2];
    if (key_offset < 0 || total_keys < 1 || key_offset > total_keys - n)
        return attn_fail(ATTN_E_ARG, "%s: keys [%lld, %lld) do not fit in total_keys=%lld", fn,
                         (long long)key_offset, (long long)(key_offset + n), (long long)total_keys);
    /* views of the whole sequence, for validation and positions only: never read beyond the
     * slice */
    attn_tensor kf = *k, vf = *v;
    kf.shape[2] = total_keys, vf.shape[2] = total_keys;
    attn_sdpa_problem p;
    ATTN_TRY(attn_sdpa_problem_init(fn, q, &kf, &vf, opt, out, &p));
    if (v->shape[2] != n)
        return attn_fail(ATTN_E_SHAPE, "%s: v has %lld keys, k has %lld", fn,
                         (long long)v->shape[2], (long long)n);
    ATTN_TRY(require_flash(fn, &p));
    flash_seg sg;
    seg_init(&sg, &p, lse);
    sg.kbase = key_offset, sg.kend = key_offset + n;
    return flash_forward_segs(fn, &sg, 1, p.threads, flash_ops_current());
}

int attn_sdpa_merge(int n, const attn_tensor *outs, const float *const *lses, attn_tensor *out,
                    float *lse)
{
    static const char fn[] = "attn_sdpa_merge";
    ATTN_REQUIRE_NONNULL(fn, outs);
    ATTN_REQUIRE_NONNULL(fn, lses);
    if (n < 1) return attn_fail(ATTN_E_ARG, "%s: n=%d must be at least 1", fn, n);
    ATTN_TRY(attn_check_view(fn, "out", out, 4));
    for (int s = 0; s < n; s++) {
        char name[32];
        snprintf(name, sizeof name, "outs[%d]", s);
        ATTN_TRY(attn_check_view(fn, name, &outs[s], 4));
        for (int d = 0; d < 4; d++)
            if (outs[s].shape[d] != out->shape[d])
                return attn_fail(ATTN_E_SHAPE, "%s: outs[%d].shape[%d]=%lld but out.shape[%d]=%lld",
                                 fn, s, d, (long long)outs[s].shape[d], d, (long long)out->shape[d]);
        if (!lses[s]) return attn_fail(ATTN_E_ARG, "%s: lses[%d] is NULL", fn, s);
    }
    const int64_t B = out->shape[0], H = out->shape[1], L = out->shape[2], Ev = out->shape[3];
    float *rows = malloc((size_t)(n + 1) * (size_t)Ev * sizeof(float));
    const float **rp = malloc((size_t)n * sizeof *rp);
    float *ls = malloc((size_t)n * sizeof *ls);
    double *w = malloc((size_t)n * sizeof *w);
    if (!rows || !rp || !ls || !w) {
        free(rows), free(rp), free(ls), free(w);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    }
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t i = 0; i < L; i++) {
                const int64_t r = (b * H + h) * L + i;
                for (int s = 0; s < n; s++) {
                    const attn_tensor *t = &outs[s];
                    const float *src = t->data + b * t->stride[0] + h * t->stride[1] + i * t->stride[2];
                    float *dst = rows + (int64_t)s * Ev;
                    for (int64_t e = 0; e < Ev; e++) dst[e] = src[e * t->stride[3]];
                    rp[s] = dst, ls[s] = lses[s][r];
                }
                float *m = rows + (int64_t)n * Ev, l;
                flash_merge_row(n, rp, ls, Ev, w, m, &l);
                float *o = out->data + b * out->stride[0] + h * out->stride[1] + i * out->stride[2];
                for (int64_t e = 0; e < Ev; e++) o[e * out->stride[3]] = m[e];
                if (lse) lse[r] = l;
            }
    free(rows), free(rp), free(ls), free(w);
    return ATTN_OK;
}

/* Validate cu_seqlens: cu[0] = 0, nondecreasing, cu[nseq] = total. */
static int check_cu(const char *fn, const char *name, const int32_t *cu, int nseq, int64_t total)
{
    if (!cu) return attn_fail(ATTN_E_ARG, "%s: %s is NULL", fn, name);
    if (cu[0] != 0) return attn_fail(ATTN_E_ARG, "%s: %s[0]=%d must be 0", fn, name, cu[0]);
    for (int s = 0; s < nseq; s++)
        if (cu[s + 1] < cu[s])
            return attn_fail(ATTN_E_ARG, "%s: %s decreases at %d (%d < %d)", fn, name, s + 1,
                             cu[s + 1], cu[s]);
    if (cu[nseq] != total)
        return attn_fail(ATTN_E_SHAPE, "%s: %s[%d]=%d but the packed length is %lld", fn, name,
                         nseq, cu[nseq], (long long)total);
    return ATTN_OK;
}

/* Validate a varlen call and build one segment per sequence (caller frees *segs). */
static int varlen_segs(const char *fn, const attn_tensor *q, const attn_tensor *k,
                       const attn_tensor *v, const int32_t *cu_q, const int32_t *cu_k, int nseq,
                       const attn_sdpa_options *opt, const attn_tensor *out, float *lse,
                       attn_sdpa_problem *base, flash_seg **segs)
{
    if (nseq < 1) return attn_fail(ATTN_E_ARG, "%s: nseq=%d must be at least 1", fn, nseq);
    ATTN_TRY(attn_sdpa_problem_init(fn, q, k, v, opt, out, base));
    if (base->B != 1)
        return attn_fail(ATTN_E_SHAPE, "%s: packed tensors have batch 1 ([1, H, total, E]), got %lld",
                         fn, (long long)base->B);
    if (base->mask || base->bias || base->key_lengths)
        return attn_fail(ATTN_E_ARG, "%s: mask, bias and key_lengths are not accepted with varlen", fn);
    ATTN_TRY(require_flash(fn, base));
    ATTN_TRY(check_cu(fn, "cu_seqlens_q", cu_q, nseq, base->Lq));
    ATTN_TRY(check_cu(fn, "cu_seqlens_k", cu_k, nseq, base->Lk));
    flash_seg *sg = calloc((size_t)nseq, sizeof *sg);
    if (!sg) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    for (int s = 0; s < nseq; s++) {
        attn_sdpa_problem p = *base;
        p.Lq = cu_q[s + 1] - cu_q[s], p.Lk = cu_k[s + 1] - cu_k[s];
        p.q += cu_q[s] * p.qs[2];
        p.k += cu_k[s] * p.ks[2];
        p.v += cu_k[s] * p.vs[2];
        if (p.o) p.o += cu_q[s] * p.os[2];
        p.off = opt && opt->align == ATTN_ALIGN_BOTTOM_RIGHT ? p.Lk - p.Lq : 0;
        p.offset = base->offset + (uint64_t)s;
        sg[s].p = p;
        sg[s].kbase = 0, sg[s].kend = p.Lk;
        sg[s].lse = lse ? lse + cu_q[s] : NULL, sg[s].ent = NULL;
        sg[s].lse_bs = 0, sg[s].lse_hs = base->Lq;
    }
    *segs = sg;
    return ATTN_OK;
}

int attn_sdpa_forward_varlen(const attn_tensor *q, const attn_tensor *k, const attn_tensor *v,
                             const int32_t *cu_q, const int32_t *cu_k, int nseq,
                             const attn_sdpa_options *opt, attn_tensor *out, float *lse)
{
    static const char fn[] = "attn_sdpa_forward_varlen";
    ATTN_REQUIRE_NONNULL(fn, out);
    attn_sdpa_problem base;
    flash_seg *segs;
    ATTN_TRY(varlen_segs(fn, q, k, v, cu_q, cu_k, nseq, opt, out, lse, &base, &segs));
    int st = flash_forward_segs(fn, segs, nseq, base.threads, flash_ops_current());
    free(segs);
    return st;
}

/* The [d0..d3] view has exactly these sizes. */
static int same_shape(const char *fn, const char *name, const attn_tensor *t, int64_t d0,
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

int attn_sdpa_backward_varlen(const attn_tensor *q, const attn_tensor *k, const attn_tensor *v,
                              const attn_tensor *out, const float *lse, const attn_tensor *dout,
                              const int32_t *cu_q, const int32_t *cu_k, int nseq,
                              const attn_sdpa_options *opt, attn_tensor *dq, attn_tensor *dk,
                              attn_tensor *dv)
{
    static const char fn[] = "attn_sdpa_backward_varlen";
    ATTN_REQUIRE_NONNULL(fn, out);
    ATTN_REQUIRE_NONNULL(fn, lse);
    attn_sdpa_problem b;
    flash_seg *segs;
    ATTN_TRY(varlen_segs(fn, q, k, v, cu_q, cu_k, nseq, opt, out, (float *)lse, &b, &segs));
    int st = same_shape(fn, "dout", dout, 1, b.Hq, b.Lq, b.Ev);
    if (st == 0) st = same_shape(fn, "dq", dq, 1, b.Hq, b.Lq, b.E);
    if (st == 0) st = same_shape(fn, "dk", dk, 1, b.Hkv, b.Lk, b.E);
    if (st == 0) st = same_shape(fn, "dv", dv, 1, b.Hkv, b.Lk, b.Ev);
    flash_bwd_seg *bs = st == 0 ? calloc((size_t)nseq, sizeof *bs) : NULL;
    if (st == 0 && !bs) st = attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    if (st < 0) {
        free(segs);
        return st;
    }
    for (int s = 0; s < nseq; s++) {
        flash_bwd_seg *x = &bs[s];
        x->seg = &segs[s];
        x->o = out->data + cu_q[s] * out->stride[2];
        memcpy(x->os, out->stride, sizeof x->os);
        x->dout = dout->data + cu_q[s] * dout->stride[2];
        memcpy(x->dos, dout->stride, sizeof x->dos);
        x->dq = dq->data + cu_q[s] * dq->stride[2];
        x->dk = dk->data + cu_k[s] * dk->stride[2];
        x->dv = dv->data + cu_k[s] * dv->stride[2];
        memcpy(x->dqs, dq->stride, sizeof x->dqs);
        memcpy(x->dks, dk->stride, sizeof x->dks);
        memcpy(x->dvs, dv->stride, sizeof x->dvs);
    }
    st = flash_backward_segs(fn, bs, nseq, b.threads, flash_ops_current());
    free(bs), free(segs);
    return st;
}

int attn_sdpa_forward_entropy(const attn_tensor *q, const attn_tensor *k, const attn_tensor *v,
                              const attn_sdpa_options *opt, attn_tensor *out, float *lse,
                              float *entropy)
{
    static const char fn[] = "attn_sdpa_forward_entropy";
    ATTN_REQUIRE_NONNULL(fn, out);
    ATTN_REQUIRE_NONNULL(fn, entropy);
    attn_sdpa_problem p;
    ATTN_TRY(attn_sdpa_problem_init(fn, q, k, v, opt, out, &p));
    ATTN_TRY(require_flash(fn, &p));
    flash_seg sg;
    seg_init(&sg, &p, lse);
    sg.ent = entropy;
    return flash_forward_segs(fn, &sg, 1, p.threads, flash_ops_current());
}

/* Scores of rows [i0, i0+br) × keys [j0, j0+bc) of (b, h) into S [br][FLASH_BC], masked. */
static void weight_scores(const attn_sdpa_problem *p, const flash_ops *ops, const float *kp,
                          float *S, int64_t b, int64_t h, int64_t i0, int64_t br, int64_t j0,
                          int64_t bc)
{
    const float *q = p->q + b * p->qs[0] + h * p->qs[1] + i0 * p->qs[2];
    ops->gemm(br, flash_pad(bc), p->E, q, p->qs[2], p->qs[3], kp, FLASH_BC, S, FLASH_BC, p->scale, 0);
    flash_exact_gemm(br, bc, p->E, q, p->qs[2], p->qs[3], kp, FLASH_BC, S, FLASH_BC, p->scale);
    for (int64_t c = 0; c < br; c++) {
        int64_t lo, hi;
        sdpa_row_range(p, b, i0 + c, &lo, &hi);
        for (int64_t jj = 0; jj < bc; jj++) {
            const int64_t j = j0 + jj;
            float *x = S + c * FLASH_BC + jj;
            *x = j < lo || j >= hi ? -INFINITY : sdpa_adjust(p, b, h, i0 + c, j, *x);
        }
    }
}

int attn_sdpa_weights(const attn_tensor *q, const attn_tensor *k, const attn_sdpa_options *opt,
                      const float *lse, int64_t b, int64_t h, int64_t row_begin, int64_t row_end,
                      attn_tensor *weights)
{
    static const char fn[] = "attn_sdpa_weights";
    attn_sdpa_problem p;
    ATTN_TRY(attn_sdpa_problem_init(fn, q, k, k, opt, NULL, &p));
    if (b < 0 || b >= p.B || h < 0 || h >= p.Hq)
        return attn_fail(ATTN_E_ARG, "%s: head (b=%lld, h=%lld) outside [%lld, %lld]", fn,
                         (long long)b, (long long)h, (long long)p.B, (long long)p.Hq);
    if (row_begin < 0 || row_end <= row_begin || row_end > p.Lq)
        return attn_fail(ATTN_E_ARG, "%s: rows [%lld, %lld) not a nonempty range of [0, %lld)", fn,
                         (long long)row_begin, (long long)row_end, (long long)p.Lq);
    ATTN_TRY(attn_check_view(fn, "weights", weights, 2));
    if (weights->shape[0] != row_end - row_begin || weights->shape[1] != p.Lk)
        return attn_fail(ATTN_E_SHAPE, "%s: weights is [%lld, %lld], expected [%lld, %lld]", fn,
                         (long long)weights->shape[0], (long long)weights->shape[1],
                         (long long)(row_end - row_begin), (long long)p.Lk);
    if (p.E > FLASH_MAX_E)
        return attn_fail(ATTN_E_UNSUPPORTED, "%s: E=%lld > %d", fn, (long long)p.E, FLASH_MAX_E);
    const flash_ops *ops = flash_ops_current();
    const int64_t rows = row_end - row_begin, ntile = (rows + FLASH_BR - 1) / FLASH_BR;
    const int64_t nkt = (p.Lk + FLASH_BC - 1) / FLASH_BC, hk = h / p.group;
    int failed = 0;
#pragma omp parallel num_threads(p.threads < ntile ? p.threads : (int)ntile)
    {
        float *kp = attn_aligned_alloc((size_t)(p.E * FLASH_BC) * sizeof(float));
        float *S = attn_aligned_alloc((size_t)(FLASH_BR * FLASH_BC) * sizeof(float));
        if (!kp || !S) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp barrier
        if (!failed) {
#pragma omp for schedule(dynamic, 1)
            for (int64_t t = 0; t < ntile; t++) {
                const int64_t i0 = row_begin + t * FLASH_BR;
                const int64_t br = row_end - i0 < FLASH_BR ? row_end - i0 : FLASH_BR;
                float L[FLASH_BR], m[FLASH_BR], l[FLASH_BR];
                for (int64_t c = 0; c < br; c++) m[c] = -INFINITY, l[c] = 0;
                /* pass 0 (no lse given): row max and sum, online; pass 1: the weights */
                for (int pass = lse ? 1 : 0; pass < 2; pass++) {
                    if (pass == 1)
                        for (int64_t c = 0; c < br; c++) {
                            float x = lse ? lse[(b * p.Hq + h) * p.Lq + i0 + c]
                                          : (l[c] > 0 ? m[c] + logf(l[c]) : -INFINITY);
                            L[c] = x == -INFINITY ? INFINITY : x;
                        }
                    for (int64_t kt = 0; kt < nkt; kt++) {
                        const int64_t j0 = kt * FLASH_BC;
                        const int64_t bc = p.Lk - j0 < FLASH_BC ? p.Lk - j0 : FLASH_BC;
                        const float *ksrc = p.k + b * p.ks[0] + hk * p.ks[1] + j0 * p.ks[2];
                        for (int64_t e = 0; e < p.E; e++)
                            for (int64_t jj = 0; jj < flash_pad(bc); jj++)
                                kp[e * FLASH_BC + jj] = jj < bc ? ksrc[jj * p.ks[2] + e * p.ks[3]] : 0;
                        weight_scores(&p, ops, kp, S, b, h, i0, br, j0, bc);
                        for (int64_t c = 0; c < br; c++) {
                            float *srow = S + c * FLASH_BC;
                            if (pass == 0) {
                                float mx = m[c];
                                for (int64_t jj = 0; jj < bc; jj++) mx = srow[jj] > mx ? srow[jj] : mx;
                                if (mx == -INFINITY) continue;
                                l[c] *= expf(m[c] - mx);
                                for (int64_t jj = 0; jj < bc; jj++) l[c] += expf(srow[jj] - mx);
                                m[c] = mx;
                                continue;
                            }
                            float *wr = weights->data + (i0 + c - row_begin) * weights->stride[0] +
                                        j0 * weights->stride[1];
                            for (int64_t jj = 0; jj < bc; jj++)
                                wr[jj * weights->stride[1]] = expf(srow[jj] - L[c]);
                        }
                    }
                }
            }
        }
        free(kp), free(S);
    }
    if (failed) return attn_fail(ATTN_E_NOMEM, "%s: out of memory for scratch", fn);
    return ATTN_OK;
}
