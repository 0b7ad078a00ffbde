/* viz_model.c — `attn viz --model M --input TEXT [--target TEXT] [--out DIR] [--metrics]`:
 * record the attention maps of a saved translation model on one input (the Transformer's
 * through libattn's attention record, attn/analysis.h; the GRU's additive attention weights
 * from its decoder) and render them with the viz layer. */
#include "image_cli.h"
#include "viz_model.h"

#include "cli.h"
#include "mt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The teacher-forced pass of m on one example (src [1, S], decoder input tgt [1, T]) with a
 * library attention record on the tape; its maps move into r. On failure *reported says whether
 * the message was printed. */
static int record_seq2seq(attn_tape *t, const attn_seq2seq *m, const int32_t *src, int64_t S,
                          const int32_t *tgt, int64_t T, attn_attention_view *r, int *reported)
{
    attn_attention_record *rec = NULL;
    attn_var *memory, *logits;
    int st = attn_tape_reset(t);
    if (st == ATTN_OK) st = attn_attention_record_create(t, &rec);
    if (st == ATTN_OK) st = attn_attention_record_watch_seq2seq(rec, m);
    if (st == ATTN_OK) st = attn_seq2seq_encode(t, m, src, 1, S, &memory);
    if (st == ATTN_OK) st = attn_seq2seq_decode(t, m, memory, src, S, tgt, T, &logits);
    attn_attention_record_stop(rec);
    *reported = 0;
    if (st == ATTN_OK && (st = attn_attention_view_add_recorded(r, rec, 0))) {
        fprintf(stderr, "attn viz: recording attention failed: %s\n", attn_last_error());
        *reported = 1;
    }
    attn_attention_record_free(rec);
    return st;
}

int viz_seq2seq_record(attn_tape *t, const attn_seq2seq *m, const char *input, const char *target,
                       const attn_dates_example *ex, attn_attention_view **out)
{
    *out = NULL;
    int64_t S = (int64_t)strlen(input);
    if (S == 0) {
        fprintf(stderr, "attn viz: the input is empty: nothing to attend to\n");
        return ATTN_E_ARG;
    }
    if (S >= m->cfg.max_len) {
        fprintf(stderr, "attn viz: input of %lld characters is longer than the model's %lld\n",
                (long long)S, (long long)m->cfg.max_len - 1);
        return ATTN_E_ARG;
    }
    int32_t src[1024], tgt_in[1024], gen[1024];
    for (int64_t i = 0; i < S; i++) {
        src[i] = attn_ascii_id((unsigned char)input[i]);
        if (src[i] == ATTN_ASCII_UNK) {
            fprintf(stderr, "attn viz: character 0x%02x at %lld is not in the model's vocabulary\n",
                    (unsigned char)input[i], (long long)i);
            return ATTN_E_ARG;
        }
    }
    char out_text[1024];
    if (target) {
        snprintf(out_text, sizeof out_text, "%s", target);
    } else {
        attn_generate_options o = {.bos_id = ATTN_ASCII_BOS, .eos_id = ATTN_ASCII_EOS, .max_new = m->cfg.max_len - 2};
        int64_t len = 0;
        ATTN_TRY_CLI(attn_seq2seq_generate(m, t, src, 1, S, &o, gen, m->cfg.max_len - 1, &len, NULL));
        for (int64_t i = 0; i < len; i++) out_text[i] = attn_ascii_char(gen[i]);
        out_text[len] = '\0';
    }
    int64_t T = (int64_t)strlen(out_text);
    if (T == 0 || T + 1 >= m->cfg.max_len) {
        fprintf(stderr, "attn viz: the output has %lld characters: nothing to show\n", (long long)T);
        return ATTN_E_ARG;
    }
    tgt_in[0] = ATTN_ASCII_BOS;
    for (int64_t i = 0; i < T; i++) tgt_in[i + 1] = attn_ascii_id((unsigned char)out_text[i]);
    /* tokens: one per character */
    char (*sbuf)[2] = malloc((size_t)(S + T) * sizeof *sbuf);
    const char **stok = malloc((size_t)(S + T) * sizeof *stok);
    if (!sbuf || !stok) {
        free(sbuf), free(stok);
        return ATTN_E_NOMEM;
    }
    for (int64_t i = 0; i < S + T; i++) {
        sbuf[i][0] = i < S ? input[i] : out_text[i - S];
        sbuf[i][1] = '\0';
        stok[i] = sbuf[i];
    }
    char title[1200];
    snprintf(title, sizeof title, "%s -> %s", input, out_text);
    attn_attention_view *r = NULL;
    int st = attn_attention_view_create(&r, title, stok, (int)S, stok + S, (int)T);
    free(sbuf), free(stok);
    if (st) {
        fprintf(stderr, "attn viz: %s\n", attn_last_error());
        return st;
    }
    if (ex && T == ATTN_DATES_TGT_LEN && (int64_t)strlen(ex->src) == S) {
        attn_span spans[ATTN_DATES_TGT_LEN];
        for (int k = 0; k < ATTN_DATES_TGT_LEN; k++) spans[k].lo = ex->align_lo[k], spans[k].hi = ex->align_hi[k];
        st = attn_attention_view_set_alignment(r, spans);
    }
    /* teacher-forced pass with an attention record on the tape: decoder input BOS + output (T+1 positions, the
     * first T of which produce the output characters) */
    int was_training = attn_tape_training(t), reported = 0;
    attn_tape_set_training(t, 0);
    if (st == ATTN_OK) st = record_seq2seq(t, m, src, S, tgt_in, T + 1, r, &reported);
    attn_tape_set_training(t, was_training);
    if (st) {
        if (!reported) fprintf(stderr, "attn viz: recording attention failed: %s\n", attn_last_error());
        attn_attention_view_free(r);
        return st;
    }
    *out = r;
    return ATTN_OK;
}

