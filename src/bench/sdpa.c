/* sdpa.c — one attention benchmark case: inputs, FLOP and byte counts, timing (bench.h). */
#include "internal.h"

#include <string.h>

typedef struct sdpa_ctx {
    attn_tensor q, k, v, o, dout, dq, dk, dv;
    float *lse;
    attn_sdpa_options opt;
} sdpa_ctx;

static int run_forward(void *p)
{
    sdpa_ctx *c = p;
    return attn_sdpa_forward(&c->q, &c->k, &c->v, &c->opt, &c->o, c->lse, NULL);
}

static int run_backward(void *p)
{
    sdpa_ctx *c = p;
    return attn_sdpa_backward(&c->q, &c->k, &c->v, &c->o, c->lse, &c->dout, &c->opt, &c->dq, &c->dk, &c->dv, NULL);
}

/* n values of a fixed linear congruential sequence, uniform in [−1, 1) */
static float *filled(int64_t n, unsigned seed)
{
    float *p = malloc((size_t)n * sizeof *p);
    if (!p) return NULL;
    unsigned s = seed;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = (float)((s >> 8) * (1.0 / 16777216.0)) * 2 - 1;
    }
    return p;
}

#define MAX_LENGTHS_BATCH 4096

int attn_bench_sdpa_named(const char *name, int threads, int reps, attn_bench_sdpa_case *c, int *decode)
{
    static const struct {
        char name[3];
        int64_t B, H, Lq, Lk, E;
        int causal, decode, lengths;
    } cases[] = {
        {"S1", 1, 8, 512, 512, 64, 0, 0, 0},     {"S2", 1, 8, 2048, 2048, 64, 0, 0, 0},
        {"S3", 1, 8, 2048, 2048, 64, 1, 0, 0},   {"S4", 1, 8, 8192, 8192, 64, 1, 0, 0},
        {"S5", 1, 16, 2048, 2048, 128, 1, 0, 0}, {"S6", 1, 32, 1, 4096, 128, 0, 1, 0},
        {"S7", 4, 12, 512, 512, 64, 0, 0, 1},
        /* the attention of the GPT at the shakespeare-char size: batch 8, 6 heads of 64,
         * context 256, causal */
        {"S8", 8, 6, 256, 256, 64, 1, 0, 0},
    };
    ATTN_REQUIRE_NONNULL("attn_bench_sdpa_named", name);
    ATTN_REQUIRE_NONNULL("attn_bench_sdpa_named", c);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (strcmp(name, cases[i].name)) continue;
        *c = (attn_bench_sdpa_case){cases[i].B, cases[i].H, cases[i].Lq, cases[i].Lk, cases[i].E, cases[i].causal,
                                    cases[i].lengths, 0, ATTN_KERNEL_FLASH, threads, reps};
        if (decode) *decode = cases[i].decode;
        return ATTN_OK;
    }
    return attn_fail(ATTN_E_ARG, "attn_bench_sdpa_named: unknown shape '%s' (S1..S8)", name);
}

int attn_bench_sdpa_count(const attn_bench_sdpa_case *c, double *flops, double *bytes)
{
    ATTN_REQUIRE_NONNULL("attn_bench_sdpa_count", c);
    if (c->B < 1 || c->H < 1 || c->Lq < 1 || c->Lk < 1 || c->E < 1)
        return attn_fail(ATTN_E_ARG, "attn_bench_sdpa: B=%lld H=%lld Lq=%lld Lk=%lld E=%lld: all must be ≥ 1",
                         (long long)c->B, (long long)c->H, (long long)c->Lq, (long long)c->Lk, (long long)c->E);
    if (c->half_lengths && c->B > MAX_LENGTHS_BATCH)
        return attn_fail(ATTN_E_ARG, "attn_bench_sdpa: half_lengths with B=%lld above %d", (long long)c->B,
                         MAX_LENGTHS_BATCH);
    if (c->reps < 0 || c->reps > 64 || c->threads < 0)
        return attn_fail(ATTN_E_ARG, "attn_bench_sdpa: reps=%d (0..64), threads=%d (≥ 0)", c->reps, c->threads);
    const double B = (double)c->B, H = (double)c->H, Lq = (double)c->Lq, Lk = (double)c->Lk, E = (double)c->E;
    double f = 4.0 * B * H * Lq * Lk * E * (c->causal ? 0.5 : 1.0);
    if (c->half_lengths) {
        const int64_t full = c->B / 2; /* rows b < B/2 keep Lk keys, the others Lk/2 */
        f *= ((double)full * Lk + (double)(c->B - full) * (double)(c->Lk / 2)) / (B * Lk);
    }
    if (flops) *flops = c->backward ? 2.5 * f : f;
    if (bytes) *bytes = 4.0 * (2.0 * B * H * Lk * E + 2.0 * B * H * Lq * E);
    return ATTN_OK;
}

