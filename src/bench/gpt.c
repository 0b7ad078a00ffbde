/* gpt.c — the GPT benchmarks: a training step on text windows, batch-1 generation and the bytes
 * it moves (bench.h). */
#include "internal.h"

#include <string.h>

struct attn_bench_gpt_train {
    attn_gpt *m;
    attn_tape *t;
    attn_optim *opt;
    int32_t *text, *x, *y;
    int64_t n_text;
    int batch, rank, local;
};

void attn_bench_gpt_train_free(attn_bench_gpt_train *b)
{
    if (!b) return;
    attn_optim_free(b->opt);
    attn_tape_free(b->t);
    attn_gpt_free(b->m);
    free(b->text), free(b->x), free(b->y);
    free(b);
}

/* the text as ids over its sorted character set (attn_chars); sets the vocabulary */
static int load_chars(attn_bench_gpt_train *b, const char *path, attn_gpt_config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    int st = attn_data_read_file(path, &buf, &len);
    if (st == ATTN_OK && len < (size_t)cfg->context + 2)
        st = attn_fail(ATTN_E_FORMAT, "attn_bench_gpt_train: %s: %zu bytes, shorter than a window of %lld", path,
                       len, (long long)cfg->context + 2);
    attn_chars c;
    if (st == ATTN_OK) {
        attn_chars_of_text(buf, len, &c);
        b->text = malloc(len * sizeof *b->text);
        st = b->text ? attn_chars_encode(&c, buf, len, b->text, path) : attn_fail(ATTN_E_NOMEM, "%s", path);
    }
    if (st == ATTN_OK) b->n_text = (int64_t)len, cfg->vocab = c.V < 2 ? 65 : c.V;
    free(buf);
    return st;
}

int attn_bench_gpt_train_create(const attn_bench_gpt_train_config *c, attn_bench_gpt_train **out)
{
    ATTN_REQUIRE_NONNULL("attn_bench_gpt_train_create", out);
    *out = NULL;
    ATTN_REQUIRE_NONNULL("attn_bench_gpt_train_create", c);
    if (c->batch < 1 || c->ranks < 1 || c->rank < 0 || c->rank >= c->ranks || c->batch % c->ranks ||
        c->threads < 0 || c->model.context < 2)
        return attn_fail(ATTN_E_ARG, "attn_bench_gpt_train_create: batch %d over rank %d of %d, threads %d, "
                                     "context %lld (batch a multiple of ranks, context ≥ 2)",
                         c->batch, c->rank, c->ranks, c->threads, (long long)c->model.context);
    attn_bench_gpt_train *b = calloc(1, sizeof *b);
    if (!b) return attn_fail(ATTN_E_NOMEM, "attn_bench_gpt_train_create");
    b->batch = c->batch, b->rank = c->rank, b->local = c->batch / c->ranks;
    attn_gpt_config cfg = c->model;
    const int64_t T = cfg.context;
    int st = c->text_path ? load_chars(b, c->text_path, &cfg) : ATTN_OK;
    attn_tape_config tc = {.num_threads = c->threads};
    attn_optim_config oc = {.kind = ATTN_OPTIM_ADAMW, .weight_decay = 0.1f};
    if (st == ATTN_OK) st = attn_gpt_create(&cfg, c->seed, &b->m);
    if (st == ATTN_OK) st = attn_tape_create(&tc, &b->t);
    if (st == ATTN_OK) st = attn_optim_create(b->m->P, &oc, &b->opt);
    if (st == ATTN_OK) {
        b->x = malloc((size_t)(b->local * T) * sizeof *b->x);
        b->y = malloc((size_t)(b->local * T) * sizeof *b->y);
        if (!b->x || !b->y) st = attn_fail(ATTN_E_NOMEM, "attn_bench_gpt_train_create: batch %d", b->local);
    }
    if (st) attn_bench_gpt_train_free(b);
    else *out = b;
    return st;
}

attn_params *attn_bench_gpt_train_params(attn_bench_gpt_train *b) { return b ? b->m->P : NULL; }
const attn_gpt_config *attn_bench_gpt_train_model(const attn_bench_gpt_train *b) { return b ? &b->m->cfg : NULL; }

