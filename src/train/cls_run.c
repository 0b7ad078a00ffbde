/* cls_run.c — a text-classification training run's settings (defaults, the JSON config file),
 * the checkpoint metadata of a saved classifier, and the labelled sets' storage (attn/train.h). */
#include "internal.h"
#include "attn/train.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void attn_cls_run_config_default(attn_cls_run_config *c)
{
    if (!c) return;
    memset(c, 0, sizeof *c);
    c->model = (attn_classifier_config){.d_model = 128,
                                        .nhead = 4,
                                        .num_layers = 2,
                                        .dim_feedforward = 512,
                                        .max_len = 512,
                                        .num_classes = 2,
                                        .dropout = 0.1f,
                                        .activation = ATTN_ACT_GELU,
                                        .norm_first = 1,
                                        .pooling = ATTN_POOL_MEAN,
                                        .pad_id = 0 /* SentencePiece's <pad> */};
    c->vocab_size = 16000;
    c->tokenizer_reviews = 10000;
    c->head_tokens = 128;
    c->batch_size = 32;
    c->epochs = 2;
    c->lr = 1e-3f;
    c->min_lr_ratio = 0.0f;
    c->weight_decay = 0.01f;
    c->label_smoothing = 0.1f;
    c->clip = 1.0f;
    c->warmup_fraction = 0.05;
    c->val_fraction = 0.04;
    c->seed = 1;
}

int attn_cls_run_config_load(const char *path, attn_cls_run_config *c, int *legacy)
{
    if (legacy) *legacy = 0;
    ATTN_REQUIRE_NONNULL("attn_cls_run_config_load", c);
    static const char *const acts[] = {"relu", "gelu", NULL}, *const pools[] = {"mean", "first", NULL},
                              *const norms[] = {"post", "pre", NULL};
    static const int act_values[] = {ATTN_ACT_RELU, ATTN_ACT_GELU}, pool_values[] = {ATTN_POOL_MEAN, ATTN_POOL_FIRST};
    attn_classifier_config *m = &c->model;
    const attn_config_field f[] = {
        {"d_model", ATTN_CONFIG_I64, &m->d_model, 1, 1 << 16, NULL, NULL},
        {"nhead", ATTN_CONFIG_I64, &m->nhead, 1, 1024, NULL, NULL},
        {"num_layers", ATTN_CONFIG_I64, &m->num_layers, 1, 64, NULL, NULL},
        {"dim_feedforward", ATTN_CONFIG_I64, &m->dim_feedforward, 1, 1 << 18, NULL, NULL},
        {"max_len", ATTN_CONFIG_I64, &m->max_len, 1, 1 << 16, NULL, NULL},
        {"dropout", ATTN_CONFIG_FLOAT, &m->dropout, 0, 0.99, NULL, NULL},
        {"activation", ATTN_CONFIG_CHOICE, &m->activation, 0, 0, acts, act_values},
        {"pooling", ATTN_CONFIG_CHOICE, &m->pooling, 0, 0, pools, pool_values},
        {"norm", ATTN_CONFIG_CHOICE, &m->norm_first, 0, 0, norms, NULL},
        {"vocab_size", ATTN_CONFIG_INT, &c->vocab_size, 300, 1 << 20, NULL, NULL},
        {"tokenizer_reviews", ATTN_CONFIG_I64, &c->tokenizer_reviews, 0, 1e9, NULL, NULL},
        {"head_tokens", ATTN_CONFIG_I64, &c->head_tokens, 0, 1 << 16, NULL, NULL},
        {"batch_size", ATTN_CONFIG_I64, &c->batch_size, 1, 1 << 16, NULL, NULL},
        {"epochs", ATTN_CONFIG_INT, &c->epochs, 1, 1000, NULL, NULL},
        {"max_steps", ATTN_CONFIG_I64, &c->max_steps, 0, 1e12, NULL, NULL},
        {"lr", ATTN_CONFIG_FLOAT, &c->lr, 0, 10, NULL, NULL},
        {"min_lr_ratio", ATTN_CONFIG_FLOAT, &c->min_lr_ratio, 0, 1, NULL, NULL},
        {"weight_decay", ATTN_CONFIG_FLOAT, &c->weight_decay, 0, 10, NULL, NULL},
        {"label_smoothing", ATTN_CONFIG_FLOAT, &c->label_smoothing, 0, 1, NULL, NULL},
        {"clip", ATTN_CONFIG_FLOAT, &c->clip, 0, 1e9, NULL, NULL},
        {"warmup_fraction", ATTN_CONFIG_DOUBLE, &c->warmup_fraction, 0, 1, NULL, NULL},
        {"val_fraction", ATTN_CONFIG_DOUBLE, &c->val_fraction, 0, 0.9, NULL, NULL},
        {"max_train", ATTN_CONFIG_I64, &c->max_train, 0, 1e12, NULL, NULL},
        {"seed", ATTN_CONFIG_U64, &c->seed, 0, 9007199254740992.0, NULL, NULL},
        {"log_every", ATTN_CONFIG_INT, &c->log_every, 1, 1e9, NULL, NULL}, /* read, then ignored */
    };
    int st = attn_config_load(path, f, (int)(sizeof f / sizeof f[0]), legacy);
    if (st == ATTN_OK && (m->d_model % m->nhead || c->head_tokens > m->max_len))
        st = attn_fail(ATTN_E_FORMAT, "config %s: d_model must be a multiple of nhead and head_tokens ≤ max_len", path);
    return st;
}

