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

/* Dropout keep-mask of elements start .. start+n-1 of stream (seed, offset) at drop probability
 * p ∈ [0, 1]: keep[i] = attn_dropout_keep(seed, offset, start + i, p). For a [B, Hq, Lq, Lk]
 * problem, start = 0 and n = B·Hq·Lq·Lk give the mask attn_sdpa_forward applies. */
ATTN_API int attn_dropout_mask_fill(uint64_t seed, uint64_t offset, uint64_t start, int64_t n,
                                    float p, uint8_t *keep);

/* @@ sdpa-fused: declarations of the fused kernel extras (varlen, merge, weights on demand) @@ */
/* The fused kernel serves every option above with E, Ev ≤ 256 (AUTO falls back to the reference
 * beyond). Its results are bit-identical for any thread count: the work split and every
 * summation order depend only on the problem. The functions below run on the fused kernel. */

/* Forward over a slice of the keys. k, v hold keys [key_offset, key_offset + n) of a sequence of
 * total_keys keys (n = k->shape[2]); positions (causal, window, ALiBi, alignment), masks and
 * bias (broadcast against total_keys), key lengths and the dropout index all refer to the whole
 * sequence. out and lse ([B, Hq, Lq], required) are attention over the slice alone; rows with
 * no key of the slice get 0 and −∞. attn_sdpa_merge of all slices gives the full attention. */
ATTN_API int attn_sdpa_forward_partial(const attn_tensor *q, const attn_tensor *k,
                                       const attn_tensor *v, const attn_sdpa_options *opt,
                                       int64_t key_offset, int64_t total_keys, attn_tensor *out,
                                       float *lse);

/* Combine n partial results (outs[s]: [B, Hq, Lq, Ev] views; lses[s]: [B, Hq, Lq] contiguous):
 *   lse = log Σ_s exp(lse_s),   out = Σ_s exp(lse_s − lse) · out_s   (sums in double).
 * Rows whose every lse is −∞ get 0 and −∞. lse may be NULL; out may be one of outs. */
ATTN_API int attn_sdpa_merge(int n, const attn_tensor *outs, const float *const *lses,
                             attn_tensor *out, float *lse);

/* Variable-length batches, as FlashAttention's varlen API: nseq sequences packed along L.
 * q: [1, Hq, total_q, E], k: [1, Hkv, total_k, E], v: [1, Hkv, total_k, Ev], out like q with Ev
 * (e.g. attn_tensor_blhe(data, 1, total, H, E) for packed [total, H, E] memory). Sequence s owns
 * query rows [cu_seqlens_q[s], cu_seqlens_q[s+1]) and keys [cu_seqlens_k[s], cu_seqlens_k[s+1])
 * and attends only within itself, positions counted from its own start. Options: scale, causal,
 * align, window, alibi_slopes, softcap, dropout (sequence s draws stream (seed, offset + s) with
 * b = 0, as a separate call would), threads; mask, bias and key_lengths are rejected. lse:
 * [Hq, total_q] contiguous or NULL (forward), required with out in backward. */
ATTN_API int attn_sdpa_forward_varlen(const attn_tensor *q, const attn_tensor *k,
                                      const attn_tensor *v, const int32_t *cu_seqlens_q,
                                      const int32_t *cu_seqlens_k, int nseq,
                                      const attn_sdpa_options *opt, attn_tensor *out, float *lse);
ATTN_API int attn_sdpa_backward_varlen(const attn_tensor *q, const attn_tensor *k,
                                       const attn_tensor *v, const attn_tensor *out,
                                       const float *lse, const attn_tensor *dout,
                                       const int32_t *cu_seqlens_q, const int32_t *cu_seqlens_k,
                                       int nseq, const attn_sdpa_options *opt, attn_tensor *dq,
                                       attn_tensor *dk, attn_tensor *dv);

/* Attention weights on demand (before dropout) of query rows [row_begin, row_end) of head
 * (b, h), recomputed tile by tile from q, k and the forward's lse ([B, Hq, Lq]; NULL: computed
 * here for those rows) — for visualisation without holding Lq×Lk of every head. weights: 2-d
 * view [row_end − row_begin, Lk]. k also serves as v for validation (v's width is not used). */
ATTN_API int attn_sdpa_weights(const attn_tensor *q, const attn_tensor *k,
                               const attn_sdpa_options *opt, const float *lse, int64_t b, int64_t h,
                               int64_t row_begin, int64_t row_end, attn_tensor *weights);

/* Forward that also returns each row's entropy −Σ_j P_ij log P_ij of the weights (nats, before
 * dropout; 0 for a row with nothing to attend), computed in the same pass. entropy: [B, Hq, Lq]
 * contiguous; lse may be NULL. */
ATTN_API int attn_sdpa_forward_entropy(const attn_tensor *q, const attn_tensor *k,
                                       const attn_tensor *v, const attn_sdpa_options *opt,
                                       attn_tensor *out, float *lse, float *entropy);

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

/*
 * Additive (Bahdanau, "concat") attention:
 *   e_ij = vᵀ · tanh(W_q·q_i + W_k·k_j + b)       −∞ where key j is masked for query i
 *   w_ij = softmax_j(e_ij);   out_i = Σ_j w_ij · values_j
 *
 * q: [B, Lq, Dq]   k: [B, Lk, Dk]   values: [B, Lk, Dv]   out: [B, Lq, Dv]
 * weights: [B, Lq, Lk]. Views with any strides. Parameters are contiguous:
 * W_q: [A, Dq]   W_k: [A, Dk]   b: [A] (NULL: no bias)   v: [A]
 * A query row with no key left to attend gets output 0, weights 0 and gradient 0.
 * W_k NULL: k already holds the projected keys W_k·k ([B, Lk, A], Dk = A) — a decoder projects
 * the encoder outputs once per sentence rather than at every step — and dk is ∂/∂(that).
 */
typedef struct attn_additive_params {
    int64_t A;  /* attention width (rows of W_q and W_k) */
    float *w_q; /* [A, Dq] */
    float *w_k; /* [A, Dk], or NULL: k is pre-projected */
    float *b;   /* [A] or NULL */
    float *v;   /* [A] */
} attn_additive_params;

/* Zero-initialised options: no mask, library thread count. */
typedef struct attn_additive_options {
    const attn_bool_tensor *mask; /* [B|1, Lq|1, Lk|1], nonzero = attend; NULL: none     */
    const int32_t *key_lengths;   /* [B]: keys j ≥ key_lengths[b] are padding (clamped to [0, Lk]) */
    int num_threads;              /* 0: attn_get_num_threads()                            */
} attn_additive_options;

/* What backward needs from forward: the projections W_q·q + b [B, Lq, A], W_k·k [B, Lk, A]
 * and the weights [B, Lq, Lk]. The tanh activations [B, Lq, Lk, A] are recomputed. */
typedef struct attn_additive_cache attn_additive_cache;

/* Allocate a cache for these sizes (ATTN_E_NOMEM, ATTN_E_OVERFLOW). */
ATTN_API int attn_additive_cache_create(int64_t B, int64_t Lq, int64_t Lk, int64_t A,
                                        attn_additive_cache **cache);
/* Or place it in caller memory (e.g. an arena): *bytes needed, then init in mem (64-byte
 * aligned, at least that many bytes); nothing to free. */
ATTN_API int attn_additive_cache_bytes(int64_t B, int64_t Lq, int64_t Lk, int64_t A, size_t *bytes);
ATTN_API int attn_additive_cache_init(void *mem, size_t bytes, int64_t B, int64_t Lq, int64_t Lk,
                                      int64_t A, attn_additive_cache **cache);
/* Frees a cache from _create; one from _init is left alone. NULL is fine. */
ATTN_API void attn_additive_cache_free(attn_additive_cache *cache);

/* Forward. weights: [B, Lq, Lk] view or NULL. cache: from attn_additive_cache_create with the
 * same B, Lq, Lk, A, filled for backward; NULL for inference (temporaries are allocated). */
ATTN_API int attn_additive_forward(const attn_tensor *q, const attn_tensor *k,
                                   const attn_tensor *values, const attn_additive_params *p,
                                   const attn_additive_options *opt, attn_tensor *out,
                                   attn_tensor *weights, attn_additive_cache *cache);

