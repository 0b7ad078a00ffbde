/* test_generate.c — attn/generate.h: beam search against exhaustive search (Transformer, GRU),
 * key/value-cached steppers against the uncached reference (same tokens, log-probabilities
 * within 1e-6) for the encoder–decoder and the GPT in every mode, seeded sampling, streaming,
 * limits and bad arguments. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn.h"

enum { XV = 5, XPAD = 0, XBOS = 1, XEOS = 2, XL = 3, XS = 6 };

/* A tiny model with sharp output distributions: tgt vocabulary XV. */
static attn_seq2seq *tiny_model(uint64_t seed)
{
    attn_seq2seq_config c = {.src_vocab = 7, .tgt_vocab = XV, .d_model = 8, .nhead = 2,
                             .num_encoder_layers = 1, .num_decoder_layers = 2,
                             .dim_feedforward = 16, .max_len = 8, .norm_first = 1,
                             .pad_id = XPAD};
    attn_seq2seq *m;
    cr_assert_eq(attn_seq2seq_create(&c, seed, &m), ATTN_OK, "%s", attn_last_error());
    for (int64_t i = 0; i < m->generator.weight->numel; i++) m->generator.weight->data[i] *= 4;
    return m;
}

enum { XR = 64 }; /* 4^XL candidate outputs */

/* The candidate outputs: row r of seqs [XR, XL + 1] is BOS then XL ids (every id but EOS), and
 * srcR holds the source XR times. Both malloc'ed. */
static void hypotheses(const int32_t *src, int32_t **seqs, int32_t **srcR)
{
    const int64_t T = XL + 1;
    static const int32_t alphabet[4] = {0, 1, 3, 4};
    *seqs = malloc((size_t)(XR * T) * sizeof **seqs), *srcR = malloc((size_t)(XR * XS) * sizeof **srcR);
    cr_assert(*seqs && *srcR);
    for (int64_t r = 0; r < XR; r++) {
        (*seqs)[r * T] = XBOS;
        for (int j = 0; j < XL; j++) (*seqs)[r * T + 1 + j] = alphabet[(r >> (2 * j)) & 3];
        memcpy(*srcR + r * XS, src, XS * sizeof *src);
    }
}

/* The best-scoring output over every candidate and every prefix of it ended by EOS, from the
 * teacher-forced logits [XR, XL + 1, XV] of the candidates: log-probability, divided by the
 * length penalty ((5 + len + 1)/6)^alpha when alpha ≠ 0. */
static double best_scored(const float *logits, const int32_t *seqs, float alpha, int32_t *best, int64_t *best_len)
{
    const int64_t T = XL + 1;
    double best_s = -INFINITY;
    for (int64_t r = 0; r < XR; r++) {
        double lp = 0;
        for (int64_t len = 0; len <= XL; len++) {
            /* log-softmax at position len (after BOS + y[0..len)) */
            const float *z = logits + (r * T + len) * XV;
            double mx = z[0], sum = 0;
            for (int v = 1; v < XV; v++) mx = z[v] > mx ? z[v] : mx;
            for (int v = 0; v < XV; v++) sum += exp(z[v] - mx);
            double lse = mx + log(sum);
            double s = lp + (z[XEOS] - lse);
            if (alpha != 0) s /= pow((5.0 + (double)len + 1) / 6.0, alpha);
            if (s > best_s + 1e-9) {
                best_s = s, *best_len = len;
                for (int64_t j = 0; j < len; j++) best[j] = seqs[r * T + 1 + j];
            }
            if (len < XL) lp += z[seqs[r * T + 1 + len]] - lse;
        }
    }
    return best_s;
}

/* Every complete hypothesis y (|y| ≤ XL tokens other than EOS, then EOS) scored by running the
 * decoder on BOS + y: sum of log p(y_t | BOS y_<t) + log p(EOS | BOS y), length-normalised by
 * GNMT's ((5 + |y| + 1)/6)^α. Returns the best; ids in best[], length in *best_len. */
