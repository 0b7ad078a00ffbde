/* cp_ranges.h — the generated Unicode class tables (unicode_classes.h) and the one lookup in
 * them, shared by the BLEU tokenizers and GPT-2's pre-tokenizer. */
#ifndef ATTN_CP_RANGES_H
#define ATTN_CP_RANGES_H

#include <stddef.h>
#include <stdint.h>

#include "unicode_classes.h"

/* Whether code point cp is in one of the n sorted, disjoint ranges r. */
static inline int attn_cp_in(const attn_cp_range *r, size_t n, uint32_t cp)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        const size_t mid = (lo + hi) / 2;
        if (cp < r[mid].first) hi = mid;
        else if (cp > r[mid].last) lo = mid + 1;
        else return 1;
    }
    return 0;
}

#endif
