/* test_open.c — loading model files as untrusted input: attn_<model>_open against the model
 * that was saved (same weights, same outputs, no gradient buffers), configurations that do not
 * match the tensors (refused before anything is allocated, with the tensor named), strictly
 * parsed numbers, gradients allocated on first need, and the base64 codec (RFC 4648's
 * vectors). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attn.h"
#include "test_tmp.h"

static char *tmp(const char *name) { return test_tmp_path(name); }

static attn_st_reader *reopen(const char *path)
{
    attn_st_reader *st;
    cr_assert_eq(attn_st_open(path, &st), ATTN_OK, "%s", attn_last_error());
    return st;
}

/* Save P with the metadata kv[] (NULL-terminated) plus extra key/value (may be NULL). */
static void save(const attn_params *P, const char *path, const char **kv, int n, const char *key,
                 const char *value)
{
    const char *all[80];
    int m = 0;
    for (int i = 0; i < n; i += 2) {
        if (key && !strcmp(kv[i], key)) continue;
        all[m++] = kv[i], all[m++] = kv[i + 1];
    }
    if (key && value) all[m++] = key, all[m++] = value;
    all[m] = NULL;
    cr_assert_eq(attn_checkpoint_save(P, path, all), ATTN_OK, "%s", attn_last_error());
}

static void expect_same_params(const attn_params *a, const attn_params *b)
{
    cr_assert_eq(attn_params_count(a), attn_params_count(b));
    for (int i = 0; i < attn_params_count(a); i++) {
        const attn_param *p = attn_params_at(a, i), *q = attn_params_find(b, p->name);
        cr_assert_not_null(q, "%s missing", p->name);
        cr_expect_eq(p->numel, q->numel);
        cr_expect_eq(memcmp(p->data, q->data, (size_t)p->numel * 4), 0, "%s differs", p->name);
        cr_expect_null(q->grad, "%s: an opened model has a gradient buffer", q->name);
    }
}

static void expect_error(int st, int code, const char *needle)
{
    cr_expect_eq(st, code, "status %d, expected %d (%s)", st, code, attn_last_error());
    cr_expect(strstr(attn_last_error(), needle) != NULL, "message \"%s\" lacks \"%s\"",
              attn_last_error(), needle);
}

static attn_classifier_config cls_cfg(int64_t classes)
{
    return (attn_classifier_config){.vocab = 13, .d_model = 8, .nhead = 2, .num_layers = 2,
                                    .dim_feedforward = 12, .max_len = 9, .num_classes = classes,
                                    .activation = ATTN_ACT_GELU, .norm_first = 1,
                                    .pooling = ATTN_POOL_MEAN, .pad_id = 0};
}

/* logits of a fixed batch, evaluation mode */
static void cls_logits(const attn_classifier *m, float *out)
{
    attn_tape *t;
    attn_tape_config tc = {.num_threads = 1};
    cr_assert_eq(attn_tape_create(&tc, &t), ATTN_OK);
    attn_tape_set_training(t, 0);
    int32_t ids[2 * 5] = {3, 4, 5, 0, 0, 7, 8, 9, 10, 11};
    attn_var *z;
    cr_assert_eq(attn_classifier_forward(t, m, ids, 2, 5, &z, NULL), ATTN_OK, "%s", attn_last_error());
    memcpy(out, z->data, (size_t)z->numel * sizeof *out);
    attn_tape_free(t);
}

Test(open, classifier_any_class_count_round_trip)
{
    const int64_t counts[] = {2, 3, 64, 4096};
    for (int k = 0; k < 4; k++) {
        attn_classifier_config c = cls_cfg(counts[k]);
        attn_classifier *a, *b;
        cr_assert_eq(attn_classifier_create(&c, 5, &a), ATTN_OK, "%s", attn_last_error());
        char buf[2048];
        const char *kv[64];
        int n = attn_classifier_config_to_meta(&c, buf, sizeof buf, kv, 64);
        cr_assert(n > 0);
        char *path = tmp("cls.safetensors");
        save(a->P, path, kv, n, NULL, NULL);
        attn_st_reader *st = reopen(path);
        cr_assert_eq(attn_classifier_open(st, &b), ATTN_OK, "%s", attn_last_error());
        attn_st_close(st);
        cr_expect_eq(b->cfg.num_classes, counts[k]);
        expect_same_params(a->P, b->P);
        float *za = malloc((size_t)(2 * counts[k]) * sizeof *za), *zb = malloc((size_t)(2 * counts[k]) * sizeof *zb);
        cls_logits(a, za);
        cls_logits(b, zb);
        cr_expect_eq(memcmp(za, zb, (size_t)(2 * counts[k]) * sizeof *za), 0, "%lld classes: logits differ",
                     (long long)counts[k]);
        for (int p = 0; p < attn_params_count(b->P); p++)
            cr_expect_null(attn_params_at(b->P, p)->grad, "inference allocated a gradient");
        free(za), free(zb);
        attn_classifier_free(a);
        attn_classifier_free(b);
    }
}

