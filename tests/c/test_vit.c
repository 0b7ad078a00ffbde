/* test_vit.c — the tape ops a Vision Transformer adds (cat, expand, mean) and the whole ViT:
 * backward against central finite differences, configuration metadata round trips, patch
 * order, the 2-D sinusoidal table, and errors. (PyTorch conformance: tests/py/test_vit.py.) */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "attn.h"

typedef int (*build_fn)(attn_tape *t, attn_var **in, void *ctx, attn_var **out);

typedef struct fd {
    int n_in;
    float *in[3];
    int ndim[3];
    int64_t shape[3][4], numel[3];
    attn_params *P; /* may be NULL */
    build_fn build;
    void *ctx;
} fd;

static uint64_t lcg = 99;
static float frand(void) /* uniform in [-1, 1) */
{
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((lcg >> 40) / (double)(1ULL << 24)) * 2.0f - 1.0f;
}

static attn_var *run(attn_tape *t, const fd *c, attn_var **vars)
{
    cr_assert_eq(attn_tape_reset(t), ATTN_OK);
    for (int i = 0; i < c->n_in; i++)
        cr_assert_eq(attn_tape_input(t, c->in[i], c->ndim[i], c->shape[i], 1, &vars[i]), ATTN_OK);
    attn_var *out = NULL;
    cr_assert_eq(c->build(t, vars, c->ctx, &out), ATTN_OK, "build: %s", attn_last_error());
    return out;
}

static double loss_of(attn_tape *t, const fd *c, const float *R)
{
    attn_var *vars[3];
    attn_var *out = run(t, c, vars);
    double s = 0;
    for (int64_t i = 0; i < out->numel; i++) s += (double)out->data[i] * R[i];
    return s;
}

/* Central differences on up to 16 sampled elements of x against the analytic g. */
static double compare(attn_tape *t, const fd *c, const float *R, float *x, const float *g,
                      int64_t n, const char *what)
{
    double gmax = 1e-2, worst = 0;
    for (int64_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(g ? g[i] : 0));
    for (int s = 0; s < 16 && s < n; s++) {
        int64_t i = n <= 16 ? s : (s * 7919) % n;
        const float h = 1e-2f, keep = x[i];
        x[i] = keep + h;
        double lp = loss_of(t, c, R);
        x[i] = keep - h;
        double lm = loss_of(t, c, R);
        x[i] = keep;
        double num = (lp - lm) / (2.0 * h), ana = g ? g[i] : 0;
        double err = fabs(num - ana) / gmax;
        worst = fmax(worst, err);
        cr_expect(err <= 2e-3, "%s[%lld]: numeric %.6g, analytic %.6g (rel err %.2g)", what,
                  (long long)i, num, ana, err);
    }
    return worst;
}

static void check_grads(fd *c)
{
    attn_tape *t;
    attn_tape_config cfg = {0, 1, 5};
    cr_assert_eq(attn_tape_create(&cfg, &t), ATTN_OK);
    attn_var *vars[3];
    attn_var *out = run(t, c, vars);
    float *R = malloc((size_t)out->numel * sizeof *R);
    for (int64_t i = 0; i < out->numel; i++) R[i] = frand();
    if (c->P) attn_params_zero_grad(c->P);
    cr_assert_eq(attn_tape_backward(t, out, R), ATTN_OK, "%s", attn_last_error());
    float *gin[3] = {0};
    for (int i = 0; i < c->n_in; i++) {
        gin[i] = calloc((size_t)c->numel[i], sizeof(float));
        if (vars[i]->grad) memcpy(gin[i], vars[i]->grad, (size_t)c->numel[i] * sizeof(float));
    }
    int np = c->P ? attn_params_count(c->P) : 0;
    float **gp = calloc((size_t)np + 1, sizeof *gp);
    for (int i = 0; i < np; i++) {
        attn_param *p = attn_params_at(c->P, i);
        gp[i] = malloc((size_t)p->numel * sizeof(float));
        /* gradients are allocated when one first reaches a parameter: none reached it = 0 */
        if (p->grad) memcpy(gp[i], p->grad, (size_t)p->numel * sizeof(float));
        else memset(gp[i], 0, (size_t)p->numel * sizeof(float));
    }
    for (int i = 0; i < c->n_in; i++) {
        compare(t, c, R, c->in[i], gin[i], c->numel[i], "input");
        free(gin[i]);
    }
    for (int i = 0; i < np; i++) {
        attn_param *p = attn_params_at(c->P, i);
        compare(t, c, R, p->data, gp[i], p->numel, p->name);
        free(gp[i]);
    }
    free(gp), free(R);
    attn_tape_free(t);
}

