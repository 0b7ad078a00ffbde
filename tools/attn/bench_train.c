/* bench_train.c — `attn bench train`: tokens per second of training the GPT-style model at the
 * "shakespeare-char" size (vocabulary 65, context 256, 6 layers, 6 heads, width 384, batch 8):
 * forward, backward and AdamW, on tiny shakespeare (or random tokens without it). Runs the same
 * model in PyTorch (bench/torch_train.py) when it is installed and prints both and their ratio:
 * --rounds alternating blocks of --steps steps (attn, PyTorch, attn, …), each side's median
 * over all its steps but the first two of each block (a new PyTorch process, or attn's caches
 * after one: both sides' first two steps of a block run ~1.1–1.8× the rest) — one block each
 * had PyTorch's speed move 25 % between runs on a shared machine, the ratio with it. Under
 * mpirun the global batch is split across ranks and gradients are averaged (no PyTorch, one
 * round). */
#include "args.h"
#include "cli.h"

#include "bench_util.h"
#include "attn/mpi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Text as ids over its sorted character set (tiny shakespeare has 65): attn_chars. */
static int32_t *load_chars(const char *path, int64_t *n, int *vocab)
{
    char *buf = NULL;
    size_t len = 0;
    if (attn_data_read_file(path, &buf, &len) || !len) {
        free(buf);
        return NULL;
    }
    attn_chars c;
    attn_chars_of_text(buf, len, &c);
    int32_t *ids = malloc(len * sizeof *ids);
    if (ids && attn_chars_encode(&c, buf, len, ids, path) == ATTN_OK) *n = (int64_t)len, *vocab = c.V;
    else free(ids), ids = NULL;
    free(buf);
    return ids;
}

