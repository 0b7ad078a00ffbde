/* test_machine_config.c — what moved from the attn command into libattn: machine measurement
 * (clock, FMA peak, triad bandwidth, peak RSS), configuration files (JSON and the older
 * `key = value` lines), a classification run's settings and checkpoint metadata, finding an
 * IMDb split, cleaning into a new string; bad input returns an error code with a message. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attn.h"
#include "st_test_helpers.h"

static const char *dir;

static void mkdir_tmp(void) { dir = temp_dir(); }
static void rm_tmp(void) /* nested folders: remove_tree reads one level */
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}
/* dir/name with the given contents; the path in a static buffer */
static const char *put_file(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    for (char *s = path + strlen(dir) + 1; (s = strchr(s, '/')); *s++ = '/') {
        *s = '\0';
        mkdir(path, 0700); /* the sub-folders */
    }
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* ---- machine ---------------------------------------------------------------------------- */

Test(machine, clock_is_monotonic_and_in_seconds)
{
    double a = attn_now();
    usleep(20000);
    double b = attn_now();
    cr_assert(b - a >= 0.019 && b - a < 5, "slept 20 ms, measured %g s", b - a);
}

Test(machine, fma_peak_is_measured_on_every_path)
{
    attn_isa paths[] = {ATTN_ISA_PORTABLE, ATTN_ISA_AVX2, ATTN_ISA_AVX512};
    attn_isa was = attn_get_isa();
    for (int i = 0; i < 3; i++) {
        if (!attn_isa_supported(paths[i])) continue;
        cr_assert_eq(attn_set_isa(paths[i]), ATTN_OK);
        attn_machine_peak p;
        cr_assert_eq(attn_machine_peak_init(&p, 1), ATTN_OK, "%s", attn_last_error());
        cr_assert_eq(p.threads, 1);
        cr_assert(p.fma_runs >= 45, "%d FMA runs", p.fma_runs);
        /* a 2018+ x86 core does ~1 GFLOP/s or more even in the portable loop (0.4 measured under
         * ASan on a busy machine): a bound 10x below catches flops miscounted or not run, and
         * no core does 10 TFLOP/s */
        cr_assert(p.gflops > 0.04 && p.gflops < 1e4, "%s: %g GFLOP/s", attn_isa_name(paths[i]), p.gflops);
        cr_assert(p.core_gflops > 0.04 && p.core_gflops < 1e4, "%g", p.core_gflops);
        int runs = p.fma_runs;
        double best = p.gflops;
        cr_assert_eq(attn_machine_peak_sample(&p), ATTN_OK);
        cr_assert_eq(p.fma_runs, runs + 5);
        cr_assert(p.gflops >= best, "the best is kept");
        cr_assert_eq(p.gbs, 0.0);
    }
    attn_set_isa(was);
}

Test(machine, bandwidth_and_rss)
{
    attn_machine_peak p;
    cr_assert_eq(attn_machine_peak_init(&p, 1), ATTN_OK);
    double rss0 = attn_peak_rss_mb();
    cr_assert(rss0 > 1, "%g MB", rss0);
    cr_assert_eq(attn_machine_bandwidth(&p, 2), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(p.bw_runs, 2);
    cr_assert(p.gbs > 0.1 && p.gbs < 1e4, "%g GB/s", p.gbs);
    /* the triad touched 3 × 64 MB: the peak RSS has grown by most of it (unless an earlier
     * test of this process already peaked higher) */
    double rss1 = attn_peak_rss_mb();
    cr_assert(rss1 >= rss0 + 150 || rss0 > 190, "peak RSS %g → %g MB", rss0, rss1);
}

Test(machine, bad_arguments_are_errors)
{
    attn_machine_peak p;
    cr_assert_eq(attn_machine_peak_init(NULL, 1), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "attn_machine_peak_init"));
    cr_assert_eq(attn_machine_peak_init(&p, -1), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "threads = -1"), "%s", attn_last_error());
    memset(&p, 0, sizeof p);
    cr_assert_eq(attn_machine_peak_sample(&p), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "not initialised"), "%s", attn_last_error());
    cr_assert_eq(attn_machine_bandwidth(&p, 1), ATTN_E_ARG);
    cr_assert_eq(attn_machine_peak_init(&p, 0), ATTN_OK);
    cr_assert_eq(p.threads, 1);
    cr_assert_eq(attn_machine_bandwidth(&p, -2), ATTN_E_ARG);
    cr_assert_eq(attn_machine_peak_gflops(-5), 0.0);
}

