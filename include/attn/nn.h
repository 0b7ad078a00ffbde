/*
 * attn/nn.h — the training stack: parameter table, autograd tape, ops, layers with PyTorch's
 * names (multi-head attention, Transformer layers, GRU, additive attention), optimisers,
 * schedules, and checkpoints of a parameter table.
 */
#ifndef ATTN_NN_H
#define ATTN_NN_H

#include "attn/core.h"
#include "attn/kernels.h"
#include "attn/io.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Types defined further down, used by pointer before. */
typedef struct attn_params attn_params; /* the parameter table */
typedef struct attn_param attn_param;   /* one named parameter */
typedef struct attn_tape attn_tape;     /* the autograd tape */
typedef struct attn_var attn_var;       /* an activation on the tape */
typedef struct attn_mha attn_mha;       /* multi-head attention (layers section) */

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
    float *grad; /* owned by the table; NULL until needed: allocated zeroed by the first backward
                  * that reaches the parameter, by attn_optim_create or attn_params_alloc_grads
                  * (inference never allocates one) */
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
/* Add "<prefix><name>" of the given shape, its data allocated and initialised (the gradient
 * buffer comes later, see attn_param.grad). Names must be unique. *out (may be NULL) stays
 * valid until attn_params_free. */
ATTN_API int attn_params_add(attn_params *P, const char *prefix, const char *name, int ndim,
                             const int64_t *shape, attn_init init, float a, attn_param **out);
ATTN_API int attn_params_count(const attn_params *P);
ATTN_API attn_param *attn_params_at(const attn_params *P, int i); /* NULL if out of range */
ATTN_API attn_param *attn_params_find(const attn_params *P, const char *name); /* NULL: none */
ATTN_API int64_t attn_params_numel(const attn_params *P); /* total number of elements */
/* Zero every gradient buffer that exists. */
ATTN_API void attn_params_zero_grad(attn_params *P);
/* Allocate (zeroed) the gradient buffers not allocated yet, e.g. before reading p->grad of
 * every parameter or handing them to another process. */
ATTN_API int attn_params_alloc_grads(attn_params *P);

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
 * weights w [N, H, L, S'] of module m before dropout (after, when the caller asked for the
 * weights too: they are the same buffer; valid during the call only). For
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
/* torch.cat: the n variables xs joined along dimension dim (their other dims equal), e.g. a
 * class token [N, 1, d] before patch embeddings [N, T, d] → [N, 1 + T, d]. */
ATTN_API int attn_op_cat(attn_tape *t, int n, attn_var *const *xs, int dim, attn_var **out);
/* Tensor.expand (a copy): x broadcast to shape (NumPy rules: x's dims right-aligned, each 1
 * or equal), e.g. one class token [1, 1, d] to [N, 1, d]; its gradient sums over the copies. */
ATTN_API int attn_op_expand(attn_tape *t, attn_var *x, int ndim, const int64_t *shape,
                            attn_var **out);
/* torch.mean(x, dim): the mean along dim, which is removed (x 2-d or more), e.g. mean pooling
 * [N, T, d] → [N, d]. */
ATTN_API int attn_op_mean(attn_tape *t, attn_var *x, int dim, attn_var **out);
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


/* ---- multi-head attention ------------------------------------------------------------ */

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
 * dropout draws from our counter-based stream. The weights returned are torch's (after
 * dropout, when training with dropout).
 */

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

/* ---- the same layers on plain rows, outside the tape ------------------------------------- */
/* For inference and incremental decoding (attn/generate.h): each runs the very code of the
 * tape's forward (same GEMM, same row statistics, same activation polynomial), so a decoder
 * stepped one position at a time computes what the training forward computes. x [rows, in]
 * → y [rows, out], contiguous; y may be x for the layer norm and the activation (in place),
 * never for the linear map.
 * threads ≤ 0: one. */
ATTN_API int attn_linear_rows(const attn_linear *l, const float *x, int64_t rows, float *y,
                              int threads);
ATTN_API int attn_layernorm_rows(const attn_layernorm *n, const float *x, int64_t rows, float *y,
                                 int threads);
ATTN_API int attn_activation_rows(attn_activation act, const float *x, int64_t n, float *y,
                                  int threads);

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

#ifdef __cplusplus
}
#endif
#endif /* ATTN_NN_H */