Test(open, seq2seq_gru_gpt_round_trip)
{
    char buf[2048];
    const char *kv[64];
    attn_seq2seq_config sc = {.src_vocab = 11, .tgt_vocab = 9, .d_model = 8, .nhead = 2,
                              .num_encoder_layers = 1, .num_decoder_layers = 2, .dim_feedforward = 12,
                              .max_len = 10, .activation = ATTN_ACT_RELU, .pad_id = 0,
                              .scale_embedding = 1};
    attn_seq2seq *s1, *s2;
    cr_assert_eq(attn_seq2seq_create(&sc, 3, &s1), ATTN_OK, "%s", attn_last_error());
    int n = attn_seq2seq_config_to_meta(&sc, buf, sizeof buf, kv, 64);
    char *path = tmp("s2s.safetensors");
    save(s1->P, path, kv, n, NULL, NULL);
    attn_st_reader *st = reopen(path);
    cr_assert_eq(attn_seq2seq_open(st, &s2), ATTN_OK, "%s", attn_last_error());
    attn_st_close(st);
    expect_same_params(s1->P, s2->P);
    cr_expect_eq(memcmp(s1->pos, s2->pos, (size_t)(sc.max_len * sc.d_model) * 4), 0);
    attn_seq2seq_free(s1), attn_seq2seq_free(s2);

    attn_gru_seq2seq_config gc = {.src_vocab = 11, .tgt_vocab = 9, .emb_size = 6, .enc_hidden = 5,
                                  .enc_layers = 2, .dec_hidden = 7, .attn_size = 4, .out_size = 6,
                                  .max_len = 10, .pad_id = 0};
    attn_gru_seq2seq *g1, *g2;
    cr_assert_eq(attn_gru_seq2seq_create(&gc, 3, &g1), ATTN_OK, "%s", attn_last_error());
    n = attn_gru_seq2seq_config_to_meta(&gc, buf, sizeof buf, kv, 64);
    save(g1->P, path, kv, n, NULL, NULL);
    st = reopen(path);
    cr_assert_eq(attn_gru_seq2seq_open(st, &g2), ATTN_OK, "%s", attn_last_error());
    attn_st_close(st);
    expect_same_params(g1->P, g2->P);
    attn_gru_seq2seq_free(g1), attn_gru_seq2seq_free(g2);

    attn_gpt_config pc = {.vocab = 17, .context = 8, .n_layer = 2, .n_head = 2, .d_model = 8};
    attn_gpt *p1, *p2;
    cr_assert_eq(attn_gpt_create(&pc, 3, &p1), ATTN_OK, "%s", attn_last_error());
    n = attn_gpt_config_to_meta(&pc, buf, sizeof buf, kv, 64);
    cr_assert(n > 0, "%s", attn_last_error());
    save(p1->P, path, kv, n, NULL, NULL);
    st = reopen(path);
    cr_assert_eq(attn_gpt_open(st, &p2), ATTN_OK, "%s", attn_last_error());
    attn_st_close(st);
    expect_same_params(p1->P, p2->P);
    cr_expect_eq(p2->head.weight, p2->wte.weight, "the head stays tied to wte");
    attn_gpt_free(p1), attn_gpt_free(p2);
}

