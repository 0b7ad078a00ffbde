/* test_mt.c — key/value-cached decoding (tools/attn/seq2seq_cache.c, compiled in) against the
 * uncached seq2seq_translate (tools/attn/seq2seq_decode.c, compiled into test_models.c, itself
 * tested there against exhaustive search): same tokens for greedy and beam search, pre- and
 * post-norm, ReLU and GELU, padded sources, several sentences; the beam path with one beam
 * and no length penalty is greedy decoding. */
#include <criterion/criterion.h>

#include "../../tools/attn/seq2seq_cache.c"

enum { MV = 11, MPAD = 0, MBOS = 1, MEOS = 2, MN = 3, MS = 7 };

static attn_seq2seq *mt_model(uint64_t seed, int norm_first, attn_activation act, int layers)
{
    attn_seq2seq_config c = {.src_vocab = 9, .tgt_vocab = MV, .d_model = 16, .nhead = 4,
                             .num_encoder_layers = layers, .num_decoder_layers = layers,
                             .dim_feedforward = 24, .max_len = 16, .dropout = 0.1f,
                             .activation = act, .norm_first = norm_first, .pad_id = MPAD};
    attn_seq2seq *m;
    cr_assert_eq(attn_seq2seq_create(&c, seed, &m), ATTN_OK, "%s", attn_last_error());
    /* sharper distributions than at initialisation, so that no two tokens nearly tie */
    for (int64_t i = 0; i < m->generator.weight->numel; i++) m->generator.weight->data[i] *= 3;
    return m;
}

/* three sources of lengths 7, 4, 2 (padded with MPAD) */
static const int32_t mt_src[MN * MS] = {3, 4, 5, 6, 7, 8, 2, 5, 3, 8, 2, 0, 0, 0, 6, 2, 0, 0, 0, 0, 0};

static void compare(attn_seq2seq *m, int beam, float lp, int64_t L)
{
    attn_tape *t;
    attn_tape_config tc = {.num_threads = 1};
    cr_assert_eq(attn_tape_create(&tc, &t), ATTN_OK);
    decode_options o = {.bos_id = MBOS, .eos_id = MEOS, .max_len = L, .beam = beam, .len_penalty = lp};
    int32_t a[MN * 16], b[MN * 16];
    int64_t la[MN], lb[MN];
    cr_assert_eq(seq2seq_translate(t, m, mt_src, MN, MS, &o, a, la), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(seq2seq_translate_cached(t, m, mt_src, MN, MS, &o, b, lb), ATTN_OK, "%s", attn_last_error());
    for (int i = 0; i < MN; i++) {
        cr_assert_eq(la[i], lb[i], "beam %d lp %g sentence %d: length %lld (uncached) vs %lld (cached)", beam,
                     lp, i, (long long)la[i], (long long)lb[i]);
        for (int64_t j = 0; j <= L; j++)
            cr_assert_eq(a[i * (L + 1) + j], b[i * (L + 1) + j], "beam %d lp %g sentence %d token %lld", beam, lp,
                         i, (long long)j);
    }
    attn_tape_free(t);
}

Test(mt, cached_equals_uncached)
{
    const struct {
        int norm_first, layers;
        attn_activation act;
    } cases[] = {{1, 2, ATTN_ACT_RELU}, {0, 1, ATTN_ACT_GELU}, {1, 1, ATTN_ACT_GELU_TANH}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            attn_seq2seq *m = mt_model(seed * 7 + k, cases[k].norm_first, cases[k].act, cases[k].layers);
            for (int beam = 1; beam <= 4; beam++) {
                compare(m, beam, 0.0f, 9);
                compare(m, beam, 0.6f, 9);
            }
            compare(m, 3, 1.0f, 15); /* the longest the position table allows */
            attn_seq2seq_free(m);
        }
}

Test(mt, beam_one_is_greedy)
{
    attn_seq2seq *m = mt_model(5, 1, ATTN_ACT_RELU, 2);
    attn_tape *t;
    attn_tape_config tc = {.num_threads = 1};
    cr_assert_eq(attn_tape_create(&tc, &t), ATTN_OK);
    const int64_t L = 10;
    decode_options o = {.bos_id = MBOS, .eos_id = MEOS, .max_len = L, .beam = 1, .len_penalty = 0};
    int32_t g[MN * 11], bo[MN * 11];
    int64_t lg[MN], lb[MN];
    cr_assert_eq(seq2seq_translate_cached(t, m, mt_src, MN, MS, &o, g, lg), ATTN_OK);
    /* the beam path with K = 1, through the same cache set-up */
    float *mem = NULL;
    int32_t *srcK = NULL;
    cache c;
    attn_tape_set_training(t, 0);
    cr_assert_eq(encode_rep(t, m, mt_src, MN, MS, 1, &mem, &srcK), ATTN_OK);
    cr_assert_eq(cache_init(&c, m, mem, srcK, MN, MS, L + 1, 1), ATTN_OK);
    decode_stepper d = {&c, m->cfg.tgt_vocab, m->cfg.pad_id, step_cb, reorder_cb};
    cr_assert_eq(decode_rows_beam(&d, MN, &o, bo, lb), ATTN_OK);
    for (int i = 0; i < MN; i++) {
        cr_assert_eq(lg[i], lb[i], "sentence %d", i);
        for (int64_t j = 0; j <= L; j++) cr_assert_eq(g[i * (L + 1) + j], bo[i * (L + 1) + j], "sentence %d", i);
    }
    cache_free(&c);
    free(mem), free(srcK);
    attn_tape_free(t);
    attn_seq2seq_free(m);
}

Test(mt, bad_arguments)
{
    attn_seq2seq *m = mt_model(1, 1, ATTN_ACT_RELU, 1);
    attn_tape *t;
    attn_tape_config tc = {.num_threads = 1};
    cr_assert_eq(attn_tape_create(&tc, &t), ATTN_OK);
    int32_t out[64];
    int64_t len[MN];
    decode_options o = {.bos_id = MBOS, .eos_id = MEOS, .max_len = 16, .beam = 1};
    cr_assert_eq(seq2seq_translate_cached(t, m, mt_src, MN, MS, &o, out, len), ATTN_E_ARG, "max_len + 1 > 16");
    o.max_len = 4, o.beam = 0;
    cr_assert_eq(seq2seq_translate_cached(t, m, mt_src, MN, MS, &o, out, len), ATTN_E_ARG, "beam 0");
    o.beam = 1;
    cr_assert_eq(seq2seq_translate_cached(t, m, mt_src, 0, MS, &o, out, len), ATTN_E_ARG, "N 0");
    attn_tape_free(t);
    attn_seq2seq_free(m);
}
