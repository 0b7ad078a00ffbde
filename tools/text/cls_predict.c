/* cls_predict.c — a saved text classifier applied to texts (text_classifier.h): class
 * probabilities of raw texts, the evaluation report on labelled ones, the classes' names. */
#include "text_classifier.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const imdb_names[2] = {"negative", "positive"};

const char *attn_cls_class_name(int64_t k, int64_t classes, char *buf, size_t cap)
{
    if (classes == 2 && (k == 0 || k == 1)) return imdb_names[k];
    if (buf && cap) snprintf(buf, cap, "class%lld", (long long)k);
    return buf ? buf : "";
}

int attn_text_classifier_predict(const attn_text_classifier *tc, attn_tape *t, char *const *texts, int64_t n,
                                 int64_t batch, float *probs)
{
    if (!tc || !tc->m || !tc->sp || !t || (!texts && n) || (!probs && n) || n < 0)
        return attn_set_error(ATTN_E_ARG, "attn_text_classifier_predict: a NULL argument or n = %lld", (long long)n);
    attn_cls_data s = {0};
    int st = attn_cls_encode_texts(tc->sp, texts, NULL, NULL, n, tc->m->cfg.max_len, tc->head_tokens, &s);
    if (st == ATTN_OK && n) st = attn_classifier_predict(tc->m, t, &s, batch, probs);
    attn_cls_data_free(&s);
    return st;
}

int attn_text_classifier_evaluate(const attn_text_classifier *tc, attn_tape *t, char *const *texts,
                                  const int8_t *labels, int64_t n, int64_t batch, attn_cls_report *r)
{
    if (r) memset(r, 0, sizeof *r);
    if (!tc || !tc->m || !labels || !r || n < 0)
        return attn_set_error(ATTN_E_ARG, "attn_text_classifier_evaluate: a NULL argument or n = %lld", (long long)n);
    const int64_t C = tc->m->cfg.num_classes;
    float *probs = malloc((size_t)(n * C + 1) * sizeof *probs);
    int32_t *lab = malloc((size_t)(n + 1) * sizeof *lab);
    int st = probs && lab ? ATTN_OK : attn_set_error(ATTN_E_NOMEM, "attn_text_classifier_evaluate: out of memory");
    for (int64_t i = 0; st == ATTN_OK && i < n; i++) lab[i] = labels[i];
    if (st == ATTN_OK) st = attn_text_classifier_predict(tc, t, texts, n, batch, probs);
    if (st == ATTN_OK) st = attn_cls_evaluate(probs, lab, n, C, r);
    free(probs), free(lab);
    return st;
}
