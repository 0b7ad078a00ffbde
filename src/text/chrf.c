/* chrf.c — corpus chrF with sacreBLEU's CHRF defaults (see attn.h for the definition). */
#include "text_internal.h"

#include <string.h>

typedef struct cgram {
    const uint32_t *p;
    int n;
} cgram;

static int cmp_cgram(const void *a, const void *b)
{
    const cgram *x = a, *y = b;
    for (int k = 0; k < x->n; k++)
        if (x->p[k] != y->p[k]) return x->p[k] < y->p[k] ? -1 : 1;
    return 0;
}

/* Code points of s (lowercased, whitespace dropped, as the options say). */
typedef struct cps {
    uint32_t *cp;
    size_t n, cap;
} cps;

static int to_codepoints(const char *s, const attn_chrf_options *o, cps *out, const char *what,
                         int64_t index)
{
    size_t len = strlen(s);
    if (len > out->cap) {
        uint32_t *p = realloc(out->cp, (len + 1) * sizeof *p);
        if (!p) return attn_fail(ATTN_E_NOMEM, "attn_chrf_corpus: out of memory");
        out->cp = p, out->cap = len;
    }
    const unsigned char *u = (const unsigned char *)s;
    out->n = 0;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        int k = attn_utf8_decode(u + i, len - i, &c);
        if (k == 0)
            return attn_fail(ATTN_E_FORMAT, "attn_chrf_corpus: %s[%lld]: invalid UTF-8 at byte %zu",
                             what, (long long)index, i);
        i += (size_t)k;
        if (!o->include_whitespace && attn_unicode_is_space(c)) continue;
        if (o->lowercase) {
            if (c == 0x130) { /* İ lowercases to two code points, i + U+0307 */
                out->cp[out->n++] = 'i';
                c = 0x307;
            } else {
                c = attn_unicode_lower(c);
            }
        }
        out->cp[out->n++] = c;
    }
    return ATTN_OK;
}

static int sorted_cgrams(const cps *s, int n, cgram **g, size_t *cap, size_t *count)
{
    size_t m = s->n >= (size_t)n ? s->n - (size_t)n + 1 : 0;
    if (m > *cap) {
        cgram *p = realloc(*g, m * sizeof *p);
        if (!p) return attn_fail(ATTN_E_NOMEM, "attn_chrf_corpus: out of memory");
        *g = p, *cap = m;
    }
    for (size_t k = 0; k < m; k++) (*g)[k] = (cgram){s->cp + k, n};
    if (m > 1) qsort(*g, m, sizeof(cgram), cmp_cgram);
    *count = m;
    return ATTN_OK;
}

/* Matches between two sorted n-gram lists: Σ min(count in a, count in b). */
static int64_t clipped_matches(const cgram *a, size_t na, const cgram *b, size_t nb)
{
    int64_t m = 0;
    size_t i = 0, j = 0;
    while (i < na && j < nb) {
        int c = cmp_cgram(&a[i], &b[j]);
        if (c < 0) i++;
        else if (c > 0) j++;
        else m++, i++, j++;
    }
    return m;
}

/* sacreBLEU's _compute_f_score without eps smoothing. */
static double f_score(const int64_t *hyp, const int64_t *ref, const int64_t *match, int order,
                      double beta)
{
    double factor = beta * beta, avg_p = 0.0, avg_r = 0.0;
    int eff = 0;
    for (int i = 0; i < order; i++) {
        if (hyp[i] > 0 && ref[i] > 0) {
            avg_p += (double)match[i] / (double)hyp[i];
            avg_r += (double)match[i] / (double)ref[i];
            eff++;
        }
    }
    if (eff == 0) return 0.0;
    avg_p /= eff;
    avg_r /= eff;
    if (avg_p + avg_r == 0.0) return 0.0;
    return 100.0 * (1.0 + factor) * avg_p * avg_r / (factor * avg_p + avg_r);
}

