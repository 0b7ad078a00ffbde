/* view_synthetic.c — a date example with made-up attention of known patterns
 * (attn_attention_view_synthetic, attn/analysis.h): what `attn viz --synthetic` draws, a view to
 * test a viewer with when no model is at hand. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* Softmax of one row of logits into w. */
static void softmax_row(const double *z, int n, float *w)
{
    double mx = -INFINITY, s = 0;
    for (int j = 0; j < n; j++) mx = z[j] > mx ? z[j] : mx;
    for (int j = 0; j < n; j++) s += exp(z[j] - mx);
    for (int j = 0; j < n; j++) w[j] = (float)(exp(z[j] - mx) / s);
}

/* A made-up head with a known pattern: logits = noise + 4 on the pattern's cells. Patterns:
 * 0 diagonal, 1 previous token, 2 next token, 3 first token, 4 the aligned span (cross),
 * 5 noise only. Causal rows see only j <= i. */
static int synthetic_map(attn_attention_view *r, attn_attention_kind kind, int layer, int head, int pattern,
                         const attn_span *spans, uint64_t seed)
{
    int rows, cols;
    attn_attention_view_dims(r, kind, &rows, &cols);
    float *w = malloc((size_t)rows * cols * sizeof *w);
    double *z = malloc((size_t)cols * sizeof *z);
    if (!w || !z) {
        free(w);
        free(z);
        return attn_fail(ATTN_E_NOMEM, "attn_attention_view_synthetic");
    }
    uint64_t stream = 7000 + (uint64_t)kind * 10000 + (uint64_t)layer * 100 + (uint64_t)head;
    for (int i = 0; i < rows; i++) {
        for (int j = 0; j < cols; j++) {
            double z0 = 1.5 * attn_philox_uniform(seed, stream, (uint64_t)(i * cols + j));
            int on = pattern == 0 ? j == i
                   : pattern == 1 ? j == (i > 0 ? i - 1 : 0)
                   : pattern == 2 ? j == (i + 1 < cols ? i + 1 : i)
                   : pattern == 3 ? j == 0
                   : pattern == 4 ? spans[i].lo < spans[i].hi && j >= spans[i].lo && j < spans[i].hi
                                  : 0;
            z[j] = z0 + (on ? 4.0 : 0.0);
            if (kind == ATTN_ATTENTION_DECODER_SELF && j > i) z[j] = -INFINITY;
        }
        softmax_row(z, cols, w + (size_t)i * cols);
    }
    int st = attn_attention_view_add_map(r, kind, layer, head, w, rows, cols);
    free(w);
    free(z);
    return st;
}

int attn_attention_view_synthetic(uint64_t seed, attn_attention_view **out)
{
    ATTN_REQUIRE_NONNULL("attn_attention_view_synthetic", out);
    *out = NULL;
    attn_dates_example ex;
    attn_dates_generate(seed, 0, &ex);
    attn_attention_view *r;
    int st = attn_attention_view_from_dates(&ex, &r);
    if (st) return st;
    char title[160]; /* say plainly that these weights are made up */
    snprintf(title, sizeof title, "synthetic weights: %s", r->title);
    st = attn_attention_view_set_title(r, title);
    static const int enc_pat[4] = {0, 1, 2, 3}, dec_pat[2] = {0, 1},
                     cross_pat[2][4] = {{5, 0, 5, 3}, {5, 5, 4, 0}};
    for (int l = 0; !st && l < 2; l++) {
        for (int h = 0; !st && h < 4; h++)
            st = synthetic_map(r, ATTN_ATTENTION_ENCODER_SELF, l, h, enc_pat[(h + l) % 4], r->align, seed);
        for (int h = 0; !st && h < 2; h++)
            st = synthetic_map(r, ATTN_ATTENTION_DECODER_SELF, l, h, dec_pat[h], r->align, seed);
        for (int h = 0; !st && h < 4; h++)
            st = synthetic_map(r, ATTN_ATTENTION_CROSS, l, h, cross_pat[l][h], r->align, seed);
    }
    if (st) {
        attn_attention_view_free(r);
        return st;
    }
    *out = r;
    return ATTN_OK;
}
