/* mt_text.c — the tokenizer of a translation run and the model accessors the commands share;
 * text translation itself is the tokenizer module's (tools/text/translator.h). */
#include "mt.h"


#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int spm_status(int st, const char *what)
{
    return st ? attn_set_error(st, "%s: %s", what, attn_spm_last_error()) : ATTN_OK;
}

int mt_spm_to_b64(const attn_spm *sp, char **b64)
{
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

int mt_spm_train_joint(const attn_parallel *train, int vocab, uint32_t seed, attn_spm **sp)
{
    if (train->n > INT64_MAX / 2) return attn_set_error(ATTN_E_ARG, "tokenizer: too many sentences");
    const char **all = malloc((size_t)(2 * train->n) * sizeof *all);
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
