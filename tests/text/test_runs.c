/* test_runs.c — libattn_text's training runs and the models they leave, on small generated
 * data: attn_cls_run (stages in order, counts, files, the export of the encoded sets, a resume,
 * the saved classifier through attn_text_classifier_predict/_evaluate), attn_mt_run (the model
 * translates through attn_translator_open; attn_mt_evaluate scores it), attn_lm_run with
 * characters and a BPE (attn_lm_model: encode/token round trip, the validation loss of eval_all
 * equal to attn_lm_model_eval's on the same text, seeded generation, tokenizer mismatches on
 * resume refused), attn_spm_share between two simulated ranks, and bad input → an error code
 * and a message, never an abort. Ends with "N passed, N failed". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn.h"
#include "lm_spm.h"
#include "text_classifier.h"
#include "translator.h"

#include "check.h"

static char dir[256];
static const char *syl[] = {"ka", "to", "mi", "re", "su", "no", "la", "pe", "di", "go", "ba", "ne", "fu", "ri", "sa", "vo"};

/* A made-up word from the stream s. */
static void word(uint64_t *s, char *w)
{
    int k = 1 + (int)(attn_splitmix64(s) % 3);
    w[0] = 0;
    for (int i = 0; i < k; i++) strcat(w, syl[attn_splitmix64(s) % 16]);
}