/* Backward from dout [B, Lq, Dv], with the cache of the forward on the same inputs, params and
 * options. dq, dk, dvalues: overwritten (any may be NULL to skip). grads: same layout as p
 * (grads->A == p->A), accumulated; NULL or NULL fields skip. */
ATTN_API int attn_additive_backward(const attn_tensor *q, const attn_tensor *k,
                                    const attn_tensor *values, const attn_additive_params *p,
                                    const attn_additive_options *opt,
                                    const attn_additive_cache *cache, const attn_tensor *dout,
                                    attn_tensor *dq, attn_tensor *dk, attn_tensor *dvalues,
                                    attn_additive_params *grads);

/* ------------------------------------------------------------------------------------------ */
/* @@ multi-head attention @@                                                                 */
/* ------------------------------------------------------------------------------------------ */

/*
 * torch.nn.MultiheadAttention, with its parameter names and layouts, so that a state_dict copied
 * from PyTorch gives PyTorch's outputs. Runs on a tape (see the nn section below): its forward
 * records what backward needs, attn_tape_backward derives the gradients.
 *
 *   q = query·Wqᵀ + bq     k = key·Wkᵀ + bk     v = value·Wvᵀ + bv        (in-projections)
 *   k, v += one row bias_k, bias_v (add_bias_kv);  += one zero row (add_zero_attn)
 *   per head h: O_h = dropout(softmax(q_h k_hᵀ/√hd + masks)) v_h          (attn_sdpa_*)
 *   out = concat_h(O_h)·Woᵀ + bo
 *
 * Shapes (N batch, L target length, S source length, E = embed_dim, H heads, hd = E/H):
 *   query [L, N, E] (or [N, L, E] with batch_first), key [S, N, kdim], value [S, N, vdim].
 * Parameters (state_dict names under the prefix given to attn_mha_init):
 *   in_proj_weight [3E, E] when kdim = vdim = E, else q_proj_weight [E, E],
 *   k_proj_weight [E, kdim], v_proj_weight [E, vdim]; in_proj_bias [3E]; out_proj.weight [E, E];
 *   out_proj.bias [E]; bias_k, bias_v [1, 1, E].
 * Masks follow MultiheadAttention (NOT scaled_dot_product_attention): a bool mask is nonzero
 * where attention is NOT allowed; a float mask is added to the scores. Several masks add up
 * (torch ≥ 2.0's rule; 1.13 agrees wherever it accepts the combination).
 * Differences from torch, by design: a query row left with no key gives output 0 (torch: NaN);
 * the weights returned are those before dropout; dropout draws from our counter-based stream.
 */
typedef struct attn_params attn_params; /* the parameter table (nn section) */
typedef struct attn_param attn_param;   /* one named parameter (nn section) */
typedef struct attn_tape attn_tape;     /* the autograd tape (nn section) */
typedef struct attn_var attn_var;       /* an activation on the tape (nn section) */

/* Zero-initialised = torch defaults (bias on, no extras, no dropout, batch_first off). */
typedef struct attn_mha_config {
    int64_t embed_dim;  /* E */
    int64_t num_heads;  /* H, divides E */
    int64_t kdim, vdim; /* 0: E */
    int no_bias;        /* nonzero: bias=False (no in_proj_bias, out_proj.bias) */
    int add_bias_kv;
    int add_zero_attn;
    float dropout;      /* on the attention weights, when the tape is training */
    int batch_first;
} attn_mha_config;

typedef struct attn_mha {
    attn_mha_config cfg; /* kdim, vdim resolved */
    int64_t head_dim;
    int packed;          /* in_proj_weight (kdim = vdim = E) */
    attn_param *in_proj_weight, *q_proj_weight, *k_proj_weight, *v_proj_weight;
    attn_param *in_proj_bias, *out_proj_weight, *out_proj_bias, *bias_k, *bias_v;
} attn_mha;

/* Adds the parameters to P as "<prefix>in_proj_weight", ... (prefix "" or e.g. "self_attn."),
 * initialised as torch does (xavier-uniform projections, zero biases, xavier-normal bias_k/v),
 * from P's seed. */
ATTN_API int attn_mha_init(attn_mha *m, attn_params *P, const char *prefix,
                           const attn_mha_config *cfg);

/* Per-call arguments of MultiheadAttention.forward; zero = none/false. All masks are read during
 * the call only (what backward needs is copied to the tape). */
typedef struct attn_mha_args {
    const uint8_t *key_padding_mask; /* [N, S] nonzero = ignore this key */
    const float *key_padding_bias;   /* [N, S] added to the scores (torch's float key_padding_mask) */
    const uint8_t *attn_mask;        /* [L, S] or [N·H, L, S]: nonzero = NOT allowed */
    const float *attn_bias;          /* [L, S] or [N·H, L, S]: added to the scores */
    int attn_mask_3d;                /* attn_mask / attn_bias is [N·H, L, S] */
    int is_causal;                   /* as attn_mask = triu(ones(L, S), 1) (allowed: key j ≤ i) */
    int need_weights;                /* fill *weights */
    int per_head_weights;            /* weights [N, H, L, S'] instead of the head mean [N, L, S'] */
} attn_mha_args;

/* out: [L, N, E] (or [N, L, E]) on the tape. weights (NULL unless args->need_weights): a tape
 * variable without gradient, [N, L, S'] or [N, H, L, S'], S' = S (+1 bias_kv) (+1 zero_attn).
 * query may be the same variable as key and value (self-attention). */
ATTN_API int attn_mha_forward(attn_tape *t, const attn_mha *m, attn_var *query, attn_var *key,
                              attn_var *value, const attn_mha_args *args, attn_var **out,
                              attn_var **weights);

/* ------------------------------------------------------------------------------------------ */
/* @@ positional encodings @@                                                                 */
/* ------------------------------------------------------------------------------------------ */

/* Sinusoidal table ("Attention is all you need") into out [L, d], contiguous:
 *   PE[pos, 2i] = sin(pos / base^(2i/d)),  PE[pos, 2i+1] = cos(pos / base^(2i/d)),
 * pos = offset + row. An odd d ends with a sine column. base 0: 10000. */
ATTN_API int attn_posenc_sinusoidal(float *out, int64_t L, int64_t d, int64_t offset, float base);

/* Learned absolute positions: y[b, l, :] = x[b, l, :] + table[offset + l, :].
 * x, y: [B, L, D] views (y may be x for in place). table: [max_len, D] contiguous;
 * offset + L must not exceed max_len. */
ATTN_API int attn_posenc_learned_forward(const attn_tensor *x, const float *table, int64_t max_len,
                                         int64_t offset, attn_tensor *y);
/* dx = dy (overwritten; NULL skips; may be dy), dtable[offset + l, :] += Σ_b dy[b, l, :]. */
ATTN_API int attn_posenc_learned_backward(const attn_tensor *dy, int64_t max_len, int64_t offset,
                                          attn_tensor *dx, float *dtable);

/* Rotary position embedding (RoPE) on x: [B, H, L, E] (any strides, e.g. attn_tensor_blhe).
 * Pair p = (x_a, x_b) of feature i ∈ [0, R/2) at position pos is rotated by the angle
 * pos·θ_i, θ_i = base^(−2i/R), R = rotary_dim:
 *   (x_a, x_b) → (x_a·cos − x_b·sin, x_a·sin + x_b·cos)
 * HALF (GPT-NeoX, LLaMA): a = i, b = i + R/2.  INTERLEAVED (GPT-J): a = 2i, b = 2i + 1.
 * Features ≥ R pass through unchanged. pos = offset + l (+ batch_offsets[b]); apply to Q and K
 * with the same options, e.g. offset = tokens already in the KV cache when decoding. */
typedef enum attn_rope_pairing {
    ATTN_ROPE_HALF = 0,
    ATTN_ROPE_INTERLEAVED = 1
} attn_rope_pairing;

/* Zero-initialised: HALF pairing, base 10000, offset 0, rotate all of E. */
typedef struct attn_rope_options {
    attn_rope_pairing pairing;
    float base;                     /* 0: 10000                                            */
    int64_t offset;                 /* position of row l = 0, ≥ 0                           */
    const int32_t *batch_offsets;   /* [B] extra per-batch offsets ≥ 0, or NULL             */
    int64_t rotary_dim;             /* R: 0 = E; else even and ≤ E (partial rotary)         */
    int num_threads;                /* 0: attn_get_num_threads()                            */
} attn_rope_options;

