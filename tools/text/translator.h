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
/* The same from the checkpoint (or run state) file at path. */
int attn_spm_from_checkpoint(const char *path, attn_spm **sp);
/* Text → ids (no BOS/EOS), *ids malloc'ed; ids → text, *text malloc'ed. Errors through
 * attn_last_error. */
int attn_spm_encode_alloc(const attn_spm *sp, const char *text, int32_t **ids, int64_t *n);
int attn_spm_decode_alloc(const attn_spm *sp, const int32_t *ids, int64_t n, char **text);

/* ---- training and reopening a subword translation model ---------------------------------- */

/* The tokenizer serialized, as a malloc'ed base64 string (what attn.spm.model holds). */
int attn_spm_to_base64(const attn_spm *sp, char **b64);
/* The tokenizer as a file at path, written to a temporary file beside it and renamed. */
int attn_spm_save_atomic(const attn_spm *sp, const char *path);
/* A joint source+target BPE tokenizer of `vocab` pieces learned from the training pairs
 * (identity normalisation: case, punctuation and spacing kept, so decoding is exact). */
int attn_spm_train_joint(const attn_parallel *train, int vocab, uint32_t seed, attn_spm **sp);
/* Encode the pairs of d for attn_mt_task: src + EOS, tgt without BOS/EOS; a pair with an empty
 * side, or longer than max_len with EOS/BOS, is dropped (*dropped, may be NULL, counts them).
 * *pairs (free with attn_mt_pairs_free(*pairs, *n)) is NULL on failure. */
int attn_mt_encode_pairs(const attn_parallel *d, const attn_spm *sp, int64_t max_len, attn_mt_pair **pairs,
                         int64_t *n, int64_t *dropped);
/* Greedy BLEU (13a, cased) of the first n sentences of val, as attn_mt_task_config's metric
 * (user: an attn_mt_bleu_hook; NaN when there is no sentence). */
typedef struct attn_mt_bleu_hook {
    const attn_seq2seq *tf;      /* one of tf, gru */
    const attn_gru_seq2seq *gru;
    const attn_spm *sp;
    const attn_parallel *val;
    int64_t n;
} attn_mt_bleu_hook;
int attn_mt_val_bleu(void *user, attn_tape *t, double *bleu);
/* Open a subword translation checkpoint (attn.tokenizer = spm; not the character models, which
 * attn_translator_open also reads): the model in *tf or *gru, its tokenizer in *sp, checked
 * against each other. All three NULL on failure. */
int attn_mt_open(const char *path, attn_seq2seq **tf, attn_gru_seq2seq **gru, attn_spm **sp);

/* ---- training runs (runs) --------------------------------------------------------------------- */

/* Rank 0's tokenizer to every rank of a run (attn_train_comm_share): rank 0 passes its status st
 * and, when st is ATTN_OK, its *sp; the others receive *sp (a new model: free it), or an error
 * when rank 0 failed (ATTN_E_ARG "rank 0 has no tokenizer") or the broadcast did; a rank that
 * enters with an error keeps it. comm NULL or one rank: returns st. */
int attn_spm_share(const attn_train_comm *comm, int st, attn_spm **sp);

/* A subword translation model scored on d (source and reference sides): its translations
 * (attn_translate_texts_progress with o, batch sentences at a time, on_batch as there), their
 * corpus BLEU (13a) cased and lowercased and chrF2 against the references, and the time the
 * translation took. Exactly one of tf, gru. Free out with attn_mt_eval_free (zeroed first, so
 * also after a failure; hyp stays NULL when the translation failed). */
typedef struct attn_mt_eval {
    int64_t n;
    char **hyp;                   /* [n] malloc'ed translations, in d's order */
    attn_bleu_result bleu, bleu_lc;
    attn_chrf_result chrf;
    double seconds;
} attn_mt_eval;
int attn_mt_evaluate(attn_tape *t, const attn_seq2seq *tf, const attn_gru_seq2seq *gru, const attn_spm *sp,
                     const attn_parallel *d, const attn_generate_options *o, int64_t batch,
                     void (*on_batch)(void *user, int64_t done, int64_t n), void *user, attn_mt_eval *out);
void attn_mt_eval_free(attn_mt_eval *e);

/* What attn_mt_run did, filled as it goes (attn_run_hooks: each stage sees its part set). */
typedef struct attn_mt_run_result {
    int64_t n_pairs;              /* ATTN_RUN_TOKENIZER_BEGIN: training pairs read */
    int32_t vocab;                /* ATTN_RUN_DATA: the tokenizer's pieces */
    int64_t n_train, dropped_train, n_val, dropped_val; /* pairs kept and dropped (too long, empty) */
    int64_t params;               /* ATTN_RUN_MODEL: parameters (a tied output layer counted once) */
    int tied;                     /* the output projection is the target embedding */
    attn_train_result train;      /* at the end (final_name: the final model in out_dir) */
} attn_mt_run_result;

/* Train (or resume) a subword translation model, as `attn train translate` does: data holds
 * train.en, train.de, val.en, val.de (attn_parallel_load); a joint SentencePiece BPE of c->vocab
 * pieces learned from the training pairs (attn_spm_train_joint, also written as
 * out_dir/spm.model; on resume the one in out_dir/run.safetensors); the pairs encoded up to the
 * model's max_len (attn_mt_encode_pairs); the Transformer c->model (gru 0; c->tie_output: the
 * output layer shares the target embedding) or the GRU c->gru; attn_mt_task (validation metric:
 * greedy BLEU of the first c->val_bleu_n validation sentences) on attn_train_run with AdamW (0.9,
 * 0.98, 1e-9), warm-up then inverse square root or the budget schedule, c->avg_last epochs
 * averaged, and c->max_minutes covering the whole call. out_dir is created once the data is
 * read. hooks as attn_cls_run's. ATTN_E_ARG for tie_output with the GRU, batch_tokens below
 * max_len or lr ≤ 0. */
int attn_mt_run(const attn_mt_run_config *c, int gru, const char *data, const char *out_dir, int resume,
                const attn_run_hooks *hooks, attn_mt_run_result *res);

#ifdef __cplusplus
}
#endif
#endif
