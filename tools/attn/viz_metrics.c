/* viz_metrics.c — attention rollout and per-head numbers: entropy, attended distance,
 * alignment accuracy. */
#include "viz_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- rollout ------------------------------------------------------------------------------ */

/* Â = rownorm(mean_h A_h + I) for one layer, into a [n, n]. */
static int layer_matrix(const viz_record *r, viz_kind kind, int layer, int heads, double *a)
{
    int n = r->n_src;
    memset(a, 0, (size_t)n * n * sizeof *a);
    for (int h = 0; h < heads; h++) {
        int m = viz_record_find(r, kind, layer, h);
        if (m < 0)
            return viz_fail(ATTN_E_ARG, "viz_rollout: %s layer %d has no head %d (rollout needs "
                                        "every head of every layer)", viz_kind_name(kind), layer, h);
        const float *w = r->maps[m].w;
        for (size_t k = 0; k < (size_t)n * n; k++) a[k] += (double)w[k] / heads;
    }
    for (int i = 0; i < n; i++) {
        double *row = a + (size_t)i * n, s = 0;
        row[i] += 1.0;
        for (int j = 0; j < n; j++) s += row[j];
        for (int j = 0; j < n; j++) row[j] /= s; /* s >= 1: the identity keeps it positive */
    }
    return 0;
}

int viz_rollout(const viz_record *r, viz_kind kind, double *out)
{
    if (!r || !out) return viz_fail(ATTN_E_ARG, "viz_rollout: NULL argument");
    if (kind != VIZ_ENC_SELF && kind != VIZ_CLS_SELF)
        return viz_fail(ATTN_E_ARG, "viz_rollout: %s is not encoder or classifier self-attention",
                        viz_kind_name(kind));
    int layers = viz_record_layers(r, kind), heads = viz_record_heads(r, kind), n = r->n_src;
    if (layers == 0 || n == 0)
        return viz_fail(ATTN_E_ARG, "viz_rollout: the record has no %s maps", viz_kind_name(kind));
    size_t nn = (size_t)n * n;
    double *a = malloc(nn * sizeof *a), *t = malloc(nn * sizeof *t);
    if (!a || !t) {
        free(a);
        free(t);
        return viz_fail(ATTN_E_NOMEM, "viz_rollout: n=%d", n);
    }
    int st = layer_matrix(r, kind, 0, heads, out);
    for (int l = 1; !st && l < layers; l++) {
        /* R ← Â_l · R: the later layer mixes what the earlier layers already mixed. */
        if ((st = layer_matrix(r, kind, l, heads, a))) break;
        memset(t, 0, nn * sizeof *t);
        for (int i = 0; i < n; i++) /* i-k-j order: both inner streams are contiguous */
            for (int k = 0; k < n; k++) {
                double aik = a[(size_t)i * n + k];
                const double *ok = out + (size_t)k * n;
                double *ti = t + (size_t)i * n;
                for (int j = 0; j < n; j++) ti[j] += aik * ok[j];
            }
        memcpy(out, t, nn * sizeof *t);
    }
    free(a);
    free(t);
    return st;
}

int viz_rollout_scores(const viz_record *r, viz_kind kind, int pool, double *score)
{
    if (!r || !score) return viz_fail(ATTN_E_ARG, "viz_rollout_scores: NULL argument");
    int n = r->n_src;
    if (pool != VIZ_POOL_MEAN && (pool < 0 || pool >= n))
        return viz_fail(ATTN_E_ARG, "viz_rollout_scores: pool=%d not a position in [0, %d) nor "
                                    "VIZ_POOL_MEAN", pool, n);
    double *mat = n ? malloc((size_t)n * n * sizeof *mat) : NULL;
    if (n && !mat) return viz_fail(ATTN_E_NOMEM, "viz_rollout_scores");
    int st = viz_rollout(r, kind, mat);
    if (!st) {
        for (int j = 0; j < n; j++) {
            if (pool != VIZ_POOL_MEAN) {
                score[j] = mat[(size_t)pool * n + j];
                continue;
            }
            double s = 0;
            for (int i = 0; i < n; i++) s += mat[(size_t)i * n + j];
            score[j] = s / n;
        }
    }
    free(mat);
    return st;
}

