/*
 * attn/text.h — text: BLEU and chrF as sacreBLEU computes them, UTF-8 validation, cleaning,
 * GPT-2's byte-level BPE tokenizer.
 */
#ifndef ATTN_TEXT_H
#define ATTN_TEXT_H

#include "attn/core.h"
#include "attn/io.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* @@ text metrics (BLEU, chrF) @@                                                            */
/* ------------------------------------------------------------------------------------------ */

/* BLEU and chrF, computed the way sacreBLEU (2.x) computes them by default, so scores compare
 * with published ones. Strings are UTF-8, one segment (sentence) each.
 *
 * Multiple references: refs holds n_refs × n strings, refs[r·n + i] = reference r of segment i
 * (one reference set after another, as sacreBLEU's list of reference streams).
 *
 * BLEU: n-grams up to 4 over tokens; clipped counts (a hypothesis n-gram counts at most as
 * often as in the reference where it occurs most); reference length = the closest reference
 * length per segment (ties: the shorter); brevity penalty exp(1 − ref_len/hyp_len) when
 * hyp_len < ref_len; score = 100 · BP · exp(mean log precision).
 * Smoothing ATTN_BLEU_SMOOTH_EXP (sacreBLEU's default, mteval's): only matters when an n-gram
 * order has no match; its precision becomes 1/(2^k · total), k = 1, 2, … for each such order
 * in turn. With no match at all (every order) the score is 0. ATTN_BLEU_SMOOTH_NONE: an order
 * with no match gives score 0 (Papineni et al.; NLTK's corpus_bleu without smoothing). An order
 * with no n-gram at all (total 0) gives 0 under both.
 *
 * Tokenisers: ATTN_BLEU_TOKENIZE_13A is mteval-v13a as sacreBLEU implements it (the default);
 * ATTN_BLEU_TOKENIZE_NONE splits on whitespace only (for text already tokenised);
 * ATTN_BLEU_TOKENIZE_INTL is sacreBLEU's "intl" (mteval-v14 international: Unicode punctuation
 * split unless between numbers, every symbol split; \p{P}, \p{S}, \p{N} of Unicode 14);
 * ATTN_BLEU_TOKENIZE_CHAR is sacreBLEU's "char" (each non-space character a token).
 * Lowercasing maps each code point as Python's str.lower does (Unicode 14 tables), except
 * that a final capital sigma becomes σ, not ς (str.lower looks at the neighbours). */

#define ATTN_BLEU_MAX_ORDER 4

typedef enum attn_bleu_tokenize {
    ATTN_BLEU_TOKENIZE_13A = 0, /* mteval-v13a: punctuation split, numbers kept, &quot; etc. */
    ATTN_BLEU_TOKENIZE_NONE = 1, /* whitespace split only */
    ATTN_BLEU_TOKENIZE_INTL = 2, /* mteval-v14 international */
    ATTN_BLEU_TOKENIZE_CHAR = 3  /* characters */
} attn_bleu_tokenize;

typedef enum attn_bleu_smooth {
    ATTN_BLEU_SMOOTH_EXP = 0, /* sacreBLEU's default */
    ATTN_BLEU_SMOOTH_NONE = 1 /* any order without a match → 0 */
} attn_bleu_smooth;

/* Zero-initialised options are sacreBLEU's defaults: 13a, cased, exp smoothing. */
typedef struct attn_bleu_options {
    attn_bleu_tokenize tokenize;
    int lowercase;          /* nonzero: case-insensitive */
    attn_bleu_smooth smooth;
} attn_bleu_options;

typedef struct attn_bleu_result {
    double score;                               /* 0..100 */
    double precisions[ATTN_BLEU_MAX_ORDER];     /* percent, after smoothing, per n = 1..4 */
    double bp;                                  /* brevity penalty */
    int64_t matches[ATTN_BLEU_MAX_ORDER];       /* clipped matching n-grams, summed over segments */
    int64_t totals[ATTN_BLEU_MAX_ORDER];        /* hypothesis n-grams */
    int64_t hyp_len;                            /* hypothesis tokens */
    int64_t ref_len;                            /* closest reference tokens */
} attn_bleu_result;

/* Corpus BLEU of n hypotheses (n ≥ 1) against n_refs (≥ 1) reference sets. opt NULL: defaults.
 * Fails (ATTN_E_FORMAT) on a NULL or invalid-UTF-8 segment, naming it. */
