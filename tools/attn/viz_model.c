/* viz_model.c — `attn viz --model M --input TEXT [--target TEXT] [--out DIR] [--metrics]`: which
 * kind of model M is, its attention on the input as a view (the libraries': attn/analysis.h,
 * attn/text_view.h), drawn and printed here. A ViT (--image) is viz_image.c's. */
#include "cli.h"
#include "lm.h"
#include "viz_internal.h"
#include "../text/text_view.h"
#include "../text/translator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct viz_args {
    const char *model, *input, *target, *out;
    int metrics;
} viz_args;

/* A view that could not be made: the user's input (ATTN_E_ARG) as "attn viz: why", else naming
 * the model. Returns 1. */
static int view_failed(const char *model, int st)
{
    if (st != ATTN_E_ARG) return cli_error("viz", model, st);
    fprintf(stderr, "attn viz: %s\n", attn_last_error());
    return 1;
}

/* Draw v into a->out, then print its title, what was written ("wrote DIR/attention.html,
 * DIR/attention.json<what> in DIR/<note>") and the metrics when asked; frees v. */
static int finish(attn_attention_view *v, const viz_args *a, int pool, const char *what, const char *note)
{
    int rc = 0;
    if (viz_render_all(v, a->out, pool)) {
        fprintf(stderr, "attn viz: %s\n", attn_last_error());
        rc = 1;
    } else {
        printf("%s\nwrote %s/attention.html, %s/attention.json%s in %s/%s\n", v->title, a->out, a->out, what, a->out,
               note);
        if (a->metrics) viz_metrics_print(stdout, v);
    }
    attn_attention_view_free(v);
    return rc;
}

/* A character model (the date demo's): its every map, teacher-forced on the target or on its
 * own greedy output. */
static int run_ascii(const viz_args *a, attn_st_reader *st)
{
    attn_seq2seq *m = NULL;
    attn_attention_view *v = NULL;
    int s = attn_seq2seq_open(st, &m);
    attn_st_close(st);
    if (s) return cli_error("viz", a->model, s);
    s = attn_seq2seq_ascii_attention_view(NULL, m, a->input, a->target, NULL, &v);
    attn_seq2seq_free(m);
    return s ? view_failed(a->model, s) : finish(v, a, ATTN_ROLLOUT_MEAN, " and heatmaps", "");
}

/* A subword translation model, Transformer or GRU. */
static int run_mt(const viz_args *a)
{
    attn_seq2seq *tf = NULL;
    attn_gru_seq2seq *gru = NULL;
    attn_spm *sp = NULL;
    attn_attention_view *v = NULL;
    int s = attn_mt_open(a->model, &tf, &gru, &sp);
    if (s) return cli_error("viz", a->model, s);
    const char *note = tf ? " (transformer model)" : " (gru model)";
    s = attn_mt_attention_view(NULL, tf, gru, sp, a->input, a->target, &v);
    attn_seq2seq_free(tf), attn_gru_seq2seq_free(gru), attn_spm_free(sp);
    return s ? view_failed(a->model, s) : finish(v, a, ATTN_ROLLOUT_MEAN, " and heatmaps", note);
}

/* A GPT (an `attn train lm` checkpoint or a GPT-2 directory): its causal self-attention over the
 * input's tokens, each labelled by its bytes. */
static int run_gpt(const viz_args *a)
{
    attn_lm_model lm;
    int s = attn_lm_model_open(a->model, &lm);
    if (s) return cli_error("viz", a->model, s);
    int32_t *ids = NULL;
    int64_t n = 0;
    s = attn_lm_model_encode(&lm, "the input", (const unsigned char *)a->input, strlen(a->input), &ids, &n);
    if (s) {
        attn_lm_model_free(&lm);
        return cli_error("viz", a->model, s);
    }
    const char **bytes = calloc((size_t)(n ? n : 1), sizeof *bytes);
    size_t *len = calloc((size_t)(n ? n : 1), sizeof *len);
    if (!bytes || !len) s = attn_set_error(ATTN_E_NOMEM, "%lld tokens", (long long)n);
    for (int64_t i = 0; s == ATTN_OK && i < n; i++) len[i] = attn_lm_model_token(&lm, ids[i], &bytes[i]);
    char title[512];
    snprintf(title, sizeof title, "GPT causal self-attention: %.400s", a->input);
    for (char *p = title; *p; p++)
        if ((unsigned char)*p < 0x20) *p = ' ';
    if (!viz_utf8_valid(title)) snprintf(title, sizeof title, "GPT causal self-attention (%lld tokens)", (long long)n);
    attn_attention_view *v = NULL;
    if (s == ATTN_OK) s = attn_gpt_attention_view(NULL, lm.m, ids, n, bytes, len, title, &v);
    char note[128];
    snprintf(note, sizeof note, " (%lld layers x %lld heads, %lld tokens)", (long long)lm.m->cfg.n_layer,
             (long long)lm.m->cfg.n_head, (long long)n);
    free(ids), free(bytes), free(len);
    attn_lm_model_free(&lm);
    return s ? view_failed(a->model, s) : finish(v, a, 0, " and heatmaps", note);
}

