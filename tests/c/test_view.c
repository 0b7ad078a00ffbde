/* test_view.c — one example's attention for the viewer (attn/analysis.h): the view's checks,
 * its rollout and per-head measures by kind, filling it from a recorder, and attention.json
 * written and read back (every prefix of the text refused), with and without an image. The
 * command draws views; scripts/test.d/viz.sh tests that through the CLI and a browser. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attn.h"

static attn_attention_view *two_tokens(void)
{
    const char *src[] = {"a", "b"};
    attn_attention_view *r = NULL;
    cr_assert_eq(attn_attention_view_create(&r, NULL, src, 2, NULL, 0), 0, "%s", attn_last_error());
    return r;
}

Test(view, rollout_by_hand)
{
    /* One head per layer, A = [[1, 0], [0.5, 0.5]] in both layers.
     * Â = rownorm(A + I) = [[1, 0], [0.25, 0.75]];  R = Â·Â = [[1, 0], [0.4375, 0.5625]]. */
    attn_attention_view *r = two_tokens();
    const float a[4] = {1, 0, 0.5f, 0.5f};
    cr_assert_eq(attn_attention_view_add_map(r, ATTN_ATTENTION_ENCODER_SELF, 0, 0, a, 2, 2), 0);
    cr_assert_eq(attn_attention_view_add_map(r, ATTN_ATTENTION_ENCODER_SELF, 1, 0, a, 2, 2), 0);
    double R[4], s[2];
    cr_assert_eq(attn_attention_view_rollout(r, ATTN_ATTENTION_ENCODER_SELF, R), 0, "%s", attn_last_error());
    const double want[4] = {1, 0, 0.4375, 0.5625};
    for (int k = 0; k < 4; k++) cr_expect_float_eq(R[k], want[k], 1e-12, "R[%d]=%g", k, R[k]);
    cr_assert_eq(attn_attention_view_rollout_scores(r, ATTN_ATTENTION_ENCODER_SELF, 1, s), 0);
    cr_expect_float_eq(s[0], 0.4375, 1e-12);
    cr_assert_eq(attn_attention_view_rollout_scores(r, ATTN_ATTENTION_ENCODER_SELF, ATTN_ROLLOUT_MEAN, s), 0);
    cr_expect_float_eq(s[0], (1 + 0.4375) / 2, 1e-12);
    cr_expect_float_eq(s[1], 0.5625 / 2, 1e-12);
    cr_expect_eq(attn_attention_view_rollout_scores(r, ATTN_ATTENTION_ENCODER_SELF, 2, s), ATTN_E_ARG);
    cr_expect_eq(attn_attention_view_rollout(r, ATTN_ATTENTION_CROSS, R), ATTN_E_ARG);
    cr_expect_eq(attn_attention_view_rollout(r, ATTN_ATTENTION_CLASSIFIER_SELF, R), ATTN_E_ARG); /* no maps of that kind */
    attn_attention_view_free(r);
}

Test(view, rollout_averages_heads)
{
    /* Heads [[1,0],[0,1]] and [[0,1],[1,0]] average to 0.5 everywhere; + I, renormalised:
     * [[0.75, 0.25], [0.25, 0.75]]. A missing head is an error, not a silent average. */
    attn_attention_view *r = two_tokens();
    const float h0[4] = {1, 0, 0, 1}, h1[4] = {0, 1, 1, 0};
    cr_assert_eq(attn_attention_view_add_map(r, ATTN_ATTENTION_CLASSIFIER_SELF, 0, 0, h0, 2, 2), 0);
    cr_assert_eq(attn_attention_view_add_map(r, ATTN_ATTENTION_CLASSIFIER_SELF, 0, 1, h1, 2, 2), 0);
    double R[4];
    cr_assert_eq(attn_attention_view_rollout(r, ATTN_ATTENTION_CLASSIFIER_SELF, R), 0);
    cr_expect_float_eq(R[0], 0.75, 1e-12);
    cr_expect_float_eq(R[1], 0.25, 1e-12);
    cr_assert_eq(attn_attention_view_add_map(r, ATTN_ATTENTION_CLASSIFIER_SELF, 1, 0, h0, 2, 2), 0); /* layer 1 lacks head 1 */
    cr_expect_eq(attn_attention_view_rollout(r, ATTN_ATTENTION_CLASSIFIER_SELF, R), ATTN_E_ARG);
    cr_expect(strstr(attn_last_error(), "no head 1") != NULL, "%s", attn_last_error());
    attn_attention_view_free(r);
}

