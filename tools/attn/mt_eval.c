/* mt_eval.c — `attn eval translate
 * --model M --src F.en --ref F.de [--beam N] [--len-penalty A]`: corpus BLEU (13a, cased and
 * lowercased) and chrF of a subword translation model, and the sentences per second. */
#include "args.h"
#include "cli.h"
#include "progress.h"

#include "../text/translator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static void eval_progress(void *user, int64_t done, int64_t n)
{
    (void)n;
    progress_items(user, (long)done, "sentences");
}

int cli_eval_translate(int argc, char **argv)
{
    const char *model = NULL, *srcp = NULL, *refp = NULL, *outp = NULL;
    attn_generate_options o = {.beam = 5, .len_penalty = 0.6f};
    int threads = 0, beam = 5, no_cache = 0, quiet = 0;
    long batch = 64;
    double lp = 0.6;
    const arg_opt opts[] = {
        {"model", 'm', ARG_STR, &model, .meta = "FILE", .help = "translation model (required)"},
        {"src", 's', ARG_STR, &srcp, .meta = "FILE", .help = "source sentences, one a line (required)"},
        {"ref", 'r', ARG_STR, &refp, .meta = "FILE", .help = "reference translations (required)"},
        {"out", 'o', ARG_STR, &outp, .meta = "FILE", .help = "write the translations here"},
        {"beam", 'b', ARG_INT, &beam, .lo = 1, .hi = 64, .help = "beam width"},
        {"len-penalty", 0, ARG_DOUBLE, &lp, .lo = 0, .hi = 10, .help = "GNMT length penalty alpha"},
        {"batch", 0, ARG_LONG, &batch, .lo = 1, .hi = 1 << 20, .help = "sentences per decoding batch"},
        {"threads", 'j', ARG_INT, &threads, .lo = 0, .hi = 4096, .help = "threads (0: all cores)"},
        {"no-cache", 0, ARG_FLAG, &no_cache, .help = "decode without the key/value cache (reference)"},
        {"quiet", 'q', ARG_FLAG, &quiet, .help = "no progress on standard error"},
        {0}};
    const arg_spec spec = {.cmd = "eval translate", .synopsis = "--model FILE --src FILE --ref FILE [options]",
                           .about = "BLEU (13a, cased and lowercased) and chrF2 of a translation model's output.",
                           .opts = opts};
    ARGS_PARSE_OR_RETURN(&spec, argc, argv, NULL, NULL);
    if (!model || !srcp || !refp) return args_usage_error(&spec, "--model, --src and --ref are required");
    o.beam = beam, o.len_penalty = (float)lp, o.no_cache = no_cache;
    if (threads) attn_set_num_threads(threads);
    attn_parallel *d = NULL;
    attn_seq2seq *tf = NULL;
    attn_gru_seq2seq *gru = NULL;
    attn_spm *sp = NULL;
    attn_tape *t = NULL;
    attn_mt_eval e = {0};
    int s = attn_parallel_load(srcp, refp, &d);
    if (s) return cli_error("eval translate", srcp, s);
    if (d->n < 1) {
        attn_parallel_free(d);
        fprintf(stderr, "attn eval translate: %s is empty\n", srcp);
        return 1;
    }
    s = attn_mt_open(model, &tf, &gru, &sp);
    attn_tape_config tc = {.num_threads = threads};
    if (s == ATTN_OK) s = attn_tape_create(&tc, &t);
    if (s == ATTN_OK) attn_tape_set_training(t, 0);
    progress p;
    progress_init(&p, NULL, (long)d->n, "eval translate");
    if (s == ATTN_OK) s = attn_mt_evaluate(t, tf, gru, sp, d, &o, batch, quiet ? NULL : eval_progress, &p, &e);
    if (!quiet) progress_done(&p);
    if (s == ATTN_OK && outp) {
        FILE *f = fopen(outp, "w");
        for (int64_t i = 0; f && i < d->n; i++) fprintf(f, "%s\n", e.hyp[i]);
        if (!f || fclose(f)) s = ATTN_E_IO;
    }
    const attn_bleu_result b = e.bleu;
    int rc = 0;
    if (s) rc = cli_error("eval translate", model, s);
    else {
        printf("BLEU = %.2f %.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %lld ref_len = %lld)"
               " 13a cased, beam %d\n",
               b.score, b.precisions[0], b.precisions[1], b.precisions[2], b.precisions[3], b.bp,
               b.ref_len > 0 ? (double)b.hyp_len / (double)b.ref_len : 0, (long long)b.hyp_len,
               (long long)b.ref_len, o.beam);
        printf("BLEU (lowercased) = %.2f\nchrF2 = %.2f\n", e.bleu_lc.score, e.chrf.score);
        printf("result: task=multi30k arch=%s bleu=%.2f bleu_lc=%.2f chrf=%.2f n=%lld "
               "sentences_per_s=%.1f\n", tf ? "transformer" : "gru", b.score, e.bleu_lc.score, e.chrf.score, (long long)d->n,
               (double)d->n / (e.seconds > 0 ? e.seconds : 1e-9));
    }
    attn_mt_eval_free(&e);
    attn_tape_free(t);
    attn_seq2seq_free(tf), attn_gru_seq2seq_free(gru);
    attn_spm_free(sp);
    attn_parallel_free(d);
    return rc;
}
