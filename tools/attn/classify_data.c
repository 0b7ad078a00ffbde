/* classify_data.c — configuration, data, tokenizer-in-checkpoint and batching for the
 * text-classification commands. */
#include "classify.h"
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void cls_config_default(cls_run_config *c)
{
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
                                        .pad_id = ATTN_SPM_PAD_ID};
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

int cls_config_load(const char *path, cls_run_config *c)
{
    static const char *const acts[] = {"relu", "gelu", NULL}, *const pools[] = {"mean", "first", NULL},
                              *const norms[] = {"post", "pre", NULL};
    static const int act_values[] = {ATTN_ACT_RELU, ATTN_ACT_GELU}, pool_values[] = {ATTN_POOL_MEAN, ATTN_POOL_FIRST};
    attn_classifier_config *m = &c->model;
    const cfg_field f[] = {
        {"d_model", CFG_I64, &m->d_model, 1, 1 << 16, NULL, NULL},
        {"nhead", CFG_I64, &m->nhead, 1, 1024, NULL, NULL},
        {"num_layers", CFG_I64, &m->num_layers, 1, 64, NULL, NULL},
        {"dim_feedforward", CFG_I64, &m->dim_feedforward, 1, 1 << 18, NULL, NULL},
        {"max_len", CFG_I64, &m->max_len, 1, 1 << 16, NULL, NULL},
        {"dropout", CFG_FLOAT, &m->dropout, 0, 0.99, NULL, NULL},
        {"activation", CFG_CHOICE, &m->activation, 0, 0, acts, act_values},
        {"pooling", CFG_CHOICE, &m->pooling, 0, 0, pools, pool_values},
        {"norm", CFG_CHOICE, &m->norm_first, 0, 0, norms, NULL},
        {"vocab_size", CFG_INT, &c->vocab_size, 300, 1 << 20, NULL, NULL},
        {"tokenizer_reviews", CFG_I64, &c->tokenizer_reviews, 0, 1e9, NULL, NULL},
        {"head_tokens", CFG_I64, &c->head_tokens, 0, 1 << 16, NULL, NULL},
        {"batch_size", CFG_I64, &c->batch_size, 1, 1 << 16, NULL, NULL},
        {"epochs", CFG_INT, &c->epochs, 1, 1000, NULL, NULL},
        {"max_steps", CFG_I64, &c->max_steps, 0, 1e12, NULL, NULL},
        {"lr", CFG_FLOAT, &c->lr, 0, 10, NULL, NULL},
        {"min_lr_ratio", CFG_FLOAT, &c->min_lr_ratio, 0, 1, NULL, NULL},
        {"weight_decay", CFG_FLOAT, &c->weight_decay, 0, 10, NULL, NULL},
        {"label_smoothing", CFG_FLOAT, &c->label_smoothing, 0, 1, NULL, NULL},
        {"clip", CFG_FLOAT, &c->clip, 0, 1e9, NULL, NULL},
        {"warmup_fraction", CFG_DOUBLE, &c->warmup_fraction, 0, 1, NULL, NULL},
        {"val_fraction", CFG_DOUBLE, &c->val_fraction, 0, 0.9, NULL, NULL},
        {"max_train", CFG_I64, &c->max_train, 0, 1e12, NULL, NULL},
        {"seed", CFG_U64, &c->seed, 0, 9007199254740992.0, NULL, NULL},
        {"log_every", CFG_INT, &c->log_every, 1, 1e9, NULL, NULL}, /* read, then ignored: see below */
    };
    int st = cfg_load("train classify", path, f, (int)(sizeof f / sizeof f[0]));
    if (st == ATTN_OK && c->log_every)
        fprintf(stderr, "attn train classify: config %s: log_every is no longer used (metrics.csv has a row per "
                        "epoch)\n", path);
    if (st == ATTN_OK && (m->d_model % m->nhead || c->head_tokens > m->max_len)) {
        fprintf(stderr, "attn train classify: config %s: d_model must be a multiple of nhead and head_tokens ≤ max_len\n",
                path);
        st = ATTN_E_FORMAT;
    }
    return st;
}