Test(view, metrics_by_hand)
{
    const char *src[] = {"w", "x", "y", "z"}, *tgt[] = {"p", "q", "r"};
    attn_attention_view *r = NULL;
    cr_assert_eq(attn_attention_view_create(&r, "t", src, 4, tgt, 3), 0);
    /* encoder head 0 uniform: entropy ln 4, distance mean_i mean_j |i-j| = 1.25;
     * encoder head 1 previous token (row 0 on itself): entropy 0, distance 3/4. */
    float uni[16], prev[16] = {0};
    for (int k = 0; k < 16; k++) uni[k] = 0.25f;
    for (int i = 0; i < 4; i++) prev[i * 4 + (i ? i - 1 : 0)] = 1;
    float heads[32];
    memcpy(heads, uni, sizeof uni);
    memcpy(heads + 16, prev, sizeof prev);
    cr_assert_eq(attn_attention_view_add_heads(r, ATTN_ATTENTION_ENCODER_SELF, 0, heads, 2, 4, 4), 0, "%s", attn_last_error());
    /* cross: argmax of target t at source t+1; gold spans [1,2), [0,1), [2,2) (unaligned) →
     * target 0 hits, target 1 misses, target 2 does not count: accuracy 1/2. */
    float cross[12] = {0};
    for (int t = 0; t < 3; t++) cross[t * 4 + t + 1] = 1;
    cr_assert_eq(attn_attention_view_add_map(r, ATTN_ATTENTION_CROSS, 0, 0, cross, 3, 4), 0);
    cr_assert_eq(attn_attention_view_add_map(r, ATTN_ATTENTION_CROSS, 0, 1, cross, 3, 4), 0);
    const attn_span spans[3] = {{1, 2}, {0, 1}, {2, 2}};
    cr_assert_eq(attn_attention_view_set_alignment(r, spans), 0);
    attn_attention_head_metrics m[4];
    cr_assert_eq(attn_attention_view_metrics(r, m), 0);
    cr_expect_float_eq(m[0].entropy, log(4.0), 1e-12);
    cr_expect_float_eq(m[0].distance, 1.25, 1e-12);
    cr_expect_float_eq(m[1].entropy, 0, 1e-12);
    cr_expect_float_eq(m[1].distance, 0.75, 1e-12);
    cr_expect(isnan(m[0].align_acc) && isnan(m[2].distance));
    cr_expect_float_eq(m[2].align_acc, 0.5, 1e-12);
    cr_expect_eq(m[2].n_aligned, 2);
    cr_expect_eq(attn_attention_best_alignment(m, 4), 2); /* a tie goes to the lower head */
    attn_attention_view_free(r);
}

Test(view, record_refuses_bad_input)
{
    const char *bad_utf8[] = {"ok", "\xc3"}, *src[] = {"a", "b"};
    attn_attention_view *r = NULL;
    cr_expect_eq(attn_attention_view_create(&r, NULL, bad_utf8, 2, NULL, 0), ATTN_E_FORMAT);
    cr_expect_null(r);
    cr_expect_eq(attn_attention_view_create(&r, NULL, NULL, 2, NULL, 0), ATTN_E_ARG);
    cr_assert_eq(attn_attention_view_create(&r, NULL, src, 2, NULL, 0), 0);
    const float ok[4] = {0.5f, 0.5f, 0, 1}, neg[4] = {1, 0, -1, 2};
    float nan4[4] = {1, 0, 0, 1};
    nan4[3] = NAN;
    cr_expect_eq(attn_attention_view_add_map(r, ATTN_ATTENTION_ENCODER_SELF, 0, 0, ok, 3, 2), ATTN_E_SHAPE);
    cr_expect(strstr(attn_last_error(), "3x2 but the tokens make 2x2") != NULL, "%s", attn_last_error());
    cr_expect_eq(attn_attention_view_add_map(r, ATTN_ATTENTION_CROSS, 0, 0, ok, 0, 2), ATTN_E_SHAPE); /* no target */
    cr_expect_eq(attn_attention_view_add_map(r, ATTN_ATTENTION_ENCODER_SELF, 0, 0, neg, 2, 2), ATTN_E_FORMAT);
    cr_expect_eq(attn_attention_view_add_map(r, ATTN_ATTENTION_ENCODER_SELF, 0, 0, nan4, 2, 2), ATTN_E_FORMAT);
    cr_expect_eq(attn_attention_view_add_map(r, ATTN_ATTENTION_ENCODER_SELF, -1, 0, ok, 2, 2), ATTN_E_ARG);
    cr_expect_eq(attn_attention_view_add_map(r, (attn_attention_kind)9, 0, 0, ok, 2, 2), ATTN_E_ARG);
    cr_expect_eq(attn_attention_view_add_map(r, ATTN_ATTENTION_ENCODER_SELF, 0, 0, ok, 2, 2), 0);
    cr_expect_eq(attn_attention_view_add_map(r, ATTN_ATTENTION_ENCODER_SELF, 0, 0, ok, 2, 2), ATTN_E_ARG); /* twice */
    cr_expect_eq(r->n_maps, 1);
    cr_expect_eq(attn_attention_view_set_alignment(r, (attn_span[]){{0, 1}}), ATTN_E_ARG); /* no target */
    attn_attention_view_free(r);
    attn_attention_view_free(NULL);
}

