/*
 * attn/translator.h — translate text with a saved model: open a checkpoint (the encoder–decoder
 * Transformer or the GRU encoder–decoder, with the tokenizer stored inside it), hand it
 * sentences, get sentences back. Part of the tokenizer module (libattn_text, pkg-config
 * `attn-text`), beside libattn: it needs SentencePiece.
 *
 *     attn_translator *tr;
 *     if (attn_translator_open("model.safetensors", &tr)) fail(attn_last_error());
 *     attn_generate_options o = {.beam = 5, .len_penalty = 0.6f};
 *     char **out;
 *     attn_translator_translate(tr, texts, n, &o, &out);   // out[i]: malloc'ed UTF-8
 *     attn_translator_free_strings(out, n);
 *     attn_translator_free(tr);
 *
 * Tokenizers: "spm" (a SentencePiece model, base64 in the metadata attn.spm.model or
 * attn.tokenizer.model) and "chars-ascii" (the date demo's printable-ASCII characters).
 */
#ifndef ATTN_TRANSLATOR_H
#define ATTN_TRANSLATOR_H

#include "attn.h"
#include "spm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct attn_translator attn_translator;

/* Open a translation checkpoint: its model and tokenizer, checked against each other (the
 * vocabularies must agree) before anything is allocated for the weights. Threads: the
 * library's default (attn_set_num_threads). */
int attn_translator_open(const char *path, attn_translator **out);
void attn_translator_free(attn_translator *tr);
/* "transformer" or "gru". */
const char *attn_translator_arch(const attn_translator *tr);

/* Translate n sentences: encoded (subwords: + EOS, cut to the model's length; characters: longer
 * than the model's length is an error), decoded in length-sorted
 * batches of 32 with o (bos_id and eos_id are the tokenizer's and are set here; zero options:
 * greedy, the library's length bound), decoded back to text. *out: n malloc'ed strings, in the
 * input's order. An empty line translates to an empty line. */
int attn_translator_translate(attn_translator *tr, const char *const *src, int64_t n,
                              const attn_generate_options *o, char ***out);
void attn_translator_free_strings(char **s, int64_t n);

/* The batched text translation itself, for a model the caller holds (a training run's
 * validation): exactly one of tf, gru; sp the SentencePiece tokenizer; t the tape the encoder
 * runs on; batch sentences per decoding batch. */
int attn_translate_texts(attn_tape *t, const attn_seq2seq *tf, const attn_gru_seq2seq *gru,
                         const attn_spm *sp, const char *const *src, int64_t n,
                         const attn_generate_options *o, int64_t batch, char ***out);
/* The same, calling on_batch (may be NULL) after each decoding batch with the number of
 * sentences done so far, for a progress line. */
int attn_translate_texts_progress(attn_tape *t, const attn_seq2seq *tf, const attn_gru_seq2seq *gru,
                                  const attn_spm *sp, const char *const *src, int64_t n,
                                  const attn_generate_options *o, int64_t batch,
                                  void (*on_batch)(void *user, int64_t done, int64_t n), void *user,
                                  char ***out);

/* The SentencePiece model stored in a checkpoint's metadata (attn.spm.model, or the classifier's
 * attn.tokenizer.model). */
int attn_spm_from_reader(const attn_st_reader *st, attn_spm **sp);
/* Text → ids (no BOS/EOS), *ids malloc'ed; ids → text, *text malloc'ed. Errors through
 * attn_last_error. */
int attn_spm_encode_alloc(const attn_spm *sp, const char *text, int32_t **ids, int64_t *n);
int attn_spm_decode_alloc(const attn_spm *sp, const int32_t *ids, int64_t n, char **text);

#ifdef __cplusplus
}
#endif
#endif
