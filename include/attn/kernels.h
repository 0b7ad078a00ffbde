/*
 * attn/kernels.h — attention and its building blocks on tensor views, outside any tape:
 * scaled dot-product attention (reference and fused paths), GEMM, additive attention,
 * positional encodings, the GRU and the Bahdanau decoder with their explicit backward passes.
 */
#ifndef ATTN_KERNELS_H
#define ATTN_KERNELS_H

#include "attn/core.h"

#ifdef __cplusplus
extern "C" {
#endif

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
    int weights_before_dropout;  /* nonzero: returned weights are P before dropout; 0: after
                                  * dropout (P ⊙ keep / (1 − p)), as torch.nn.MultiheadAttention
                                  * returns them. The same without dropout.                   */
} attn_sdpa_options;

/* Forward. lse: [B, Hq, Lq] contiguous or NULL. weights: [B, Hq, Lq, Lk] view or NULL; the
 * weights are those that multiply V — after dropout — unless opt->weights_before_dropout.
 * Requesting weights selects the reference kernel under AUTO. */
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

#ifdef __cplusplus
}
#endif
#endif /* ATTN_KERNELS_H */