/* ---- subword translation models (attn.tokenizer = spm): Transformer or GRU ------------------ */

static int mt_ids(const attn_spm *sp, const char *text, int64_t cap, int32_t **ids, int64_t *n, const char ***tok)
{
    ATTN_TRY_CLI(attn_spm_encode_alloc(sp, text, ids, n));
    if (*n > cap - 1) *n = cap - 1; /* room for EOS */
    int32_t *g = realloc(*ids, (size_t)(*n + 1) * sizeof *g);
    *tok = malloc((size_t)(*n + 1) * sizeof **tok);
    if (!g || !*tok) {
        free(g ? g : *ids), free(*tok);
        *ids = NULL, *tok = NULL;
        return ATTN_E_NOMEM;
    }
    *ids = g;
    (*ids)[(*n)++] = ATTN_SPM_EOS_ID;
    for (int64_t i = 0; i < *n; i++)
        if (attn_spm_id_to_piece(sp, (*ids)[i], &(*tok)[i]) != ATTN_OK) (*tok)[i] = "?";
    return ATTN_OK;
}

/* Source pieces + EOS against output pieces + EOS (teacher forcing on `target`, or on the
 * model's own beam-5 translation): every attention map of either architecture. */
static int viz_mt_record(attn_tape *t, const mt_model *mm, const attn_spm *sp, const char *input,
                         const char *target, attn_attention_view **out, int *reported)
{
    *out = NULL;
    *reported = 1; /* set back to 0 below where a library call fails unreported */
    const int64_t maxL = mt_model_max_len(mm);
    char **hyp = NULL;
    if (!target) {
        attn_generate_options o = {.beam = 5, .len_penalty = 0.6f};
        int s = attn_translate_texts(t, mm->tf, mm->gru, sp, &input, 1, &o, 1, &hyp);
        if (s) {
            *reported = 0;
            return s;
        }
        target = hyp[0];
    }
    int32_t *sid = NULL, *tid = NULL, *tin = NULL;
    int64_t S = 0, T = 0;
    const char **stok = NULL, **ttok = NULL;
    int st = mt_ids(sp, input, maxL, &sid, &S, &stok);
    if (st == ATTN_OK) st = mt_ids(sp, target, maxL, &tid, &T, &ttok);
    if (st) *reported = 0;
    if (st == ATTN_OK && S < 2) {
        fprintf(stderr, "attn viz: the input is empty: nothing to attend to\n");
        st = ATTN_E_ARG;
    }
    if (st == ATTN_OK && !(tin = malloc((size_t)T * sizeof *tin))) st = ATTN_E_NOMEM;
    char title[2048];
    snprintf(title, sizeof title, "%s -> %s", input, target);
    attn_attention_view *r = NULL;
    if (st == ATTN_OK && attn_attention_view_create(&r, title, stok, (int)S, ttok, (int)T)) {
        fprintf(stderr, "attn viz: %s\n", attn_last_error());
        st = ATTN_E_ARG;
    }
    if (st == ATTN_OK) { /* decoder input: BOS + the output pieces (row t produces piece t) */
        tin[0] = ATTN_SPM_BOS_ID;
        memcpy(tin + 1, tid, (size_t)(T - 1) * sizeof *tin);
    }
    int was_training = attn_tape_training(t);
    attn_tape_set_training(t, 0);
    attn_var *mem, *s0, *logits, *w = NULL;
    if (st == ATTN_OK && mm->tf) {
        st = record_seq2seq(t, mm->tf, sid, S, tin, T, r, reported);
    } else if (st == ATTN_OK && (st = attn_tape_reset(t))) {
        *reported = 0;
    } else if (st == ATTN_OK) {
        st = attn_gru_seq2seq_encode(t, mm->gru, sid, 1, S, &mem, &s0);
        if (st == ATTN_OK) st = attn_gru_seq2seq_decode(t, mm->gru, mem, s0, sid, S, tin, T, &logits, &w);
        if (st) *reported = 0;
        if (st == ATTN_OK && attn_attention_view_add_heads(r, ATTN_ATTENTION_CROSS, 0, w->data, 1, (int)T, (int)S)) {
            fprintf(stderr, "attn viz: %s\n", attn_last_error());
            st = ATTN_E_ARG;
        }
    }
    attn_tape_set_training(t, was_training);
    if (st == ATTN_OK) *out = r;
    else attn_attention_view_free(r);
    free(sid), free(tid), free(tin), free(stok), free(ttok);
    attn_translator_free_strings(hyp, hyp ? 1 : 0);
    return st;
}

