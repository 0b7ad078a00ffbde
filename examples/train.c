/* train.c — train a small GPT through the library, save the run, resume it, and check that the
 * resumed run ends exactly where an uninterrupted one does.
 *
 *     cc train.c $(pkg-config --cflags --libs attn) -o train && ./train [DIR]
 *
 * The task: continue a counting sequence (token t+1 follows t, modulo 10). The run state
 * (attn/train.h) is one atomic file holding the weights, the optimiser's moments, the step and
 * the dropout stream, so a killed training resumes bit for bit. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <attn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { V = 10, T = 16, N = 8, STEPS = 60, SAVE_AT = 30 };

#define TRY(e) do { if ((e) != ATTN_OK) { fprintf(stderr, "%s: %s\n", #e, attn_last_error()); exit(1); } } while (0)

typedef struct run {
    attn_gpt *m;
    attn_tape *t;
    attn_optim *o;
} run;

static run start(uint64_t seed)
{
    run r;
    attn_gpt_config c = {.vocab = V, .context = T, .n_layer = 1, .n_head = 2, .d_model = 32, .dropout = 0.1f};
    TRY(attn_gpt_create(&c, seed, &r.m));
    attn_tape_config tc = {.num_threads = 1, .seed = 7};
    TRY(attn_tape_create(&tc, &r.t));
    attn_optim_config oc = {.kind = ATTN_OPTIM_ADAMW, .beta1 = 0.9f, .beta2 = 0.99f, .eps = 1e-8f};
    TRY(attn_optim_create(r.m->P, &oc, &r.o));
    return r;
}

/* Steps [from, to) on batches drawn from the step number: the data position is the step. */
static float train(run *r, int from, int to)
{
    int32_t ids[N * T], next[N * T];
    attn_ce_options ce = {.ignore_index = -1};
    float loss = 0;
    for (int s = from; s < to; s++) {
        for (int i = 0; i < N; i++)
            for (int j = 0; j < T; j++)
                ids[i * T + j] = (int32_t)((s * 7 + i * 3 + j) % V), next[i * T + j] = (ids[i * T + j] + 1) % V;
        attn_var *logits, *l;
        TRY(attn_tape_reset(r->t));
        TRY(attn_gpt_forward(r->t, r->m, ids, N, T, &logits));
        TRY(attn_op_cross_entropy(r->t, logits, next, &ce, &l));
        attn_params_zero_grad(r->m->P);
        TRY(attn_tape_backward(r->t, l, NULL));
        TRY(attn_optim_step(r->o, 3e-3f));
        loss = l->data[0];
    }
    return loss;
}

static void stop(run *r) { attn_optim_free(r->o), attn_tape_free(r->t), attn_gpt_free(r->m); }

int main(int argc, char **argv)
{
    char tmp[] = "/tmp/attn_train_example_XXXXXX", path[600];
    const char *dir = argc > 1 ? argv[1] : mkdtemp(tmp);
    TRY(attn_run_dir_prepare(dir));
    snprintf(path, sizeof path, "%s/run.safetensors", dir);

    run a = start(1); /* uninterrupted */
    const float first = train(&a, 0, 1), last = train(&a, 1, STEPS);
    run b = start(1); /* saved at SAVE_AT, then resumed into a fresh model (another seed) */
    train(&b, 0, SAVE_AT);
    attn_run_state s = {.step = SAVE_AT};
    attn_tape_get_rng(b.t, &s.rng_seed, &s.rng_offset);
    TRY(attn_run_save(path, b.m->P, b.o, &s, NULL));
    stop(&b);
    run c = start(99);
    TRY(attn_run_load(path, c.m->P, c.o, 0, &s, NULL));
    attn_tape_set_rng(c.t, s.rng_seed, s.rng_offset);
    const float resumed = train(&c, (int)s.step, STEPS);

    int same = 1;
    for (int i = 0; i < attn_params_count(a.m->P); i++) {
        const attn_param *p = attn_params_at(a.m->P, i), *q = attn_params_at(c.m->P, i);
        same &= !memcmp(p->data, q->data, (size_t)p->numel * sizeof(float));
    }
    printf("loss %.4f -> %.4f over %d steps; resumed at step %lld: %.4f, weights %s\n", first, last, STEPS,
           (long long)SAVE_AT, resumed, same ? "bit-identical" : "DIFFERENT");
    stop(&a), stop(&c);
    if (argc <= 1) remove(path), rmdir(dir);
    return same && resumed == last && last < 0.5f * first ? 0 : 1;
}
