/* test_bench.c — attn/bench.h: the timing loop (repetition counts, alternation, batches,
 * failures), the FLOP and byte counts against their closed forms counted here by hand, an
 * attention case, the GPT training step (its windows and loss recomputed here from the
 * documented formula) and generation; bad input gives an error code and a message. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "attn.h"
#include "test_tmp.h"

/* ---- attn_bench_median, attn_bench_time ------------------------------------------------------ */

Test(bench, median)
{
    double odd[] = {5, 1, 3}, even[] = {4, 1, 3, 2};
    cr_assert_eq(attn_bench_median(odd, 3), 3);
    cr_assert_eq(attn_bench_median(even, 4), 2.5);
    cr_assert_eq(attn_bench_median(NULL, 3), 0);
    cr_assert_eq(attn_bench_median(odd, 0), 0);
}

typedef struct counter {
    int calls, id, fail_at;
    int *log, *n_log; /* the order in which functions ran */
} counter;

static int count_call(void *p)
{
    counter *c = p;
    c->calls++;
    if (c->log) c->log[(*c->n_log)++] = c->id;
    if (c->fail_at && c->calls == c->fail_at) return attn_set_error(ATTN_E_STATE, "call %d failed", c->calls);
    return 0;
}

Test(bench, time_counts_calls_and_alternates)
{
    int log[256], n_log = 0;
    counter a = {0, 0, 0, log, &n_log}, b = {0, 1, 0, log, &n_log};
    attn_bench_fn fns[2] = {count_call, count_call};
    void *ctx[2] = {&a, &b};
    attn_bench_options o = {.reps = 6, .rounds = 3, .batch = 4, .warm_each_block = 1};
    attn_bench_timing t[2];
    cr_assert_eq(attn_bench_time(2, fns, ctx, &o, t), ATTN_OK);
    cr_assert_eq(t[0].reps, 6);
    cr_assert_eq(t[1].reps, 6);
    /* a cold call, then per block a warm-up and 2 repetitions of 4 calls: 1 + 3·(1 + 8) */
    cr_assert_eq(a.calls, 28, "calls %d", a.calls);
    cr_assert_eq(b.calls, 28, "calls %d", b.calls);
    /* blocks alternate: after the two cold calls, 9 calls of a, 9 of b, 9 of a, … */
    for (int i = 2; i < n_log; i++) cr_assert_eq(log[i], ((i - 2) / 9) % 2, "call %d ran %d", i, log[i]);
    cr_assert(t[0].ms_min <= t[0].ms && t[0].ms <= t[0].ms_max);
    cr_assert(t[0].ms >= 0 && t[0].cpu_ms >= 0);
}

static int sleep_1ms(void *p)
{
    (void)p;
    double t0 = attn_now();
    while (attn_now() - t0 < 1e-3) {
    }
    return 0;
}

Test(bench, time_min_seconds_sets_the_count)
{
    attn_bench_fn fn = sleep_1ms;
    attn_bench_options o = {.reps = 3, .max_reps = 64, .min_seconds = 0.02};
    attn_bench_timing t;
    cr_assert_eq(attn_bench_time(1, &fn, NULL, &o, &t), ATTN_OK);
    /* 1 ms a call or more (a busy machine): at most 21 repetitions make 0.02 s, at least 3 */
    cr_assert(t.reps >= 3 && t.reps <= 21, "reps %d", t.reps);
    cr_assert(t.ms >= 1.0 && t.ms_min >= 1.0, "ms %g", t.ms);
    o.max_reps = 5, o.min_seconds = 10; /* the cap wins */
    cr_assert_eq(attn_bench_time(1, &fn, NULL, &o, &t), ATTN_OK);
    cr_assert_eq(t.reps, 5);
    o.min_seconds = 0; /* exactly reps */
    cr_assert_eq(attn_bench_time(1, &fn, NULL, &o, &t), ATTN_OK);
    cr_assert_eq(t.reps, 3);
}