static char *path(const char *name)
{
    static char p[8][600];
    static int k;
    k = (k + 1) % 8;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

typedef struct seen {
    int stages[8], n;
    const char *export_path;
    const attn_cls_run_result *cls;
    int fail_at, fail_with;
} seen;

static int on_stage(void *user, attn_run_stage s)
{
    seen *w = user;
    if (w->n < 8) w->stages[w->n++] = (int)s;
    if (w->export_path && s == ATTN_RUN_DATA) {
        attn_cls_run_config c;
        attn_cls_run_config_default(&c);
        c.model.max_len = 32, c.head_tokens = 8;
        int st = attn_cls_export_tokens(w->export_path, w->cls->sp, w->cls->train_set, w->cls->val_set, NULL, &c, "test");
        if (st) return st;
    }
    return w->fail_at == (int)s + 1 ? w->fail_with : 0;
}

static void test_cls(void)
{
    FILE *f = fopen(path("reviews.tsv"), "w");
    uint64_t s = 11;
    char w[16];
    for (int i = 0; i < 200; i++) {
        const int pos = i % 2;
        fprintf(f, "%d\t%s", pos, pos ? "a great and wonderful film" : "an awful and boring film");
        for (int j = 0; j < 12; j++) word(&s, w), fprintf(f, " %s", w);
        fprintf(f, ", %s.\n", pos ? "loved it" : "hated it");
    }
    fclose(f);
    attn_cls_run_config c;
    attn_cls_run_config_default(&c);
    c.model.d_model = 16, c.model.nhead = 2, c.model.num_layers = 1, c.model.dim_feedforward = 32;
    c.model.max_len = 32, c.head_tokens = 8, c.vocab_size = 300, c.batch_size = 20, c.epochs = 1;
    c.val_fraction = 0.1, c.lr = 3e-3f;
    attn_cls_run_result r;
    seen sn = {.export_path = path("tokens.safetensors"), .cls = &r};
    attn_run_hooks h = {.stage = on_stage, .user = &sn, .threads = 1};
    int st = attn_cls_run(&c, path("reviews.tsv"), path("cls"), 0, &h, &r);
    CHECK(st == ATTN_OK, "cls run: trains (%s)", st ? attn_last_error() : "ok");
    CHECK(sn.n == 4 && sn.stages[0] == ATTN_RUN_TOKENIZER_BEGIN && sn.stages[1] == ATTN_RUN_TOKENIZER &&
              sn.stages[2] == ATTN_RUN_DATA && sn.stages[3] == ATTN_RUN_MODEL,
          "cls run: stages tokenizer-begin, tokenizer, data, model (%d seen)", sn.n);
    CHECK(r.n_train + r.n_val == 200 && r.n_val > 0 && r.train_tokens > r.n_train && r.params > 0 &&
              r.steps == r.steps_per_epoch && r.steps_per_epoch == (r.n_train + 19) / 20 && r.sp == NULL,
          "cls run: %lld training + %lld validation reviews, %lld steps of 20, the borrowed pointers cleared",
          (long long)r.n_train, (long long)r.n_val, (long long)r.steps);
    attn_st_reader *rd = NULL;
    attn_st_entry e = {0};
    int64_t k = attn_st_open(sn.export_path, &rd) == ATTN_OK ? attn_st_find(rd, "train.ids") : -1;
    CHECK(k >= 0 && attn_st_info(rd, k, &e) == ATTN_OK && e.ndim == 2 && e.shape[0] == r.n_train && e.shape[1] == 32 &&
              attn_st_find(rd, "test.ids") < 0 && !strcmp(attn_st_metadata(rd, "config"), "test"),
          "cls export: train.ids [%lld, 32], no test split without data, config named",
          (long long)(e.ndim ? e.shape[0] : -1));
    attn_st_close(rd);
    attn_text_classifier tc;
    st = attn_text_classifier_open(path("cls"), &tc);
    CHECK(st == ATTN_OK && tc.head_tokens == 8, "cls run: the run directory opens as a classifier");
    if (st == ATTN_OK) {
        attn_tape *t = NULL;
        attn_tape_config tcf = {.num_threads = 1};
        attn_tape_create(&tcf, &t);
        char *texts[2] = {"a great and wonderful film, loved it.", "an awful and boring film, hated it."};
        float p[4] = {0};
        st = attn_text_classifier_predict(&tc, t, texts, 2, 2, p);
        CHECK(st == ATTN_OK && fabsf(p[0] + p[1] - 1) < 1e-5f && fabsf(p[2] + p[3] - 1) < 1e-5f,
              "cls predict: two texts, probabilities summing to 1 (%.3f %.3f)", p[1], p[3]);
        const int8_t labels[2] = {1, 0};
        attn_cls_report rep;
        st = attn_text_classifier_evaluate(&tc, t, texts, labels, 2, 2, &rep);
        CHECK(st == ATTN_OK && rep.n == 2 && rep.support[0] == 1 && rep.support[1] == 1 &&
                  rep.accuracy == ((p[1] > p[0]) + (p[2] >= p[3])) / 2.0,
              "cls evaluate: the report agrees with the predictions (accuracy %.2f)", rep.accuracy);
        attn_cls_report_free(&rep);
        st = attn_text_classifier_evaluate(&tc, t, texts, NULL, 2, 2, &rep);
        CHECK(st == ATTN_E_ARG && rep.n == 0 && strstr(attn_last_error(), "evaluate"),
              "cls evaluate: no labels is ATTN_E_ARG, the report zeroed");
        attn_cls_report_free(&rep);
        CHECK(attn_text_classifier_predict(&tc, NULL, texts, 2, 2, p) == ATTN_E_ARG &&
                  strstr(attn_last_error(), "predict"),
              "cls predict: no tape is ATTN_E_ARG");
        attn_tape_free(t);
        attn_text_classifier_free(&tc);
    }
    char nb[16];
    CHECK(!strcmp(attn_cls_class_name(1, 2, nb, sizeof nb), "positive") &&
              !strcmp(attn_cls_class_name(3, 5, nb, sizeof nb), "class3"),
          "cls class names: IMDb's for two classes, class<k> otherwise");
    seen sr = {0};
    h.user = &sr;
    attn_cls_run_result r2;
    st = attn_cls_run(&c, path("reviews.tsv"), path("cls"), 1, &h, &r2);
    CHECK(st == ATTN_OK && r2.train.state.step == r.train.state.step && sr.n == 2 && sr.stages[0] == ATTN_RUN_DATA,
          "cls run: a finished run resumes with its own tokenizer (no tokenizer stage) and has nothing left");
    st = attn_cls_run(&c, path("none.tsv"), path("cls2"), 0, NULL, &r2);
    CHECK(st < 0 && strstr(attn_last_error(), "none.tsv"), "cls run: a missing data file is named (%s)", attn_last_error());
    CHECK(attn_cls_run(NULL, "x", "y", 0, NULL, &r2) == ATTN_E_ARG, "cls run: NULL configuration is ATTN_E_ARG");
    CHECK(attn_cls_export_tokens(path("t.safetensors"), NULL, NULL, NULL, NULL, &c, NULL) == ATTN_E_ARG &&
              strstr(attn_last_error(), "attn_cls_export_tokens"),
          "cls export: no tokenizer or sets is ATTN_E_ARG");
    seen sf = {.fail_at = ATTN_RUN_DATA + 1, .fail_with = ATTN_E_IO};
    h.user = &sf;
    st = attn_cls_run(&c, path("reviews.tsv"), path("cls3"), 0, &h, &r2);
    CHECK(st == ATTN_E_IO && r2.params == 0, "cls run: the stage hook's status stops it before the model");
}

static void test_mt(void)
{
    static const char *en[] = {"the", "a", "red", "big", "dog", "cat", "runs", "sleeps"};
    static const char *de[] = {"der", "ein", "rote", "große", "Hund", "Katze", "läuft", "schläft"};
    const char *files[4] = {"train.en", "train.de", "val.en", "val.de"};
    FILE *f[4];
    for (int i = 0; i < 4; i++) f[i] = fopen(path(files[i]), "w");
    uint64_t s = 5;
    for (int i = 0; i < 150; i++) {
        int a = (int)(attn_splitmix64(&s) % 2), b = 2 + (int)(attn_splitmix64(&s) % 2),
            c = 4 + (int)(attn_splitmix64(&s) % 2), v = 6 + (int)(attn_splitmix64(&s) % 2);
        int o = i < 120 ? 0 : 2;
        fprintf(f[o], "%s %s %s %s .\n", en[a], en[b], en[c], en[v]);
        fprintf(f[o + 1], "%s %s %s %s .\n", de[a], de[b], de[c], de[v]);
    }
    for (int i = 0; i < 4; i++) fclose(f[i]);
    attn_mt_run_config c;
    attn_mt_run_config_default(&c, 0);
    c.model.d_model = 16, c.model.nhead = 2, c.model.num_encoder_layers = 1, c.model.num_decoder_layers = 1;
    c.model.dim_feedforward = 32, c.model.max_len = 32, c.vocab = 300, c.batch_tokens = 200, c.epochs = 1;
    c.avg_last = 0, c.val_bleu_n = 5, c.warmup = 5, c.max_minutes = 0, c.lr = 5e-3f;
    attn_mt_run_result r;
    seen sn = {0};
    attn_run_hooks h = {.stage = on_stage, .user = &sn, .threads = 1};
    int st = attn_mt_run(&c, 0, dir, path("mt"), 0, &h, &r);
    CHECK(st == ATTN_OK, "mt run: trains (%s)", st ? attn_last_error() : "ok");
    CHECK(sn.n == 4 && sn.stages[0] == ATTN_RUN_TOKENIZER_BEGIN && sn.stages[3] == ATTN_RUN_MODEL && r.n_pairs == 120 &&
              r.n_train + r.dropped_train == 120 && r.n_val == 30 && r.vocab > 260 && r.vocab <= 300 && r.params > 0,
          "mt run: stages in order, %lld pairs kept, vocabulary %d", (long long)r.n_train, (int)r.vocab);
    attn_translator *tr = NULL;
    char **out = NULL;
    const char *src[1] = {"the red dog runs ."};
    attn_generate_options go = {.beam = 2};
    st = attn_translator_open(path("mt/best.safetensors"), &tr);
    if (st == ATTN_OK) st = attn_translator_translate(tr, src, 1, &go, &out);
    CHECK(st == ATTN_OK && out && out[0], "mt run: its best model translates through attn_translator (\"%s\")",
          out ? out[0] : "");
    attn_translator_free_strings(out, out ? 1 : 0);
    attn_translator_free(tr);
    attn_seq2seq *tf = NULL;
    attn_gru_seq2seq *gru = NULL;
    attn_spm *sp = NULL;
    attn_parallel *val = NULL;
    attn_tape *t = NULL;
    attn_tape_config tc = {.num_threads = 1};
    attn_mt_eval ev;
    st = attn_mt_open(path("mt/best.safetensors"), &tf, &gru, &sp);
    if (st == ATTN_OK) st = attn_parallel_load(path("val.en"), path("val.de"), &val);
    if (st == ATTN_OK) st = attn_tape_create(&tc, &t);
    if (st == ATTN_OK) st = attn_mt_evaluate(t, tf, gru, sp, val, &go, 8, NULL, NULL, &ev);
    CHECK(st == ATTN_OK && ev.n == 30 && ev.hyp && ev.bleu.score >= 0 && ev.bleu.score <= 100 && ev.chrf.score >= 0 &&
              ev.bleu_lc.score >= ev.bleu.score - 1e-9,
          "mt evaluate: 30 translations, BLEU %.2f (lowercased %.2f), chrF2 %.2f", ev.bleu.score, ev.bleu_lc.score,
          ev.chrf.score);
    attn_mt_eval_free(&ev);
    attn_parallel empty = {0};
    CHECK(attn_mt_evaluate(t, tf, gru, sp, &empty, &go, 8, NULL, NULL, &ev) == ATTN_E_ARG && ev.hyp == NULL,
          "mt evaluate: an empty set is ATTN_E_ARG");
    attn_tape_free(t), attn_parallel_free(val), attn_seq2seq_free(tf), attn_gru_seq2seq_free(gru), attn_spm_free(sp);
    attn_mt_run_config g;
    attn_mt_run_config_default(&g, 1);
    g.tie_output = 1;
    CHECK(attn_mt_run(&g, 1, dir, path("mt2"), 0, NULL, &r) == ATTN_E_ARG && strstr(attn_last_error(), "tie_output"),
          "mt run: tie_output with the GRU is refused");
    c.batch_tokens = 10;
    CHECK(attn_mt_run(&c, 0, dir, path("mt2"), 0, NULL, &r) == ATTN_E_ARG && strstr(attn_last_error(), "batch_tokens"),
          "mt run: batch_tokens below max_len is refused");
}

static void lm_config(attn_lm_run_config *c, int bpe)
{
    attn_lm_run_config_default(c);
    c->model = (attn_gpt_config){.n_layer = 1, .n_head = 2, .d_model = 16, .context = 16};
    c->task = (attn_lm_task_config){.batch = 4, .steps = 8, .eval_every = 4, .eval_batches = 2, .seed = 3, .eval_all = 1};
    c->warmup = 2, c->bpe = bpe, c->vocab = 300;
}

typedef struct sink {
    char buf[1024];
    size_t n;
} sink;

static int to_sink(void *user, const char *b, size_t n)
{
    sink *s = user;
    if (s->n + n < sizeof s->buf) memcpy(s->buf + s->n, b, n), s->n += n;
    return 0;
}

/* Two ranks in one process: rank 0's broadcasts are recorded, then replayed to rank 1. */
typedef struct sim {
    int rank, n, next;
    void *msg[4];
    size_t len[4];
} sim;

static int sim_bcast(void *ctx, void *buf, size_t n)
{
    sim *s = ctx;
    if (s->rank == 0) {
        s->msg[s->n] = malloc(n + 1), memcpy(s->msg[s->n], buf, n), s->len[s->n++] = n;
        return ATTN_OK;
    }
    if (s->next >= s->n || s->len[s->next] != n) return attn_set_error(ATTN_E_STATE, "sim: out of step");
    memcpy(buf, s->msg[s->next++], n);
    return ATTN_OK;
}

static void test_share(void)
{
    attn_spm *sp = NULL, *got = NULL;
    int st = attn_spm_from_checkpoint(path("mt/best.safetensors"), &sp);
    sim s = {0};
    attn_train_comm c = {.ctx = &s, .size = 2, .bcast = sim_bcast};
    if (st == ATTN_OK) st = attn_spm_share(&c, ATTN_OK, &sp);
    s.rank = c.rank = 1;
    if (st == ATTN_OK) st = attn_spm_share(&c, ATTN_OK, &got);
    int32_t v0 = 0, v1 = -1, *a = NULL, *b = NULL;
    int64_t na = 0, nb = 0;
    if (st == ATTN_OK) attn_spm_vocab_size(sp, &v0), attn_spm_vocab_size(got, &v1);
    if (st == ATTN_OK) attn_spm_encode_alloc(sp, "der rote Hund läuft", &a, &na), attn_spm_encode_alloc(got, "der rote Hund läuft", &b, &nb);
    CHECK(st == ATTN_OK && v0 == v1 && na == nb && na > 0 && !memcmp(a, b, (size_t)na * sizeof *a),
          "spm share: rank 1 receives rank 0's tokenizer (%d pieces, same ids)", (int)v1);
    free(a), free(b);
    attn_spm_free(got), got = NULL;
    for (int i = 0; i < s.n; i++) free(s.msg[i]);
    sim f = {0}; /* rank 0 failed: it sends nothing, rank 1 is told */
    c.ctx = &f, c.rank = 0;
    CHECK(attn_spm_share(&c, ATTN_E_IO, &sp) == ATTN_E_IO, "spm share: rank 0 keeps its own error");
    f.rank = c.rank = 1;
    st = attn_spm_share(&c, ATTN_OK, &got);
    CHECK(st == ATTN_E_ARG && !got && strstr(attn_last_error(), "rank 0 has no tokenizer"),
          "spm share: rank 1 learns that rank 0 has no tokenizer");
    for (int i = 0; i < f.n; i++) free(f.msg[i]);
    CHECK(attn_spm_share(NULL, ATTN_E_FORMAT, &sp) == ATTN_E_FORMAT && attn_spm_share(&c, ATTN_OK, NULL) == ATTN_E_ARG,
          "spm share: one process passes the status through; NULL sp is ATTN_E_ARG");
    attn_spm_free(sp);
}

static void test_lm(void)
{
    FILE *f = fopen(path("text.txt"), "w");
    uint64_t s = 9;
    char w[16];
    for (int i = 0; i < 3000; i++) word(&s, w), fprintf(f, "%s%s", w, i % 9 == 8 ? ".\n" : " ");
    fclose(f);
    char *text = NULL;
    size_t n = 0;
    attn_data_read_file(path("text.txt"), &text, &n);
    attn_lm_run_config c;
    lm_config(&c, 0);
    attn_lm_run_result r;
    int st = attn_lm_run(&c, path("text.txt"), path("lmc"), 0, NULL, &r);
    CHECK(st == ATTN_OK && r.train_bytes == (int64_t)n * 9 / 10 && r.train_tokens == r.train_bytes &&
              r.val_tokens == r.val_bytes && r.train.state.step == 8,
          "lm run (chars): trains, a token a byte (%s)", st ? attn_last_error() : "ok");
    attn_lm_model lm;
    st = attn_lm_model_open(path("lmc/best.safetensors"), &lm);
    CHECK(st == ATTN_OK && lm.chars.V == r.vocab && !lm.spm && !lm.bpe, "lm model: a character checkpoint opens");
    if (st == ATTN_OK) {
        double loss = 0;
        int64_t tokens = 0;
        st = attn_lm_model_eval(&lm, "val", text + r.train_bytes, (size_t)r.val_bytes, c.task.batch, 1, &loss, &tokens);
        CHECK(st == ATTN_OK && fabs(loss + r.train.best_metric) < 1e-4,
              "lm eval: the best model's loss on the validation part (%.5f) is the run's best validation loss (%.5f)", loss,
              -r.train.best_metric);
        int32_t *ids = NULL;
        int64_t k = 0;
        st = attn_lm_model_encode(&lm, "x", (const unsigned char *)text, 40, &ids, &k);
        int same = st == ATTN_OK && k == 40;
        for (int64_t i = 0; same && i < k; i++) {
            const char *b;
            same = attn_lm_model_token(&lm, ids[i], &b) == 1 && b[0] == text[i];
        }
        free(ids);
        CHECK(same, "lm model: 40 bytes encode to 40 ids whose bytes are the text");
        st = attn_lm_model_encode(&lm, "the input", (const unsigned char *)"ka\001", 3, &ids, &k);
        CHECK(st == ATTN_E_ARG && strstr(attn_last_error(), "byte 0x01 is not in the model"),
              "lm model: a byte outside the vocabulary is named (%s)", attn_last_error());
        CHECK(attn_lm_model_eval(&lm, "one.txt", "k", 1, 4, 1, &loss, &tokens) == ATTN_E_ARG &&
                  strstr(attn_last_error(), "one.txt: 1 tokens, at least 2"),
              "lm eval: a one-token text is refused, named");
        attn_lm_model_free(&lm);
    }
    attn_lm_run_config b;
    lm_config(&b, 1);
    CHECK(attn_lm_run(&b, path("text.txt"), path("lmc"), 1, NULL, &r) == ATTN_E_ARG && strstr(attn_last_error(), "not a BPE"),
          "lm run: a character run does not resume as a BPE");
    st = attn_lm_run(&b, path("text.txt"), path("lmb"), 0, NULL, &r);
    CHECK(st == ATTN_OK && r.vocab > 260 && r.vocab <= 300 && r.val_tokens < r.val_bytes,
          "lm run (bpe): %d pieces, %lld validation tokens for %lld bytes (%s)", (int)r.vocab, (long long)r.val_tokens,
          (long long)r.val_bytes, st ? attn_last_error() : "ok");
    CHECK(attn_lm_run(&c, path("text.txt"), path("lmb"), 1, NULL, &r) == ATTN_E_ARG &&
              strstr(attn_last_error(), "--tokenizer bpe"),
          "lm run: a BPE run does not resume with characters");
    st = attn_lm_model_open(path("lmb/best.safetensors"), &lm);
    CHECK(st == ATTN_OK && lm.spm, "lm model: a BPE checkpoint opens with its tokenizer");
    if (st == ATTN_OK) {
        sink g[2];
        memset(g, 0, sizeof g);
        int64_t made = 0;
        for (int i = 0; i < 2; i++) {
            attn_generate_options o = {.eos_id = -1, .sample = 1, .temperature = 0.8f, .seed = 4};
            st = attn_lm_model_generate(&lm, "kato ", 10, &o, to_sink, &g[i], &made);
        }
        CHECK(st == ATTN_OK && made == 10 && g[0].n == g[1].n && !memcmp(g[0].buf, g[1].buf, g[0].n) &&
                  !strncmp(g[0].buf, "kato ", 5) && g[0].n > 5,
              "lm generate: the prompt, then 10 tokens; the same seed gives the same text (%zu bytes)", g[0].n);
        attn_generate_options o = {.eos_id = -1};
        CHECK(attn_lm_model_generate(&lm, "", 10, &o, to_sink, &g[0], NULL) == ATTN_E_ARG &&
                  strstr(attn_last_error(), "no token"),
              "lm generate: an empty prompt is refused");
        attn_lm_model_free(&lm);
    }
    CHECK(attn_lm_model_open(path("none.safetensors"), &lm) < 0 && lm.m == NULL, "lm model: a missing file fails, zeroed");
    free(text);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/attn_runs_XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    test_cls();
    test_mt();
    test_share();
    test_lm();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("note: could not remove %s\n", dir);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
