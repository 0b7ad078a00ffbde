/* test_viz.c — attention analysis in libattn (attn/analysis.h): the recorder on the tape's
 * observer for every model, rollout and the per-head measures against values worked out by
 * hand, and the refusal of bad arguments. tests/py/test_analysis.py checks the same functions
 * against NumPy/PyTorch float64; the viz layer of the command (JSON, pictures) is tested by
 * tests/viz (scripts/test.d/viz.sh). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "attn.h"

Test(viz, rollout_by_hand)
{
    /* One head per layer, A = [[1, 0], [0.5, 0.5]] in both layers.
     * Â = rownorm(A + I) = [[1, 0], [0.25, 0.75]];  R = Â·Â = [[1, 0], [0.4375, 0.5625]]. */
    const float a[4] = {1, 0, 0.5f, 0.5f};
    const float *maps[2] = {a, a};
    double R[4], s[2];
    cr_assert_eq(attn_attention_rollout(maps, 2, 1, 2, R), 0, "%s", attn_last_error());
    const double want[4] = {1, 0, 0.4375, 0.5625};
    for (int k = 0; k < 4; k++) cr_expect_float_eq(R[k], want[k], 1e-12, "R[%d]=%g", k, R[k]);
    cr_assert_eq(attn_attention_rollout_scores(R, 2, 1, s), 0);
    cr_expect_float_eq(s[0], 0.4375, 1e-12);
    cr_assert_eq(attn_attention_rollout_scores(R, 2, ATTN_ROLLOUT_MEAN, s), 0);
    cr_expect_float_eq(s[0], (1 + 0.4375) / 2, 1e-12);
    cr_expect_float_eq(s[1], 0.5625 / 2, 1e-12);
    cr_expect_eq(attn_attention_rollout_scores(R, 2, 2, s), ATTN_E_ARG);
    cr_expect_eq(attn_attention_rollout_scores(R, 2, -2, s), ATTN_E_ARG);
    cr_expect_eq(attn_attention_rollout_scores(NULL, 2, 0, s), ATTN_E_ARG);
    /* one layer: Â itself */
    cr_assert_eq(attn_attention_rollout(maps, 1, 1, 2, R), 0);
    cr_expect_float_eq(R[2], 0.25, 1e-12);
}

Test(viz, rollout_averages_heads)
{
    /* Heads [[1,0],[0,1]] and [[0,1],[1,0]] average to 0.5 everywhere; + I, renormalised:
     * [[0.75, 0.25], [0.25, 0.75]]. A missing head is an error, not a silent average. */
    const float h0[4] = {1, 0, 0, 1}, h1[4] = {0, 1, 1, 0}, bad[4] = {1, -1, 0, 1};
    const float *maps[4] = {h0, h1, h0, NULL};
    double R[4];
    cr_assert_eq(attn_attention_rollout(maps, 1, 2, 2, R), 0);
    cr_expect_float_eq(R[0], 0.75, 1e-12);
    cr_expect_float_eq(R[1], 0.25, 1e-12);
    cr_expect_eq(attn_attention_rollout(maps, 2, 2, 2, R), ATTN_E_ARG); /* layer 1 lacks head 1 */
    cr_expect(strstr(attn_last_error(), "layer 1 has no head 1") != NULL, "%s", attn_last_error());
    maps[3] = bad;
    cr_expect_eq(attn_attention_rollout(maps, 2, 2, 2, R), ATTN_E_ARG);
    cr_expect(strstr(attn_last_error(), "layer 1 head 1") != NULL, "%s", attn_last_error());
    cr_expect_eq(attn_attention_rollout(maps, 0, 2, 2, R), ATTN_E_ARG);
    cr_expect_eq(attn_attention_rollout(maps, 1, 0, 2, R), ATTN_E_ARG);
    cr_expect_eq(attn_attention_rollout(maps, 1, 2, 0, R), ATTN_E_ARG);
    cr_expect_eq(attn_attention_rollout(NULL, 1, 2, 2, R), ATTN_E_ARG);
    cr_expect_eq(attn_attention_rollout(maps, 1, 2, 2, NULL), ATTN_E_ARG);
}

