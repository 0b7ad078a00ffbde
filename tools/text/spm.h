/*
 * spm.h — SentencePiece behind a small C interface (the attn_spm_ prefix).
 *
 * Lives beside libattn, not in it: libattn stays plain C. Link build/libattn_text.a with
 * -lsentencepiece -lsentencepiece_train and the C++ runtime (-lstdc++, or link with c++).
 *
 * Every function returns a status from attn.h (0 = ATTN_OK, negative ATTN_E_*); on failure
 * attn_spm_last_error() says what went wrong, in this thread. No C++ exception crosses this
 * interface. Free functions accept NULL.
 *
 * Special ids, fixed for every model trained here:
 *   0 <pad>   padding (control: never produced by encode, dropped by decode)
 *   1 <unk>   unknown (not produced in practice: byte fallback spells unseen characters as
 *             UTF-8 byte pieces <0x00>..<0xFF>, so no input can fail or be lost)
 *   2 <s>     begin of sentence (control; add it yourself where a model wants it)
 *   3 </s>    end of sentence (control)
 * Then the control symbols, then the user-defined symbols of the options, in the order given,
 * then the 256 byte pieces, then the learned pieces.
 *
 * Round trip: decode(encode(text)) == text for text that the normaliser leaves unchanged —
 * with ATTN_SPM_NORM_IDENTITY: any valid UTF-8 without leading, trailing or repeated spaces;
 * with ATTN_SPM_NORM_NMT_NFKC, text that is also NFKC-normalised. Case and punctuation are kept.
 */
#ifndef ATTN_SPM_H
#define ATTN_SPM_H

#include <stddef.h>
#include <stdint.h>

#include "attn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ATTN_SPM_PAD_ID 0
#define ATTN_SPM_UNK_ID 1
#define ATTN_SPM_BOS_ID 2
#define ATTN_SPM_EOS_ID 3

typedef struct attn_spm attn_spm;

typedef enum attn_spm_model_type {
    ATTN_SPM_UNIGRAM = 0,
    ATTN_SPM_BPE = 1
} attn_spm_model_type;

typedef enum attn_spm_normalization {
    ATTN_SPM_NORM_NMT_NFKC = 0, /* NFKC + NMT clean-ups (SentencePiece's default) */
    ATTN_SPM_NORM_IDENTITY = 1  /* no change (but runs of spaces still collapse) */
} attn_spm_normalization;

/* Zero-initialised options: unigram, 8000 pieces, coverage 1.0, nmt_nfkc, 1 thread. */
typedef struct attn_spm_train_options {
    attn_spm_model_type model_type;
    int vocab_size;                       /* 0: 8000; must exceed 4 + symbols + 256 bytes */
    double character_coverage;            /* (0, 1]; 0: 1.0 */
    attn_spm_normalization normalization;
    int num_threads;                      /* 0: 1 */
    int64_t max_sentences;                /* sample at most this many sentences; 0: all */
    int hard_vocab_limit;                 /* nonzero: fail when vocab_size cannot be reached;
                                             0: the model may come out smaller */
    uint32_t seed;                        /* sampling seed; 0: SentencePiece's default */
    const char *const *control_symbols;   /* reserved ids, never produced by encode */
    int n_control_symbols;
    const char *const *user_symbols;      /* always kept whole when they occur in text */
    int n_user_symbols;
    int verbose;                          /* nonzero: SentencePiece's training log on stderr */
    int keep_whitespace;                  /* nonzero: no dummy prefix "▁" before the text and no
                                             clean-up of spaces (leading, trailing, repeated): with
                                             ATTN_SPM_NORM_IDENTITY every space survives, as a
                                             language model on raw text needs */
} attn_spm_train_options;

/* Train on n sentences (UTF-8, one per entry). */
int attn_spm_train(const char *const *sentences, int64_t n, const attn_spm_train_options *opt,
                   attn_spm **out);
/* Train on a text file, one sentence a line. */
int attn_spm_train_file(const char *path, const attn_spm_train_options *opt, attn_spm **out);

/* Load a model file (.model, the serialized ModelProto). */
int attn_spm_load_file(const char *path, attn_spm **out);
/* Load from the same bytes in memory (e.g. a tokenizer stored inside a checkpoint). */
int attn_spm_load_bytes(const void *data, size_t size, attn_spm **out);
void attn_spm_free(attn_spm *sp);

/* The model as bytes: writes *size bytes into buf when cap ≥ *size; buf NULL: size only.
 * Too small a buffer fails (ATTN_E_ARG) writing nothing. */
int attn_spm_serialize(const attn_spm *sp, void *buf, size_t cap, size_t *size);
int attn_spm_save_file(const attn_spm *sp, const char *path);

int attn_spm_vocab_size(const attn_spm *sp, int32_t *size);

/* Text → ids. *n_ids = number of ids; they are written when ids is not NULL and cap ≥ *n_ids
 * (ATTN_E_ARG if smaller). ids NULL: count only. */
int attn_spm_encode(const attn_spm *sp, const char *text, int32_t *ids, int64_t cap,
                    int64_t *n_ids);
/* Ids → text (control ids dropped). *len = bytes without the NUL; written with the NUL when
 * out is not NULL and cap > *len. Ids outside [0, vocab_size) fail (ATTN_E_ARG). */
int attn_spm_decode(const attn_spm *sp, const int32_t *ids, int64_t n, char *out, size_t cap,
                    size_t *len);
/* The piece of an id ("▁the", "<0xF0>", "<s>"): *piece points into the model, valid while it
 * lives. */
int attn_spm_id_to_piece(const attn_spm *sp, int32_t id, const char **piece);
/* The id of a piece; *id = ATTN_SPM_UNK_ID when the piece is not in the vocabulary. */
int attn_spm_piece_to_id(const attn_spm *sp, const char *piece, int32_t *id);

/* Detail of the last failure in this thread ("" if none). */
const char *attn_spm_last_error(void);

/* ---- lines of ids or pieces (spm: attn_spm_encode_line, attn_spm_decode_line; spm_lines.c) --
 * What `attn spm encode` and `attn spm decode` print for one line. Unlike the calls above these
 * report failures through attn_last_error() (attn.h), wrapping attn_spm_last_error()'s text. */

/* text → its ids (pieces ≠ 0: their pieces) separated by single spaces, NUL-terminated,
 * malloc'ed into *out (free it). */
int attn_spm_encode_line(const attn_spm *sp, const char *text, int pieces, char **out);
/* A line of decimal ids separated by spaces or tabs → the text, malloc'ed into *out (free it).
 * ATTN_E_FORMAT when something else follows the ids: `not an id: "REST"`; ATTN_E_ARG for an id
 * outside the vocabulary (attn_spm_decode). */
int attn_spm_decode_line(const attn_spm *sp, const char *line, char **out);

#ifdef __cplusplus
}
#endif
#endif /* ATTN_SPM_H */
