/* mt.h — what the translation commands share (`attn train translate`, `attn eval translate`,
 * `attn translate` on subword models): the SentencePiece tokenizer stored inside a checkpoint,
 * sentence ↔ id conversion with the model's special ids, and batched translation of text. */
#ifndef ATTN_MT_H
#define ATTN_MT_H

#include "attn.h"
#include "cli.h"
#include "../text/spm.h"

/* Metadata keys of a subword translation checkpoint:
 *   attn.tokenizer = "spm", attn.spm.model = base64 of the serialized SentencePiece model. */
#define MT_META_SPM "attn.spm.model"

/* The tokenizer of a checkpoint as a malloc'ed base64 string, and back. */
int mt_spm_to_b64(const attn_spm *sp, char **b64);
int mt_spm_from_reader(const attn_st_reader *st, attn_spm **sp);

/* Train a joint source+target BPE model on the training pairs (identity normalisation: case,
 * punctuation and spacing kept, so decoding is exact). */
int mt_spm_train_joint(const attn_parallel *train, int vocab, uint32_t seed, attn_spm **sp);

/* Text → ids (no BOS/EOS). *ids malloc'ed. */
int mt_encode(const attn_spm *sp, const char *text, int32_t **ids, int64_t *n);

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

/* Translate n sentences with a subword model: encodes each source (+ EOS, cut to the model's
 * max_len), decodes in length-sorted batches of `batch` sentences (attn_seq2seq_generate or
 * attn_gru_seq2seq_generate; o->bos_id/eos_id are set here), detokenises. hyps[i] is malloc'ed
 * (free each, then the array with mt_free_strings). o->max_new 0: the library's bound per batch,
 * min(model max_len − 1, 2·S + 10). */
int mt_translate_texts(attn_tape *t, const mt_model *m, const attn_spm *sp,
                       const char *const *src, int64_t n, const attn_generate_options *o, int64_t batch,
                       char ***hyps);

void mt_free_strings(char **s, int64_t n);

/* Open a subword translation checkpoint (attn.tokenizer "spm"): the model (either
 * architecture) and its tokenizer. */
int mt_open_model(const char *path, mt_model *m, attn_spm **sp);

#endif
