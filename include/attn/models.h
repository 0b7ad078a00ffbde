/*
 * attn/models.h — models built from the layers: the encoder–decoder Transformer, the GRU
 * encoder–decoder with additive attention, a GPT-style language model, a text classifier, a
 * Vision Transformer.
 */
#ifndef ATTN_MODELS_H
#define ATTN_MODELS_H

#include "attn/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------ */
/* @@ models @@                                                                               */
/* ------------------------------------------------------------------------------------------ */

/*
 * Loading a model file. A checkpoint is untrusted input (users download and share them):
 * attn_<model>_open(st, &m) reads the configuration from the metadata ("attn.config.<field>",
 * every number parsed strictly and range-checked), then checks it against the file's tensors —
 * every parameter the configuration implies present under its name with exactly its shape and
 * a float dtype (F32, F16, BF16, F64), no tensor the model lacks — before allocating anything
 * sized by the configuration: a file whose metadata asks for more than its tensors hold fails
 * at once with ATTN_E_FORMAT naming the first tensor (or the layer count) that does not match.
 * Only then are the weights allocated and read. A model opened this way allocates no gradient
 * buffers (they come with the first backward, attn_optim_create or attn_params_alloc_grads)
 * and no optimiser state. Bounds on any configuration: at most 1,024 layers per stack; a
 * computed position table (the Transformer's sinusoids, max_len × d_model) of at most 2^24
 * floats. The reader st can be closed once open returns.
 */

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
/* The model saved in st (see "Loading a model file" above). */
ATTN_API int attn_seq2seq_open(const attn_st_reader *st, attn_seq2seq **out);

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
/* The model saved in st (see "Loading a model file" above). */
ATTN_API int attn_gru_seq2seq_open(const attn_st_reader *st, attn_gru_seq2seq **out);

/*
 * A decoder-only causal language model (GPT-style): token embedding "wte.weight" [V, d] and
 * learned positions "wpe.weight" [context, d], n_layer pre-norm blocks with causal
 * self-attention and a GELU MLP (torch.nn.TransformerEncoderLayer with norm_first=True,
 * activation="gelu": names "h.<i>.self_attn.*", "h.<i>.linear1.*", "h.<i>.norm1.*", …), a final
 * LayerNorm "ln_f.*", and an output projection tied to wte. Attention and MLP have biases,
 * attention scores are scaled by 1/√(d/n_head): with gelu_tanh = 1 this is GPT-2's block
 * exactly (Hugging Face's GPT2LMHeadModel; see attn_gpt_load_hf).
 */
typedef struct attn_gpt_config {
    int64_t vocab, context, n_layer, n_head, d_model;
    float dropout;
    /* zero means the default (the model as it was before these fields existed): */
    float layer_norm_eps; /* every LayerNorm's ε; 0: 1e-5 (GPT-2's too) */
    int gelu_tanh;        /* 0: exact GELU (erf); 1: its tanh approximation (GPT-2's gelu_new) */
    int64_t d_ff;         /* MLP hidden width; 0: 4·d_model */
} attn_gpt_config;

typedef struct attn_gpt {
    attn_gpt_config cfg;
    attn_params *P; /* owned */
    attn_embedding wte, wpe;
    attn_encoder_layer *h;
    attn_layernorm ln_f;
    attn_linear head; /* weight = wte.weight, no bias */
} attn_gpt;

/* m->cfg holds the configuration with its defaults filled in. */
ATTN_API int attn_gpt_create(const attn_gpt_config *cfg, uint64_t seed, attn_gpt **out);
ATTN_API void attn_gpt_free(attn_gpt *m);
/* logits [N, T, vocab] for ids [N, T], T ≤ context. */
ATTN_API int attn_gpt_forward(attn_tape *t, const attn_gpt *m, const int32_t *ids, int64_t N,
                              int64_t T, attn_var **logits);
/* The configuration as metadata (as attn_seq2seq_config_to_meta) and back, and the model saved
 * in st (see "Loading a model file" above). */
ATTN_API int attn_gpt_config_to_meta(const attn_gpt_config *cfg, char *buf, size_t cap,
                                     const char **kv, int kv_cap);
ATTN_API int attn_gpt_config_from_reader(const attn_st_reader *st, attn_gpt_config *cfg);
ATTN_API int attn_gpt_open(const attn_st_reader *st, attn_gpt **out);

/* A GPT-2 checkpoint as Hugging Face distributes it, from directory dir:
 *   config.json        n_embd, n_head, n_layer, vocab_size, n_positions (or n_ctx); optional
 *                      n_inner (null: 4·n_embd), layer_norm_epsilon (1e-5),
 *                      activation_function ("gelu_new" — the default — or "gelu_pytorch_tanh":
 *                      tanh GELU; "gelu": exact). Settings attn_gpt cannot follow are refused
 *                      (ATTN_E_UNSUPPORTED): scale_attn_weights false,
 *                      scale_attn_by_inverse_layer_idx or add_cross_attention true,
 *                      tie_word_embeddings false, model_type other than "gpt2".
 *   model.safetensors  wte.weight [V, d], wpe.weight [n_positions, d], ln_f.{weight,bias} and
 *                      per block h.<i>.ln_1.*, h.<i>.attn.c_attn.{weight [d, 3d], bias [3d]},
 *                      h.<i>.attn.c_proj.*, h.<i>.ln_2.*, h.<i>.mlp.c_fc.*, h.<i>.mlp.c_proj.*
 *                      (Conv1D weights [in, out], transposed into attn's [out, in]); every name
 *                      may carry the prefix "transformer."; the causal-mask buffers
 *                      h.<i>.attn.bias / masked_bias are ignored; an lm_head.weight must equal
 *                      wte.weight (tied). F32, F16, BF16 or F64.
 * Both files are untrusted: the configuration is bounded, and every tensor is checked (present,
 * shape as the configuration says, no unknown name) before the model is allocated. Failures:
 * ATTN_E_IO, ATTN_E_FORMAT or ATTN_E_UNSUPPORTED with a message naming the file and field.
 * The model has dropout 0 and the names of attn_gpt ("h.0.self_attn.in_proj_weight", …). */