/* The file: a few hundred bytes whose metadata asks for a 1 GiB model. */
Test(open, config_bigger_than_tensors_fails_fast_naming_the_tensor)
{
    attn_classifier_config c = cls_cfg(2), big = c;
    attn_classifier *a;
    cr_assert_eq(attn_classifier_create(&c, 1, &a), ATTN_OK);
    big.vocab = 16384, big.d_model = 16384, big.nhead = 16, big.dim_feedforward = 16384;
    char buf[2048];
    const char *kv[64];
    int n = attn_classifier_config_to_meta(&big, buf, sizeof buf, kv, 64);
    attn_params *P;
    cr_assert_eq(attn_params_create(0, &P), ATTN_OK);
    int64_t shape[1] = {4};
    cr_assert_eq(attn_params_add(P, NULL, "embed.weight", 1, shape, ATTN_INIT_ZEROS, 0, NULL), ATTN_OK);
    char *path = tmp("big.safetensors");
    save(P, path, kv, n, NULL, NULL);
    attn_params_free(P);
    attn_st_reader *st = reopen(path);
    attn_classifier *b = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int s = attn_classifier_open(st, &b);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    cr_expect_eq(s, ATTN_E_FORMAT, "%s", attn_last_error());
    cr_expect_null(b);
    cr_expect(ms < 50, "took %.1f ms", ms);
    cr_expect(strstr(attn_last_error(), "embed.weight") || strstr(attn_last_error(), "the file has"),
              "%s", attn_last_error());
    attn_st_close(st);

    /* the real tensors under a configuration that differs in one number each */
    n = attn_classifier_config_to_meta(&c, buf, sizeof buf, kv, 64);
    struct {
        const char *key, *value, *needle;
    } cases[] = {
        {"attn.config.num_classes", "3", "\"head.weight\" is [2, 8] in the file, the model needs [3, 8]"},
        {"attn.config.d_model", "16", "embed.weight"},
        {"attn.config.vocab", "14", "embed.weight"},
        {"attn.config.max_len", "10", "pos.weight"},
        {"attn.config.dim_feedforward", "13", "linear1"},
        {"attn.config.num_layers", "3", "layers.2."},
        {"attn.config.num_layers", "1000", "1000 layers"},
        {"attn.config.num_layers", "1", "the file has a tensor \"layers.1."},
        {"attn.config.norm_first", "0", "\"norm."},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        save(a->P, path, kv, n, cases[i].key, cases[i].value);
        st = reopen(path);
        expect_error(attn_classifier_open(st, &b), ATTN_E_FORMAT, cases[i].needle);
        cr_expect_null(b);
        attn_st_close(st);
    }
    attn_classifier_free(a);
}

Test(open, strict_numbers)
{
    attn_classifier_config c = cls_cfg(2);
    attn_classifier *a, *b;
    cr_assert_eq(attn_classifier_create(&c, 1, &a), ATTN_OK);
    char buf[2048];
    const char *kv[64];
    int n = attn_classifier_config_to_meta(&c, buf, sizeof buf, kv, 64);
    const char *bad_int[] = {" 8", "+8", "8 ", "0x8", "8.0", "8e0", "", "-", "08x", "9223372036854775808",
                             "1e300", "inf", "nan"};
    char *path = tmp("num.safetensors");
    for (size_t i = 0; i < sizeof bad_int / sizeof bad_int[0]; i++) {
        save(a->P, path, kv, n, "attn.config.d_model", bad_int[i]);
        attn_st_reader *st = reopen(path);
        expect_error(attn_classifier_open(st, &b), ATTN_E_FORMAT, "attn.config.d_model");
        attn_st_close(st);
    }
    const char *bad_real[] = {"inf", "nan", "0x1p-3", " 0.1", "0.1 ", "1e", ".", "-0.1", "1e-999999"};
    for (size_t i = 0; i < sizeof bad_real / sizeof bad_real[0]; i++) {
        save(a->P, path, kv, n, "attn.config.dropout", bad_real[i]);
        attn_st_reader *st = reopen(path);
        cr_expect_neq(attn_classifier_open(st, &b), ATTN_OK, "dropout \"%s\" accepted", bad_real[i]);
        attn_st_close(st);
    }
    const char *good_real[] = {"0.25", "2.5e-1", ".25", "0"};
    for (size_t i = 0; i < sizeof good_real / sizeof good_real[0]; i++) {
        save(a->P, path, kv, n, "attn.config.dropout", good_real[i]);
        attn_st_reader *st = reopen(path);
        cr_expect_eq(attn_classifier_open(st, &b), ATTN_OK, "dropout \"%s\": %s", good_real[i],
                     attn_last_error());
        attn_classifier_free(b);
        attn_st_close(st);
    }
    attn_classifier_free(a);
}

/* An opened model trains exactly as the created one it was saved from: gradients come with the
 * first backward or the optimiser. */