void attn_cls_data_free(attn_cls_data *s)
{
    if (!s) return;
    free(s->off), free(s->ids), free(s->label);
    memset(s, 0, sizeof *s);
}

int attn_cls_model_meta(const attn_classifier *m, const char *tok_b64, int64_t head_tokens, char *buf, size_t cap,
                        const char **kv, int kv_cap)
{
    ATTN_REQUIRE_NONNULL("attn_cls_model_meta", m);
    ATTN_REQUIRE_NONNULL("attn_cls_model_meta", tok_b64);
    ATTN_REQUIRE_NONNULL("attn_cls_model_meta", buf);
    ATTN_REQUIRE_NONNULL("attn_cls_model_meta", kv);
    if (kv_cap < 16) return attn_fail(ATTN_E_ARG, "attn_cls_model_meta: room for %d keys", kv_cap / 2);
    const size_t head_cap = 32;
    if (cap <= head_cap) return attn_fail(ATTN_E_ARG, "attn_cls_model_meta: a buffer of %zu bytes", cap);
    char *head = buf + cap - head_cap;
    int n = attn_classifier_config_to_meta(&m->cfg, buf, cap - head_cap, kv, kv_cap - 13);
    if (n < 0) return n;
    snprintf(head, head_cap, "%lld", (long long)head_tokens);
    kv[n++] = "attn.arch", kv[n++] = "transformer-classifier";
    kv[n++] = "attn.task", kv[n++] = "imdb";
    kv[n++] = "attn.labels", kv[n++] = "negative,positive";
    kv[n++] = "attn.tokenizer", kv[n++] = "sentencepiece";
    kv[n++] = "attn.tokenizer.model", kv[n++] = tok_b64;
    kv[n++] = "attn.truncate.head", kv[n++] = head;
    kv[n] = NULL;
    return ATTN_OK;
}

uint64_t attn_cls_data_hash(const attn_cls_data *d)
{
    if (!d || !d->off) return ATTN_HASH64_INIT;
    uint64_t h = attn_hash64(ATTN_HASH64_INIT, d->off, (size_t)(d->n + 1) * sizeof *d->off);
    h = attn_hash64(h, d->ids, (size_t)d->off[d->n] * sizeof *d->ids);
    return attn_hash64(h, d->label, (size_t)d->n * sizeof *d->label);
}
