/* metrics.c — per-head measures of attention maps (entropy, attended distance, alignment
 * accuracy) and attention rollout (attn/analysis.h). Sums in double. */
#include "internal.h"
#include "attn/analysis.h"

#include <stdio.h>
#include <string.h>

/* w [H, L, S] present, sizes ≥ 1, every weight finite and ≥ 0. */
static int check_maps(const char *fn, const float *w, int64_t H, int64_t L, int64_t S,
                      const void *out)
{
    ATTN_REQUIRE_NONNULL(fn, w);
    ATTN_REQUIRE_NONNULL(fn, out);
    if (H < 1 || L < 1 || S < 1 || H > INT32_MAX || L > INT32_MAX || S > INT32_MAX)
        return attn_fail(ATTN_E_ARG, "%s: H=%lld L=%lld S=%lld (each in [1, 2^31))", fn,
                         (long long)H, (long long)L, (long long)S);
    const size_t n = (size_t)H * (size_t)L * (size_t)S;
    for (size_t k = 0; k < n; k++)
        if (!isfinite(w[k]) || w[k] < 0)
            return attn_fail(ATTN_E_ARG, "%s: weight [%zu, %zu, %zu] = %g (finite and ≥ 0 wanted)",
                             fn, k / ((size_t)L * (size_t)S), k / (size_t)S % (size_t)L,
                             k % (size_t)S, (double)w[k]);
    return ATTN_OK;
}

/* Means over the rows of one head [L, S] of the entropy and of the attended distance. */
static void head_means(const float *w, int64_t L, int64_t S, double *ent, double *dist)
{
    double e_sum = 0, d_sum = 0;
    for (int64_t i = 0; i < L; i++) {
        const float *row = w + i * S;
        double s = 0, e = 0, d = 0;
        for (int64_t j = 0; j < S; j++) s += row[j];
        if (s <= 0) continue; /* a row that attends nowhere: entropy 0, distance 0 */
        for (int64_t j = 0; j < S; j++) {
            double p = row[j] / s;
            if (p > 0) e -= p * log(p);
            d += p * (double)(i > j ? i - j : j - i);
        }
        e_sum += e;
        d_sum += d;
    }
    *ent = e_sum / (double)L;
    *dist = d_sum / (double)L;
}

int attn_attention_entropy(const float *w, int64_t H, int64_t L, int64_t S, double *out)
{
    ATTN_TRY(check_maps("attn_attention_entropy", w, H, L, S, out));
    double dist;
    for (int64_t h = 0; h < H; h++) head_means(w + h * L * S, L, S, &out[h], &dist);
    return ATTN_OK;
}

int attn_attention_distance(const float *w, int64_t H, int64_t L, int64_t S, double *out)
{
    ATTN_TRY(check_maps("attn_attention_distance", w, H, L, S, out));
    double ent;
    for (int64_t h = 0; h < H; h++) head_means(w + h * L * S, L, S, &ent, &out[h]);
    return ATTN_OK;
}

int attn_attention_alignment(const float *w, int64_t H, int64_t L, int64_t S, const attn_span *gold,
                             double *acc, int64_t *n_aligned)
{
    const char *fn = "attn_attention_alignment";
    ATTN_TRY(check_maps(fn, w, H, L, S, acc));
    ATTN_REQUIRE_NONNULL(fn, gold);
    int64_t n = 0;
    for (int64_t i = 0; i < L; i++) {
        if (gold[i].lo < 0 || gold[i].lo > gold[i].hi || gold[i].hi > S)
            return attn_fail(ATTN_E_ARG, "%s: gold[%lld] = [%lld, %lld) not within [0, %lld]", fn,
                             (long long)i, (long long)gold[i].lo, (long long)gold[i].hi,
                             (long long)S);
        n += gold[i].lo < gold[i].hi;
    }
    for (int64_t h = 0; h < H; h++) {
        int64_t hit = 0;
        for (int64_t i = 0; i < L; i++) {
            if (gold[i].lo >= gold[i].hi) continue;
            const float *row = w + (h * L + i) * S;
            int64_t arg = 0;
            for (int64_t j = 1; j < S; j++)
                if (row[j] > row[arg]) arg = j; /* the first maximum on ties */
            hit += arg >= gold[i].lo && arg < gold[i].hi;
        }
        acc[h] = n ? (double)hit / (double)n : NAN;
    }
    if (n_aligned) *n_aligned = n;
    return ATTN_OK;
}