ATTN_API int attn_bleu_corpus(const char *const *hyps, const char *const *refs, int64_t n,
                              int n_refs, const attn_bleu_options *opt, attn_bleu_result *out);

/* Fill score, precisions and bp of r from its counts (matches, totals, hyp_len, ref_len), e.g.
 * after adding up the counts of several batches or processes. */
ATTN_API int attn_bleu_from_counts(attn_bleu_result *r, attn_bleu_smooth smooth);

/* The tokens BLEU sees for one segment, joined by single spaces (13a and/or lowercase as in
 * opt). Writes at most out_cap bytes including the NUL; *out_len receives the length without
 * the NUL. out NULL: only *out_len. A too small buffer fails (ATTN_E_ARG), writing nothing. */
ATTN_API int attn_bleu_tokenize_line(const char *text, const attn_bleu_options *opt, char *out,
                                     size_t out_cap, size_t *out_len);

/* chrF (Popović 2015) as sacreBLEU's CHRF defaults: character n-grams n = 1..6 of each
 * segment with all whitespace removed, statistics summed over the corpus, precision and recall
 * averaged over the orders where both hypothesis and reference have n-grams, then
 * F_β = (1+β²)·P·R / (β²·P + R), reported ×100. With several references a segment takes the
 * statistics of the reference giving it the best chrF (the first, on ties). Characters are
 * Unicode code points. */

#define ATTN_CHRF_MAX_ORDER 10

/* Zero-initialised options are sacreBLEU's defaults: order 6, β = 2, cased, no whitespace. */
typedef struct attn_chrf_options {
    int char_order;         /* 1..ATTN_CHRF_MAX_ORDER; 0: 6 */
    double beta;            /* > 0; 0: 2 */
    int lowercase;
    int include_whitespace; /* nonzero: keep whitespace inside the n-grams */
} attn_chrf_options;

typedef struct attn_chrf_result {
    double score;                           /* 0..100 */
    int order;                              /* orders used (the option's char_order) */
    int64_t hyp[ATTN_CHRF_MAX_ORDER];       /* hypothesis character n-grams per order */
    int64_t ref[ATTN_CHRF_MAX_ORDER];       /* reference character n-grams per order */
    int64_t match[ATTN_CHRF_MAX_ORDER];     /* clipped matches per order */
} attn_chrf_result;

ATTN_API int attn_chrf_corpus(const char *const *hyps, const char *const *refs, int64_t n,
                              int n_refs, const attn_chrf_options *opt, attn_chrf_result *out);

/* ---- score signatures (bleu: attn_bleu_signature, attn_chrf_signature) ---------------------- */

/* sacreBLEU's signature of a score, so that it can be compared with sacreBLEU's: BLEU
 * "nrefs:N|case:mixed|eff:no|tok:13a|smooth:exp|version:attn-VERSION", chrF
 * "nrefs:N|case:mixed|eff:yes|nc:6|nw:0|space:no|version:attn-VERSION" (opt NULL: the
 * defaults). Written NUL-terminated into buf; ATTN_E_ARG when cap is too small (buf then holds
 * ""), n_refs < 1 or an option is out of range. 128 bytes always suffice. */
ATTN_API int attn_bleu_signature(const attn_bleu_options *opt, int n_refs, char *buf, size_t cap);
ATTN_API int attn_chrf_signature(const attn_chrf_options *opt, int n_refs, char *buf, size_t cap);

/* ------------------------------------------------------------------------------------------ */
/* @@ data and text @@                                                                        */
/* ------------------------------------------------------------------------------------------ */

/* UTF-8 validation (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
 * Valid: ATTN_OK. Invalid: ATTN_E_FORMAT, *bad_offset (may be NULL) = byte offset of the
 * first byte of the first invalid sequence, and a message giving that offset. */
ATTN_API int attn_utf8_validate(const char *s, size_t len, size_t *bad_offset);

/* Zero-initialised options: <br> → space, entities decoded, whitespace collapsed. */
typedef struct attn_text_clean_options {
    int br_newline;     /* nonzero: <br>, <br/>, <br /> (any case) become '\n' instead of ' ' */
    int keep_entities;  /* nonzero: leave HTML entities as they are */
    int keep_spaces;    /* nonzero: do not collapse or trim whitespace */
} attn_text_clean_options;

