/* classify.c — `attn eval classify --model M --data PATH` (M a checkpoint or a run directory) and
 * `attn classify --model M "text" …` (or one text per stdin line). */
#include "classify.h"
#include "args.h"
#include "cli.h"
#include "progress.h"

#include <stdlib.h>
#include <string.h>

static const char *ev_model, *ev_data;
static int ev_threads;
static long ev_limit;
static const arg_opt eval_opts[] = {
    {"model", 'm', ARG_STR, &ev_model, .meta = "FILE", .help = "trained classifier (required)"},
    {"data", 'd', ARG_STR, &ev_data, .meta = "PATH", .help = "test reviews (required)"},
    {"threads", 'j', ARG_INT, &ev_threads, .lo = 0, .hi = 4096, .help = "threads (0: all cores)"},
    {"limit", 'n', ARG_LONG, &ev_limit, .lo = 0, .hi = ARGS_INF, .help = "first N reviews only (0: all)"},
    {0}};
static const arg_spec eval_spec = {
    .cmd = "eval classify",
    .synopsis = "--model FILE --data PATH [options]",
    .about = "Accuracy, per-class precision/recall/F1 and the confusion matrix of a classifier.\n"
             "PATH: a directory with test.tsv.gz (+ test.ids), an aclImdb/ folder, a folder with\n"
             "pos/ and neg/, or a .tsv(.gz) file of LABEL<TAB>TEXT lines.",
    .opts = eval_opts,
};

/* A model may have more classes than the data has labels (attn trains three-class models; a
 * file may say 4,096): the table and the matrix show the classes with an example or a
 * prediction, and one line counts the rest, so the output stays the data's size. */
static void print_report(const attn_cls_report *r, const char *data, double seconds)
{
    const int64_t C = r->classes;
    char nb[32];
    int64_t *show = malloc((size_t)C * sizeof *show), S = 0, other = 0, quiet = 0;
    for (int64_t k = 0; show && k < C; k++) {
        int64_t predicted = 0;
        for (int64_t i = 0; i < C; i++) predicted += r->confusion[i * C + k];
        if (r->support[k] > 0 || predicted > 0) show[S++] = k;
        else quiet++;
        if (r->support[k] == 0) other += predicted;
    }
    printf("%lld reviews from %s\n\n", (long long)r->n, data);
    printf("%-10s %9s %9s %9s %9s\n", "class", "precision", "recall", "f1", "support");
    for (int64_t j = 0; j < S; j++) {
        const int64_t k = show[j];
        printf("%-10s %9.4f %9.4f %9.4f %9lld\n", attn_cls_class_name(k, C, nb, sizeof nb), r->precision[k], r->recall[k],
               r->f1[k], (long long)r->support[k]);
    }
    printf("\nconfusion matrix (rows: true, columns: predicted)\n%-10s", "");
    for (int64_t j = 0; j < S; j++) printf(" %9s", attn_cls_class_name(show[j], C, nb, sizeof nb));
    for (int64_t i = 0; i < S; i++) {
        printf("\n%-10s", attn_cls_class_name(show[i], C, nb, sizeof nb));
        for (int64_t j = 0; j < S; j++) printf(" %9lld", (long long)r->confusion[show[i] * C + show[j]]);
    }
    printf("\n");
    if (S < C || other > 0)
        printf("\nthe model has %lld classes: %lld other classes have no example and no prediction; %lld predictions "
               "went to classes with no example\n", (long long)C, (long long)quiet, (long long)other);
    printf("\naccuracy %.4f\n", r->accuracy);
    printf("result: task=imdb accuracy=%.4f n=%lld seconds=%.1f\n", r->accuracy, (long long)r->n, seconds);
    free(show);
}

int cli_eval_classify(int argc, char **argv)
{
    /* argv[0] "eval", argv[1] "classify" */
    ARGS_PARSE_OR_RETURN(&eval_spec, argc - 1, argv + 1, NULL, NULL);
    if (!ev_model || !ev_data) return args_usage_error(&eval_spec, "--model and --data are required");
    const char *model = ev_model, *data = ev_data;
    int threads = ev_threads;
    long limit = ev_limit;
    if (threads > 0) attn_set_num_threads(threads);
    double t0 = attn_now();
    attn_text_classifier cm;
    if (cls_model_load("eval classify", model, &cm)) return 1;
    attn_imdb *d = NULL;
    if (cls_load_imdb("eval classify", data, "test", &d)) {
        attn_text_classifier_free(&cm);
        return 1;
    }
    const int64_t n = limit && limit < d->n ? limit : d->n;
    attn_tape *t = NULL;
    attn_tape_config tc = {0};
    attn_cls_report r = {0};
    int st = attn_tape_create(&tc, &t), rc = 0;
    if (st == ATTN_OK) st = attn_text_classifier_evaluate(&cm, t, d->text, d->label, n, 64, &r);
    if (st) rc = cli_error("eval classify", model, st);
    else print_report(&r, data, attn_now() - t0);
    attn_cls_report_free(&r);
    attn_tape_free(t);
    attn_imdb_free(d);
    attn_text_classifier_free(&cm);
    return rc;
}

static const char *cl_model, *cl_input;
static int cl_pieces, cl_replace, cl_quiet, cl_threads;
static const arg_opt classify_opts[] = {
    {"model", 'm', ARG_STR, &cl_model, .meta = "FILE", .help = "trained classifier (required)"},
    {"input", 'i', ARG_STR, &cl_input, .meta = "FILE",
     .help = "classify each line of FILE ('-': standard input)"},
    {"pieces", 'p', ARG_FLAG, &cl_pieces,
     .help = "show the cleaned text, its tokens and their decoding instead"},
    {"threads", 'j', ARG_INT, &cl_threads, .lo = 0, .hi = 4096, .help = "threads (0: all cores)"},
    {"replace-invalid", 0, ARG_FLAG, &cl_replace,
     .help = "replace invalid UTF-8 by U+FFFD instead of stopping with an error"},
    {"quiet", 'q', ARG_FLAG, &cl_quiet, .help = "no progress on standard error"},
    {0}};