/* Save v to a temporary file, load it back into *back, and return the file's text (freed by
 * the caller; *len bytes). */
static char *save_and_load(const attn_attention_view *v, attn_attention_view **back, size_t *len)
{
    char path[] = "/tmp/attn_view_json_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    cr_assert_eq(attn_attention_view_save(v, path), 0, "%s", attn_last_error());
    cr_assert_eq(attn_attention_view_load(path, back), 0, "%s", attn_last_error());
    FILE *f = fopen(path, "rb");
    cr_assert(f);
    char *text = calloc(1 << 16, 1);
    cr_assert(text);
    *len = fread(text, 1, (1 << 16) - 1, f);
    fclose(f);
    unlink(path);
    cr_assert(*len > 100 && *len < (1 << 16) - 1);
    return text;
}

/* Every cut-short prefix text[0, n) for from <= n < the end (trailing blanks aside) must be
 * refused cleanly: ATTN_E_FORMAT, no view, a message. Returns how many were not. */
static int prefixes_accepted(const char *text, size_t len, size_t from)
{
    while (len > 0 && strchr(" \n", text[len - 1])) len--;
    int bad = 0;
    for (size_t n = from; n < len; n++) {
        attn_attention_view *p = NULL;
        const int st = attn_attention_view_parse(text, n, &p);
        bad += !(st == ATTN_E_FORMAT && p == NULL && attn_last_error()[0]);
        attn_attention_view_free(p);
    }
    return bad;
}

/* Write a record, read it back; then every cut-short prefix of the file must be refused
 * cleanly (run under ASan by `make test` too). */
Test(view, json_round_trip_and_every_prefix_refused)
{
    const char *src[] = {"q\"uote", "tab\there", "日本", "</script>"}, *tgt[] = {"x", "\x01"};
    attn_attention_view *r = NULL;
    cr_assert_eq(attn_attention_view_create(&r, "títle", src, 4, tgt, 2), 0);
    float w[16], c[8];
    for (int k = 0; k < 16; k++) w[k] = (float)(k + 1) / 136.0f * 4;
    for (int k = 0; k < 8; k++) c[k] = 0.1f * (float)k;
    cr_assert_eq(attn_attention_view_add_map(r, ATTN_ATTENTION_ENCODER_SELF, 0, 0, w, 4, 4), 0);
    cr_assert_eq(attn_attention_view_add_map(r, ATTN_ATTENTION_CROSS, 1, 2, c, 2, 4), 0);
    cr_assert_eq(attn_attention_view_set_alignment(r, (attn_span[]){{0, 2}, {3, 3}}), 0);
    attn_attention_view *back = NULL;
    size_t len = 0;
    char *text = save_and_load(r, &back, &len);
    cr_expect_str_eq(back->title, "títle");
    cr_assert_eq(back->n_src, 4);
    for (int i = 0; i < 4; i++) cr_expect_str_eq(back->src[i], src[i]);
    cr_expect_str_eq(back->tgt[1], "\x01");
    cr_assert_eq(back->n_maps, 2);
    cr_expect_eq(back->maps[1].layer, 1);
    cr_expect_eq(back->maps[1].head, 2);
    cr_expect_eq(memcmp(back->maps[0].w, w, sizeof w), 0, "weights not bit-exact");
    cr_expect_eq(memcmp(back->maps[1].w, c, sizeof c), 0);
    cr_expect_eq(back->align[1].lo, 3);
    cr_expect_eq(prefixes_accepted(text, len, 0), 0);
    free(text);
    attn_attention_view_free(r);
    attn_attention_view_free(back);
}

