/* viz_cli.c — `attn viz`: render attention from a JSON file, a synthetic record, or (when the
 * model code is linked in) a model. */
#include "args.h"
#include "viz_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *viz_json, *viz_out, *viz_pool = "mean";
static int viz_synthetic, viz_metrics;
static int64_t viz_seed;
static const arg_opt viz_opts[] = {
    {"from-json", 'j', ARG_STR, &viz_json, .meta = "FILE", .help = "re-render everything from an attention.json"},
    {"synthetic", 0, ARG_FLAG, &viz_synthetic,
     .help = "a date-task example with made-up attention (no model needed)"},
    {"seed", 0, ARG_I64, &viz_seed, .lo = 0, .hi = ARGS_INF, .help = "seed of --synthetic"},
    {"out", 'o', ARG_STR, &viz_out, .meta = "DIR",
     .help = "write attention.html, attention.json, PNG/SVG heatmaps, grids, rollout pictures and "
             "index.json into DIR (default viz-out)"},
    {"metrics", 0, ARG_FLAG, &viz_metrics,
     .help = "print per-head entropy, attended distance, alignment accuracy"},
    {"pool", 0, ARG_STR, &viz_pool, .meta = "N|mean",
     .help = "position whose rollout row scores the tokens"},
    {0}};
static const arg_spec viz_spec = {
    .cmd = "viz",
    .synopsis = "--from-json FILE | --synthetic | --model M  [options]",
    .about = "See what a model attends to: heatmaps of every head, attention.html, and per-head\n"
             "metrics. With --model M the options are the model's (`attn viz --model M --help`).",
    .opts = viz_opts,
};

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
        return attn_set_error(ATTN_E_NOMEM, "synthetic record");
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

int viz_record_from_dates(const attn_dates_example *ex, attn_attention_view **out)
{
    if (!ex || !out) return attn_set_error(ATTN_E_ARG, "viz_record_from_dates: NULL argument");
    *out = NULL;
    int ns = (int)strnlen(ex->src, ATTN_DATES_SRC_MAX), nt = ATTN_DATES_TGT_LEN;
    if (ns == ATTN_DATES_SRC_MAX)
        return attn_set_error(ATTN_E_ARG, "viz_record_from_dates: source not NUL-terminated");
    char sbuf[ATTN_DATES_SRC_MAX][2], tbuf[ATTN_DATES_TGT_LEN][2];
    const char *src[ATTN_DATES_SRC_MAX], *tgt[ATTN_DATES_TGT_LEN];
    for (int i = 0; i < ns; i++) {
        sbuf[i][0] = ex->src[i];
        sbuf[i][1] = 0;
        src[i] = sbuf[i];
    }
    attn_span spans[ATTN_DATES_TGT_LEN];
    for (int t = 0; t < nt; t++) {
        tbuf[t][0] = ex->tgt[t];
        tbuf[t][1] = 0;
        tgt[t] = tbuf[t];
        spans[t] = (attn_span){ex->align_lo[t], ex->align_hi[t]};
    }
    char title[96];
    snprintf(title, sizeof title, "\"%s\" → %.10s", ex->src, ex->tgt);
    attn_attention_view *r;
    int st = attn_attention_view_create(&r, title, src, ns, tgt, nt);
    if (st) return st;
    if ((st = attn_attention_view_set_alignment(r, spans))) {
        attn_attention_view_free(r);
        return st;
    }
    *out = r;
    return 0;
}

/* One date example with heads of each kind following known patterns: encoder 2 layers × 4
 * heads, decoder 2 × 2, cross 2 × 4 where layer 1 head 2 follows the gold alignment. */
static int synthetic_record(uint64_t seed, attn_attention_view **out)
{
    attn_dates_example ex;
    attn_dates_generate(seed, 0, &ex);
    attn_attention_view *r;
    int st = viz_record_from_dates(&ex, &r);
    if (st) return st;
    char *title = malloc(strlen(r->title) + 32);
    if (title) { /* say plainly that these weights are made up */
        sprintf(title, "synthetic weights: %s", r->title);
        free(r->title);
        r->title = title;
    }
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
    return 0;
}

static int viz_main(int argc, char **argv)
{
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--")) break;
        if (!strcmp(argv[a], "--model") || !strncmp(argv[a], "--model=", 8)) {
            if (viz_run_model) return viz_run_model(argc, argv);
            return args_usage_error(&viz_spec, "model-driven visualisation is not built into this "
                                               "attn (no viz_run_model); use --from-json FILE or --synthetic");
        }
    }
    ARGS_PARSE_OR_RETURN(&viz_spec, argc, argv, NULL, NULL);
    if (!!viz_json + viz_synthetic != 1)
        return args_usage_error(&viz_spec, "give exactly one of --from-json FILE, --synthetic, --model M");
    int pool = ATTN_ROLLOUT_MEAN;
    long v;
    if (strcmp(viz_pool, "mean")) {
        if (args_long(&viz_spec, "--pool (a position or \"mean\")", viz_pool, 0, ATTN_VIEW_MAX_TOKENS - 1, &v))
            return 2;
        pool = (int)v;
    }
    const char *out = viz_out;
    if (!out && !viz_metrics) out = "viz-out";
    attn_attention_view *r = NULL;
    int st = viz_json ? attn_attention_view_load(viz_json, &r) : synthetic_record((uint64_t)viz_seed, &r);
    if (!st && out) st = viz_render_all(r, out, pool);
    if (!st && viz_metrics) st = viz_metrics_print(stdout, r);
    if (st) {
        fprintf(stderr, "attn viz: %s\n", attn_last_error());
        attn_attention_view_free(r);
        return 1;
    }
    if (out) printf("attn viz: wrote %s/attention.html and %d heatmaps\n", out, r->n_maps);
    attn_attention_view_free(r);
    return 0;
}

int cli_viz(int argc, char **argv)
{
    int rc = viz_main(argc, argv);
    viz_release_caches();
    return rc;
}