static void add_input(fd *c, int ndim, int64_t d0, int64_t d1, int64_t d2)
{
    int i = c->n_in++;
    int64_t s[3] = {d0, d1, d2};
    c->ndim[i] = ndim;
    c->numel[i] = 1;
    for (int d = 0; d < ndim; d++) c->shape[i][d] = s[d], c->numel[i] *= s[d];
    c->in[i] = malloc((size_t)c->numel[i] * sizeof(float));
    for (int64_t k = 0; k < c->numel[i]; k++) c->in[i][k] = frand();
}

static void free_inputs(fd *c)
{
    for (int i = 0; i < c->n_in; i++) free(c->in[i]);
}

/* ---- the ops ---------------------------------------------------------------------------------- */

static int build_cat(attn_tape *t, attn_var **in, void *ctx, attn_var **out)
{
    int dim = *(int *)ctx;
    attn_var *y;
    int st = attn_op_cat(t, 3, in, dim, &y);
    if (st) return st;
    /* a second use of an input: the gradients of both paths add */
    return attn_op_cat(t, 2, (attn_var *[]){y, y}, dim, out);
}

Test(vit_fd, cat)
{
    for (int dim = 0; dim < 3; dim++) {
        fd c = {.build = build_cat, .ctx = &dim};
        int64_t base[3] = {2, 3, 4};
        for (int k = 0; k < 3; k++) {
            int64_t s[3] = {base[0], base[1], base[2]};
            s[dim] = k + 1;
            add_input(&c, 3, s[0], s[1], s[2]);
        }
        check_grads(&c);
        free_inputs(&c);
    }
}

typedef struct expand_case {
    int ndim;
    int64_t shape[4];
} expand_case;

static int build_expand(attn_tape *t, attn_var **in, void *ctx, attn_var **out)
{
    const expand_case *e = ctx;
    return attn_op_expand(t, in[0], e->ndim, e->shape, out);
}

Test(vit_fd, expand)
{
    expand_case cases[3] = {{3, {5, 1, 6}}, {3, {3, 4, 2}}, {3, {2, 3, 4}}};
    int64_t src[3][3] = {{1, 1, 6}, {4, 1, 0}, {2, 1, 4}};
    int nd[3] = {3, 2, 3};
    for (int k = 0; k < 3; k++) {
        fd c = {.build = build_expand, .ctx = &cases[k]};
        add_input(&c, nd[k], src[k][0], src[k][1], src[k][2]);
        check_grads(&c);
        free_inputs(&c);
    }
}

static int build_mean(attn_tape *t, attn_var **in, void *ctx, attn_var **out)
{
    return attn_op_mean(t, in[0], *(int *)ctx, out);
}

Test(vit_fd, mean)
{
    for (int dim = 0; dim < 3; dim++) {
        fd c = {.build = build_mean, .ctx = &dim};
        add_input(&c, 3, 3, 5, 4);
        check_grads(&c);
        free_inputs(&c);
    }
}

Test(vit, op_errors)
{
    attn_tape *t;
    attn_tape_config cfg = {0};
    cr_assert_eq(attn_tape_create(&cfg, &t), ATTN_OK);
    attn_var *a, *b, *y;
    int64_t sa[3] = {2, 3, 4}, sb[3] = {2, 3, 5};
    cr_assert_eq(attn_tape_input(t, NULL, 3, sa, 1, &a), ATTN_OK);
    cr_assert_eq(attn_tape_input(t, NULL, 3, sb, 1, &b), ATTN_OK);
    cr_assert_eq(attn_op_cat(t, 2, (attn_var *[]){a, b}, 1, &y), ATTN_E_SHAPE);
    cr_assert(strstr(attn_last_error(), "xs[1].shape[2]=5"), "%s", attn_last_error());
    cr_assert_eq(attn_op_cat(t, 2, (attn_var *[]){a, b}, 2, &y), ATTN_OK);
    cr_assert(y->shape[2] == 9);
    cr_assert_eq(attn_op_cat(t, 2, (attn_var *[]){a, b}, 3, &y), ATTN_E_ARG);
    cr_assert_eq(attn_op_cat(t, 0, (attn_var *[]){a}, 0, &y), ATTN_E_ARG);
    int64_t bad[3] = {2, 5, 4};
    cr_assert_eq(attn_op_expand(t, a, 3, bad, &y), ATTN_E_SHAPE);
    cr_assert_eq(attn_op_expand(t, a, 2, bad, &y), ATTN_E_ARG);
    cr_assert_eq(attn_op_mean(t, a, 3, &y), ATTN_E_ARG);
    int64_t one[1] = {4};
    attn_var *v;
    cr_assert_eq(attn_tape_input(t, NULL, 1, one, 1, &v), ATTN_OK);
    cr_assert_eq(attn_op_mean(t, v, 0, &y), ATTN_E_ARG);
    attn_tape_free(t);
}

