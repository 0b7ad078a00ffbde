/* viz_classify.c — `attn viz --model M --input TEXT` on a text classifier: every layer's and
 * head's self-attention map (ATTN_ATTENTION_CLASSIFIER_SELF) over the review's tokens, recorded through libattn's
 * attention record (attn/analysis.h), and the tokens shaded by attention rollout to the
 * mean-pooled output. */
#include "classify.h"
#include "viz.h"

#include <stdlib.h>
#include <math.h>
#include <string.h>

int viz_classify_run(const char *model, const char *input, const char *out, int metrics)
{
    attn_text_classifier cm;
    if (cls_model_load("viz", model, &cm)) return 1;
    char *texts[1] = {(char *)input};
    int8_t label = 0;
    attn_cls_data s = {0};
    int rc = 1;
    attn_attention_view *r = NULL;
    attn_tape *t = NULL;
    attn_tape_config tc = {0};
    const char **tok = NULL;
    int st = attn_cls_encode_texts(cm.sp, texts, &label, NULL, 1, cm.m->cfg.max_len, cm.head_tokens, &s);
    int64_t n = st ? 0 : s.off[1];
    if (st == ATTN_OK && n == 0) {
        fprintf(stderr, "attn viz: the input has no tokens: nothing to attend to\n");
        goto done;
    }
    tok = st ? NULL : malloc((size_t)n * sizeof *tok);
    if (!tok) goto done;
    for (int64_t i = 0; i < n && st == ATTN_OK; i++) st = attn_spm_id_to_piece(cm.sp, s.ids[i], &tok[i]);
    if (st == ATTN_OK) st = attn_tape_create(&tc, &t);
    attn_var *logits = NULL;
    if (st == ATTN_OK) {
        /* the forward once, for the label in the title */
        attn_tape_set_training(t, 0);
        st = attn_classifier_forward(t, cm.m, s.ids, 1, n, &logits, NULL);
    }
    char title[512];
    if (st == ATTN_OK) {
        /* the most probable of the C classes (IMDb's names for two, "class<k>" otherwise) */
        const float *z = logits->data;
        const int64_t C = cm.m->cfg.num_classes;
        int64_t k = 0;
        for (int64_t j = 1; j < C; j++)
            if (z[j] > z[k]) k = j;
        double sum = 0;
        for (int64_t j = 0; j < C; j++) sum += exp((double)(z[j] - z[k]));
        char name[32];
        if (C == 2) snprintf(name, sizeof name, "%s", k ? "positive" : "negative");
        else snprintf(name, sizeof name, "class%lld", (long long)k);
        snprintf(title, sizeof title, "%s (%.3f): %.200s", name, 1.0 / sum, input);
        if (attn_attention_view_create(&r, title, tok, (int)n, NULL, 0)) {
            fprintf(stderr, "attn viz: %s\n", attn_last_error());
            goto done;
        }
        attn_attention_record *rec = NULL;
        st = attn_tape_reset(t);
        if (st == ATTN_OK) st = attn_attention_record_create(t, &rec);
        if (st == ATTN_OK) st = attn_attention_record_watch_classifier(rec, cm.m);
        if (st == ATTN_OK) st = attn_classifier_forward(t, cm.m, s.ids, 1, n, &logits, NULL);
        attn_attention_record_stop(rec);
        int vst = st ? 0 : attn_attention_view_add_recorded(r, rec, 1);
        attn_attention_record_free(rec);
        if (vst) {
            fprintf(stderr, "attn viz: recording attention failed: %s\n", attn_last_error());
            goto done;
        }
    }
    if (st) {
        fprintf(stderr, "attn viz: %s: %s\n", attn_status_string(st), attn_last_error());
        goto done;
    }
    int pool = cm.m->cfg.pooling == ATTN_POOL_MEAN ? ATTN_ROLLOUT_MEAN : 0;
    if (viz_render_all(r, out, pool)) {
        fprintf(stderr, "attn viz: %s\n", attn_last_error());
        goto done;
    }
    printf("%s\nwrote %s/attention.html, %s/attention.json, heatmaps and token shading in %s/\n", title,
           out, out, out);
    if (metrics) viz_metrics_print(stdout, r);
    rc = 0;
done:
    free(tok);
    attn_attention_view_free(r);
    attn_tape_free(t);
    attn_cls_data_free(&s);
    attn_text_classifier_free(&cm);
    return rc;
}
