/* viz_cli.c — `attn viz`: render attention from a JSON file, a synthetic record, or a model
 * (viz_model.c). */
#include "args.h"
#include "viz_internal.h"

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

static int viz_main(int argc, char **argv)
{
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--")) break;
        if (!strcmp(argv[a], "--model") || !strncmp(argv[a], "--model=", 8)) return viz_run_model(argc, argv);
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
    int st = viz_json ? attn_attention_view_load(viz_json, &r) : attn_attention_view_synthetic((uint64_t)viz_seed, &r);
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