static int viz_mt_run(const char *model, const char *input, const char *target, const char *out, int metrics)
{
    mt_model mm;
    attn_spm *sp;
    int s = mt_open_model(model, &mm, &sp);
    if (s) return cli_error("viz", model, s);
    attn_tape *t = NULL;
    attn_tape_config tc = {0};
    s = attn_tape_create(&tc, &t);
    attn_attention_view *r = NULL;
    int rc = 0, reported = 0;
    if (s == ATTN_OK) s = viz_mt_record(t, &mm, sp, input, target, &r, &reported);
    if (s) rc = reported ? 1 : cli_error("viz", model, s);
    else if (viz_render_all(r, out, ATTN_ROLLOUT_MEAN)) {
        fprintf(stderr, "attn viz: %s\n", attn_last_error());
        rc = 1;
    } else {
        printf("%s\nwrote %s/attention.html, %s/attention.json and heatmaps in %s/ (%s model)\n", r->title, out,
               out, out, mt_model_arch(&mm));
        if (metrics) viz_metrics_print(stdout, r);
    }
    attn_attention_view_free(r);
    attn_tape_free(t);
    mt_model_free(&mm);
    attn_spm_free(sp);
    return rc;
}

static int usage(void)
{
    fprintf(stderr, "usage: attn viz --model FILE --input TEXT [--target TEXT] [--out DIR] [--metrics]\n"
                    "       attn viz --model FILE --image FILE.png|IDXFILE[i] [--out DIR]   (a ViT)\n"
                    "FILE: a translation model, a classifier, or a GPT (attn train lm; a GPT-2 directory):\n"
                    "  --target is for translation models only.\n"
                    "Writes attention.html, attention.json and PNG/SVG heatmaps of every layer and head.\n");
    return 2;
}

