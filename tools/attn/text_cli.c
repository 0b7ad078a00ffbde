/* text_cli.c — `attn bleu` (corpus BLEU and chrF of a translation file against references)
 * and `attn spm` (train a SentencePiece model, encode and decode lines with it). */
#include "args.h"
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../text/spm.h"

static int bleu_lowercase, bleu_tok, bleu_smooth, bleu_replace;
static const arg_opt bleu_opts[] = {
    {"tokenize", 't', ARG_CHOICE, &bleu_tok, .choices = "13a|none|intl|char",
     .help = "sacreBLEU's tokenisers: 13a (mteval-v13a), none, intl (mteval-v14), char"},
    {"lowercase", 'l', ARG_FLAG, &bleu_lowercase, .help = "case-insensitive (BLEU and chrF)"},
    {"smooth", 's', ARG_CHOICE, &bleu_smooth, .choices = "exp|none", .help = "BLEU smoothing"},
    {"replace-invalid", 0, ARG_FLAG, &bleu_replace,
     .help = "replace invalid UTF-8 by U+FFFD instead of stopping with an error"},
    {0}};
static const arg_spec bleu_spec = {
    .cmd = "bleu",
    .synopsis = "[options] HYP REF [REF ...]",
    .about = "Corpus BLEU and chrF2 of a translation as sacreBLEU computes them by default. Files\n"
             "have one segment a line (gzip or plain, UTF-8); the references are aligned with the\n"
             "hypotheses. One of the files may be '-': standard input.",
    .opts = bleu_opts,
    .min_pos = 2,
    .max_pos = 64,
    .epilog = "The signature line has sacreBLEU's fields (nrefs, case, eff, tok, smooth) so a score\n"
              "can be compared with sacreBLEU's; its version field names attn's version.",
};

int cli_bleu(int argc, char **argv)
{
    char **files;
    int nf;
    ARGS_PARSE_OR_RETURN(&bleu_spec, argc, argv, &files, &nf);
    int n_stdin = 0;
    for (int i = 0; i < nf; i++) n_stdin += !strcmp(files[i], "-");
    if (n_stdin > 1) return args_usage_error(&bleu_spec, "only one file can be '-' (standard input)");
    static const attn_bleu_tokenize toks[] = {ATTN_BLEU_TOKENIZE_13A, ATTN_BLEU_TOKENIZE_NONE,
                                              ATTN_BLEU_TOKENIZE_INTL, ATTN_BLEU_TOKENIZE_CHAR};
    static const char *const tok_names[] = {"13a", "none", "intl", "char"};
    attn_bleu_options bo = {.tokenize = toks[bleu_tok], .lowercase = bleu_lowercase,
                            .smooth = bleu_smooth ? ATTN_BLEU_SMOOTH_NONE : ATTN_BLEU_SMOOTH_EXP};
    attn_chrf_options co = {.lowercase = bleu_lowercase};
    char **lines[64] = {0};
    int64_t count[64] = {0};
    const char **refs = NULL;
    int rc = 0;
    for (int i = 0; i < nf && rc == 0; i++) {
        int st = attn_lines_read(files[i], bleu_replace ? ATTN_LINES_REPLACE_INVALID : 0, &lines[i],
                                 &count[i]);
        if (st) rc = cli_error("bleu", "reading", st);
        else if (i > 0 && count[i] != count[0]) {
            fprintf(stderr, "attn bleu: %s: has %lld lines but %s has %lld\n", files[i],
                    (long long)count[i], files[0], (long long)count[0]);
            rc = 1;
        }
    }
    if (rc == 0 && count[0] == 0) {
        fprintf(stderr, "attn bleu: %s: empty: no segment to score\n", files[0]);
        rc = 1;
    }
    if (rc == 0) {
        int64_t n = count[0];
        refs = malloc((size_t)(nf - 1) * (size_t)n * sizeof *refs);
        for (int r = 1; refs && r < nf; r++)
            for (int64_t i = 0; i < n; i++) refs[(int64_t)(r - 1) * n + i] = lines[r][i];
        attn_bleu_result b;
        attn_chrf_result c;
        const char *const *hyp = (const char *const *)lines[0];
        int st = refs ? attn_bleu_corpus(hyp, refs, n, nf - 1, &bo, &b) : ATTN_E_NOMEM;
        if (st) rc = cli_error("bleu", "BLEU", st);
        if (!rc && (st = attn_chrf_corpus(hyp, refs, n, nf - 1, &co, &c)))
            rc = cli_error("bleu", "chrF", st);
        if (!rc) {
            printf("BLEU = %.2f %.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %lld "
                   "ref_len = %lld)\n",
                   b.score, b.precisions[0], b.precisions[1], b.precisions[2], b.precisions[3],
                   b.bp, b.ref_len ? (double)b.hyp_len / (double)b.ref_len : 0.0,
                   (long long)b.hyp_len, (long long)b.ref_len);
            printf("chrF2 = %.2f\n", c.score);
            printf("signature: nrefs:%d|case:%s|eff:no|tok:%s|smooth:%s|version:attn-%s\n", nf - 1,
                   bleu_lowercase ? "lc" : "mixed", tok_names[bleu_tok],
                   bleu_smooth ? "none" : "exp", attn_version());
            printf("chrF2 signature: nrefs:%d|case:%s|eff:yes|nc:6|nw:0|space:no|version:attn-%s\n",
                   nf - 1, bleu_lowercase ? "lc" : "mixed", attn_version());
        }
    }
    free(refs);
    for (int i = 0; i < nf; i++) attn_lines_free(lines[i], count[i]);
    return rc;
}