/* ---- the model ------------------------------------------------------------------------------ */

static attn_vit_config small_cfg(attn_pooling pool, attn_vit_pos pos)
{
    attn_vit_config c = {.image_size = 8, .channels = 2, .patch_size = 4, .d_model = 8,
                         .nhead = 2, .num_layers = 1, .dim_feedforward = 12, .num_classes = 3,
                         .activation = ATTN_ACT_GELU, .pooling = pool, .pos = pos};
    return c;
}

typedef struct vit_ctx {
    attn_vit *m;
    const float *images;
} vit_ctx;

static int build_vit(attn_tape *t, attn_var **in, void *ctx, attn_var **out)
{
    (void)in;
    vit_ctx *v = ctx;
    return attn_vit_forward(t, v->m, v->images, 2, out, NULL);
}

Test(vit_fd, whole_model_every_parameter)
{
    for (int k = 0; k < 4; k++) {
        attn_vit_config cfg = small_cfg(k & 1 ? ATTN_POOL_FIRST : ATTN_POOL_MEAN,
                                        k & 2 ? ATTN_VIT_POS_SINCOS : ATTN_VIT_POS_LEARNED);
        attn_vit *m;
        cr_assert_eq(attn_vit_create(&cfg, 3, &m), ATTN_OK, "%s", attn_last_error());
        /* larger token parameters than the N(0, 0.02²) start, so their effect is measurable */
        for (int p = 0; p < attn_params_count(m->P); p++) {
            attn_param *q = attn_params_at(m->P, p);
            if (q == m->cls_token || q == m->pos_embed)
                for (int64_t i = 0; i < q->numel; i++) q->data[i] = 0.5f * frand();
        }
        float images[2 * 2 * 8 * 8];
        for (int i = 0; i < 2 * 2 * 8 * 8; i++) images[i] = frand();
        vit_ctx v = {m, images};
        fd c = {.P = m->P, .build = build_vit, .ctx = &v};
        check_grads(&c);
        attn_vit_free(m);
    }
}

Test(vit, patch_order_and_sincos_table)
{
    attn_vit_config cfg = small_cfg(ATTN_POOL_FIRST, ATTN_VIT_POS_SINCOS);
    float img[2 * 2 * 8 * 8], patches[2 * 4 * 32];
    for (int i = 0; i < 2 * 2 * 8 * 8; i++) img[i] = (float)i;
    cr_assert_eq(attn_vit_patchify(&cfg, img, 2, patches), ATTN_OK);
    /* image 1, patch (1, 0), channel 1, pixel (2, 3) = image row 4 + 2, column 3 */
    cr_assert_eq(patches[(1 * 4 + 2) * 32 + (1 * 4 + 2) * 4 + 3], img[((1 * 2 + 1) * 8 + 6) * 8 + 3]);
    float tab[9 * 8];
    cr_assert_eq(attn_vit_posenc_2d(3, 8, tab), ATTN_OK);
    /* patch (y=2, x=1): [sin 2, sin(2/100), cos 2, cos(2/100), sin 1, sin(1/100), cos 1, cos(1/100)] */
    const float *r = tab + (2 * 3 + 1) * 8;
    double want[8] = {sin(2), sin(0.02), cos(2), cos(0.02), sin(1), sin(0.01), cos(1), cos(0.01)};
    for (int i = 0; i < 8; i++) cr_assert_float_eq(r[i], want[i], 1e-6, "%d: %g vs %g", i, r[i], want[i]);
    cr_assert_eq(attn_vit_posenc_2d(3, 6, tab), ATTN_E_ARG);
    attn_vit *m;
    cr_assert_eq(attn_vit_create(&cfg, 1, &m), ATTN_OK);
    cr_assert_eq(m->tokens, 5);
    for (int i = 0; i < 8; i++) cr_assert_eq(m->pos_table[i], 0.0f); /* the class token's row */
    cr_assert_eq(attn_vit_posenc_2d(2, 8, tab), ATTN_OK); /* the patches' rows: the 2×2 grid */
    cr_assert_eq(memcmp(m->pos_table + 8, tab, 4 * 8 * sizeof(float)), 0);
    cr_assert_null(attn_params_find(m->P, "pos_embed"));
    cr_assert_not_null(attn_params_find(m->P, "cls_token"));
    attn_vit_free(m);
}

