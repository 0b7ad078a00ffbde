/* bleu.c — corpus BLEU with sacreBLEU's conventions (see attn.h for the definition). */
#include "bleu_internal.h"

#include <math.h>
#include <string.h>

typedef struct token {
    const char *p;
    size_t len;
} token;

/* An n-gram: n tokens starting at t. */
typedef struct ngram {
    const token *t;
    int n;
} ngram;

/* Per-segment working memory, grown as needed. */
typedef struct segment_work {
    attn_bleu_scratch scratch;
    attn_buf *text;       /* [1 + n_refs] tokenised strings: hypothesis, then each reference */
    token **tok;          /* [1 + n_refs] token arrays */
    size_t *ntok, *captok;
    ngram **gram;         /* [1 + n_refs] n-gram arrays */
    size_t *capgram;
    size_t *pos;          /* [n_refs] merge positions */
    int count;            /* 1 + n_refs */
} segment_work;

static int cmp_ngram(const void *a, const void *b)
{
    const ngram *x = a, *y = b;
    for (int k = 0; k < x->n; k++) {
        const token *s = &x->t[k], *t = &y->t[k];
        size_t m = s->len < t->len ? s->len : t->len;
        int c = memcmp(s->p, t->p, m);
        if (c) return c;
        if (s->len != t->len) return s->len < t->len ? -1 : 1;
    }
    return 0;
}

static int work_init(segment_work *w, int n_refs)
{
    memset(w, 0, sizeof *w);
    w->count = 1 + n_refs;
    size_t c = (size_t)w->count;
    w->text = calloc(c, sizeof *w->text);
    w->tok = calloc(c, sizeof *w->tok);
    w->ntok = calloc(c, sizeof *w->ntok);
    w->captok = calloc(c, sizeof *w->captok);
    w->gram = calloc(c, sizeof *w->gram);
    w->capgram = calloc(c, sizeof *w->capgram);
    w->pos = calloc(c, sizeof *w->pos);
    if (!w->text || !w->tok || !w->ntok || !w->captok || !w->gram || !w->capgram || !w->pos)
        return attn_fail(ATTN_E_NOMEM, "attn_bleu_corpus: out of memory");
    return ATTN_OK;
}

static void work_release(segment_work *w)
{
    attn_bleu_scratch_release(&w->scratch);
    for (int i = 0; i < w->count; i++) {
        if (w->text) attn_buf_release(&w->text[i]);
        if (w->tok) free(w->tok[i]);
        if (w->gram) free(w->gram[i]);
    }
    free(w->text), free(w->tok), free(w->ntok), free(w->captok);
    free(w->gram), free(w->capgram), free(w->pos);
}

/* Tokenise text into slot i: string in w->text[i], tokens in w->tok[i]. */
static int split_slot(segment_work *w, int i, const char *text, const attn_bleu_options *opt)
{
    ATTN_TRY(attn_bleu_prepare(text, opt, &w->scratch));
    attn_buf *b = &w->text[i];
    b->len = 0;
    ATTN_TRY(attn_buf_put(b, w->scratch.out.data ? w->scratch.out.data : "", w->scratch.out.len));
    size_t n = 0;
    for (size_t k = 0; k < b->len; k++) n += b->data[k] == ' ';
    n = b->len ? n + 1 : 0;
    if (n > w->captok[i]) {
        token *t = realloc(w->tok[i], n * sizeof *t);
        if (!t) return attn_fail(ATTN_E_NOMEM, "attn_bleu_corpus: out of memory");
        w->tok[i] = t, w->captok[i] = n;
    }
    size_t start = 0, j = 0;
    for (size_t k = 0; k <= b->len && n; k++) {
        if (k == b->len || b->data[k] == ' ') {
            w->tok[i][j++] = (token){b->data + start, k - start};
            start = k + 1;
        }
    }
    w->ntok[i] = n;
    return ATTN_OK;
}