/* ---- attn spm ------------------------------------------------------------------------------ */

static const char spm_about[] =
    "SentencePiece: train a model on a text file, encode lines of text to ids or pieces, decode\n"
    "id lines back to text. ids 0 <pad>, 1 <unk>, 2 <s>, 3 </s>; byte fallback, so any text\n"
    "encodes.";

static void spm_overview(FILE *f)
{
    fprintf(f, "usage: attn spm train --input FILE --model OUT [options]\n"
               "       attn spm encode --model FILE [--pieces] [FILE ...]\n"
               "       attn spm decode --model FILE [FILE ...]\n%s\n"
               "`attn spm MODE --help` for the options of each.\n", spm_about);
}

static int spm_fail(const char *what, int st)
{
    const char *name = attn_status_string(st);
    fprintf(stderr, "attn spm: %s: %s (%.*s)\n", what, attn_spm_last_error(), (int)strcspn(name, ":"),
            name);
    return 1;
}

static int spm_encode(const attn_spm *sp, attn_line_reader *r, int pieces)
{
    const char *line;
    size_t len, idcap = 0;
    int32_t *ids = NULL;
    int rc = 0, got;
    while (rc == 0 && (got = attn_line_reader_next(r, &line, &len)) == 1) {
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
    if (rc == 0 && got < 0) rc = cli_error("spm encode", "reading", got);
    free(ids);
    return rc;
}

static int spm_decode(const attn_spm *sp, attn_line_reader *r)
{
    const char *line;
    size_t llen;
    int rc = 0, got;
    while (rc == 0 && (got = attn_line_reader_next(r, &line, &llen)) == 1) {
        int64_t n = 0;
        int32_t *ids = malloc((llen / 2 + 1) * sizeof *ids);
        const char *p = line;
        char *end;
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
        if (st == ATTN_E_FORMAT && *p)
            fprintf(stderr, "attn spm decode: %s:%lld: not an id: \"%s\"\n", attn_line_reader_name(r),
                    (long long)attn_line_reader_lineno(r), p), rc = 1;
        else if (st) rc = spm_fail("decode", st);
        else printf("%s\n", out);
        free(out);
        free(ids);
    }
    if (rc == 0 && got < 0) rc = cli_error("spm decode", "reading", got);
    return rc;
}

static const char *spm_input, *spm_model;
static int spm_vocab = 8000, spm_threads = 1, spm_type, spm_norm, spm_pieces, spm_hard, spm_replace;
static double spm_coverage = 1.0;
static const arg_opt spm_train_opts[] = {
    {"input", 'i', ARG_STR, &spm_input, .meta = "FILE", .help = "training text, one sentence a line"},
    {"model", 'm', ARG_STR, &spm_model, .meta = "OUT", .help = "where to write the model"},
    {"vocab", 'n', ARG_INT, &spm_vocab, .lo = 261, .hi = 1000000,
     .help = "pieces wanted (more than 4 specials + 256 bytes); the model may come out smaller"},
    {"hard-vocab", 0, ARG_FLAG, &spm_hard, .help = "fail instead when --vocab cannot be reached"},
    {"type", 0, ARG_CHOICE, &spm_type, .choices = "unigram|bpe", .help = "model type"},
    {"norm", 0, ARG_CHOICE, &spm_norm, .choices = "nmt_nfkc|identity", .help = "normalisation"},
    {"coverage", 0, ARG_DOUBLE, &spm_coverage, .lo = 1e-9, .hi = 1,
     .help = "share of characters covered"},
    {"threads", 'j', ARG_INT, &spm_threads, .lo = 1, .hi = 1024, .help = "training threads"},
    {0}};
static const arg_opt spm_code_opts[] = {
    {"model", 'm', ARG_STR, &spm_model, .meta = "FILE", .help = "SentencePiece model"},
    {"pieces", 'p', ARG_FLAG, &spm_pieces, .help = "encode: print pieces, not ids"},
    {"replace-invalid", 0, ARG_FLAG, &spm_replace,
     .help = "encode: replace invalid UTF-8 by U+FFFD instead of stopping with an error"},
    {0}};
static const arg_spec spm_train_spec = {.cmd = "spm train", .synopsis = "--input FILE --model OUT [options]",
                                        .about = spm_about, .opts = spm_train_opts};
static const arg_spec spm_encode_spec = {.cmd = "spm encode", .synopsis = "--model FILE [--pieces] [FILE ...]",
                                         .about = "Encodes each line of the FILEs (default: standard input) to ids.",
                                         .opts = spm_code_opts, .max_pos = -1};
static const arg_spec spm_decode_spec = {.cmd = "spm decode", .synopsis = "--model FILE [FILE ...]",
                                         .about = "Decodes each line of space-separated ids of the FILEs (default:\n"
                                                  "standard input) to text.",
                                         .opts = spm_code_opts, .max_pos = -1};

int cli_spm(int argc, char **argv)
{
    const char *mode = argc >= 2 ? argv[1] : "";
    const arg_spec *spec = !strcmp(mode, "train")    ? &spm_train_spec
                           : !strcmp(mode, "encode") ? &spm_encode_spec
                           : !strcmp(mode, "decode") ? &spm_decode_spec
                                                     : NULL;
    if (!spec) {
        if (args_wants_help(argc, argv)) {
            spm_overview(stdout);
            return 0;
        }
        if (mode[0]) fprintf(stderr, "attn spm: unknown mode '%s'\n", mode);
        else fprintf(stderr, "attn spm: which mode: train, encode or decode?\n");
        spm_overview(stderr);
        return 2;
    }
    char **files;
    int nfiles;
    ARGS_PARSE_OR_RETURN(spec, argc - 1, argv + 1, &files, &nfiles);
    if (!spm_model) return args_usage_error(spec, "--model is required");
    attn_spm *sp = NULL;
    int st;
    int rc = 0;
    if (spec == &spm_train_spec) {
        if (!spm_input) return args_usage_error(spec, "--input is required");
        attn_spm_train_options o = {
            .model_type = spm_type ? ATTN_SPM_BPE : ATTN_SPM_UNIGRAM,
            .vocab_size = spm_vocab,
            .character_coverage = spm_coverage,
            .normalization = spm_norm ? ATTN_SPM_NORM_IDENTITY : ATTN_SPM_NORM_NMT_NFKC,
            .num_threads = spm_threads,
            .hard_vocab_limit = spm_hard};
        if ((st = attn_spm_train_file(spm_input, &o, &sp))) return spm_fail("train", st);
        if ((st = attn_spm_save_file(sp, spm_model))) rc = spm_fail("save", st);
        int32_t v = 0;
        attn_spm_vocab_size(sp, &v);
        if (!rc) fprintf(stderr, "attn spm: %s: %d pieces\n", spm_model, (int)v);
        if (!rc && v < spm_vocab)
            fprintf(stderr, "attn spm: note: the text gives only %d pieces of the %d asked for "
                            "(--hard-vocab makes this an error)\n", (int)v, spm_vocab);
    } else {
        if ((st = attn_spm_load_file(spm_model, &sp))) return spm_fail("load", st);
        static char *stdin_only[] = {"-"};
        if (nfiles == 0) files = stdin_only, nfiles = 1;
        for (int i = 0; i < nfiles && rc == 0; i++) {
            attn_line_reader *r = NULL;
            st = attn_line_reader_open(files[i], spm_replace ? ATTN_LINES_REPLACE_INVALID : 0, &r);
            if (st) rc = cli_error(spec->cmd, "reading", st);
            else rc = spec == &spm_encode_spec ? spm_encode(sp, r, spm_pieces) : spm_decode(sp, r);
            attn_line_reader_close(r);
        }
    }
    attn_spm_free(sp);
    return rc;
}
