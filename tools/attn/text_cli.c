/* text_cli.c — `attn bleu` (corpus BLEU and chrF of a translation file against references)
 * and `attn spm` (train a SentencePiece model, encode and decode lines with it). */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../text/spm.h"

static int bleu_usage(void)
{
    fprintf(stderr, "usage: attn bleu HYP_FILE REF_FILE [REF_FILE...] [--lowercase] "
                    "[--tokenize 13a|none] [--smooth exp|none]\n"
                    "  corpus BLEU and chrF2 as sacreBLEU computes them by default; files have one\n"
                    "  segment a line (gzip or plain), references aligned with the hypotheses\n");
    return 2;
}

int cli_bleu(int argc, char **argv)
{
    const char *files[64];
    int nf = 0;
    attn_bleu_options bo = {0};
    attn_chrf_options co = {0};
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--lowercase")) {
            bo.lowercase = co.lowercase = 1;
        } else if (!strcmp(argv[a], "--tokenize") && a + 1 < argc) {
            const char *t = argv[++a];
            if (!strcmp(t, "13a")) bo.tokenize = ATTN_BLEU_TOKENIZE_13A;
            else if (!strcmp(t, "none")) bo.tokenize = ATTN_BLEU_TOKENIZE_NONE;
            else return bleu_usage();
        } else if (!strcmp(argv[a], "--smooth") && a + 1 < argc) {
            const char *t = argv[++a];
            if (!strcmp(t, "exp")) bo.smooth = ATTN_BLEU_SMOOTH_EXP;
            else if (!strcmp(t, "none")) bo.smooth = ATTN_BLEU_SMOOTH_NONE;
            else return bleu_usage();
        } else if (argv[a][0] == '-' || nf == 64) {
            return bleu_usage();
        } else {
            files[nf++] = argv[a];
        }
    }
    if (nf < 2) return bleu_usage();
    attn_parallel *f[64] = {0};
    int rc = 0;
    const char **refs = NULL;
    for (int i = 0; i < nf && rc == 0; i++) {
        int st = attn_lines_load(files[i], &f[i]);
        if (st) rc = cli_error("bleu", files[i], st);
        else if (i > 0 && f[i]->n != f[0]->n) {
            fprintf(stderr, "attn bleu: %s has %lld lines but %s has %lld\n", files[i],
                    (long long)f[i]->n, files[0], (long long)f[0]->n);
            rc = 1;
        }
    }
    if (rc == 0 && f[0]->n == 0) {
        fprintf(stderr, "attn bleu: %s is empty\n", files[0]);
        rc = 1;
    }
    if (rc == 0) {
        int64_t n = f[0]->n;
        refs = malloc((size_t)(nf - 1) * (size_t)n * sizeof *refs);
        for (int r = 1; refs && r < nf; r++)
            for (int64_t i = 0; i < n; i++) refs[(int64_t)(r - 1) * n + i] = f[r]->src[i];
        attn_bleu_result b;
        attn_chrf_result c;
        int st = refs ? attn_bleu_corpus((const char *const *)f[0]->src, refs, n, nf - 1, &bo, &b)
                      : ATTN_E_NOMEM;
        if (st) rc = cli_error("bleu", "BLEU", st);
        if (!rc && (st = attn_chrf_corpus((const char *const *)f[0]->src, refs, n, nf - 1, &co, &c)))
            rc = cli_error("bleu", "chrF", st);
        if (!rc) {
            printf("BLEU = %.2f %.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %lld "
                   "ref_len = %lld)\n",
                   b.score, b.precisions[0], b.precisions[1], b.precisions[2], b.precisions[3],
                   b.bp, b.ref_len ? (double)b.hyp_len / (double)b.ref_len : 0.0,
                   (long long)b.hyp_len, (long long)b.ref_len);
            printf("chrF2 = %.2f\n", c.score);
            printf("signature: nrefs:%d|case:%s|tok:%s|smooth:%s\n", nf - 1,
                   bo.lowercase ? "lc" : "mixed", bo.tokenize ? "none" : "13a",
                   bo.smooth ? "none" : "exp");
        }
    }
    free(refs);
    for (int i = 0; i < nf; i++) attn_parallel_free(f[i]);
    return rc;
}

/* ---- attn spm ------------------------------------------------------------------------------ */

static int spm_usage(void)
{
    fprintf(stderr,
            "usage: attn spm train --input FILE --model OUT [--vocab N] [--type bpe|unigram]\n"
            "                      [--norm nmt_nfkc|identity] [--coverage F] [--threads N]\n"
            "       attn spm encode --model FILE [--pieces]   (stdin lines → ids or pieces)\n"
            "       attn spm decode --model FILE              (stdin id lines → text)\n"
            "  ids 0 <pad>, 1 <unk>, 2 <s>, 3 </s>; byte fallback, so any text encodes\n");
    return 2;
}

static int spm_fail(const char *what, int st)
{
    fprintf(stderr, "attn spm: %s: %s — %s\n", what, attn_status_string(st), attn_spm_last_error());
    return 1;
}