/* y = rope(x). y has x's shape; it may be x itself (in place), any other overlap is undefined. */
ATTN_API int attn_rope_forward(const attn_tensor *x, const attn_rope_options *opt, attn_tensor *y);
/* dx = rope⁻¹(dy): the inverse rotation (the transpose of the forward). dx may be dy. */
ATTN_API int attn_rope_backward(const attn_tensor *dy, const attn_rope_options *opt,
                                attn_tensor *dx);

/* ALiBi slopes for H heads (Press et al.) into slopes[H], for attn_sdpa_options.alibi_slopes:
 * slope_h = 2^(−8(h+1)/H) when H is a power of two; otherwise the n = 2^⌊log₂H⌋ slopes of n
 * heads followed by every other slope of 2n heads (the 1st, 3rd, …) up to H in all. */
ATTN_API int attn_alibi_slopes(float *slopes, int64_t H);

/* ------------------------------------------------------------------------------------------ */
/* @@ gru @@                                                                                  */
/* ------------------------------------------------------------------------------------------ */
/*
 * GRU as torch.nn.GRU, per layer and direction, gate order (r, z, n):
 *   r = σ(W_ir x + b_ir + W_hr h + b_hr)      z = σ(W_iz x + b_iz + W_hz h + b_hz)
 *   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))      h' = (1 − z) ⊙ n + z ⊙ h
 * x: [L, B, In] ([B, L, In] if batch_first)   y: [L, B, D·H] ([B, L, D·H])
 * h0, h_n: [num_layers·D, B, H] (index layer·D + direction)   D = 2 if bidirectional else 1.
 * Layer l > 0 reads layer l−1's y (width D·H). Variable lengths follow packed sequences:
 * sequence b runs over its first lengths[b] steps, the reverse direction starts at its own last
 * token, y is 0 past the end, and h_n holds each sequence's last state. No inter-layer dropout.
 *
 * Parameters are passed as a table of pointers, one contiguous tensor each, in the order of
 * PyTorch's state_dict: for each layer l, for each direction (suffix "" then "_reverse"):
 * weight_ih_l{l} [3H, In_l], weight_hh_l{l} [3H, H], bias_ih_l{l} [3H], bias_hh_l{l} [3H]
 * (no biases if no_bias). attn_gru_param_info gives each one's name and shape, and an offset
 * for keeping them all in one flat array. Gradients use a table of the same order.
 */
typedef struct attn_gru_config {
    int64_t input_size;  /* In */
    int64_t hidden_size; /* H */
    int num_layers;      /* ≥ 1 */
    int bidirectional;   /* nonzero: D = 2 */
    int batch_first;     /* nonzero: x and y are [B, L, ·] */
    int no_bias;         /* nonzero: no bias tensors (PyTorch bias=False) */
    int num_threads;     /* 0: attn_get_num_threads() */
} attn_gru_config;

typedef struct attn_gru_tensor_info {
    char name[48];    /* state_dict key, e.g. "weight_hh_l1_reverse" */
    int ndim;         /* 1 or 2 */
    int64_t shape[2];
    int64_t offset;   /* in floats, when all tensors are kept in one flat array in this order */
    int64_t numel;
} attn_gru_tensor_info;

/* Number of tensors and their total number of floats. */
ATTN_API int attn_gru_num_params(const attn_gru_config *cfg, int *num_tensors, int64_t *num_floats);
/* Name, shape and place of tensor `index` (0 ≤ index < num_tensors). */
ATTN_API int attn_gru_param_info(const attn_gru_config *cfg, int index,
                                 attn_gru_tensor_info *info);

/* Activations kept for backward (gates and states of every step and layer, a copy of x, h0 and
 * the lengths), for sequences of at most L steps and exactly B rows. */
typedef struct attn_gru_cache attn_gru_cache;
ATTN_API int attn_gru_cache_create(const attn_gru_config *cfg, int64_t L, int64_t B,
                                   attn_gru_cache **cache);
/* Or in caller memory (64-byte aligned, *bytes long); nothing to free. */
ATTN_API int attn_gru_cache_bytes(const attn_gru_config *cfg, int64_t L, int64_t B, size_t *bytes);
ATTN_API int attn_gru_cache_init(void *mem, size_t bytes, const attn_gru_config *cfg, int64_t L,
                                 int64_t B, attn_gru_cache **cache);
/* Frees a cache from _create; one from _init is left alone. NULL is fine. */
ATTN_API void attn_gru_cache_free(attn_gru_cache *cache);

/* Forward. h0 NULL: zeros. lengths [B] in [0, L] or NULL (all L). h_n NULL: not returned.
 * cache NULL: inference (temporaries allocated); else filled for backward. */
ATTN_API int attn_gru_forward(const attn_gru_config *cfg, const float *const *params,
                              const attn_tensor *x, const attn_tensor *h0, const int32_t *lengths,
                              attn_tensor *y, attn_tensor *h_n, attn_gru_cache *cache);

/* Backward through time from dy (shape of y, NULL: 0) and dh_n (shape of h_n, NULL: 0), with
 * the cache of the forward. dx, dh0 overwritten (NULL: skipped); dparams: table like params,
 * accumulated (NULL table or NULL entries: skipped). Entries of dy past a sequence's length
 * are ignored. */
ATTN_API int attn_gru_backward(const attn_gru_config *cfg, const float *const *params,
                               const attn_gru_cache *cache, const attn_tensor *dy,
                               const attn_tensor *dh_n, attn_tensor *dx, attn_tensor *dh0,
                               float *const *dparams);

/*
 * Bahdanau decoder step (Bahdanau et al. 2015, with a GRU), for one time step of B rows:
 *   ctx, α = additive_attention(q = s_prev, k = values = enc)      ctx: [B, De], α: [B, Lk]
 *   s      = GRUCell([emb; ctx], s_prev)                           (torch.nn.GRUCell)
 *   out    = W_out·[s; ctx; emb] + b_out                           out: [B, Do]
 * s_prev, s: [B, H]   enc: [B, Lk, De] (any strides)   emb: [B, Dm]. [B, ·] arrays are
 * contiguous. opt masks encoder positions (key_lengths for padded source sentences; a mask
 * must be [B|1, 1, Lk]).
 */
typedef struct attn_bahdanau_config {
    int64_t hidden_size; /* H  */
    int64_t enc_size;    /* De */
    int64_t emb_size;    /* Dm */
    int64_t attn_size;   /* A  */
    int64_t out_size;    /* Do */
    int num_threads;     /* 0: attn_get_num_threads() */
} attn_bahdanau_config;

/* All contiguous. Gradients use the same struct. */
typedef struct attn_bahdanau_params {
    float *attn_w_q;  /* [A, H]            */
    float *attn_w_k;  /* [A, De]           */
    float *attn_b;    /* [A] or NULL       */
    float *attn_v;    /* [A]               */
    float *weight_ih; /* [3H, Dm + De]     GRU cell, gates r, z, n */
    float *weight_hh; /* [3H, H]           */
    float *bias_ih;   /* [3H] or NULL      */
    float *bias_hh;   /* [3H] or NULL      */
    float *w_out;     /* [Do, H + De + Dm] */
    float *b_out;     /* [Do] or NULL      */
} attn_bahdanau_params;

typedef struct attn_bahdanau_cache attn_bahdanau_cache;
ATTN_API int attn_bahdanau_cache_create(const attn_bahdanau_config *cfg, int64_t B, int64_t Lk,
                                        attn_bahdanau_cache **cache);
ATTN_API void attn_bahdanau_cache_free(attn_bahdanau_cache *cache);

/* Projected encoder keys enc_proj = enc·W_kᵀ [B, Lk, A] (any strides), computed once per source
 * sentence and passed to every step, which then skips W_k. Its backward takes the gradient
 * collected over all steps: denc += denc_proj·W_k, grads->attn_w_k += denc_projᵀ·enc. */