Test(viz, metrics_by_hand)
{
    /* head 0 uniform over 4 keys: entropy ln 4, distance mean_i mean_j |i-j| = 1.25;
     * head 1 previous token (row 0 on itself): entropy 0, distance 3/4. */
    float heads[32] = {0};
    for (int k = 0; k < 16; k++) heads[k] = 0.25f;
    for (int i = 0; i < 4; i++) heads[16 + i * 4 + (i ? i - 1 : 0)] = 1;
    double ent[2], dist[2];
    cr_assert_eq(attn_attention_entropy(heads, 2, 4, 4, ent), 0, "%s", attn_last_error());
    cr_assert_eq(attn_attention_distance(heads, 2, 4, 4, dist), 0);
    cr_expect_float_eq(ent[0], log(4.0), 1e-12);
    cr_expect_float_eq(dist[0], 1.25, 1e-12);
    cr_expect_float_eq(ent[1], 0, 1e-12);
    cr_expect_float_eq(dist[1], 0.75, 1e-12);
    /* rows are renormalised; a row of zeros (nothing to attend) counts as 0 */
    const float unnorm[4] = {2, 2, 0, 0};
    cr_assert_eq(attn_attention_entropy(unnorm, 1, 2, 2, ent), 0);
    cr_expect_float_eq(ent[0], log(2.0) / 2, 1e-12);
    /* cross [3, 4]: the argmax of target t at source t+1; gold spans [1,2), [0,1), [2,2)
     * (unaligned): target 0 hits, target 1 misses, target 2 does not count → 1/2. A second
     * head on source 0 everywhere hits target 1 only (1/2); ties go to the first maximum. */
    float cross[24] = {0};
    for (int t = 0; t < 3; t++) cross[t * 4 + t + 1] = 1;
    for (int t = 0; t < 3; t++) cross[12 + t * 4 + 0] = cross[12 + t * 4 + 2] = 0.5f;
    const attn_span spans[3] = {{1, 2}, {0, 1}, {2, 2}};
    double acc[2];
    int64_t n = -1;
    cr_assert_eq(attn_attention_alignment(cross, 2, 3, 4, spans, acc, &n), 0, "%s", attn_last_error());
    cr_expect_float_eq(acc[0], 0.5, 1e-12);
    cr_expect_float_eq(acc[1], 0.5, 1e-12);
    cr_expect_eq(n, 2);
    const attn_span none[3] = {{0, 0}, {4, 4}, {2, 2}};
    cr_assert_eq(attn_attention_alignment(cross, 2, 3, 4, none, acc, NULL), 0);
    cr_expect(isnan(acc[0]) && isnan(acc[1]));
}

Test(viz, measures_refuse_bad_input)
{
    float w[4] = {0.5f, 0.5f, 1, 0};
    double out[2];
    cr_expect_eq(attn_attention_entropy(NULL, 1, 2, 2, out), ATTN_E_ARG);
    cr_expect_eq(attn_attention_entropy(w, 1, 2, 2, NULL), ATTN_E_ARG);
    cr_expect_eq(attn_attention_entropy(w, 0, 2, 2, out), ATTN_E_ARG);
    cr_expect_eq(attn_attention_distance(w, 1, -1, 2, out), ATTN_E_ARG);
    w[3] = -0.5f;
    cr_expect_eq(attn_attention_entropy(w, 1, 2, 2, out), ATTN_E_ARG);
    cr_expect(strstr(attn_last_error(), "weight [0, 1, 1] = -0.5") != NULL, "%s", attn_last_error());
    w[3] = NAN;
    cr_expect_eq(attn_attention_distance(w, 1, 2, 2, out), ATTN_E_ARG);
    w[3] = 0;
    const attn_span bad[2][2] = {{{0, 1}, {1, 3}}, {{1, 0}, {0, 1}}};
    cr_expect_eq(attn_attention_alignment(w, 1, 2, 2, bad[0], out, NULL), ATTN_E_ARG);
    cr_expect(strstr(attn_last_error(), "gold[1] = [1, 3)") != NULL, "%s", attn_last_error());
    cr_expect_eq(attn_attention_alignment(w, 1, 2, 2, bad[1], out, NULL), ATTN_E_ARG);
    cr_expect_eq(attn_attention_alignment(w, 1, 2, 2, NULL, out, NULL), ATTN_E_ARG);
    cr_expect_str_eq(attn_attention_kind_name(ATTN_ATTENTION_CROSS), "cross");
    cr_expect_str_eq(attn_attention_kind_name((attn_attention_kind)7), "unknown");
}