static char *read_line(FILE *f, size_t *cap, char **buf)
{
    size_t len = 0;
    int c;
    while ((c = fgetc(f)) != EOF) {
        if (len + 2 > *cap) {
            size_t nc = *cap ? 2 * *cap : 256;
            char *p = realloc(*buf, nc);
            if (!p) return NULL;
            *buf = p, *cap = nc;
        }
        if (c == '\n') break;
        (*buf)[len++] = (char)c;
    }
    if (c == EOF && len == 0) return NULL;
    if (len && (*buf)[len - 1] == '\r') len--;
    (*buf)[len] = '\0';
    return *buf;
}

static int spm_encode(const attn_spm *sp, int pieces)
{
    char *line = NULL;
    size_t cap = 0, idcap = 0;
    int32_t *ids = NULL;
    int rc = 0;
    while (rc == 0 && read_line(stdin, &cap, &line)) {
        int64_t n;
        int st = attn_spm_encode(sp, line, NULL, 0, &n);
        if (!st && (size_t)n > idcap) {
            int32_t *p = realloc(ids, (size_t)n * sizeof *p);
            if (!p) st = ATTN_E_NOMEM;
            else ids = p, idcap = (size_t)n;
        }
        if (!st) st = attn_spm_encode(sp, line, ids, (int64_t)idcap, &n);
        if (st) {
            rc = spm_fail("encode", st);
            break;
        }
        for (int64_t i = 0; i < n; i++) {
            const char *piece;
            if (pieces && attn_spm_id_to_piece(sp, ids[i], &piece) == ATTN_OK)
                printf("%s%s", i ? " " : "", piece);
            else
                printf("%s%d", i ? " " : "", (int)ids[i]);
        }
        printf("\n");
    }
    free(line);
    free(ids);
    return rc;
}

static int spm_decode(const attn_spm *sp)
{
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    while (rc == 0 && read_line(stdin, &cap, &line)) {
        int64_t n = 0;
        int32_t *ids = malloc((strlen(line) / 2 + 1) * sizeof *ids);
        char *p = line, *end;
        while (ids) {
            long v = strtol(p, &end, 10);
            if (end == p) break;
            ids[n++] = (int32_t)v;
            p = end;
        }
        while (*p == ' ' || *p == '\t') p++;
        size_t len;
        int st = !ids ? ATTN_E_NOMEM : *p ? ATTN_E_FORMAT : attn_spm_decode(sp, ids, n, NULL, 0, &len);
        char *out = st ? NULL : malloc(len + 1);
        if (!st) st = out ? attn_spm_decode(sp, ids, n, out, len + 1, &len) : ATTN_E_NOMEM;
        if (st == ATTN_E_FORMAT && *p) fprintf(stderr, "attn spm decode: not an id: \"%s\"\n", p), rc = 1;
        else if (st) rc = spm_fail("decode", st);
        else printf("%s\n", out);
        free(out);
        free(ids);
    }
    free(line);
    return rc;
}

int cli_spm(int argc, char **argv)
{
    if (argc < 2) return spm_usage();
    const char *mode = argv[1], *input = NULL, *model = NULL;
    int pieces = 0;
    attn_spm_train_options o = {0};
    for (int a = 2; a < argc; a++) {
        const char *v = a + 1 < argc ? argv[a + 1] : NULL;
        if (!strcmp(argv[a], "--pieces")) pieces = 1;
        else if (!v) return spm_usage();
        else if (!strcmp(argv[a], "--input")) input = v, a++;
        else if (!strcmp(argv[a], "--model")) model = v, a++;
        else if (!strcmp(argv[a], "--vocab")) o.vocab_size = atoi(v), a++;
        else if (!strcmp(argv[a], "--coverage")) o.character_coverage = atof(v), a++;
        else if (!strcmp(argv[a], "--threads")) o.num_threads = atoi(v), a++;
        else if (!strcmp(argv[a], "--type") && !strcmp(v, "bpe")) o.model_type = ATTN_SPM_BPE, a++;
        else if (!strcmp(argv[a], "--type") && !strcmp(v, "unigram")) o.model_type = ATTN_SPM_UNIGRAM, a++;
        else if (!strcmp(argv[a], "--norm") && !strcmp(v, "identity")) o.normalization = ATTN_SPM_NORM_IDENTITY, a++;
        else if (!strcmp(argv[a], "--norm") && !strcmp(v, "nmt_nfkc")) o.normalization = ATTN_SPM_NORM_NMT_NFKC, a++;
        else return spm_usage();
    }
    if (!model) return spm_usage();
    attn_spm *sp = NULL;
    int st, rc = 0;
    if (!strcmp(mode, "train")) {
        if (!input) return spm_usage();
        if ((st = attn_spm_train_file(input, &o, &sp))) return spm_fail("train", st);
        if ((st = attn_spm_save_file(sp, model))) rc = spm_fail("save", st);
        int32_t v = 0;
        attn_spm_vocab_size(sp, &v);
        if (!rc) fprintf(stderr, "attn spm: %s: %d pieces\n", model, (int)v);
    } else if (!strcmp(mode, "encode") || !strcmp(mode, "decode")) {
        if ((st = attn_spm_load_file(model, &sp))) return spm_fail("load", st);
        rc = mode[0] == 'e' ? spm_encode(sp, pieces) : spm_decode(sp);
    } else {
        return spm_usage();
    }
    attn_spm_free(sp);
    return rc;
}
