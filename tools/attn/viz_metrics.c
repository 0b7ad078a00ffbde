/* viz_metrics.c — a record's rollout and per-head numbers (entropy, attended distance, alignment
 * accuracy) through libattn's analysis functions, and the table `attn viz --metrics` prints. */
#include "viz_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- rollout ------------------------------------------------------------------------------ */

int viz_rollout(const viz_record *r, viz_kind kind, double *out)
{
    if (!r || !out) return viz_fail(ATTN_E_ARG, "viz_rollout: NULL argument");
    if (kind != VIZ_ENC_SELF && kind != VIZ_CLS_SELF)
        return viz_fail(ATTN_E_ARG, "viz_rollout: %s is not encoder or classifier self-attention",
                        viz_kind_name(kind));
    int layers = viz_record_layers(r, kind), heads = viz_record_heads(r, kind), n = r->n_src;
    if (layers == 0 || n == 0)
        return viz_fail(ATTN_E_ARG, "viz_rollout: the record has no %s maps", viz_kind_name(kind));
    const float **maps = malloc((size_t)layers * heads * sizeof *maps);
    if (!maps) return viz_fail(ATTN_E_NOMEM, "viz_rollout: %d layers", layers);
    for (int l = 0; l < layers; l++) /* a missing head stays NULL: the library names it */
        for (int h = 0; h < heads; h++) {
            int m = viz_record_find(r, kind, l, h);
            maps[l * heads + h] = m < 0 ? NULL : r->maps[m].w;
        }
    int st = attn_attention_rollout(maps, layers, heads, n, out);
    free(maps);
    return st ? viz_fail(st, "viz_rollout: %s: %s", viz_kind_name(kind), attn_last_error()) : 0;
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
    if (!st && attn_attention_rollout_scores(mat, n, pool, score))
        st = viz_fail(ATTN_E_ARG, "viz_rollout_scores: %s", attn_last_error());
    free(mat);
    return st;
}

/* ---- metrics (computed by libattn, attn/analysis.h) ----------------------------------------- */

static int head_metrics(const viz_record *r, const viz_map *m, viz_head_metrics *out)
{
    *out = (viz_head_metrics){m->kind, m->layer, m->head, NAN, NAN, NAN, 0};
    double dist = NAN;
    if (attn_attention_entropy(m->w, 1, m->rows, m->cols, &out->entropy) ||
        (viz_kind_is_self(m->kind) && attn_attention_distance(m->w, 1, m->rows, m->cols, &dist)))
        return viz_fail(ATTN_E_ARG, "viz_metrics_compute: %s", attn_last_error());
    out->distance = dist;
    if (m->kind != VIZ_CROSS || !r->align) return 0;
    attn_span *gold = malloc((size_t)m->rows * sizeof *gold);
    if (!gold) return viz_fail(ATTN_E_NOMEM, "viz_metrics_compute");
    for (int t = 0; t < m->rows; t++) gold[t] = (attn_span){r->align[t].lo, r->align[t].hi};
    int64_t n = 0;
    int st = attn_attention_alignment(m->w, 1, m->rows, m->cols, gold, &out->align_acc, &n);
    free(gold);
    out->n_aligned = (int)n;
    return st ? viz_fail(ATTN_E_ARG, "viz_metrics_compute: %s", attn_last_error()) : 0;
}

int viz_metrics_compute(const viz_record *r, viz_head_metrics *out)
{
    if (!r || !out) return viz_fail(ATTN_E_ARG, "viz_metrics_compute: NULL argument");
    for (int m = 0; m < r->n_maps; m++) {
        int st = head_metrics(r, &r->maps[m], &out[m]);
        if (st) return st;
    }
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
    if (viz_metrics_compute(r, hm)) {
        free(hm);
        return ATTN_E_ARG;
    }
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
