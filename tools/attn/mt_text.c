/* mt_text.c — tokenizer storage and batched text translation for the translation commands. */
#include "mt.h"

#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int spm_status(int st, const char *what)
{
    return st ? attn_fail(st, "%s: %s", what, attn_spm_last_error()) : ATTN_OK;
}

int mt_spm_to_b64(const attn_spm *sp, char **b64)
{
    size_t size = 0;
    int st = spm_status(attn_spm_serialize(sp, NULL, 0, &size), "tokenizer");
    if (st) return st;
    void *buf = malloc(size ? size : 1);
    if (!buf) return attn_fail(ATTN_E_NOMEM, "tokenizer: out of memory");
    st = spm_status(attn_spm_serialize(sp, buf, size, &size), "tokenizer");
    if (st == ATTN_OK) st = attn_base64_encode(buf, size, b64);
    free(buf);
    return st;
}

int mt_spm_from_reader(const attn_st_reader *st, attn_spm **sp)
{
    const char *b64 = attn_st_metadata(st, MT_META_SPM);
    if (!b64) return attn_fail(ATTN_E_FORMAT, "checkpoint has no %s metadata", MT_META_SPM);
    unsigned char *bytes;
    size_t n;
    int s = attn_base64_decode(b64, strlen(b64), &bytes, &n);
    if (s) return s;
    s = spm_status(attn_spm_load_bytes(bytes, n, sp), "tokenizer in the checkpoint");
    free(bytes);
    return s;
}

int mt_spm_train_joint(const attn_parallel *train, int vocab, uint32_t seed, attn_spm **sp)
{
    if (train->n > INT64_MAX / 2) return attn_fail(ATTN_E_ARG, "tokenizer: too many sentences");
    const char **all = malloc((size_t)(2 * train->n) * sizeof *all);
    if (!all) return attn_fail(ATTN_E_NOMEM, "tokenizer: out of memory");
    for (int64_t i = 0; i < train->n; i++) all[2 * i] = train->src[i], all[2 * i + 1] = train->tgt[i];
    attn_spm_train_options o = {.model_type = ATTN_SPM_BPE,
                                .vocab_size = vocab,
                                .character_coverage = 1.0,
                                .normalization = ATTN_SPM_NORM_IDENTITY,
                                .num_threads = 2,
                                .seed = seed};
    int st = spm_status(attn_spm_train(all, 2 * train->n, &o, sp), "training the tokenizer");
    free(all);
    return st;
}

int mt_encode(const attn_spm *sp, const char *text, int32_t **ids, int64_t *n)
{
    int64_t k = 0;
    int st = spm_status(attn_spm_encode(sp, text, NULL, 0, &k), "encode");
    if (st) return st;
    *ids = malloc((size_t)(k > 0 ? k : 1) * sizeof **ids);
    if (!*ids) return attn_fail(ATTN_E_NOMEM, "encode: out of memory");
    st = spm_status(attn_spm_encode(sp, text, *ids, k, n), "encode");
    if (st) free(*ids), *ids = NULL;
    return st;
}

void mt_free_strings(char **s, int64_t n)
{
    if (!s) return;
    for (int64_t i = 0; i < n; i++) free(s[i]);
    free(s);
}

typedef struct src_item {
    int32_t *ids;
    int64_t len, index;
} src_item;

static int by_len(const void *a, const void *b)
{
    const src_item *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int detok(const attn_spm *sp, const int32_t *ids, int64_t n, char **out)
{
    size_t len = 0;
    int st = spm_status(attn_spm_decode(sp, ids, n, NULL, 0, &len), "decode");
    if (st) return st;
    *out = malloc(len + 1);
    if (!*out) return attn_fail(ATTN_E_NOMEM, "decode: out of memory");
    return spm_status(attn_spm_decode(sp, ids, n, *out, len + 1, &len), "decode");
}

attn_params *mt_model_params(const mt_model *m)
{
    return m->tf ? m->tf->P : m->gru ? m->gru->P : NULL;
}

int32_t mt_model_pad(const mt_model *m)
{
    return m->tf ? m->tf->cfg.pad_id : m->gru->cfg.pad_id;
}

int64_t mt_model_max_len(const mt_model *m)
{
    return m->tf ? m->tf->cfg.max_len : m->gru->cfg.max_len;
}

const char *mt_model_arch(const mt_model *m)
{
    return m->tf ? "transformer" : "gru";
}

void mt_model_free(mt_model *m)
{
    attn_seq2seq_free(m->tf);
    attn_gru_seq2seq_free(m->gru);
    m->tf = NULL, m->gru = NULL;
}

int mt_translate_texts(attn_tape *t, const mt_model *m, const attn_spm *sp,
                       const char *const *src, int64_t n, const attn_generate_options *o, int64_t batch,
                       char ***hyps)
{
    const int64_t maxS = mt_model_max_len(m);
    const int32_t pad = mt_model_pad(m);
    if (n < 1 || batch < 1) return attn_fail(ATTN_E_ARG, "translate: n=%lld batch=%lld", (long long)n, (long long)batch);
    src_item *items = calloc((size_t)n, sizeof *items);
    char **res = calloc((size_t)n, sizeof *res);
    int32_t *buf = malloc((size_t)(batch * maxS) * sizeof *buf);
    int32_t *out = malloc((size_t)(batch * maxS) * sizeof *out);
    int64_t *olen = malloc((size_t)batch * sizeof *olen);
    int st = (!items || !res || !buf || !out || !olen) ? attn_fail(ATTN_E_NOMEM, "translate: out of memory") : ATTN_OK;
    for (int64_t i = 0; st == ATTN_OK && i < n; i++) {
        items[i].index = i;
        st = mt_encode(sp, src[i], &items[i].ids, &items[i].len);
        if (st == ATTN_OK && items[i].len > maxS - 1) items[i].len = maxS - 1; /* cut, keep EOS */
    }
    if (st == ATTN_OK) qsort(items, (size_t)n, sizeof *items, by_len);
    for (int64_t b0 = 0; st == ATTN_OK && b0 < n; b0 += batch) {
        int64_t B = n - b0 < batch ? n - b0 : batch, S = 1;
        for (int64_t i = 0; i < B; i++)
            if (items[b0 + i].len + 1 > S) S = items[b0 + i].len + 1;
        for (int64_t i = 0; i < B; i++) {
            const src_item *it = &items[b0 + i];
            for (int64_t j = 0; j < S; j++)
                buf[i * S + j] = j < it->len ? it->ids[j] : j == it->len ? ATTN_SPM_EOS_ID : pad;
        }
        attn_generate_options od = *o;
        od.bos_id = ATTN_SPM_BOS_ID, od.eos_id = ATTN_SPM_EOS_ID;
        if (od.max_new > maxS - 1) od.max_new = maxS - 1;
        st = m->gru ? attn_gru_seq2seq_generate(m->gru, t, buf, B, S, &od, out, maxS, olen, NULL)
                    : attn_seq2seq_generate(m->tf, t, buf, B, S, &od, out, maxS, olen, NULL);
        for (int64_t i = 0; st == ATTN_OK && i < B; i++)
            st = detok(sp, out + i * maxS, olen[i], &res[items[b0 + i].index]);
    }
    for (int64_t i = 0; items && i < n; i++) free(items[i].ids);
    free(items), free(buf), free(out), free(olen);
    if (st) {
        mt_free_strings(res, n);
        return st;
    }
    *hyps = res;
    return ATTN_OK;
}
