/*
 * attn/data.h — datasets: IMDb reviews, parallel text, lines of a file (gzip or plain), IDX
 * files and image sets (Fashion-MNIST), image augmentation.
 */
#ifndef ATTN_DATA_H
#define ATTN_DATA_H

#include "attn/core.h"
#include "attn/text.h"

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
/* A whole file read that way (gunzipped when gzip), malloc'ed with a NUL after its *len bytes. */
ATTN_API int attn_data_read_file(const char *path, char **data, size_t *len);

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

/* A split of IMDb wherever it is: path is a directory holding <split>.tsv.gz or <split>.tsv
 * (with <split>.ids beside it when present), an aclImdb/ folder (its <split>/ is read), a split
 * folder holding pos/ and neg/, or a .tsv(.gz) file itself. split: "train" or "test". A
 * directory with none of these is ATTN_E_IO, a set with no review ATTN_E_FORMAT ("PATH: no
 * reviews"); the loaders' errors otherwise. *out is NULL on failure. */
ATTN_API int attn_imdb_open(const char *path, const char *split, attn_imdb **out);

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
/* A checksum of the text (64-bit FNV-1a over every line with its NUL, source then target;
 * attn_lines_load's sets have no target): a resumed run refuses other data by it. 0 lines (or
 * NULL): ATTN_HASH64_INIT. */
ATTN_API uint64_t attn_parallel_hash(const attn_parallel *d);

/* The lines of one text file (gzip or plain), same rules as attn_parallel_load, returned as an
 * attn_parallel whose tgt is NULL. A NUL byte in a line is ATTN_E_FORMAT (naming line and byte)
 * here and in every loader above. */
ATTN_API int attn_lines_load(const char *path, attn_parallel **out);

/* ---- text a line at a time --------------------------------------------------------------- */

/* One way to read text for every command: a file (gzip or plain, zlib tells them apart) or
 * standard input when path is "-"; lines end with LF (a CR just before it is dropped; a last
 * line without LF counts); a line may be of any length up to the attn_data_set_max_bytes
 * limit. A NUL byte, or invalid UTF-8, is ATTN_E_FORMAT naming the file ("<stdin>" for "-"),
 * the line and the byte (1-based): "notes.txt:3: invalid UTF-8 at byte 7 of the line (0xFF)".
 * With ATTN_LINES_REPLACE_INVALID each byte that does not begin a valid UTF-8 sequence becomes
 * U+FFFD instead (NUL is still refused). Reading is streamed: a line is returned as soon as it
 * has arrived, so a command reading a terminal or a pipe answers line by line. */
#define ATTN_LINES_REPLACE_INVALID 1
typedef struct attn_line_reader attn_line_reader;

ATTN_API int attn_line_reader_open(const char *path, int flags, attn_line_reader **out);
/* 1 and the next line in *line (NUL-terminated, *len bytes; valid until the next call), 0 at the
 * end of the input, or a negative ATTN_E_* (the reader stays usable only for close). */
ATTN_API int attn_line_reader_next(attn_line_reader *r, const char **line, size_t *len);
/* Lines returned so far (the 1-based number of the last one). */
ATTN_API int64_t attn_line_reader_lineno(const attn_line_reader *r);
/* The name errors use: the path, or "<stdin>". */
ATTN_API const char *attn_line_reader_name(const attn_line_reader *r);
ATTN_API void attn_line_reader_close(attn_line_reader *r);

/* All the lines of path ("-": stdin) by the reader above: *lines[0..*n) malloc'ed, each
 * NUL-terminated; release with attn_lines_free. */
ATTN_API int attn_lines_read(const char *path, int flags, char ***lines, int64_t *n);
ATTN_API void attn_lines_free(char **lines, int64_t n);

/* ---- the data folder, translation scores of line files (bench: attn_data_find, attn_bleu_files) */

/* The data folder's copy of relative path rel ("tinyshakespeare/input.txt"): the first of
 * $ATTN_DATA_DIR/rel, ../shared/data/rel and ../../shared/data/rel that can be opened for
 * reading, NUL-terminated in path. ATTN_E_IO when none can (naming rel), ATTN_E_ARG when cap is
 * too small. */