static const arg_spec classify_spec = {
    .cmd = "classify",
    .synopsis = "--model FILE [options] [TEXT ...]",
    .about = "Prints label<TAB>probability<TAB>text for each TEXT, or for each line of --input\n"
             "(standard input, read line by line, when neither is given). Progress of an --input of\n"
             "more than 256 lines goes to standard error.",
    .opts = classify_opts,
    .max_pos = -1,
};

/* --pieces: the text as the model sees it (cleaned), its pieces, and their decoding. */
static int show_pieces(const attn_text_classifier *cm, const char *text)
{
    char *c = cls_clean(text), *dec = NULL;
    int32_t *ids = NULL;
    int64_t n = 0;
    int st = c ? attn_spm_encode_alloc(cm->sp, c, &ids, &n) : ATTN_E_NOMEM;
    if (st == ATTN_OK) st = attn_spm_decode_alloc(cm->sp, ids, n, &dec);
    if (st == ATTN_OK) {
        printf("cleaned\t%s\npieces\t%lld", c, (long long)n);
        for (int64_t i = 0; i < n; i++) {
            const char *p = "?";
            attn_spm_id_to_piece(cm->sp, ids[i], &p);
            printf(" %s", p);
        }
        printf("\nids\t");
        for (int64_t i = 0; i < n; i++) printf("%s%d", i ? " " : "", ids[i]);
        printf("\ndecoded\t%s\n", dec);
    } else {
        fprintf(stderr, "attn classify: tokenizer: %s\n", attn_spm_last_error());
    }
    free(c), free(ids), free(dec);
    return st;
}

/* One text → "label<TAB>probability<TAB>text". */
static int classify_one(attn_tape *t, const attn_text_classifier *cm, const char *text, const char *where)
{
    size_t bad;
    if (attn_utf8_validate(text, strlen(text), &bad)) {
        fprintf(stderr, "attn classify: %s: invalid UTF-8 at byte %zu (0x%02X)\n", where, bad + 1,
                (unsigned char)text[bad]);
        return ATTN_E_FORMAT;
    }
    if (cl_pieces) return show_pieces(cm, text);
    const int64_t C = cm->m->cfg.num_classes;
    float *p = malloc((size_t)C * sizeof *p);
    char *texts[1] = {(char *)text}, nb[32];
    int st = p ? attn_text_classifier_predict(cm, t, texts, 1, 1, p) : ATTN_E_NOMEM;
    if (st) {
        free(p);
        cli_error("classify", where, st);
        return st;
    }
    int64_t k = 0;
    for (int64_t c = 1; c < C; c++)
        if (p[c] > p[k]) k = c;
    printf("%s\t%.4f\t%s\n", attn_cls_class_name(k, C, nb, sizeof nb), (double)p[k], text);
    free(p);
    return ATTN_OK;
}

int cli_classify(int argc, char **argv)
{
    char **texts;
    int ntexts;
    ARGS_PARSE_OR_RETURN(&classify_spec, argc, argv, &texts, &ntexts);
    int rc = 0;
    if (!cl_model) return args_usage_error(&classify_spec, "--model is required");
    if (cl_input && ntexts) return args_usage_error(&classify_spec, "give TEXT arguments or --input, not both");
    if (cl_threads > 0) attn_set_num_threads(cl_threads);
    attn_text_classifier cm;
    if (cls_model_load("classify", cl_model, &cm)) return 1;
    attn_tape *t = NULL;
    attn_tape_config tc = {0};
    if (attn_tape_create(&tc, &t)) {
        attn_text_classifier_free(&cm);
        return cli_error("classify", "tape", ATTN_E_NOMEM);
    }
    const int flags = cl_replace ? ATTN_LINES_REPLACE_INVALID : 0;
    char where[96];
    if (ntexts) {
        for (int a = 0; a < ntexts; a++) {
            snprintf(where, sizeof where, "argument %d", a + 1);
            if (classify_one(t, &cm, texts[a], where)) rc = 1;
        }
    } else if (cl_input && strcmp(cl_input, "-")) {
        /* a file: read whole, so progress knows the total */
        char **lines = NULL;
        int64_t n = 0;
        int st = attn_lines_read(cl_input, flags, &lines, &n);
        if (st) rc = cli_error("classify", "reading", st);
        progress p;
        progress_init(&p, NULL, (long)n, "classify");
        p.quiet |= cl_quiet || n <= 256; /* as translate: no progress for short inputs */
        for (int64_t i = 0; i < n; i++) {
            snprintf(where, sizeof where, "%s:%lld", cl_input, (long long)i + 1);
            if (classify_one(t, &cm, lines[i], where)) rc = 1;
            progress_items(&p, (long)i + 1, "lines");
        }
        progress_done(&p);
        attn_lines_free(lines, n);
    } else {
        attn_line_reader *r = NULL;
        int st = attn_line_reader_open("-", flags, &r);
        const char *line;
        size_t len;
        while (st == ATTN_OK && (st = attn_line_reader_next(r, &line, &len)) == 1) {
            snprintf(where, sizeof where, "<stdin>:%lld", (long long)attn_line_reader_lineno(r));
            if (classify_one(t, &cm, line, where)) rc = 1;
            st = ATTN_OK;
        }
        if (st < 0) rc = cli_error("classify", "reading", st);
        attn_line_reader_close(r);
    }
    attn_tape_free(t);
    attn_text_classifier_free(&cm);
    return rc;
}
