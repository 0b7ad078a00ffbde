/* test_view_models.c — a model's attention as a view (attn/analysis.h, attn/image.h): what each
 * record_ and _attention_view function puts in the view, checked against the recorder and the
 * model run by hand (same ids, same maps to the bit), the properties every map must have (rows
 * sum to 1, causal maps zero above the diagonal), the tokens and titles, and the refusal of bad
 * arguments with a message. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "attn.h"

/* Every map of v: rows sum to 1 (within 1e-5), decoder self-attention zero above the diagonal. */
static void expect_maps(const attn_attention_view *v)
{
    for (int k = 0; k < v->n_maps; k++) {
        const attn_attention_head *h = &v->maps[k];
        for (int i = 0; i < h->rows; i++) {
            double s = 0;
            for (int j = 0; j < h->cols; j++) {
                s += h->w[i * h->cols + j];
                if (h->kind == ATTN_ATTENTION_DECODER_SELF && j > i) cr_expect_eq(h->w[i * h->cols + j], 0.0f);
            }
            cr_expect_float_eq(s, 1.0, 1e-5, "map %d row %d sums to %g", k, i, s);
        }
    }
}

/* The maps of a and b are the same, bit for bit. */
static void expect_same_maps(const attn_attention_view *a, const attn_attention_view *b)
{
    cr_assert_eq(a->n_maps, b->n_maps);
    for (int k = 0; k < a->n_maps; k++) {
        const attn_attention_head *x = &a->maps[k], *y = &b->maps[k];
        cr_assert(x->kind == y->kind && x->layer == y->layer && x->head == y->head && x->rows == y->rows &&
                  x->cols == y->cols);
        cr_expect(!memcmp(x->w, y->w, (size_t)x->rows * x->cols * sizeof *x->w), "map %d differs", k);
    }
}

static attn_seq2seq *ascii_model(void)
{
    attn_seq2seq_config c = {.src_vocab = ATTN_ASCII_VOCAB, .tgt_vocab = ATTN_ASCII_VOCAB, .d_model = 16, .nhead = 2,
                             .num_encoder_layers = 1, .num_decoder_layers = 2, .dim_feedforward = 32,
                             .max_len = 24};
    attn_seq2seq *m = NULL;
    cr_assert_eq(attn_seq2seq_create(&c, 7, &m), 0, "%s", attn_last_error());
    return m;
}