int attn_chrf_corpus(const char *const *hyps, const char *const *refs, int64_t n, int n_refs,
                     const attn_chrf_options *opt, attn_chrf_result *out)
{
    static const char fn[] = "attn_chrf_corpus";
    ATTN_REQUIRE_NONNULL(fn, hyps);
    ATTN_REQUIRE_NONNULL(fn, refs);
    ATTN_REQUIRE_NONNULL(fn, out);
    if (n < 1) return attn_fail(ATTN_E_ARG, "%s: n=%lld, need at least one segment", fn, (long long)n);
    if (n_refs < 1) return attn_fail(ATTN_E_ARG, "%s: n_refs=%d, need at least 1", fn, n_refs);
    int64_t total_refs;
    if (attn_mul_overflow(n, (int64_t)n_refs, &total_refs))
        return attn_fail(ATTN_E_OVERFLOW, "%s: n·n_refs overflows", fn);
    attn_chrf_options o = {0};
    if (opt) o = *opt;
    if (o.char_order == 0) o.char_order = 6;
    if (o.beta == 0.0) o.beta = 2.0;
    if (o.char_order < 1 || o.char_order > ATTN_CHRF_MAX_ORDER)
        return attn_fail(ATTN_E_ARG, "%s: char_order=%d not in 1..%d", fn, o.char_order,
                         ATTN_CHRF_MAX_ORDER);
    if (!(o.beta > 0.0)) return attn_fail(ATTN_E_ARG, "%s: beta=%g must be > 0", fn, o.beta);
    for (int64_t i = 0; i < n; i++)
        if (!hyps[i]) return attn_fail(ATTN_E_ARG, "%s: hyps[%lld] is NULL", fn, (long long)i);
    for (int64_t i = 0; i < total_refs; i++)
        if (!refs[i]) return attn_fail(ATTN_E_ARG, "%s: refs[%lld] is NULL", fn, (long long)i);

    attn_chrf_result r;
    memset(&r, 0, sizeof r);
    r.order = o.char_order;
    cps hc = {0}, rc = {0};
    cgram *hg[ATTN_CHRF_MAX_ORDER] = {0}, *rg = NULL;
    size_t hcap[ATTN_CHRF_MAX_ORDER] = {0}, hcount[ATTN_CHRF_MAX_ORDER] = {0}, rcap = 0;
    int st = ATTN_OK;
    for (int64_t i = 0; i < n && st == ATTN_OK; i++) {
        if ((st = to_codepoints(hyps[i], &o, &hc, "hyps", i)) != ATTN_OK) break;
        for (int k = 0; k < o.char_order && st == ATTN_OK; k++)
            st = sorted_cgrams(&hc, k + 1, &hg[k], &hcap[k], &hcount[k]);
        int64_t best_h[ATTN_CHRF_MAX_ORDER] = {0}, best_r[ATTN_CHRF_MAX_ORDER] = {0},
                best_m[ATTN_CHRF_MAX_ORDER] = {0};
        double best = -1.0;
        for (int j = 0; j < n_refs && st == ATTN_OK; j++) {
            int64_t ri = (int64_t)j * n + i;
            if ((st = to_codepoints(refs[ri], &o, &rc, "refs", ri)) != ATTN_OK) break;
            int64_t h[ATTN_CHRF_MAX_ORDER], rr[ATTN_CHRF_MAX_ORDER], m[ATTN_CHRF_MAX_ORDER];
            for (int k = 0; k < o.char_order && st == ATTN_OK; k++) {
                size_t rcount;
                st = sorted_cgrams(&rc, k + 1, &rg, &rcap, &rcount);
                h[k] = (int64_t)hcount[k];
                rr[k] = (int64_t)rcount;
                m[k] = clipped_matches(hg[k], hcount[k], rg, rcount);
            }
            if (st != ATTN_OK) break;
            double f = n_refs == 1 ? 0.0 : f_score(h, rr, m, o.char_order, o.beta);
            if (f > best) {
                best = f;
                memcpy(best_h, h, sizeof h), memcpy(best_r, rr, sizeof rr), memcpy(best_m, m, sizeof m);
            }
        }
        for (int k = 0; k < o.char_order && st == ATTN_OK; k++) {
            r.hyp[k] += best_h[k];
            r.ref[k] += best_r[k];
            r.match[k] += best_m[k];
        }
    }
    free(hc.cp), free(rc.cp), free(rg);
    for (int k = 0; k < ATTN_CHRF_MAX_ORDER; k++) free(hg[k]);
    if (st != ATTN_OK) return st;
    r.score = f_score(r.hyp, r.ref, r.match, r.order, o.beta);
    *out = r;
    return ATTN_OK;
}
