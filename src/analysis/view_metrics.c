/* view_metrics.c — a view's rollout and per-head measures (attn/analysis.h), by kind, through
 * the measures of metrics.c. */
#include "internal.h"
#include "attn/analysis.h"

#include <stdio.h>
#include <string.h>

int attn_attention_view_rollout(const attn_attention_view *v, attn_attention_kind kind, double *out)
{
    static const char fn[] = "attn_attention_view_rollout";
    ATTN_REQUIRE_NONNULL(fn, v);
    ATTN_REQUIRE_NONNULL(fn, out);
    const char *kn = attn_attention_kind_name(kind);
    if (kind != ATTN_ATTENTION_ENCODER_SELF && kind != ATTN_ATTENTION_CLASSIFIER_SELF)
        return attn_fail(ATTN_E_ARG, "%s: %s is not encoder or classifier self-attention", fn, kn);
    const int layers = attn_attention_view_layers(v, kind), heads = attn_attention_view_heads(v, kind), n = v->n_src;
    if (layers == 0 || n == 0) return attn_fail(ATTN_E_ARG, "%s: the view has no %s maps", fn, kn);
    const float **maps = malloc((size_t)layers * heads * sizeof *maps);
    if (!maps) return attn_fail(ATTN_E_NOMEM, "%s: %d layers", fn, layers);
    for (int l = 0; l < layers; l++) /* a missing head stays NULL: attn_attention_rollout names it */
        for (int h = 0; h < heads; h++) {
            const int m = attn_attention_view_find(v, kind, l, h);
            maps[l * heads + h] = m < 0 ? NULL : v->maps[m].w;
        }
    const int st = attn_attention_rollout(maps, layers, heads, n, out);
    free(maps);
    if (st) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", attn_last_error());
        return attn_fail(st, "%s: %s: %s", fn, kn, msg);
    }
    return ATTN_OK;
}

int attn_attention_view_rollout_scores(const attn_attention_view *v, attn_attention_kind kind, int pool,
                                       double *score)
{
    static const char fn[] = "attn_attention_view_rollout_scores";
    ATTN_REQUIRE_NONNULL(fn, v);
    ATTN_REQUIRE_NONNULL(fn, score);
    const int n = v->n_src;
    if (pool != ATTN_ROLLOUT_MEAN && (pool < 0 || pool >= n))
        return attn_fail(ATTN_E_ARG, "%s: pool=%d not a position in [0, %d) nor ATTN_ROLLOUT_MEAN", fn, pool, n);
    double *mat = malloc((size_t)n * n * sizeof *mat + 1);
    if (!mat) return attn_fail(ATTN_E_NOMEM, "%s", fn);
    int st = attn_attention_view_rollout(v, kind, mat);
    if (!st) st = attn_attention_rollout_scores(mat, n, pool, score);
    free(mat);
    return st;
}

static int head_metrics(const attn_attention_view *v, const attn_attention_head *m, attn_attention_head_metrics *out)
{
    static const char fn[] = "attn_attention_view_metrics";
    *out = (attn_attention_head_metrics){m->kind, m->layer, m->head, NAN, NAN, NAN, 0};
    double dist = NAN;
    if (attn_attention_entropy(m->w, 1, m->rows, m->cols, &out->entropy) ||
        (attn_attention_kind_is_self(m->kind) && attn_attention_distance(m->w, 1, m->rows, m->cols, &dist))) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", attn_last_error());
        return attn_fail(ATTN_E_ARG, "%s: %s", fn, msg);
    }
    out->distance = dist;
    if (m->kind != ATTN_ATTENTION_CROSS || !v->align) return ATTN_OK;
    int64_t n = 0;
    ATTN_TRY(attn_attention_alignment(m->w, 1, m->rows, m->cols, v->align, &out->align_acc, &n));
    out->n_aligned = (int)n;
    return ATTN_OK;
}

int attn_attention_view_metrics(const attn_attention_view *v, attn_attention_head_metrics *out)
{
    ATTN_REQUIRE_NONNULL("attn_attention_view_metrics", v);
    ATTN_REQUIRE_NONNULL("attn_attention_view_metrics", out);
    for (int m = 0; m < v->n_maps; m++) ATTN_TRY(head_metrics(v, &v->maps[m], &out[m]));
    return ATTN_OK;
}

int attn_attention_best_alignment(const attn_attention_head_metrics *m, int n)
{
    int best = -1;
    for (int i = 0; m && i < n; i++) {
        if (isnan(m[i].align_acc)) continue;
        if (best < 0 || m[i].align_acc > m[best].align_acc ||
            (m[i].align_acc == m[best].align_acc &&
             (m[i].layer < m[best].layer || (m[i].layer == m[best].layer && m[i].head < m[best].head))))
            best = i;
    }
    return best;
}
