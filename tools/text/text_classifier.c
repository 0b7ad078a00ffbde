/* text_classifier.c — a saved text classifier and the tokenisation of labelled texts
 * (text_classifier.h). */
#include "text_classifier.h"
#include "translator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int encode_one(const attn_spm *sp, const char *text, int64_t max_len, int64_t head, int32_t **out,
                      int64_t *n)
{
    *out = NULL, *n = 0;
    char *c;
    int st = attn_text_clean_alloc(text, &c);
    if (st) return st;
    int64_t nid = 0;
    st = attn_spm_encode_alloc(sp, c, out, &nid);
    free(c);
    if (st) return st;
    *n = attn_truncate_head_tail(*out, nid, max_len, head, *out);
    return ATTN_OK;
}

int attn_cls_encode_texts(const attn_spm *sp, char *const *texts, const int8_t *labels, const uint8_t *take,
                          int64_t n, int64_t max_len, int64_t head, attn_cls_data *out)
{
    if (!out) return attn_set_error(ATTN_E_ARG, "attn_cls_encode_texts: out is NULL");
    memset(out, 0, sizeof *out);
    if (!sp || (n > 0 && !texts) || n < 0 || max_len < 1 || head < 0)
        return attn_set_error(ATTN_E_ARG, "attn_cls_encode_texts: sp %p, texts %p, n %lld, max_len %lld, head %lld",
                              (const void *)sp, (const void *)texts, (long long)n, (long long)max_len, (long long)head);
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) m += !take || take[i];
    int64_t *src = malloc((size_t)(m + 1) * sizeof *src), *len = calloc((size_t)m + 1, sizeof *len);
    int32_t **one = calloc((size_t)m + 1, sizeof *one);
    out->off = malloc((size_t)(m + 1) * sizeof *out->off);
    out->label = malloc((size_t)(m + 1) * sizeof *out->label);
    int st = src && len && one && out->off && out->label ? ATTN_OK : attn_set_error(ATTN_E_NOMEM, "attn_cls_encode_texts: %lld texts", (long long)m);
    for (int64_t i = 0, k = 0; st == ATTN_OK && i < n; i++)
        if (!take || take[i]) src[k++] = i;
    /* SentencePiece's encoder is safe to call from several threads on one model; the first
     * error's message is the thread's own, so it is carried over to this one */
    int failed = st;
    char msg[512] = "";
#pragma omp parallel for schedule(dynamic, 64) if (m > 256)
    for (int64_t k = 0; k < m; k++) {
        if (failed) continue;
        int s = encode_one(sp, texts[src[k]], max_len, head, &one[k], &len[k]);
        if (s) {
#pragma omp critical(attn_cls_encode_error)
            if (!failed) {
                failed = s;
                snprintf(msg, sizeof msg, "%s", attn_last_error());
            }
        }
    }
    if (failed && !st) st = attn_set_error(failed, "%s", msg);
    int64_t used = 0;
    for (int64_t k = 0; st == ATTN_OK && k < m; k++) out->off[k] = used, used += len[k];
    if (st == ATTN_OK && !(out->ids = malloc((size_t)(used + 1) * sizeof *out->ids)))
        st = attn_set_error(ATTN_E_NOMEM, "attn_cls_encode_texts: %lld ids", (long long)used);
    for (int64_t k = 0; st == ATTN_OK && k < m; k++) {
        memcpy(out->ids + out->off[k], one[k], (size_t)len[k] * sizeof *out->ids);
        out->label[k] = labels ? labels[src[k]] : 0;
    }
    for (int64_t k = 0; one && k < m; k++) free(one[k]);
    free(one), free(src), free(len);
    if (st) {
        attn_cls_data_free(out);
        return st;
    }
    out->off[m] = used;
    out->n = m;
    return ATTN_OK;
}

/* the current message behind a prefix (copied first: attn_set_error writes where it reads) */
static int prefix_error(int s, const char *path, const char *status)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s", attn_last_error());
    return status ? attn_set_error(s, "%s: %s: %s", path, status, msg) : attn_set_error(s, "%s: %s", path, msg);
}