int attn_bench_gpt_train_step(attn_bench_gpt_train *b, int64_t step, int (*grad_hook)(void *ctx, attn_params *P),
                              void *hook_ctx, double *loss, double *ms)
{
    ATTN_REQUIRE_NONNULL("attn_bench_gpt_train_step", b);
    if (step < 0) return attn_fail(ATTN_E_ARG, "attn_bench_gpt_train_step: step %lld", (long long)step);
    const int64_t T = b->m->cfg.context, V = b->m->cfg.vocab;
    const int32_t *text = b->text;
    /* sequence i of the step: a fixed window of the text (the same on any rank count) */
    for (int i = 0; i < b->local; i++) {
        uint64_t gb = (uint64_t)step * (uint64_t)b->batch + (uint64_t)(b->rank * b->local + i);
        int64_t start = text ? (int64_t)(attn_philox_uniform(7, 0, gb) * (float)(b->n_text - T - 1)) : 0;
        for (int64_t j = 0; j < T; j++) {
            b->x[i * T + j] = text ? text[start + j] : (int32_t)(attn_philox_uniform(7, 1 + gb, (uint64_t)j) * (float)V);
            b->y[i * T + j] = text ? text[start + j + 1]
                                   : (int32_t)(attn_philox_uniform(7, 1 + gb, (uint64_t)j + 1) * (float)V);
        }
    }
    const double t0 = attn_now();
    attn_ce_options ce = {.ignore_index = -100};
    attn_var *logits = NULL, *l = NULL;
    int st = attn_tape_reset(b->t);
    if (st == ATTN_OK) st = attn_gpt_forward(b->t, b->m, b->x, b->local, T, &logits);
    if (st == ATTN_OK) st = attn_op_cross_entropy(b->t, logits, b->y, &ce, &l);
    if (st == ATTN_OK) attn_params_zero_grad(b->m->P);
    if (st == ATTN_OK) st = attn_tape_backward(b->t, l, NULL);
    if (st == ATTN_OK && grad_hook) st = grad_hook(hook_ctx, b->m->P);
    if (st == ATTN_OK) st = attn_optim_step(b->opt, 3e-4f);
    if (ms) *ms = (attn_now() - t0) * 1e3;
    if (loss) *loss = st == ATTN_OK ? l->data[0] : NAN;
    return st;
}

int attn_gpt_decode_bytes(const attn_gpt *m, int64_t T, double *weights, double *cache)
{
    ATTN_REQUIRE_NONNULL("attn_gpt_decode_bytes", m);
    if (T < 2 || T > m->cfg.context)
        return attn_fail(ATTN_E_ARG, "attn_gpt_decode_bytes: T=%lld outside [2, context %lld]", (long long)T,
                         (long long)m->cfg.context);
    const int64_t d = m->cfg.d_model, nl = m->cfg.n_layer, params = attn_params_numel(m->P);
    /* every weight but the position table, of which one row; the token table once more (the
     * embedding row is a negligible part, the head reads it whole): numel counts it once */
    if (weights) *weights = 4.0 * (double)(params - m->cfg.context * d + d);
    double c = 0;
    for (int64_t p = 0; p < T - 1; p++) c += 4.0 * 2 * (double)nl * d * (double)(p + 2);
    if (cache) *cache = c / (double)(T - 1);
    return ATTN_OK;
}

int attn_bench_gpt_generate(const attn_gpt *m, int64_t T, uint64_t seed, int64_t *tokens, double *seconds,
                            double *cpu_seconds)
{
    ATTN_TRY(attn_gpt_decode_bytes(m, T, NULL, NULL));
    int32_t prompt[1] = {0}, *out = malloc((size_t)T * sizeof *out);
    if (!out) return attn_fail(ATTN_E_NOMEM, "attn_bench_gpt_generate: %lld tokens", (long long)T);
    attn_generate_options o = {.eos_id = -1, .max_new = T - 1, .sample = 1, .temperature = 1.0f, .seed = seed};
    int64_t len = 0;
    const double t0 = attn_now(), c0 = attn_cpu_seconds();
    int st = attn_gpt_generate(m, prompt, 1, 1, &o, out, T, &len, NULL);
    const double t = attn_now() - t0, c = attn_cpu_seconds() - c0;
    free(out);
    if (tokens) *tokens = st == ATTN_OK ? len : 0;
    if (seconds) *seconds = t;
    if (cpu_seconds) *cpu_seconds = c;
    return st;
}