ATTN_API int attn_bahdanau_project_keys(const attn_bahdanau_config *cfg,
                                        const attn_bahdanau_params *p, const attn_tensor *enc,
                                        attn_tensor *enc_proj);
ATTN_API int attn_bahdanau_project_keys_backward(const attn_bahdanau_config *cfg,
                                                 const attn_bahdanau_params *p,
                                                 const attn_tensor *enc,
                                                 const attn_tensor *denc_proj, attn_tensor *denc,
                                                 attn_bahdanau_params *grads);

/* One step. enc_proj: from attn_bahdanau_project_keys, or NULL to project enc here.
 * weights: [B, Lk] contiguous or NULL; ctx [B, De] and out [B, Do] required. cache: for
 * backward, or NULL for inference. s may not alias s_prev. */
ATTN_API int attn_bahdanau_step_forward(const attn_bahdanau_config *cfg,
                                        const attn_bahdanau_params *p,
                                        const attn_additive_options *opt, const float *s_prev,
                                        const attn_tensor *enc, const attn_tensor *enc_proj,
                                        const float *emb, float *s, float *ctx, float *weights,
                                        float *out, attn_bahdanau_cache *cache);

/* Backward of one step (same inputs as the forward), given dout [B, Do] (NULL: 0) and ds
 * [B, H], the gradient reaching s from later steps (NULL: 0). ds_prev [B, H] and demb [B, Dm]
 * are overwritten (NULL: skipped). denc [B, Lk, De] and denc_proj [B, Lk, A] are ACCUMULATED
 * (+=: the encoder outputs feed every step; NULL: skipped); with enc_proj the keys' gradient
 * goes to denc_proj (and through attn_bahdanau_project_keys_backward to enc and W_k), without
 * it straight to denc and grads->attn_w_k. grads accumulated (NULL or NULL fields: skipped). */
ATTN_API int attn_bahdanau_step_backward(const attn_bahdanau_config *cfg,
                                         const attn_bahdanau_params *p,
                                         const attn_additive_options *opt, const float *s_prev,
                                         const attn_tensor *enc, const attn_tensor *enc_proj,
                                         const float *emb, const attn_bahdanau_cache *cache,
                                         const float *dout, const float *ds, float *ds_prev,
                                         attn_tensor *denc, attn_tensor *denc_proj, float *demb,
                                         attn_bahdanau_params *grads);

/* A whole teacher-forced decoder pass: T Bahdanau steps from s0, the keys projected once.
 * enc: [B, Lk, De]   s0, s_last: [B, H] contiguous   emb: [B, T, Dm] (step t reads emb[:, t])
 * out: [B, T, Do]   weights: [B, T, Lk] (the alignment matrix) or NULL.
 * Views with any strides. The cache holds every step (T step caches and T+1 states). */
typedef struct attn_bahdanau_decoder_cache attn_bahdanau_decoder_cache;
ATTN_API int attn_bahdanau_decoder_cache_create(const attn_bahdanau_config *cfg, int64_t B,
                                                int64_t T, int64_t Lk,
                                                attn_bahdanau_decoder_cache **cache);
/* Or in caller memory (64-byte aligned, *bytes long); nothing to free. */
ATTN_API int attn_bahdanau_decoder_cache_bytes(const attn_bahdanau_config *cfg, int64_t B,
                                               int64_t T, int64_t Lk, size_t *bytes);
ATTN_API int attn_bahdanau_decoder_cache_init(void *mem, size_t bytes,
                                              const attn_bahdanau_config *cfg, int64_t B,
                                              int64_t T, int64_t Lk,
                                              attn_bahdanau_decoder_cache **cache);
/* Frees a cache from _create; one from _init is left alone. NULL is fine. */
ATTN_API void attn_bahdanau_decoder_cache_free(attn_bahdanau_decoder_cache *cache);

/* s_last NULL: not returned. cache NULL: inference (temporaries allocated). */
ATTN_API int attn_bahdanau_decoder_forward(const attn_bahdanau_config *cfg,
                                           const attn_bahdanau_params *p,
                                           const attn_additive_options *opt,
                                           const attn_tensor *enc, const float *s0,
                                           const attn_tensor *emb, attn_tensor *out,
                                           attn_tensor *weights, float *s_last,
                                           attn_bahdanau_decoder_cache *cache);

/* Backward through all T steps from dout [B, T, Do] (NULL: 0) and ds_last [B, H] (NULL: 0).
 * denc [B, Lk, De], ds0 [B, H] and demb [B, T, Dm] are overwritten (NULL: skipped); grads
 * accumulated (NULL or NULL fields: skipped). */
ATTN_API int attn_bahdanau_decoder_backward(const attn_bahdanau_config *cfg,
                                            const attn_bahdanau_params *p,
                                            const attn_additive_options *opt,
                                            const attn_tensor *enc, const float *s0,
                                            const attn_tensor *emb,
                                            const attn_bahdanau_decoder_cache *cache,
                                            const attn_tensor *dout, const float *ds_last,
                                            attn_tensor *denc, float *ds0, attn_tensor *demb,
                                            attn_bahdanau_params *grads);

/* ---- on the tape (see the nn section): layers whose backward the tape runs ------------------ */

/* Additive attention with its parameters in a table: "<prefix>w_q" [A, Dq], "<prefix>w_k"
 * [A, Dk], "<prefix>b" [A] (if bias), "<prefix>v" [A]; W's ~ U(±1/√D), v ~ U(±1/√A), b = 0. */
typedef struct attn_additive_layer {
    int64_t A;
    attn_param *w_q, *w_k, *b, *v; /* b NULL without bias */
} attn_additive_layer;
ATTN_API int attn_additive_layer_init(attn_additive_layer *l, attn_params *P, const char *prefix,
                                      int64_t Dq, int64_t Dk, int64_t A, int bias);
/* q [B, Lq, Dq], k [B, Lk, Dk], values [B, Lk, Dv] variables → out [B, Lq, Dv]; weights
 * (may be NULL) receives the [B, Lq, Lk] weights as a variable without gradient. opt's mask
 * and key lengths are copied to the tape. */
ATTN_API int attn_additive_layer_forward(attn_tape *t, const attn_additive_layer *l, attn_var *q,
                                         attn_var *k, attn_var *values,
                                         const attn_additive_options *opt, attn_var **out,
                                         attn_var **weights);

/* torch.nn.GRU on the tape, parameters named as its state_dict under prefix ("<prefix>weight_ih_l0",
 * …), initialised as torch (U(±1/√H)). At most ATTN_GRU_LAYER_MAX_TENSORS tensors
 * (8 bidirectional layers). */
#define ATTN_GRU_LAYER_MAX_TENSORS 64
typedef struct attn_gru_layer {
    attn_gru_config cfg;
    int num_tensors;
    attn_param *tensors[ATTN_GRU_LAYER_MAX_TENSORS];
} attn_gru_layer;
ATTN_API int attn_gru_layer_init(attn_gru_layer *g, attn_params *P, const char *prefix,
                                 const attn_gru_config *cfg);
/* x [L, B, In] ([B, L, In] if batch_first) → y, h_n as attn_gru_forward. h0 (NULL: zeros) a
 * [layers·D, B, H] variable; lengths [B] copied to the tape. h_n may be NULL. */
ATTN_API int attn_gru_layer_forward(attn_tape *t, const attn_gru_layer *g, attn_var *x,
                                    attn_var *h0, const int32_t *lengths, attn_var **y,
                                    attn_var **h_n);

/* The Bahdanau decoder (attn_bahdanau_decoder_*) on the tape. Parameters under prefix:
 * attention.w_q [A, H], attention.w_k [A, De], attention.b [A], attention.v [A],
 * gru.weight_ih [3H, Dm + De], gru.weight_hh [3H, H], gru.bias_ih [3H], gru.bias_hh [3H]
 * (torch.nn.GRUCell's names), out.weight [Do, H + De + Dm], out.bias [Do]; initialised
 * U(±1/√fan_in) (GRU: U(±1/√H)), attention.b = 0. */
typedef struct attn_bahdanau_layer {
    attn_bahdanau_config cfg;
    attn_param *attn_w_q, *attn_w_k, *attn_b, *attn_v;
    attn_param *weight_ih, *weight_hh, *bias_ih, *bias_hh;
    attn_param *w_out, *b_out;
} attn_bahdanau_layer;
ATTN_API int attn_bahdanau_layer_init(attn_bahdanau_layer *l, attn_params *P, const char *prefix,
                                      const attn_bahdanau_config *cfg);
