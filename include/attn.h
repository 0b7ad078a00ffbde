/*
 * attn.h — attention mechanisms in C: the public interface of libattn.
 *
 * One header, one prefix (attn_). Conventions that hold for every call:
 *
 *  - Fallible functions return int: 0 (ATTN_OK) on success, a negative ATTN_E_* code on
 *    failure. attn_last_error() then says what and where, in this thread. The library never
 *    exits, aborts on bad input, or prints.
 *  - Tensors are float32 views that own nothing: data pointer, shape and strides counted in
 *    elements, outermost dimension first. Shapes are written in PyTorch order in comments,
 *    e.g. q: [B, Hq, Lq, E].
 *  - The caller allocates outputs. Free functions accept NULL.
 *  - Backward functions overwrite input gradients (dq, dk, dv, dx) and accumulate (+=) into
 *    parameter gradients.
 *  - Shape letters: B batch, Hq query heads, Hkv key/value heads, Lq query length,
 *    Lk key length, E query/key width per head, Ev value width per head.
 */
#ifndef ATTN_H
#define ATTN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ATTN_API __attribute__((visibility("default")))
#else
#define ATTN_API
#endif

#define ATTN_VERSION_MAJOR 0
#define ATTN_VERSION_MINOR 1
#define ATTN_VERSION_PATCH 0

/* "0.1.0": the version the library was built as (may differ from this header's). */
ATTN_API const char *attn_version(void);

/* ------------------------------------------------------------------------------------------ */
/* Errors                                                                                     */
/* ------------------------------------------------------------------------------------------ */

enum {
    ATTN_OK = 0,
    ATTN_E_ARG = -1,         /* invalid argument: null pointer, value out of range          */
    ATTN_E_SHAPE = -2,       /* shapes or strides inconsistent, or a mask does not broadcast */
    ATTN_E_OVERFLOW = -3,    /* a size computation would overflow                            */
    ATTN_E_NOMEM = -4,       /* allocation failed                                            */
    ATTN_E_UNSUPPORTED = -5, /* a valid request the chosen path cannot serve                 */
    ATTN_E_IO = -6,          /* a file could not be read or written                          */
    ATTN_E_FORMAT = -7,      /* malformed file or data                                       */
    ATTN_E_STATE = -8        /* object used in the wrong state                               */
};

/* Stable name of a status code, e.g. "ATTN_E_SHAPE: shape mismatch". */
ATTN_API const char *attn_status_string(int status);
/* Detail message of the last failure in this thread ("" if none), e.g.
 * "attn_sdpa_forward: k.shape[3]=63 but q.shape[3]=64". Valid until the next failing call. */
ATTN_API const char *attn_last_error(void);
ATTN_API void attn_clear_error(void);

/* ------------------------------------------------------------------------------------------ */
/* Threads and SIMD                                                                           */
/* ------------------------------------------------------------------------------------------ */

/* Default thread count for every parallel kernel (0 = number of online cores). Results never
 * depend on the thread count beyond what each function documents. */
ATTN_API int attn_set_num_threads(int n);
ATTN_API int attn_get_num_threads(void);

typedef enum attn_isa {
    ATTN_ISA_AUTO = 0,     /* the best path the CPU supports */
    ATTN_ISA_PORTABLE = 1, /* plain C, always built */
    ATTN_ISA_AVX2 = 2,     /* AVX2 + FMA */
    ATTN_ISA_AVX512 = 3    /* AVX-512 F/BW/DQ/VL */
} attn_isa;

/* Force a SIMD path for every kernel (ATTN_E_UNSUPPORTED if this CPU lacks it). Process-wide;
 * meant for tests and benchmarks. */
ATTN_API int attn_set_isa(attn_isa isa);
/* The path in use (never ATTN_ISA_AUTO). */
ATTN_API attn_isa attn_get_isa(void);
/* Whether this CPU can run the path. */
ATTN_API int attn_isa_supported(attn_isa isa);
ATTN_API const char *attn_isa_name(attn_isa isa);

/* ------------------------------------------------------------------------------------------ */
/* Tensor views                                                                               */
/* ------------------------------------------------------------------------------------------ */

#define ATTN_MAX_DIMS 4