static double exhaustive_best(attn_tape *t, const attn_seq2seq *m, const int32_t *src, float alpha,
                              int32_t *best, int64_t *best_len)
{
    const int64_t d = m->cfg.d_model;
    int32_t *seqs, *srcR;
    hypotheses(src, &seqs, &srcR);
    attn_var *mem1, *memory, *logits;
    cr_assert_eq(attn_tape_reset(t), ATTN_OK);
    cr_assert_eq(attn_seq2seq_encode(t, m, src, 1, XS, &mem1), ATTN_OK, "%s", attn_last_error());
    float *mem = malloc((size_t)(XR * XS * d) * sizeof *mem);
    for (int64_t r = 0; r < XR; r++) memcpy(mem + r * XS * d, mem1->data, (size_t)(XS * d) * 4);
    int64_t shape[3] = {XR, XS, d};
    cr_assert_eq(attn_tape_input(t, mem, 3, shape, 0, &memory), ATTN_OK);
    cr_assert_eq(attn_seq2seq_decode(t, m, memory, srcR, XS, seqs, XL + 1, &logits), ATTN_OK, "%s",
                 attn_last_error());
    double s = best_scored(logits->data, seqs, alpha, best, best_len);
    free(seqs), free(srcR), free(mem);
    return s;
}


/* A tiny encoder–decoder of either architecture. */
typedef struct tiny {
    attn_seq2seq *tf;
    attn_gru_seq2seq *gru;
} tiny;

static int tiny_generate(const tiny *m, attn_tape *t, const int32_t *src, int64_t N,
                         const attn_generate_options *o, int32_t *out, int64_t *len)
{
    return m->tf ? attn_seq2seq_generate(m->tf, t, src, N, XS, o, out, XL + 1, len, NULL)
                 : attn_gru_seq2seq_generate(m->gru, t, src, N, XS, o, out, XL + 1, len, NULL);
}

static double gru_exhaustive_best(attn_tape *t, const attn_gru_seq2seq *m, const int32_t *src,
                                  float alpha, int32_t *best, int64_t *best_len);

/* For one source and both length penalties: a beam wide enough to keep every hypothesis finds
 * the exhaustive search's best; a narrow one returns a complete hypothesis (counted in *missed
 * when it is not the best). */
static void check_exhaustive(const tiny *m, attn_tape *t, const int32_t *src, int uncached, const char *what,
                             int *missed, int *cases)
{
    for (int a = 0; a < 2; a++) {
        const float alpha = a ? 0.6f : 0.0f;
        int32_t want[XL + 1], out[XL + 1];
        int64_t want_len = 0, len;
        if (m->tf) exhaustive_best(t, m->tf, src, alpha, want, &want_len);
        else gru_exhaustive_best(t, m->gru, src, alpha, want, &want_len);
        attn_generate_options o = {.bos_id = XBOS, .eos_id = XEOS, .max_new = XL, .beam = 128,
                                   .len_penalty = alpha, .no_cache = uncached};
        cr_assert_eq(tiny_generate(m, t, src, 1, &o, out, &len), ATTN_OK, "%s", attn_last_error());
        cr_expect_eq(len, want_len, "%s alpha %g: length %lld, exhaustive %lld", what, (double)alpha, (long long)len,
                     (long long)want_len);
        cr_expect_eq(memcmp(out, want, (size_t)(len < want_len ? len : want_len) * 4), 0,
                     "%s alpha %g: beam output differs from exhaustive", what, (double)alpha);
        cr_expect_eq(out[len], XEOS);
        o.beam = 2;
        cr_assert_eq(tiny_generate(m, t, src, 1, &o, out, &len), ATTN_OK);
        cr_expect(len >= 0 && len <= XL && out[len] == XEOS);
        *missed += len != want_len || memcmp(out, want, (size_t)len * 4);
        ++*cases;
    }
}

/* The test sources of a seed: three rows, the second padded. */
static void sources(uint64_t seed, int32_t *srcs)
{
    for (int trial = 0; trial < 3; trial++) {
        int32_t *src = srcs + trial * XS;
        for (int j = 0; j < XS; j++) src[j] = 1 + (int32_t)((seed * 7 + (uint64_t)trial * 3 + (uint64_t)j * 5) % 6);
        if (trial == 1) src[XS - 1] = src[XS - 2] = XPAD;
    }
}

static void beam_vs_exhaustive(int uncached)
{
    attn_tape *t;
    attn_tape_config tc = {.num_threads = 1};
    cr_assert_eq(attn_tape_create(&tc, &t), ATTN_OK);
    int missed = 0, cases = 0;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        tiny m = {.tf = tiny_model(seed)};
        int32_t srcs[3 * XS];
        sources(seed, srcs);
        char what[64];
        for (int trial = 0; trial < 3; trial++) {
            snprintf(what, sizeof what, "seed %llu trial %d", (unsigned long long)seed, trial);
            check_exhaustive(&m, t, srcs + trial * XS, uncached, what, &missed, &cases);
        }
        attn_seq2seq_free(m.tf);
    }
    cr_log_info("%s: beam 2 missed the exhaustive best in %d of %d cases", uncached ? "uncached" : "cached", missed,
                cases);
    attn_tape_free(t);
}