Test(bench, time_errors)
{
    attn_bench_fn fns[2] = {count_call, NULL};
    counter c = {0};
    void *ctx[2] = {&c, &c};
    attn_bench_timing t[2];
    cr_assert_eq(attn_bench_time(0, fns, ctx, NULL, t), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "n_fns"));
    cr_assert_eq(attn_bench_time(9, fns, ctx, NULL, t), ATTN_E_ARG);
    cr_assert_eq(attn_bench_time(2, fns, ctx, NULL, t), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "fns[1]"));
    cr_assert_eq(attn_bench_time(1, NULL, ctx, NULL, t), ATTN_E_ARG);
    attn_bench_options bad = {.reps = -1};
    cr_assert_eq(attn_bench_time(1, fns, ctx, &bad, t), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "negative"));
    c.fail_at = 3; /* a failing call stops the timing with its status */
    attn_bench_options o = {.reps = 10};
    cr_assert_eq(attn_bench_time(1, fns, ctx, &o, t), ATTN_E_STATE);
    cr_assert_eq(c.calls, 3);
    cr_assert(strstr(attn_last_error(), "call 3 failed"));
}

/* ---- attention ------------------------------------------------------------------------------ */

Test(bench, sdpa_counts)
{
    /* the two products of attention, counted pair by pair: q·k over E for every (query, key),
     * then the weighted sum of values: 2 FLOPs (multiply, add) per element each */
    attn_bench_sdpa_case c = {.B = 2, .H = 3, .Lq = 5, .Lk = 7, .E = 4};
    double per_pair = 2.0 * 4 + 2.0 * 4, by_hand = 2 * 3 * 5 * 7 * per_pair, f, bytes;
    cr_assert_eq(attn_bench_sdpa_count(&c, &f, &bytes), ATTN_OK);
    cr_assert_eq(f, by_hand);
    cr_assert_eq(bytes, 4.0 * (2 * 2 * 3 * 7 * 4 + 2 * 2 * 3 * 5 * 4)); /* q, k, v read, out written */
    c.causal = 1;
    cr_assert_eq(attn_bench_sdpa_count(&c, &f, NULL), ATTN_OK);
    cr_assert_eq(f, by_hand / 2);
    c.causal = 0, c.B = 4, c.half_lengths = 1, c.backward = 1; /* rows 2, 3 keep 3 of 7 keys */
    cr_assert_eq(attn_bench_sdpa_count(&c, &f, NULL), ATTN_OK);
    cr_assert_float_eq(f, 2.5 * 3 * 5 * per_pair * (2 * 7 + 2 * 3), 1e-9);
    c.E = 0;
    cr_assert_eq(attn_bench_sdpa_count(&c, &f, NULL), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "E=0"));
}

Test(bench, sdpa_named_and_load)
{
    attn_bench_sdpa_case c;
    int decode = -1;
    cr_assert_eq(attn_bench_sdpa_named("S6", 2, 5, &c, &decode), ATTN_OK);
    cr_assert(c.H == 32 && c.Lq == 1 && c.Lk == 4096 && c.E == 128 && decode == 1 && c.threads == 2 && c.reps == 5);
    cr_assert(c.kernel == ATTN_KERNEL_FLASH && !c.backward && !c.causal);
    cr_assert_eq(attn_bench_sdpa_named("S7", 1, 0, &c, &decode), ATTN_OK);
    cr_assert(c.B == 4 && c.half_lengths && !decode);
    /* S8 is the attention of bench train's GPT: batch 8, 6 heads of 384 / 6, context 256, causal */
    cr_assert_eq(attn_bench_sdpa_named("S8", 1, 0, &c, NULL), ATTN_OK);
    cr_assert(c.B == 8 && c.H == 6 && c.E == 384 / 6 && c.Lq == 256 && c.Lk == 256 && c.causal);
    char list[] = ATTN_BENCH_SDPA_DEFAULT;
    int n = 0;
    for (char *t = strtok(list, ","); t; t = strtok(NULL, ","), n++)
        cr_assert_eq(attn_bench_sdpa_named(t, 1, 0, &c, NULL), ATTN_OK, "%s", t);
    cr_assert_eq(n, 7);
    cr_assert_eq(attn_bench_sdpa_named("S9", 1, 0, &c, NULL), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "'S9'"));
    cr_assert_eq(attn_bench_sdpa_named(NULL, 1, 0, &c, NULL), ATTN_E_ARG);
    FILE *f = fopen("/proc/loadavg", "r");
    double want = -1;
    if (f && fscanf(f, "%lf", &want) != 1) want = -1;
    if (f) fclose(f);
    const double l = attn_bench_load();
    cr_assert(want < 0 ? l == -1 : l >= 0 && fabs(l - want) < 5, "load %g (read %g)", l, want);
}

