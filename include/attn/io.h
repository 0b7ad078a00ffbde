/*
 * attn/io.h — safetensors files (a bounded, checked reader and an atomic writer), base64,
 * and the configuration files of training runs.
 */
#ifndef ATTN_IO_H
#define ATTN_IO_H

#include "attn/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* @@ safetensors @@                                                                          */
/* ------------------------------------------------------------------------------------------ */

/*
 * Checkpoints in the safetensors format (Hugging Face's): an 8-byte little-endian header
 * length N, N bytes of UTF-8 JSON, then the data buffer. The JSON object maps each tensor name
 * to {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]} (byte offsets into the
 * buffer) and may hold "__metadata__": {string: string}. Data is little-endian, row-major.
 *
 * The reader trusts nothing in the file. attn_st_open checks, before any tensor is read:
 *   - 2 ≤ N ≤ ATTN_ST_MAX_HEADER and N ≤ file size − 8; the header starts with '{';
 *   - the header is valid UTF-8 and one well-formed JSON object (trailing spaces allowed),
 *     with no control characters, no "\u0000", and numbers only as plain integers (no
 *     fraction, exponent or leading zero, at most 2^53);
 *   - every entry is an object with a known dtype string, a shape array of at most
 *     ATTN_ST_MAX_NDIM integers in [0, 2^53], data_offsets two such integers with
 *     begin ≤ end; numel and numel × dtype size do not overflow and equal end − begin;
 *   - the tensors tile the buffer exactly as the reference library requires: sorted by
 *     offset, the first begins at 0, each begins where the previous ends (no overlap, no gap)
 *     and the last ends at the end of the file;
 *   - names are unique, "__metadata__" appears at most once, is an object of strings with
 *     unique keys.
 * A malformed file gives ATTN_E_FORMAT naming the tensor and field; a file that cannot be
 * opened or read gives ATTN_E_IO naming the path. Opening allocates nothing sized by a
 * number in the file: the header buffer is bounded by the file's size, and the parse by at
 * most 4,194,304 JSON values (~300 MB) and 1,000 levels of nesting.
 *
 * Known dtypes: BOOL U8 I8 F8_E5M2 F8_E4M3 F8_E8M0 I16 U16 F16 BF16 I32 U32 F32 I64 U64 F64 C64.
 * attn_st_read_f32 converts F32 (exact), F16 and BF16 (exact widening, NaN payloads kept) and
 * F64 (rounded to nearest, overflow to ±inf, as a C cast or torch .float()); other dtypes give
 * ATTN_E_UNSUPPORTED (read their bytes with attn_st_read_raw).
 *
 * Entries are numbered 0..count−1 in name order (bytewise, strcmp). Strings returned by the
 * reader stay valid until attn_st_close.
 */
#define ATTN_ST_MAX_HEADER 100000000 /* bytes of JSON header, as the reference library */
#define ATTN_ST_MAX_NDIM 64

typedef struct attn_st_reader attn_st_reader;
typedef struct attn_st_writer attn_st_writer;

typedef struct attn_st_entry {
    const char *name;
    const char *dtype;    /* "F32", "BF16", ... */
    int ndim;             /* 0 for a scalar */
    const int64_t *shape; /* [ndim] */
    int64_t numel;        /* product of shape (1 for a scalar) */
    int64_t nbytes;       /* bytes in the file */
} attn_st_entry;

/* Open a file: reads and validates the header, keeps the file open; tensor data is read on
 * demand. *st is NULL on failure. */
ATTN_API int attn_st_open(const char *path, attn_st_reader **st);
/* Same over a whole file held in memory. The reader borrows buf: keep it alive and unchanged
 * until attn_st_close. */
ATTN_API int attn_st_open_memory(const void *buf, size_t len, attn_st_reader **st);
ATTN_API void attn_st_close(attn_st_reader *st);

/* Number of tensors (0 for NULL). */
ATTN_API int64_t attn_st_count(const attn_st_reader *st);
/* Description of entry i in 0..count−1. */
ATTN_API int attn_st_info(const attn_st_reader *st, int64_t i, attn_st_entry *out);
/* Index of the tensor named `name`, or ATTN_E_ARG (with a message) when there is none. */
ATTN_API int64_t attn_st_find(const attn_st_reader *st, const char *name);
/* Read tensor `name` into dst as float32, converting as described above. count must equal
 * its numel (else ATTN_E_SHAPE). ATTN_E_IO if the file can no longer be read in full. */
ATTN_API int attn_st_read_f32(const attn_st_reader *st, const char *name, float *dst,
                              int64_t count);
/* Copy the stored bytes of tensor `name` (little-endian, any dtype); nbytes must equal its
 * size in the file. */
ATTN_API int attn_st_read_raw(const attn_st_reader *st, const char *name, void *dst,
                              int64_t nbytes);
/* Metadata value of `key`, or NULL if absent. */
ATTN_API const char *attn_st_metadata(const attn_st_reader *st, const char *key);
/* Metadata pairs, numbered in key order. */
ATTN_API int64_t attn_st_metadata_count(const attn_st_reader *st);
ATTN_API int attn_st_metadata_at(const attn_st_reader *st, int64_t i, const char **key,
                                 const char **value);

/* Writer of F32 checkpoints. Tensors are laid out sorted by name (bytewise), which is the
 * order of the reference Python library for F32 tensors, so the same tensors give the same
 * bytes whatever the order of the add calls; metadata keys are sorted too. The header is
 * padded with spaces to a multiple of 8 bytes, so every tensor starts 8-byte aligned. */