typedef struct attn_tensor {
    float *data;
    int ndim;
    int64_t shape[ATTN_MAX_DIMS];
    int64_t stride[ATTN_MAX_DIMS]; /* elements; may be 0 to broadcast a dimension */
} attn_tensor;

/* Boolean mask view: nonzero = may attend (PyTorch's convention for bool masks). */
typedef struct attn_bool_tensor {
    const uint8_t *data;
    int ndim;
    int64_t shape[ATTN_MAX_DIMS];
    int64_t stride[ATTN_MAX_DIMS];
} attn_bool_tensor;

/* Contiguous row-major view of ndim (1..4) dimensions. */
ATTN_API attn_tensor attn_tensor_make(float *data, int ndim, const int64_t *shape);
/* Contiguous [d0, d1, d2, d3]. */
ATTN_API attn_tensor attn_tensor_4d(float *data, int64_t d0, int64_t d1, int64_t d2, int64_t d3);
/* Memory laid out [B, L, H, E] (batch_first, heads interleaved) viewed as [B, H, L, E]. */
ATTN_API attn_tensor attn_tensor_blhe(float *data, int64_t B, int64_t L, int64_t H, int64_t E);
/* Contiguous 4-d boolean mask [d0, d1, d2, d3]; use 1 for broadcast dimensions. */
ATTN_API attn_bool_tensor attn_bool_tensor_4d(const uint8_t *data, int64_t d0, int64_t d1,
                                              int64_t d2, int64_t d3);

/* ------------------------------------------------------------------------------------------ */
/* Random numbers                                                                             */
/* ------------------------------------------------------------------------------------------ */

/* Counter-based generator (Philox-4x32-10): the value depends only on (seed, counter), so any
 * element of a random stream can be regenerated without storing the stream. Returns a float
 * uniform in [0, 1) for element `index` of stream (seed, offset). */
ATTN_API float attn_philox_uniform(uint64_t seed, uint64_t offset, uint64_t index);

/* Dropout mask of scaled dot-product attention: 1 if weight (b, h, i, j) is kept for stream
 * (seed, offset) at drop probability p. index = ((b*Hq + h)*Lq + i)*Lk + j. */
ATTN_API int attn_dropout_keep(uint64_t seed, uint64_t offset, uint64_t index, float p);

/* ------------------------------------------------------------------------------------------ */
/* Scaled dot-product attention                                                               */
/* ------------------------------------------------------------------------------------------ */
/*
 *   S = scale · Q Kᵀ                          scale defaults to 1/√E
 *   S = softcap · tanh(S / softcap)           if softcap > 0
 *   S = S + bias − slope_h·|i' − j|           additive bias, ALiBi
 *   S = −∞ where masked                        bool mask, key lengths, causal, window
 *   P = softmax(S) along keys;  lse = log Σ_j exp(S_ij)
 *   O = dropout(P) · V
 *
 * q: [B, Hq, Lq, E]   k: [B, Hkv, Lk, E]   v: [B, Hkv, Lk, Ev]   out: [B, Hq, Lq, Ev]
 * Hq must be a multiple of Hkv: query head h reads key/value head h / (Hq/Hkv) (GQA, MQA).
 * Any strides: [B, H, L, E] and [B, L, H, E] (attn_tensor_blhe) both work without copies.
 *
 * Positions: query i sits at key position i' = i + off, off = 0 for top-left alignment
 * (PyTorch's is_causal) and Lk − Lq for bottom-right (decoding with a KV cache). Causal lets
 * i attend j ≤ i'; a window lets it attend i' − window_left ≤ j ≤ i' + window_right.
 *
 * A query row with no key left to attend gets output 0, lse −∞, weights 0 and gradient 0.
 */

typedef enum attn_align {
    ATTN_ALIGN_TOP_LEFT = 0,    /* i' = i */
    ATTN_ALIGN_BOTTOM_RIGHT = 1 /* i' = i + Lk − Lq */
} attn_align;

typedef enum attn_kernel {
    ATTN_KERNEL_AUTO = 0,      /* fused when it can serve the request, else reference */
    ATTN_KERNEL_REFERENCE = 1, /* textbook: materialises the Lq×Lk scores of one row block */
    ATTN_KERNEL_FLASH = 2      /* fused, tiled, online softmax; never stores Lq×Lk */
} attn_kernel;