void cls_set_free(cls_set *s)
{
    if (!s) return;
    free(s->off), free(s->ids), free(s->label);
    memset(s, 0, sizeof *s);
}

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}
static int is_file(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

int cls_load_imdb(const char *cmd, const char *path, const char *split, attn_imdb **out)
{
    char a[4096], b[4096];
    int st;
    *out = NULL;
    if (is_dir(path)) {
        snprintf(a, sizeof a, "%s/%s.tsv.gz", path, split);
        if (!is_file(a)) snprintf(a, sizeof a, "%s/%s.tsv", path, split);
        snprintf(b, sizeof b, "%s/%s.ids", path, split);
        if (is_file(a)) {
            st = attn_imdb_load(a, is_file(b) ? b : NULL, out);
        } else {
            snprintf(a, sizeof a, "%s/%s", path, split);
            snprintf(b, sizeof b, "%s/pos", path);
            if (is_dir(a)) st = attn_imdb_load_dir(a, out);
            else if (is_dir(b)) st = attn_imdb_load_dir(path, out);
            else {
                fprintf(stderr, "attn %s: %s: no %s.tsv.gz, no aclImdb %s/ folder, no pos/ and neg/ folders\n",
                        cmd, path, split, split);
                return ATTN_E_IO;
            }
        }
    } else {
        st = attn_imdb_load(path, NULL, out);
    }
    if (st) {
        fprintf(stderr, "attn %s: %s: %s\n", cmd, attn_status_string(st), attn_last_error());
        return st;
    }
    if ((*out)->n == 0) {
        fprintf(stderr, "attn %s: %s: no reviews\n", cmd, path);
        attn_imdb_free(*out);
        *out = NULL;
        return ATTN_E_FORMAT;
    }
    return ATTN_OK;
}

char *cls_clean(const char *text)
{
    size_t len = strlen(text), n;
    char *o = malloc(len + 1);
    if (o && attn_text_clean(text, len, NULL, o, len + 1, &n)) free(o), o = NULL;
    return o;
}

static int encode_one(const attn_spm *sp, const char *text, int64_t max_len, int64_t head,
                      int32_t **out, int64_t *n)
{
    *out = NULL, *n = 0;
    char *c = cls_clean(text);
    int64_t nid = 0;
    int st = c ? attn_spm_encode(sp, c, NULL, 0, &nid) : ATTN_E_NOMEM;
    int32_t *buf = st ? NULL : malloc((size_t)(nid + 1) * sizeof *buf);
    if (st == ATTN_OK && !buf) st = ATTN_E_NOMEM;
    if (st == ATTN_OK) st = attn_spm_encode(sp, c, buf, nid + 1, &nid);
    free(c);
    if (st) {
        free(buf);
        return st;
    }
    *n = attn_truncate_head_tail(buf, nid, max_len, head, buf);
    *out = buf;
    return ATTN_OK;
}

int cls_encode_texts(const attn_spm *sp, char *const *texts, const int8_t *labels,
                     const uint8_t *take, int64_t n, int64_t max_len, int64_t head, cls_set *out)
{
    memset(out, 0, sizeof *out);
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) m += !take || take[i];
    int64_t *src = malloc((size_t)(m + 1) * sizeof *src), *len = calloc((size_t)m + 1, sizeof *len);
    int32_t **one = calloc((size_t)m + 1, sizeof *one);
    out->off = malloc((size_t)(m + 1) * sizeof *out->off);
    out->label = malloc((size_t)(m + 1) * sizeof *out->label);
    int st = src && len && one && out->off && out->label ? ATTN_OK : ATTN_E_NOMEM;
    for (int64_t i = 0, k = 0; st == ATTN_OK && i < n; i++)
        if (!take || take[i]) src[k++] = i;
    /* SentencePiece's encoder is safe to call from several threads on one model */
    int failed = st;
#pragma omp parallel for schedule(dynamic, 64) if (m > 256)
    for (int64_t k = 0; k < m; k++) {
        if (failed) continue;
        int s = encode_one(sp, texts[src[k]], max_len, head, &one[k], &len[k]);
        if (s) {
#pragma omp atomic write
            failed = s;
        }
    }
    st = failed;
    int64_t used = 0;
    for (int64_t k = 0; st == ATTN_OK && k < m; k++) out->off[k] = used, used += len[k];
    if (st == ATTN_OK && !(out->ids = malloc((size_t)(used + 1) * sizeof *out->ids))) st = ATTN_E_NOMEM;
    for (int64_t k = 0; st == ATTN_OK && k < m; k++) {
        memcpy(out->ids + out->off[k], one[k], (size_t)len[k] * sizeof *out->ids);
        out->label[k] = labels ? labels[src[k]] : 0;
    }
    for (int64_t k = 0; one && k < m; k++) free(one[k]);
    free(one), free(src), free(len);
    if (st) {
        cls_set_free(out);
        return st;
    }
    out->off[m] = used;
    out->n = m;
    return ATTN_OK;
}