/* A library record's maps into the command's record: named maps of batch row 0 only, each head
 * cut to the record's tokens (a decoder's input has one position more than the target). */
Test(view, maps_from_a_library_record)
{
    const char *src[] = {"a", "b", "c"}, *tgt[] = {"x", "y"};
    attn_attention_view *r = NULL;
    cr_assert_eq(attn_attention_view_create(&r, NULL, src, 3, tgt, 2), 0);
    attn_tape *t = NULL;
    attn_tape_config tc = {0};
    attn_attention_record *rec = NULL;
    cr_assert_eq(attn_tape_create(&tc, &t), 0);
    cr_assert_eq(attn_attention_record_create(t, &rec), 0);
    float cross[2 * 3 * 3], self[3 * 3] = {1, 0, 0, 0.5f, 0.5f, 0, 0.2f, 0.3f, 0.5f};
    for (int k = 0; k < 18; k++) cross[k] = (float)k;
    cr_assert_eq(attn_attention_record_add(rec, "c", ATTN_ATTENTION_CROSS, 1, cross, 1, 2, 3, 3), 0);
    cr_assert_eq(attn_attention_record_add(rec, "d", ATTN_ATTENTION_DECODER_SELF, 0, self, 1, 1, 3, 3), 0);
    cr_assert_eq(attn_attention_record_add(rec, "e", ATTN_ATTENTION_ENCODER_SELF, 0, self, 1, 1, 3, 3), 0);
    cr_assert_eq(attn_attention_record_add(rec, NULL, ATTN_ATTENTION_OTHER, -1, self, 1, 1, 3, 3), 0);
    cr_assert_eq(attn_attention_view_add_recorded(r, rec, 1), 0, "%s", attn_last_error());
    cr_assert_eq(r->n_maps, 4);
    cr_expect(r->maps[1].kind == ATTN_ATTENTION_CROSS && r->maps[1].layer == 1 && r->maps[1].head == 1);
    cr_expect(r->maps[1].rows == 2 && r->maps[1].cols == 3);
    cr_expect_eq(r->maps[1].w[3], 12.0f); /* head 1 row 1 col 0 of [2, 3, 3] */
    cr_expect(r->maps[2].kind == ATTN_ATTENTION_DECODER_SELF && r->maps[2].rows == 2 && r->maps[2].cols == 2);
    cr_expect_eq(r->maps[2].w[2], 0.5f);
    cr_expect_eq(r->maps[3].kind, ATTN_ATTENTION_CLASSIFIER_SELF);
    /* a map smaller than the tokens is refused */
    attn_attention_view *big = NULL;
    const char *four[] = {"a", "b", "c", "d"};
    cr_assert_eq(attn_attention_view_create(&big, NULL, four, 4, NULL, 0), 0);
    cr_expect_eq(attn_attention_view_add_recorded(big, rec, 0), ATTN_E_SHAPE);
    attn_attention_view_free(big);
    attn_attention_record_free(rec);
    attn_tape_free(t);
    attn_attention_view_free(r);
}

/* An image record: the copy is checked (tiling, distributions, tokens per patch), written into
 * attention.json and read back bit for bit; every prefix of that text is refused. */
