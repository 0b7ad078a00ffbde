/* signature.c — sacreBLEU's signature strings of a BLEU or chrF score (text.h). */
#include "internal.h"

#include <stdio.h>

static int put(const char *fn, char *buf, size_t cap, int n)
{
    if (n >= 0 && (size_t)n < cap) return ATTN_OK;
    if (buf && cap) buf[0] = '\0';
    return attn_fail(ATTN_E_ARG, "%s: a buffer of %zu bytes is too small (%d needed)", fn, cap, n + 1);
}

int attn_bleu_signature(const attn_bleu_options *opt, int n_refs, char *buf, size_t cap)
{
    static const attn_bleu_options defaults;
    static const char *const toks[] = {"13a", "none", "intl", "char"};
    if (!opt) opt = &defaults;
    ATTN_REQUIRE_NONNULL("attn_bleu_signature", buf);
    if (n_refs < 1 || (unsigned)opt->tokenize > ATTN_BLEU_TOKENIZE_CHAR || (unsigned)opt->smooth > ATTN_BLEU_SMOOTH_NONE) {
        if (cap) buf[0] = '\0';
        return attn_fail(ATTN_E_ARG, "attn_bleu_signature: n_refs %d, tokenize %d, smooth %d", n_refs,
                         (int)opt->tokenize, (int)opt->smooth);
    }
    int n = snprintf(buf, cap, "nrefs:%d|case:%s|eff:no|tok:%s|smooth:%s|version:attn-%s", n_refs,
                     opt->lowercase ? "lc" : "mixed", toks[opt->tokenize],
                     opt->smooth == ATTN_BLEU_SMOOTH_NONE ? "none" : "exp", attn_version());
    return put("attn_bleu_signature", buf, cap, n);
}

int attn_chrf_signature(const attn_chrf_options *opt, int n_refs, char *buf, size_t cap)
{
    static const attn_chrf_options defaults;
    if (!opt) opt = &defaults;
    ATTN_REQUIRE_NONNULL("attn_chrf_signature", buf);
    if (n_refs < 1 || opt->char_order < 0 || opt->char_order > ATTN_CHRF_MAX_ORDER) {
        if (cap) buf[0] = '\0';
        return attn_fail(ATTN_E_ARG, "attn_chrf_signature: n_refs %d, char_order %d", n_refs, opt->char_order);
    }
    int n = snprintf(buf, cap, "nrefs:%d|case:%s|eff:yes|nc:%d|nw:0|space:%s|version:attn-%s", n_refs,
                     opt->lowercase ? "lc" : "mixed", opt->char_order ? opt->char_order : 6,
                     opt->include_whitespace ? "yes" : "no", attn_version());
    return put("attn_chrf_signature", buf, cap, n);
}
