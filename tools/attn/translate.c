/* translate.c — `attn translate --model M [--beam N] [--len-penalty A] [TEXT...]`: translate the
 * arguments, or each line of standard input, with a saved encoder–decoder Transformer. The
 * checkpoint's attn.tokenizer picks the text side: "chars-ascii" (the date demo) or "spm" (a
 * SentencePiece model stored in the checkpoint, see mt.h). */
#include "cli.h"

#include "chars.h"
#include "mt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: attn translate --model FILE [--beam N] [--len-penalty A] [--max-len N]"
                    " [--threads N] [--no-cache] [TEXT ...]\n"
                    "Translates each TEXT, or each line of standard input when none is given.\n");
    return 2;
}

typedef struct translator {
    attn_seq2seq *m;
    attn_tape *t;
    attn_generate_options o;
} translator;

/* One sentence, character tokenizer: prints the translation. */
static int translate_line(translator *tr, const char *text)
{
    int64_t S = (int64_t)strlen(text);
    if (S == 0) {
        printf("\n");
        return 0;
    }
    if (S > tr->m->cfg.max_len) {
        fprintf(stderr, "attn translate: input of %lld characters is longer than the model's %lld\n",
                (long long)S, (long long)tr->m->cfg.max_len);
        return 1;
    }
    int32_t *src = malloc((size_t)S * sizeof *src);
    int32_t *out = malloc((size_t)(tr->o.max_new + 1) * sizeof *out);
    int64_t len = 0;
    if (!src || !out) {
        free(src), free(out);
        return cli_error("translate", "memory", ATTN_E_NOMEM);
    }
    for (int64_t i = 0; i < S; i++) src[i] = chars_id((unsigned char)text[i]);
    int st = attn_seq2seq_generate(tr->m, tr->t, src, 1, S, &tr->o, out, tr->o.max_new + 1, &len, NULL);
    if (st == ATTN_OK) {
        for (int64_t i = 0; i < len; i++) putchar(chars_char(out[i]));
        putchar('\n');
    }
    free(src), free(out);
    return st ? cli_error("translate", "decoding", st) : 0;
}

/* Subword (SentencePiece) models: all texts are translated together, in length-sorted batches. */
static int translate_spm(const char *model, int threads, attn_generate_options o, char **texts, int n_texts)
{
    mt_model m;
    attn_spm *sp;
    int s = mt_open_model(model, &m, &sp);
    if (s) return cli_error("translate", model, s);
    attn_tape *t = NULL;
    attn_tape_config tc = {.num_threads = threads};
    s = attn_tape_create(&tc, &t);
    char **lines = texts;
    int64_t n = n_texts, cap = 0;
    if (s == ATTN_OK && n == 0) { /* standard input */
        lines = NULL;
        char *line = NULL;
        size_t lcap = 0;
        ssize_t len;
        while (s == ATTN_OK && (len = getline(&line, &lcap, stdin)) >= 0) {
            line[strcspn(line, "\r\n")] = '\0';
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                char **g = realloc(lines, (size_t)cap * sizeof *g);
                if (!g) s = ATTN_E_NOMEM;
                else lines = g;
            }
            if (s == ATTN_OK && !(lines[n++] = strdup(line))) s = ATTN_E_NOMEM;
        }
        free(line);
    }
    char **hyp = NULL;
    if (s == ATTN_OK && n > 0) {
        attn_tape_set_training(t, 0);
        s = mt_translate_texts(t, &m, sp, (const char *const *)lines, n, &o, 32, &hyp);
    }
    for (int64_t i = 0; s == ATTN_OK && i < n; i++) printf("%s\n", hyp[i]);
    mt_free_strings(hyp, hyp ? n : 0);
    if (lines != texts) mt_free_strings(lines, n);
    attn_tape_free(t);
    mt_model_free(&m);
    attn_spm_free(sp);
    return s ? cli_error("translate", "decoding", s) : 0;
}

int cli_translate(int argc, char **argv)
{
    const char *model = NULL;
    translator tr = {0};
    tr.o = (attn_generate_options){.bos_id = CH_BOS, .eos_id = CH_EOS, .beam = 1, .len_penalty = 0.6f};
    int threads = 0, first_text = argc;
    for (int a = 1; a < argc; a++) {
        int more = a + 1 < argc;
        if (!strcmp(argv[a], "--model") && more) model = argv[++a];
        else if (!strcmp(argv[a], "--beam") && more) tr.o.beam = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--len-penalty") && more) tr.o.len_penalty = (float)atof(argv[++a]);
        else if (!strcmp(argv[a], "--max-len") && more) tr.o.max_new = atol(argv[++a]);
        else if (!strcmp(argv[a], "--threads") && more) threads = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--no-cache")) tr.o.no_cache = 1;
        else if (!strcmp(argv[a], "--")) {
            first_text = a + 1;
            break;
        } else if (argv[a][0] == '-' && argv[a][1] == '-') return usage();
        else {
            first_text = a;
            break;
        }
    }
    if (!model || tr.o.beam < 1 || tr.o.beam > 64 || threads < 0 || tr.o.max_new < 0) return usage();
    if (threads) attn_set_num_threads(threads);
    attn_st_reader *st;
    int s = attn_st_open(model, &st);
    if (s) return cli_error("translate", model, s);
    const char *arch = attn_st_metadata(st, "attn.arch"), *tok = attn_st_metadata(st, "attn.tokenizer");
    if (arch && (!strcmp(arch, "transformer-seq2seq") || !strcmp(arch, "gru-seq2seq")) && tok &&
        !strcmp(tok, "spm")) {
        attn_st_close(st);
        return translate_spm(model, threads, tr.o, argv + first_text, argc - first_text);
    }
    if (!arch || strcmp(arch, "transformer-seq2seq") || !tok || strcmp(tok, "chars-ascii")) {
        fprintf(stderr, "attn translate: %s is not a translation model this attn can run"
                        " (attn.arch=%s, attn.tokenizer=%s)\n",
                model, arch ? arch : "none", tok ? tok : "none");
        attn_st_close(st);
        return 1;
    }
    attn_seq2seq_config cfg;
    s = attn_seq2seq_config_from_reader(st, &cfg);
    if (s == ATTN_OK && (cfg.src_vocab != CH_VOCAB || cfg.tgt_vocab != CH_VOCAB)) {
        fprintf(stderr, "attn translate: %s has vocabularies %lld/%lld, the character tokenizer has %d\n",
                model, (long long)cfg.src_vocab, (long long)cfg.tgt_vocab, CH_VOCAB);
        attn_st_close(st);
        return 1;
    }
    if (s == ATTN_OK) s = attn_seq2seq_open(st, &tr.m);
    attn_st_close(st);
    attn_tape_config tc = {.num_threads = threads};
    if (s == ATTN_OK) s = attn_tape_create(&tc, &tr.t);
    int rc = 0;
    if (s) {
        rc = cli_error("translate", model, s);
        goto done;
    }
    if (tr.o.max_new == 0 || tr.o.max_new >= cfg.max_len) tr.o.max_new = cfg.max_len - 1;
    if (first_text < argc) {
        for (int a = first_text; a < argc && !rc; a++) rc = translate_line(&tr, argv[a]);
    } else {
        char line[4096];
        while (!rc && fgets(line, sizeof line, stdin)) {
            line[strcspn(line, "\r\n")] = '\0';
            rc = translate_line(&tr, line);
        }
    }
done:
    attn_tape_free(tr.t);
    attn_seq2seq_free(tr.m);
    return rc;
}