/* Zero-initialised options are the defaults: scale 1/√E, no mask, no dropout, auto kernel. */
typedef struct attn_sdpa_options {
    float scale;                 /* 0: 1/√E                                                  */
    int causal;                  /* nonzero: query i attends keys j ≤ i'                     */
    attn_align align;            /* position alignment for causal, window and ALiBi          */
    const attn_bool_tensor *mask;/* [B|1, Hq|1, Lq|1, Lk|1], nonzero = attend; NULL: none    */
    const attn_tensor *bias;     /* additive, [B|1, Hq|1, Lq|1, Lk|1]; −inf masks; NULL: none */
    const int32_t *key_lengths;  /* [B]: keys j ≥ key_lengths[b] are padding; NULL: none     */
    int window;                  /* nonzero: sliding window of window_left/right             */
    int32_t window_left;         /* ≥ 0                                                      */
    int32_t window_right;        /* ≥ 0                                                      */
    const float *alibi_slopes;   /* [Hq]: adds −slope_h·|i' − j| to the scores; NULL: none    */
    float softcap;               /* > 0: scores soft-capped to (−softcap, softcap)           */
    float dropout_p;             /* in [0, 1): dropout on the attention weights              */
    uint64_t seed;               /* dropout stream                                           */
    uint64_t offset;
    attn_kernel kernel;
    int num_threads;             /* 0: attn_get_num_threads()                                */
} attn_sdpa_options;

/* Forward. lse: [B, Hq, Lq] contiguous or NULL. weights: [B, Hq, Lq, Lk] view or NULL; the
 * weights are P before dropout. Requesting weights selects the reference kernel under AUTO. */
ATTN_API int attn_sdpa_forward(const attn_tensor *q, const attn_tensor *k, const attn_tensor *v,
                               const attn_sdpa_options *opt, attn_tensor *out, float *lse,
                               attn_tensor *weights);

/* Backward: dq, dk, dv (overwritten) from dout. out and lse are those of the forward with the
 * same options; either may be NULL, in which case they are recomputed. dbias, if not NULL, has
 * the shape of opt->bias and receives ∂loss/∂bias (overwritten; summed over broadcast dims). */
ATTN_API int attn_sdpa_backward(const attn_tensor *q, const attn_tensor *k, const attn_tensor *v,
                                const attn_tensor *out, const float *lse, const attn_tensor *dout,
                                const attn_sdpa_options *opt, attn_tensor *dq, attn_tensor *dk,
                                attn_tensor *dv, attn_tensor *dbias);

/* @@ sdpa-fused: declarations of the fused kernel extras (varlen, merge, weights on demand) @@ */

/* ------------------------------------------------------------------------------------------ */
/* @@ gemm @@                                                                                 */
/* ------------------------------------------------------------------------------------------ */

typedef enum attn_trans { ATTN_NO_TRANS = 0, ATTN_TRANS = 1 } attn_trans;

/* C = alpha·op(A)·op(B) + beta·C, row-major. op(A): [M, K], op(B): [K, N], C: [M, N].
 * lda, ldb, ldc are row strides in elements of A, B, C as stored. beta = 0 ignores C's old
 * contents (NaN included). num_threads 0: the library default. The result for each element
 * does not depend on the thread count (bit-identical). */
ATTN_API int attn_sgemm(attn_trans trans_a, attn_trans trans_b, int64_t M, int64_t N, int64_t K,
                        float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                        float beta, float *C, int64_t ldc, int num_threads);

/* ------------------------------------------------------------------------------------------ */
/* @@ additive attention @@                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------------------------ */
/* @@ multi-head attention @@                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------------------------ */
/* @@ positional encodings @@                                                                 */
/* ------------------------------------------------------------------------------------------ */

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
 *     with no control characters, no "\u0000" and no non-integer numbers;
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
/* @@ nn layers, tape, optimisers @@                                                          */
/* ------------------------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------------------------ */
/* @@ text metrics (BLEU, chrF) @@                                                            */
/* ------------------------------------------------------------------------------------------ */

#ifdef __cplusplus
}
#endif
#endif /* ATTN_H */
