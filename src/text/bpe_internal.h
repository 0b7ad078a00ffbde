/* bpe_internal.h — the loaded GPT-2 byte-level BPE, shared by its loader (bpe.c) and its
 * encoder/decoder (bpe_encode.c). */
#ifndef ATTN_BPE_INTERNAL_H
#define ATTN_BPE_INTERNAL_H

#include "text_internal.h"

/* One merge "a b": the pair of token ids, its rank (line order, 0 = merged first) and the id
 * of the token a+b. Open addressing on key = a << 32 | b; key UINT64_MAX marks a free slot. */
typedef struct bpe_merge_slot {
    uint64_t key;
    int32_t rank;
    int32_t merged;
} bpe_merge_slot;

struct attn_bpe {
    int64_t n_vocab;
    char *bytes;          /* every token's bytes, one after another */
    int64_t *offset;      /* [n_vocab + 1]: token i is bytes[offset[i] .. offset[i+1]) */
    int32_t *vocab_slot;  /* [vocab_cap]: token id or -1; hashed on the token's bytes */
    uint64_t vocab_cap;   /* power of two ≥ 2·n_vocab */
    bpe_merge_slot *merge;
    uint64_t merge_cap;   /* power of two ≥ 2·n_merges (at least 2) */
    int64_t n_merges;
    int32_t byte_id[256]; /* the token of each single byte */
};

/* The token id whose bytes are s[0..n), or -1. */
ATTN_INTERNAL int32_t attn_bpe_find_bytes(const attn_bpe *b, const char *s, size_t n);

/* The merge of the pair (a, b), or NULL. */
ATTN_INTERNAL const bpe_merge_slot *attn_bpe_find_merge(const attn_bpe *b, int32_t a, int32_t c);

#endif
