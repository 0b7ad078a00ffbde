/* classify.c — `attn eval classify --model M --data PATH` (M a checkpoint or a run directory) and
 * `attn classify --model M "text" …` (or one text per stdin line). */
#include "classify.h"
#include "cli.h"
#include "bench_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const label_names[2] = {"negative", "positive"};

/* The most probable of C classes in p[C], and its name: the IMDb names for two classes,
 * "class<k>" otherwise (buf holds it). */
static int64_t top_class(const float *p, int64_t C, char *buf, size_t cap, const char **name)
{
    int64_t k = 0;
    for (int64_t c = 1; c < C; c++)
        if (p[c] > p[k]) k = c;
    if (C == 2) *name = label_names[k];
    else snprintf(buf, cap, "class%lld", (long long)k), *name = buf;
    return k;
}

/* A class's name: the IMDb names for two classes, "class<k>" otherwise. */
static const char *class_name(int64_t k, int64_t C, char *buf, size_t cap)
{
    if (C == 2) return label_names[k];
    snprintf(buf, cap, "class%lld", (long long)k);
    return buf;
}

static void print_report(const attn_cls_report *r, const char *data, double seconds)
{
    const int64_t C = r->classes;
    char nb[32];
    printf("%lld reviews from %s\n\n", (long long)r->n, data);
    printf("%-10s %9s %9s %9s %9s\n", "class", "precision", "recall", "f1", "support");
    for (int64_t k = 0; k < C; k++)
        printf("%-10s %9.4f %9.4f %9.4f %9lld\n", class_name(k, C, nb, sizeof nb), r->precision[k], r->recall[k],
               r->f1[k], (long long)r->support[k]);
    printf("\nconfusion matrix (rows: true, columns: predicted)\n%-10s", "");
    for (int64_t k = 0; k < C; k++) printf(" %9s", class_name(k, C, nb, sizeof nb));
    for (int64_t i = 0; i < C; i++) {
        printf("\n%-10s", class_name(i, C, nb, sizeof nb));
        for (int64_t k = 0; k < C; k++) printf(" %9lld", (long long)r->confusion[i * C + k]);
    }
    printf("\n\naccuracy %.4f\n", r->accuracy);
    printf("result: task=imdb accuracy=%.4f n=%lld seconds=%.1f\n", r->accuracy, (long long)r->n, seconds);
}

static int eval_usage(void)
{
    fprintf(stderr, "usage: attn eval classify --model M --data PATH [--threads N] [--limit N]\n"
                    "PATH: a directory with test.tsv.gz (+ test.ids), an aclImdb/ folder, a folder with\n"
                    "pos/ and neg/, or a .tsv(.gz) file of LABEL<TAB>TEXT lines.\n");
    return 2;
}

int cli_eval_classify(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "classify")) return eval_usage();
    const char *model = NULL, *data = NULL;
    int threads = 0;
    long limit = 0;
    for (int a = 2; a < argc; a++) {
        int more = a + 1 < argc;
        if (!strcmp(argv[a], "--model") && more) model = argv[++a];
        else if (!strcmp(argv[a], "--data") && more) data = argv[++a];
        else if (!strcmp(argv[a], "--threads") && more) threads = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--limit") && more) limit = atol(argv[++a]);
        else return eval_usage();
    }
    if (!model || !data || threads < 0 || limit < 0) return eval_usage();
    if (threads > 0) attn_set_num_threads(threads);
    double t0 = bench_now();
    cls_model cm;
    if (cls_model_load("eval classify", model, &cm)) return 1;
    attn_imdb *d = NULL;
    if (cls_load_imdb("eval classify", data, "test", &d)) {
        cls_model_free(&cm);
        return 1;
    }
    int64_t n = limit && limit < d->n ? limit : d->n;
    cls_set s = {0};
    attn_tape *t = NULL;
    attn_tape_config tc = {0};
    const int64_t C = cm.m->cfg.num_classes;
    float *probs = malloc((size_t)(n * C) * sizeof *probs);
    int st = probs ? ATTN_OK : ATTN_E_NOMEM;
    if (st == ATTN_OK)
        st = cls_encode_texts(cm.sp, d->text, d->label, NULL, n, cm.m->cfg.max_len, cm.head_tokens, &s);
    if (st == ATTN_OK) st = attn_tape_create(&tc, &t);
    if (st == ATTN_OK) st = attn_classifier_predict(cm.m, t, &s, 64, probs);
    int rc = 0;
    if (st) {
        rc = cli_error("eval classify", model, st);
    } else {
        attn_cls_report r;
        st = attn_cls_evaluate(probs, s.label, n, C, &r);
        if (st) rc = cli_error("eval classify", data, st);
        else print_report(&r, data, bench_now() - t0);
        attn_cls_report_free(&r);
    }
    free(probs);
    cls_set_free(&s);
    attn_tape_free(t);
    attn_imdb_free(d);
    cls_model_free(&cm);
    return rc;
}