/* enc [B, Lk, De], s0 [B, H], emb [B, T, Dm] variables → out [B, T, Do]; weights (NULL: not
 * wanted) [B, T, Lk] without gradient; s_last (NULL: not wanted) [B, H]. */
ATTN_API int attn_bahdanau_layer_forward(attn_tape *t, const attn_bahdanau_layer *l,
                                         attn_var *enc, attn_var *s0, attn_var *emb,
                                         const attn_additive_options *opt, attn_var **out,
                                         attn_var **weights, attn_var **s_last);

/* RoPE on a [B, H, L, E] variable (opt as attn_rope_forward; batch_offsets copied). */
ATTN_API int attn_op_rope(attn_tape *t, attn_var *x, const attn_rope_options *opt,
                          attn_var **out);

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
/* @@ nn layers, tape, optimisers @@                                                          */
/* ------------------------------------------------------------------------------------------ */

/*
 * Training stack: a parameter table, a tape, layers with PyTorch's names, losses, optimisers.
 *
 * How a model is written. Its layers are structs holding attn_param pointers; each layer's
 * _init registers its parameters in one attn_params table under a state_dict-style prefix. The
 * model is its forward: a function that calls layer _forward and attn_op_* functions on a tape.
 * Each call computes its output into the tape's arena and records a node (its cache and its
 * backward function). attn_tape_backward runs the recorded nodes in reverse: the backward is
 * derived from what the forward ran, never written per model. One step:
 *
 *     attn_tape_reset(tape);                              // drop last step's activations
 *     attn_tape_input(tape, x, 2, shape, 0, &xv);         // leaves: copied into the arena
 *     attn_linear_forward(tape, &fc1, xv, &h);            // records y = x·Wᵀ + b
 *     attn_op_relu(tape, h, &h);
 *     attn_linear_forward(tape, &fc2, h, &logits);
 *     attn_op_cross_entropy(tape, logits, targets, &ce_opts, &loss);
 *     attn_params_zero_grad(P);
 *     attn_tape_backward(tape, loss, NULL);               // ∂loss/∂param += into param->grad
 *     attn_optim_step(opt, lr);
 *
 * Gradients on the tape accumulate: a variable used twice (a residual) receives the sum.
 * Parameter gradients accumulate into the table's grad buffers across backward calls until
 * attn_params_zero_grad; variables' grads live in the arena and start at zero each step.
 * Memory: every activation, cache and gradient lives in the tape's arena; attn_tape_reset
 * recycles it (after the first step the arena is one block of the high-water size, and a step
 * allocates nothing else). Dropout draws from (tape seed, a counter advanced per dropout call),
 * regenerated in backward; attn_tape_set_training(t, 0) turns every dropout off.
 * Threads: the tape's thread count is passed to attn_sgemm, attn_sdpa_* and OpenMP loops;
 * results are bit-identical for a fixed count.
 * Lifetimes: a recording keeps pointers to the layer structs and parameters it used; keep them
 * in place until attn_tape_reset. Weight tying is sharing an attn_param between two layers
 * (e.g. attn_linear head = {E, V, emb.weight, NULL}): both gradients add into it.
 */

/* ---- the parameter table: the single list of (name, shape, data, grad) ------------------ */

#define ATTN_PARAM_NAME_MAX 128

struct attn_param {
    char name[ATTN_PARAM_NAME_MAX]; /* state_dict name, e.g. "layers.0.self_attn.in_proj_weight" */
    int ndim;
    int64_t shape[ATTN_MAX_DIMS];
    int64_t numel;
    float *data; /* owned by the table */
    float *grad; /* owned by the table; zeroed at creation */
    int no_weight_decay; /* set to 1 and the optimisers apply no weight decay to it (torch: a
                          * param group with weight_decay=0, usual for biases and norms) */
};

typedef enum attn_init {
    ATTN_INIT_ZEROS = 0,
    ATTN_INIT_ONES = 1,
    ATTN_INIT_UNIFORM = 2, /* U(−a, a) */
    ATTN_INIT_NORMAL = 3   /* N(0, a²) */
} attn_init;

/* seed: the stream the initialisers draw from (parameter i uses offset i). */
ATTN_API int attn_params_create(uint64_t seed, attn_params **out);
ATTN_API void attn_params_free(attn_params *P);
/* Add "<prefix><name>" of the given shape, allocated (data and grad) and initialised. Names must
 * be unique. *out (may be NULL) stays valid until attn_params_free. */
ATTN_API int attn_params_add(attn_params *P, const char *prefix, const char *name, int ndim,
                             const int64_t *shape, attn_init init, float a, attn_param **out);
ATTN_API int attn_params_count(const attn_params *P);
ATTN_API attn_param *attn_params_at(const attn_params *P, int i); /* NULL if out of range */
ATTN_API attn_param *attn_params_find(const attn_params *P, const char *name); /* NULL: none */
ATTN_API int64_t attn_params_numel(const attn_params *P); /* total number of elements */
ATTN_API void attn_params_zero_grad(attn_params *P);

/* ---- the tape ------------------------------------------------------------------------------ */

struct attn_var {
    float *data;       /* contiguous, row-major, in the arena (parameters: the table's data) */
    float *grad;       /* NULL until a gradient reaches it in backward */
    int ndim;
    int64_t shape[ATTN_MAX_DIMS];
    int64_t numel;
    int requires_grad; /* a gradient is computed for it */
    attn_param *param; /* the parameter it wraps, or NULL */
};

typedef struct attn_tape_config {
    size_t arena_bytes; /* initial arena size; 0: 1 MiB (it grows as needed) */
    int num_threads;    /* 0: attn_get_num_threads() */
    uint64_t seed;      /* dropout stream */
} attn_tape_config;

ATTN_API int attn_tape_create(const attn_tape_config *cfg, attn_tape **out);
ATTN_API void attn_tape_free(attn_tape *t);
/* Forget every variable and node; keep (and coalesce) the arena. The dropout counter goes on. */
ATTN_API int attn_tape_reset(attn_tape *t);
/* Training mode (dropout active): 1 at creation. */
ATTN_API void attn_tape_set_training(attn_tape *t, int training);
ATTN_API int attn_tape_training(const attn_tape *t);
/* The dropout stream: seed, and the offset the next dropout call will use (each call takes
 * one). Read it to checkpoint, set it to replay a step exactly. */
ATTN_API void attn_tape_set_rng(attn_tape *t, uint64_t seed, uint64_t offset);
ATTN_API void attn_tape_get_rng(const attn_tape *t, uint64_t *seed, uint64_t *offset);
ATTN_API int attn_tape_num_threads(const attn_tape *t);
/* Bytes of arena in use / reserved. */
ATTN_API size_t attn_tape_arena_used(const attn_tape *t);
ATTN_API size_t attn_tape_arena_capacity(const attn_tape *t);

/* An observer sees every attention map a multi-head attention computes on this tape: the
 * weights w [N, H, L, S'] of module m before dropout (valid during the call only). For
 * visualisation: with an observer set, attention runs on the path that returns weights. */
typedef void (*attn_attention_observer)(void *ctx, const attn_mha *m, const float *w, int64_t N,
                                        int64_t H, int64_t L, int64_t S);
ATTN_API void attn_tape_set_observer(attn_tape *t, attn_attention_observer fn, void *ctx);

/* A leaf: data (NULL: zeros) copied into the arena. requires_grad: its grad is filled in
 * backward (read it from (*out)->grad; NULL if no gradient reached it = zero). */
ATTN_API int attn_tape_input(attn_tape *t, const float *data, int ndim, const int64_t *shape,
                             int requires_grad, attn_var **out);
/* A parameter as a variable: data and grad are the table's (backward accumulates into grad). */
ATTN_API int attn_tape_param(attn_tape *t, attn_param *p, attn_var **out);
/* Run the recorded nodes in reverse from y, seeded with dy (same shape as y; NULL: all ones,
 * the usual seed for a scalar loss). Can be called once per recording. */
ATTN_API int attn_tape_backward(attn_tape *t, attn_var *y, const float *dy);