ATTN_API int attn_data_find(const char *rel, char *path, size_t cap);
/* Corpus BLEU and chrF (attn/text.h) of the hypotheses in hyp_path against n_refs (1..64)
 * reference files aligned with it line by line, every file read by attn_lines_read with flags
 * ("-": standard input, for at most one of them). bleu (with bleu_opt) or chrf (with chrf_opt)
 * may be NULL: not computed; NULL options are the defaults. ATTN_E_FORMAT when a reference has
 * another number of lines than the hypotheses (naming both) or the hypotheses are empty;
 * ATTN_E_ARG when "-" is given twice; else attn_lines_read's errors, naming the file. */
ATTN_API int attn_bleu_files(const char *hyp_path, const char *const *ref_paths, int n_refs, int flags,
                             const attn_bleu_options *bleu_opt, attn_bleu_result *bleu,
                             const attn_chrf_options *chrf_opt, attn_chrf_result *chrf);


/* ---- IDX files and image sets (MNIST, Fashion-MNIST) ------------------------------------- */

/* An IDX file (LeCun's MNIST format): bytes 0, 0, a type code, the number of dimensions, then
 * each dimension as a big-endian uint32, then the elements in row-major order. Only unsigned
 * bytes (type 0x08, what MNIST and Fashion-MNIST use) are read: other known type codes (0x09
 * int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64) give ATTN_E_UNSUPPORTED. */
#define ATTN_IDX_MAX_DIMS 4
/* Largest data part accepted (bytes): a header declaring more is rejected before anything is
 * allocated. */
#define ATTN_IDX_MAX_BYTES ((int64_t)1 << 31)

typedef struct attn_idx {
    int dtype;                       /* the type code, 0x08 */
    int ndim;                        /* 1..ATTN_IDX_MAX_DIMS */
    int64_t dims[ATTN_IDX_MAX_DIMS]; /* outermost first; unused ones 0 */
    int64_t numel;                   /* product of dims (may be 0) */
    uint8_t *data;                   /* [numel], owned */
} attn_idx;

/* Parse an IDX file held in memory (uncompressed): the whole of bytes[0..len) must be one IDX
 * file. ATTN_E_FORMAT, naming what, for: fewer than 4 header bytes, a magic other than 0, 0,
 * a type code that is not IDX's, ndim 0 or over ATTN_IDX_MAX_DIMS, a header cut short, a size
 * over ATTN_IDX_MAX_BYTES, and a length that differs from the header's (truncated data or
 * bytes after it). */
ATTN_API int attn_idx_parse(const void *bytes, size_t len, attn_idx **out);
/* The same from a file, gzip or plain (zlib tells them apart; a damaged or truncated gzip
 * stream is ATTN_E_FORMAT too). The header is read and checked first; the data buffer grows
 * with the bytes actually read, never past the header's size. Errors name the path. */
ATTN_API int attn_idx_load(const char *path, attn_idx **out);
ATTN_API void attn_idx_free(attn_idx *x);

/* Labelled images, uint8 pixels. Release with attn_image_set_free. */
typedef struct attn_image_set {
    int64_t n;                      /* images */
    int64_t channels, height, width;
    uint8_t *pixels;                /* [n, channels, height, width] */
    uint8_t *labels;                /* [n] */
    int64_t num_classes;            /* largest label + 1 */
} attn_image_set;

/* From an images IDX [n, H, W] (one channel) and a labels IDX [n]: ATTN_E_FORMAT when the
 * images are not 3-d, the labels not 1-d, the counts differ, or n, H or W is 0. */
ATTN_API int attn_image_set_from_idx(const attn_idx *images, const attn_idx *labels,
                                     attn_image_set **out);
/* attn_idx_load of both files, then attn_image_set_from_idx (errors name the files). */
ATTN_API int attn_image_set_load(const char *images_path, const char *labels_path,
                                 attn_image_set **out);