/* ---- configuration files ------------------------------------------------------------------ */

typedef struct cfg {
    int64_t width;
    int epochs, flag, act;
    long budget;
    uint64_t seed;
    float lr;
    double frac;
} cfg;

static const char *const acts[] = {"relu", "gelu", NULL};
static const int act_values[] = {10, 20};

static int load(const char *text, cfg *c, int *legacy)
{
    const attn_config_field f[] = {
        {"width", ATTN_CONFIG_I64, &c->width, 1, 1024, NULL, NULL},
        {"epochs", ATTN_CONFIG_INT, &c->epochs, 1, 100, NULL, NULL},
        {"flag", ATTN_CONFIG_BOOL, &c->flag, 0, 1, NULL, NULL},
        {"act", ATTN_CONFIG_CHOICE, &c->act, 0, 0, acts, act_values},
        {"budget", ATTN_CONFIG_LONG, &c->budget, 0, 1e9, NULL, NULL},
        {"seed", ATTN_CONFIG_U64, &c->seed, 0, 9007199254740992.0, NULL, NULL},
        {"lr", ATTN_CONFIG_FLOAT, &c->lr, 0, 10, NULL, NULL},
        {"frac", ATTN_CONFIG_DOUBLE, &c->frac, 0, 1, NULL, NULL},
    };
    return attn_config_load(put_file("c.cfg", text), f, 8, legacy);
}