/* Clean review-style text (IMDb): HTML line breaks → space (or newline), the entities &amp;
 * &lt; &gt; &quot; &apos; &#39; &nbsp; &#NNN; &#xHH; decoded (code points that are invalid,
 * NUL or surrogates are left as written, as are unknown names), then runs of ASCII whitespace
 * (space, TAB, CR, LF, VT, FF) collapsed to one space — or one '\n' if the run holds a
 * newline and br_newline is set — and trimmed at both ends. Other characters are kept: case,
 * punctuation, U+0085, non-breaking spaces. The output is never longer than the input: out
 * needs at most len + 1 bytes, and may be the same buffer as in (in-place). *out_len: length
 * without the NUL. out_cap too small: ATTN_E_ARG, nothing written. */
ATTN_API int attn_text_clean(const char *in, size_t len, const attn_text_clean_options *opt,
                             char *out, size_t out_cap, size_t *out_len);
/* The same with default options into a new string: *out malloc'ed (free it), NULL on failure
 * (ATTN_E_NOMEM; ATTN_E_ARG for a NULL text or out). */
ATTN_API int attn_text_clean_alloc(const char *text, char **out);

/* ------------------------------------------------------------------------------------------ */
/* @@ GPT-2 byte-level BPE @@                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* GPT-2's tokenizer (Radford et al. 2019; OpenAI's encoder.py, Hugging Face's GPT2Tokenizer
 * without special-token handling), read from the files GPT-2 is distributed with:
 *   vocabulary  vocab.json (Hugging Face) or encoder.json (OpenAI): one JSON object mapping
 *               each token, written in the byte alphabet below, to its id; ids must be
 *               0 .. n−1, each once, and every one of the 256 single bytes must be a token
 *   merges      merges.txt (Hugging Face) or vocab.bpe (OpenAI): a first line "#version…"
 *               (any first line starting with '#' is skipped), then one merge "a b" per line
 *               (two tokens separated by spaces or tabs; blank lines ignored); line order is
 *               the rank. a, b and a+b must all be tokens of the vocabulary. A pair listed
 *               twice takes its last rank, as encoder.py's dict does.
 * Byte alphabet: each byte is written as one code point (GPT-2's bytes_to_unicode): the
 * printable bytes 0x21–0x7E, 0xA1–0xAC, 0xAE–0xFF as themselves, the other 68 as U+0100 +
 * their order among those (so the space 0x20 is 'Ġ' U+0120, '\n' is 'Ċ' U+010A).
 *
 * Encoding: the text is split by GPT-2's pattern
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * (implemented by hand; \p{L} and \p{N} are Unicode's letter and number categories, \s is
 * JavaScript's white space, all of Unicode 14.0 — see ATTN_BPE_UNICODE_VERSION), each piece's
 * UTF-8 bytes become single-byte tokens, and within a piece the adjacent pair of lowest rank
 * is merged, everywhere it occurs from left to right, until no pair is a merge. Text that is
 * not valid UTF-8 is still encoded: each byte that does not start a valid sequence counts as
 * one symbol (neither letter, number nor space), so decoding gives back every byte. Special
 * tokens such as "<|endoftext|>" are not recognised in the text (encoded as their
 * characters); get their id with attn_bpe_token_id. Same ids as the npm package
 * gpt-3-encoder for valid UTF-8 (tests/bpe/), except for characters assigned after Unicode
 * 14.0 (Node's tables are newer). OpenAI's encoder.py runs the pattern in Python's regex
 * module, whose \s may differ from JavaScript's on a few control characters (e.g. U+0085).
 * Decoding concatenates the tokens' bytes.
 *
 * Files are untrusted: sizes are bounded (ATTN_BPE_MAX_FILE bytes, ATTN_BPE_MAX_VOCAB tokens)
 * and every rule above is checked before use; a failure is ATTN_E_FORMAT (or ATTN_E_IO)
 * naming the file and the entry or line. A loaded attn_bpe is read-only: several threads may
 * encode and decode with it at once. */

#define ATTN_BPE_UNICODE_VERSION "14.0.0"
#define ATTN_BPE_MAX_FILE ((size_t)256 << 20) /* bytes per vocabulary or merges file */
#define ATTN_BPE_MAX_VOCAB (1 << 24)          /* tokens */

typedef struct attn_bpe attn_bpe;