static int classify_usage(void)
{
    fprintf(stderr, "usage: attn classify --model M [--pieces] [TEXT ...]\n"
                    "Prints the label and its probability for each TEXT, or for each line of stdin when\n"
                    "no TEXT is given. --pieces: show the cleaned text, its tokens and their decoding instead.\n");
    return 2;
}

/* --pieces: the text as the model sees it (cleaned), its pieces, and their decoding. */
static int show_pieces(const cls_model *cm, const char *text)
{
    char *c = cls_clean(text);
    int64_t n = 0;
    int st = c ? attn_spm_encode(cm->sp, c, NULL, 0, &n) : ATTN_E_NOMEM;
    int32_t *ids = st ? NULL : malloc((size_t)(n + 1) * sizeof *ids);
    if (st == ATTN_OK && !ids) st = ATTN_E_NOMEM;
    if (st == ATTN_OK) st = attn_spm_encode(cm->sp, c, ids, n + 1, &n);
    size_t len = 0;
    char *dec = NULL;
    if (st == ATTN_OK) st = attn_spm_decode(cm->sp, ids, n, NULL, 0, &len);
    if (st == ATTN_OK && !(dec = malloc(len + 1))) st = ATTN_E_NOMEM;
    if (st == ATTN_OK) st = attn_spm_decode(cm->sp, ids, n, dec, len + 1, &len);
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
static int classify_one(attn_tape *t, const cls_model *cm, const char *text, const char *where)
{
    size_t bad;
    if (attn_utf8_validate(text, strlen(text), &bad)) {
        fprintf(stderr, "attn classify: %s: invalid UTF-8 at byte %zu\n", where, bad);
        return ATTN_E_FORMAT;
    }
    char *texts[1] = {(char *)text};
    int8_t label = 0;
    if (cm->pieces) return show_pieces(cm, text);
    cls_set s;
    const int64_t C = cm->m->cfg.num_classes;
    float *p = malloc((size_t)C * sizeof *p);
    if (!p) return cli_error("classify", where, ATTN_E_NOMEM);
    int st = cls_encode_texts(cm->sp, texts, &label, NULL, 1, cm->m->cfg.max_len, cm->head_tokens, &s);
    if (st == ATTN_OK) st = attn_classifier_predict(cm->m, t, &s, 1, p);
    cls_set_free(&s);
    if (st) {
        free(p);
        cli_error("classify", where, st);
        return st;
    }
    char nb[32];
    const char *name;
    int64_t k = top_class(p, C, nb, sizeof nb, &name);
    printf("%s\t%.4f\t%s\n", name, (double)p[k], text);
    free(p);
    return ATTN_OK;
}

int cli_classify(int argc, char **argv)
{
    const char *model = NULL;
    int first = argc, pieces = 0;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--model") && a + 1 < argc) model = argv[++a];
        else if (!strcmp(argv[a], "--pieces")) pieces = 1;
        else if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) return classify_usage();
        else if (!strcmp(argv[a], "--")) {
            first = a + 1;
            break;
        } else if (argv[a][0] == '-' && argv[a][1] == '-') return classify_usage();
        else {
            first = a;
            break;
        }
    }
    if (!model) return classify_usage();
    cls_model cm;
    if (cls_model_load("classify", model, &cm)) return 1;
    cm.pieces = pieces;
    attn_tape *t = NULL;
    attn_tape_config tc = {0};
    int rc = 0;
    if (attn_tape_create(&tc, &t)) {
        cls_model_free(&cm);
        return cli_error("classify", "tape", ATTN_E_NOMEM);
    }
    if (first < argc) {
        for (int a = first; a < argc; a++) {
            char where[64];
            snprintf(where, sizeof where, "argument %d", a - first + 1);
            if (classify_one(t, &cm, argv[a], where)) rc = 1;
        }
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        long no = 0;
        while ((len = getline(&line, &cap, stdin)) >= 0) {
            no++;
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
            char where[64];
            snprintf(where, sizeof where, "stdin line %ld", no);
            if ((size_t)len != strlen(line)) {
                fprintf(stderr, "attn classify: %s: contains a NUL byte\n", where);
                rc = 1;
                continue;
            }
            if (classify_one(t, &cm, line, where)) rc = 1;
        }
        free(line);
    }
    attn_tape_free(t);
    cls_model_free(&cm);
    return rc;
}