Test(view_models, seq2seq_record_is_the_recorders_and_leaves_the_tape_as_it_was)
{
    attn_seq2seq *m = ascii_model();
    attn_tape *t = NULL;
    attn_tape_config tc = {0};
    cr_assert_eq(attn_tape_create(&tc, &t), 0);
    const int32_t src[4] = {40, 41, 42, 43}, tgt[3] = {ATTN_ASCII_BOS, 50, 51};
    const char *st[4] = {"a", "b", "c", "d"}, *tt[3] = {"x", "y", "z"};
    attn_attention_view *v = NULL, *w = NULL;
    cr_assert_eq(attn_attention_view_create(&v, NULL, st, 4, tt, 3), 0);
    attn_tape_set_training(t, 1);
    cr_assert_eq(attn_attention_view_record_seq2seq(v, t, m, src, tgt), 0, "%s", attn_last_error());
    cr_expect_eq(attn_tape_training(t), 1, "the caller's training flag is restored");
    cr_expect_eq(v->n_maps, 2 * 1 + 2 * 2 * 2); /* encoder 1 × 2 heads, decoder 2 × 2 self and cross */
    expect_maps(v);
    /* the recorder by hand, in evaluation mode: the same maps */
    attn_attention_record *rec = NULL;
    attn_var *mem, *logits;
    attn_tape_set_training(t, 0);
    cr_assert_eq(attn_tape_reset(t), 0);
    cr_assert_eq(attn_attention_record_create(t, &rec), 0);
    cr_assert_eq(attn_attention_record_watch_seq2seq(rec, m), 0);
    cr_assert_eq(attn_seq2seq_encode(t, m, src, 1, 4, &mem), 0);
    cr_assert_eq(attn_seq2seq_decode(t, m, mem, src, 4, tgt, 3, &logits), 0);
    attn_attention_record_stop(rec);
    cr_assert_eq(attn_attention_view_create(&w, NULL, st, 4, tt, 3), 0);
    cr_assert_eq(attn_attention_view_add_recorded(w, rec, 0), 0);
    expect_same_maps(v, w);
    attn_attention_record_free(rec);
    attn_attention_view_free(w);
    /* a temporary tape gives the same maps */
    cr_assert_eq(attn_attention_view_create(&w, NULL, st, 4, tt, 3), 0);
    cr_assert_eq(attn_attention_view_record_seq2seq(w, NULL, m, src, tgt), 0);
    expect_same_maps(v, w);
    attn_attention_view_free(w);
    /* refused: NULLs, a view without target tokens, one longer than the model's positions */
    cr_expect_eq(attn_attention_view_record_seq2seq(NULL, t, m, src, tgt), ATTN_E_ARG);
    cr_expect_eq(attn_attention_view_record_seq2seq(v, t, NULL, src, tgt), ATTN_E_ARG);
    cr_expect_eq(attn_attention_view_record_seq2seq(v, t, m, src, NULL), ATTN_E_ARG);
    cr_assert_eq(attn_attention_view_create(&w, NULL, st, 4, NULL, 0), 0);
    cr_expect_eq(attn_attention_view_record_seq2seq(w, t, m, src, tgt), ATTN_E_ARG);
    cr_expect(strstr(attn_last_error(), "0 target tokens; the model takes 1 to 24"), "%s", attn_last_error());
    attn_attention_view_free(w);
    const char *many[30];
    int32_t ids[30];
    for (int i = 0; i < 30; i++) many[i] = "a", ids[i] = 40;
    cr_assert_eq(attn_attention_view_create(&w, NULL, many, 30, tt, 3), 0);
    cr_expect_eq(attn_attention_view_record_seq2seq(w, t, m, ids, tgt), ATTN_E_ARG);
    attn_attention_view_free(w);
    attn_attention_view_free(v);
    attn_tape_free(t);
    attn_seq2seq_free(m);
}

