/* train_internal.h — what the library's training tasks share. */
#ifndef ATTN_TRAIN_INTERNAL_H
#define ATTN_TRAIN_INTERNAL_H

#include <stdint.h>

/* Tasks drawn by step (a language model, the demo) make each "epoch" the steps up to the next
 * multiple of period, or to the end: a period cut short by a stop is finished by the next one,
 * so validations stay at multiples of period. */
static inline int64_t attn_period_batches(int64_t step, int64_t steps, int64_t period)
{
    const int64_t left = steps - step, to_next = period - step % period;
    return left < to_next ? left : to_next;
}

#endif
