/* bpe_encode.c — GPT-2's byte-level BPE: the pre-tokenising pattern written out by hand, the
 * merges by rank, and decoding.
 *
 * Merging follows encoder.py exactly: take the adjacent pair of lowest rank, merge every
 * occurrence of it from left to right, repeat. Done naively that is quadratic in a piece's
 * length (an untrusted text can be one long piece), so it runs on a linked list with a heap of
 * candidate pairs keyed (rank, position): all pairs of the lowest rank are popped together in
 * position order, merged if still present, and the pairs the merges create are pushed only
 * after that round — the same rounds encoder.py makes, in O(n log n). */
#include "bpe_internal.h"

#include "cp_ranges.h"

#include <string.h>

_Static_assert(sizeof ATTN_UNICODE_CLASSES_VERSION == sizeof ATTN_BPE_UNICODE_VERSION,
               "regenerate src/text/unicode_classes.h or update ATTN_BPE_UNICODE_VERSION");

enum { CL_OTHER, CL_LETTER, CL_NUMBER, CL_SPACE };

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static int char_class(uint32_t cp)
{
    if (cp < 0x80) {
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return CL_LETTER;
        if (cp >= '0' && cp <= '9') return CL_NUMBER;
        if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return CL_SPACE;
        return CL_OTHER;
    }
    if (attn_cp_in(unicode_letter, N_OF(unicode_letter), cp)) return CL_LETTER;
    if (attn_cp_in(unicode_number, N_OF(unicode_number), cp)) return CL_NUMBER;
    if (attn_cp_in(unicode_space, N_OF(unicode_space), cp)) return CL_SPACE;
    return CL_OTHER;
}

/* The character at s[i] (i < n): its class and byte length. A byte that does not start valid
 * UTF-8 is one character of class CL_OTHER. */
static int char_at(const char *s, size_t n, size_t i, int *len)
{
    uint32_t cp;
    int l = attn_utf8_decode((const unsigned char *)s + i, n - i, &cp);
    if (l == 0) {
        *len = 1;
        return CL_OTHER;
    }
    *len = l;
    return char_class(cp);
}

/* End of the run of class cl starting at i. */
static size_t run_end(const char *s, size_t n, size_t i, int cl)
{
    int l;
    while (i < n && char_at(s, n, i, &l) == cl) i += (size_t)l;
    return i;
}

/* Length of the piece of GPT-2's pattern that starts at s[i]:
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * tried in that order, as a backtracking regex engine does. */
static size_t piece_end(const char *s, size_t n, size_t i)
{
    if (s[i] == '\'' && i + 1 < n) {
        char c = s[i + 1];
        if (c == 's' || c == 't' || c == 'm' || c == 'd') return i + 2;
        if (i + 2 < n && ((c == 'r' && s[i + 2] == 'e') || (c == 'v' && s[i + 2] == 'e') ||
                          (c == 'l' && s[i + 2] == 'l')))
            return i + 3;
    }
    int l0, cl = char_at(s, n, i, &l0);
    if (s[i] == ' ' && i + 1 < n) { /* " ?" takes the space when a letter, number or symbol follows */
        int l1, next = char_at(s, n, i + 1, &l1);
        if (next != CL_SPACE) return run_end(s, n, i + 1, next);
    }
    if (cl != CL_SPACE) return run_end(s, n, i, cl);
    /* \s+(?!\S): the whole run if text ends or whitespace follows it… */
    size_t j = i, last = i;
    int l;
    while (j < n && char_at(s, n, j, &l) == CL_SPACE) {
        last = j;
        j += (size_t)l;
    }
    if (j == n) return j;
    /* …else all but its last character (a non-space follows); a single one falls to \s+ */
    return last > i ? last : j;
}

/* A candidate merge in the heap: the pair starting at node pos, with the tokens it had. */
typedef struct cand {
    int32_t rank, pos, left, right;
} cand;

