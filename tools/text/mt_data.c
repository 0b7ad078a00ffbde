/* mt_data.c — what training a subword translation model needs from the tokenizer module: a
 * joint BPE tokenizer, the tokenizer as base64 and as an atomically written file, encoded
 * sentence pairs, greedy validation BLEU, and reopening a saved model (translator.h). */
#include "translator.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int spm_status(int st, const char *what)
{
    return st ? attn_set_error(st, "%s: %s", what, attn_spm_last_error()) : ATTN_OK;
}

int attn_spm_to_base64(const attn_spm *sp, char **b64)
{
    if (!sp || !b64) return attn_set_error(ATTN_E_ARG, "attn_spm_to_base64: NULL argument");
    *b64 = NULL;
    size_t size = 0;
    int st = spm_status(attn_spm_serialize(sp, NULL, 0, &size), "tokenizer");
    if (st) return st;
    void *buf = malloc(size ? size : 1);
    if (!buf) return attn_set_error(ATTN_E_NOMEM, "tokenizer: out of memory");
    st = spm_status(attn_spm_serialize(sp, buf, size, &size), "tokenizer");
    if (st == ATTN_OK) st = attn_base64_encode(buf, size, b64);
    free(buf);
    return st;
}

int attn_spm_save_atomic(const attn_spm *sp, const char *path)
{
    if (!sp || !path) return attn_set_error(ATTN_E_ARG, "attn_spm_save_atomic: NULL argument");
    char tmp[4300];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return attn_set_error(ATTN_E_ARG, "attn_spm_save_atomic: path too long");
    if (attn_spm_save_file(sp, tmp)) return attn_set_error(ATTN_E_IO, "%s: %s", tmp, attn_spm_last_error());
    if (rename(tmp, path)) {
        int e = errno;
        remove(tmp);
        return attn_set_error(ATTN_E_IO, "cannot rename %s to %s: %s", tmp, path, strerror(e));
    }
    return ATTN_OK;
}