/* ---- stateless ops (x: any shape; features along the last dimension) ----------------------- */

/* a + b, b broadcast to a's shape (NumPy rules, b.ndim ≤ a.ndim, each of b's dims 1 or a's),
 * e.g. positional encodings [L, 1, E] onto [L, N, E]. The output has a's shape. */
ATTN_API int attn_op_add(attn_tape *t, attn_var *a, attn_var *b, attn_var **out);
/* alpha·x (e.g. embeddings times √d_model). */
ATTN_API int attn_op_scale(attn_tape *t, attn_var *x, float alpha, attn_var **out);
/* The same elements under another shape (same count); shares x's data, no copy. */
ATTN_API int attn_op_reshape(attn_tape *t, attn_var *x, int ndim, const int64_t *shape,
                             attn_var **out);
/* x narrowed along dimension dim to [start, start + length) (a copy; torch.narrow), e.g. one
 * direction of a bidirectional GRU's h_n. */
ATTN_API int attn_op_narrow(attn_tape *t, attn_var *x, int dim, int64_t start, int64_t length,
                            attn_var **out);
ATTN_API int attn_op_relu(attn_tape *t, attn_var *x, attn_var **out);
ATTN_API int attn_op_tanh(attn_tape *t, attn_var *x, attn_var **out);
/* approximate 0: x·Φ(x) with erf (torch's default); 1: the tanh form (approximate='tanh'). */
ATTN_API int attn_op_gelu(attn_tape *t, attn_var *x, int approximate, attn_var **out);
/* Inverted dropout with probability p (identity when not training or p = 0). */
ATTN_API int attn_op_dropout(attn_tape *t, attn_var *x, float p, attn_var **out);
/* Softmax along the last dimension. */
ATTN_API int attn_op_softmax(attn_tape *t, attn_var *x, attn_var **out);
/* Scaled dot-product attention on 4-d variables (q [B,Hq,Lq,E], k, v as attn_sdpa_forward);
 * opt->mask / opt->bias / key_lengths / alibi are copied to the tape; opt dropout uses the
 * tape's stream (seed and offset of opt are ignored) and only when training. */
ATTN_API int attn_op_sdpa(attn_tape *t, attn_var *q, attn_var *k, attn_var *v,
                          const attn_sdpa_options *opt, attn_var **out);

/* torch.nn.functional.cross_entropy with reduction='mean': logits [..., C], targets [rows]
 * (rows = numel / C). The mean runs over rows whose target ≠ ignore_index (a batch where all
 * are ignored gives 0, torch gives NaN). label_smoothing ε mixes the one-hot target with the
 * uniform distribution: loss = (1−ε)·nll + ε·mean_c(−log p_c). */
typedef struct attn_ce_options {
    int32_t ignore_index;  /* default for torch is −100: set it explicitly */
    float label_smoothing; /* in [0, 1] */
} attn_ce_options;
ATTN_API int attn_op_cross_entropy(attn_tape *t, attn_var *logits, const int32_t *targets,
                                   const attn_ce_options *opt, attn_var **loss);

/* ---- layers (torch.nn names; parameters registered under a prefix) ------------------------- */

/* Linear: y = x·Wᵀ + b. weight [out, in], bias [out]; init as torch (U(±1/√in)). */
typedef struct attn_linear {
    int64_t in_features, out_features;
    attn_param *weight, *bias; /* bias NULL when created without */
} attn_linear;
ATTN_API int attn_linear_init(attn_linear *l, attn_params *P, const char *prefix,
                              int64_t in_features, int64_t out_features, int bias);
ATTN_API int attn_linear_forward(attn_tape *t, const attn_linear *l, attn_var *x, attn_var **out);

/* Embedding: weight [num, dim] ~ N(0, 1); the row padding_idx (if ≥ 0) starts at 0 and gets no
 * gradient. ids: [n] int32 in [0, num); out: [shape..., dim] where shape multiplies to n. */
typedef struct attn_embedding {
    int64_t num_embeddings, embedding_dim;
    int64_t padding_idx; /* −1: none */
    attn_param *weight;
} attn_embedding;
ATTN_API int attn_embedding_init(attn_embedding *e, attn_params *P, const char *prefix,
                                 int64_t num_embeddings, int64_t embedding_dim, int64_t padding_idx);
ATTN_API int attn_embedding_forward(attn_tape *t, const attn_embedding *e, const int32_t *ids,
                                    int ndim, const int64_t *shape, attn_var **out);

/* LayerNorm over the last dimension: (x − mean)/√(var + eps)·weight + bias (biased variance). */
typedef struct attn_layernorm {
    int64_t dim;
    float eps;                 /* torch default 1e-5 */
    attn_param *weight, *bias; /* NULL without elementwise affine */
} attn_layernorm;
ATTN_API int attn_layernorm_init(attn_layernorm *n, attn_params *P, const char *prefix, int64_t dim,
                                 float eps, int elementwise_affine);
ATTN_API int attn_layernorm_forward(attn_tape *t, const attn_layernorm *n, attn_var *x,
                                    attn_var **out);

typedef enum attn_activation {
    ATTN_ACT_RELU = 0,
    ATTN_ACT_GELU = 1,     /* exact (erf) */
    ATTN_ACT_GELU_TANH = 2 /* tanh approximation */
} attn_activation;

/* Position-wise feed-forward, as inside torch's Transformer layers:
 * linear2(dropout(act(linear1(x)))); parameters "<prefix>linear1.*", "<prefix>linear2.*". */
typedef struct attn_ffn {
    attn_linear linear1, linear2;
    attn_activation activation;
    float dropout;
} attn_ffn;
ATTN_API int attn_ffn_init(attn_ffn *f, attn_params *P, const char *prefix, int64_t d_model,
                           int64_t dim_feedforward, attn_activation act, float dropout);
ATTN_API int attn_ffn_forward(attn_tape *t, const attn_ffn *f, attn_var *x, attn_var **out);

/* torch.nn.TransformerEncoderLayer / TransformerDecoderLayer (zero = torch defaults except
 * d_model, nhead; dim_feedforward 0 → 2048, layer_norm_eps 0 → 1e-5; dropout is taken as
 * given, torch's default being 0.1). */
typedef struct attn_transformer_config {
    int64_t d_model, nhead, dim_feedforward;
    float dropout;
    attn_activation activation;
    float layer_norm_eps;
    int batch_first;
    int norm_first;
} attn_transformer_config;

/* Names: self_attn.*, linear1.*, linear2.*, norm1.*, norm2.*. */
typedef struct attn_encoder_layer {
    attn_transformer_config cfg;
    attn_mha self_attn;
    attn_ffn ffn;
    attn_layernorm norm1, norm2;
} attn_encoder_layer;
ATTN_API int attn_encoder_layer_init(attn_encoder_layer *l, attn_params *P, const char *prefix,
                                     const attn_transformer_config *cfg);
/* src [S, N, E] (or [N, S, E]); mask: attn_mask/key_padding_mask of self-attention (need_weights
 * ignored). */
ATTN_API int attn_encoder_layer_forward(attn_tape *t, const attn_encoder_layer *l, attn_var *src,
                                        const attn_mha_args *mask, attn_var **out);

/* Names: self_attn.*, multihead_attn.*, linear1.*, linear2.*, norm1.*, norm2.*, norm3.*. */
typedef struct attn_decoder_layer {
    attn_transformer_config cfg;
    attn_mha self_attn, multihead_attn;
    attn_ffn ffn;
    attn_layernorm norm1, norm2, norm3;
} attn_decoder_layer;
ATTN_API int attn_decoder_layer_init(attn_decoder_layer *l, attn_params *P, const char *prefix,
                                     const attn_transformer_config *cfg);
/* tgt [T, N, E], memory [S, N, E] (or batch first). tgt_mask: masks of the self-attention
 * (tgt_mask, tgt_key_padding_mask); memory_mask: of the cross-attention. */
ATTN_API int attn_decoder_layer_forward(attn_tape *t, const attn_decoder_layer *l, attn_var *tgt,
                                        attn_var *memory, const attn_mha_args *tgt_mask,
                                        const attn_mha_args *memory_mask, attn_var **out);