static int cand_less(const cand *a, const cand *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(cand *h, size_t *n, cand c)
{
    size_t i = (*n)++;
    while (i > 0 && cand_less(&c, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = c;
}

static cand heap_pop(cand *h, size_t *n)
{
    cand top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && cand_less(&h[c + 1], &h[c])) c++;
        if (!cand_less(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = last;
    return top;
}

/* Scratch for one piece of at most n bytes: token, next and previous node per byte position
 * (a node keeps the position of its first byte), the heap and the pairs made in a round. */
typedef struct work {
    int32_t *tok, *next, *prev;
    cand *heap, *fresh;
} work;

/* Queue the pair starting at node p if it is a merge. */
static void consider(const attn_bpe *b, const work *w, int32_t p, cand *dst, size_t *n)
{
    if (p < 0 || w->next[p] < 0) return;
    int32_t q = w->next[p];
    const bpe_merge_slot *m = attn_bpe_find_merge(b, w->tok[p], w->tok[q]);
    if (m) dst[(*n)++] = (cand){.rank = m->rank, .pos = p, .left = w->tok[p], .right = w->tok[q]};
}

/* BPE over the bytes s[0..n) of one piece; its tokens are appended to ids (while they fit)
 * and counted in *count. */
static void encode_piece(const attn_bpe *b, const work *w, const char *s, int32_t n,
                         int32_t *ids, size_t cap, size_t *count)
{
    for (int32_t i = 0; i < n; i++) {
        w->tok[i] = b->byte_id[(unsigned char)s[i]];
        w->next[i] = i + 1 < n ? i + 1 : -1;
        w->prev[i] = i - 1;
    }
    size_t nh = 0, nf = 0;
    for (int32_t i = 0; i + 1 < n; i++) consider(b, w, i, w->heap, &nh);
    /* heapify what was queued */
    for (size_t k = 0, m = nh; k < m; k++) {
        nh = k;
        heap_push(w->heap, &nh, w->heap[k]);
    }
    while (nh > 0) {
        int32_t rank = w->heap[0].rank;
        nf = 0;
        while (nh > 0 && w->heap[0].rank == rank) { /* one round: this rank, left to right */
            cand c = heap_pop(w->heap, &nh);
            int32_t p = c.pos, q = w->next[p];
            /* stale: p was absorbed into its left neighbour, or a neighbour changed */
            if (w->prev[p] == -2 || q < 0 || w->tok[p] != c.left || w->tok[q] != c.right) continue;
            w->tok[p] = attn_bpe_find_merge(b, c.left, c.right)->merged;
            w->next[p] = w->next[q];
            if (w->next[q] >= 0) w->prev[w->next[q]] = p;
            w->prev[q] = -2;
            w->next[q] = -1;
            consider(b, w, w->prev[p], w->fresh, &nf);
            consider(b, w, p, w->fresh, &nf);
        }
        for (size_t k = 0; k < nf; k++) heap_push(w->heap, &nh, w->fresh[k]);
    }
    for (int32_t p = 0; p >= 0; p = w->next[p]) {
        if (ids && *count < cap) ids[*count] = w->tok[p];
        (*count)++;
    }
}

int attn_bpe_encode(const attn_bpe *b, const char *text, size_t len, int32_t *ids, size_t cap,
                    size_t *n_ids)
{
    static const char fn[] = "attn_bpe_encode";
    ATTN_REQUIRE_NONNULL(fn, b);
    ATTN_REQUIRE_NONNULL(fn, n_ids);
    *n_ids = 0;
    if (len == 0) return ATTN_OK;
    ATTN_REQUIRE_NONNULL(fn, text);
    /* the longest piece bounds the scratch */
    size_t longest = 0;
    for (size_t i = 0; i < len;) {
        size_t e = piece_end(text, len, i);
        if (e - i > longest) longest = e - i;
        i = e;
    }
    if (longest > INT32_MAX / 4)
        return attn_fail(ATTN_E_ARG, "%s: a piece of %zu bytes (without spaces) is too long", fn,
                         longest);
    /* the heap holds the first pairs plus two per merge: < 3 per byte; fresh < 2 per byte */
    work w;
    w.tok = malloc(longest * 3 * sizeof *w.tok);
    w.heap = malloc(longest * 5 * sizeof *w.heap);
    if (!w.tok || !w.heap) {
        free(w.tok);
        free(w.heap);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory for a piece of %zu bytes", fn, longest);
    }
    w.next = w.tok + longest;
    w.prev = w.next + longest;
    w.fresh = w.heap + 3 * longest;
    size_t count = 0;
    for (size_t i = 0; i < len;) {
        size_t e = piece_end(text, len, i);
        encode_piece(b, &w, text + i, (int32_t)(e - i), ids, cap, &count);
        i = e;
    }
    free(w.tok);
    free(w.heap);
    *n_ids = count;
    if (ids && count > cap)
        return attn_fail(ATTN_E_ARG, "%s: %zu ids do not fit in %zu", fn, count, cap);
    return ATTN_OK;
}

int attn_bpe_decode(const attn_bpe *b, const int32_t *ids, size_t n, char *out, size_t out_cap,
                    size_t *out_len)
{
    static const char fn[] = "attn_bpe_decode";
    ATTN_REQUIRE_NONNULL(fn, b);
    ATTN_REQUIRE_NONNULL(fn, out_len);
    *out_len = 0;
    if (n > 0) ATTN_REQUIRE_NONNULL(fn, ids);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= b->n_vocab)
            return attn_fail(ATTN_E_ARG, "%s: ids[%zu] = %d outside [0, %lld)", fn, i, ids[i],
                             (long long)b->n_vocab);
        total += (size_t)(b->offset[ids[i] + 1] - b->offset[ids[i]]);
    }
    *out_len = total;
    if (!out) return ATTN_OK;
    if (out_cap < total + 1)
        return attn_fail(ATTN_E_ARG, "%s: %zu bytes (and a NUL) do not fit in %zu", fn, total,
                         out_cap);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = (size_t)(b->offset[ids[i] + 1] - b->offset[ids[i]]);
        memcpy(out + at, b->bytes + b->offset[ids[i]], l);
        at += l;
    }
    out[at] = '\0';
    return ATTN_OK;
}