Test(view_models, ascii_views_tokens_titles_alignment_and_errors)
{
    attn_seq2seq *m = ascii_model();
    attn_attention_view *v = NULL;
    cr_assert_eq(attn_seq2seq_ascii_attention_view(NULL, m, "abc", "xy", NULL, &v), 0, "%s", attn_last_error());
    cr_expect_str_eq(v->title, "abc -> xy");
    cr_assert(v->n_src == 3 && v->n_tgt == 2);
    cr_expect(!strcmp(v->src[2], "c") && !strcmp(v->tgt[0], "x") && !v->align);
    cr_expect_eq(v->n_maps, 10);
    expect_maps(v);
    attn_attention_view_free(v);
    /* no target: the model's own greedy output, as attn_seq2seq_generate gives it */
    const int32_t src[3] = {attn_ascii_id('a'), attn_ascii_id('b'), attn_ascii_id('c')};
    attn_generate_options o = {.bos_id = ATTN_ASCII_BOS, .eos_id = ATTN_ASCII_EOS, .max_new = 22};
    int32_t gen[32];
    int64_t len = 0;
    cr_assert_eq(attn_seq2seq_generate(m, NULL, src, 1, 3, &o, gen, 23, &len, NULL), 0);
    int st = attn_seq2seq_ascii_attention_view(NULL, m, "abc", NULL, NULL, &v);
    if (len == 0 || len + 1 >= 24) { /* an untrained model may say nothing: that is refused */
        cr_expect_eq(st, ATTN_E_ARG);
        cr_expect(strstr(attn_last_error(), "nothing to show"), "%s", attn_last_error());
    } else {
        cr_assert_eq(st, 0, "%s", attn_last_error());
        cr_assert_eq(v->n_tgt, len);
        for (int64_t i = 0; i < len; i++) cr_expect_eq(v->tgt[i][0], attn_ascii_char(gen[i]));
        attn_attention_view_free(v);
    }
    /* a date example: its characters and alignment, in both views */
    attn_dates_example ex;
    attn_dates_generate(3, 0, &ex);
    cr_assert_eq(attn_attention_view_from_dates(&ex, &v), 0, "%s", attn_last_error());
    char title[96];
    snprintf(title, sizeof title, "\"%s\" → %.10s", ex.src, ex.tgt);
    cr_expect_str_eq(v->title, title);
    cr_assert(v->n_src == (int)strlen(ex.src) && v->n_tgt == ATTN_DATES_TGT_LEN && v->align && v->n_maps == 0);
    for (int k = 0; k < ATTN_DATES_TGT_LEN; k++)
        cr_expect(v->align[k].lo == ex.align_lo[k] && v->align[k].hi == ex.align_hi[k] && v->tgt[k][0] == ex.tgt[k]);
    attn_attention_view_free(v);
    char tgt[ATTN_DATES_TGT_LEN + 1];
    memcpy(tgt, ex.tgt, ATTN_DATES_TGT_LEN), tgt[ATTN_DATES_TGT_LEN] = '\0';
    if (strlen(ex.src) < 23) {
        cr_assert_eq(attn_seq2seq_ascii_attention_view(NULL, m, ex.src, tgt, &ex, &v), 0, "%s", attn_last_error());
        cr_assert(v->align);
        cr_expect(v->align[4].lo == ex.align_lo[4] && v->align[4].hi == ex.align_hi[4]);
        attn_attention_view_free(v);
    }
    /* the user's mistakes, in words for the user */
    cr_expect_eq(attn_seq2seq_ascii_attention_view(NULL, m, "", "x", NULL, &v), ATTN_E_ARG);
    cr_expect_str_eq(attn_last_error(), "the input is empty: nothing to attend to");
    cr_expect_eq(attn_seq2seq_ascii_attention_view(NULL, m, "d\xc3\xada", "x", NULL, &v), ATTN_E_ARG);
    cr_expect_str_eq(attn_last_error(), "character 0xc3 at 1 is not in the model's vocabulary");
    cr_expect_eq(attn_seq2seq_ascii_attention_view(NULL, m, "aaaaaaaaaaaaaaaaaaaaaaaa", "x", NULL, &v), ATTN_E_ARG);
    cr_expect_str_eq(attn_last_error(), "input of 24 characters is longer than the model's 23");
    cr_expect_eq(attn_seq2seq_ascii_attention_view(NULL, m, "abc", "", NULL, &v), ATTN_E_ARG);
    cr_expect_eq(attn_seq2seq_ascii_attention_view(NULL, NULL, "abc", "x", NULL, &v), ATTN_E_ARG);
    cr_expect_eq(attn_seq2seq_ascii_attention_view(NULL, m, "abc", "x", NULL, NULL), ATTN_E_ARG);
    cr_expect(v == NULL);
    cr_expect_eq(attn_attention_view_from_dates(NULL, &v), ATTN_E_ARG);
    /* character views and titles */
    cr_assert_eq(attn_attention_view_create_chars(&v, "t", "ab", NULL), 0);
    cr_expect(v->n_src == 2 && v->n_tgt == 0 && !strcmp(v->src[1], "b"));
    cr_expect_eq(attn_attention_view_set_title(v, "\xff"), ATTN_E_FORMAT);
    cr_expect_str_eq(v->title, "t");
    cr_assert_eq(attn_attention_view_set_title(v, "new ✓"), 0);
    cr_expect_str_eq(v->title, "new ✓");
    cr_assert_eq(attn_attention_view_set_title(v, NULL), 0);
    cr_expect(v->title == NULL);
    cr_expect_eq(attn_attention_view_set_title(NULL, "x"), ATTN_E_ARG);
    attn_attention_view_free(v);
    cr_expect_eq(attn_attention_view_create_chars(&v, NULL, "\xff", NULL), ATTN_E_FORMAT);
    attn_seq2seq_free(m);
}

