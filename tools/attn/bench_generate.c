/* bench_generate.c — `attn bench generate [--threads N] [--rounds R] [--context T]`: batch-1
 * sampling speed of the GPT of `attn bench train` (vocabulary 65, 6 layers, 6 heads, width 384;
 * 10.7 M parameters) with the key/value cache, filling a context of T (default 256) positions
 * from a one-token prompt. Sampling one token at a time is bound by memory traffic: each token
 * reads every weight once (the token embedding twice over: a row in, the whole table as the tied
 * head) and every cached key and value of the positions before it. The program counts those
 * bytes, measures the machine's STREAM-triad bandwidth in the same run (before and after the
 * rounds; the better of the two, as the machine is shared) and prints tokens/s, bytes per token,
 * the implied GB/s and its share of the triad figure (attn/bench.h: attn_gpt_decode_bytes,
 * attn_bench_gpt_generate). Weights are random (the speed does not depend on them); the median
 * round is reported. */
#include "args.h"
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bench_generate(int argc, char **argv)
{
    int threads = 2, rounds = 5;
    int64_t T = 256;
    const arg_opt opts[] = {
        {"threads", 'j', ARG_INT, &threads, .lo = 1, .hi = 4096, .help = "threads"},
        {"rounds", 0, ARG_INT, &rounds, .lo = 1, .hi = 100, .help = "timed rounds (after one warm-up)"},
        {"context", 0, ARG_I64, &T, .lo = 2, .hi = 4096, .help = "the model's context: tokens per round"},
        {0}};
    const arg_spec spec = {.cmd = "bench generate", .synopsis = "[options]", .opts = opts,
                           .about = "Batch-1 sampling with the key/value cache on the 10.7M-parameter GPT of bench train:\n"
                                    "tokens/s and the implied memory bandwidth against a triad measured in the same run."};
    ARGS_PARSE_OR_RETURN(&spec, argc, argv, NULL, NULL);
    attn_set_num_threads(threads);
    const attn_gpt_config cfg = {.vocab = 65, .context = T, .n_layer = 6, .n_head = 6, .d_model = 384};
    attn_gpt *m = NULL;
    double wbytes = 0, cbytes = 0;
    int st = attn_gpt_create(&cfg, 1, &m);
    if (st == ATTN_OK) st = attn_gpt_decode_bytes(m, T, &wbytes, &cbytes);
    if (st) {
        attn_gpt_free(m);
        return cli_error("bench generate", "model", st);
    }
    printf("attn bench generate: GPT %lld parameters (%lld layers, %lld heads, d %lld, vocabulary %lld), batch 1, "
           "context %lld, %d threads, %d rounds\n",
           (long long)attn_params_numel(m->P), (long long)cfg.n_layer, (long long)cfg.n_head, (long long)cfg.d_model,
           (long long)cfg.vocab, (long long)T, threads, rounds);
    attn_machine_peak pk; /* the triad, the best of a few passes before and after */
    (void)attn_machine_peak_init(&pk, threads);
    (void)attn_machine_bandwidth(&pk, 3);
    const double bw0 = pk.gbs;
    double *tps = malloc((size_t)rounds * sizeof *tps), *tpc = malloc((size_t)rounds * sizeof *tpc);
    if (!tps || !tpc) st = attn_set_error(ATTN_E_NOMEM, "%d rounds", rounds);
    int64_t made = 0;
    for (int r = 0; st == ATTN_OK && r <= rounds; r++) { /* round 0 warms up */
        double t, c;
        st = attn_bench_gpt_generate(m, T, (uint64_t)r + 1, &made, &t, &c);
        if (st == ATTN_OK && r > 0) tps[r - 1] = (double)made / t, tpc[r - 1] = (double)made / c;
    }
    double bw1 = 0;
    if (st == ATTN_OK) {
        pk.gbs = 0;
        (void)attn_machine_bandwidth(&pk, 3);
        bw1 = pk.gbs;
    }
    if (st == ATTN_OK) {
        for (int r = 0; r < rounds; r++)
            printf("round %d: %.1f tokens/s, %.1f tokens per CPU-second\n", r + 1, tps[r], tpc[r]);
        const double med = attn_bench_median(tps, rounds), medc = attn_bench_median(tpc, rounds);
        const double bw = bw0 > bw1 ? bw0 : bw1, bpt = wbytes + cbytes, gbs = med * bpt * 1e-9;
        printf("tokens %lld a round; bytes a token: weights %.1f MB + cache %.2f MB (mean) = %.1f MB\n",
               (long long)made, wbytes / 1e6, cbytes / 1e6, bpt / 1e6);
        printf("triad bandwidth: %.1f GB/s before, %.1f GB/s after\n", bw0, bw1);
        printf("result: bench=generate tokens_per_s=%.1f tokens_per_cpu_s=%.1f bytes_per_token=%.0f implied_gbs=%.2f "
               "triad_gbs=%.2f pct_of_triad=%.1f threads=%d load=%.1f\n",
               med, medc, bpt, gbs, bw, bw > 0 ? 100 * gbs / bw : 0.0, threads, attn_bench_load());
        if (gbs > bw) fprintf(stderr, "attn bench generate: note: above the measured triad: part of the weights stayed in cache, or the triad ran in a busy moment\n");
    }
    free(tps), free(tpc);
    attn_gpt_free(m);
    return st ? cli_error("bench generate", "generation", st) : 0;
}