Test(bench, sdpa_case_runs)
{
    attn_bench_sdpa_case c = {.B = 2, .H = 2, .Lq = 32, .Lk = 32, .E = 16, .causal = 1, .half_lengths = 1,
                              .kernel = ATTN_KERNEL_FLASH, .threads = 1, .reps = 3};
    attn_machine_peak pk;
    cr_assert_eq(attn_machine_peak_init(&pk, 1), ATTN_OK);
    const int runs = pk.fma_runs;
    attn_bench_sdpa_result r;
    for (int bwd = 0; bwd < 2; bwd++) {
        c.backward = bwd;
        cr_assert_eq(attn_bench_sdpa(&c, &pk, &r), ATTN_OK, "%s", attn_last_error());
        cr_assert_eq(r.t.reps, 3);
        cr_assert(r.t.ms > 0 && r.rss_mb > 0);
        const double nq = 2 * 2 * 32 * 16, nk = nq;
        cr_assert_float_eq(r.io_mb, ((3 + 2 * bwd) * nq + (2 + 2 * bwd) * nk + 2 * 2 * 32) * 4 / 1048576.0, 1e-12);
    }
    cr_assert(pk.fma_runs > runs, "the peak is sampled between repetitions");
    c.reps = 65;
    cr_assert_eq(attn_bench_sdpa(&c, NULL, &r), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "reps=65"));
    cr_assert_eq(attn_bench_sdpa(NULL, NULL, &r), ATTN_E_ARG);
}

/* ---- matrix products ------------------------------------------------------------------------ */

Test(bench, sgemm_parse)
{
    attn_bench_sgemm_case c = {0};
    cr_assert_eq(attn_bench_sgemm_parse("4096x1536x384:NT", &c), ATTN_OK);
    cr_assert(c.M == 4096 && c.N == 1536 && c.K == 384 && c.ta == ATTN_NO_TRANS && c.tb == ATTN_TRANS);
    cr_assert_eq(attn_bench_sgemm_parse("512", &c), ATTN_OK);
    cr_assert(c.M == 512 && c.N == 512 && c.K == 512 && !c.ta && !c.tb);
    cr_assert_eq(attn_bench_sgemm_parse("7:TN", &c), ATTN_OK);
    cr_assert(c.ta == ATTN_TRANS && c.tb == ATTN_NO_TRANS);
    const char *bad[] = {"12x5", "0", "3x0x2", "4:NX", "4:N", "4:NNN", "x", "", "5 ", "-3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(attn_bench_sgemm_parse(bad[i], &c), ATTN_E_ARG, "'%s'", bad[i]);
        cr_assert(strstr(attn_last_error(), bad[i]));
    }
}

/* C = op(A)·op(B) by the definition, in double, row-major as attn_sgemm reads it */
static int naive(void *ctx, const attn_bench_sgemm_case *c, const float *A, const float *B, float *C)
{
    int *calls = ctx;
    ++*calls;
    for (int64_t i = 0; i < c->M; i++)
        for (int64_t j = 0; j < c->N; j++) {
            double s = 0;
            for (int64_t k = 0; k < c->K; k++)
                s += (double)(c->ta ? A[k * c->M + i] : A[i * c->K + k]) * (c->tb ? B[j * c->K + k] : B[k * c->N + j]);
            C[i * c->N + j] = (float)s;
        }
    return ATTN_OK;
}

static int failing(void *ctx, const attn_bench_sgemm_case *c, const float *A, const float *B, float *C)
{
    (void)ctx, (void)c, (void)A, (void)B, (void)C;
    return attn_set_error(ATTN_E_UNSUPPORTED, "the other product failed");
}

