/* bench_train.c — `attn bench train`: tokens per second of training the GPT-style model at the
 * "shakespeare-char" size (vocabulary 65, context 256, 6 layers, 6 heads, width 384, batch 8):
 * forward, backward and AdamW, on tiny shakespeare (or random tokens without it). Runs the same
 * model in PyTorch (bench/torch_train.py) when it is installed and prints both and their ratio:
 * --rounds alternating blocks of --steps steps (attn, PyTorch, attn, …), each side's median
 * over all its steps but the first two of each block (a new PyTorch process, or attn's caches
 * after one: both sides' first two steps of a block run ~1.1–1.8× the rest) — one block each
 * had PyTorch's speed move 25 % between runs on a shared machine, the ratio with it. Under
 * mpirun the global batch is split across ranks and gradients are averaged (no PyTorch, one
 * round). The step itself is libattn's (attn_bench_gpt_train, attn/bench.h). */
#include "args.h"
#include "cli.h"

#include "attn/mpi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* attn_bench_gpt_train_step's hook: the gradients averaged over the ranks (MPI) */
typedef struct grads {
    attn_mpi_ctx *d;
    double ms;
} grads;

static int average_grads(void *ctx, attn_params *P)
{
    grads *g = ctx;
    return attn_mpi_average_grads(g->d, P, 1 << 20, &g->ms);
}

/* Run bench/torch_train.py with the same settings; appends its step times but the first two to
 * ms[*n] (room for steps) and returns 0, or −1 when it is not available. */
static int torch_steps(const char *data, int steps, int threads, int batch, double *ms, int *n)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 bench/torch_train.py --steps %d --threads %d --batch %d %s%s 2>/dev/null",
             steps, threads, batch, data ? "--data " : "", data ? data : "");
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char line[512];
    int s, got = 0, added = 0;
    double t;
    while (fgets(line, sizeof line, p)) {
        fputs(line, stdout);
        if (sscanf(line, "torch step %d loss %*f ms %lf", &s, &t) == 2 && s > 1 && added < steps)
            ms[(*n)++] = t, added++;
        if (!strncmp(line, "result:", 7)) got = 1;
    }
    if (pclose(p) != 0 || !got || added == 0) return -1;
    return 0;
}