int attn_bench_sdpa(const attn_bench_sdpa_case *c, attn_machine_peak *peak, attn_bench_sdpa_result *out)
{
    ATTN_REQUIRE_NONNULL("attn_bench_sdpa", out);
    memset(out, 0, sizeof *out);
    ATTN_TRY(attn_bench_sdpa_count(c, &out->flops, &out->bytes));
    const int64_t B = c->B, H = c->H, Lq = c->Lq, Lk = c->Lk, E = c->E, bwd = c->backward;
    const int64_t nq = B * H * Lq * E, nk = B * H * Lk * E;
    out->io_mb = (3.0 * nq + 2.0 * nk + B * H * Lq) * 4 / 1048576.0;
    if (bwd) out->io_mb += (2.0 * nq + 2.0 * nk) * 4 / 1048576.0;
    (void)attn_rss_hwm_reset(); /* without it the peak is the process's */
    float *q = filled(nq, 1), *k = filled(nk, 2), *v = filled(nk, 3), *o = calloc((size_t)nq, 4);
    float *lse = calloc((size_t)(B * H * Lq), 4);
    float *dout = bwd ? filled(nq, 4) : NULL;
    float *dq = bwd ? calloc((size_t)nq, 4) : NULL, *dk = bwd ? calloc((size_t)nk, 4) : NULL;
    float *dv = bwd ? calloc((size_t)nk, 4) : NULL;
    int32_t *lens = c->half_lengths ? malloc((size_t)B * sizeof *lens) : NULL;
    int st = ATTN_OK;
    if (!q || !k || !v || !o || !lse || (bwd && (!dout || !dq || !dk || !dv)) || (c->half_lengths && !lens))
        st = attn_fail(ATTN_E_NOMEM, "attn_bench_sdpa: %.1f MB of inputs and outputs", out->io_mb);
    for (int64_t b = 0; lens && b < B; b++) lens[b] = (int32_t)(b < B / 2 ? Lk : Lk / 2);
    sdpa_ctx x = {.q = attn_tensor_4d(q, B, H, Lq, E), .k = attn_tensor_4d(k, B, H, Lk, E),
                  .v = attn_tensor_4d(v, B, H, Lk, E), .o = attn_tensor_4d(o, B, H, Lq, E),
                  .dout = attn_tensor_4d(dout, B, H, Lq, E), .dq = attn_tensor_4d(dq, B, H, Lq, E),
                  .dk = attn_tensor_4d(dk, B, H, Lk, E), .dv = attn_tensor_4d(dv, B, H, Lk, E), .lse = lse};
    x.opt.causal = c->causal;
    x.opt.key_lengths = lens;
    x.opt.kernel = c->kernel;
    x.opt.num_threads = c->threads;
    if (st == ATTN_OK && bwd) st = run_forward(&x); /* the output and lse backward reads */
    if (st == ATTN_OK) {
        /* one repetition a block: the peak is sampled between every two, outside the timing */
        attn_bench_options bo = {.reps = c->reps ? c->reps : 3, .max_reps = c->reps ? c->reps : 64,
                                 .min_seconds = c->reps ? 0 : 1.0, .rounds = ATTN_BENCH_MAX_REPS, .peak = peak};
        attn_bench_fn fn = bwd ? run_backward : run_forward;
        void *ctx = &x;
        st = attn_bench_time(1, &fn, &ctx, &bo, &out->t);
    }
    out->rss_mb = attn_rss_hwm_mb();
    free(q), free(k), free(v), free(o), free(lse), free(dout), free(dq), free(dk), free(dv), free(lens);
    return st;
}