int attn_spm_train_joint(const attn_parallel *train, int vocab, uint32_t seed, attn_spm **sp)
{
    if (!train || !sp || !train->tgt) return attn_set_error(ATTN_E_ARG, "attn_spm_train_joint: no pairs");
    if (train->n > INT64_MAX / 2) return attn_set_error(ATTN_E_ARG, "tokenizer: too many sentences");
    const char **all = malloc((size_t)(2 * train->n + 1) * sizeof *all);
    if (!all) return attn_set_error(ATTN_E_NOMEM, "tokenizer: out of memory");
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

int attn_mt_encode_pairs(const attn_parallel *d, const attn_spm *sp, int64_t max_len, attn_mt_pair **pairs,
                         int64_t *n, int64_t *dropped)
{
    if (!d || !sp || !pairs || !n || !d->tgt) return attn_set_error(ATTN_E_ARG, "attn_mt_encode_pairs: NULL argument");
    *pairs = NULL, *n = 0;
    if (dropped) *dropped = 0;
    attn_mt_pair *p = calloc((size_t)d->n + 1, sizeof *p);
    if (!p) return attn_set_error(ATTN_E_NOMEM, "attn_mt_encode_pairs: %lld pairs", (long long)d->n);
    int64_t k = 0, drop = 0;
    int st = ATTN_OK;
    for (int64_t i = 0; st == ATTN_OK && i < d->n; i++) {
        int32_t *s = NULL, *t = NULL, *s1;
        int64_t sn, tn;
        st = attn_spm_encode_alloc(sp, d->src[i], &s, &sn);
        if (st == ATTN_OK) st = attn_spm_encode_alloc(sp, d->tgt[i], &t, &tn);
        if (st == ATTN_OK && (sn + 1 > max_len || tn + 1 > max_len || sn == 0 || tn == 0)) {
            free(s), free(t);
            drop++;
            continue;
        }
        if (st == ATTN_OK && !(s1 = realloc(s, (size_t)(sn + 1) * sizeof *s)))
            st = attn_set_error(ATTN_E_NOMEM, "attn_mt_encode_pairs: out of memory");
        if (st) {
            free(s), free(t);
            break;
        }
        s1[sn] = ATTN_SPM_EOS_ID;
        p[k++] = (attn_mt_pair){.src = s1, .tgt = t, .slen = sn + 1, .tlen = tn};
    }
    if (st) {
        attn_mt_pairs_free(p, k);
        return st;
    }
    *pairs = p, *n = k;
    if (dropped) *dropped = drop;
    return ATTN_OK;
}

int attn_mt_val_bleu(void *user, attn_tape *t, double *bleu)
{
    const attn_mt_bleu_hook *h = user;
    if (!h || !bleu || !h->val || !h->sp) return attn_set_error(ATTN_E_ARG, "attn_mt_val_bleu: NULL argument");
    int64_t n = h->n < h->val->n ? h->n : h->val->n;
    *bleu = NAN;
    if (n <= 0) return ATTN_OK;
    char **hyp = NULL;
    attn_generate_options o = {.beam = 1};
    int st = attn_translate_texts(t, h->tf, h->gru, h->sp, (const char *const *)h->val->src, n, &o, 64, &hyp);
    attn_bleu_result r;
    if (st == ATTN_OK)
        st = attn_bleu_corpus((const char *const *)hyp, (const char *const *)h->val->tgt, n, 1, NULL, &r);
    if (st == ATTN_OK) *bleu = r.score;
    if (hyp) attn_translator_free_strings(hyp, n);
    return st;
}

int attn_mt_open(const char *path, attn_seq2seq **tf, attn_gru_seq2seq **gru, attn_spm **sp)
{
    if (!path || !tf || !gru || !sp) return attn_set_error(ATTN_E_ARG, "attn_mt_open: NULL argument");
    *tf = NULL, *gru = NULL, *sp = NULL;
    attn_st_reader *st;
    int s = attn_st_open(path, &st);
    if (s) return s;
    const char *arch = attn_st_metadata(st, "attn.arch"), *tok = attn_st_metadata(st, "attn.tokenizer");
    const int is_gru = arch && !strcmp(arch, "gru-seq2seq");
    if (!arch || (strcmp(arch, "transformer-seq2seq") && !is_gru) || !tok || strcmp(tok, "spm"))
        s = attn_set_error(ATTN_E_FORMAT, "%s is not a subword translation model (attn.arch=%s, attn.tokenizer=%s)",
                           path, arch ? arch : "none", tok ? tok : "none");
    attn_seq2seq_config tc;
    attn_gru_seq2seq_config gc;
    int64_t sv = 0, tv = 0;
    if (s == ATTN_OK && is_gru) s = attn_gru_seq2seq_config_from_reader(st, &gc), sv = gc.src_vocab, tv = gc.tgt_vocab;
    else if (s == ATTN_OK) s = attn_seq2seq_config_from_reader(st, &tc), sv = tc.src_vocab, tv = tc.tgt_vocab;
    if (s == ATTN_OK) s = attn_spm_from_reader(st, sp);
    int32_t V = 0;
    if (s == ATTN_OK) s = spm_status(attn_spm_vocab_size(*sp, &V), "tokenizer");
    if (s == ATTN_OK && (sv != V || tv != V))
        s = attn_set_error(ATTN_E_FORMAT, "%s: vocabularies %lld/%lld, its tokenizer has %d", path, (long long)sv,
                           (long long)tv, (int)V);
    if (s == ATTN_OK) s = is_gru ? attn_gru_seq2seq_open(st, gru) : attn_seq2seq_open(st, tf);
    attn_st_close(st);
    if (s) {
        attn_seq2seq_free(*tf), attn_gru_seq2seq_free(*gru), attn_spm_free(*sp);
        *tf = NULL, *gru = NULL, *sp = NULL;
    }
    return s;
}

int attn_spm_from_checkpoint(const char *path, attn_spm **sp)
{
    if (!path || !sp) return attn_set_error(ATTN_E_ARG, "attn_spm_from_checkpoint: NULL argument");
    *sp = NULL;
    attn_st_reader *r = NULL;
    int st = attn_st_open(path, &r);
    if (st == ATTN_OK) st = attn_spm_from_reader(r, sp);
    attn_st_close(r);
    return st;
}