Test(bench, sgemm_case)
{
    attn_bench_sgemm_case c = {.M = 9, .N = 7, .K = 13, .ta = ATTN_TRANS, .tb = ATTN_TRANS, .threads = 1, .reps = 2};
    float A[9 * 13], B[13 * 7];
    for (int i = 0; i < 9 * 13; i++) A[i] = (float)((i * 7) % 11) / 11 - 0.5f;
    for (int i = 0; i < 13 * 7; i++) B[i] = (float)((i * 5) % 13) / 13 - 0.5f;
    int calls = 0;
    attn_bench_sgemm_result r;
    cr_assert_eq(attn_bench_sgemm(&c, A, B, naive, &calls, NULL, &r), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(r.flops, 2.0 * 9 * 7 * 13);
    cr_assert(r.t[0].reps >= 2 && r.t[1].reps == r.t[0].reps, "reps %d %d", r.t[0].reps, r.t[1].reps);
    cr_assert(calls > r.t[1].reps, "timed in batches (%d calls for %d repetitions)", calls, r.t[1].reps);
    cr_assert(r.max_abs > 0.1 && r.max_abs_diff < 1e-5, "max |diff| %g of max %g", r.max_abs_diff, r.max_abs);
    cr_assert_eq(attn_bench_sgemm(&c, A, B, NULL, NULL, NULL, &r), ATTN_OK);
    cr_assert(r.t[0].reps >= 2 && r.t[1].reps == 0 && r.max_abs == 0);
    cr_assert_eq(attn_bench_sgemm(&c, A, B, failing, NULL, NULL, &r), ATTN_E_UNSUPPORTED);
    cr_assert(strstr(attn_last_error(), "the other product failed"));
    c.reps = 0;
    cr_assert_eq(attn_bench_sgemm(&c, A, B, NULL, NULL, NULL, &r), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "reps 0"));
    c.reps = 1;
    cr_assert_eq(attn_bench_sgemm(&c, NULL, B, NULL, NULL, NULL, &r), ATTN_E_ARG);
}

/* ---- GPT ------------------------------------------------------------------------------------ */

static const attn_gpt_config tiny = {.vocab = 11, .context = 8, .n_layer = 2, .n_head = 2, .d_model = 8};

Test(bench, gpt_decode_bytes_closed_form)
{
    attn_gpt *m = NULL;
    cr_assert_eq(attn_gpt_create(&tiny, 1, &m), ATTN_OK);
    const double V = 11, C = 8, d = 8, L = 2, T = 6;
    /* GPT-2's parameters by hand: wte, wpe, per layer 2 LayerNorms (4d), attention (4d² + 4d),
     * MLP (8d² + 5d), then ln_f (2d); the head is tied to wte */
    const double params = V * d + C * d + L * (12 * d * d + 13 * d) + 2 * d;
    double w, c;
    cr_assert_eq(attn_gpt_decode_bytes(m, (int64_t)T, &w, &c), ATTN_OK);
    cr_assert_eq(w, 4 * (params - C * d + d));
    /* Σ_{p=0}^{T−2} 2·L·d·(p+2) floats over T − 1 positions = 4·L·d·(T+2) bytes */
    cr_assert_float_eq(c, 4 * L * d * (T + 2), 1e-9);
    cr_assert_eq(attn_gpt_decode_bytes(m, 9, &w, &c), ATTN_E_ARG);
    cr_assert(strstr(attn_last_error(), "T=9"));
    int64_t n = 0;
    double s = 0, cpu = 0;
    cr_assert_eq(attn_bench_gpt_generate(m, 8, 3, &n, &s, &cpu), ATTN_OK);
    cr_assert_eq(n, 7);
    cr_assert(s > 0 && cpu >= 0);
    cr_assert_eq(attn_bench_gpt_generate(m, 1, 3, &n, &s, &cpu), ATTN_E_ARG);
    attn_gpt_free(m);
}

static int hook_calls;
static int hook(void *ctx, attn_params *P)
{
    (void)ctx;
    hook_calls++;
    return P ? ATTN_OK : ATTN_E_ARG;
}

