/* bleu_internal.h — shared between the BLEU tokeniser and the scorer. */
#ifndef ATTN_BLEU_INTERNAL_H
#define ATTN_BLEU_INTERNAL_H

#include "text_internal.h"

/* Scratch buffers reused from segment to segment. */
typedef struct attn_bleu_scratch {
    attn_buf t[3];
    attn_buf out; /* the tokens, joined by single spaces */
} attn_bleu_scratch;

/* Lowercase (if asked) and tokenise valid UTF-8 text into w->out. */
ATTN_INTERNAL int attn_bleu_prepare(const char *text, const attn_bleu_options *opt,
                                    attn_bleu_scratch *w);
ATTN_INTERNAL void attn_bleu_scratch_release(attn_bleu_scratch *w);

#endif
