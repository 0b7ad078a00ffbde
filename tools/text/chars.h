/* chars.h — the character vocabulary of the date demo ("chars-ascii" in checkpoints):
 * 0 pad, 1 begin, 2 end, 3 unknown, then the printable ASCII characters 32..126. */
#ifndef ATTN_CHARS_H
#define ATTN_CHARS_H

#include <stdint.h>

enum { CH_PAD = 0, CH_BOS = 1, CH_EOS = 2, CH_UNK = 3, CH_FIRST = 4, CH_VOCAB = 4 + 95 };

static inline int32_t chars_id(unsigned char c)
{
    return c >= 32 && c <= 126 ? CH_FIRST + (c - 32) : CH_UNK;
}

static inline char chars_char(int32_t id)
{
    return id >= CH_FIRST && id < CH_VOCAB ? (char)(id - CH_FIRST + 32) : '?';
}

#endif
