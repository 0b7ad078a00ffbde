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
 * A is stored [M, K] (ATTN_NO_TRANS) or [K, M] (ATTN_TRANS), B [K, N] or [N, K]; lda, ldb, ldc
 * are the row strides in elements of A, B, C as stored (≥ the stored row length, ≥ 1).
 * beta = 0 ignores C's old contents (NaN included); alpha = 0 or K = 0 reads neither A nor B.
 * num_threads 0: the library default. The result for each element does not depend on the
 * thread count, and is the same run to run (bit-identical): K is never split across threads.
 * It may differ in the last bits between SIMD paths (attn_set_isa) and between shapes.
 * Allocates a packing workspace per call (ATTN_E_NOMEM if that fails). Errors: ATTN_E_ARG for
 * negative sizes, an unknown trans value, a NULL pointer to a non-empty matrix, a leading
 * dimension too small, num_threads < 0; ATTN_E_OVERFLOW when a matrix's extent does not fit
 * the address space. C is not touched on error. */
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
