/*
 * attn/lm_spm.h — a SentencePiece BPE for a language model on raw text (`attn train lm
 * --tokenizer bpe`). Part of the tokenizer module (libattn_text) beside libattn.
 *
 * The text is every byte of a file, newlines and runs of spaces included, so the tokenizer keeps
 * them all: identity normalisation, no dummy prefix "▁", no clean-up of spaces, byte fallback.
 * Lines are encoded one by one; a newline, a NUL and each byte of malformed UTF-8 is its byte
 * piece (<0x0A>, <0x00>, <0xNN>). Every token stands for a fixed byte string (a learned piece
 * with "▁" read as a space, a byte piece as its byte, the control pieces as nothing) and the
 * text is exactly the concatenation of its tokens' bytes: a line that SentencePiece would spell
 * otherwise (a literal "▁" in it, say) is encoded as its byte pieces instead.
 *
 *     attn_spm *sp;  attn_lm_spm *tok;
 *     attn_lm_spm_train(text, n, 1024, 1, 2, &sp);   // on the training text
 *     attn_lm_spm_wrap(sp, &tok);                     // tok owns sp from here
 *     attn_lm_spm_encode(tok, text, n, &ids, &n_ids);
 *     len = attn_lm_spm_token(tok, ids[i], &bytes);
 *
 * Errors through attn_last_error (status ATTN_E_*).
 */
#ifndef ATTN_LM_SPM_H
#define ATTN_LM_SPM_H

#include <stddef.h>
#include <stdint.h>

#include "attn.h"
#include "spm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct attn_lm_spm attn_lm_spm;

/* Learn a BPE of at most vocab pieces (256 byte pieces and 4 specials included, so vocab > 260)
 * from n bytes of text: its lines (cut at 4,096 bytes) are the sentences. seed: SentencePiece's
 * sampling seed; threads: its training threads (0: 1). */
int attn_lm_spm_train(const char *text, size_t n, int vocab, uint32_t seed, int threads, attn_spm **out);

/* The tokenizer over sp, which it takes (freed with it, and on failure): its byte pieces must be
 * ids 4..259 (as attn_lm_spm_train makes them). */
int attn_lm_spm_wrap(attn_spm *sp, attn_lm_spm **out);
void attn_lm_spm_free(attn_lm_spm *t);

const attn_spm *attn_lm_spm_model(const attn_lm_spm *t);
int32_t attn_lm_spm_vocab(const attn_lm_spm *t);

/* n bytes of text → *ids (malloc'ed, *n_ids of them). */
int attn_lm_spm_encode(const attn_lm_spm *t, const char *text, size_t n, int32_t **ids, int64_t *n_ids);
/* The bytes token id stands for (*bytes points into t); 0 for the control pieces and ids
 * outside the vocabulary. */
size_t attn_lm_spm_token(const attn_lm_spm *t, int32_t id, const char **bytes);

#ifdef __cplusplus
}
#endif
#endif
