/* text_cli.c — `attn bleu` (corpus BLEU and chrF of a translation file against references:
 * attn_bleu_files, attn/data.h) and `attn spm` (train a SentencePiece model, encode and decode
 * lines with it: attn_spm_encode_line, attn_spm_decode_line, spm.h). */
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
    attn_bleu_options bo = {.tokenize = (attn_bleu_tokenize)bleu_tok, .lowercase = bleu_lowercase,
                            .smooth = bleu_smooth ? ATTN_BLEU_SMOOTH_NONE : ATTN_BLEU_SMOOTH_EXP};
    attn_chrf_options co = {.lowercase = bleu_lowercase};
    attn_bleu_result b;
    attn_chrf_result c;
    char sig[128], chrf_sig[128];
    int st = attn_bleu_files(files[0], (const char *const *)files + 1, nf - 1,
                             bleu_replace ? ATTN_LINES_REPLACE_INVALID : 0, &bo, &b, &co, &c);
    if (st == ATTN_OK) st = attn_bleu_signature(&bo, nf - 1, sig, sizeof sig);
    if (st == ATTN_OK) st = attn_chrf_signature(&co, nf - 1, chrf_sig, sizeof chrf_sig);
    if (st) return cli_error("bleu", "reading", st);
    printf("BLEU = %.2f %.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %lld ref_len = %lld)\n", b.score,
           b.precisions[0], b.precisions[1], b.precisions[2], b.precisions[3], b.bp,
           b.ref_len ? (double)b.hyp_len / (double)b.ref_len : 0.0, (long long)b.hyp_len, (long long)b.ref_len);
    printf("chrF2 = %.2f\n", c.score);
    printf("signature: %s\nchrF2 signature: %s\n", sig, chrf_sig);
    return 0;
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
    return cli_error("spm", what, attn_set_error(st, "%s", attn_spm_last_error()));
}

/* Each line of r encoded (ids, or pieces) or decoded (a line of ids) to standard output. */
static int spm_lines(const attn_spm *sp, attn_line_reader *r, int decode, int pieces)
{
    const char *line;
    size_t len;
    int got, st = ATTN_OK;
    while (st == ATTN_OK && (got = attn_line_reader_next(r, &line, &len)) == 1) {
        char *out = NULL;
        st = decode ? attn_spm_decode_line(sp, line, &out) : attn_spm_encode_line(sp, line, pieces, &out);
        if (st == ATTN_OK) printf("%s\n", out);
        free(out);
    }
    if (st == ATTN_E_FORMAT && decode)
        fprintf(stderr, "attn spm decode: %s:%lld: %s\n", attn_line_reader_name(r),
                (long long)attn_line_reader_lineno(r), attn_last_error());
    else if (st)
        cli_error("spm", decode ? "decode" : "encode", st);
    else if (got < 0)
        return cli_error(decode ? "spm decode" : "spm encode", "reading", got);
    return st ? 1 : 0;
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
            else rc = spm_lines(sp, r, spec == &spm_decode_spec, spm_pieces);
            attn_line_reader_close(r);
        }
    }
    attn_spm_free(sp);
    return rc;
}