/* sizeof of a public layer struct by its type name ("attn_linear", "attn_mha", ...), 0 if
 * unknown: for bindings that allocate these structs. */
ATTN_API size_t attn_nn_sizeof(const char *type_name);

/* ---- optimisers, schedules, clipping (torch.optim semantics) -------------------------------- */

typedef enum attn_optim_kind {
    ATTN_OPTIM_SGD = 0,  /* momentum, dampening, nesterov, weight_decay (L2 added to the grad) */
    ATTN_OPTIM_ADAM = 1, /* weight_decay as L2 added to the grad */
    ATTN_OPTIM_ADAMW = 2 /* decoupled: p −= lr·wd·p before the Adam update */
} attn_optim_kind;

/* Zero fields are zero, except beta1/beta2/eps: 0 → 0.9 / 0.999 / 1e-8. Adam's update is
 * p −= lr·m̂ / (√v̂ + eps) with bias corrections, eps outside the square root (as torch).
 * Note torch's AdamW defaults to weight_decay 0.01; here 0 means none. */
typedef struct attn_optim_config {
    attn_optim_kind kind;
    float momentum, dampening, weight_decay;
    int nesterov;
    float beta1, beta2, eps;
} attn_optim_config;

typedef struct attn_optim attn_optim;
/* State (moments) is allocated from P's table: one buffer per parameter. */
ATTN_API int attn_optim_create(attn_params *P, const attn_optim_config *cfg, attn_optim **out);
ATTN_API void attn_optim_free(attn_optim *o);
/* One update of every parameter in the table with learning rate lr. */
ATTN_API int attn_optim_step(attn_optim *o, float lr);
ATTN_API int64_t attn_optim_steps(const attn_optim *o); /* steps taken */
/* The state of parameter i (table order), for checkpoints: *m = momentum buffer (SGD) or first
 * moment (Adam), *v = second moment (Adam); NULL where the method keeps none. The buffers hold
 * numel floats and may be written to restore a state; so may the step count. */
ATTN_API int attn_optim_state(attn_optim *o, int i, float **m, float **v);
ATTN_API int attn_optim_set_steps(attn_optim *o, int64_t steps);

typedef enum attn_schedule_kind {
    ATTN_SCHEDULE_CONSTANT = 0,
    /* warm-up then inverse square root: s/W for s < W, √(W/s) after (= 1 at s = W) */
    ATTN_SCHEDULE_INVSQRT = 1,
    /* warm-up then cosine to min_ratio at total_steps: s/W for s < W, then
     * min_ratio + (1 − min_ratio)·½(1 + cos(π·(s−W)/(T−W))), min_ratio after T */
    ATTN_SCHEDULE_COSINE = 2
} attn_schedule_kind;
typedef struct attn_schedule {
    attn_schedule_kind kind;
    float base_lr;
    int64_t warmup_steps; /* W (0: none) */
    int64_t total_steps;  /* T (cosine) */
    float min_ratio;      /* cosine floor as a fraction of base_lr */
} attn_schedule;
/* Learning rate at step s (0-based): base_lr times the factor above. */
ATTN_API float attn_schedule_lr(const attn_schedule *s, int64_t step);

/* torch.nn.utils.clip_grad_norm_ (2-norm): total = ‖all grads‖; if max_norm > 0 the grads are
 * scaled by min(1, max_norm/(total + 1e-6)). *total_norm (may be NULL) receives the norm before. */
ATTN_API int attn_clip_grad_norm(attn_params *P, float max_norm, float *total_norm);

/* ------------------------------------------------------------------------------------------ */
/* @@ checkpoints @@                                                                          */
/* ------------------------------------------------------------------------------------------ */

/* A parameter table to and from a safetensors file: tensor names are the parameters' names
 * (PyTorch state_dict names), shapes theirs; meta is a NULL-terminated list of key, value
 * strings stored as metadata (may be NULL). Written atomically. */
ATTN_API int attn_checkpoint_save(const attn_params *P, const char *path,
                                  const char *const *meta);
/* Load every parameter of P from an open reader: each must be present with the same shape;
 * a tensor of the file that P lacks is an error too (strict), naming it. */
ATTN_API int attn_checkpoint_load(attn_params *P, const attn_st_reader *st);

/* Optimiser state beside a checkpoint: "<param>.state1" / "<param>.state2" tensors and the
 * step count in metadata "optim.steps", plus the caller's metadata. */
ATTN_API int attn_optim_save(attn_optim *o, const attn_params *P, const char *path,
                             const char *const *meta);
ATTN_API int attn_optim_load(attn_optim *o, const attn_params *P, const attn_st_reader *st);

/* ------------------------------------------------------------------------------------------ */
/* @@ models @@                                                                               */
/* ------------------------------------------------------------------------------------------ */

/*
 * The encoder–decoder Transformer ("Attention is all you need"): torch.nn.Transformer plus token
 * embeddings, sinusoidal positions and an output projection. Batch first. Parameter names:
 *   src_embed.weight, tgt_embed.weight (shared as "embed.weight" when share_embeddings),
 *   encoder.layers.<i>.*, encoder.norm.*, decoder.layers.<i>.*, decoder.norm.*,
 *   generator.weight, generator.bias
 * (the layer names are torch.nn.TransformerEncoderLayer / DecoderLayer's). Source positions
 * holding pad_id are masked out as keys; the decoder's self-attention is causal.
 */
typedef struct attn_seq2seq_config {
    int64_t src_vocab, tgt_vocab;
    int64_t d_model, nhead, num_encoder_layers, num_decoder_layers, dim_feedforward;
    int64_t max_len;          /* longest sequence the position table covers */
    float dropout;
    attn_activation activation;
    int norm_first;
    int share_embeddings;     /* one table for source and target (needs equal vocabularies) */
    int32_t pad_id;
    int scale_embedding;      /* 1: embeddings initialised N(0, 1/d_model) and multiplied by √d_model
                               * before the positions are added (Vaswani et al.; what an output
                               * projection tied to the embedding wants); 0: N(0, 1), unscaled */
} attn_seq2seq_config;

typedef struct attn_seq2seq {
    attn_seq2seq_config cfg;
    attn_params *P; /* owned */
    attn_embedding src_embed, tgt_embed;
    attn_encoder_layer *enc;
    attn_decoder_layer *dec;
    attn_layernorm enc_norm, dec_norm;
    attn_linear generator;
    float *pos; /* [max_len, d_model] sinusoidal table */
} attn_seq2seq;

/* Build the model with freshly initialised parameters (seed), torch's initialisation. */
ATTN_API int attn_seq2seq_create(const attn_seq2seq_config *cfg, uint64_t seed, attn_seq2seq **out);
ATTN_API void attn_seq2seq_free(attn_seq2seq *m);
/* memory [N, S, d] from src ids [N, S]. */
ATTN_API int attn_seq2seq_encode(attn_tape *t, const attn_seq2seq *m, const int32_t *src,
                                 int64_t N, int64_t S, attn_var **memory);
/* logits [N, T, tgt_vocab] from memory (of src) and decoder input ids tgt [N, T]. */
ATTN_API int attn_seq2seq_decode(attn_tape *t, const attn_seq2seq *m, attn_var *memory,
                                 const int32_t *src, int64_t S, const int32_t *tgt, int64_t T,
                                 attn_var **logits);
/* The configuration as metadata pairs "attn.config.<field>" → value (NULL-terminated list of
 * key, value; strings live in `buf`, cap bytes) and back. */
ATTN_API int attn_seq2seq_config_to_meta(const attn_seq2seq_config *cfg, char *buf, size_t cap,
                                         const char **kv, int kv_cap);
ATTN_API int attn_seq2seq_config_from_reader(const attn_st_reader *st, attn_seq2seq_config *cfg);

/*
 * The GRU encoder–decoder with additive attention (Bahdanau et al., 2015), batch first:
 *   encoder: embedding (+ dropout) → bidirectional GRU over the real tokens of each source row
 *            (pad_id ends a row) → enc [N, S, 2·enc_hidden]
 *   bridge:  s0 = tanh(W·h←), h← the last encoder layer's backward state (read over the whole
 *            sentence, it ends on the first token)
 *   decoder: embedding (+ dropout) → attn_bahdanau_layer (each step attends over enc with
 *            additive attention, padding masked, then GRUCell([emb; ctx], s) and
 *            out = W_out·[s; ctx; emb]) → tanh → dropout → generator → logits
 * Parameter names: src_embed.weight, tgt_embed.weight (shared as "embed.weight"), encoder.*
 * (torch.nn.GRU's), bridge.*, decoder.* (attn_bahdanau_layer's), generator.*.
 */
