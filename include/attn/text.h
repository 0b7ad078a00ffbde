/*
 * attn/text.h — text: BLEU and chrF as sacreBLEU computes them, UTF-8 validation, cleaning.
 */
#ifndef ATTN_TEXT_H
#define ATTN_TEXT_H

#include "attn/core.h"

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
 * ATTN_BLEU_TOKENIZE_NONE splits on whitespace only (for text already tokenised).
 * Lowercasing maps each code point as Python's str.lower does (Unicode 14 tables), except
 * that a final capital sigma becomes σ, not ς (str.lower looks at the neighbours). */

#define ATTN_BLEU_MAX_ORDER 4

typedef enum attn_bleu_tokenize {
    ATTN_BLEU_TOKENIZE_13A = 0, /* mteval-v13a: punctuation split, numbers kept, &quot; etc. */
    ATTN_BLEU_TOKENIZE_NONE = 1 /* whitespace split only */
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

#ifdef __cplusplus
}
#endif
#endif /* ATTN_TEXT_H */
