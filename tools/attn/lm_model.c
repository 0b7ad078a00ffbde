/* lm_model.c — a language model as `attn generate`, `attn eval lm` and `attn viz` open it: an
 * `attn train lm` checkpoint (its tokenizer in its metadata: the character vocabulary, or the
 * SentencePiece BPE of lm_spm.h) or a Hugging Face GPT-2 directory
 * (model.safetensors + config.json, the byte-level BPE from vocab.json + merges.txt or
 * encoder.json + vocab.bpe), with text → ids and id → bytes for either. */
#include "cli.h"

#include "lm.h"
#include "../text/translator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* An attn train lm --tokenizer bpe checkpoint: attn.tokenizer = "spm", attn.spm.model. */
static int open_spm(attn_st_reader *st, lm_model *lm)
{
    attn_spm *sp = NULL;
    int s = attn_spm_from_reader(st, &sp);
    if (s == ATTN_OK) s = attn_lm_spm_wrap(sp, &lm->spm);
    if (s == ATTN_OK) s = attn_gpt_open(st, &lm->m);
    if (s == ATTN_OK && attn_lm_spm_vocab(lm->spm) != lm->m->cfg.vocab)
        s = attn_set_error(ATTN_E_FORMAT, "%d pieces in the tokenizer, the model has %lld",
                           (int)attn_lm_spm_vocab(lm->spm), (long long)lm->m->cfg.vocab);
    return s;
}

static int open_chars(const char *path, lm_model *lm)
{
    attn_st_reader *st = NULL;
    int s = attn_st_open(path, &st);
    const char *tok = s ? NULL : attn_st_metadata(st, "attn.tokenizer");
    if (tok && !strcmp(tok, "spm")) {
        s = open_spm(st, lm);
        attn_st_close(st);
        return s;
    }
    if (s == ATTN_OK && attn_chars_from_meta(st, &lm->chars))
        s = attn_set_error(ATTN_E_FORMAT, "not a character language model: %s", attn_last_error());
    if (s == ATTN_OK) s = attn_gpt_open(st, &lm->m);
    if (s == ATTN_OK && lm->chars.V != lm->m->cfg.vocab)
        s = attn_set_error(ATTN_E_FORMAT, "%d characters in the vocabulary, the model has %lld", lm->chars.V,
                           (long long)lm->m->cfg.vocab);
    attn_st_close(st);
    return s;
}

int lm_model_open(const char *path, lm_model *lm)
{
    memset(lm, 0, sizeof *lm);
    struct stat sb;
    int s;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        s = attn_gpt_load_hf(path, &lm->m);
        if (s == ATTN_OK) s = attn_bpe_load_dir(path, &lm->bpe);
        if (s == ATTN_OK && attn_bpe_vocab_size(lm->bpe) > lm->m->cfg.vocab)
            s = attn_set_error(ATTN_E_FORMAT, "the tokenizer has %lld tokens, the model %lld",
                               (long long)attn_bpe_vocab_size(lm->bpe), (long long)lm->m->cfg.vocab);
    } else {
        s = open_chars(path, lm);
    }
    if (s) lm_model_free(lm);
    return s;
}

void lm_model_free(lm_model *lm)
{
    attn_gpt_free(lm->m);
    attn_bpe_free(lm->bpe);
    attn_lm_spm_free(lm->spm);
    memset(lm, 0, sizeof *lm);
}

int lm_model_encode(const lm_model *lm, const char *what, const unsigned char *text, size_t len, int32_t **ids,
                    int64_t *n)
{
    if (lm->spm) return attn_lm_spm_encode(lm->spm, (const char *)text, len, ids, n);
    *ids = malloc((len ? len : 1) * sizeof **ids);
    if (!*ids) return attn_set_error(ATTN_E_NOMEM, "%s: out of memory", what);
    if (lm->bpe) {
        size_t got = 0;
        int s = attn_bpe_encode(lm->bpe, (const char *)text, len, *ids, len, &got);
        if (s) free(*ids), *ids = NULL;
        *n = (int64_t)got;
        return s;
    }
    int64_t line = 1, col = 1;
    for (size_t i = 0; i < len; i++) {
        const int32_t k = lm->chars.id[text[i]];
        if (k < 0) {
            free(*ids), *ids = NULL;
            return attn_set_error(ATTN_E_ARG, "%s: line %lld, byte %lld (offset %zu): byte 0x%02x is not in the model's vocabulary",
                                  what, (long long)line, (long long)col, i, text[i]);
        }
        (*ids)[i] = k;
        if (text[i] == '\n') line++, col = 1;
        else col++;
    }
    *n = (int64_t)len;
    return ATTN_OK;
}

size_t lm_model_token(const lm_model *lm, int32_t id, const char **bytes)
{
    if (lm->spm) return attn_lm_spm_token(lm->spm, id, bytes);
    if (lm->bpe) {
        size_t n = 0;
        if (attn_bpe_token_bytes(lm->bpe, id, bytes, &n)) return 0;
        return n;
    }
    if (id < 0 || id >= lm->chars.V) return 0;
    *bytes = (const char *)&lm->chars.byte[id];
    return 1;
}