static int is_dir(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int attn_text_classifier_open(const char *path, attn_text_classifier *out)
{
    if (!out || !path) return attn_set_error(ATTN_E_ARG, "attn_text_classifier_open: path or out is NULL");
    memset(out, 0, sizeof *out);
    /* a run directory names its final model: best.safetensors (best by validation accuracy),
     * or model.safetensors when the run had no validation */
    char file[4200];
    if (is_dir(path)) {
        struct stat sb;
        snprintf(file, sizeof file, "%s/best.safetensors", path);
        if (stat(file, &sb) || !S_ISREG(sb.st_mode)) snprintf(file, sizeof file, "%s/model.safetensors", path);
        path = file;
    }
    attn_st_reader *st;
    int s = attn_st_open(path, &st);
    if (s) return s;
    const char *arch = attn_st_metadata(st, "attn.arch"), *tok = attn_st_metadata(st, "attn.tokenizer"),
               *tm = attn_st_metadata(st, "attn.tokenizer.model"), *hd = attn_st_metadata(st, "attn.truncate.head");
    if (!arch || strcmp(arch, "transformer-classifier") || !tok || strcmp(tok, "sentencepiece") || !tm || !hd) {
        s = attn_set_error(ATTN_E_FORMAT, "%s is not a text classifier saved by attn (attn.arch=%s)", path,
                           arch ? arch : "none");
        attn_st_close(st);
        return s;
    }
    int32_t vocab = 0;
    out->head_tokens = strtoll(hd, NULL, 10);
    s = attn_classifier_open(st, &out->m);
    if (s) s = prefix_error(s, path, attn_status_string(s));
    if (s == ATTN_OK && (s = attn_spm_from_reader(st, &out->sp))) s = prefix_error(s, path, NULL);
    if (s == ATTN_OK && (attn_spm_vocab_size(out->sp, &vocab) || vocab != out->m->cfg.vocab))
        s = attn_set_error(ATTN_E_FORMAT, "%s: tokenizer has %d pieces, the model %lld", path, vocab,
                           (long long)out->m->cfg.vocab);
    attn_st_close(st);
    if (s) attn_text_classifier_free(out);
    return s;
}

void attn_text_classifier_free(attn_text_classifier *tc)
{
    if (!tc) return;
    attn_classifier_free(tc->m);
    attn_spm_free(tc->sp);
    memset(tc, 0, sizeof *tc);
}

int attn_cls_train_tokenizer(char *const *texts, const uint8_t *take, int64_t n, int64_t max_texts, int vocab,
                             int threads, uint64_t seed, attn_spm **sp)
{
    if (!sp || (n > 0 && !texts) || n < 0 || max_texts < 0)
        return attn_set_error(ATTN_E_ARG, "attn_cls_train_tokenizer: texts %p, n %lld, max_texts %lld",
                              (const void *)texts, (long long)n, (long long)max_texts);
    *sp = NULL;
    int64_t k = 0;
    char **sent = malloc((size_t)(n + 1) * sizeof *sent);
    int st = sent ? ATTN_OK : attn_set_error(ATTN_E_NOMEM, "attn_cls_train_tokenizer: %lld texts", (long long)n);
    for (int64_t i = 0; st == ATTN_OK && i < n; i++) {
        if (take && !take[i]) continue;
        if (max_texts && k >= max_texts) break;
        if ((st = attn_text_clean_alloc(texts[i], &sent[k])) == ATTN_OK) k++;
    }
    attn_spm_train_options o = {.model_type = ATTN_SPM_BPE,
                                .vocab_size = vocab,
                                .character_coverage = 0.9995,
                                .normalization = ATTN_SPM_NORM_NMT_NFKC,
                                .num_threads = threads,
                                .seed = (uint32_t)seed + 1};
    if (st == ATTN_OK && (st = attn_spm_train((const char *const *)sent, k, &o, sp)))
        st = attn_set_error(st, "tokenizer: %s", attn_spm_last_error());
    for (int64_t i = 0; i < k; i++) free(sent[i]);
    free(sent);
    return st;
}