ATTN_API int attn_st_writer_create(attn_st_writer **w);
ATTN_API void attn_st_writer_free(attn_st_writer *w);
/* Add tensor `name` (non-empty valid UTF-8, unique, not "__metadata__") of shape[ndim],
 * 0 ≤ ndim ≤ ATTN_ST_MAX_NDIM, contiguous row-major data. The writer borrows data: it must
 * stay valid and unchanged until the last commit/serialize or attn_st_writer_free. data may
 * be NULL only when the tensor has no element. */
ATTN_API int attn_st_writer_add(attn_st_writer *w, const char *name, int ndim,
                                const int64_t *shape, const float *data);
/* Set metadata key → value (valid UTF-8; an existing key is replaced). */
ATTN_API int attn_st_writer_set_metadata(attn_st_writer *w, const char *key, const char *value);
/* Write the file atomically: a temporary file in the same directory is written, flushed and
 * fsync'ed, then renamed over `path`, and the directory is fsync'ed. On failure `path` is
 * untouched (the old file, if any, stays byte-identical) and the temporary file is removed.
 * The writer can commit again. */
ATTN_API int attn_st_writer_commit(attn_st_writer *w, const char *path);
/* Size in bytes of the serialized file, and the file's bytes into dst (cap ≥ that size). */
ATTN_API int attn_st_writer_size(const attn_st_writer *w, int64_t *bytes);
ATTN_API int attn_st_writer_serialize(const attn_st_writer *w, void *dst, int64_t cap);

/* ------------------------------------------------------------------------------------------ */
/* @@ base64 @@                                                                               */
/* ------------------------------------------------------------------------------------------ */

/*
 * Base64 (RFC 4648 §4: the standard alphabet A–Z a–z 0–9 + /, padded with '=' to a multiple of
 * 4 characters), as binary blobs such as tokenizers are stored in checkpoint metadata.
 * attn_base64_encode writes a NUL-terminated string to *out (malloc'ed; free it).
 * attn_base64_decode is strict, so that a byte string has one text: len must be a multiple of
 * 4 and at most ATTN_BASE64_MAX_TEXT; only alphabet characters (no whitespace, no URL-safe
 * alphabet); '=' only as the last one or two characters; the bits the padding drops must be
 * zero. ATTN_E_FORMAT names the offending position. *out (malloc'ed, n bytes plus a NUL) is
 * NULL on failure.
 */
#define ATTN_BASE64_MAX_TEXT (1 << 30)
ATTN_API int attn_base64_encode(const void *data, size_t n, char **out);
ATTN_API int attn_base64_decode(const char *text, size_t len, unsigned char **out, size_t *n);

/* ------------------------------------------------------------------------------------------ */
/* @@ configuration files @@                                                                  */
/* ------------------------------------------------------------------------------------------ */

/*
 * One configuration format for every training run: a JSON object of key → number, string or
 * boolean (keys starting with "_" are comments), read strictly against a table of fields.
 * Unknown keys, wrong types, numbers out of range or not whole where a count is expected give
 * ATTN_E_FORMAT with a message "config PATH: …" naming the key; a file that cannot be read
 * gives ATTN_E_IO ("config PATH: cannot read: …"), one over ATTN_CONFIG_MAX_BYTES too. Fields
 * the file does not name keep their values; the file's values are stored in file order, so on
 * an error the fields before the bad key may already be set.
 *
 * The older `key = value` lines (# comments; a value is a number or a choice's name) are read
 * too; *legacy (may be NULL) is then set to 1 so the caller can warn that the format is old.
 *
 *     int epochs = 2; float lr = 1e-3f;
 *     const attn_config_field f[] = {{"epochs", ATTN_CONFIG_INT, &epochs, 1, 1000},
 *                                    {"lr", ATTN_CONFIG_FLOAT, &lr, 0, 10}};
 *     if (attn_config_load("run.json", f, 2, NULL)) fail(attn_last_error());
 */
#define ATTN_CONFIG_MAX_BYTES (1 << 20)

typedef enum attn_config_kind {
    ATTN_CONFIG_I64,    /* int64_t, whole */
    ATTN_CONFIG_INT,    /* int, whole */
    ATTN_CONFIG_LONG,   /* long, whole */
    ATTN_CONFIG_U64,    /* uint64_t, whole, ≥ 0 */
    ATTN_CONFIG_FLOAT,  /* float */
    ATTN_CONFIG_DOUBLE, /* double */
    ATTN_CONFIG_BOOL,   /* int 0/1: true/false, or a whole number in [lo, hi] (nonzero: 1) */
    ATTN_CONFIG_CHOICE  /* int: the index of a string among choices (or values[index]) */
} attn_config_kind;

typedef struct attn_config_field {
    const char *key;
    attn_config_kind kind;
    void *ptr;                  /* where the value goes, of the kind's C type */
    double lo, hi;              /* numbers: accepted range, inclusive */
    const char *const *choices; /* ATTN_CONFIG_CHOICE: the accepted strings, NULL-terminated */
    const int *values;          /* ATTN_CONFIG_CHOICE: value stored for each choice (NULL: its index) */
} attn_config_field;

/* Read the file at path over the n fields. ATTN_E_ARG for a NULL path or an incomplete field
 * (no key, no ptr, an unknown kind, a choice without choices). */
ATTN_API int attn_config_load(const char *path, const attn_config_field *fields, int n, int *legacy);

#ifdef __cplusplus
}
#endif
#endif /* ATTN_IO_H */