Test(open, gradients_allocated_on_first_need)
{
    attn_classifier_config c = cls_cfg(3);
    attn_classifier *a, *b;
    cr_assert_eq(attn_classifier_create(&c, 9, &a), ATTN_OK);
    cr_expect_null(attn_params_at(a->P, 0)->grad, "a fresh model has no gradient buffer");
    char buf[2048];
    const char *kv[64];
    int n = attn_classifier_config_to_meta(&c, buf, sizeof buf, kv, 64);
    char *path = tmp("train.safetensors");
    save(a->P, path, kv, n, NULL, NULL);
    attn_st_reader *st = reopen(path);
    cr_assert_eq(attn_classifier_open(st, &b), ATTN_OK, "%s", attn_last_error());
    attn_st_close(st);
    attn_classifier *m[2] = {a, b};
    attn_optim_config oc = {.kind = ATTN_OPTIM_ADAMW, .weight_decay = 0.01f};
    for (int k = 0; k < 2; k++) {
        attn_tape *t;
        attn_tape_config tc = {.num_threads = 1, .seed = 4};
        cr_assert_eq(attn_tape_create(&tc, &t), ATTN_OK);
        int32_t ids[2 * 5] = {3, 4, 5, 0, 0, 7, 8, 9, 10, 11};
        attn_var *z;
        cr_assert_eq(attn_classifier_forward(t, m[k], ids, 2, 5, &z, NULL), ATTN_OK);
        if (k == 1) { /* backward before any optimiser: the buffers it adds into appear, zeroed first */
            cr_assert_eq(attn_tape_backward(t, z, NULL), ATTN_OK, "%s", attn_last_error());
            cr_expect_not_null(m[k]->head.weight->grad);
            attn_params_zero_grad(m[k]->P);
            cr_assert_eq(attn_tape_reset(t), ATTN_OK);
            cr_assert_eq(attn_classifier_forward(t, m[k], ids, 2, 5, &z, NULL), ATTN_OK);
        }
        attn_optim *o;
        cr_assert_eq(attn_optim_create(m[k]->P, &oc, &o), ATTN_OK);
        for (int p = 0; p < attn_params_count(m[k]->P); p++)
            cr_expect_not_null(attn_params_at(m[k]->P, p)->grad, "the optimiser needs every gradient");
        cr_assert_eq(attn_tape_backward(t, z, NULL), ATTN_OK, "%s", attn_last_error());
        cr_assert_eq(attn_optim_step(o, 1e-2f), ATTN_OK);
        attn_optim_free(o);
        attn_tape_free(t);
    }
    for (int p = 0; p < attn_params_count(a->P); p++) {
        const attn_param *x = attn_params_at(a->P, p), *y = attn_params_at(b->P, p);
        cr_expect_eq(memcmp(x->data, y->data, (size_t)x->numel * 4), 0, "%s after a step", x->name);
    }
    attn_classifier_free(a);
    attn_classifier_free(b);
}

Test(open, errors)
{
    attn_classifier *b = (attn_classifier *)1;
    expect_error(attn_classifier_open(NULL, &b), ATTN_E_ARG, "st is NULL");
    expect_error(attn_seq2seq_open(NULL, NULL), ATTN_E_ARG, "NULL");
    expect_error(attn_gru_seq2seq_open(NULL, NULL), ATTN_E_ARG, "NULL");
    expect_error(attn_gpt_open(NULL, NULL), ATTN_E_ARG, "NULL");
    /* a file of another model: its configuration is missing */
    attn_params *P;
    cr_assert_eq(attn_params_create(0, &P), ATTN_OK);
    int64_t shape[1] = {4};
    cr_assert_eq(attn_params_add(P, NULL, "x", 1, shape, ATTN_INIT_ZEROS, 0, NULL), ATTN_OK);
    char *path = tmp("none.safetensors");
    const char *none[] = {NULL};
    save(P, path, none, 0, NULL, NULL);
    attn_params_free(P);
    attn_st_reader *st = reopen(path);
    expect_error(attn_classifier_open(st, &b), ATTN_E_FORMAT, "attn.config.");
    cr_expect_null(b);
    attn_st_close(st);
}

/* ---- base64 ------------------------------------------------------------------------------ */

Test(base64, rfc4648_vectors_and_round_trip)
{
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char *e;
        cr_assert_eq(attn_base64_encode(plain[i], strlen(plain[i]), &e), ATTN_OK);
        cr_expect_str_eq(e, coded[i]);
        unsigned char *d;
        size_t n;
        cr_assert_eq(attn_base64_decode(e, strlen(e), &d, &n), ATTN_OK, "%s", attn_last_error());
        cr_expect_eq(n, strlen(plain[i]));
        cr_expect_eq(memcmp(d, plain[i], n), 0);
        free(e), free(d);
    }
    unsigned char all[256];
    for (int i = 0; i < 256; i++) all[i] = (unsigned char)(255 - i);
    for (size_t len = 0; len <= 256; len += 1 + len / 7) {
        char *e;
        unsigned char *d;
        size_t n;
        cr_assert_eq(attn_base64_encode(all, len, &e), ATTN_OK);
        cr_assert_eq(attn_base64_decode(e, strlen(e), &d, &n), ATTN_OK, "%s", attn_last_error());
        cr_expect_eq(n, len);
        cr_expect_eq(memcmp(d, all, len), 0, "length %zu", len);
        free(e), free(d);
    }
}

