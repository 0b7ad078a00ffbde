/* viz_cli.c — `attn viz`: render attention from a JSON file, a synthetic record, or (when the
 * model code is linked in) a model. */
#include "viz_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void viz_usage(FILE *f)
{
    fprintf(f,
            "usage: attn viz --from-json FILE [--out DIR] [--metrics] [--pool N|mean]\n"
            "       attn viz --synthetic [--seed N] [--out DIR] [--metrics] [--pool N|mean]\n"
            "       attn viz --model M ...   (model-driven; options are the model's)\n"
            "\n"
            "  --from-json FILE  re-render everything from an attention.json\n"
            "  --synthetic       a date-task example with made-up attention (no model needed)\n"
            "  --out DIR         write attention.html, attention.json, PNG/SVG heatmaps, grids,\n"
            "                    rollout pictures and index.json into DIR\n"
            "  --metrics         print per-head entropy, attended distance, alignment accuracy\n"
            "  --pool N|mean     position whose rollout row scores the tokens (default mean)\n");
}

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
static int synthetic_map(viz_record *r, viz_kind kind, int layer, int head, int pattern,
                         const viz_span *spans, uint64_t seed)
{
    int rows, cols;
    viz_kind_dims(r, kind, &rows, &cols);
    float *w = malloc((size_t)rows * cols * sizeof *w);
    double *z = malloc((size_t)cols * sizeof *z);
    if (!w || !z) {
        free(w);
        free(z);
        return viz_fail(ATTN_E_NOMEM, "synthetic record");
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
            if (kind == VIZ_DEC_SELF && j > i) z[j] = -INFINITY;
        }
        softmax_row(z, cols, w + (size_t)i * cols);
    }
    int st = viz_record_add_map(r, kind, layer, head, w, rows, cols);
    free(w);
    free(z);
    return st;
}

int viz_record_from_dates(const attn_dates_example *ex, viz_record **out)
{
    if (!ex || !out) return viz_fail(ATTN_E_ARG, "viz_record_from_dates: NULL argument");
    *out = NULL;
    int ns = (int)strnlen(ex->src, ATTN_DATES_SRC_MAX), nt = ATTN_DATES_TGT_LEN;
    if (ns == ATTN_DATES_SRC_MAX)
        return viz_fail(ATTN_E_ARG, "viz_record_from_dates: source not NUL-terminated");
    char sbuf[ATTN_DATES_SRC_MAX][2], tbuf[ATTN_DATES_TGT_LEN][2];
    const char *src[ATTN_DATES_SRC_MAX], *tgt[ATTN_DATES_TGT_LEN];
    for (int i = 0; i < ns; i++) {
        sbuf[i][0] = ex->src[i];
        sbuf[i][1] = 0;
        src[i] = sbuf[i];
    }
    viz_span spans[ATTN_DATES_TGT_LEN];
    for (int t = 0; t < nt; t++) {
        tbuf[t][0] = ex->tgt[t];
        tbuf[t][1] = 0;
        tgt[t] = tbuf[t];
        spans[t] = (viz_span){ex->align_lo[t], ex->align_hi[t]};
    }
    char title[96];
    snprintf(title, sizeof title, "\"%s\" → %.10s", ex->src, ex->tgt);
    viz_record *r;
    int st = viz_record_create(&r, title, src, ns, tgt, nt);
    if (st) return st;
    if ((st = viz_record_set_alignment(r, spans))) {
        viz_record_free(r);
        return st;
    }
    *out = r;
    return 0;
}

/* One date example with heads of each kind following known patterns: encoder 2 layers × 4
 * heads, decoder 2 × 2, cross 2 × 4 where layer 1 head 2 follows the gold alignment. */
static int synthetic_record(uint64_t seed, viz_record **out)
{
    attn_dates_example ex;
    attn_dates_generate(seed, 0, &ex);
    viz_record *r;
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
            st = synthetic_map(r, VIZ_ENC_SELF, l, h, enc_pat[(h + l) % 4], r->align, seed);
        for (int h = 0; !st && h < 2; h++)
            st = synthetic_map(r, VIZ_DEC_SELF, l, h, dec_pat[h], r->align, seed);
        for (int h = 0; !st && h < 4; h++)
            st = synthetic_map(r, VIZ_CROSS, l, h, cross_pat[l][h], r->align, seed);
    }
    if (st) {
        viz_record_free(r);
        return st;
    }
    *out = r;
    return 0;
}

static int viz_main(int argc, char **argv)
{
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--model")) {
            if (viz_run_model) return viz_run_model(argc, argv);
            fprintf(stderr, "attn viz: model-driven visualisation is not built yet (this attn has "
                            "no viz_run_model); use --from-json FILE or --synthetic\n");
            return 2;
        }
    }
    const char *json = NULL, *out = NULL;
    int synthetic = 0, metrics = 0, pool = VIZ_POOL_MEAN;
    uint64_t seed = 0;
    for (int a = 1; a < argc; a++) {
        const char *o = argv[a];
        int has = a + 1 < argc;
        if (!strcmp(o, "--from-json") && has) json = argv[++a];
        else if (!strcmp(o, "--out") && has) out = argv[++a];
        else if (!strcmp(o, "--synthetic")) synthetic = 1;
        else if (!strcmp(o, "--seed") && has) seed = strtoull(argv[++a], NULL, 10);
        else if (!strcmp(o, "--metrics")) metrics = 1;
        else if (!strcmp(o, "--pool") && has) {
            const char *p = argv[++a];
            char *end;
            long v = strtol(p, &end, 10);
            if (!strcmp(p, "mean")) pool = VIZ_POOL_MEAN;
            else if (*p && !*end && v >= 0 && v < VIZ_MAX_TOKENS) pool = (int)v;
            else {
                fprintf(stderr, "attn viz: --pool takes a position or \"mean\", not '%s'\n", p);
                return 2;
            }
        } else if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            viz_usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "attn viz: unknown or incomplete option '%s'\n", o);
            viz_usage(stderr);
            return 2;
        }
    }
    if (!!json + synthetic != 1) {
        fprintf(stderr, "attn viz: give exactly one of --from-json FILE, --synthetic, --model M\n");
        viz_usage(stderr);
        return 2;
    }
    if (!out && !metrics) out = "viz-out";
    viz_record *r = NULL;
    int st = json ? viz_json_read(json, &r) : synthetic_record(seed, &r);
    if (!st && out) st = viz_render_all(r, out, pool);
    if (!st && metrics) st = viz_metrics_print(stdout, r);
    if (st) {
        fprintf(stderr, "attn viz: %s: %s\n", attn_status_string(st), viz_last_error());
        viz_record_free(r);
        return 1;
    }
    if (out) printf("attn viz: wrote %s/attention.html and %d heatmaps\n", out, r->n_maps);
    viz_record_free(r);
    return 0;
}

int cli_viz(int argc, char **argv)
{
    int rc = viz_main(argc, argv);
    viz_release_caches();
    return rc;
}