int cls_model_meta(const attn_classifier *m, const char *tok_b64, int64_t head_tokens, char *buf, size_t cap,
                   const char **kv, int kv_cap)
{
    if (kv_cap < 16) return attn_set_error(ATTN_E_ARG, "cls_model_meta: room for %d keys", kv_cap / 2);
    const size_t head_cap = 32;
    if (cap <= head_cap) return attn_set_error(ATTN_E_ARG, "cls_model_meta: a buffer of %zu bytes", cap);
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

/* A run directory names its final model: best.safetensors (best by validation accuracy), or
 * model.safetensors when the run had no validation. */
static const char *model_file(const char *path, char *buf, size_t cap)
{
    if (!is_dir(path)) return path;
    snprintf(buf, cap, "%s/best.safetensors", path);
    if (!is_file(buf)) snprintf(buf, cap, "%s/model.safetensors", path);
    return buf;
}

int cls_model_load(const char *cmd, const char *path, cls_model *out)
{
    memset(out, 0, sizeof *out);
    char file[4200];
    path = model_file(path, file, sizeof file);
    attn_st_reader *st;
    int s = attn_st_open(path, &st);
    if (s) {
        fprintf(stderr, "attn %s: %s: %s\n", cmd, attn_status_string(s), attn_last_error());
        return s;
    }
    const char *arch = attn_st_metadata(st, "attn.arch"), *tok = attn_st_metadata(st, "attn.tokenizer"),
               *tm = attn_st_metadata(st, "attn.tokenizer.model"), *hd = attn_st_metadata(st, "attn.truncate.head");
    if (!arch || strcmp(arch, "transformer-classifier") || !tok || strcmp(tok, "sentencepiece") || !tm || !hd) {
        fprintf(stderr, "attn %s: %s is not a text classifier saved by attn (attn.arch=%s)\n", cmd, path,
                arch ? arch : "none");
        attn_st_close(st);
        return ATTN_E_FORMAT;
    }
    attn_classifier_config cfg;
    int32_t vocab = 0;
    out->head_tokens = strtoll(hd, NULL, 10);
    s = attn_classifier_open(st, &out->m);
    if (s == ATTN_OK) cfg = out->m->cfg;
    if (s) fprintf(stderr, "attn %s: %s: %s: %s\n", cmd, path, attn_status_string(s), attn_last_error());
    if (s == ATTN_OK && (s = attn_spm_from_reader(st, &out->sp)))
        fprintf(stderr, "attn %s: %s: %s\n", cmd, path, attn_last_error());
    if (s == ATTN_OK && (attn_spm_vocab_size(out->sp, &vocab) || vocab != cfg.vocab)) {
        fprintf(stderr, "attn %s: %s: tokenizer has %d pieces, the model %lld\n", cmd, path, vocab,
                (long long)cfg.vocab);
        s = ATTN_E_FORMAT;
    }
    attn_st_close(st);
    if (s) cls_model_free(out);
    return s;
}

void cls_model_free(cls_model *cm)
{
    attn_classifier_free(cm->m);
    attn_spm_free(cm->sp);
    memset(cm, 0, sizeof *cm);
}
