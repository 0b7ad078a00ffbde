/* translator.c — text in, text out with a saved translation model (translator.h). */
#include "translator.h"


#include <stdlib.h>
#include <string.h>

struct attn_translator {
    attn_seq2seq *tf;
    attn_gru_seq2seq *gru;
    attn_spm *sp;  /* NULL: the character tokenizer */
    attn_tape *t;
};

static int spm_status(int st, const char *what)
{
    return st ? attn_set_error(st, "%s: %s", what, attn_spm_last_error()) : ATTN_OK;
}

int attn_spm_from_reader(const attn_st_reader *st, attn_spm **sp)
{
    const char *b64 = attn_st_metadata(st, "attn.spm.model");
    if (!b64) b64 = attn_st_metadata(st, "attn.tokenizer.model");
    if (!b64) return attn_set_error(ATTN_E_FORMAT, "checkpoint has no tokenizer (attn.spm.model)");
    unsigned char *bytes;
    size_t n;
    int s = attn_base64_decode(b64, strlen(b64), &bytes, &n);
    if (s) return s;
    s = spm_status(attn_spm_load_bytes(bytes, n, sp), "tokenizer in the checkpoint");
    free(bytes);
    return s;
}

int attn_spm_encode_alloc(const attn_spm *sp, const char *text, int32_t **ids, int64_t *n)
{
    int64_t k = 0;
    int st = spm_status(attn_spm_encode(sp, text, NULL, 0, &k), "encode");
    if (st) return st;
    *ids = malloc((size_t)(k > 0 ? k : 1) * sizeof **ids);
    if (!*ids) return attn_set_error(ATTN_E_NOMEM, "encode: out of memory");
    st = spm_status(attn_spm_encode(sp, text, *ids, k, n), "encode");
    if (st) free(*ids), *ids = NULL;
    return st;
}

int attn_spm_decode_alloc(const attn_spm *sp, const int32_t *ids, int64_t n, char **text)
{
    size_t len = 0;
    int st = spm_status(attn_spm_decode(sp, ids, n, NULL, 0, &len), "decode");
    if (st) return st;
    *text = malloc(len + 1);
    if (!*text) return attn_set_error(ATTN_E_NOMEM, "decode: out of memory");
    st = spm_status(attn_spm_decode(sp, ids, n, *text, len + 1, &len), "decode");
    if (st) free(*text), *text = NULL;
    return st;
}

void attn_translator_free_strings(char **s, int64_t n)
{
    if (!s) return;
    for (int64_t i = 0; i < n; i++) free(s[i]);
    free(s);
}

/* ---- batched translation ------------------------------------------------------------------ */

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

/* Encode one text: SentencePiece, or the character vocabulary (sp NULL). */
static int encode(const attn_spm *sp, const char *text, int32_t **ids, int64_t *n)
{
    if (sp) return attn_spm_encode_alloc(sp, text, ids, n);
    const int64_t len = (int64_t)strlen(text);
    *ids = malloc((size_t)(len > 0 ? len : 1) * sizeof **ids);
    if (!*ids) return attn_set_error(ATTN_E_NOMEM, "encode: out of memory");
    for (int64_t i = 0; i < len; i++) (*ids)[i] = attn_ascii_id((unsigned char)text[i]);
    *n = len;
    return ATTN_OK;
}

static int decode(const attn_spm *sp, const int32_t *ids, int64_t n, char **text)
{
    if (sp) return attn_spm_decode_alloc(sp, ids, n, text);
    *text = malloc((size_t)n + 1);
    if (!*text) return attn_set_error(ATTN_E_NOMEM, "decode: out of memory");
    for (int64_t i = 0; i < n; i++) (*text)[i] = attn_ascii_char(ids[i]);
    (*text)[n] = '\0';
    return ATTN_OK;
}