Test(bench, gpt_train_step)
{
    const char text[] = "the cat sat on the mat and the dog sat on the log; ";
    char four[4 * sizeof text];
    snprintf(four, sizeof four, "%s%s%s%s", text, text, text, text);
    const char *path = test_tmp_write("text.txt", four);
    attn_bench_gpt_train_config c = {.model = tiny, .seed = 5, .text_path = path, .batch = 4, .rank = 1,
                                     .ranks = 2, .threads = 1};
    attn_bench_gpt_train *b = NULL;
    cr_assert_eq(attn_bench_gpt_train_create(&c, &b), ATTN_OK, "%s", attn_last_error());
    const attn_gpt_config *mc = attn_bench_gpt_train_model(b);
    attn_chars ch;
    attn_chars_of_text(text, strlen(text), &ch);
    cr_assert_eq(mc->vocab, ch.V, "the text's characters are the vocabulary");
    /* step 3 of rank 1 of 2: sequences 3·4 + 2 and + 3, windows at philox(7, 0, gb)·(n − T − 1) */
    const int64_t n = 4 * (int64_t)strlen(text), T = 8;
    int32_t x[16], y[16];
    for (int i = 0; i < 2; i++) {
        int64_t start = (int64_t)(attn_philox_uniform(7, 0, 3 * 4 + 2 + (uint64_t)i) * (float)(n - T - 1));
        for (int j = 0; j < T; j++)
            x[i * T + j] = ch.id[(unsigned char)text[(start + j) % (int64_t)strlen(text)]],
            y[i * T + j] = ch.id[(unsigned char)text[(start + j + 1) % (int64_t)strlen(text)]];
    }
    attn_tape *t = NULL;
    attn_var *logits, *loss;
    attn_ce_options ce = {.ignore_index = -100};
    attn_tape_config tc = {.num_threads = 1};
    cr_assert_eq(attn_tape_create(&tc, &t), ATTN_OK);
    attn_gpt *m = NULL;
    attn_gpt_config same = *mc;
    cr_assert_eq(attn_gpt_create(&same, 5, &m), ATTN_OK); /* the same seed: the same weights */
    cr_assert_eq(attn_gpt_forward(t, m, x, 2, T, &logits), ATTN_OK);
    cr_assert_eq(attn_op_cross_entropy(t, logits, y, &ce, &loss), ATTN_OK);
    double l = 0, ms = 0, first;
    cr_assert_eq(attn_bench_gpt_train_step(b, 3, hook, NULL, &l, &ms), ATTN_OK, "%s", attn_last_error());
    cr_assert_float_eq(l, loss->data[0], 1e-6, "step loss %g, by hand %g", l, loss->data[0]);
    cr_assert(ms > 0);
    cr_assert_eq(hook_calls, 1);
    first = l;
    for (int i = 0; i < 30; i++) cr_assert_eq(attn_bench_gpt_train_step(b, 3, NULL, NULL, &l, NULL), ATTN_OK);
    cr_assert(l < first - 0.05, "AdamW (lr 3e-4) on one batch lowers its loss (%g → %g)", first, l);
    cr_assert_not_null(attn_bench_gpt_train_params(b));
    attn_gpt_free(m);
    attn_tape_free(t);
    attn_bench_gpt_train_free(b);
}

Test(bench, gpt_train_errors)
{
    attn_bench_gpt_train *b = (attn_bench_gpt_train *)1;
    attn_bench_gpt_train_config c = {.model = tiny, .batch = 3, .rank = 0, .ranks = 2};
    cr_assert_eq(attn_bench_gpt_train_create(&c, &b), ATTN_E_ARG);
    cr_assert_null(b);
    cr_assert(strstr(attn_last_error(), "batch 3"));
    c.batch = 4, c.text_path = "/nonexistent/attn/text.txt";
    cr_assert_eq(attn_bench_gpt_train_create(&c, &b), ATTN_E_IO);
    cr_assert(strstr(attn_last_error(), "/nonexistent/attn/text.txt"));
    c.text_path = test_tmp_write("short.txt", "abc");
    cr_assert_eq(attn_bench_gpt_train_create(&c, &b), ATTN_E_FORMAT);
    cr_assert(strstr(attn_last_error(), "shorter than a window"));
    c.text_path = NULL; /* random tokens */
    cr_assert_eq(attn_bench_gpt_train_create(&c, &b), ATTN_OK);
    double l;
    cr_assert_eq(attn_bench_gpt_train_step(b, -1, NULL, NULL, &l, NULL), ATTN_E_ARG);
    cr_assert_eq(attn_bench_gpt_train_step(b, 0, NULL, NULL, &l, NULL), ATTN_OK);
    cr_assert(fabs(l - log(11.0)) < 0.5, "random tokens start near ln V (%g)", l);
    cr_assert_eq(attn_bench_gpt_train_step(NULL, 0, NULL, NULL, &l, NULL), ATTN_E_ARG);
    attn_bench_gpt_train_free(b);
    attn_bench_gpt_train_free(NULL);
}
