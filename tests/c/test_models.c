/* test_models.c — checkpoints of parameter tables and optimiser state, the seq2seq
 * configuration as metadata, the models' error paths, and the date task's generator
 * (tools/attn/dates.c is compiled into this test: it depends only on attn_philox_uniform). */
#include <criterion/criterion.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attn.h"
#include "test_tmp.h"


static char *tmp_path(const char *name) { return test_tmp_path(name); }

static attn_seq2seq_config small_cfg(void)
{
    return (attn_seq2seq_config){.src_vocab = 11,
                                 .tgt_vocab = 9,
                                 .d_model = 16,
                                 .nhead = 2,
                                 .num_encoder_layers = 2,
                                 .num_decoder_layers = 1,
                                 .dim_feedforward = 24,
                                 .max_len = 10,
                                 .dropout = 0.125f,
                                 .activation = ATTN_ACT_GELU,
                                 .norm_first = 1,
                                 .share_embeddings = 0,
                                 .pad_id = 0};
}

static void expect_error(int st, int code, const char *needle)
{
    cr_expect_eq(st, code, "status %d, expected %d (%s)", st, code, attn_last_error());
    cr_expect(strstr(attn_last_error(), needle) != NULL, "message \"%s\" lacks \"%s\"",
              attn_last_error(), needle);
}

/* ---- checkpoints ------------------------------------------------------------------------------ */