static const char *default_data(void)
{
    static char path[512];
    const char *dir = getenv("ATTN_DATA_DIR");
    const char *cands[] = {dir, "../shared/data", "../../shared/data"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        if (!cands[i]) continue;
        snprintf(path, sizeof path, "%s/tinyshakespeare/input.txt", cands[i]);
        FILE *f = fopen(path, "rb");
        if (f) {
            fclose(f);
            return path;
        }
    }
    return NULL;
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
    if (!data) data = default_data();
    int64_t n_text = 0;
    int vocab = 65;
    int32_t *text = data ? load_chars(data, &n_text, &vocab) : NULL;
    const int64_t T = 256;
    attn_gpt_config cfg = {.vocab = vocab < 2 ? 65 : vocab, .context = T, .n_layer = 6, .n_head = 6,
                           .d_model = 384, .dropout = 0.0f};
    attn_gpt *m = NULL;
    attn_tape *t = NULL;
    attn_optim *opt = NULL;
    attn_tape_config tc = {.num_threads = threads};
    attn_optim_config oc = {.kind = ATTN_OPTIM_ADAMW, .weight_decay = 0.1f};
    int st = attn_gpt_create(&cfg, 1337, &m);
    if (st == ATTN_OK) st = attn_tape_create(&tc, &t);
    if (st == ATTN_OK) st = attn_optim_create(m->P, &oc, &opt);
    if (st == ATTN_OK) st = attn_mpi_broadcast_params(d, m->P);
    int local = batch / ranks;
    int32_t *x = malloc((size_t)(local * T) * sizeof *x), *y = malloc((size_t)(local * T) * sizeof *y);
    if (!x || !y) st = ATTN_E_NOMEM;
    if (st) {
        cli_error("bench train", "setup", st);
        goto done;
    }
    if (rank == 0)
        printf("bench train: GPT %lld params (vocab %lld, context %lld, %lld layers, %lld heads, width %lld), batch %d, %d threads, %d ranks, data %s\n",
               (long long)attn_params_numel(m->P), (long long)cfg.vocab, (long long)T,
               (long long)cfg.n_layer, (long long)cfg.n_head, (long long)cfg.d_model, batch, threads,
               ranks, text ? data : "random tokens");
    attn_ce_options ce = {.ignore_index = -100};
    const int total = steps * rounds;
    double *step_ms = malloc((size_t)total * sizeof *step_ms), allreduce_total = 0;
    double *torch_ms = malloc((size_t)total * sizeof *torch_ms);
    int n_torch = 0, torch_ok = with_torch && ranks == 1;
    if (!step_ms || !torch_ms) st = ATTN_E_NOMEM;
    for (int s = 0; s < total && st == ATTN_OK; s++) {
        /* sequence b of step s: a fixed window of the text (the same on any rank count) */
        for (int b = 0; b < local; b++) {
            uint64_t gb = (uint64_t)s * (uint64_t)batch + (uint64_t)(rank * local + b);
            int64_t start = text ? (int64_t)(attn_philox_uniform(7, 0, gb) * (float)(n_text - T - 1)) : 0;
            for (int64_t i = 0; i < T; i++) {
                x[b * T + i] = text ? text[start + i]
                                    : (int32_t)(attn_philox_uniform(7, 1 + gb, (uint64_t)i) * (float)cfg.vocab);
                y[b * T + i] = text ? text[start + i + 1]
                                    : (int32_t)(attn_philox_uniform(7, 1 + gb, (uint64_t)i + 1) * (float)cfg.vocab);
            }
        }
        double t0 = attn_now(), ar_ms = 0;
        attn_var *logits, *loss;
        st = attn_tape_reset(t);
        if (st == ATTN_OK) st = attn_gpt_forward(t, m, x, local, T, &logits);
        if (st == ATTN_OK) st = attn_op_cross_entropy(t, logits, y, &ce, &loss);
        if (st == ATTN_OK) attn_params_zero_grad(m->P);
        if (st == ATTN_OK) st = attn_tape_backward(t, loss, NULL);
        if (st == ATTN_OK) st = attn_mpi_average_grads(d, m->P, 1 << 20, &ar_ms);
        if (st == ATTN_OK) st = attn_optim_step(opt, 3e-4f);
        step_ms[s] = (attn_now() - t0) * 1e3;
        double l = st == ATTN_OK ? loss->data[0] : NAN;
        if (st == ATTN_OK) st = attn_mpi_allreduce_sum_double(d, &l);
        if (s % steps >= 2) allreduce_total += ar_ms;
        if (rank == 0 && st == ATTN_OK)
            printf("step %d loss %.4f ms %.1f allreduce_ms %.1f\n", s, l / ranks, step_ms[s], ar_ms);
        if (st == ATTN_OK && torch_ok && (s + 1) % steps == 0) {
            fflush(stdout);
            if (torch_steps(text ? data : NULL, steps, threads, batch, torch_ms, &n_torch))
                torch_ok = 0;
        }
    }
    if (st) {
        cli_error("bench train", "step", st);
        free(step_ms), free(torch_ms);
        goto done;
    }
    /* the first two steps of each block warm the caches (and the arena): left out */
    int n_kept = 0;
    for (int s = 0; s < total; s++)
        if (s % steps >= 2) step_ms[n_kept++] = step_ms[s];
    double med = bench_median(step_ms, n_kept);
    double tps = (double)batch * (double)T / (med * 1e-3);
    if (rank == 0) {
        printf("result: ranks=%d tokens_per_s=%.0f step_ms=%.1f allreduce_ms=%.1f threads=%d "
               "rounds=%d rss_mb=%.0f\n",
               ranks, tps, med, allreduce_total / n_kept, threads, rounds, attn_peak_rss_mb());
        if (with_torch && ranks == 1 && !torch_ok)
            printf("torch: bench/torch_train.py did not run to its result (it needs /usr/bin/python3 "
                   "with python3-torch): no comparison\n");
        else if (with_torch && ranks == 1) {
            double tmed = bench_median(torch_ms, n_torch);
            double tt = (double)batch * (double)T / (tmed * 1e-3);
            printf("compare: attn_tokens_per_s=%.0f torch_tokens_per_s=%.0f ratio=%.2f rounds=%d\n",
                   tps, tt, tps / tt, rounds);
        }
    }
    free(step_ms), free(torch_ms);
done:
    free(x), free(y), free(text);
    attn_optim_free(opt);
    attn_tape_free(t);
    attn_gpt_free(m);
    attn_mpi_finalize(d);
    return st ? 1 : 0;
}