Test(vit, config_metadata_round_trip_and_errors)
{
    attn_vit_config cfg = small_cfg(ATTN_POOL_MEAN, ATTN_VIT_POS_SINCOS), back = {0};
    cfg.dropout = 0.125f;
    attn_vit *m;
    cr_assert_eq(attn_vit_create(&cfg, 1, &m), ATTN_OK);
    char buf[1024];
    const char *kv[64];
    cr_assert_gt(attn_vit_config_to_meta(&cfg, buf, sizeof buf, kv, 64), 0, "%s", attn_last_error());
    char path[128];
    snprintf(path, sizeof path, "/tmp/attn_test_vit_%d.safetensors", (int)getpid());
    cr_assert_eq(attn_checkpoint_save(m->P, path, kv), ATTN_OK, "%s", attn_last_error());
    attn_st_reader *st;
    cr_assert_eq(attn_st_open(path, &st), ATTN_OK);
    cr_assert_eq(attn_vit_config_from_reader(st, &back), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(memcmp(&cfg, &back, sizeof cfg), 0);
    attn_vit *m2;
    cr_assert_eq(attn_vit_create(&back, 9, &m2), ATTN_OK);
    cr_assert_eq(attn_checkpoint_load(m2->P, st), ATTN_OK, "%s", attn_last_error());
    attn_st_close(st);
    /* a checkpoint without the configuration, or with a field out of range */
    cr_assert_eq(attn_checkpoint_save(m->P, path, NULL), ATTN_OK);
    cr_assert_eq(attn_st_open(path, &st), ATTN_OK);
    cr_assert_eq(attn_vit_config_from_reader(st, &back), ATTN_E_FORMAT);
    cr_assert(strstr(attn_last_error(), "attn.config."), "%s", attn_last_error());
    attn_st_close(st);
    for (int i = 0; kv[i]; i += 2)
        if (!strcmp(kv[i], "attn.config.patch_size")) kv[i + 1] = "3"; /* does not divide 8 */
    cr_assert_eq(attn_checkpoint_save(m->P, path, kv), ATTN_OK);
    cr_assert_eq(attn_st_open(path, &st), ATTN_OK);
    cr_assert_eq(attn_vit_config_from_reader(st, &back), ATTN_E_ARG);
    attn_st_close(st);
    unlink(path);
    float one[1];
    cr_assert_eq(attn_vit_patchify(&cfg, NULL, 1, one), ATTN_E_ARG);
    /* the same weights give the same logits */
    float images[2 * 2 * 8 * 8];
    for (int i = 0; i < 2 * 2 * 8 * 8; i++) images[i] = frand();
    attn_tape *t;
    attn_tape_config tc = {0, 1, 0};
    cr_assert_eq(attn_tape_create(&tc, &t), ATTN_OK);
    attn_tape_set_training(t, 0);
    attn_var *l1, *l2;
    cr_assert_eq(attn_vit_forward(t, m, images, 2, &l1, NULL), ATTN_OK);
    cr_assert_eq(attn_vit_forward(t, m2, images, 2, &l2, NULL), ATTN_OK);
    cr_assert(l1->shape[0] == 2 && l1->shape[1] == 3);
    cr_assert_eq(memcmp(l1->data, l2->data, 6 * sizeof(float)), 0);
    cr_assert_eq(attn_vit_forward(t, m, images, 0, &l1, NULL), ATTN_E_ARG);
    attn_tape_free(t);
    attn_vit_free(m), attn_vit_free(m2);
    /* invalid configurations */
    attn_vit_config bad[5];
    for (int k = 0; k < 5; k++) bad[k] = small_cfg(ATTN_POOL_MEAN, ATTN_VIT_POS_SINCOS);
    bad[0].patch_size = 3;  /* does not divide 8 */
    bad[1].d_model = 6;     /* sincos needs a multiple of 4 */
    bad[1].nhead = 2;
    bad[2].nhead = 3;       /* does not divide d_model */
    bad[3].num_classes = 1;
    bad[4].pos = 2;
    for (int k = 0; k < 5; k++) {
        cr_assert_eq(attn_vit_create(&bad[k], 1, &m), ATTN_E_ARG, "case %d", k);
        cr_assert_null(m);
        cr_assert(strstr(attn_last_error(), "invalid configuration"));
    }
    attn_vit_free(NULL);
}
