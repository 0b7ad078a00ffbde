/* test_classify.c — the Transformer-encoder classifier: padding changes no result, its
 * gradients agree with finite differences, head+tail truncation, config metadata. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "attn.h"

static attn_classifier *tiny(int pooling, float dropout)
{
    attn_classifier_config c = {.vocab = 40, .d_model = 16, .nhead = 4, .num_layers = 2,
                                .dim_feedforward = 24, .max_len = 16, .num_classes = 3,
                                .dropout = dropout, .activation = ATTN_ACT_GELU, .norm_first = 1,
                                .pooling = pooling, .pad_id = 0};
    attn_classifier *m = NULL;
    cr_assert_eq(attn_classifier_create(&c, 7, &m), ATTN_OK, "%s", attn_last_error());
    /* non-zero biases and norms, so that nothing hides behind a zero */
    for (int p = 0; p < attn_params_count(m->P); p++) {
        attn_param *q = attn_params_at(m->P, p);
        for (int64_t i = 0; i < q->numel; i++) q->data[i] += 0.05f * (float)sin(1.7 * (double)(i + 3 * p));
    }
    return m;
}

static void logits_of(attn_tape *t, const attn_classifier *m, const int32_t *ids, int64_t N, int64_t T,
                      float *out)
{
    attn_var *y;
    cr_assert_eq(attn_tape_reset(t), ATTN_OK);
    cr_assert_eq(attn_classifier_forward(t, m, ids, N, T, &y, NULL), ATTN_OK, "%s", attn_last_error());
    memcpy(out, y->data, (size_t)y->numel * sizeof *out);
}

Test(classify, padding_changes_nothing)
{
    for (int pool = 0; pool < 2; pool++) {
        attn_classifier *m = tiny(pool, 0);
        attn_tape *t;
        attn_tape_config tc = {.num_threads = 1};
        cr_assert_eq(attn_tape_create(&tc, &t), ATTN_OK);
        attn_tape_set_training(t, 0);
        int32_t a[2 * 7] = {5, 6, 7, 8, 9, 0, 0, /**/ 11, 3, 12, 13, 4, 2, 19};
        int32_t b[2 * 12] = {5, 6, 7, 8, 9, 0, 0, 0, 0, 0, 0, 0, /**/ 11, 3, 12, 13, 4, 2, 19, 0, 0, 0, 0, 0};
        float la[6], lb[6], l1[3];
        logits_of(t, m, a, 2, 7, la);
        logits_of(t, m, b, 2, 12, lb);
        logits_of(t, m, a, 1, 5, l1); /* the first row alone, unpadded */
        for (int i = 0; i < 6; i++) cr_assert_float_eq(la[i], lb[i], 1e-5, "pool %d logit %d: %g vs %g", pool, i, la[i], lb[i]);
        for (int i = 0; i < 3; i++) cr_assert_float_eq(la[i], l1[i], 1e-5, "pool %d alone %d", pool, i);
        /* an empty row is answered: finite logits */
        int32_t e[3] = {0, 0, 0};
        logits_of(t, m, e, 1, 3, l1);
        for (int i = 0; i < 3; i++) cr_assert(isfinite(l1[i]));
        attn_tape_free(t);
        attn_classifier_free(m);
    }
}

static double loss_of(attn_tape *t, const attn_classifier *m, const int32_t *ids, const int32_t *y)
{
    attn_var *z, *loss;
    attn_ce_options ce = {-100, 0.1f};
    cr_assert_eq(attn_tape_reset(t), ATTN_OK);
    cr_assert_eq(attn_classifier_forward(t, m, ids, 2, 6, &z, NULL), ATTN_OK);
    cr_assert_eq(attn_op_cross_entropy(t, z, y, &ce, &loss), ATTN_OK);
    return loss->data[0];
}

