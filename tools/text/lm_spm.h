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

/* ---- language models with their tokenizer; the training run (runs) ------------------------- */

/* A language model to generate with or evaluate: an attn_lm_run checkpoint (attn.tokenizer
 * "chars": the character vocabulary attn.chars.vocab; "spm": the BPE attn.spm.model) or a
 * Hugging Face GPT-2 directory (model.safetensors + config.json, byte-level BPE). Exactly one of
 * bpe, spm, chars (chars.V > 0) is the tokenizer. */
typedef struct attn_lm_model {
    attn_gpt *m;
    attn_bpe *bpe;     /* GPT-2 directories */
    attn_lm_spm *spm;  /* checkpoints of a BPE run */
    attn_chars chars;  /* checkpoints of a character run */
} attn_lm_model;
/* Open path (a checkpoint file or a GPT-2 directory) into *lm (zeroed on failure); the
 * tokenizer must fit the model's vocabulary (ATTN_E_FORMAT). Free with attn_lm_model_free. */
int attn_lm_model_open(const char *path, attn_lm_model *lm);
void attn_lm_model_free(attn_lm_model *lm);
/* len bytes of text → *ids (malloc'ed, *n of them); a byte outside a character vocabulary is
 * ATTN_E_ARG naming `what`, its line, its byte in the line and its offset. */
int attn_lm_model_encode(const attn_lm_model *lm, const char *what, const unsigned char *text, size_t len,
                         int32_t **ids, int64_t *n);
/* The bytes token id stands for (*bytes points into lm), 0 when there are none. */
size_t attn_lm_model_token(const attn_lm_model *lm, int32_t id, const char **bytes);
/* Continue prompt (non-empty text) with max_new tokens (past the model's context the window
 * slides: attn_gpt_generate), with o's greedy or sampling settings (eos_id, sample, temperature, top_k, top_p,
 * seed; its max_new and on_token are set here), through the key/value cache: on_text receives
 * the prompt, then each generated token's bytes as it is made (a nonzero return stops; ATTN_OK).
 * *generated (may be NULL): tokens generated. ATTN_E_ARG for a prompt that encodes to no token
 * or fills the context. */
int attn_lm_model_generate(const attn_lm_model *lm, const char *prompt, int64_t max_new,
                           const attn_generate_options *o,
                           int (*on_text)(void *user, const char *bytes, size_t n), void *user,
                           int64_t *generated);
/* The mean next-token loss (nats) of the model over bytes bytes of text (attn_lm_stream_loss:
 * consecutive windows of the context, batch at a time, threads for the tape, 0: the library's):
 * *loss and *tokens (predicted). ATTN_E_ARG (naming `what`) for fewer than 2 tokens or a byte
 * outside a character vocabulary. */
int attn_lm_model_eval(const attn_lm_model *lm, const char *what, const char *text, size_t bytes, int64_t batch,
                       int threads, double *loss, int64_t *tokens);

/* What attn_lm_run did, filled as it goes (attn_run_hooks: each stage sees its part set). */
typedef struct attn_lm_run_result {
    int64_t train_bytes, val_bytes; /* ATTN_RUN_TOKENIZER_BEGIN: the first 90 % of the text, the rest */
    int32_t vocab;                  /* ATTN_RUN_TOKENIZER: the BPE's pieces (ATTN_RUN_DATA: the
                                     * model's vocabulary, BPE pieces or the text's distinct bytes), */
    double tokenizer_seconds;       /* and the time learning it took */
    int64_t train_tokens, val_tokens; /* ATTN_RUN_DATA */
    int64_t params;                 /* ATTN_RUN_MODEL */
    uint64_t weights_hash;          /* under a communicator: the weights' checksum, checked the same on
                                     * every rank at the end */
    attn_train_result train;        /* at the end: best_metric = minus the best validation loss */
} attn_lm_run_result;

/* Train (or resume) a GPT on the text file at data, as `attn train lm` does: its first 90 % of
 * bytes train, the rest validates; the tokenizer is the text's distinct bytes (c->bpe 0) or a BPE
 * of c->vocab pieces learned from the training part (attn_lm_spm_train, hooks->threads or 2
 * threads; on resume the one in out_dir/run.safetensors), the two parts encoded apart;
 * attn_lm_task on attn_train_run with AdamW (0.9, 0.99, 1e-8), warm-up then cosine to
 * c->min_lr_ratio (or the budget schedule over c->minutes); every model carries the tokenizer
 * (attn.tokenizer chars + attn.chars.vocab, or spm + attn.spm.model). Resuming a BPE run without
 * c->bpe, or the reverse, is ATTN_E_ARG. With a communicator: the same configuration and text on
 * every rank (checked), rank 0 learns the BPE and sends it, and every rank ends with the same
 * weights (checked). hooks may be NULL. */
int attn_lm_run(const attn_lm_run_config *c, const char *data, const char *out_dir, int resume,
                const attn_run_hooks *hooks, attn_lm_run_result *res);

#ifdef __cplusplus
}
#endif
#endif
