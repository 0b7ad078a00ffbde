/* sdpa_ref.c — the textbook scaled dot-product attention, one query row at a time:
 *
 *     O = dropout(softmax(scale·Q·Kᵀ + masks)) · V
 *
 * Readable first: every row computes its scores, their softmax and the weighted sum of values,
 * exactly as the formula reads. Sums are accumulated in double so that this path can serve as
 * the yardstick for the fused kernel. It stores one row of scores (Lk numbers) per thread,
 * never the Lq×Lk matrix — except in the caller's `weights` when asked for. */
#include "sdpa_internal.h"

#include <string.h>

#define AT(base, s, i0, i1, i2, i3) ((base)[(i0) * (s)[0] + (i1) * (s)[1] + (i2) * (s)[2] + (i3) * (s)[3]])

/* Scores of row (b, h, i) into s[0..Lk): -INFINITY where masked. Returns the row maximum
 * (-INFINITY when nothing may be attended). raw, if not NULL, receives scale·q·k before the
 * softcap (backward needs it). */
static float row_scores(const attn_sdpa_problem *p, int64_t b, int64_t h, int64_t i, float *s,
                        float *raw)
{
    int64_t hk = h / p->group, jlo, jhi;
    sdpa_row_range(p, b, i, &jlo, &jhi);
    float m = -INFINITY;
    for (int64_t j = 0; j < p->Lk; j++) {
        s[j] = -INFINITY;
        if (j < jlo || j >= jhi) continue;
        double dot = 0;
        for (int64_t e = 0; e < p->E; e++)
            dot += (double)AT(p->q, p->qs, b, h, i, e) * AT(p->k, p->ks, b, hk, j, e);
        float x = (float)(dot * p->scale);
        if (raw) raw[j] = x;
        s[j] = sdpa_adjust(p, b, h, i, j, x);
        if (s[j] > m) m = s[j];
    }
    return m;
}

/* softmax of s in place given its max m (finite); returns log Σ exp(s). */
static double row_softmax(int64_t n, float *s, float m)
{
    double sum = 0;
    for (int64_t j = 0; j < n; j++) sum += s[j] == -INFINITY ? 0.0 : exp((double)s[j] - m);
    for (int64_t j = 0; j < n; j++)
        s[j] = s[j] == -INFINITY ? 0.0f : (float)(exp((double)s[j] - m) / sum);
    return m + log(sum);
}

/* Dropout multiplier of weight (b, h, i, j): 0 or 1/(1-p). */
static float keep_scale(const attn_sdpa_problem *p, int64_t b, int64_t h, int64_t i, int64_t j)
{
    if (p->dropout_p == 0) return 1.0f;
    return attn_dropout_keep(p->seed, p->offset, sdpa_dropout_index(p, b, h, i, j), p->dropout_p)
               ? p->dropout_scale
               : 0.0f;
}

int attn_sdpa_ref_forward(const attn_sdpa_problem *p, float *lse, const attn_tensor *weights)
{
    const int64_t rows = p->B * p->Hq * p->Lq;
    int failed = 0;
#pragma omp parallel num_threads(p->threads)
    {
        float *s = malloc((size_t)p->Lk * sizeof *s);
        double *acc = malloc((size_t)p->Ev * sizeof *acc);
        if (!s || !acc) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp barrier
        if (!failed) {
#pragma omp for schedule(static)
            for (int64_t r = 0; r < rows; r++) {
                int64_t i = r % p->Lq, h = (r / p->Lq) % p->Hq, b = r / (p->Lq * p->Hq);
                int64_t hk = h / p->group;
                float m = row_scores(p, b, h, i, s, NULL);
                double l = -INFINITY;
                if (m == -INFINITY) /* nothing to attend: weights 0, output 0 */
                    memset(s, 0, (size_t)p->Lk * sizeof *s);
                else
                    l = row_softmax(p->Lk, s, m);
                if (lse) lse[r] = (float)l;
                if (weights) {
                    const int drop = p->dropout_p > 0 && !p->weights_before_dropout;
                    for (int64_t j = 0; j < p->Lk; j++)
                        AT(weights->data, weights->stride, b, h, i, j) =
                            drop ? s[j] * keep_scale(p, b, h, i, j) : s[j];
                }
                for (int64_t e = 0; e < p->Ev; e++) acc[e] = 0;
                for (int64_t j = 0; j < p->Lk; j++) {
                    if (s[j] == 0.0f) continue;
                    double w = (double)s[j] * keep_scale(p, b, h, i, j);
                    for (int64_t e = 0; e < p->Ev; e++) acc[e] += w * AT(p->v, p->vs, b, hk, j, e);
                }
                for (int64_t e = 0; e < p->Ev; e++) AT(p->o, p->os, b, h, i, e) = (float)acc[e];
            }
        }
        free(s);
        free(acc);
    }
    if (failed) return attn_fail(ATTN_E_NOMEM, "attn_sdpa_forward: out of memory for row scratch");
    return ATTN_OK;
}