Test(classify, gradients_match_finite_differences)
{
    attn_classifier *m = tiny(ATTN_POOL_MEAN, 0);
    attn_tape *t;
    attn_tape_config tc = {.num_threads = 1};
    cr_assert_eq(attn_tape_create(&tc, &t), ATTN_OK);
    int32_t ids[12] = {5, 6, 7, 0, 0, 0, 11, 3, 12, 13, 4, 2}, y[2] = {2, 0};
    attn_var *z, *loss;
    attn_ce_options ce = {-100, 0.1f};
    cr_assert_eq(attn_tape_reset(t), ATTN_OK);
    cr_assert_eq(attn_classifier_forward(t, m, ids, 2, 6, &z, NULL), ATTN_OK);
    cr_assert_eq(attn_op_cross_entropy(t, z, y, &ce, &loss), ATTN_OK);
    attn_params_zero_grad(m->P);
    cr_assert_eq(attn_tape_backward(t, loss, NULL), ATTN_OK);
    const char *names[] = {"embed.weight", "pos.weight", "layers.0.self_attn.in_proj_weight",
                           "layers.1.linear1.weight", "norm.weight", "head.weight", "head.bias"};
    int checked = 0;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        attn_param *p = attn_params_find(m->P, names[k]);
        cr_assert_not_null(p, "%s", names[k]);
        float *g = malloc((size_t)p->numel * sizeof *g);
        memcpy(g, p->grad, (size_t)p->numel * sizeof *g);
        for (int s = 0; s < 6; s++) {
            int64_t i = (int64_t)((s * 2654435761u + k * 97) % (uint64_t)p->numel);
            if (!strcmp(names[k], "embed.weight")) i = (int64_t)(ids[(s * 5) % 12] * 16 + s); /* used rows */
            float x = p->data[i];
            double h = 1e-2;
            p->data[i] = x + (float)h;
            double lp = loss_of(t, m, ids, y);
            p->data[i] = x - (float)h;
            double lm = loss_of(t, m, ids, y);
            p->data[i] = x;
            double fd = (lp - lm) / (2 * h);
            cr_assert(fabs(fd - g[i]) <= 2e-3 + 2e-2 * fabs(fd), "%s[%lld]: tape %g, finite difference %g",
                      names[k], (long long)i, g[i], fd);
            checked++;
        }
        free(g);
    }
    /* the padding row of the embedding gets no gradient */
    attn_param *e = attn_params_find(m->P, "embed.weight");
    for (int j = 0; j < 16; j++) cr_assert_eq(e->grad[j], 0.0f);
    cr_assert_eq(checked, 42);
    attn_tape_free(t);
    attn_classifier_free(m);
}

Test(classify, truncate_head_tail)
{
    int32_t in[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, out[10];
    cr_assert_eq(attn_truncate_head_tail(in, 10, 4, 1, out), 4);
    cr_assert(out[0] == 0 && out[1] == 7 && out[2] == 8 && out[3] == 9);
    cr_assert_eq(attn_truncate_head_tail(in, 10, 4, 4, out), 4);
    cr_assert(out[0] == 0 && out[3] == 3);
    cr_assert_eq(attn_truncate_head_tail(in, 3, 4, 1, out), 3);
    cr_assert(out[2] == 2);
}

Test(classify, bad_config_and_ids)
{
    attn_classifier_config c = {.vocab = 40, .d_model = 15, .nhead = 4, .num_layers = 1,
                                .dim_feedforward = 8, .max_len = 8, .num_classes = 2};
    attn_classifier *m = NULL;
    cr_assert_eq(attn_classifier_create(&c, 1, &m), ATTN_E_ARG);
    cr_assert_null(m);
    m = tiny(ATTN_POOL_MEAN, 0);
    attn_tape *t;
    attn_tape_config tc = {0};
    cr_assert_eq(attn_tape_create(&tc, &t), ATTN_OK);
    attn_var *z;
    int32_t ids[3] = {1, 40, 2};
    cr_assert_eq(attn_classifier_forward(t, m, ids, 1, 3, &z, NULL), ATTN_E_ARG);
    cr_assert_eq(attn_classifier_forward(t, m, ids, 1, 17, &z, NULL), ATTN_E_ARG);
    attn_tape_free(t);
    attn_classifier_free(m);
}