/* A text classifier: its self-attention maps, and the tokens shaded by rollout to its pooled
 * output; the title names the most probable class. */
static int run_classifier(const viz_args *a)
{
    attn_text_classifier c;
    if (attn_text_classifier_open(a->model, &c)) {
        fprintf(stderr, "attn viz: %s\n", attn_last_error());
        return 1;
    }
    const int64_t C = c.m->cfg.num_classes;
    const int pool = c.m->cfg.pooling == ATTN_POOL_MEAN ? ATTN_ROLLOUT_MEAN : 0;
    double *p = malloc((size_t)C * sizeof *p);
    attn_attention_view *v = NULL;
    int s = p ? attn_text_classifier_attention_view(&c, NULL, a->input, p, &v) : attn_set_error(ATTN_E_NOMEM, "%s", a->model);
    attn_text_classifier_free(&c);
    if (s == ATTN_OK) { /* the most probable class: IMDb's names for two, "class<k>" otherwise */
        int64_t k = 0;
        for (int64_t j = 1; j < C; j++)
            if (p[j] > p[k]) k = j;
        char name[32], title[512];
        if (C == 2) snprintf(name, sizeof name, "%s", k ? "positive" : "negative");
        else snprintf(name, sizeof name, "class%lld", (long long)k);
        snprintf(title, sizeof title, "%s (%.3f): %.200s", name, p[k], a->input);
        s = attn_attention_view_set_title(v, title);
        if (s) attn_attention_view_free(v);
    }
    free(p);
    return s ? view_failed(a->model, s) : finish(v, a, pool, ", heatmaps and token shading", "");
}

static int usage(void)
{
    fprintf(stderr, "usage: attn viz --model FILE --input TEXT [--target TEXT] [--out DIR] [--metrics]\n"
                    "       attn viz --model FILE --image FILE.png|IDXFILE[i] [--out DIR]   (a ViT)\n"
                    "FILE: a translation model, a classifier, or a GPT (attn train lm; a GPT-2 directory):\n"
                    "  --target is for translation models only.\n"
                    "Writes attention.html, attention.json and PNG/SVG heatmaps of every layer and head.\n");
    return 2;
}

int viz_run_model(int argc, char **argv)
{
    viz_args a = {.out = "out/viz"};
    const char *image = NULL;
    int has_image = 0; /* an image model: attn viz --model M --image FILE */
    for (int i = 1; i < argc; i++) has_image |= !strcmp(argv[i], "--image");
    for (int i = 1; i < argc; i++) {
        int more = i + 1 < argc;
        if (!strcmp(argv[i], "--model") && more) a.model = argv[++i];
        else if (!strcmp(argv[i], "--input") && more) a.input = argv[++i];
        else if (!strcmp(argv[i], "--target") && more) a.target = argv[++i];
        else if (!strcmp(argv[i], "--out") && more) a.out = argv[++i];
        else if (!strcmp(argv[i], "--image") && more) image = argv[++i];
        else if (!strcmp(argv[i], "--metrics")) a.metrics = 1;
        else return has_image ? viz_image_run(NULL, NULL, NULL) : usage();
    }
    if (has_image) return viz_image_run(a.input || a.target || a.metrics ? NULL : a.model, image, a.out);
    if (!a.model || !a.input) return usage();
    struct stat sb;
    if (stat(a.model, &sb) == 0 && S_ISDIR(sb.st_mode)) /* a Hugging Face GPT-2 directory */
        return a.target ? usage() : run_gpt(&a);
    attn_st_reader *st;
    int s = attn_st_open(a.model, &st);
    if (s) return cli_error("viz", a.model, s);
    const char *arch = attn_st_metadata(st, "attn.arch"), *tok = attn_st_metadata(st, "attn.tokenizer");
    const int cls = arch && !strcmp(arch, "transformer-classifier"), gpt = arch && !strcmp(arch, "gpt");
    const int s2s = arch && (!strcmp(arch, "transformer-seq2seq") || !strcmp(arch, "gru-seq2seq"));
    if (cls || gpt || (s2s && tok && !strcmp(tok, "spm"))) {
        attn_st_close(st);
        if (!s2s && a.target) return usage();
        return cls ? run_classifier(&a) : gpt ? run_gpt(&a) : run_mt(&a);
    }
    if (!arch || strcmp(arch, "transformer-seq2seq") || !tok || strcmp(tok, "chars-ascii")) {
        fprintf(stderr, "attn viz: %s is not a model this attn can visualise (attn.arch=%s)\n", a.model,
                arch ? arch : "none");
        attn_st_close(st);
        return 1;
    }
    return run_ascii(&a, st);
}