/* Sorted n-grams of order n of slot i; returns their count. */
static int sorted_ngrams(segment_work *w, int i, int n, size_t *count)
{
    size_t m = w->ntok[i] >= (size_t)n ? w->ntok[i] - (size_t)n + 1 : 0;
    if (m > w->capgram[i]) {
        ngram *g = realloc(w->gram[i], m * sizeof *g);
        if (!g) return attn_fail(ATTN_E_NOMEM, "attn_bleu_corpus: out of memory");
        w->gram[i] = g, w->capgram[i] = m;
    }
    for (size_t k = 0; k < m; k++) w->gram[i][k] = (ngram){w->tok[i] + k, n};
    if (m > 1) qsort(w->gram[i], m, sizeof(ngram), cmp_ngram);
    *count = m;
    return ATTN_OK;
}

/* Adds one segment's counts (slot 0 hypothesis, slots 1.. references) to r. */
static int count_segment(segment_work *w, attn_bleu_result *r)
{
    int n_refs = w->count - 1;
    int64_t hyp_len = (int64_t)w->ntok[0];
    int64_t best = -1, best_diff = -1;
    for (int j = 1; j <= n_refs; j++) {
        int64_t len = (int64_t)w->ntok[j];
        int64_t diff = len > hyp_len ? len - hyp_len : hyp_len - len;
        if (best_diff < 0 || diff < best_diff || (diff == best_diff && len < best))
            best = len, best_diff = diff;
    }
    r->hyp_len += hyp_len;
    r->ref_len += best;
    for (int n = 1; n <= ATTN_BLEU_MAX_ORDER; n++) {
        size_t cnt[64];
        size_t *counts = cnt;
        size_t *heap = NULL;
        if ((size_t)w->count > sizeof cnt / sizeof cnt[0]) {
            heap = malloc((size_t)w->count * sizeof *heap);
            if (!heap) return attn_fail(ATTN_E_NOMEM, "attn_bleu_corpus: out of memory");
            counts = heap;
        }
        int st = ATTN_OK;
        for (int j = 0; j < w->count && st == ATTN_OK; j++) st = sorted_ngrams(w, j, n, &counts[j]);
        if (st != ATTN_OK) {
            free(heap);
            return st;
        }
        size_t h = counts[0];
        r->totals[n - 1] += (int64_t)h;
        for (int j = 1; j <= n_refs; j++) w->pos[j] = 0;
        for (size_t a = 0; a < h;) {
            size_t b = a + 1;
            while (b < h && cmp_ngram(&w->gram[0][a], &w->gram[0][b]) == 0) b++;
            size_t in_hyp = b - a, in_ref = 0;
            for (int j = 1; j <= n_refs; j++) {
                size_t p = w->pos[j], c = 0;
                int cmp = -1;
                while (p < counts[j] && (cmp = cmp_ngram(&w->gram[j][p], &w->gram[0][a])) < 0) p++;
                while (p < counts[j] && cmp_ngram(&w->gram[j][p], &w->gram[0][a]) == 0) p++, c++;
                w->pos[j] = p;
                if (c > in_ref) in_ref = c;
            }
            r->matches[n - 1] += (int64_t)(in_hyp < in_ref ? in_hyp : in_ref);
            a = b;
        }
        free(heap);
    }
    return ATTN_OK;
}