/* Backward of one row, given P (s) and the raw scores. With Z = dropout(P):
 *   dZ_j = dO·v_j          dV_j += Z_j dO
 *   dP_j = dZ_j·keep_j     dS_j = P_j (dP_j − Σ_l P_l dP_l)
 *   through the softcap:   dRaw_j = dS_j (1 − tanh²(raw_j / c))
 *   dQ_i = scale Σ_j dRaw_j k_j      dK_j += scale dRaw_j q_i
 * dS (the gradient of the score after bias) is also ∂loss/∂bias. */
int attn_sdpa_ref_backward(const attn_sdpa_problem *p, const attn_tensor *dout,
                           const attn_tensor *dq, const attn_tensor *dk, const attn_tensor *dv,
                           const attn_tensor *dbias)
{
    const int64_t Lk = p->Lk, E = p->E, Ev = p->Ev;
    const int64_t units = p->B * p->Hkv; /* one (b, kv head): its dK, dV rows are private */
    /* dbias broadcast over batch or heads would be shared by units: then run serially */
    int threads = p->threads;
    if (dbias) {
        for (int64_t a = 0; a < dbias->shape[0]; a++)
            for (int64_t h = 0; h < dbias->shape[1]; h++)
                for (int64_t i = 0; i < dbias->shape[2]; i++)
                    for (int64_t j = 0; j < dbias->shape[3]; j++)
                        AT(dbias->data, dbias->stride, a, h, i, j) = 0;
        if (p->bias_shape[0] == 1 || p->bias_shape[1] < p->Hq) threads = 1;
    }
    int failed = 0;
#pragma omp parallel num_threads(threads)
    {
        float *s = malloc((size_t)Lk * sizeof *s);
        float *raw = malloc((size_t)Lk * sizeof *raw);
        double *ds = malloc((size_t)Lk * sizeof *ds);
        double *dkacc = malloc((size_t)(Lk * E) * sizeof *dkacc);
        double *dvacc = malloc((size_t)(Lk * Ev) * sizeof *dvacc);
        double *dqacc = malloc((size_t)E * sizeof *dqacc);
        if (!s || !raw || !ds || !dkacc || !dvacc || !dqacc) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp barrier
        if (!failed) {
#pragma omp for schedule(static)
            for (int64_t u = 0; u < units; u++) {
                int64_t b = u / p->Hkv, hk = u % p->Hkv;
                memset(dkacc, 0, (size_t)(Lk * E) * sizeof *dkacc);
                memset(dvacc, 0, (size_t)(Lk * Ev) * sizeof *dvacc);
                for (int64_t h = hk * p->group; h < (hk + 1) * p->group; h++) {
                    for (int64_t i = 0; i < p->Lq; i++) {
                        float m = row_scores(p, b, h, i, s, raw);
                        for (int64_t e = 0; e < E; e++) dqacc[e] = 0;
                        if (m != -INFINITY) {
                            row_softmax(Lk, s, m);
                            double dot = 0; /* Σ_l P_l dP_l */
                            for (int64_t j = 0; j < Lk; j++) {
                                ds[j] = 0;
                                if (s[j] == 0.0f) continue;
                                float ks = keep_scale(p, b, h, i, j);
                                double dz = 0;
                                for (int64_t e = 0; e < Ev; e++)
                                    dz += (double)AT(dout->data, dout->stride, b, h, i, e) *
                                          AT(p->v, p->vs, b, hk, j, e);
                                double z = (double)s[j] * ks;
                                for (int64_t e = 0; e < Ev; e++)
                                    dvacc[j * Ev + e] += z * AT(dout->data, dout->stride, b, h, i, e);
                                ds[j] = dz * ks; /* dP_j for now */
                                dot += s[j] * ds[j];
                            }
                            for (int64_t j = 0; j < Lk; j++) {
                                if (s[j] == 0.0f) continue;
                                double g = s[j] * (ds[j] - dot);
                                if (dbias)
                                    AT(dbias->data, dbias->stride, p->bias_shape[0] == 1 ? 0 : b,
                                       p->bias_shape[1] == 1 ? 0 : h, p->bias_shape[2] == 1 ? 0 : i,
                                       p->bias_shape[3] == 1 ? 0 : j) += (float)g;
                                if (p->softcap > 0) {
                                    double t = tanh((double)raw[j] / p->softcap);
                                    g *= 1 - t * t;
                                }
                                g *= p->scale;
                                for (int64_t e = 0; e < E; e++) {
                                    dqacc[e] += g * AT(p->k, p->ks, b, hk, j, e);
                                    dkacc[j * E + e] += g * AT(p->q, p->qs, b, h, i, e);
                                }
                            }
                        }
                        for (int64_t e = 0; e < E; e++)
                            AT(dq->data, dq->stride, b, h, i, e) = (float)dqacc[e];
                    }
                }
                for (int64_t j = 0; j < Lk; j++) {
                    for (int64_t e = 0; e < E; e++)
                        AT(dk->data, dk->stride, b, hk, j, e) = (float)dkacc[j * E + e];
                    for (int64_t e = 0; e < Ev; e++)
                        AT(dv->data, dv->stride, b, hk, j, e) = (float)dvacc[j * Ev + e];
                }
            }
        }
        free(s), free(raw), free(ds), free(dkacc), free(dvacc), free(dqacc);
    }
    if (failed) return attn_fail(ATTN_E_NOMEM, "attn_sdpa_backward: out of memory for scratch");
    return ATTN_OK;
}