int viz_run_model(int argc, char **argv)
{
    const char *model = NULL, *input = NULL, *target = NULL, *out = "out/viz";
    int metrics = 0;
    for (int a = 1; a < argc; a++) /* an image model: attn viz --model M --image FILE */
        if (!strcmp(argv[a], "--image")) return viz_image_run(argc, argv);
    for (int a = 1; a < argc; a++) {
        int more = a + 1 < argc;
        if (!strcmp(argv[a], "--model") && more) model = argv[++a];
        else if (!strcmp(argv[a], "--input") && more) input = argv[++a];
        else if (!strcmp(argv[a], "--target") && more) target = argv[++a];
        else if (!strcmp(argv[a], "--out") && more) out = argv[++a];
        else if (!strcmp(argv[a], "--metrics")) metrics = 1;
        else return usage();
    }
    if (!model || !input) return usage();
    struct stat sb;
    if (stat(model, &sb) == 0 && S_ISDIR(sb.st_mode)) { /* a Hugging Face GPT-2 directory */
        if (target) return usage();
        return viz_gpt_run(model, input, out, metrics);
    }
    attn_st_reader *st;
    int s = attn_st_open(model, &st);
    if (s) return cli_error("viz", model, s);
    const char *arch = attn_st_metadata(st, "attn.arch"), *tok = attn_st_metadata(st, "attn.tokenizer");
    if (arch && !strcmp(arch, "transformer-classifier")) {
        attn_st_close(st);
        if (target) return usage();
        return viz_classify_run(model, input, out, metrics);
    }
    if (arch && !strcmp(arch, "gpt")) {
        attn_st_close(st);
        if (target) return usage();
        return viz_gpt_run(model, input, out, metrics);
    }
    if (arch && tok && !strcmp(tok, "spm") &&
        (!strcmp(arch, "transformer-seq2seq") || !strcmp(arch, "gru-seq2seq"))) {
        attn_st_close(st);
        return viz_mt_run(model, input, target, out, metrics);
    }
    if (!arch || strcmp(arch, "transformer-seq2seq") || !tok || strcmp(tok, "chars-ascii")) {
        fprintf(stderr, "attn viz: %s is not a model this attn can visualise (attn.arch=%s)\n", model,
                arch ? arch : "none");
        attn_st_close(st);
        return 1;
    }
    attn_seq2seq *m = NULL;
    attn_tape *t = NULL;
    s = attn_seq2seq_open(st, &m);
    attn_st_close(st);
    attn_tape_config tc = {0};
    if (s == ATTN_OK) s = attn_tape_create(&tc, &t);
    attn_attention_view *r = NULL;
    int rc = 0;
    if (s) rc = cli_error("viz", model, s);
    else if (viz_seq2seq_record(t, m, input, target, NULL, &r)) rc = 1;
    else if (viz_render_all(r, out, ATTN_ROLLOUT_MEAN)) {
        fprintf(stderr, "attn viz: %s\n", attn_last_error());
        rc = 1;
    } else {
        printf("%s\nwrote %s/attention.html, %s/attention.json and heatmaps in %s/\n", r->title, out,
               out, out);
        if (metrics) viz_metrics_print(stdout, r);
    }
    attn_attention_view_free(r);
    attn_tape_free(t);
    attn_seq2seq_free(m);
    return rc;
}