/* Fashion-MNIST (Xiao et al. 2017) as Debian's dataset-fashion-mnist installs it: split
 * "train" (60,000 images) or "test" (10,000), 28×28, labels 0..9, from
 * <dir>/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] (dir NULL:
 * ATTN_FASHION_MNIST_DIR). The same loader reads MNIST, whose files have the same names. */
#define ATTN_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
ATTN_API int attn_fashion_mnist_load(const char *dir, const char *split, attn_image_set **out);
/* Fashion-MNIST's class name of label 0..9 ("T-shirt/top", "Trouser", …); NULL otherwise. */
ATTN_API const char *attn_fashion_mnist_class_name(int label);
ATTN_API void attn_image_set_free(attn_image_set *s);

/* ---- image augmentation and batches ------------------------------------------------------ */

/* Light augmentation of uint8 images [N, C, H, W] into dst (same shape; not overlapping src):
 * a random crop of H×W from the image padded by `pad` zero pixels on each side (a shift of
 * up to ±pad in each direction), and when hflip a left-right mirror with probability 1/2.
 * Image i draws from the counter-based stream (seed, counter), elements 4i .. 4i+2 (row shift,
 * column shift, flip), so a batch is reproducible from (seed, counter) alone and does not
 * depend on how it is split. pad in [0, 64]. */
typedef struct attn_augment_options {
    int pad;   /* random-crop padding (0: no crop) */
    int hflip; /* nonzero: random horizontal flips */
} attn_augment_options;
ATTN_API int attn_image_augment(const attn_augment_options *opt, const uint8_t *src, int64_t N,
                                int64_t C, int64_t H, int64_t W, uint64_t seed, uint64_t counter,
                                uint8_t *dst);

/* Pixels to model inputs: dst[i] = (src[i]/255 − mean)/std for n pixels (std > 0). */
ATTN_API int attn_image_normalize(const uint8_t *src, int64_t n, float mean, float std,
                                  float *dst);

/* A random permutation of 0..n-1 into perm (Fisher–Yates, draws from the counter-based
 * stream (seed, counter)): the order of one epoch, reproducible from (seed, epoch). */
ATTN_API int attn_permutation(int64_t n, uint64_t seed, uint64_t counter, int64_t *perm);


/* ------------------------------------------------------------------------------------------ */
/* @@ the date task (attn demo) @@                                                            */
/* ------------------------------------------------------------------------------------------ */

/* English dates in many written forms ("Saturday, 3 March 2021", "march 3rd 21", "3/3/2021" …)
 * and their ISO 8601 form. Every example is generated from a counter-based random stream, so
 * example n of seed s is the same on every machine and thread count. Each example knows which
 * source characters produce each output character (its alignment), so cross-attention can be
 * scored. */
#define ATTN_DATES_SRC_MAX 48 /* longest source string, NUL included */
#define ATTN_DATES_TGT_LEN 10 /* "YYYY-MM-DD" */
#define ATTN_DATES_NFORMATS 16

typedef struct attn_dates_example {
    char src[ATTN_DATES_SRC_MAX];
    char tgt[ATTN_DATES_TGT_LEN + 24];
    int format;
    /* For output character t: source characters [align_lo[t], align_hi[t]) produce it;
     * empty (lo == hi) for characters no source character produces (the dashes). */
    int align_lo[ATTN_DATES_TGT_LEN];
    int align_hi[ATTN_DATES_TGT_LEN];
} attn_dates_example;

/* Example `index` of stream `seed`. Four-digit years 1000–2999; two-digit years stand for 1950–2049 (50–99 → 19xx). */
ATTN_API void attn_dates_generate(uint64_t seed, uint64_t index, attn_dates_example *ex);

/* Parse an ISO date "YYYY-MM-DD" that is a real calendar date: 1 if valid. */
ATTN_API int attn_dates_iso_valid(const char *s);

/* English month names (January..December) and weekday names (Monday..Sunday) it writes. */
ATTN_API const char *attn_dates_month_name(int month); /* 1..12 */
ATTN_API const char *attn_dates_day_name(int day);     /* 0 = Monday .. 6 */


#ifdef __cplusplus
}
#endif
#endif /* ATTN_DATA_H */