Test(view_models, gpt_labels_and_causal_maps)
{
    attn_gpt_config gc = {.vocab = 10, .context = 8, .n_layer = 2, .n_head = 2, .d_model = 16};
    attn_gpt *g = NULL;
    cr_assert_eq(attn_gpt_create(&gc, 1, &g), 0, "%s", attn_last_error());
    const int32_t ids[4] = {1, 2, 3, 4};
    const char *bytes[4] = {"ab", "\n", "\xc3", "\xc3\xa9"};
    const size_t len[4] = {2, 1, 1, 2};
    attn_attention_view *v = NULL;
    cr_assert_eq(attn_gpt_attention_view(NULL, g, ids, 4, bytes, len, "gpt", &v), 0, "%s", attn_last_error());
    cr_assert(v->n_src == 0 && v->n_tgt == 4 && v->n_maps == 4);
    cr_expect_str_eq(v->tgt[0], "ab");
    cr_expect_str_eq(v->tgt[1], "\\n");
    cr_expect_str_eq(v->tgt[2], "\\xc3"); /* the first byte of a character alone */
    cr_expect_str_eq(v->tgt[3], "é");
    for (int k = 0; k < 4; k++) cr_expect_eq(v->maps[k].kind, ATTN_ATTENTION_DECODER_SELF);
    expect_maps(v);
    /* the recorder by hand on the same ids: the same maps */
    attn_tape *t = NULL;
    attn_tape_config tc = {0};
    attn_attention_record *rec = NULL;
    attn_var *logits;
    attn_attention_view *w = NULL;
    cr_assert_eq(attn_tape_create(&tc, &t), 0);
    attn_tape_set_training(t, 0);
    cr_assert_eq(attn_attention_record_create(t, &rec), 0);
    cr_assert_eq(attn_attention_record_watch_gpt(rec, g), 0);
    cr_assert_eq(attn_gpt_forward(t, g, ids, 1, 4, &logits), 0);
    attn_attention_record_stop(rec);
    cr_assert_eq(attn_attention_view_create(&w, NULL, NULL, 0, (const char *const *)v->tgt, 4), 0);
    cr_assert_eq(attn_attention_view_add_recorded(w, rec, 0), 0);
    expect_same_maps(v, w);
    attn_attention_record_free(rec);
    attn_attention_view_free(w);
    attn_tape_free(t);
    attn_attention_view_free(v);
    cr_expect_eq(attn_gpt_attention_view(NULL, g, ids, 0, bytes, len, NULL, &v), ATTN_E_ARG);
    cr_expect_str_eq(attn_last_error(), "the input is 0 tokens: 1 to 8 wanted");
    int32_t many[9] = {0};
    const char *mb[9] = {"a", "a", "a", "a", "a", "a", "a", "a", "a"};
    const size_t ml[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    cr_expect_eq(attn_gpt_attention_view(NULL, g, many, 9, mb, ml, NULL, &v), ATTN_E_ARG);
    cr_expect_eq(attn_gpt_attention_view(NULL, g, ids, 4, NULL, len, NULL, &v), ATTN_E_ARG);
    cr_expect_eq(attn_gpt_attention_view(NULL, g, ids, 4, bytes, len, "\xff", &v), ATTN_E_FORMAT);
    cr_expect(v == NULL);
    attn_gpt_free(g);
}

Test(view_models, classifier_probabilities_are_the_forwards)
{
    attn_classifier_config cc = {.vocab = 10, .d_model = 16, .nhead = 2, .num_layers = 2, .dim_feedforward = 16,
                                 .max_len = 8, .num_classes = 3, .norm_first = 1};
    attn_classifier *m = NULL;
    cr_assert_eq(attn_classifier_create(&cc, 2, &m), 0, "%s", attn_last_error());
    const int32_t ids[5] = {1, 5, 2, 7, 3};
    const char *tok[5] = {"a", "b", "c", "d", "e"};
    attn_attention_view *v = NULL;
    cr_assert_eq(attn_attention_view_create(&v, NULL, tok, 5, NULL, 0), 0);
    double p[3];
    cr_assert_eq(attn_attention_view_record_classifier(v, NULL, m, ids, p), 0, "%s", attn_last_error());
    cr_expect_eq(v->n_maps, 4);
    for (int k = 0; k < v->n_maps; k++) cr_expect_eq(v->maps[k].kind, ATTN_ATTENTION_CLASSIFIER_SELF);
    expect_maps(v);
    /* the softmax of the plain forward's logits, in double */
    attn_tape *t = NULL;
    attn_tape_config tc = {0};
    attn_var *logits;
    cr_assert_eq(attn_tape_create(&tc, &t), 0);
    attn_tape_set_training(t, 0);
    cr_assert_eq(attn_classifier_forward(t, m, ids, 1, 5, &logits, NULL), 0);
    double mx = -INFINITY, s = 0;
    for (int j = 0; j < 3; j++) mx = fmax(mx, logits->data[j]);
    for (int j = 0; j < 3; j++) s += exp(logits->data[j] - mx);
    for (int j = 0; j < 3; j++) cr_expect_float_eq(p[j], exp(logits->data[j] - mx) / s, 1e-6);
    attn_attention_view_free(v);
    cr_assert_eq(attn_attention_view_create(&v, NULL, tok, 5, NULL, 0), 0);
    cr_assert_eq(attn_attention_view_record_classifier(v, t, m, ids, NULL), 0);
    cr_expect_eq(v->n_maps, 4);
    cr_expect_eq(attn_attention_view_record_classifier(v, t, NULL, ids, p), ATTN_E_ARG);
    attn_attention_view_free(v);
    cr_assert_eq(attn_attention_view_create(&v, NULL, NULL, 0, tok, 5), 0);
    cr_expect_eq(attn_attention_view_record_classifier(v, t, m, ids, p), ATTN_E_ARG);
    cr_expect(strstr(attn_last_error(), "0 source tokens"), "%s", attn_last_error());
    attn_attention_view_free(v);
    attn_tape_free(t);
    attn_classifier_free(m);
}

Test(view_models, gru_additive_attention_is_the_decoders)
{
    attn_gru_seq2seq_config c = {.src_vocab = 12, .tgt_vocab = 12, .emb_size = 8, .enc_hidden = 8, .enc_layers = 1,
                                 .dec_hidden = 8, .attn_size = 8, .out_size = 8, .max_len = 10, .pad_id = 0};
    attn_gru_seq2seq *m = NULL;
    cr_assert_eq(attn_gru_seq2seq_create(&c, 4, &m), 0, "%s", attn_last_error());
    const int32_t src[4] = {4, 5, 6, 3}, tgt[3] = {2, 7, 8};
    const char *st[4] = {"a", "b", "c", "</s>"}, *tt[3] = {"x", "y", "</s>"};
    attn_attention_view *v = NULL;
    cr_assert_eq(attn_attention_view_create(&v, NULL, st, 4, tt, 3), 0);
    cr_assert_eq(attn_attention_view_record_gru_seq2seq(v, NULL, m, src, tgt), 0, "%s", attn_last_error());
    cr_assert_eq(v->n_maps, 1);
    cr_expect(v->maps[0].kind == ATTN_ATTENTION_CROSS && v->maps[0].rows == 3 && v->maps[0].cols == 4);
    expect_maps(v);
    attn_tape *t = NULL;
    attn_tape_config tc = {0};
    attn_var *mem, *s0, *logits, *w = NULL;
    cr_assert_eq(attn_tape_create(&tc, &t), 0);
    attn_tape_set_training(t, 0);
    cr_assert_eq(attn_gru_seq2seq_encode(t, m, src, 1, 4, &mem, &s0), 0);
    cr_assert_eq(attn_gru_seq2seq_decode(t, m, mem, s0, src, 4, tgt, 3, &logits, &w), 0);
    cr_expect(!memcmp(w->data, v->maps[0].w, 12 * sizeof(float)));
    cr_expect_eq(attn_attention_view_record_gru_seq2seq(v, t, m, NULL, tgt), ATTN_E_ARG);
    attn_tape_free(t);
    attn_attention_view_free(v);
    attn_gru_seq2seq_free(m);
}

Test(view_models, image_view_tokens_maps_and_picture)
{
    attn_vit_config c = {.image_size = 8, .channels = 1, .patch_size = 4, .d_model = 16, .nhead = 2, .num_layers = 2,
                         .dim_feedforward = 16, .num_classes = 3, .pooling = ATTN_POOL_FIRST};
    attn_image_model im = {.mean = 0.3f, .std = 0.2f, .classes = 3};
    cr_assert_eq(attn_vit_create(&c, 5, &im.vit), 0, "%s", attn_last_error());
    uint8_t px[64];
    for (int i = 0; i < 64; i++) px[i] = (uint8_t)(i * 37 % 256);
    attn_attention_view *v = NULL;
    cr_assert_eq(attn_image_attention_view(&im, px, "img", &v), 0, "%s", attn_last_error());
    const int cls = im.vit->cls_token != NULL;
    cr_assert_eq(v->n_src, 4 + cls);
    cr_expect_str_eq(v->src[cls ? 0 : 3], cls ? "[cls]" : "r1c1");
    cr_expect_str_eq(v->src[cls + 1], "r0c1");
    cr_expect_eq(v->n_maps, 4);
    expect_maps(v);
    cr_assert(v->image && v->image->width == 8 && v->image->rows == 2 && v->image->layers == 2 && v->image->heads == 2);
    cr_expect(!memcmp(v->image->pixels, px, 64));
    float maps[2 * 2 * 4], roll[4];
    cr_assert_eq(attn_image_model_attention(&im, px, maps, roll), 0);
    cr_expect(!memcmp(v->image->attn, maps, sizeof maps) && !memcmp(v->image->rollout, roll, sizeof roll));
    attn_attention_view_free(v);
    cr_expect_eq(attn_image_attention_view(&im, NULL, NULL, &v), ATTN_E_ARG);
    cr_expect_eq(attn_image_attention_view(NULL, px, NULL, &v), ATTN_E_ARG);
    attn_vit_free(im.vit);
    c.channels = 3;
    cr_assert_eq(attn_vit_create(&c, 5, &im.vit), 0);
    cr_expect_eq(attn_image_attention_view(&im, px, NULL, &v), ATTN_E_ARG);
    cr_expect(strstr(attn_last_error(), "3 channels"), "%s", attn_last_error());
    cr_expect(v == NULL);
    attn_vit_free(im.vit);
}

Test(view_models, synthetic_view_has_its_patterns)
{
    attn_attention_view *v = NULL, *w = NULL;
    cr_assert_eq(attn_attention_view_synthetic(4, &v), 0, "%s", attn_last_error());
    cr_expect_eq(v->n_maps, 2 * 4 + 2 * 2 + 2 * 4);
    cr_expect(!strncmp(v->title, "synthetic weights: \"", 20), "%s", v->title);
    cr_assert(v->align && v->n_tgt == ATTN_DATES_TGT_LEN);
    expect_maps(v);
    /* the head on the gold spans: each aligned row's largest weight lies in its span */
    attn_attention_head_metrics hm[20];
    cr_assert_eq(attn_attention_view_metrics(v, hm), 0);
    const int k = attn_attention_view_find(v, ATTN_ATTENTION_CROSS, 1, 2);
    cr_assert(k >= 0);
    cr_expect_gt(hm[k].align_acc, 0.9, "alignment %g", hm[k].align_acc);
    cr_expect_eq(attn_attention_best_alignment(hm, 20), k);
    /* the same seed, the same bits; another seed, other weights */
    cr_assert_eq(attn_attention_view_synthetic(4, &w), 0);
    expect_same_maps(v, w);
    attn_attention_view_free(w);
    cr_assert_eq(attn_attention_view_synthetic(5, &w), 0);
    const attn_attention_head *a = &v->maps[0], *b = &w->maps[0];
    cr_expect(a->rows != b->rows || a->cols != b->cols || memcmp(a->w, b->w, (size_t)a->rows * a->cols * sizeof(float)));
    attn_attention_view_free(w);
    attn_attention_view_free(v);
    cr_expect_eq(attn_attention_view_synthetic(4, NULL), ATTN_E_ARG);
}