Test(generate, beam_search_equals_exhaustive_search) { beam_vs_exhaustive(1); }
Test(generate, cached_beam_search_equals_exhaustive_search) { beam_vs_exhaustive(0); }

Test(generate, batched_greedy_equals_one_at_a_time)
{
    attn_tape *t;
    attn_tape_config tc = {.num_threads = 1};
    cr_assert_eq(attn_tape_create(&tc, &t), ATTN_OK);
    for (uint64_t seed = 1; seed <= 6; seed++) {
        attn_seq2seq *m = tiny_model(seed);
        int32_t src[3 * XS];
        for (int j = 0; j < 3 * XS; j++) src[j] = 1 + (int32_t)((seed * 5 + (uint64_t)j * 3) % 6);
        src[2 * XS - 1] = XPAD;
        for (int uncached = 0; uncached < 2; uncached++) {
            attn_generate_options o = {.bos_id = XBOS, .eos_id = XEOS, .max_new = XL, .no_cache = uncached};
            int32_t g[3 * (XL + 1)], one[XL + 1];
            int64_t glen[3], olen;
            cr_assert_eq(attn_seq2seq_generate(m, t, src, 3, XS, &o, g, XL + 1, glen, NULL), ATTN_OK, "%s",
                         attn_last_error());
            for (int i = 0; i < 3; i++) {
                cr_assert_eq(attn_seq2seq_generate(m, t, src + i * XS, 1, XS, &o, one, XL + 1, &olen, NULL), ATTN_OK);
                cr_expect_eq(olen, glen[i]);
                cr_expect_eq(memcmp(one, g + i * (XL + 1), (size_t)(XL + 1) * 4), 0,
                             "seed %llu row %d: batched greedy differs", (unsigned long long)seed, i);
            }
        }
        attn_seq2seq_free(m);
    }
    attn_tape_free(t);
}

static attn_gru_seq2seq *tiny_gru(uint64_t seed)
{
    attn_gru_seq2seq_config c = {.src_vocab = 7, .tgt_vocab = XV, .emb_size = 6, .enc_hidden = 5,
                                 .enc_layers = 1, .dec_hidden = 7, .attn_size = 4, .out_size = 6,
                                 .max_len = 8, .pad_id = XPAD};
    attn_gru_seq2seq *m;
    cr_assert_eq(attn_gru_seq2seq_create(&c, seed, &m), ATTN_OK, "%s", attn_last_error());
    for (int64_t i = 0; i < m->generator.weight->numel; i++) m->generator.weight->data[i] *= 6;
    return m;
}