typedef struct attn_gru_seq2seq_config {
    int64_t src_vocab, tgt_vocab;
    int64_t emb_size;   /* E */
    int64_t enc_hidden; /* H per direction */
    int64_t enc_layers; /* bidirectional GRU layers, 1..8 */
    int64_t dec_hidden; /* decoder GRU state */
    int64_t attn_size;  /* additive attention's inner size */
    int64_t out_size;   /* width of the attentional output fed to the generator */
    int64_t max_len;    /* longest source or target */
    float dropout;
    int share_embeddings;
    int32_t pad_id;
} attn_gru_seq2seq_config;

typedef struct attn_gru_seq2seq {
    attn_gru_seq2seq_config cfg;
    attn_params *P; /* owned */
    attn_embedding src_embed, tgt_embed;
    attn_gru_layer encoder;
    attn_linear bridge;
    attn_bahdanau_layer decoder;
    attn_linear generator;
} attn_gru_seq2seq;

ATTN_API int attn_gru_seq2seq_create(const attn_gru_seq2seq_config *cfg, uint64_t seed,
                                     attn_gru_seq2seq **out);
ATTN_API void attn_gru_seq2seq_free(attn_gru_seq2seq *m);
/* Lengths [N] of source rows src [N, S]: tokens before the first pad_id (ATTN_E_ARG for an
 * empty row or a token after padding). */
ATTN_API int attn_gru_seq2seq_lengths(const attn_gru_seq2seq *m, const int32_t *src, int64_t N,
                                      int64_t S, int32_t *lengths);
/* enc [N, S, 2H] and the decoder's first state s0 [N, dec_hidden] from src ids [N, S]. */
ATTN_API int attn_gru_seq2seq_encode(attn_tape *t, const attn_gru_seq2seq *m, const int32_t *src,
                                     int64_t N, int64_t S, attn_var **enc, attn_var **s0);
/* Teacher forcing: logits [N, T, tgt_vocab] for decoder inputs tgt [N, T]; weights (NULL: not
 * wanted) the additive attention's [N, T, S] without gradient. */
ATTN_API int attn_gru_seq2seq_decode(attn_tape *t, const attn_gru_seq2seq *m, attn_var *enc,
                                     attn_var *s0, const int32_t *src, int64_t S,
                                     const int32_t *tgt, int64_t T, attn_var **logits,
                                     attn_var **weights);
/* Inference outside the tape, one target position at a time. enc_proj [N, S, attn_size] =
 * the keys projected once (attn_gru_seq2seq_project_keys; NULL: projected at every step).
 * From state s_prev [N, dec_hidden] and input tokens [N]: the next state s, logits [N,
 * tgt_vocab] and (may be NULL) the attention weights [N, S]. key_lengths [N] (NULL: all S). */
ATTN_API int attn_gru_seq2seq_project_keys(const attn_gru_seq2seq *m, const float *enc, int64_t N,
                                           int64_t S, float *enc_proj);
ATTN_API int attn_gru_seq2seq_step(const attn_gru_seq2seq *m, const float *enc,
                                   const float *enc_proj, const int32_t *key_lengths, int64_t N,
                                   int64_t S, const float *s_prev, const int32_t *tokens, float *s,
                                   float *logits, float *weights);
ATTN_API int attn_gru_seq2seq_config_to_meta(const attn_gru_seq2seq_config *cfg, char *buf,
                                             size_t cap, const char **kv, int kv_cap);
ATTN_API int attn_gru_seq2seq_config_from_reader(const attn_st_reader *st,
                                                 attn_gru_seq2seq_config *cfg);

/*
 * A decoder-only causal language model (GPT-style): token embedding "wte.weight" [V, d] and
 * learned positions "wpe.weight" [context, d], n_layer pre-norm blocks with causal
 * self-attention and a GELU MLP (torch.nn.TransformerEncoderLayer with norm_first=True,
 * activation="gelu": names "h.<i>.self_attn.*", "h.<i>.linear1.*", "h.<i>.norm1.*", …), a final
 * LayerNorm "ln_f.*", and an output projection tied to wte.
 */
typedef struct attn_gpt_config {
    int64_t vocab, context, n_layer, n_head, d_model;
    float dropout;
} attn_gpt_config;

typedef struct attn_gpt {
    attn_gpt_config cfg;
    attn_params *P; /* owned */
    attn_embedding wte, wpe;
    attn_encoder_layer *h;
    attn_layernorm ln_f;
    attn_linear head; /* weight = wte.weight, no bias */
} attn_gpt;

ATTN_API int attn_gpt_create(const attn_gpt_config *cfg, uint64_t seed, attn_gpt **out);
ATTN_API void attn_gpt_free(attn_gpt *m);
/* logits [N, T, vocab] for ids [N, T], T ≤ context. */
ATTN_API int attn_gpt_forward(attn_tape *t, const attn_gpt *m, const int32_t *ids, int64_t N,
                              int64_t T, attn_var **logits);

/*
 * A Transformer-encoder text classifier (e.g. IMDb sentiment): token embedding "embed.weight"
 * [vocab, d] plus learned positions "pos.weight" [max_len, d], num_layers encoder layers
 * "layers.<i>.*" (torch.nn.TransformerEncoderLayer names, batch first, pre-norm by default),
 * a final LayerNorm "norm.*" (pre-norm models), pooling, and a linear head "head.*"
 * [num_classes, d]. Positions holding pad_id are masked out as keys and left out of the
 * pooling, so padding changes no result. Pooling: the mean over the real tokens, or the
 * first position (a [CLS]-style token the caller puts at position 0).
 */
typedef enum attn_pooling {
    ATTN_POOL_MEAN = 0,
    ATTN_POOL_FIRST = 1
} attn_pooling;

typedef struct attn_classifier_config {
    int64_t vocab, d_model, nhead, num_layers, dim_feedforward;
    int64_t max_len;     /* longest input (the position table's size) */
    int64_t num_classes; /* ≥ 2 */
    float dropout;
    attn_activation activation;
    int norm_first;      /* 1: pre-norm (recommended), 0: post-norm */
    attn_pooling pooling;
    int32_t pad_id;
} attn_classifier_config;

typedef struct attn_classifier {
    attn_classifier_config cfg;
    attn_params *P; /* owned */
    attn_embedding embed, pos;
    attn_encoder_layer *layers;
    attn_layernorm norm; /* used when norm_first */
    attn_linear head;
} attn_classifier;

ATTN_API int attn_classifier_create(const attn_classifier_config *cfg, uint64_t seed,
                                    attn_classifier **out);
ATTN_API void attn_classifier_free(attn_classifier *m);
/* logits [N, num_classes] for ids [N, T] (T ≤ max_len; pad_id marks padding anywhere in a
 * row). A row with no real token pools to zeros (its logits are the head's bias).
 * pooled (may be NULL) receives the pooled features [N, d]. */
ATTN_API int attn_classifier_forward(attn_tape *t, const attn_classifier *m, const int32_t *ids,
                                     int64_t N, int64_t T, attn_var **logits, attn_var **pooled);
/* Truncation that keeps the head and the tail: the first `head` and the last max_len − head
 * ids of a sequence of n ids longer than max_len (all of them otherwise) into out (cap ≥
 * min(n, max_len)); returns the count written. */
ATTN_API int64_t attn_truncate_head_tail(const int32_t *ids, int64_t n, int64_t max_len,
                                         int64_t head, int32_t *out);
/* The configuration as metadata "attn.config.<field>" (as attn_seq2seq_config_to_meta) and
 * back. */
ATTN_API int attn_classifier_config_to_meta(const attn_classifier_config *cfg, char *buf,
                                            size_t cap, const char **kv, int kv_cap);
ATTN_API int attn_classifier_config_from_reader(const attn_st_reader *st,
                                                attn_classifier_config *cfg);

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
#endif /* ATTN_H */