ATTN_API int attn_gpt_load_hf(const char *dir, attn_gpt **out);

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
/* The model saved in st (see "Loading a model file" above): any num_classes in [2, 2^20]. */
ATTN_API int attn_classifier_open(const attn_st_reader *st, attn_classifier **out);


/*
 * A Vision Transformer (Dosovitskiy et al., 2021) for small images such as Fashion-MNIST:
 *   patches:    the image [C, S, S] cut into T = (S/P)² patches of P×P, row by row, each
 *               flattened in (channel, row, column) order (= a Conv2d(C, d, P, stride P)
 *               weight [d, C, P, P] read as [d, C·P·P])
 *   embedding:  "patch_embed.*" Linear(C·P·P, d) of each patch
 *   class token "cls_token" [1, 1, d] put before the patches (pooling ATTN_POOL_FIRST), or
 *               none (ATTN_POOL_MEAN: the mean over the patches' outputs)
 *   positions:  learned "pos_embed" [1, T', d] (T' = T + 1 with a class token), or the fixed
 *               2-D sinusoidal table (attn_vit_posenc_2d), added to the tokens
 *   encoder:    num_layers pre-norm layers "layers.<i>.*" (torch.nn.TransformerEncoderLayer
 *               names, batch first, norm_first), a final LayerNorm "norm.*"
 *   head:       "head.*" Linear(d, num_classes) of the pooled token
 * Dropout (config) after the positions, inside the layers and before the head. Images are
 * float [N, C, S, S], normalised by the caller (attn_image_normalize); the patches are cut
 * outside the tape, as pixels need no gradient.
 */
typedef enum attn_vit_pos {
    ATTN_VIT_POS_LEARNED = 0, /* "pos_embed" parameter, N(0, 0.02²) at creation */
    ATTN_VIT_POS_SINCOS = 1   /* fixed 2-D sinusoidal table (d_model a multiple of 4) */
} attn_vit_pos;

typedef struct attn_vit_config {
    int64_t image_size;  /* S (square images) */
    int64_t channels;    /* C */
    int64_t patch_size;  /* P, divides S */
    int64_t d_model, nhead, num_layers, dim_feedforward;
    int64_t num_classes; /* ≥ 2 */
    float dropout;
    attn_activation activation;
    attn_pooling pooling; /* ATTN_POOL_FIRST: class token; ATTN_POOL_MEAN: mean of the patches */
    attn_vit_pos pos;
} attn_vit_config;

typedef struct attn_vit {
    attn_vit_config cfg;
    attn_params *P;             /* owned */
    int64_t grid, tokens;       /* S/P patches a side; T' = grid² (+ 1 with a class token) */
    attn_linear patch_embed;
    attn_param *cls_token;      /* [1, 1, d]; NULL under mean pooling */
    attn_param *pos_embed;      /* [1, T', d]; NULL with sinusoidal positions */
    float *pos_table;           /* [T', d] sinusoidal table (NULL when learned) */
    attn_encoder_layer *layers;
    attn_layernorm norm;
    attn_linear head;
} attn_vit;

ATTN_API int attn_vit_create(const attn_vit_config *cfg, uint64_t seed, attn_vit **out);
ATTN_API void attn_vit_free(attn_vit *m);
/* logits [N, num_classes] for images [N, C, S, S]. pooled (may be NULL) receives the pooled
 * features [N, d] (after the final LayerNorm). */
ATTN_API int attn_vit_forward(attn_tape *t, const attn_vit *m, const float *images, int64_t N,
                              attn_var **logits, attn_var **pooled);
/* The patches of images [N, C, S, S] as rows [N, T, C·P·P] (the order above). */
ATTN_API int attn_vit_patchify(const attn_vit_config *cfg, const float *images, int64_t N,
                               float *patches);
/* The 2-D sinusoidal table [grid², d] of a grid×grid patch layout: for the patch at row y,
 * column x, the first d/2 channels encode y and the last d/2 encode x, each half as
 * [sin(p·ω_0), …, sin(p·ω_{K−1}), cos(p·ω_0), …, cos(p·ω_{K−1})], K = d/4,
 * ω_k = 10000^(−k/K). d a multiple of 4. */
ATTN_API int attn_vit_posenc_2d(int64_t grid, int64_t d, float *out);
/* The configuration as metadata "attn.config.<field>" (as attn_seq2seq_config_to_meta) and
 * back. */
ATTN_API int attn_vit_config_to_meta(const attn_vit_config *cfg, char *buf, size_t cap,
                                     const char **kv, int kv_cap);
ATTN_API int attn_vit_config_from_reader(const attn_st_reader *st, attn_vit_config *cfg);

#ifdef __cplusplus
}
#endif
#endif /* ATTN_MODELS_H */
