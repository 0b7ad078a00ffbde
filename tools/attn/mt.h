/* mt.h — what the translation commands share (`attn train translate`, `attn eval translate`,
 * `attn translate` on subword models): the SentencePiece tokenizer stored inside a checkpoint,
 * sentence ↔ id conversion with the model's special ids, and batched translation of text. */
#ifndef ATTN_MT_H
#define ATTN_MT_H

#include "attn.h"
#include "cli.h"
#include "../text/translator.h"

/* Metadata keys of a subword translation checkpoint:
 *   attn.tokenizer = "spm", attn.spm.model = base64 of the serialized SentencePiece model. */
#define MT_META_SPM "attn.spm.model"

/* The tokenizer as a malloc'ed base64 string (attn_spm_from_reader reads it back). */
int mt_spm_to_b64(const attn_spm *sp, char **b64);

/* Train a joint source+target BPE model on the training pairs (identity normalisation: case,
 * punctuation and spacing kept, so decoding is exact). */
int mt_spm_train_joint(const attn_parallel *train, int vocab, uint32_t seed, attn_spm **sp);

/* A subword translation model: one of the two architectures. */
typedef struct mt_model {
    attn_seq2seq *tf;      /* attn.arch = transformer-seq2seq */
    attn_gru_seq2seq *gru; /* attn.arch = gru-seq2seq */
} mt_model;

attn_params *mt_model_params(const mt_model *m);
int32_t mt_model_pad(const mt_model *m);
int64_t mt_model_max_len(const mt_model *m);
const char *mt_model_arch(const mt_model *m); /* "transformer" or "gru" */
void mt_model_free(mt_model *m);              /* frees what it holds; *m becomes empty */

/* Open a subword translation checkpoint (attn.tokenizer "spm"): the model (either
 * architecture) and its tokenizer. */
int mt_open_model(const char *path, mt_model *m, attn_spm **sp);

#endif