Test(base64, strict_decoding)
{
    const char *bad[] = {"Zg=", "Zh==", "Zm9=", "Zm9v\n", "Zm=v", "Z===", "====", "Zm9-", "Zm9_",
                         "Zg==Zg==", " Zm9", "Zm9v Zm9v", "Zm\0v"};
    const size_t len[] = {3, 4, 4, 5, 4, 4, 4, 4, 4, 8, 4, 9, 4};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        unsigned char *d = (unsigned char *)1;
        size_t n = 7;
        cr_expect_eq(attn_base64_decode(bad[i], len[i], &d, &n), ATTN_E_FORMAT, "case %zu accepted", i);
        cr_expect_null(d);
        cr_expect_eq(n, 0);
        cr_expect(strstr(attn_last_error(), "base64") != NULL, "%s", attn_last_error());
    }
    unsigned char *d;
    size_t n;
    expect_error(attn_base64_decode(NULL, 4, &d, &n), ATTN_E_ARG, "NULL");
    expect_error(attn_base64_decode("Zm9v", 4, NULL, &n), ATTN_E_ARG, "NULL");
    char *e;
    expect_error(attn_base64_encode(NULL, 3, &e), ATTN_E_ARG, "NULL");
}

/* ---- size limit of the data loaders ------------------------------------------------------ */

#include <zlib.h>

Test(data_limit, gzip_bomb_stops_at_the_limit)
{
    char *path = tmp("bomb.txt.gz");
    gzFile f = gzopen(path, "wb9");
    cr_assert_not_null(f);
    static char line[4096];
    memset(line, 'a', sizeof line - 1);
    line[sizeof line - 1] = '\n';
    for (int i = 0; i < 2048; i++) cr_assert_eq(gzwrite(f, line, sizeof line), (int)sizeof line); /* 8 MiB */
    cr_assert_eq(gzclose(f), Z_OK);
    size_t old = attn_data_set_max_bytes((size_t)1 << 20);
    cr_expect_eq(old, ATTN_DATA_MAX_BYTES);
    attn_parallel *p = NULL;
    expect_error(attn_lines_load(path, &p), ATTN_E_FORMAT, "more than 1048576 bytes once decompressed");
    cr_expect_null(p);
    attn_data_set_max_bytes(((size_t)8 << 20) - 1); /* one byte short */
    expect_error(attn_lines_load(path, &p), ATTN_E_FORMAT, "more than 8388607 bytes");
    attn_data_set_max_bytes((size_t)8 << 20); /* exactly the file's size: accepted */
    cr_expect_eq(attn_lines_load(path, &p), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(p ? p->n : 0, 2048);
    attn_parallel_free(p);
    cr_expect_eq(attn_data_set_max_bytes(0), (size_t)8 << 20);
}

/* review names in an ids file are numbers checked for range (sscanf's %ld overflowed) */
Test(data_limit, imdb_ids_out_of_range)
{
    char *tsv = tmp("r.tsv"), *ids = tmp("r.ids");
    FILE *f = fopen(tsv, "w");
    cr_assert_not_null(f);
    fputs("1\tgood\n", f);
    fclose(f);
    const char *bad[] = {"pos/99999999999999999999999_9\ttt1\n", "pos/1_99999999999999999999\ttt1\n",
                         "pos/-1_9\ttt1\n", "pos/1_11\ttt1\n", "pos/ 1_9\ttt1\n", "pos/1_9x\ttt1\n",
                         "pos/1__9\ttt1\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f = fopen(ids, "w");
        cr_assert_not_null(f);
        fputs(bad[i], f);
        fclose(f);
        attn_imdb *d = NULL;
        cr_expect_eq(attn_imdb_load(tsv, ids, &d), ATTN_E_FORMAT, "case %zu: %s", i, attn_last_error());
        cr_expect_null(d);
    }
    f = fopen(ids, "w");
    fputs("pos/12_10\ttt0000001\n", f);
    fclose(f);
    attn_imdb *d = NULL;
    cr_assert_eq(attn_imdb_load(tsv, ids, &d), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(d->rating[0], 10);
    attn_imdb_free(d);
}
