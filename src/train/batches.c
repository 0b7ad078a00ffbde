/* batches.c — SplitMix64, the data checksum, shuffles, length-bucketed batches and the budget
 * schedule (attn/train.h). */
#include "internal.h"
#include "attn/train.h"

#include <stdlib.h>

uint64_t attn_splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double attn_splitmix64_double(uint64_t *s)
{
    return (double)(attn_splitmix64(s) >> 11) / 9007199254740992.0; /* 53 bits / 2^53 */
}

uint64_t attn_hash64(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

void attn_shuffle(int64_t *perm, int64_t n, uint64_t seed)
{
    uint64_t s = seed;
    for (int64_t i = n - 1; i > 0; i--) {
        const int64_t j = (int64_t)(attn_splitmix64(&s) % (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
}

typedef struct keyed {
    double key;
    int64_t i;
} keyed;

static int by_key(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

void attn_batches_free(attn_batches *b)
{
    if (!b) return;
    free(b->order), free(b->start);
    *b = (attn_batches){0};
}

int attn_batches_by_length(const int64_t *len, int64_t n, int64_t max_tokens, uint64_t seed, int jitter,
                           attn_batches *b)
{
    static const char fn[] = "attn_batches_by_length";
    ATTN_REQUIRE_NONNULL(fn, len);
    ATTN_REQUIRE_NONNULL(fn, b);
    *b = (attn_batches){0};
    if (n < 0 || max_tokens < 1)
        return attn_fail(ATTN_E_ARG, "%s: n=%lld, max_tokens=%lld", fn, (long long)n, (long long)max_tokens);
    keyed *k = malloc((size_t)(n > 0 ? n : 1) * sizeof *k);
    b->order = malloc((size_t)(n > 0 ? n : 1) * sizeof *b->order);
    b->start = malloc((size_t)(n + 1) * sizeof *b->start);
    if (!k || !b->order || !b->start) {
        free(k);
        attn_batches_free(b);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory for %lld examples", fn, (long long)n);
    }
    uint64_t s = seed;
    for (int64_t i = 0; i < n; i++) {
        const double j = jitter ? attn_splitmix64_double(&s) * 2.0 : 0;
        k[i] = (keyed){(double)len[i] + j, i};
    }
    qsort(k, (size_t)n, sizeof *k, by_key);
    int64_t longest = 0, count = 0;
    for (int64_t i = 0; i < n; i++) {
        const int64_t L = len[k[i].i], M = L > longest ? L : longest;
        if (count > 0 && (count + 1) * M > max_tokens) {
            b->nb++;
            count = 0;
        }
        if (count == 0) b->start[b->nb] = i, longest = 0;
        longest = L > longest ? L : longest;
        b->order[i] = k[i].i;
        count++;
    }
    if (count > 0) b->nb++;
    b->start[b->nb] = n;
    b->n = n;
    free(k);
    return ATTN_OK;
}

double attn_budget_factor(const attn_budget_plan *b, int64_t step)
{
    if (!b || b->span == 0) return 1;
    const double x = (double)(step - b->anchor) / (double)b->span;
    const double d = b->d0 + (b->d1 - b->d0) * (x < 0 ? 0 : x > 1 ? 1 : x);
    return d > 0 ? d : 0;
}

attn_budget_plan attn_budget_replan(int64_t step, int64_t steps_per_epoch, int64_t epoch, int64_t epochs,
                                    double budget_s, double used_s, double epoch_s)
{
    double d0 = 1 - (double)(epoch + 1) / (double)epochs, d1 = 1 - (double)(epoch + 2) / (double)epochs;
    if (budget_s > 0) { /* whichever runs out first, epochs or time */
        if (1 - used_s / budget_s < d0) d0 = 1 - used_s / budget_s;
        if (1 - (used_s + epoch_s) / budget_s < d1) d1 = 1 - (used_s + epoch_s) / budget_s;
    }
    return (attn_budget_plan){step, steps_per_epoch, d0 > 0 ? d0 : 0, d1 > 0 ? d1 : 0};
}