/* Load from the two files. */
ATTN_API int attn_bpe_load(const char *vocab_path, const char *merges_path, attn_bpe **out);
/* Load from a directory holding vocab.json + merges.txt, or else encoder.json + vocab.bpe. */
ATTN_API int attn_bpe_load_dir(const char *dir, attn_bpe **out);
/* Load from the files' contents in memory (need not be NUL-terminated). */
ATTN_API int attn_bpe_load_memory(const char *vocab, size_t vocab_len, const char *merges,
                                  size_t merges_len, attn_bpe **out);
ATTN_API void attn_bpe_free(attn_bpe *b);

/* Number of tokens (50257 for GPT-2). */
ATTN_API int64_t attn_bpe_vocab_size(const attn_bpe *b);

/* Encode text[0..len) into ids (cap entries). len ids always suffice (a token covers at least
 * one byte); ids NULL: only count. *n_ids receives the number of ids; when cap is too small
 * the call fails (ATTN_E_ARG) after writing the first cap ids, *n_ids = the number needed. */
ATTN_API int attn_bpe_encode(const attn_bpe *b, const char *text, size_t len, int32_t *ids,
                             size_t cap, size_t *n_ids);

/* Decode ids[0..n) into out (out_cap bytes, a NUL is added after them). *out_len receives the
 * byte count without the NUL; out NULL: only *out_len. An id outside [0, vocab) fails
 * (ATTN_E_ARG) naming its position; too small a buffer fails (ATTN_E_ARG), writing nothing.
 * The bytes need not be valid UTF-8 (a character may span two tokens). */
ATTN_API int attn_bpe_decode(const attn_bpe *b, const int32_t *ids, size_t n, char *out,
                             size_t out_cap, size_t *out_len);

/* The bytes of token id (not NUL-terminated; valid while b lives), for streaming output. */
ATTN_API int attn_bpe_token_bytes(const attn_bpe *b, int32_t id, const char **bytes,
                                  size_t *len);

/* The id of the token whose bytes are token[0..len), e.g. "<|endoftext|>" (50256 in GPT-2);
 * ATTN_E_ARG when there is none. */
ATTN_API int attn_bpe_token_id(const attn_bpe *b, const char *token, size_t len, int32_t *id);


/* ------------------------------------------------------------------------------------------ */
/* @@ characters as tokens @@                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* The date demo's fixed vocabulary (attn.tokenizer = "chars-ascii"): 0 pad, 1 begin, 2 end,
 * 3 unknown, then the printable ASCII characters 32..126. */
enum { ATTN_ASCII_PAD = 0, ATTN_ASCII_BOS = 1, ATTN_ASCII_EOS = 2, ATTN_ASCII_UNK = 3, ATTN_ASCII_FIRST = 4,
       ATTN_ASCII_VOCAB = 4 + 95 };
static inline int32_t attn_ascii_id(unsigned char c)
{
    return c >= 32 && c <= 126 ? ATTN_ASCII_FIRST + (c - 32) : ATTN_ASCII_UNK;
}
static inline char attn_ascii_char(int32_t id)
{
    return id >= ATTN_ASCII_FIRST && id < ATTN_ASCII_VOCAB ? (char)(id - ATTN_ASCII_FIRST + 32) : '?';
}

/* A character-level vocabulary, nanoGPT's shakespeare-char convention: the distinct bytes of a
 * text in byte order, id = rank. Checkpoints carry it as metadata attn.tokenizer = "chars" and
 * attn.chars.vocab = the bytes in base64. */
typedef struct attn_chars {
    int V;                   /* distinct bytes */
    unsigned char byte[256]; /* id -> byte */
    int16_t id[256];         /* byte -> id, -1 when absent */
} attn_chars;

/* The vocabulary of n bytes of text. */
ATTN_API void attn_chars_of_text(const void *text, size_t n, attn_chars *out);
/* ids[0..n) of the text; a byte outside the vocabulary is ATTN_E_ARG naming its offset (what
 * names the text in the message). */
ATTN_API int attn_chars_encode(const attn_chars *c, const void *text, size_t n, int32_t *ids,
                               const char *what);
/* The metadata value (malloc'ed base64) and back from a checkpoint's metadata (ATTN_E_FORMAT
 * when the file is not a character model or the value is malformed). */
ATTN_API int attn_chars_to_meta(const attn_chars *c, char **b64);
ATTN_API int attn_chars_from_meta(const attn_st_reader *r, attn_chars *out);

#ifdef __cplusplus
}
#endif
#endif /* ATTN_TEXT_H */