/* ---- metrics ------------------------------------------------------------------------------ */

static void head_metrics(const viz_record *r, const viz_map *m, viz_head_metrics *out)
{
    double ent = 0, dist = 0;
    int self = viz_kind_is_self(m->kind);
    for (int i = 0; i < m->rows; i++) {
        const float *w = m->w + (size_t)i * m->cols;
        double s = 0, e = 0, d = 0;
        for (int j = 0; j < m->cols; j++) s += w[j];
        if (s <= 0) continue; /* a row that attends nowhere: entropy 0, distance 0 */
        for (int j = 0; j < m->cols; j++) {
            double p = w[j] / s;
            if (p > 0) e -= p * log(p);
            d += p * abs(i - j);
        }
        ent += e;
        dist += d;
    }
    *out = (viz_head_metrics){m->kind, m->layer, m->head, ent / m->rows,
                              self ? dist / m->rows : NAN, NAN, 0};
    if (m->kind != VIZ_CROSS || !r->align) return;
    int hit = 0, n = 0;
    for (int t = 0; t < m->rows; t++) {
        viz_span sp = r->align[t];
        if (sp.lo >= sp.hi) continue;
        const float *w = m->w + (size_t)t * m->cols;
        int arg = 0;
        for (int j = 1; j < m->cols; j++)
            if (w[j] > w[arg]) arg = j; /* first maximum on ties */
        n++;
        hit += arg >= sp.lo && arg < sp.hi;
    }
    out->n_aligned = n;
    out->align_acc = n ? (double)hit / n : NAN;
}

int viz_metrics_compute(const viz_record *r, viz_head_metrics *out)
{
    if (!r || !out) return viz_fail(ATTN_E_ARG, "viz_metrics_compute: NULL argument");
    for (int m = 0; m < r->n_maps; m++) head_metrics(r, &r->maps[m], &out[m]);
    return 0;
}

int viz_metrics_best_alignment(const viz_head_metrics *m, int n)
{
    int best = -1;
    for (int i = 0; m && i < n; i++) {
        if (isnan(m[i].align_acc)) continue;
        if (best < 0 || m[i].align_acc > m[best].align_acc ||
            (m[i].align_acc == m[best].align_acc &&
             (m[i].layer < m[best].layer ||
              (m[i].layer == m[best].layer && m[i].head < m[best].head))))
            best = i;
    }
    return best;
}

int viz_metrics_print(FILE *f, const viz_record *r)
{
    if (!f || !r) return viz_fail(ATTN_E_ARG, "viz_metrics_print: NULL argument");
    viz_head_metrics *hm = calloc((size_t)r->n_maps + 1, sizeof *hm);
    if (!hm) return viz_fail(ATTN_E_NOMEM, "viz_metrics_print");
    viz_metrics_compute(r, hm);
    fprintf(f, "%-16s %5s %4s %12s %10s %10s\n", "kind", "layer", "head", "entropy/nat",
            "distance", "align_acc");
    for (int m = 0; m < r->n_maps; m++) {
        char dist[32] = "-", acc[32] = "-";
        if (!isnan(hm[m].distance)) snprintf(dist, sizeof dist, "%.4f", hm[m].distance);
        if (!isnan(hm[m].align_acc))
            snprintf(acc, sizeof acc, "%.4f", hm[m].align_acc);
        fprintf(f, "%-16s %5d %4d %12.4f %10s %10s\n", viz_kind_name(hm[m].kind), hm[m].layer,
                hm[m].head, hm[m].entropy, dist, acc);
    }
    int best = viz_metrics_best_alignment(hm, r->n_maps);
    if (best >= 0)
        fprintf(f, "best aligned head: %s layer %d head %d (accuracy %.4f over %d tokens)\n",
                viz_kind_name(hm[best].kind), hm[best].layer, hm[best].head, hm[best].align_acc,
                hm[best].n_aligned);
    else if (r->align)
        fprintf(f, "best aligned head: none (no cross-attention maps)\n");
    free(hm);
    return 0;
}