/* Rows of every map sum to 1; where `causal`, nothing above the diagonal. */
static void expect_rows(const attn_attention_map *m, int causal)
{
    for (int64_t r = 0; r < m->N * m->H * m->L; r++) {
        const float *row = m->w + r * m->S;
        double s = 0;
        for (int64_t j = 0; j < m->S; j++) {
            s += row[j];
            if (causal && j > r % m->L) cr_expect_eq(row[j], 0.0f, "%s row %lld key %lld", m->name,
                                                     (long long)r, (long long)j);
        }
        cr_expect_float_eq(s, 1.0, 1e-5, "%s row %lld sums to %g", m->name, (long long)r, s);
    }
}

Test(viz, record_seq2seq)
{
    attn_seq2seq_config c = {.src_vocab = 11, .tgt_vocab = 9, .d_model = 16, .nhead = 4,
                             .num_encoder_layers = 2, .num_decoder_layers = 3,
                             .dim_feedforward = 32, .max_len = 16, .dropout = 0.1f};
    attn_seq2seq *m = NULL;
    attn_tape *t = NULL;
    attn_tape_config tc = {0};
    cr_assert_eq(attn_seq2seq_create(&c, 3, &m), 0, "%s", attn_last_error());
    cr_assert_eq(attn_tape_create(&tc, &t), 0);
    attn_tape_set_training(t, 0);
    const int32_t src[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, tgt[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    attn_var *mem, *logits;
    /* the logits do not change when a record is on (the path that returns weights) */
    cr_assert_eq(attn_seq2seq_encode(t, m, src, 2, 5, &mem), 0);
    cr_assert_eq(attn_seq2seq_decode(t, m, mem, src, 5, tgt, 4, &logits), 0);
    float plain[2 * 4 * 9];
    memcpy(plain, logits->data, sizeof plain);
    attn_attention_record *r = NULL;
    cr_assert_eq(attn_attention_record_create(t, &r), 0);
    cr_assert_eq(attn_attention_record_watch_seq2seq(r, m), 0);
    cr_assert_eq(attn_tape_reset(t), 0);
    cr_assert_eq(attn_seq2seq_encode(t, m, src, 2, 5, &mem), 0);
    cr_assert_eq(attn_seq2seq_decode(t, m, mem, src, 5, tgt, 4, &logits), 0);
    for (int k = 0; k < 2 * 4 * 9; k++) cr_expect_float_eq(logits->data[k], plain[k], 1e-5);
    cr_assert_eq(attn_attention_record_status(r), 0);
    cr_assert_eq(attn_attention_record_count(r), 2 + 2 * 3);
    attn_attention_map a;
    cr_assert_eq(attn_attention_record_map(r, 0, &a), 0);
    cr_expect_str_eq(a.name, "encoder.layers.0.self_attn");
    cr_expect(a.kind == ATTN_ATTENTION_ENCODER_SELF && a.layer == 0);
    cr_expect(a.N == 2 && a.H == 4 && a.L == 5 && a.S == 5);
    expect_rows(&a, 0);
    int i = attn_attention_record_find(r, ATTN_ATTENTION_CROSS, 2, 0);
    cr_assert_eq(i, 7);
    cr_assert_eq(attn_attention_record_map(r, i, &a), 0);
    cr_expect_str_eq(a.name, "decoder.layers.2.multihead_attn");
    cr_expect(a.N == 2 && a.H == 4 && a.L == 4 && a.S == 5);
    expect_rows(&a, 0);
    cr_assert_eq(attn_attention_record_map(r, attn_attention_record_find(r, ATTN_ATTENTION_DECODER_SELF, 1, 0), &a), 0);
    cr_expect_str_eq(a.name, "decoder.layers.1.self_attn");
    cr_expect(a.L == 4 && a.S == 4);
    expect_rows(&a, 1);
    cr_expect_eq(attn_attention_record_find(r, ATTN_ATTENTION_CROSS, 3, 0), -1);
    cr_expect_eq(attn_attention_record_find(r, ATTN_ATTENTION_CROSS, 2, 8), -1);
    /* stopped: another forward adds nothing; clear forgets the maps, not the names */
    attn_attention_record_stop(r);
    attn_attention_record_stop(r);
    cr_assert_eq(attn_seq2seq_encode(t, m, src, 2, 5, &mem), 0);
    cr_expect_eq(attn_attention_record_count(r), 8);
    attn_attention_record_clear(r);
    cr_expect_eq(attn_attention_record_count(r), 0);
    cr_expect_eq(attn_attention_record_map(r, 0, &a), ATTN_E_ARG);
    attn_attention_record_free(r);
    attn_attention_record_free(NULL);
    attn_tape_free(t);
    attn_seq2seq_free(m);
}

Test(viz, record_gpt_classifier_and_unnamed)
{
    attn_gpt_config gc = {.vocab = 10, .context = 8, .n_layer = 2, .n_head = 2, .d_model = 16};
    attn_classifier_config cc = {.vocab = 10, .d_model = 16, .nhead = 4, .num_layers = 1,
                                 .dim_feedforward = 16, .max_len = 8, .num_classes = 2,
                                 .norm_first = 1};
    attn_gpt *g = NULL;
    attn_classifier *cl = NULL;
    attn_tape *t = NULL;
    attn_tape_config tc = {0};
    cr_assert_eq(attn_gpt_create(&gc, 1, &g), 0, "%s", attn_last_error());
    cr_assert_eq(attn_classifier_create(&cc, 2, &cl), 0, "%s", attn_last_error());
    cr_assert_eq(attn_tape_create(&tc, &t), 0);
    attn_attention_record *r = NULL;
    cr_assert_eq(attn_attention_record_create(t, &r), 0);
    cr_assert_eq(attn_attention_record_watch_gpt(r, g), 0);
    const int32_t ids[6] = {1, 2, 3, 4, 5, 6};
    attn_var *out;
    cr_assert_eq(attn_gpt_forward(t, g, ids, 1, 6, &out), 0);
    /* the classifier's modules are not named in this record: kind other, layer −1, name "" */
    cr_assert_eq(attn_classifier_forward(t, cl, ids, 2, 3, &out, NULL), 0);
    cr_assert_eq(attn_attention_record_count(r), 3);
    attn_attention_map a;
    cr_assert_eq(attn_attention_record_map(r, 1, &a), 0);
    cr_expect_str_eq(a.name, "h.1.self_attn");
    cr_expect(a.kind == ATTN_ATTENTION_DECODER_SELF && a.layer == 1 && a.L == 6 && a.S == 6);
    expect_rows(&a, 1);
    cr_assert_eq(attn_attention_record_map(r, 2, &a), 0);
    cr_expect(a.kind == ATTN_ATTENTION_OTHER && a.layer == -1 && a.name[0] == '\0');
    cr_expect(a.N == 2 && a.H == 4 && a.L == 3);
    /* named now: the next maps carry the name */
    cr_assert_eq(attn_attention_record_watch_classifier(r, cl), 0);
    cr_assert_eq(attn_classifier_forward(t, cl, ids, 2, 3, &out, NULL), 0);
    cr_assert_eq(attn_attention_record_map(r, 3, &a), 0);
    cr_expect_str_eq(a.name, "layers.0.self_attn");
    cr_expect(a.kind == ATTN_ATTENTION_ENCODER_SELF && a.layer == 0);
    attn_attention_record_free(r);
    /* freed: the tape's observer is gone (a new record starts from nothing) */
    cr_assert_eq(attn_attention_record_create(t, &r), 0);
    cr_expect_eq(attn_attention_record_count(r), 0);
    attn_attention_record_free(r);
    cr_assert_eq(attn_classifier_forward(t, cl, ids, 2, 3, &out, NULL), 0);
    attn_tape_free(t);
    attn_gpt_free(g);
    attn_classifier_free(cl);
}

Test(viz, record_add_and_refusals)
{
    attn_tape *t = NULL;
    attn_tape_config tc = {0};
    cr_assert_eq(attn_tape_create(&tc, &t), 0);
    attn_attention_record *r = NULL;
    cr_expect_eq(attn_attention_record_create(NULL, &r), ATTN_E_ARG);
    cr_expect_null(r);
    cr_expect_eq(attn_attention_record_create(t, NULL), ATTN_E_ARG);
    cr_assert_eq(attn_attention_record_create(t, &r), 0);
    float w[6] = {0.5f, 0.5f, 0, 1, 0.25f, 0.75f};
    cr_assert_eq(attn_attention_record_add(r, "gru.decoder", ATTN_ATTENTION_CROSS, 0, w, 1, 1, 3, 2), 0);
    cr_assert_eq(attn_attention_record_add(r, NULL, ATTN_ATTENTION_OTHER, -1, w, 1, 1, 2, 3), 0);
    attn_attention_map a;
    cr_assert_eq(attn_attention_record_map(r, 0, &a), 0);
    cr_expect_str_eq(a.name, "gru.decoder");
    cr_expect(a.w != w && memcmp(a.w, w, sizeof w) == 0, "the weights are copied");
    /* what a map gives stays valid while more maps come (the record's arrays grow) */
    for (int k = 0; k < 40; k++)
        cr_assert_eq(attn_attention_record_add(r, "more", ATTN_ATTENTION_OTHER, k, w, 1, 1, 3, 2), 0);
    cr_expect_str_eq(a.name, "gru.decoder");
    cr_expect_eq(a.w[5], 0.75f);
    cr_assert_eq(attn_attention_record_map(r, 1, &a), 0);
    cr_expect_str_eq(a.name, "");
    cr_expect_eq(attn_attention_record_add(r, "x", ATTN_ATTENTION_CROSS, 0, w, 1, 1, 0, 2), ATTN_E_ARG);
    cr_expect_eq(attn_attention_record_add(r, "x", ATTN_ATTENTION_CROSS, 0, NULL, 1, 1, 3, 2), ATTN_E_ARG);
    cr_expect_eq(attn_attention_record_add(r, "x", (attn_attention_kind)9, 0, w, 1, 1, 3, 2), ATTN_E_ARG);
    cr_expect_eq(attn_attention_record_add(r, "x", ATTN_ATTENTION_CROSS, -2, w, 1, 1, 3, 2), ATTN_E_ARG);
    cr_expect_eq(attn_attention_record_add(r, "x", ATTN_ATTENTION_CROSS, 0, w, INT64_MAX, 2, 2, 2),
                 ATTN_E_OVERFLOW);
    char longname[ATTN_ATTENTION_NAME_MAX + 1];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    cr_expect_eq(attn_attention_record_add(r, longname, ATTN_ATTENTION_CROSS, 0, w, 1, 1, 3, 2), ATTN_E_ARG);
    w[2] = -1;
    cr_expect_eq(attn_attention_record_add(r, "x", ATTN_ATTENTION_CROSS, 0, w, 1, 1, 3, 2), ATTN_E_ARG);
    w[2] = INFINITY;
    cr_expect_eq(attn_attention_record_add(r, "x", ATTN_ATTENTION_CROSS, 0, w, 1, 1, 3, 2), ATTN_E_ARG);
    cr_expect_eq(attn_attention_record_count(r), 42);
    cr_expect_eq(attn_attention_record_count(NULL), 0);
    cr_expect_eq(attn_attention_record_map(r, 42, &a), ATTN_E_ARG);
    cr_expect_eq(attn_attention_record_map(r, -1, &a), ATTN_E_ARG);
    cr_expect_eq(attn_attention_record_map(r, 0, NULL), ATTN_E_ARG);
    cr_expect_eq(attn_attention_record_status(NULL), ATTN_E_ARG);
    cr_expect_eq(attn_attention_record_name(r, NULL, "x", ATTN_ATTENTION_CROSS, 0), ATTN_E_ARG);
    cr_expect_eq(attn_attention_record_watch_seq2seq(r, NULL), ATTN_E_ARG);
    cr_expect_eq(attn_attention_record_watch_gpt(NULL, NULL), ATTN_E_ARG);
    cr_expect_eq(attn_attention_record_watch_classifier(r, NULL), ATTN_E_ARG);
    attn_attention_record_free(r);
    attn_tape_free(t);
}