Test(config, json_sets_the_named_fields_only, .init = mkdir_tmp, .fini = rm_tmp)
{
    cfg c = {.width = 7, .epochs = 3, .act = 10};
    int legacy = -1;
    cr_assert_eq(load("{\"_note\": [1, {}], \"epochs\": 12, \"flag\": true, \"act\": \"gelu\", \"budget\": 4096,\n"
                      " \"seed\": 9007199254740992, \"lr\": 0.25, \"frac\": 0.5}",
                      &c, &legacy),
                 ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(legacy, 0);
    cr_assert_eq(c.width, 7, "not named: kept");
    cr_assert_eq(c.epochs, 12);
    cr_assert_eq(c.flag, 1);
    cr_assert_eq(c.act, 20, "the choice's value");
    cr_assert_eq(c.budget, 4096);
    cr_assert_eq(c.seed, 9007199254740992ull);
    cr_assert_eq(c.lr, 0.25f);
    cr_assert_eq(c.frac, 0.5);
    cr_assert_eq(load("{\"flag\": 0}", &c, NULL), ATTN_OK);
    cr_assert_eq(c.flag, 0);
}

Test(config, legacy_lines_are_read_and_flagged, .init = mkdir_tmp, .fini = rm_tmp)
{
    cfg c = {0};
    int legacy = 0;
    cr_assert_eq(load("# old style\n\nwidth = 64   # comment\r\nact = relu\nlr=0.5\n", &c, &legacy), ATTN_OK, "%s",
                 attn_last_error());
    cr_assert_eq(legacy, 1);
    cr_assert_eq(c.width, 64);
    cr_assert_eq(c.act, 10);
    cr_assert_eq(c.lr, 0.5f);
    legacy = 0;
    cr_assert_eq(load("width 64\n", &c, &legacy), ATTN_E_FORMAT);
    cr_assert_eq(legacy, 1, "flagged even when the lines are bad");
    cr_assert(strstr(attn_last_error(), "c.cfg:1: not `key = value`"), "%s", attn_last_error());
    cr_assert_eq(load("width = 64\nheight = 3\n", &c, NULL), ATTN_E_FORMAT);
    cr_assert(strstr(attn_last_error(), ":2: unknown key \"height\""), "%s", attn_last_error());
    cr_assert_eq(load("width = 6x\n", &c, NULL), ATTN_E_FORMAT);
    cr_assert(strstr(attn_last_error(), "is not a number"), "%s", attn_last_error());
}

Test(config, bad_values_name_the_key, .init = mkdir_tmp, .fini = rm_tmp)
{
    static const struct {
        const char *text, *needle;
    } bad[] = {
        {"{\"nope\": 1}", "unknown key \"nope\""},
        {"{\"width\": 0}", "\"width\" must be a whole number in [1, 1024], not 0"},
        {"{\"epochs\": 2.5}", "\"epochs\" must be a whole number"},
        {"{\"lr\": 11}", "\"lr\" must be a number in [0, 10], not 11"},
        {"{\"lr\": \"fast\"}", "\"lr\" must be a number"},
        {"{\"act\": 1}", "\"act\" must be a string"},
        {"{\"act\": \"tanh\"}", "\"act\" must be one of relu|gelu, not \"tanh\""},
        {"{\"flag\": 2}", "\"flag\" must be a whole number in [0, 1]"},
        {"{\"width\": 4,", "not a JSON object"},
        {" \n{\"width\": [1, 2]}", "\"width\" must be a number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg c = {0};
        cr_assert_eq(load(bad[i].text, &c, NULL), ATTN_E_FORMAT, "%s", bad[i].text);
        cr_assert(strstr(attn_last_error(), bad[i].needle), "%s: %s", bad[i].text, attn_last_error());
        cr_assert(strstr(attn_last_error(), "config /tmp/attn_st_test_"), "names the file: %s", attn_last_error());
    }
}

Test(config, unreadable_files_and_bad_tables, .init = mkdir_tmp, .fini = rm_tmp)
{
    int x = 0, legacy = 5;
    attn_config_field f = {"x", ATTN_CONFIG_INT, &x, 0, 9, NULL, NULL};
    cr_assert_eq(attn_config_load("/nonexistent/run.json", &f, 1, &legacy), ATTN_E_IO);
    cr_assert_eq(legacy, 0);
    cr_assert(strstr(attn_last_error(), "config /nonexistent/run.json: cannot read"), "%s", attn_last_error());
    char *big = malloc(ATTN_CONFIG_MAX_BYTES + 16);
    memset(big, ' ', ATTN_CONFIG_MAX_BYTES + 15);
    big[0] = '{', big[ATTN_CONFIG_MAX_BYTES + 14] = '}', big[ATTN_CONFIG_MAX_BYTES + 15] = '\0';
    cr_assert_eq(attn_config_load(put_file("big.json", big), &f, 1, NULL), ATTN_E_IO);
    cr_assert(strstr(attn_last_error(), "larger than 1 MiB"), "%s", attn_last_error());
    free(big);
    const char *ok = put_file("ok.json", "{\"x\": 3}");
    cr_assert_eq(attn_config_load(NULL, &f, 1, NULL), ATTN_E_ARG);
    cr_assert_eq(attn_config_load(ok, NULL, 1, NULL), ATTN_E_ARG);
    attn_config_field nochoices = {"x", ATTN_CONFIG_CHOICE, &x, 0, 0, NULL, NULL};
    cr_assert_eq(attn_config_load(ok, &nochoices, 1, NULL), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "field 0 is incomplete"), "%s", attn_last_error());
    attn_config_field noptr = {"x", ATTN_CONFIG_INT, NULL, 0, 9, NULL, NULL};
    cr_assert_eq(attn_config_load(ok, &noptr, 1, NULL), ATTN_E_ARG);
    cr_assert_eq(attn_config_load(ok, &f, 1, NULL), ATTN_OK);
    cr_assert_eq(x, 3);
}

/* ---- a classification run's settings and metadata ----------------------------------------- */

Test(cls_run, config_defaults_file_and_checks, .init = mkdir_tmp, .fini = rm_tmp)
{
    attn_cls_run_config c;
    attn_cls_run_config_default(&c);
    cr_assert_eq(c.model.d_model, 128);
    cr_assert_eq(c.model.pooling, ATTN_POOL_MEAN);
    cr_assert_eq(c.vocab_size, 16000);
    cr_assert_eq(c.seed, 1);
    cr_assert_eq(attn_cls_run_config_load(put_file("a.json", "{\"d_model\": 64, \"activation\": \"relu\", "
                                                                "\"pooling\": \"first\", \"norm\": \"post\", \"epochs\": 3}"),
                                          &c, NULL),
                 ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(c.model.d_model, 64);
    cr_assert_eq(c.model.activation, ATTN_ACT_RELU);
    cr_assert_eq(c.model.pooling, ATTN_POOL_FIRST);
    cr_assert_eq(c.model.norm_first, 0);
    cr_assert_eq(c.epochs, 3);
    cr_assert_eq(c.model.nhead, 4, "kept");
    cr_assert_eq(attn_cls_run_config_load(put_file("b.json", "{\"d_model\": 66}"), &c, NULL), ATTN_E_FORMAT);
    cr_assert(strstr(attn_last_error(), "multiple of nhead"), "%s", attn_last_error());
    attn_cls_run_config_default(&c);
    cr_assert_eq(attn_cls_run_config_load(put_file("c.json", "{\"head_tokens\": 600}"), &c, NULL), ATTN_E_FORMAT);
    cr_assert_eq(attn_cls_run_config_load(put_file("d.json", "{\"vocab_size\": 10}"), &c, NULL), ATTN_E_FORMAT);
    cr_assert(strstr(attn_last_error(), "\"vocab_size\""), "%s", attn_last_error());
    cr_assert_eq(attn_cls_run_config_load("x.json", NULL, NULL), ATTN_E_ARG);
}

Test(cls_run, model_metadata_round_trips)
{
    attn_classifier_config cfg = {.vocab = 300, .d_model = 16, .nhead = 2, .num_layers = 1, .dim_feedforward = 32,
                                  .max_len = 20, .num_classes = 2, .activation = ATTN_ACT_GELU, .norm_first = 1};
    attn_classifier *m = NULL;
    cr_assert_eq(attn_classifier_create(&cfg, 1, &m), ATTN_OK, "%s", attn_last_error());
    char buf[2048];
    const char *kv[96];
    cr_assert_eq(attn_cls_model_meta(m, "QUJD", 7, buf, sizeof buf, kv, 96), ATTN_OK, "%s", attn_last_error());
    int found = 0;
    for (int i = 0; kv[i]; i += 2) {
        if (!strcmp(kv[i], "attn.arch")) found += !strcmp(kv[i + 1], "transformer-classifier");
        if (!strcmp(kv[i], "attn.tokenizer.model")) found += !strcmp(kv[i + 1], "QUJD");
        if (!strcmp(kv[i], "attn.truncate.head")) found += !strcmp(kv[i + 1], "7");
        if (!strcmp(kv[i], "attn.config.d_model")) found += !strcmp(kv[i + 1], "16");
    }
    cr_assert_eq(found, 4);
    cr_assert_eq(attn_cls_model_meta(m, "QUJD", 7, buf, sizeof buf, kv, 15), ATTN_E_ARG);
    cr_assert_eq(attn_cls_model_meta(m, "QUJD", 7, buf, 32, kv, 96), ATTN_E_ARG);
    cr_assert_eq(attn_cls_model_meta(m, NULL, 7, buf, sizeof buf, kv, 96), ATTN_E_ARG);
    attn_classifier_free(m);
    attn_cls_data_free(NULL);
    attn_cls_data d = {.n = 2, .off = malloc(24), .ids = malloc(8), .label = malloc(8)};
    attn_cls_data_free(&d);
    cr_assert(d.n == 0 && !d.off && !d.ids && !d.label);
}

/* ---- IMDb splits, cleaning -------------------------------------------------------------------- */

Test(imdb_open, every_layout_and_the_errors, .init = mkdir_tmp, .fini = rm_tmp)
{
    attn_imdb *d = NULL;
    char p[256];
    put_file("flat/test.tsv", "1\tgood<br />film\n0\tbad\n");
    snprintf(p, sizeof p, "%s/flat", dir);
    cr_assert_eq(attn_imdb_open(p, "test", &d), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(d->n, 2);
    cr_assert_eq(d->label[0], 1);
    attn_imdb_free(d);
    snprintf(p, sizeof p, "%s/flat/test.tsv", dir);
    cr_assert_eq(attn_imdb_open(p, "train", &d), ATTN_OK, "a file is read whatever the split");
    attn_imdb_free(d);
    put_file("acl/test/pos/0_9.txt", "great");
    put_file("acl/test/neg/0_2.txt", "awful");
    snprintf(p, sizeof p, "%s/acl", dir);
    cr_assert_eq(attn_imdb_open(p, "test", &d), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(d->n, 2);
    attn_imdb_free(d);
    snprintf(p, sizeof p, "%s/acl/test", dir);
    cr_assert_eq(attn_imdb_open(p, "train", &d), ATTN_OK, "a split folder with pos/ and neg/");
    attn_imdb_free(d);
    snprintf(p, sizeof p, "%s/acl", dir);
    cr_assert_eq(attn_imdb_open(p, "train", &d), ATTN_E_IO);
    cr_assert_null(d);
    cr_assert(strstr(attn_last_error(), "no train.tsv.gz, no aclImdb train/ folder"), "%s", attn_last_error());
    put_file("empty/test.tsv", "");
    snprintf(p, sizeof p, "%s/empty", dir);
    cr_assert_eq(attn_imdb_open(p, "test", &d), ATTN_E_FORMAT);
    cr_assert(strstr(attn_last_error(), "empty: no reviews"), "%s", attn_last_error());
    put_file("bad/test.tsv", "1\tfine\n2\ttwo\n");
    snprintf(p, sizeof p, "%s/bad", dir);
    cr_assert_eq(attn_imdb_open(p, "test", &d), ATTN_E_FORMAT);
    cr_assert(strstr(attn_last_error(), "test.tsv:2"), "%s", attn_last_error());
    cr_assert_eq(attn_imdb_open(NULL, "test", &d), ATTN_E_ARG);
    cr_assert_eq(attn_imdb_open(p, "test", NULL), ATTN_E_ARG);
}

Test(text, clean_alloc)
{
    char *o = NULL;
    cr_assert_eq(attn_text_clean_alloc("  A<br /><br/>film &amp; more&#33;  ", &o), ATTN_OK);
    cr_assert_str_eq(o, "A film & more!");
    free(o);
    cr_assert_eq(attn_text_clean_alloc("", &o), ATTN_OK);
    cr_assert_str_eq(o, "");
    free(o);
    o = (char *)1;
    cr_assert_eq(attn_text_clean_alloc(NULL, &o), ATTN_E_ARG);
    cr_assert_null(o);
    cr_assert_eq(attn_text_clean_alloc("x", NULL), ATTN_E_ARG);
}

/* ---- a translation run's settings and metadata, the pairs, the text checksum --------------- */

Test(mt_run, config_defaults_per_architecture_and_file, .init = mkdir_tmp, .fini = rm_tmp)
{
    attn_mt_run_config t, g;
    attn_mt_run_config_default(&t, 0);
    attn_mt_run_config_default(&g, 1);
    cr_assert(t.budget_schedule == 1 && t.model.scale_embedding == 1 && t.warmup == 400 && t.max_minutes == 60);
    cr_assert(g.budget_schedule == 0 && g.warmup == 200 && g.max_minutes == 90);
    cr_assert(t.vocab == 8000 && t.model.d_model == 256 && g.gru.dec_hidden == 512);
    int legacy = 0;
    cr_assert_eq(attn_mt_run_config_load(put_file("m.cfg", "dropout = 0.2\nmax_len = 64\nschedule = invsqrt\n"), &t,
                                         &legacy),
                 ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(legacy, 1);
    cr_assert(t.model.dropout == 0.2f && t.gru.dropout == 0.2f, "dropout goes to both architectures");
    cr_assert(t.model.max_len == 64 && t.gru.max_len == 64);
    cr_assert_eq(t.budget_schedule, 0);
    cr_assert_eq(attn_mt_run_config_load(put_file("m.json", "{\"ff\": 128, \"tie_output\": true, \"emb\": 16}"), &t,
                                         &legacy),
                 ATTN_OK);
    cr_assert(t.model.dim_feedforward == 128 && t.tie_output == 1 && t.gru.emb_size == 16 && legacy == 0);
    cr_assert_eq(attn_mt_run_config_load(put_file("bad.json", "{\"max_len\": 3}"), &t, NULL), ATTN_E_FORMAT);
    cr_assert(strstr(attn_last_error(), "\"max_len\" must be a whole number in [4, 65536]"), "%s", attn_last_error());
    cr_assert_eq(t.model.max_len, 64, "a refused value is not stored");
    cr_assert_eq(attn_mt_run_config_load("x", NULL, NULL), ATTN_E_ARG);
}

Test(mt_run, model_metadata)
{
    attn_seq2seq_config c = {.src_vocab = 20, .tgt_vocab = 20, .d_model = 8, .nhead = 2, .num_encoder_layers = 1,
                             .num_decoder_layers = 1, .dim_feedforward = 16, .max_len = 12,
                             .activation = ATTN_ACT_RELU, .norm_first = 1, .share_embeddings = 1};
    attn_seq2seq *tf = NULL;
    cr_assert_eq(attn_seq2seq_create(&c, 1, &tf), ATTN_OK, "%s", attn_last_error());
    char buf[2048];
    const char *kv[64];
    cr_assert_eq(attn_mt_model_meta(tf, NULL, "QUJD", 1, buf, sizeof buf, kv, 64), ATTN_OK, "%s", attn_last_error());
    int found = 0, n = 0;
    for (; kv[n]; n += 2) {
        if (!strcmp(kv[n], "attn.arch")) found += !strcmp(kv[n + 1], "transformer-seq2seq");
        if (!strcmp(kv[n], "attn.spm.model")) found += !strcmp(kv[n + 1], "QUJD");
        if (!strcmp(kv[n], "attn.mt.tie_output")) found += !strcmp(kv[n + 1], "1");
        if (!strcmp(kv[n], "attn.config.max_len")) found += !strcmp(kv[n + 1], "12");
    }
    cr_assert_eq(found, 4);
    cr_assert_eq(attn_mt_model_meta(tf, NULL, "QUJD", 0, buf, sizeof buf, kv, 64), ATTN_OK);
    for (int i = 0; kv[i]; i += 2) cr_assert_str_neq(kv[i], "attn.mt.tie_output");
    cr_assert_eq(attn_mt_model_meta(NULL, NULL, "QUJD", 0, buf, sizeof buf, kv, 64), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "one of tf and gru"), "%s", attn_last_error());
    cr_assert_eq(attn_mt_model_meta(tf, NULL, "QUJD", 0, buf, sizeof buf, kv, 17), ATTN_E_ARG);
    cr_assert_eq(attn_mt_model_meta(tf, NULL, "QUJD", 0, buf, 16, kv, 64), ATTN_E_ARG, "a buffer too small");
    attn_seq2seq_free(tf);
}

Test(mt_run, pairs_free_and_text_checksum)
{
    attn_mt_pairs_free(NULL, 3);
    attn_mt_pair *p = calloc(2, sizeof *p);
    for (int i = 0; i < 2; i++) p[i].src = calloc(3, 4), p[i].tgt = calloc(2, 4);
    attn_mt_pairs_free(p, 2); /* ASan finds a leak or a double free */
    char *src[] = {"a b", "c"}, *tgt[] = {"x", "y z"}, *tgt2[] = {"x", "y  z"}, *src2[] = {"a", "b c"};
    attn_parallel d = {.n = 2, .src = src, .tgt = tgt}, e = {.n = 2, .src = src, .tgt = tgt2},
                  f = {.n = 2, .src = src2, .tgt = tgt}, g = {.n = 2, .src = src, .tgt = tgt};
    const uint64_t h = attn_parallel_hash(&d);
    cr_assert_eq(h, attn_parallel_hash(&g), "a function of the text");
    cr_assert_neq(h, attn_parallel_hash(&e));
    cr_assert_neq(h, attn_parallel_hash(&f), "line boundaries count");
    /* FNV-1a by hand: the lines with their NULs, source then target of each pair */
    uint64_t ref = 0xcbf29ce484222325ull;
    const char *all[] = {"a b", "x", "c", "y z"};
    for (int i = 0; i < 4; i++)
        for (size_t k = 0; k <= strlen(all[i]); k++) ref = (ref ^ (unsigned char)all[i][k]) * 0x100000001b3ull;
    cr_assert_eq(h, ref);
    cr_assert_eq(attn_parallel_hash(NULL), ATTN_HASH64_INIT);
}

Test(image_run, config_file, .init = mkdir_tmp, .fini = rm_tmp)
{
    attn_image_train_config c;
    attn_image_train_defaults(&c);
    int64_t n = 0;
    const char *p = put_file("i.json", "{\"pool\": \"mean\", \"pos\": \"sincos\", \"layers\": 3, \"hflip\": false, "
                                         "\"train_images\": 900}");
    cr_assert_eq(attn_image_train_config_load(p, &c, &n, NULL), ATTN_OK, "%s", attn_last_error());
    cr_assert(c.model.pooling == ATTN_POOL_MEAN && c.model.pos == ATTN_VIT_POS_SINCOS && c.model.num_layers == 3);
    cr_assert(c.hflip == 0 && n == 900 && c.batch == 128, "named keys set, the rest kept");
    cr_assert_eq(attn_image_train_check(&c, NULL), ATTN_OK);
    cr_assert_eq(attn_image_train_config_load(p, &c, NULL, NULL), ATTN_E_FORMAT, "train_images needs a place");
    cr_assert(strstr(attn_last_error(), "unknown key \"train_images\""), "%s", attn_last_error());
    cr_assert_eq(attn_image_train_config_load(put_file("j.json", "{\"pool\": \"max\"}"), &c, &n, NULL), ATTN_E_FORMAT);
    cr_assert(strstr(attn_last_error(), "must be one of cls|mean"), "%s", attn_last_error());
    cr_assert_eq(c.model.pooling, ATTN_POOL_MEAN, "kept on error");
    cr_assert_eq(attn_image_train_config_load(p, NULL, &n, NULL), ATTN_E_ARG);
}

Test(cls_run, data_checksum)
{
    int64_t off[] = {0, 2, 3};
    int32_t ids[] = {5, 6, 7}, lab[] = {0, 1}, ids2[] = {5, 6, 8}, lab2[] = {1, 1};
    attn_cls_data d = {.n = 2, .off = off, .ids = ids, .label = lab}, e = {.n = 2, .off = off, .ids = ids2, .label = lab},
                  f = {.n = 2, .off = off, .ids = ids, .label = lab2};
    const uint64_t h = attn_cls_data_hash(&d);
    uint64_t ref = attn_hash64(ATTN_HASH64_INIT, off, sizeof off);
    ref = attn_hash64(ref, ids, sizeof ids);
    cr_assert_eq(h, attn_hash64(ref, lab, sizeof lab));
    cr_assert_neq(h, attn_cls_data_hash(&e), "a token differs");
    cr_assert_neq(h, attn_cls_data_hash(&f), "a label differs");
    attn_cls_data empty = {0};
    cr_assert_eq(attn_cls_data_hash(&empty), ATTN_HASH64_INIT);
    cr_assert_eq(attn_cls_data_hash(NULL), ATTN_HASH64_INIT);
}

Test(machine, cpu_time_and_resettable_peak)
{
    double c0 = attn_cpu_seconds();
    volatile double x = 0;
    for (long i = 0; i < 20000000; i++) x += 1e-9 * (double)i;
    double c1 = attn_cpu_seconds();
    cr_assert(c1 - c0 > 0.001 && c1 - c0 < 10, "a busy loop took %g CPU s", c1 - c0);
    if (attn_rss_hwm_reset() != ATTN_OK) {
        cr_assert(strstr(attn_last_error(), "clear_refs"), "%s", attn_last_error());
        return; /* no reset on this kernel: nothing more to check */
    }
    double base = attn_rss_hwm_mb();
    size_t n = 96u << 20;
    volatile char *p = malloc(n);
    cr_assert_not_null(p);
    for (size_t i = 0; i < n; i += 4096) p[i] = 1; /* every page, through a volatile pointer */
    double peak = attn_rss_hwm_mb();
    free((char *)p);
    cr_assert(peak >= base + 90, "96 MB touched: VmHWM %g -> %g MB", base, peak);
    cr_assert_eq(attn_rss_hwm_reset(), ATTN_OK);
#ifndef __SANITIZE_ADDRESS__ /* ASan keeps freed memory in quarantine: the RSS does not fall */
    cr_assert(attn_rss_hwm_mb() < peak - 50, "after the reset the peak is today's, not the past's: %g MB",
              attn_rss_hwm_mb());
#endif
}

Test(dates, model_metadata_reopens)
{
    attn_seq2seq_config c = {.src_vocab = ATTN_ASCII_VOCAB, .tgt_vocab = ATTN_ASCII_VOCAB, .d_model = 8, .nhead = 2,
                             .num_encoder_layers = 1, .num_decoder_layers = 1, .dim_feedforward = 16, .max_len = 12,
                             .activation = ATTN_ACT_RELU, .norm_first = 1, .share_embeddings = 1,
                             .pad_id = ATTN_ASCII_PAD};
    attn_seq2seq *m = NULL;
    cr_assert_eq(attn_seq2seq_create(&c, 1, &m), ATTN_OK, "%s", attn_last_error());
    char buf[2048];
    const char *kv[64];
    cr_assert_eq(attn_dates_model_meta(m, 18446744073709551615ull, buf, sizeof buf, kv, 64), ATTN_OK, "%s",
                 attn_last_error());
    int found = 0;
    for (int i = 0; kv[i]; i += 2) {
        if (!strcmp(kv[i], "attn.dates.seed")) found += !strcmp(kv[i + 1], "18446744073709551615");
        if (!strcmp(kv[i], "attn.tokenizer")) found += !strcmp(kv[i + 1], "chars-ascii");
        if (!strcmp(kv[i], "attn.task")) found += !strcmp(kv[i + 1], "dates");
    }
    cr_assert_eq(found, 3);
    /* the configuration in the metadata reads back */
    unsigned char *bytes = NULL;
    attn_st_writer *w = NULL;
    cr_assert_eq(attn_st_writer_create(&w), ATTN_OK);
    for (int i = 0; kv[i]; i += 2) cr_assert_eq(attn_st_writer_set_metadata(w, kv[i], kv[i + 1]), ATTN_OK);
    int64_t size = 0;
    cr_assert_eq(attn_st_writer_size(w, &size), ATTN_OK);
    bytes = malloc((size_t)size);
    cr_assert_eq(attn_st_writer_serialize(w, bytes, size), ATTN_OK);
    attn_st_reader *r = NULL;
    attn_seq2seq_config back;
    cr_assert_eq(attn_st_open_memory(bytes, (size_t)size, &r), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(attn_seq2seq_config_from_reader(r, &back), ATTN_OK, "%s", attn_last_error());
    cr_assert(back.d_model == 8 && back.max_len == 12 && back.pad_id == ATTN_ASCII_PAD);
    attn_st_close(r);
    attn_st_writer_free(w);
    free(bytes);
    cr_assert_eq(attn_dates_model_meta(m, 1, buf, sizeof buf, kv, 15), ATTN_E_ARG);
    cr_assert_eq(attn_dates_model_meta(m, 1, buf, 24, kv, 64), ATTN_E_ARG);
    cr_assert_eq(attn_dates_model_meta(NULL, 1, buf, sizeof buf, kv, 64), ATTN_E_ARG);
    attn_seq2seq_free(m);
}
