/* tape_train.c — a model written once, as its forward; the tape derives its backward.
 *
 * Task: every position of a random token sequence must predict the sequence's first token,
 * which only attention can fetch. Model: token + learned position embeddings, one
 * TransformerEncoderLayer, a linear head, cross-entropy; AdamW with warm-up, gradient clipping.
 * Exits non-zero unless the loss falls well below its starting value. */
#include <stdio.h>
#include <stdlib.h>

#include "attn.h"

enum { V = 8, L = 6, N = 16, E = 32, STEPS = 150 };

typedef struct model {
    attn_params *P;
    attn_embedding tok;
    attn_param *pos; /* [L, 1, E], broadcast over the batch */
    attn_encoder_layer enc;
    attn_linear head;
} model;

#define TRY(x)                                                                                 \
    do {                                                                                       \
        int st_ = (x);                                                                         \
        if (st_ < 0) {                                                                         \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, attn_status_string(st_),      \
                    attn_last_error());                                                        \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

static void model_init(model *m)
{
    attn_transformer_config cfg = {.d_model = E, .nhead = 4, .dim_feedforward = 64};
    int64_t pos_shape[3] = {L, 1, E};
    TRY(attn_params_create(42, &m->P));
    TRY(attn_embedding_init(&m->tok, m->P, "tok.", V, E, -1));
    TRY(attn_params_add(m->P, "", "pos", 3, pos_shape, ATTN_INIT_NORMAL, 0.1f, &m->pos));
    TRY(attn_encoder_layer_init(&m->enc, m->P, "enc.", &cfg));
    TRY(attn_linear_init(&m->head, m->P, "head.", E, V, 1));
}

/* The model: ids [L, N] → loss. Nothing else is written for training. */
static attn_var *model_forward(attn_tape *t, const model *m, const int32_t *ids,
                               const int32_t *targets)
{
    int64_t shape[2] = {L, N};
    attn_ce_options ce = {-100, 0.0f};
    attn_var *x, *pos, *logits, *loss;
    TRY(attn_embedding_forward(t, &m->tok, ids, 2, shape, &x)); /* [L, N, E] */
    TRY(attn_tape_param(t, m->pos, &pos));
    TRY(attn_op_add(t, x, pos, &x));
    TRY(attn_encoder_layer_forward(t, &m->enc, x, NULL, &x));
    TRY(attn_linear_forward(t, &m->head, x, &logits)); /* [L, N, V] */
    TRY(attn_op_cross_entropy(t, logits, targets, &ce, &loss));
    return loss;
}

int main(void)
{
    model m;
    model_init(&m);
    attn_tape *t;
    attn_optim *opt;
    attn_tape_config tc = {.seed = 1};
    attn_optim_config oc = {.kind = ATTN_OPTIM_ADAMW, .weight_decay = 0.01f};
    attn_schedule sched = {ATTN_SCHEDULE_COSINE, 3e-3f, 10, STEPS, 0.1f};
    TRY(attn_tape_create(&tc, &t));
    TRY(attn_optim_create(m.P, &oc, &opt));
    printf("parameters: %lld in %d tensors\n", (long long)attn_params_numel(m.P),
           attn_params_count(m.P));
    uint32_t seed = 7;
    float first = 0, last = 0;
    for (int step = 0; step < STEPS; step++) {
        int32_t ids[L * N], targets[L * N];
        for (int n = 0; n < N; n++)
            for (int l = 0; l < L; l++) {
                seed = seed * 1664525u + 1013904223u;
                ids[l * N + n] = (int32_t)((seed >> 16) % V);
            }
        for (int n = 0; n < N; n++)
            for (int l = 0; l < L; l++) targets[l * N + n] = ids[n];
        TRY(attn_tape_reset(t));
        attn_var *loss = model_forward(t, &m, ids, targets);
        attn_params_zero_grad(m.P);
        TRY(attn_tape_backward(t, loss, NULL));
        float norm;
        TRY(attn_clip_grad_norm(m.P, 1.0f, &norm));
        TRY(attn_optim_step(opt, attn_schedule_lr(&sched, step)));
        if (step == 0) first = loss->data[0];
        last = loss->data[0];
        if (step % 25 == 0 || step == STEPS - 1)
            printf("step %3d  loss %.4f  grad norm %.3f  arena %zu bytes\n", step, loss->data[0],
                   norm, attn_tape_arena_used(t));
    }
    attn_optim_free(opt);
    attn_tape_free(t);
    attn_params_free(m.P);
    printf("loss %.4f -> %.4f\n", first, last);
    return last < 0.25f * first ? 0 : 1;
}