/* ---- rollout --------------------------------------------------------------------------------- */

/* Â = rownorm(mean_h A_h + I) of one layer into a [n, n]. */
static void layer_matrix(const float *const *heads, int64_t H, int64_t n, double *a)
{
    const size_t nn = (size_t)n * (size_t)n;
    memset(a, 0, nn * sizeof *a);
    for (int64_t h = 0; h < H; h++)
        for (size_t k = 0; k < nn; k++) a[k] += (double)heads[h][k] / (double)H;
    for (int64_t i = 0; i < n; i++) {
        double *row = a + i * n, s = 0;
        row[i] += 1.0;
        for (int64_t j = 0; j < n; j++) s += row[j];
        for (int64_t j = 0; j < n; j++) row[j] /= s; /* s ≥ 1: the identity keeps it positive */
    }
}

int attn_attention_rollout(const float *const *maps, int64_t n_layers, int64_t H, int64_t n,
                           double *out)
{
    const char *fn = "attn_attention_rollout";
    ATTN_REQUIRE_NONNULL(fn, maps);
    ATTN_REQUIRE_NONNULL(fn, out);
    if (n_layers < 1 || n_layers > ATTN_MAX_LAYERS || H < 1 || H > 4096 || n < 1 || n > 65536)
        return attn_fail(ATTN_E_ARG, "%s: n_layers=%lld H=%lld n=%lld (1..%d, 1..4096, 1..65536)",
                         fn, (long long)n_layers, (long long)H, (long long)n, ATTN_MAX_LAYERS);
    for (int64_t k = 0; k < n_layers * H; k++) {
        if (!maps[k])
            return attn_fail(ATTN_E_ARG, "%s: layer %lld has no head %lld (rollout needs every "
                             "head of every layer)", fn, (long long)(k / H), (long long)(k % H));
        char what[64];
        snprintf(what, sizeof what, "%s (layer %lld head %lld)", fn, (long long)(k / H),
                 (long long)(k % H));
        ATTN_TRY(check_maps(what, maps[k], 1, n, n, out));
    }
    const size_t nn = (size_t)n * (size_t)n;
    double *a = malloc(nn * sizeof *a), *t = malloc(nn * sizeof *t);
    if (!a || !t) {
        free(a);
        free(t);
        return attn_fail(ATTN_E_NOMEM, "%s: n=%lld", fn, (long long)n);
    }
    layer_matrix(maps, H, n, out);
    for (int64_t l = 1; l < n_layers; l++) {
        /* R ← Â_l · R: the later layer mixes what the earlier layers already mixed. */
        layer_matrix(maps + l * H, H, n, a);
        memset(t, 0, nn * sizeof *t);
        for (int64_t i = 0; i < n; i++) /* i-k-j order: both inner streams are contiguous */
            for (int64_t k = 0; k < n; k++) {
                const double aik = a[i * n + k], *rk = out + k * n;
                double *ti = t + i * n;
                for (int64_t j = 0; j < n; j++) ti[j] += aik * rk[j];
            }
        memcpy(out, t, nn * sizeof *t);
    }
    free(a);
    free(t);
    return ATTN_OK;
}

int attn_attention_rollout_scores(const double *rollout, int64_t n, int64_t pool, double *score)
{
    const char *fn = "attn_attention_rollout_scores";
    ATTN_REQUIRE_NONNULL(fn, rollout);
    ATTN_REQUIRE_NONNULL(fn, score);
    if (n < 1) return attn_fail(ATTN_E_ARG, "%s: n=%lld", fn, (long long)n);
    if (pool != ATTN_ROLLOUT_MEAN && (pool < 0 || pool >= n))
        return attn_fail(ATTN_E_ARG, "%s: pool=%lld not a position in [0, %lld) nor "
                         "ATTN_ROLLOUT_MEAN", fn, (long long)pool, (long long)n);
    for (int64_t j = 0; j < n; j++) {
        if (pool != ATTN_ROLLOUT_MEAN) {
            score[j] = rollout[pool * n + j];
            continue;
        }
        double s = 0;
        for (int64_t i = 0; i < n; i++) s += rollout[i * n + j];
        score[j] = s / (double)n;
    }
    return ATTN_OK;
}