int attn_bleu_from_counts(attn_bleu_result *r, attn_bleu_smooth smooth)
{
    static const char fn[] = "attn_bleu_from_counts";
    ATTN_REQUIRE_NONNULL(fn, r);
    if (smooth != ATTN_BLEU_SMOOTH_EXP && smooth != ATTN_BLEU_SMOOTH_NONE)
        return attn_fail(ATTN_E_ARG, "%s: unknown smoothing %d", fn, (int)smooth);
    if (r->hyp_len < 0 || r->ref_len < 0)
        return attn_fail(ATTN_E_ARG, "%s: negative length", fn);
    int any = 0;
    for (int n = 0; n < ATTN_BLEU_MAX_ORDER; n++) {
        if (r->totals[n] < 0 || r->matches[n] < 0 || r->matches[n] > r->totals[n])
            return attn_fail(ATTN_E_ARG, "%s: order %d has matches=%lld totals=%lld", fn, n + 1,
                             (long long)r->matches[n], (long long)r->totals[n]);
        any |= r->matches[n] > 0;
        r->precisions[n] = 0.0;
    }
    r->bp = 1.0;
    if (r->hyp_len < r->ref_len)
        r->bp = r->hyp_len > 0 ? exp(1.0 - (double)r->ref_len / (double)r->hyp_len) : 0.0;
    r->score = 0.0;
    if (!any) return ATTN_OK;
    double smooth_mteval = 1.0;
    for (int n = 0; n < ATTN_BLEU_MAX_ORDER; n++) {
        if (r->totals[n] == 0) break;
        if (r->matches[n] == 0) {
            if (smooth == ATTN_BLEU_SMOOTH_EXP) {
                smooth_mteval *= 2.0;
                r->precisions[n] = 100.0 / (smooth_mteval * (double)r->totals[n]);
            }
        } else {
            r->precisions[n] = 100.0 * (double)r->matches[n] / (double)r->totals[n];
        }
    }
    /* sacreBLEU's my_log: log(0) counts as −9999999999, which sends the score to 0. */
    double sum = 0.0;
    for (int n = 0; n < ATTN_BLEU_MAX_ORDER; n++)
        sum += r->precisions[n] > 0.0 ? log(r->precisions[n]) : -9999999999.0;
    r->score = r->bp * exp(sum / ATTN_BLEU_MAX_ORDER);
    return ATTN_OK;
}

static int check_segment(const char *fn, const char *what, int64_t i, const char *s)
{
    if (s == NULL) return attn_fail(ATTN_E_ARG, "%s: %s[%lld] is NULL", fn, what, (long long)i);
    size_t bad;
    if (attn_utf8_validate(s, strlen(s), &bad) != ATTN_OK)
        return attn_fail(ATTN_E_FORMAT, "%s: %s[%lld]: invalid UTF-8 at byte %zu", fn, what,
                         (long long)i, bad);
    return ATTN_OK;
}

int attn_bleu_corpus(const char *const *hyps, const char *const *refs, int64_t n, int n_refs,
                     const attn_bleu_options *opt, attn_bleu_result *out)
{
    static const char fn[] = "attn_bleu_corpus";
    ATTN_REQUIRE_NONNULL(fn, hyps);
    ATTN_REQUIRE_NONNULL(fn, refs);
    ATTN_REQUIRE_NONNULL(fn, out);
    if (n < 1) return attn_fail(ATTN_E_ARG, "%s: n=%lld, need at least one segment", fn, (long long)n);
    if (n_refs < 1) return attn_fail(ATTN_E_ARG, "%s: n_refs=%d, need at least 1", fn, n_refs);
    int64_t total_refs;
    if (attn_mul_overflow(n, (int64_t)n_refs, &total_refs))
        return attn_fail(ATTN_E_OVERFLOW, "%s: n·n_refs overflows", fn);
    attn_bleu_options o = {0};
    if (opt) o = *opt;
    if ((unsigned)o.tokenize > ATTN_BLEU_TOKENIZE_CHAR)
        return attn_fail(ATTN_E_ARG, "%s: unknown tokenizer %d", fn, (int)o.tokenize);
    if (o.smooth != ATTN_BLEU_SMOOTH_EXP && o.smooth != ATTN_BLEU_SMOOTH_NONE)
        return attn_fail(ATTN_E_ARG, "%s: unknown smoothing %d", fn, (int)o.smooth);
    for (int64_t i = 0; i < n; i++) ATTN_TRY(check_segment(fn, "hyps", i, hyps[i]));
    for (int64_t i = 0; i < total_refs; i++) ATTN_TRY(check_segment(fn, "refs", i, refs[i]));

    attn_bleu_result r;
    memset(&r, 0, sizeof r);
    segment_work w;
    int st = work_init(&w, n_refs);
    for (int64_t i = 0; i < n && st == ATTN_OK; i++) {
        st = split_slot(&w, 0, hyps[i], &o);
        for (int j = 0; j < n_refs && st == ATTN_OK; j++)
            st = split_slot(&w, 1 + j, refs[(int64_t)j * n + i], &o);
        if (st == ATTN_OK) st = count_segment(&w, &r);
    }
    work_release(&w);
    if (st != ATTN_OK) return st;
    ATTN_TRY(attn_bleu_from_counts(&r, o.smooth));
    *out = r;
    return ATTN_OK;
}
