/*
 * attn/data.h — datasets: IMDb reviews, parallel text, lines of a file (gzip or plain).
 */
#ifndef ATTN_DATA_H
#define ATTN_DATA_H

#include "attn/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* @@ datasets @@                                                                             */
/* ------------------------------------------------------------------------------------------ */

/* Every file a loader below reads is read whole, after gzip decompression when it is gzip,
 * and refused (ATTN_E_FORMAT naming the file and the limit) once it passes a size limit:
 * ATTN_DATA_MAX_BYTES (1 GiB) unless set otherwise. Reading stops at the limit, so a small
 * gzip bomb costs at most the limit in time and memory. attn_data_set_max_bytes sets the limit
 * for the whole process (0: back to the default) and returns the previous one; set it before
 * loading, not while another thread loads. */
#define ATTN_DATA_MAX_BYTES ((size_t)1 << 30)
ATTN_API size_t attn_data_set_max_bytes(size_t bytes);

/* IMDb (Large Movie Review Dataset, Maas et al. 2011). A loaded set owns all its strings;
 * treat the struct as read-only and release it with attn_imdb_free. Texts are verbatim (HTML
 * line breaks and entities kept): clean them with attn_text_clean. */
typedef struct attn_imdb {
    int64_t n;
    char **text;        /* [n] review, UTF-8, NUL-terminated */
    int8_t *label;      /* [n] 0 negative (rating ≤ 4), 1 positive (rating ≥ 7) */
    int8_t *rating;     /* [n] 1..10 from the file name; 0 when unknown */
    char **movie;       /* [n] IMDb movie id ("tt0406816"); "" when unknown */
    char **name;        /* [n] review file, e.g. "neg/0_3"; "" when unknown */
    void *priv_;        /* owned storage */
} attn_imdb;

/* From `LABEL<TAB>TEXT` lines (gzip or plain; LF ends; LABEL 0 or 1), and optionally the
 * matching ids file (NULL: none) with lines `<neg|pos>/<id>_<rating><TAB><movie id>`, one per
 * review, in the same order. Errors name the file and line (1-based): missing or unreadable
 * file, a line with no TAB, a label other than 0/1, invalid UTF-8 (with the byte column), an
 * ids file whose line count or labels disagree with the reviews. */
ATTN_API int attn_imdb_load(const char *tsv_path, const char *ids_path, attn_imdb **out);

/* From the original aclImdb layout: split_dir is aclImdb/train or aclImdb/test, holding
 * pos/<id>_<rating>.txt and neg/<id>_<rating>.txt. Movie ids come from line id+1 of
 * urls_pos.txt / urls_neg.txt when those files are present. Reviews are ordered as the .tsv
 * files: by id, then negative before positive. */
ATTN_API int attn_imdb_load_dir(const char *split_dir, attn_imdb **out);

ATTN_API void attn_imdb_free(attn_imdb *d);

/* A validation split that keeps each movie on one side: review i goes to validation
 * (is_val[i] = 1) when a hash of (its movie id, seed) falls below `fraction` of the hash
 * range, so about that fraction of the movies (not exactly of the reviews) is held out. A
 * review without movie id is hashed by its name, or its index when that is unknown too. The
 * split depends only on the ids, the seed and the fraction (64-bit FNV-1a, then a
 * splitmix64 finaliser). *n_val (may be NULL): validation reviews. fraction in [0, 1]. */
ATTN_API int attn_imdb_split_by_movie(const attn_imdb *d, double fraction, uint64_t seed,
                                      uint8_t *is_val, int64_t *n_val);

/* Parallel text (e.g. Multi30k): line i of the source file translates to line i of the target
 * file. Lines end with LF (a CR before it is dropped); a last line without LF counts. Both
 * files (gzip or plain) must be valid UTF-8 and have the same number of lines. */
typedef struct attn_parallel {
    int64_t n;
    char **src;         /* [n] source sentences, NUL-terminated */
    char **tgt;         /* [n] target sentences */
    void *priv_;
} attn_parallel;

ATTN_API int attn_parallel_load(const char *src_path, const char *tgt_path, attn_parallel **out);
ATTN_API void attn_parallel_free(attn_parallel *p);

/* The lines of one text file (gzip or plain), same rules as attn_parallel_load, returned as an
 * attn_parallel whose tgt is NULL. */
ATTN_API int attn_lines_load(const char *path, attn_parallel **out);

#ifdef __cplusplus
}
#endif
#endif /* ATTN_DATA_H */