Test(models_checkpoint, save_load_round_trip_is_bit_exact)
{
    attn_seq2seq_config c = small_cfg();
    attn_seq2seq *a, *b;
    cr_assert_eq(attn_seq2seq_create(&c, 1, &a), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(attn_seq2seq_create(&c, 2, &b), ATTN_OK, "%s", attn_last_error());
    /* values no initialiser gives: NaN payloads, denormals, -0 */
    attn_param *p0 = attn_params_at(a->P, 1);
    uint32_t odd[3] = {0x7fc01234u, 0x00000001u, 0x80000000u};
    memcpy(p0->data, odd, sizeof odd);
    const char *meta[] = {"k", "v", "attn.arch", "transformer-seq2seq", NULL};
    char *path = tmp_path("rt.safetensors");
    cr_assert_eq(attn_checkpoint_save(a->P, path, meta), ATTN_OK, "%s", attn_last_error());
    attn_st_reader *st;
    cr_assert_eq(attn_st_open(path, &st), ATTN_OK, "%s", attn_last_error());
    cr_expect_str_eq(attn_st_metadata(st, "k"), "v");
    cr_assert_eq(attn_checkpoint_load(b->P, st), ATTN_OK, "%s", attn_last_error());
    attn_st_close(st);
    cr_assert_eq(attn_params_count(a->P), attn_params_count(b->P));
    for (int i = 0; i < attn_params_count(a->P); i++) {
        attn_param *x = attn_params_at(a->P, i), *y = attn_params_at(b->P, i);
        cr_expect_str_eq(x->name, y->name);
        cr_expect_eq(memcmp(x->data, y->data, (size_t)x->numel * sizeof(float)), 0,
                     "%s differs after the round trip", x->name);
    }
    attn_seq2seq_free(a);
    attn_seq2seq_free(b);
}

static attn_params *table(const char *n1, int64_t r1, int64_t c1, const char *n2, int64_t r2,
                          int64_t c2)
{
    attn_params *P;
    cr_assert_eq(attn_params_create(3, &P), ATTN_OK);
    int64_t s1[2] = {r1, c1}, s2[2] = {r2, c2};
    if (n1) cr_assert_eq(attn_params_add(P, "", n1, 2, s1, ATTN_INIT_NORMAL, 1, NULL), ATTN_OK);
    if (n2) cr_assert_eq(attn_params_add(P, "", n2, 2, s2, ATTN_INIT_NORMAL, 1, NULL), ATTN_OK);
    return P;
}

Test(models_checkpoint, strict_load_names_the_tensor)
{
    attn_params *src = table("enc.w", 2, 3, "enc.b", 1, 3);
    char *path = tmp_path("strict.safetensors");
    cr_assert_eq(attn_checkpoint_save(src, path, NULL), ATTN_OK, "%s", attn_last_error());
    attn_st_reader *st;
    cr_assert_eq(attn_st_open(path, &st), ATTN_OK);

    attn_params *missing = table("enc.w", 2, 3, "enc.c", 1, 3); /* file lacks enc.c, has enc.b */
    attn_params *extra = table("enc.w", 2, 3, NULL, 0, 0);      /* file has enc.b the model lacks */
    attn_params *shape = table("enc.w", 3, 2, "enc.b", 1, 3);   /* enc.w transposed */
    attn_params *lacks = table("enc.w", 2, 3, "enc.b", 1, 3);
    attn_params *more = table("enc.w", 2, 3, "enc.b", 1, 3);
    int64_t s[1] = {4};
    cr_assert_eq(attn_params_add(more, "", "dec.z", 1, s, ATTN_INIT_ZEROS, 0, NULL), ATTN_OK);

    float before[6];
    memcpy(before, attn_params_at(shape, 1)->data, 3 * sizeof(float));
    expect_error(attn_checkpoint_load(missing, st), ATTN_E_FORMAT, "enc.b");
    expect_error(attn_checkpoint_load(extra, st), ATTN_E_FORMAT, "\"enc.b\"");
    expect_error(attn_checkpoint_load(shape, st), ATTN_E_FORMAT, "\"enc.w\"");
    cr_expect(strstr(attn_last_error(), "[2, 3]") && strstr(attn_last_error(), "[3, 2]"),
              "shape message: %s", attn_last_error());
    /* nothing was loaded by the failing call (the check runs before any read) */
    cr_expect_eq(memcmp(before, attn_params_at(shape, 1)->data, 3 * sizeof(float)), 0);
    expect_error(attn_checkpoint_load(more, st), ATTN_E_FORMAT, "\"dec.z\"");
    cr_expect_eq(attn_checkpoint_load(lacks, st), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(memcmp(attn_params_at(lacks, 0)->data, attn_params_at(src, 0)->data,
                        6 * sizeof(float)), 0);
    attn_st_close(st);
    attn_params *arr[] = {src, missing, extra, shape, lacks, more};
    for (int i = 0; i < 6; i++) attn_params_free(arr[i]);
}

Test(models_checkpoint, optimiser_state_round_trip)
{
    for (int kind = 0; kind < 3; kind++) {
        attn_params *P = table("a", 3, 4, "b", 1, 5), *Q = table("a", 3, 4, "b", 1, 5);
        attn_optim_config oc = {.kind = (attn_optim_kind)kind, .momentum = 0.9f,
                                .weight_decay = 0.01f};
        attn_optim *o, *q;
        cr_assert_eq(attn_optim_create(P, &oc, &o), ATTN_OK, "%s", attn_last_error());
        cr_assert_eq(attn_optim_create(Q, &oc, &q), ATTN_OK, "%s", attn_last_error());
        for (int step = 0; step < 3; step++) {
            for (int i = 0; i < 2; i++) {
                attn_param *p = attn_params_at(P, i);
                for (int64_t j = 0; j < p->numel; j++) p->grad[j] = sinf((float)(j + 7 * step + i));
            }
            cr_assert_eq(attn_optim_step(o, 0.01f), ATTN_OK);
        }
        char *path = tmp_path("run.safetensors");
        const char *meta[] = {"train.step", "3", NULL};
        cr_assert_eq(attn_optim_save(o, P, path, meta), ATTN_OK, "%s", attn_last_error());
        attn_st_reader *st;
        cr_assert_eq(attn_st_open(path, &st), ATTN_OK);
        cr_expect_str_eq(attn_st_metadata(st, "train.step"), "3");
        cr_assert_eq(attn_optim_load(q, Q, st), ATTN_OK, "%s", attn_last_error());
        attn_st_close(st);
        cr_expect_eq(attn_optim_steps(q), 3);
        for (int i = 0; i < 2; i++) {
            float *m1, *v1, *m2, *v2;
            cr_assert_eq(attn_optim_state(o, i, &m1, &v1), ATTN_OK);
            cr_assert_eq(attn_optim_state(q, i, &m2, &v2), ATTN_OK);
            int64_t n = attn_params_at(P, i)->numel;
            cr_expect_eq(!m1, !m2);
            cr_expect_eq(!v1, !v2);
            if (m1) cr_expect_eq(memcmp(m1, m2, (size_t)n * 4), 0, "kind %d state1 of %d", kind, i);
            if (v1) cr_expect_eq(memcmp(v1, v2, (size_t)n * 4), 0, "kind %d state2 of %d", kind, i);
            /* same parameters + same grads → the next step is identical */
            memcpy(attn_params_at(Q, i)->data, attn_params_at(P, i)->data, (size_t)n * 4);
            memcpy(attn_params_at(Q, i)->grad, attn_params_at(P, i)->grad, (size_t)n * 4);
        }
        cr_assert_eq(attn_optim_step(o, 0.01f), ATTN_OK);
        cr_assert_eq(attn_optim_step(q, 0.01f), ATTN_OK);
        for (int i = 0; i < 2; i++)
            cr_expect_eq(memcmp(attn_params_at(P, i)->data, attn_params_at(Q, i)->data,
                                (size_t)attn_params_at(P, i)->numel * 4), 0,
                         "kind %d: step after resume differs", kind);
        /* a model checkpoint is not an optimiser state; a different table is refused */
        char *mpath = tmp_path("model_only.safetensors");
        cr_assert_eq(attn_checkpoint_save(P, mpath, NULL), ATTN_OK);
        cr_assert_eq(attn_st_open(mpath, &st), ATTN_OK);
        cr_expect_neq(attn_optim_load(q, Q, st), ATTN_OK);
        attn_st_close(st);
        attn_params *R = table("a", 3, 4, "c", 1, 5);
        attn_optim *r;
        cr_assert_eq(attn_optim_create(R, &oc, &r), ATTN_OK);
        cr_assert_eq(attn_st_open(path, &st), ATTN_OK);
        if (kind != ATTN_OPTIM_SGD || oc.momentum > 0)
            expect_error(attn_optim_load(r, R, st), ATTN_E_FORMAT, "c.state1");
        attn_st_close(st);
        attn_optim_free(r), attn_params_free(R);
        attn_optim_free(o), attn_optim_free(q);
        attn_params_free(P), attn_params_free(Q);
    }
}

/* ---- the configuration as metadata --------------------------------------------------------- */

/* Write a checkpoint-like file with the metadata of c, key `bad` replaced by `value` (value
 * NULL: key dropped), and read the configuration back. */
static int config_via_file(const attn_seq2seq_config *c, const char *bad, const char *value,
                           attn_seq2seq_config *out)
{
    char buf[2048];
    const char *kv[64], *kv2[64];
    int n = attn_seq2seq_config_to_meta(c, buf, sizeof buf, kv, 64);
    cr_assert(n > 0, "%s", attn_last_error());
    int m = 0;
    char key[96] = "";
    if (bad) snprintf(key, sizeof key, "attn.config.%s", bad);
    for (int i = 0; i < n; i += 2) {
        if (bad && !strcmp(kv[i], key)) {
            if (!value) continue;
            kv2[m++] = kv[i], kv2[m++] = value;
        } else {
            kv2[m++] = kv[i], kv2[m++] = kv[i + 1];
        }
    }
    kv2[m] = NULL;
    attn_params *P = table("x", 1, 1, NULL, 0, 0);
    char *path = tmp_path("cfg.safetensors");
    cr_assert_eq(attn_checkpoint_save(P, path, kv2), ATTN_OK, "%s", attn_last_error());
    attn_params_free(P);
    attn_st_reader *st;
    cr_assert_eq(attn_st_open(path, &st), ATTN_OK);
    int s = attn_seq2seq_config_from_reader(st, out);
    attn_st_close(st);
    return s;
}

static void expect_same_cfg(const attn_seq2seq_config *a, const attn_seq2seq_config *b)
{
    cr_expect_eq(a->src_vocab, b->src_vocab);
    cr_expect_eq(a->tgt_vocab, b->tgt_vocab);
    cr_expect_eq(a->d_model, b->d_model);
    cr_expect_eq(a->nhead, b->nhead);
    cr_expect_eq(a->num_encoder_layers, b->num_encoder_layers);
    cr_expect_eq(a->num_decoder_layers, b->num_decoder_layers);
    cr_expect_eq(a->dim_feedforward, b->dim_feedforward);
    cr_expect_eq(a->max_len, b->max_len);
    cr_expect_eq(memcmp(&a->dropout, &b->dropout, sizeof(float)), 0, "dropout %.9g vs %.9g",
                 (double)a->dropout, (double)b->dropout);
    cr_expect_eq(a->activation, b->activation);
    cr_expect_eq(a->norm_first, b->norm_first);
    cr_expect_eq(a->share_embeddings, b->share_embeddings);
    cr_expect_eq(a->pad_id, b->pad_id);
}

Test(models_config, meta_round_trip)
{
    attn_seq2seq_config c = small_cfg(), d;
    c.dropout = 0.1f; /* not exact in binary: must come back as the same float */
    cr_assert_eq(config_via_file(&c, NULL, NULL, &d), ATTN_OK, "%s", attn_last_error());
    expect_same_cfg(&c, &d);
    c.share_embeddings = 1, c.tgt_vocab = c.src_vocab, c.norm_first = 0, c.pad_id = 3;
    c.activation = ATTN_ACT_GELU_TANH, c.num_encoder_layers = 0;
    cr_assert_eq(config_via_file(&c, NULL, NULL, &d), ATTN_OK, "%s", attn_last_error());
    expect_same_cfg(&c, &d);
}

Test(models_config, meta_small_buffers_fail)
{
    attn_seq2seq_config c = small_cfg();
    char buf[2048];
    const char *kv[64];
    expect_error(attn_seq2seq_config_to_meta(&c, buf, sizeof buf, kv, 10), ATTN_E_ARG, "kv_cap");
    expect_error(attn_seq2seq_config_to_meta(&c, buf, 40, kv, 64), ATTN_E_ARG, "buffer");
}

Test(models_config, bad_metadata_is_rejected)
{
    attn_seq2seq_config c = small_cfg(), d;
    struct {
        const char *key, *value, *needle;
    } cases[] = {
        {"nhead", NULL, "attn.config.nhead"},          /* missing */
        {"nhead", "3", "invalid configuration"},        /* 16 % 3 != 0 */
        {"nhead", "two", "attn.config.nhead"},          /* not a number */
        {"nhead", "2x", "attn.config.nhead"},           /* trailing garbage */
        {"nhead", "", "attn.config.nhead"},             /* empty */
        {"d_model", "16.5", "attn.config.d_model"},     /* not an integer */
        {"d_model", "-16", "attn.config.d_model"},      /* negative */
        {"max_len", "1e12", "attn.config.max_len"},     /* huge */
        {"src_vocab", "nan", "attn.config.src_vocab"},  /* NaN */
        {"dropout", "1.5", "attn.config.dropout"},      /* outside [0, 1] */
        {"dropout", "1", "dropout"},                    /* dropout must be < 1 */
        {"activation", "7", "attn.config.activation"},  /* unknown activation */
        {"norm_first", "2", "attn.config.norm_first"},
        {"pad_id", "11", "pad_id"},                     /* outside the vocabularies */
        {"share_embeddings", "1", "shared embeddings"}, /* 11 != 9 */
        {"num_decoder_layers", "0", "invalid configuration"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int s = config_via_file(&c, cases[i].key, cases[i].value, &d);
        cr_expect_neq(s, ATTN_OK, "%s = %s accepted", cases[i].key,
                      cases[i].value ? cases[i].value : "(missing)");
        cr_expect(strstr(attn_last_error(), cases[i].needle) != NULL,
                  "%s = %s: message \"%s\" lacks \"%s\"", cases[i].key,
                  cases[i].value ? cases[i].value : "(missing)", attn_last_error(),
                  cases[i].needle);
    }
}

/* ---- model error paths ---------------------------------------------------------------------- */

Test(models_errors, bad_configurations)
{
    attn_seq2seq *m = (attn_seq2seq *)1;
    attn_seq2seq_config c = small_cfg();
    c.nhead = 3;
    expect_error(attn_seq2seq_create(&c, 0, &m), ATTN_E_ARG, "invalid configuration");
    cr_expect_null(m);
    c = small_cfg(), c.pad_id = 9;
    expect_error(attn_seq2seq_create(&c, 0, &m), ATTN_E_ARG, "pad_id");
    c = small_cfg(), c.pad_id = -1;
    expect_error(attn_seq2seq_create(&c, 0, &m), ATTN_E_ARG, "pad_id");
    c = small_cfg(), c.share_embeddings = 1;
    expect_error(attn_seq2seq_create(&c, 0, &m), ATTN_E_ARG, "shared embeddings");
    c = small_cfg(), c.dropout = 1.0f;
    expect_error(attn_seq2seq_create(&c, 0, &m), ATTN_E_ARG, "dropout");
    c = small_cfg(), c.dropout = NAN;
    expect_error(attn_seq2seq_create(&c, 0, &m), ATTN_E_ARG, "dropout");
    c = small_cfg(), c.max_len = 0;
    expect_error(attn_seq2seq_create(&c, 0, &m), ATTN_E_ARG, "max_len");
    c = small_cfg(), c.d_model = 0;
    expect_error(attn_seq2seq_create(&c, 0, &m), ATTN_E_ARG, "d_model");
    c = small_cfg(), c.activation = (attn_activation)9;
    cr_expect_neq(attn_seq2seq_create(&c, 0, &m), ATTN_OK, "activation 9 accepted");
    expect_error(attn_seq2seq_create(NULL, 0, &m), ATTN_E_ARG, "attn_seq2seq_create");

    attn_gpt *g = (attn_gpt *)1;
    attn_gpt_config gc = {.vocab = 10, .context = 8, .n_layer = 1, .n_head = 3, .d_model = 16};
    expect_error(attn_gpt_create(&gc, 0, &g), ATTN_E_ARG, "invalid configuration");
    cr_expect_null(g);
    gc.n_head = 2, gc.dropout = -0.5f;
    expect_error(attn_gpt_create(&gc, 0, &g), ATTN_E_ARG, "dropout");
    gc.dropout = 0, gc.context = 0;
    expect_error(attn_gpt_create(&gc, 0, &g), ATTN_E_ARG, "context");
}

Test(models_errors, ids_and_lengths)
{
    attn_seq2seq_config c = small_cfg();
    attn_seq2seq *m;
    cr_assert_eq(attn_seq2seq_create(&c, 0, &m), ATTN_OK, "%s", attn_last_error());
    attn_tape *t;
    attn_tape_config tc = {.num_threads = 1};
    cr_assert_eq(attn_tape_create(&tc, &t), ATTN_OK);
    int32_t src[2 * 12], tgt[2 * 12];
    for (int i = 0; i < 24; i++) src[i] = 1 + i % 10, tgt[i] = 1 + i % 8;
    attn_var *mem, *logits;
    cr_assert_eq(attn_seq2seq_encode(t, m, src, 2, 4, &mem), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(attn_seq2seq_decode(t, m, mem, src, 4, tgt, 3, &logits), ATTN_OK, "%s",
                 attn_last_error());
    cr_expect_eq(logits->ndim, 3);
    cr_expect_eq(logits->shape[0], 2);
    cr_expect_eq(logits->shape[1], 3);
    cr_expect_eq(logits->shape[2], 9);
    /* longer than max_len (10) */
    expect_error(attn_seq2seq_encode(t, m, src, 2, 11, &mem), ATTN_E_ARG, "max_len");
    cr_assert_eq(attn_seq2seq_encode(t, m, src, 2, 4, &mem), ATTN_OK);
    expect_error(attn_seq2seq_decode(t, m, mem, src, 4, tgt, 11, &logits), ATTN_E_ARG, "max_len");
    /* ids outside the vocabularies: source 11, target 9 */
    src[5] = 11;
    expect_error(attn_seq2seq_encode(t, m, src, 2, 4, &mem), ATTN_E_ARG, "token id 11");
    src[5] = -1;
    expect_error(attn_seq2seq_encode(t, m, src, 2, 4, &mem), ATTN_E_ARG, "token id -1");
    src[5] = 2;
    cr_assert_eq(attn_seq2seq_encode(t, m, src, 2, 4, &mem), ATTN_OK);
    tgt[4] = 9; /* valid source id, not a target id */
    expect_error(attn_seq2seq_decode(t, m, mem, src, 4, tgt, 3, &logits), ATTN_E_ARG, "token id 9");
    tgt[4] = 1;
    /* memory of the wrong length / empty batches */
    expect_error(attn_seq2seq_decode(t, m, mem, src, 5, tgt, 3, &logits), ATTN_E_SHAPE, "memory");
    expect_error(attn_seq2seq_decode(t, m, mem, src, 4, tgt, 0, &logits), ATTN_E_ARG, "empty");
    expect_error(attn_seq2seq_encode(t, m, src, 0, 4, &mem), ATTN_E_ARG, "empty");
    expect_error(attn_seq2seq_encode(t, m, NULL, 1, 4, &mem), ATTN_E_ARG, "attn_seq2seq_encode");
    attn_seq2seq_free(m);

    for (int i = 0; i < 24; i++) src[i] = i % 10;
    attn_gpt *g;
    attn_gpt_config gc = {.vocab = 10, .context = 8, .n_layer = 1, .n_head = 2, .d_model = 16};
    cr_assert_eq(attn_gpt_create(&gc, 0, &g), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(attn_gpt_forward(t, g, src, 2, 8, &logits), ATTN_OK, "%s", attn_last_error());
    expect_error(attn_gpt_forward(t, g, src, 2, 9, &logits), ATTN_E_ARG, "context 8");
    src[3] = 10;
    expect_error(attn_gpt_forward(t, g, src, 2, 8, &logits), ATTN_E_ARG, "token id 10");
    attn_gpt_free(g);
    attn_tape_free(t);
}

/* ---- the date generator ----------------------------------------------------------------------- */

static int span_number(const char *s, int lo, int hi)
{
    int v = 0, any = 0;
    for (int i = lo; i < hi && isdigit((unsigned char)s[i]); i++) v = v * 10 + (s[i] - '0'), any = 1;
    return any ? v : -1;
}

Test(models_dates, generator_properties)
{
    int formats[ATTN_DATES_NFORMATS] = {0}, months[13] = {0}, years_lo = 9999, years_hi = 0;
    for (uint64_t i = 0; i < 4000; i++) {
        attn_dates_example a, b;
        attn_dates_generate(42, i, &a);
        attn_dates_generate(42, i, &b);
        cr_assert_eq(memcmp(&a, &b, sizeof a), 0, "example %llu not deterministic",
                     (unsigned long long)i);
        size_t n = strlen(a.src);
        cr_assert(n > 0 && n < ATTN_DATES_SRC_MAX, "%s", a.src);
        cr_assert(attn_dates_iso_valid(a.tgt), "target %s of \"%s\" is not a date", a.tgt, a.src);
        for (size_t k = 0; k < n; k++)
            cr_assert(a.src[k] >= 32 && a.src[k] <= 126, "non-printable in \"%s\"", a.src);
        int y, mo, d;
        cr_assert_eq(sscanf(a.tgt, "%d-%d-%d", &y, &mo, &d), 3);
        cr_assert(a.format >= 0 && a.format < ATTN_DATES_NFORMATS);
        formats[a.format]++, months[mo]++;
        years_lo = y < years_lo ? y : years_lo, years_hi = y > years_hi ? y : years_hi;
        for (int t = 0; t < ATTN_DATES_TGT_LEN; t++)
            cr_assert(a.align_lo[t] >= 0 && a.align_lo[t] <= a.align_hi[t] &&
                          a.align_hi[t] <= (int)n,
                      "alignment %d of \"%s\"", t, a.src);
        /* the aligned spans hold the fields: year digits, day number, month number or name */
        int dv = span_number(a.src, a.align_lo[8], a.align_hi[8]);
        cr_assert_eq(dv, d, "day span of \"%s\" (%s) reads %d", a.src, a.tgt, dv);
        int mv = span_number(a.src, a.align_lo[5], a.align_hi[5]);
        if (mv < 0) {
            const char *name = attn_dates_month_name(mo);
            for (int k = a.align_lo[5]; k < a.align_hi[5]; k++)
                cr_assert_eq(tolower((unsigned char)a.src[k]),
                             tolower((unsigned char)name[k - a.align_lo[5]]),
                             "month span of \"%s\" (%s)", a.src, a.tgt);
            cr_assert(a.align_hi[5] - a.align_lo[5] >= 3);
        } else {
            cr_assert_eq(mv, mo, "month span of \"%s\" (%s)", a.src, a.tgt);
        }
        int yv = span_number(a.src, a.align_lo[0], a.align_hi[0]);
        if (a.align_hi[0] - a.align_lo[0] == 2) {
            cr_assert_eq(yv, y % 100, "2-digit year of \"%s\"", a.src);
            cr_assert(y >= 1950 && y <= 2049);
        } else {
            cr_assert(y >= 1000 && y <= 2999);
            for (int t = 0; t < 4; t++)
                cr_assert_eq(a.src[a.align_lo[t]], a.tgt[t], "year digit %d of \"%s\"", t, a.src);
        }
        cr_assert_eq(a.align_lo[4], a.align_hi[4]);
        cr_assert_eq(a.align_lo[7], a.align_hi[7]);
        /* a weekday, where written, is the date's (checked with the C library's calendar) */
        struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = 12};
        time_t tt = timegm(&tm);
        struct tm back;
        gmtime_r(&tt, &back);
        const char *wd = attn_dates_day_name((back.tm_wday + 6) % 7);
        if (a.format == 0 || a.format == 9 || a.format == 13)
            cr_assert_eq(strncasecmp(a.src, wd, 3), 0, "\"%s\" is a %s", a.src, wd);
    }
    for (int f = 0; f < ATTN_DATES_NFORMATS; f++) cr_expect(formats[f] > 0, "format %d never drawn", f);
    for (int mo = 1; mo <= 12; mo++) cr_expect(months[mo] > 0, "month %d never drawn", mo);
    /* four-digit years span 1000–2999 (every digit varies); two-digit ones 1950–2049 */
    cr_expect_lt(years_lo, 1010);
    cr_expect_gt(years_hi, 2990);
    /* a different seed gives a different stream */
    attn_dates_example a, b;
    int same = 0;
    for (uint64_t i = 0; i < 50; i++) {
        attn_dates_generate(1, i, &a), attn_dates_generate(2, i, &b);
        same += !strcmp(a.src, b.src);
    }
    cr_expect(same < 10, "%d of 50 examples equal across seeds", same);
}

Test(models_dates, iso_validation)
{
    cr_expect(attn_dates_iso_valid("2024-02-29"));
    cr_expect(attn_dates_iso_valid("2000-02-29"));
    cr_expect(!attn_dates_iso_valid("1900-02-29"));
    cr_expect(!attn_dates_iso_valid("2023-02-29"));
    cr_expect(!attn_dates_iso_valid("2023-04-31"));
    cr_expect(!attn_dates_iso_valid("2023-13-01"));
    cr_expect(!attn_dates_iso_valid("2023-00-10"));
    cr_expect(!attn_dates_iso_valid("2023-1-010"));
    cr_expect(!attn_dates_iso_valid("2023-01-01x"));
    cr_expect(!attn_dates_iso_valid("2023/01/01"));
    cr_expect(!attn_dates_iso_valid(""));
}