/* As exhaustive_best, scoring every hypothesis with the GRU model under teacher forcing. */
static double gru_exhaustive_best(attn_tape *t, const attn_gru_seq2seq *m, const int32_t *src,
                                  float alpha, int32_t *best, int64_t *best_len)
{
    int32_t *seqs, *srcR;
    hypotheses(src, &seqs, &srcR);
    attn_var *enc, *s0, *logits;
    attn_tape_set_training(t, 0);
    cr_assert_eq(attn_tape_reset(t), ATTN_OK);
    cr_assert_eq(attn_gru_seq2seq_encode(t, m, srcR, XR, XS, &enc, &s0), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(attn_gru_seq2seq_decode(t, m, enc, s0, srcR, XS, seqs, XL + 1, &logits, NULL), ATTN_OK, "%s",
                 attn_last_error());
    double s = best_scored(logits->data, seqs, alpha, best, best_len);
    free(seqs), free(srcR);
    return s;
}


Test(generate, gru_beam_search_equals_exhaustive_search)
{
    attn_tape *t;
    attn_tape_config tc = {.num_threads = 1};
    cr_assert_eq(attn_tape_create(&tc, &t), ATTN_OK);
    int missed = 0, cases = 0;
    for (uint64_t seed = 1; seed <= 4; seed++) {
        attn_gru_seq2seq *m = tiny_gru(seed);
        tiny tm = {.gru = m};
        int32_t srcs[3 * XS];
        sources(seed, srcs);
        char what[64];
        for (int trial = 0; trial < 3; trial++) {
            snprintf(what, sizeof what, "GRU seed %llu trial %d", (unsigned long long)seed, trial);
            check_exhaustive(&tm, t, srcs + trial * XS, 0, what, &missed, &cases);
        }
        /* three sentences decoded together = each alone (greedy, beam 1, beam 3) */
        for (int beam = 1; beam <= 3; beam += 2) {
            attn_generate_options o = {.bos_id = XBOS, .eos_id = XEOS, .max_new = XL, .beam = beam, .len_penalty = 0.6f};
            int32_t all[3 * (XL + 1)], one[XL + 1];
            int64_t alen[3], olen;
            cr_assert_eq(attn_gru_seq2seq_generate(m, t, srcs, 3, XS, &o, all, XL + 1, alen, NULL), ATTN_OK, "%s",
                         attn_last_error());
            for (int i = 0; i < 3; i++) {
                cr_assert_eq(attn_gru_seq2seq_generate(m, t, srcs + i * XS, 1, XS, &o, one, XL + 1, &olen, NULL), ATTN_OK);
                cr_expect_eq(olen, alen[i], "beam %d row %d", beam, i);
                cr_expect_eq(memcmp(one, all + i * (XL + 1), (size_t)(XL + 1) * 4), 0,
                             "seed %llu beam %d row %d: batched decoding differs", (unsigned long long)seed, beam, i);
            }
        }
        attn_gru_seq2seq_free(m);
    }
    cr_log_info("GRU: beam 2 missed the exhaustive best in %d of %d cases", missed, cases);
    attn_tape_free(t);
}

/* ---- cached = uncached ------------------------------------------------------------------------ */

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

/* The largest difference between two steppers' log-probabilities fed the same tokens, relative
 * to max(1, |logp|): float spacing near |logp| = 40 is 3.8e-6, so an absolute 1e-6 would ask
 * for less than one unit in the last place. */
static double stepper_gap(attn_stepper *a, attn_stepper *b, int64_t R, int64_t V, int64_t steps, uint64_t seed)
{
    float *la = malloc((size_t)(R * V) * 4), *lb = malloc((size_t)(R * V) * 4);
    int32_t *y = malloc((size_t)R * 4);
    double gap = 0;
    for (int64_t p = 0; p < steps; p++) {
        for (int64_t r = 0; r < R; r++) y[r] = (int32_t)(attn_philox_uniform(seed, (uint64_t)p, (uint64_t)r) * (float)V);
        cr_assert_eq(attn_stepper_step(a, y, p, la), ATTN_OK, "%s", attn_last_error());
        cr_assert_eq(attn_stepper_step(b, y, p, lb), ATTN_OK, "%s", attn_last_error());
        for (int64_t i = 0; i < R * V; i++) gap = fmax(gap, fabs((double)la[i] - lb[i]) / fmax(1.0, fabs(la[i])));
    }
    free(la), free(lb), free(y);
    return gap;
}

static void compare_seq2seq(attn_seq2seq *m, const attn_generate_options *base, int64_t L)
{
    attn_tape *t;
    attn_tape_config tc = {.num_threads = 1};
    cr_assert_eq(attn_tape_create(&tc, &t), ATTN_OK);
    attn_generate_options o = *base;
    o.max_new = L;
    int32_t a[MN * 16], b[MN * 16];
    int64_t la[MN], lb[MN];
    o.no_cache = 1;
    cr_assert_eq(attn_seq2seq_generate(m, t, mt_src, MN, MS, &o, a, L + 1, la, NULL), ATTN_OK, "%s", attn_last_error());
    o.no_cache = 0;
    cr_assert_eq(attn_seq2seq_generate(m, t, mt_src, MN, MS, &o, b, L + 1, lb, NULL), ATTN_OK, "%s", attn_last_error());
    for (int i = 0; i < MN; i++) {
        cr_assert_eq(la[i], lb[i], "beam %d sample %d sentence %d: length %lld (uncached) vs %lld (cached)", o.beam,
                     o.sample, i, (long long)la[i], (long long)lb[i]);
        for (int64_t j = 0; j <= L; j++)
            cr_assert_eq(a[i * (L + 1) + j], b[i * (L + 1) + j], "beam %d sample %d sentence %d token %lld", o.beam,
                         o.sample, i, (long long)j);
    }
    attn_tape_free(t);
}

Test(generate, seq2seq_cached_equals_uncached)
{
    const struct {
        int norm_first, layers;
        attn_activation act;
    } cases[] = {{1, 2, ATTN_ACT_RELU}, {0, 1, ATTN_ACT_GELU}, {1, 1, ATTN_ACT_GELU_TANH}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            attn_seq2seq *m = mt_model(seed * 7 + k, cases[k].norm_first, cases[k].act, cases[k].layers);
            for (int beam = 1; beam <= 4; beam++) {
                attn_generate_options o = {.bos_id = MBOS, .eos_id = MEOS, .beam = beam};
                compare_seq2seq(m, &o, 9);
                o.len_penalty = 0.6f;
                compare_seq2seq(m, &o, 9);
            }
            attn_generate_options lp = {.bos_id = MBOS, .eos_id = MEOS, .beam = 3, .len_penalty = 1.0f};
            compare_seq2seq(m, &lp, 15); /* the longest the position table allows */
            attn_generate_options s = {.bos_id = MBOS, .eos_id = MEOS, .sample = 1, .temperature = 1.3f,
                                       .top_k = 6, .top_p = 0.9f, .seed = seed};
            compare_seq2seq(m, &s, 12);
            /* log-probabilities, position by position, for rows fed the same random tokens */
            attn_tape *t;
            attn_tape_config tc = {.num_threads = 1};
            cr_assert_eq(attn_tape_create(&tc, &t), ATTN_OK);
            attn_stepper *u, *c;
            cr_assert_eq(attn_seq2seq_stepper_create(m, t, mt_src, MN, MS, 2, 16, 0, &u), ATTN_OK, "%s",
                         attn_last_error());
            cr_assert_eq(attn_seq2seq_stepper_create(m, t, mt_src, MN, MS, 2, 16, 1, &c), ATTN_OK, "%s",
                         attn_last_error());
            const double gap = stepper_gap(u, c, 2 * MN, MV, 16, seed);
            cr_expect(gap <= 1e-6, "case %zu seed %llu: log-probabilities differ by %g", k, (unsigned long long)seed, gap);
            attn_stepper_free(u), attn_stepper_free(c);
            attn_tape_free(t);
            attn_seq2seq_free(m);
        }
}

enum { GV = 13, GC = 24 };

static attn_gpt *tiny_gpt(uint64_t seed, int layers)
{
    attn_gpt_config c = {.vocab = GV, .context = GC, .n_layer = layers, .n_head = 2, .d_model = 16, .dropout = 0.1f};
    attn_gpt *m;
    cr_assert_eq(attn_gpt_create(&c, seed, &m), ATTN_OK, "%s", attn_last_error());
    /* the tied head reads wte: sharpen it so that no two tokens nearly tie */
    for (int64_t i = 0; i < m->wte.weight->numel; i++) m->wte.weight->data[i] *= 40;
    return m;
}

static void compare_gpt(const attn_gpt *m, const attn_generate_options *base, const int32_t *prompt, int64_t N,
                        int64_t P, int64_t cap)
{
    attn_generate_options o = *base;
    int32_t *a = malloc((size_t)(N * cap) * 4), *b = malloc((size_t)(N * cap) * 4);
    int64_t la[4], lb[4];
    o.no_cache = 1;
    cr_assert_eq(attn_gpt_generate(m, prompt, N, P, &o, a, cap, la, NULL), ATTN_OK, "%s", attn_last_error());
    o.no_cache = 0;
    cr_assert_eq(attn_gpt_generate(m, prompt, N, P, &o, b, cap, lb, NULL), ATTN_OK, "%s", attn_last_error());
    for (int64_t i = 0; i < N; i++) cr_assert_eq(la[i], lb[i], "beam %d sample %d row %lld", o.beam, o.sample, (long long)i);
    cr_assert_eq(memcmp(a, b, (size_t)(N * cap) * 4), 0, "beam %d sample %d: tokens differ", o.beam, o.sample);
    free(a), free(b);
}

Test(generate, gpt_cached_equals_uncached)
{
    const int32_t prompt[3 * 4] = {1, 5, 7, 2, 3, 3, 9, 12, 0, 4, 8, 6};
    for (uint64_t seed = 1; seed <= 3; seed++) {
        attn_gpt *m = tiny_gpt(seed, (int)seed % 2 + 1);
        attn_generate_options greedy = {.eos_id = -1};
        compare_gpt(m, &greedy, prompt, 3, 4, 21); /* up to the context: 4 + 20 */
        attn_generate_options with_eos = {.eos_id = 2, .max_new = 12};
        compare_gpt(m, &with_eos, prompt, 3, 4, 16);
        attn_generate_options beam = {.eos_id = 2, .beam = 3, .len_penalty = 0.6f, .max_new = 10};
        compare_gpt(m, &beam, prompt, 3, 4, 16);
        attn_generate_options s = {.eos_id = -1, .sample = 1, .temperature = 1.5f, .top_p = 0.95f, .seed = 42 + seed};
        compare_gpt(m, &s, prompt, 3, 4, 15);
        attn_stepper *u, *c;
        cr_assert_eq(attn_gpt_stepper_create(m, 3, GC, 0, 1, &u), ATTN_OK, "%s", attn_last_error());
        cr_assert_eq(attn_gpt_stepper_create(m, 3, GC, 1, 1, &c), ATTN_OK, "%s", attn_last_error());
        const double gap = stepper_gap(u, c, 3, GV, GC, seed);
        cr_expect(gap <= 1e-6, "seed %llu: log-probabilities differ by %g", (unsigned long long)seed, gap);
        attn_stepper_free(u), attn_stepper_free(c);
        attn_gpt_free(m);
    }
}

/* ---- sampling ------------------------------------------------------------------------------------ */

Test(generate, sampling_is_seeded_and_truncation_works)
{
    attn_gpt *m = tiny_gpt(7, 1);
    for (int64_t i = 0; i < m->wte.weight->numel; i++) m->wte.weight->data[i] /= 40; /* broad again */
    const int32_t prompt[2] = {3, 4};
    int32_t a[2 * 21], b[2 * 21], g[2 * 21];
    int64_t la[2], lb[2], lg[2];
    attn_generate_options o = {.eos_id = -1, .sample = 1, .seed = 1234};
    cr_assert_eq(attn_gpt_generate(m, prompt, 2, 1, &o, a, 21, la, NULL), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(attn_gpt_generate(m, prompt, 2, 1, &o, b, 21, lb, NULL), ATTN_OK);
    cr_assert_eq(memcmp(a, b, sizeof a), 0, "the same seed gives the same text");
    cr_assert_eq(la[0], 20, "no EOS: the row runs to cap − 1");
    o.seed = 1235;
    cr_assert_eq(attn_gpt_generate(m, prompt, 2, 1, &o, b, 21, lb, NULL), ATTN_OK);
    cr_assert_neq(memcmp(a, b, sizeof a), 0, "another seed, other text (13 tokens, 40 draws)");
    /* top-k 1 and a tiny top-p keep only the most likely token: greedy */
    attn_generate_options gr = {.eos_id = -1};
    cr_assert_eq(attn_gpt_generate(m, prompt, 2, 1, &gr, g, 21, lg, NULL), ATTN_OK);
    attn_generate_options k1 = {.eos_id = -1, .sample = 1, .top_k = 1, .seed = 9};
    cr_assert_eq(attn_gpt_generate(m, prompt, 2, 1, &k1, a, 21, la, NULL), ATTN_OK);
    cr_assert_eq(memcmp(a, g, sizeof a), 0, "top-k 1 is greedy");
    attn_generate_options p0 = {.eos_id = -1, .sample = 1, .top_p = 1e-6f, .seed = 9};
    cr_assert_eq(attn_gpt_generate(m, prompt, 2, 1, &p0, a, 21, la, NULL), ATTN_OK);
    cr_assert_eq(memcmp(a, g, sizeof a), 0, "top-p → 0 is greedy");
    /* the empirical distribution of one draw follows the model's (temperature 1, no truncation) */
    attn_stepper *s;
    cr_assert_eq(attn_gpt_stepper_create(m, 1, 2, 1, 1, &s), ATTN_OK);
    float lp[GV];
    cr_assert_eq(attn_stepper_step(s, prompt, 0, lp), ATTN_OK);
    attn_stepper_free(s);
    int count[GV] = {0};
    const int draws = 4000;
    for (int d = 0; d < draws; d++) {
        attn_generate_options one = {.eos_id = -1, .sample = 1, .seed = (uint64_t)d, .max_new = 1};
        int32_t out[2];
        int64_t len;
        cr_assert_eq(attn_gpt_generate(m, prompt, 1, 1, &one, out, 2, &len, NULL), ATTN_OK);
        count[out[0]]++;
    }
    for (int v = 0; v < GV; v++) {
        const double p = exp(lp[v]), sd = sqrt(p * (1 - p) / draws);
        cr_expect(fabs(count[v] / (double)draws - p) <= 5 * sd + 1e-3, "token %d: %d of %d draws, p = %g", v, count[v],
                  draws, p);
    }
    attn_gpt_free(m);
}

/* ---- beyond the context ---------------------------------------------------------------------- */

static int64_t window_calls;
static int count_steps(void *ctx, int64_t step, const int32_t *tokens, int64_t N)
{
    (void)ctx, (void)tokens, (void)N;
    cr_assert_eq(step, window_calls, "on_token's step counts across rounds");
    window_calls++;
    return 0;
}

Test(generate, gpt_window_slides_beyond_the_context)
{
    attn_gpt *m = tiny_gpt(5, 2);
    for (int64_t i = 0; i < m->wte.weight->numel; i++) m->wte.weight->data[i] /= 8; /* broad enough to sample */
    enum { N = 2, P = 4, L = 50, CAP = L + 1, KEEP = GC / 2 };
    const int32_t prompt[N * P] = {1, 5, 7, 2, 3, 3, 9, 12};
    const attn_generate_options kinds[2] = {{.eos_id = -1}, {.eos_id = -1, .sample = 1, .temperature = 1.2f, .seed = 77}};
    for (int k = 0; k < 2; k++) {
        attn_generate_options o = kinds[k];
        o.max_new = L;
        compare_gpt(m, &o, prompt, N, P, CAP); /* cached = uncached across rounds */
        int32_t out[N * CAP];
        int64_t len[N];
        window_calls = 0;
        o.on_token = count_steps;
        cr_assert_eq(attn_gpt_generate(m, prompt, N, P, &o, out, CAP, len, NULL), ATTN_OK, "%s", attn_last_error());
        cr_assert_eq(window_calls, L);
        for (int64_t i = 0; i < N; i++) cr_assert_eq(len[i], L, "kind %d row %lld: %lld tokens", k, (long long)i, (long long)len[i]);
        /* the same text, round by round with separate calls: the first fills the context, each
         * next one continues the last GC/2 tokens with the round's seed */
        int32_t seq[N][P + L];
        for (int64_t i = 0; i < N; i++) memcpy(seq[i], prompt + i * P, P * sizeof(int32_t));
        int64_t made = 0, Pr = P;
        for (uint64_t r = 0; made < L; r++) {
            attn_generate_options ro = kinds[k];
            ro.max_new = GC - Pr < L - made ? GC - Pr : L - made;
            ro.seed = kinds[k].seed + r * 0x9E3779B97F4A7C15ull;
            int32_t rp[N * P > N * KEEP ? N * P : N * KEEP], ro_out[N * GC];
            int64_t rl[N];
            for (int64_t i = 0; i < N; i++)
                for (int64_t j = 0; j < Pr; j++) rp[i * Pr + j] = seq[i][P + made - Pr + j];
            cr_assert_eq(attn_gpt_generate(m, rp, N, Pr, &ro, ro_out, GC, rl, NULL), ATTN_OK, "%s", attn_last_error());
            for (int64_t i = 0; i < N; i++) {
                cr_assert_eq(rl[i], ro.max_new);
                memcpy(seq[i] + P + made, ro_out + i * GC, (size_t)ro.max_new * sizeof(int32_t));
            }
            made += ro.max_new, Pr = KEEP;
        }
        for (int64_t i = 0; i < N; i++)
            cr_assert_eq(memcmp(out + i * CAP, seq[i] + P, L * sizeof(int32_t)), 0, "kind %d row %lld differs from the rounds", k,
                         (long long)i);
    }
    /* with an EOS: every row ends with one (chosen, or forced at the bound), cached = uncached */
    attn_generate_options e = {.eos_id = 2, .sample = 1, .seed = 3, .max_new = L};
    compare_gpt(m, &e, prompt, N, P, CAP);
    int32_t out[N * CAP];
    int64_t len[N];
    cr_assert_eq(attn_gpt_generate(m, prompt, N, P, &e, out, CAP, len, NULL), ATTN_OK, "%s", attn_last_error());
    for (int64_t i = 0; i < N; i++) {
        cr_assert_eq(out[i * CAP + len[i]], 2, "row %lld ends with its EOS", (long long)i);
        for (int64_t t = 0; t < len[i]; t++) cr_assert_neq(out[i * CAP + t], 2);
    }
    /* beam search stays within the context */
    attn_generate_options b = {.eos_id = 2, .beam = 2, .max_new = L};
    cr_assert_eq(attn_gpt_generate(m, prompt, N, P, &b, out, CAP, len, NULL), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "beam") != NULL, "%s", attn_last_error());
    attn_gpt_free(m);
}

/* ---- streaming, limits, bad arguments --------------------------------------------------------- */

typedef struct seen {
    int64_t calls, tokens[32];
    int stop_after;
} seen;

static int on_token(void *ctx, int64_t step, const int32_t *tokens, int64_t N)
{
    seen *s = ctx;
    cr_assert_eq(step, s->calls);
    cr_assert_eq(N, 1);
    s->tokens[s->calls++] = tokens[0];
    return s->stop_after && s->calls >= s->stop_after;
}

Test(generate, streaming_callback_and_limits)
{
    attn_gpt *m = tiny_gpt(3, 1);
    const int32_t prompt[1] = {5};
    int32_t out[24];
    int64_t len;
    seen s = {0};
    attn_generate_options o = {.eos_id = -1, .max_new = 9, .on_token = on_token, .ctx = &s};
    attn_generate_info info;
    cr_assert_eq(attn_gpt_generate(m, prompt, 1, 1, &o, out, 24, &len, &info), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(len, 9);
    cr_assert_eq(s.calls, 9, "one call per generated token");
    for (int i = 0; i < 9; i++) cr_assert_eq(s.tokens[i], out[i]);
    cr_assert_eq(info.max_new, 9);
    seen stop = {.stop_after = 3};
    o.ctx = &stop;
    cr_assert_eq(attn_gpt_generate(m, prompt, 1, 1, &o, out, 24, &len, &info), ATTN_OK);
    cr_assert(info.stopped && len == 3, "stopped after %lld", (long long)len);
    /* the bound: the context less the prompt, and the room in out */
    attn_generate_options free_run = {.eos_id = -1};
    cr_assert_eq(attn_gpt_generate(m, prompt, 1, 1, &free_run, out, 24, &len, &info), ATTN_OK);
    cr_assert_eq(len, GC - 1);
    cr_assert_eq(attn_gpt_generate(m, prompt, 1, 1, &free_run, out, 6, &len, &info), ATTN_OK);
    cr_assert_eq(len, 5);
    /* a time limit ends the call */
    attn_generate_options quick = {.eos_id = -1, .max_seconds = 1e-9};
    cr_assert_eq(attn_gpt_generate(m, prompt, 1, 1, &quick, out, 24, &len, &info), ATTN_OK);
    cr_assert(info.timed_out && len < GC - 1);
    /* bad arguments: an error and a message, nothing else */
    attn_generate_options bad = {.eos_id = -1, .max_new = -1};
    cr_assert_eq(attn_gpt_generate(m, prompt, 1, 1, &bad, out, 24, &len, NULL), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "max_new") != NULL, "%s", attn_last_error());
    bad = (attn_generate_options){.eos_id = -1, .beam = 3};
    cr_assert_eq(attn_gpt_generate(m, prompt, 1, 1, &bad, out, 24, &len, NULL), ATTN_E_ARG, "beam without EOS");
    bad = (attn_generate_options){.eos_id = 2, .beam = 2, .sample = 1};
    cr_assert_eq(attn_gpt_generate(m, prompt, 1, 1, &bad, out, 24, &len, NULL), ATTN_E_ARG, "beam and sampling");
    bad = (attn_generate_options){.eos_id = -1, .sample = 1, .top_p = 1.5f};
    cr_assert_eq(attn_gpt_generate(m, prompt, 1, 1, &bad, out, 24, &len, NULL), ATTN_E_ARG);
    const int32_t bad_prompt[1] = {GV};
    free_run.max_new = 2;
    cr_assert_eq(attn_gpt_generate(m, bad_prompt, 1, 1, &free_run, out, 24, &len, NULL), ATTN_E_ARG);
    cr_assert_eq(attn_gpt_generate(m, prompt, 1, GC, &free_run, out, 24, &len, NULL), ATTN_E_ARG, "no room");
    attn_gpt_free(m);

    attn_seq2seq *s2 = mt_model(1, 1, ATTN_ACT_RELU, 1);
    int32_t o2[MN * 17];
    int64_t l2[MN];
    attn_generate_options so = {.bos_id = MBOS, .eos_id = MEOS, .max_new = 16};
    cr_assert_eq(attn_seq2seq_generate(s2, NULL, mt_src, MN, MS, &so, o2, 17, l2, NULL), ATTN_E_ARG, "max_new > 15");
    so.max_new = 0;
    cr_assert_eq(attn_seq2seq_generate(s2, NULL, mt_src, MN, MS, &so, o2, 17, l2, &info), ATTN_OK, "%s",
                 attn_last_error());
    cr_assert_eq(info.max_new, 15, "2·7 + 10 = 24, cut to the model's 15");
    so.beam = ATTN_MAX_BEAM + 1;
    cr_assert_eq(attn_seq2seq_generate(s2, NULL, mt_src, MN, MS, &so, o2, 17, l2, NULL), ATTN_E_ARG, "beam");
    so.beam = 1;
    cr_assert_eq(attn_seq2seq_generate(s2, NULL, mt_src, 0, MS, &so, o2, 17, l2, NULL), ATTN_E_ARG, "N 0");
    attn_seq2seq_free(s2);
}