Test(view, image_round_trip_and_checks)
{
    const char *src[] = {"[cls]", "r0c0", "r0c1", "r1c0", "r1c1"};
    attn_attention_view *r = NULL;
    cr_assert_eq(attn_attention_view_create(&r, NULL, src, 5, NULL, 0), 0);
    float w[25];
    for (int k = 0; k < 25; k++) w[k] = 0.2f;
    cr_assert_eq(attn_attention_view_add_map(r, ATTN_ATTENTION_CLASSIFIER_SELF, 0, 0, w, 5, 5), 0);
    unsigned char px[24];
    for (int k = 0; k < 24; k++) px[k] = (unsigned char)(k * 11);
    float att[8] = {0.1f, 0.2f, 0.3f, 0.4f, 0.7f, 0.1f, 0.1f, 0.1f}, roll[4] = {0.25f, 0.25f, 0.25f, 0.25f};
    attn_attention_image im = {.width = 6, .height = 4, .pixels = px, .patch = 3, .rows = 2, .cols = 1, .cls = 1,
                    .layers = 1, .heads = 2, .attn = att, .rollout = roll};
    cr_expect_eq(attn_attention_view_set_image(r, &im), ATTN_E_ARG, "2×1 patches of 3 do not tile 6×4");
    im.patch = 2, im.rows = 2, im.cols = 3;
    cr_expect_eq(attn_attention_view_set_image(r, &im), ATTN_E_ARG, "6 patches, 5 tokens");
    cr_expect(strstr(attn_last_error(), "5 source tokens") != NULL, "%s", attn_last_error());
    im.width = 4, im.cols = 2;
    att[7] = 0.2f; /* head 1 sums to 1.1 */
    cr_expect_eq(attn_attention_view_set_image(r, &im), ATTN_E_FORMAT);
    cr_expect(strstr(attn_last_error(), "layer 0 head 1 sums to 1.1") != NULL, "%s", attn_last_error());
    att[7] = 0.1f;
    cr_assert_eq(attn_attention_view_set_image(r, &im), 0, "%s", attn_last_error());
    px[0] = 99, att[0] = 9; /* the record holds copies */
    attn_attention_view *back = NULL;
    size_t len = 0;
    char *text = save_and_load(r, &back, &len);
    cr_assert(back->image != NULL);
    const attn_attention_image *b = back->image;
    cr_expect(b->width == 4 && b->height == 4 && b->patch == 2 && b->rows == 2 && b->cols == 2 && b->cls == 1 &&
              b->layers == 1 && b->heads == 2);
    cr_expect_eq(b->pixels[0], 0);
    cr_expect_eq(memcmp(b->pixels + 1, px + 1, 15), 0);
    cr_expect_eq(b->attn[0], 0.1f);
    cr_expect_eq(memcmp(b->attn + 1, att + 1, 7 * sizeof *att), 0, "patch maps not bit-exact");
    cr_expect_eq(memcmp(b->rollout, roll, sizeof roll), 0);
    const char *img = strstr(text, "\"image\"");
    cr_assert(img != NULL);
    cr_expect_eq(prefixes_accepted(text, len, (size_t)(img - text)), 0);
    free(text);
    attn_attention_view_free(r);
    attn_attention_view_free(back);
}

/* What the reader refuses is the file's fault: ATTN_E_FORMAT, whichever check catches it. */
Test(view, reader_says_format_for_every_bad_file)
{
    const char *const bad[] = {
        "{\"source\":[\"a\"],\"maps\":[{\"kind\":\"encoder-self\",\"layer\":0,\"head\":0,\"weights\":[[1]]},"
        "{\"kind\":\"encoder-self\",\"layer\":0,\"head\":0,\"weights\":[[1]]}]}",
        "{\"source\":[\"a\"],\"title\":\"\\udc00\",\"maps\":[{\"kind\":\"encoder-self\",\"layer\":0,\"head\":0,"
        "\"weights\":[[1]]}]}",
        "{\"source\":[\"a\"],\"maps\":[{\"kind\":\"other\",\"layer\":0,\"head\":0,\"weights\":[[1]]}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        attn_attention_view *v = NULL;
        cr_expect_eq(attn_attention_view_parse(bad[i], strlen(bad[i]), &v), ATTN_E_FORMAT, "%zu: %s", i,
                     attn_last_error());
        cr_expect_null(v);
    }
    const char *ok = "{\"source\":[\"a\"],\"target\":[],\"alignment\":[],\"maps\":[{\"kind\":\"encoder-self\","
                     "\"layer\":0,\"head\":0,\"weights\":[[1]]}]}";
    attn_attention_view *v = NULL;
    cr_expect_eq(attn_attention_view_parse(ok, strlen(ok), &v), ATTN_OK, "%s", attn_last_error());
    attn_attention_view_free(v);
}
