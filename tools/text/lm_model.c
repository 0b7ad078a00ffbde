/* lm_model.c — a language model with its tokenizer (attn_lm_model, lm_spm.h): an `attn train lm`
 * checkpoint (its tokenizer in its metadata: the character vocabulary, or the SentencePiece BPE)
 * or a Hugging Face GPT-2 directory (model.safetensors + config.json, the byte-level BPE from
 * vocab.json + merges.txt or encoder.json + vocab.bpe); text → ids, id → bytes, and the
 * continuation of a prompt streamed as text. */
#include "lm_spm.h"
#include "translator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* An attn train lm --tokenizer bpe checkpoint: attn.tokenizer = "spm", attn.spm.model. */
static int open_spm(attn_st_reader *st, attn_lm_model *lm)
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

static int open_checkpoint(const char *path, attn_lm_model *lm)
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

int attn_lm_model_open(const char *path, attn_lm_model *lm)
{
    if (!lm) return attn_set_error(ATTN_E_ARG, "attn_lm_model_open: lm is NULL");
    memset(lm, 0, sizeof *lm);
    if (!path) return attn_set_error(ATTN_E_ARG, "attn_lm_model_open: path is NULL");
    struct stat sb;
    int s;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        s = attn_gpt_load_hf(path, &lm->m);
        if (s == ATTN_OK) s = attn_bpe_load_dir(path, &lm->bpe);
        if (s == ATTN_OK && attn_bpe_vocab_size(lm->bpe) > lm->m->cfg.vocab)
            s = attn_set_error(ATTN_E_FORMAT, "the tokenizer has %lld tokens, the model %lld",
                               (long long)attn_bpe_vocab_size(lm->bpe), (long long)lm->m->cfg.vocab);
    } else {
        s = open_checkpoint(path, lm);
    }
    if (s) attn_lm_model_free(lm);
    return s;
}

void attn_lm_model_free(attn_lm_model *lm)
{
    if (!lm) return;
    attn_gpt_free(lm->m);
    attn_bpe_free(lm->bpe);
    attn_lm_spm_free(lm->spm);
    memset(lm, 0, sizeof *lm);
}

int attn_lm_model_encode(const attn_lm_model *lm, const char *what, const unsigned char *text, size_t len,
                         int32_t **ids, int64_t *n)
{
    if (!lm || !text || !ids || !n) return attn_set_error(ATTN_E_ARG, "attn_lm_model_encode: an argument is NULL");
    if (!what) what = "the text";
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

size_t attn_lm_model_token(const attn_lm_model *lm, int32_t id, const char **bytes)
{
    if (!lm || !bytes) return 0;
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

typedef struct text_sink {
    const attn_lm_model *lm;
    int (*on_text)(void *user, const char *bytes, size_t n);
    void *user;
} text_sink;

static int sink_token(void *ctx, int64_t step, const int32_t *tokens, int64_t N)
{
    (void)step, (void)N;
    const text_sink *s = ctx;
    const char *b = NULL;
    const size_t n = tokens[0] >= 0 ? attn_lm_model_token(s->lm, tokens[0], &b) : 0;
    return s->on_text(s->user, n ? b : "", n);
}

int attn_lm_model_generate(const attn_lm_model *lm, const char *prompt, int64_t max_new, const attn_generate_options *o,
                           int (*on_text)(void *user, const char *bytes, size_t n), void *user, int64_t *generated)
{
    if (generated) *generated = 0;
    if (!lm || !lm->m || !prompt || !o || !on_text)
        return attn_set_error(ATTN_E_ARG, "attn_lm_model_generate: an argument is NULL");
    if (max_new < 1) return attn_set_error(ATTN_E_ARG, "attn_lm_model_generate: max_new %lld", (long long)max_new);
    int32_t *ids = NULL, *out = NULL;
    int64_t P = 0, len = 0;
    int s = attn_lm_model_encode(lm, "the prompt", (const unsigned char *)prompt, strlen(prompt), &ids, &P);
    if (s == ATTN_OK && P < 1) s = attn_set_error(ATTN_E_ARG, "the prompt encodes to no token");
    const int64_t room = lm->m->cfg.context - P;
    if (s == ATTN_OK && room < 1)
        s = attn_set_error(ATTN_E_ARG, "a prompt of %lld tokens fills the model's context of %lld", (long long)P,
                           (long long)lm->m->cfg.context);
    out = s ? NULL : malloc((size_t)(max_new + 1) * sizeof *out);
    if (s == ATTN_OK && !out) s = attn_set_error(ATTN_E_NOMEM, "out of memory");
    text_sink sink = {lm, on_text, user};
    attn_generate_options go = *o;
    go.max_new = max_new; /* past the context the window slides (attn_gpt_generate) */
    go.on_token = sink_token, go.ctx = &sink;
    const int stop = s == ATTN_OK ? on_text(user, prompt, strlen(prompt)) : 0; /* the text goes on from it */
    if (s == ATTN_OK && !stop) s = attn_gpt_generate(lm->m, ids, 1, P, &go, out, max_new + 1, &len, NULL);
    if (s == ATTN_OK && generated) *generated = len;
    free(ids), free(out);
    return s;
}

int attn_lm_model_eval(const attn_lm_model *lm, const char *what, const char *text, size_t bytes, int64_t batch,
                       int threads, double *loss, int64_t *tokens)
{
    if (!lm || !lm->m || !text || !loss || !tokens)
        return attn_set_error(ATTN_E_ARG, "attn_lm_model_eval: an argument is NULL");
    if (!what) what = "the text";
    int32_t *ids = NULL;
    int64_t n = 0;
    attn_tape *t = NULL;
    attn_tape_config tc = {.num_threads = threads};
    int s = attn_lm_model_encode(lm, what, (const unsigned char *)text, bytes, &ids, &n);
    if (s == ATTN_OK && n < 2) s = attn_set_error(ATTN_E_ARG, "%s: %lld tokens, at least 2 needed", what, (long long)n);
    if (s == ATTN_OK) s = attn_tape_create(&tc, &t);
    if (s == ATTN_OK) s = attn_lm_stream_loss(lm->m, t, ids, n, batch, loss, tokens);
    attn_tape_free(t);
    free(ids);
    return s;
}