int bench_train(int argc, char **argv)
{
    int steps = 20, threads = 2, batch = 8, with_torch = 1, rounds = 2;
    const char *data = NULL;
    int no_torch = 0;
    const arg_opt opts[] = {
        {"steps", 0, ARG_INT, &steps, .lo = 3, .hi = 1000000, .help = "training steps a round"},
        {"rounds", 0, ARG_INT, &rounds, .lo = 1, .hi = 16, .help = "alternating rounds (attn, PyTorch)"},
        {"threads", 'j', ARG_INT, &threads, .lo = 1, .hi = 4096, .help = "threads"},
        {"batch", 'b', ARG_INT, &batch, .lo = 1, .hi = 1 << 20, .help = "sequences a step"},
        {"data", 'd', ARG_STR, &data, .meta = "FILE", .help = "text to train on (default: tiny shakespeare if found)"},
        {"no-torch", 0, ARG_FLAG, &no_torch, .help = "attn alone"},
        {0}};
    const arg_spec spec = {.cmd = "bench train", .synopsis = "[options]", .opts = opts,
                           .about = "Training steps of a 10.7M-parameter GPT, attn beside PyTorch in alternating rounds."};
    ARGS_PARSE_OR_RETURN(&spec, argc, argv, NULL, NULL);
    with_torch = !no_torch;
    attn_mpi_ctx *d;
    if (attn_mpi_init(&argc, &argv, &d)) {
        fprintf(stderr, "attn bench train: %s\n", attn_last_error());
        return 1;
    }
    int rank = attn_mpi_size(d) > 1 ? attn_mpi_rank(d) : 0, ranks = attn_mpi_size(d);
    if (ranks > 1 || !with_torch) rounds = 1;
    if (batch % ranks) {
        if (rank == 0) fprintf(stderr, "attn bench train: batch %d does not split over %d ranks\n", batch, ranks);
        attn_mpi_finalize(d);
        return 2;
    }
    attn_set_num_threads(threads);
    static char found[512];
    if (!data && attn_data_find("tinyshakespeare/input.txt", found, sizeof found) == ATTN_OK) data = found;
    const int64_t T = 256;
    const attn_bench_gpt_train_config bc = {
        .model = {.vocab = 65, .context = T, .n_layer = 6, .n_head = 6, .d_model = 384, .dropout = 0.0f},
        .seed = 1337, .text_path = data, .batch = batch, .rank = rank, .ranks = ranks, .threads = threads};
    attn_bench_gpt_train *b = NULL;
    int st = attn_bench_gpt_train_create(&bc, &b);
    if (st == ATTN_OK) st = attn_mpi_broadcast_params(d, attn_bench_gpt_train_params(b));
    if (st) {
        cli_error("bench train", "setup", st);
        attn_bench_gpt_train_free(b);
        attn_mpi_finalize(d);
        return 1;
    }
    const attn_gpt_config *cfg = attn_bench_gpt_train_model(b);
    if (rank == 0)
        printf("bench train: GPT %lld params (vocab %lld, context %lld, %lld layers, %lld heads, width %lld), batch %d, %d threads, %d ranks, data %s\n",
               (long long)attn_params_numel(attn_bench_gpt_train_params(b)), (long long)cfg->vocab, (long long)T,
               (long long)cfg->n_layer, (long long)cfg->n_head, (long long)cfg->d_model, batch, threads,
               ranks, data ? data : "random tokens");
    const int total = steps * rounds;
    double *step_ms = malloc((size_t)total * sizeof *step_ms), allreduce_total = 0;
    double *torch_ms = malloc((size_t)total * sizeof *torch_ms);
    int n_torch = 0, torch_ok = with_torch && ranks == 1;
    if (!step_ms || !torch_ms) st = attn_set_error(ATTN_E_NOMEM, "%d steps", total);
    for (int s = 0; s < total && st == ATTN_OK; s++) {
        grads g = {d, 0};
        double l;
        st = attn_bench_gpt_train_step(b, s, average_grads, &g, &l, &step_ms[s]);
        if (st == ATTN_OK) st = attn_mpi_allreduce_sum_double(d, &l);
        if (s % steps >= 2) allreduce_total += g.ms;
        if (rank == 0 && st == ATTN_OK)
            printf("step %d loss %.4f ms %.1f allreduce_ms %.1f\n", s, l / ranks, step_ms[s], g.ms);
        if (st == ATTN_OK && torch_ok && (s + 1) % steps == 0) {
            fflush(stdout);
            if (torch_steps(data, steps, threads, batch, torch_ms, &n_torch)) torch_ok = 0;
        }
    }
    if (st) {
        cli_error("bench train", "step", st);
        goto done;
    }
    /* the first two steps of each block warm the caches (and the arena): left out */
    int n_kept = 0;
    for (int s = 0; s < total; s++)
        if (s % steps >= 2) step_ms[n_kept++] = step_ms[s];
    double med = attn_bench_median(step_ms, n_kept);
    double tps = (double)batch * (double)T / (med * 1e-3);
    if (rank == 0) {
        printf("result: ranks=%d tokens_per_s=%.0f step_ms=%.1f allreduce_ms=%.1f threads=%d "
               "rounds=%d rss_mb=%.0f\n",
               ranks, tps, med, allreduce_total / n_kept, threads, rounds, attn_peak_rss_mb());
        if (with_torch && ranks == 1 && !torch_ok)
            printf("torch: bench/torch_train.py did not run to its result (it needs /usr/bin/python3 "
                   "with python3-torch): no comparison\n");
        else if (with_torch && ranks == 1) {
            double tmed = attn_bench_median(torch_ms, n_torch);
            double tt = (double)batch * (double)T / (tmed * 1e-3);
            printf("compare: attn_tokens_per_s=%.0f torch_tokens_per_s=%.0f ratio=%.2f rounds=%d\n",
                   tps, tt, tps / tt, rounds);
        }
    }
done:
    free(step_ms), free(torch_ms);
    attn_bench_gpt_train_free(b);
    attn_mpi_finalize(d);
    return st ? 1 : 0;
}