int attn_translate_texts(attn_tape *t, const attn_seq2seq *tf, const attn_gru_seq2seq *gru,
                         const attn_spm *sp, const char *const *src, int64_t n,
                         const attn_generate_options *o, int64_t batch, char ***out)
{
    if (!t || !!tf == !!gru || !src || !o || !out || n < 1 || batch < 1)
        return attn_set_error(ATTN_E_ARG, "attn_translate_texts: bad arguments (n=%lld, batch=%lld)",
                              (long long)n, (long long)batch);
    const int64_t maxS = tf ? tf->cfg.max_len : gru->cfg.max_len;
    const int32_t pad = tf ? tf->cfg.pad_id : gru->cfg.pad_id;
    const int32_t bos = sp ? ATTN_SPM_BOS_ID : ATTN_ASCII_BOS, eos = sp ? ATTN_SPM_EOS_ID : ATTN_ASCII_EOS;
    src_item *items = calloc((size_t)n, sizeof *items);
    char **res = calloc((size_t)n, sizeof *res);
    int32_t *buf = malloc((size_t)(batch * maxS) * sizeof *buf);
    int32_t *ids = malloc((size_t)(batch * maxS) * sizeof *ids);
    int64_t *olen = malloc((size_t)batch * sizeof *olen);
    int st = (!items || !res || !buf || !ids || !olen) ? attn_set_error(ATTN_E_NOMEM, "translate: out of memory")
                                                        : ATTN_OK;
    /* subword models read their source with EOS appended; the character (date) model without */
    const int64_t src_eos = sp != NULL;
    for (int64_t i = 0; st == ATTN_OK && i < n; i++) {
        items[i].index = i;
        st = encode(sp, src[i], &items[i].ids, &items[i].len);
        if (st == ATTN_OK && !sp && items[i].len > maxS) /* characters: the model cannot read it */
            st = attn_set_error(ATTN_E_ARG, "input %lld of %lld characters is longer than the model's %lld",
                                (long long)i + 1, (long long)items[i].len, (long long)maxS);
        if (st == ATTN_OK && items[i].len > maxS - src_eos) items[i].len = maxS - src_eos; /* subwords: cut */
    }
    if (st == ATTN_OK) qsort(items, (size_t)n, sizeof *items, by_len);
    int64_t b0 = 0; /* empty lines (first after sorting) translate to empty lines */
    for (; st == ATTN_OK && b0 < n && items[b0].len == 0; b0++)
        if (!(res[items[b0].index] = calloc(1, 1))) st = attn_set_error(ATTN_E_NOMEM, "translate: out of memory");
    for (; st == ATTN_OK && b0 < n; b0 += batch) {
        int64_t B = n - b0 < batch ? n - b0 : batch, S = 1;
        for (int64_t i = 0; i < B; i++)
            if (items[b0 + i].len + src_eos > S) S = items[b0 + i].len + src_eos;
        for (int64_t i = 0; i < B; i++) {
            const src_item *it = &items[b0 + i];
            for (int64_t j = 0; j < S; j++)
                buf[i * S + j] = j < it->len ? it->ids[j] : j == it->len && src_eos ? eos : pad;
        }
        attn_generate_options od = *o;
        od.bos_id = bos, od.eos_id = eos;
        if (od.max_new > maxS - 1) od.max_new = maxS - 1;
        st = gru ? attn_gru_seq2seq_generate(gru, t, buf, B, S, &od, ids, maxS, olen, NULL)
                 : attn_seq2seq_generate(tf, t, buf, B, S, &od, ids, maxS, olen, NULL);
        for (int64_t i = 0; st == ATTN_OK && i < B; i++)
            st = decode(sp, ids + i * maxS, olen[i], &res[items[b0 + i].index]);
    }
    for (int64_t i = 0; items && i < n; i++) free(items[i].ids);
    free(items), free(buf), free(ids), free(olen);
    if (st) {
        attn_translator_free_strings(res, n);
        return st;
    }
    *out = res;
    return ATTN_OK;
}

/* ---- the translator object ------------------------------------------------------------------ */

void attn_translator_free(attn_translator *tr)
{
    if (!tr) return;
    attn_seq2seq_free(tr->tf);
    attn_gru_seq2seq_free(tr->gru);
    attn_spm_free(tr->sp);
    attn_tape_free(tr->t);
    free(tr);
}

const char *attn_translator_arch(const attn_translator *tr)
{
    return !tr ? NULL : tr->tf ? "transformer" : "gru";
}

int attn_translator_open(const char *path, attn_translator **out)
{
    if (!path || !out) return attn_set_error(ATTN_E_ARG, "attn_translator_open: NULL argument");
    *out = NULL;
    attn_st_reader *st;
    int s = attn_st_open(path, &st);
    if (s) return s;
    const char *arch = attn_st_metadata(st, "attn.arch"), *tok = attn_st_metadata(st, "attn.tokenizer");
    const int gru = arch && !strcmp(arch, "gru-seq2seq"), tf = arch && !strcmp(arch, "transformer-seq2seq");
    const int chars = tok && !strcmp(tok, "chars-ascii"), spm = tok && !strcmp(tok, "spm");
    attn_translator *tr = calloc(1, sizeof *tr);
    if (!tr) s = attn_set_error(ATTN_E_NOMEM, "attn_translator_open: out of memory");
    else if (!(gru || tf) || !(spm || (chars && tf)))
        s = attn_set_error(ATTN_E_FORMAT, "%s is not a translation model (attn.arch=%s, attn.tokenizer=%s)", path,
                           arch ? arch : "none", tok ? tok : "none");
    int64_t sv = 0, tv = 0;
    if (s == ATTN_OK && gru) {
        attn_gru_seq2seq_config c;
        s = attn_gru_seq2seq_config_from_reader(st, &c), sv = c.src_vocab, tv = c.tgt_vocab;
    } else if (s == ATTN_OK) {
        attn_seq2seq_config c;
        s = attn_seq2seq_config_from_reader(st, &c), sv = c.src_vocab, tv = c.tgt_vocab;
    }
    int32_t V = ATTN_ASCII_VOCAB;
    if (s == ATTN_OK && spm) s = attn_spm_from_reader(st, &tr->sp);
    if (s == ATTN_OK && spm) s = spm_status(attn_spm_vocab_size(tr->sp, &V), "tokenizer");
    if (s == ATTN_OK && (sv != V || tv != V))
        s = attn_set_error(ATTN_E_FORMAT, "%s: vocabularies %lld/%lld, its tokenizer has %d", path, (long long)sv,
                           (long long)tv, (int)V);
    if (s == ATTN_OK) s = gru ? attn_gru_seq2seq_open(st, &tr->gru) : attn_seq2seq_open(st, &tr->tf);
    attn_tape_config tc = {0};
    if (s == ATTN_OK) s = attn_tape_create(&tc, &tr->t);
    if (s == ATTN_OK) attn_tape_set_training(tr->t, 0);
    attn_st_close(st);
    if (s) {
        attn_translator_free(tr);
        return s;
    }
    *out = tr;
    return ATTN_OK;
}

int attn_translator_translate(attn_translator *tr, const char *const *src, int64_t n,
                              const attn_generate_options *o, char ***out)
{
    if (!tr) return attn_set_error(ATTN_E_ARG, "attn_translator_translate: translator is NULL");
    return attn_translate_texts(tr->t, tr->tf, tr->gru, tr->sp, src, n, o, 32, out);
}
