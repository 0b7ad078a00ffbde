/* mt.h — what the translation commands share (`attn train translate`, `attn eval translate`,
 * `attn viz` on subword models): a subword translation model, either architecture, opened with
 * its tokenizer by the tokenizer module (attn_mt_open, tools/text/translator.h). */
#ifndef ATTN_MT_H
#define ATTN_MT_H

#include "attn.h"
#include "cli.h"
#include "../text/translator.h"

typedef struct mt_model {
    attn_seq2seq *tf;      /* attn.arch = transformer-seq2seq */
    attn_gru_seq2seq *gru; /* attn.arch = gru-seq2seq */
} mt_model;

static inline int64_t mt_model_max_len(const mt_model *m) { return m->tf ? m->tf->cfg.max_len : m->gru->cfg.max_len; }
static inline const char *mt_model_arch(const mt_model *m) { return m->tf ? "transformer" : "gru"; }
/* frees what it holds; *m becomes empty */
static inline void mt_model_free(mt_model *m)
{
    attn_seq2seq_free(m->tf), attn_gru_seq2seq_free(m->gru);
    m->tf = NULL, m->gru = NULL;
}
/* Open a subword translation checkpoint: the model (either architecture) and its tokenizer. */
static inline int mt_open_model(const char *path, mt_model *m, attn_spm **sp)
{
    return attn_mt_open(path, &m->tf, &m->gru, sp);
}

#endif
