/* test_nn.c — finite-difference checks of every tape op's backward, and the tape's contracts.
 *
 * Each check builds a small graph from inputs and parameters, takes loss = Σ out·R for a fixed
 * random R, and compares attn_tape_backward's gradients with central differences
 * (loss(x + h) − loss(x − h)) / 2h on sampled elements of every input and parameter. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "attn.h"

#define MAX_IN 3
#define SAMPLES 24

typedef int (*build_fn)(attn_tape *t, attn_var **in, void *ctx, attn_var **out);

typedef struct fd_case {
    int n_in;
    float *in[MAX_IN];
    int ndim[MAX_IN];
    int64_t shape[MAX_IN][4];
    attn_params *P; /* may be NULL */
    build_fn build;
    void *ctx;
    double h, tol;
} fd_case;

static uint64_t lcg = 12345;
static float frand(void) /* uniform in [-1, 1) */
{
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((lcg >> 40) / (double)(1ULL << 24)) * 2.0f - 1.0f;
}

static int64_t numel_of(const fd_case *c, int i)
{
    int64_t n = 1;
    for (int d = 0; d < c->ndim[i]; d++) n *= c->shape[i][d];
    return n;
}

/* Forward on a fresh recording; returns the output variable. */
static attn_var *run(attn_tape *t, const fd_case *c, attn_var **vars)
{
    cr_assert_eq(attn_tape_reset(t), ATTN_OK);
    attn_tape_set_rng(t, 77, 0); /* the same dropout masks on every evaluation */
    for (int i = 0; i < c->n_in; i++)
        cr_assert_eq(attn_tape_input(t, c->in[i], c->ndim[i], c->shape[i], 1, &vars[i]), ATTN_OK,
                     "%s", attn_last_error());
    attn_var *out = NULL;
    int st = c->build(t, vars, c->ctx, &out);
    cr_assert_eq(st, ATTN_OK, "build: %s", attn_last_error());
    return out;
}

static double loss_of(attn_tape *t, const fd_case *c, const float *R)
{
    attn_var *vars[MAX_IN];
    attn_var *out = run(t, c, vars);
    double s = 0;
    for (int64_t i = 0; i < out->numel; i++) s += (double)out->data[i] * R[i];
    return s;
}

/* Compare analytic gradient g (n elements) of the values x with central differences. */
static void compare(attn_tape *t, const fd_case *c, const float *R, float *x, const float *g,
                    int64_t n, const char *what)
{
    double gmax = 0;
    for (int64_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(g ? g[i] : 0));
    for (int s = 0; s < SAMPLES && s < n; s++) {
        int64_t i = n <= SAMPLES ? s : (s * 7919) % n;
        float keep = x[i];
        x[i] = keep + (float)c->h;
        double lp = loss_of(t, c, R);
        x[i] = keep - (float)c->h;
        double lm = loss_of(t, c, R);
        x[i] = keep;
        double num = (lp - lm) / (2 * c->h), ana = g ? g[i] : 0;
        double err = fabs(num - ana) / fmax(gmax, 1e-2);
        cr_expect(err <= c->tol, "%s[%lld]: numeric %.6g, analytic %.6g (rel err %.2g)", what,
                  (long long)i, num, ana, err);
    }
}

static void check_grads(fd_case *c)
{
    attn_tape *t;
    attn_tape_config cfg = {0, 2, 77};
    cr_assert_eq(attn_tape_create(&cfg, &t), ATTN_OK);
    if (!c->h) c->h = 1e-2;
    if (!c->tol) c->tol = 2e-3; /* correct code stays below 4e-4 here */
    attn_var *vars[MAX_IN];
    attn_var *out = run(t, c, vars);
    float *R = malloc((size_t)out->numel * sizeof *R);
    for (int64_t i = 0; i < out->numel; i++) R[i] = frand();
    if (c->P) attn_params_zero_grad(c->P);
    cr_assert_eq(attn_tape_backward(t, out, R), ATTN_OK, "%s", attn_last_error());
    /* keep the analytic gradients: later forwards reuse the arena */
    float *gin[MAX_IN];
    for (int i = 0; i < c->n_in; i++) {
        int64_t n = numel_of(c, i);
        gin[i] = calloc((size_t)n, sizeof(float));
        if (vars[i]->grad) memcpy(gin[i], vars[i]->grad, (size_t)n * sizeof(float));
    }
    int np = attn_params_count(c->P);
    float **gp = calloc((size_t)np + 1, sizeof *gp);
    for (int i = 0; i < np; i++) {
        attn_param *p = attn_params_at(c->P, i);
        gp[i] = malloc((size_t)p->numel * sizeof(float));
        memcpy(gp[i], p->grad, (size_t)p->numel * sizeof(float));
    }
    for (int i = 0; i < c->n_in; i++) {
        char name[32];
        snprintf(name, sizeof name, "input%d", i);
        compare(t, c, R, c->in[i], gin[i], numel_of(c, i), name);
        free(gin[i]);
    }
    for (int i = 0; i < np; i++) {
        attn_param *p = attn_params_at(c->P, i);
        compare(t, c, R, p->data, gp[i], p->numel, p->name);
        free(gp[i]);
    }
    free(gp);
    free(R);
    attn_tape_free(t);
}

static float *rand_buf(int64_t n, float scale)
{
    float *b = malloc((size_t)n * sizeof *b);
    for (int64_t i = 0; i < n; i++) b[i] = scale * frand();
    return b;
}

/* Perturb every parameter a little so that zero-initialised biases are exercised too. */
static void jitter(attn_params *P)
{
    for (int i = 0; i < attn_params_count(P); i++) {
        attn_param *p = attn_params_at(P, i);
        for (int64_t j = 0; j < p->numel; j++) p->data[j] += 0.2f * frand();
    }
}

static void set_input(fd_case *c, int i, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                      float scale)
{
    int64_t s[4] = {d0, d1, d2, d3};
    c->ndim[i] = ndim;
    memcpy(c->shape[i], s, sizeof s);
    c->in[i] = rand_buf(numel_of(c, i), scale);
    if (c->n_in < i + 1) c->n_in = i + 1;
}

static void free_case(fd_case *c)
{
    for (int i = 0; i < c->n_in; i++) free(c->in[i]);
    attn_params_free(c->P);
}

/* ---- ops --------------------------------------------------------------------------------------- */

static int build_linear(attn_tape *t, attn_var **in, void *ctx, attn_var **out)
{
    return attn_linear_forward(t, ctx, in[0], out);
}

Test(nn_fd, linear)
{
    attn_linear l;
    fd_case c = {0};
    cr_assert_eq(attn_params_create(1, &c.P), ATTN_OK);
    cr_assert_eq(attn_linear_init(&l, c.P, "", 5, 4, 1), ATTN_OK);
    set_input(&c, 0, 3, 2, 3, 5, 0, 1);
    c.build = build_linear, c.ctx = &l;
    check_grads(&c);
    free_case(&c);
}

typedef struct emb_ctx {
    attn_embedding e;
    attn_linear l;
} emb_ctx;

static int build_embedding(attn_tape *t, attn_var **in, void *ctx, attn_var **out)
{
    emb_ctx *e = ctx;
    static const int32_t ids[6] = {1, 3, 3, 0, 2, 3};
    int64_t shape[2] = {2, 3};
    attn_var *x;
    (void)in;
    int st = attn_embedding_forward(t, &e->e, ids, 2, shape, &x);
    return st ? st : attn_linear_forward(t, &e->l, x, out);
}

Test(nn_fd, embedding_with_padding)
{
    emb_ctx e;
    fd_case c = {0};
    cr_assert_eq(attn_params_create(2, &c.P), ATTN_OK);
    cr_assert_eq(attn_embedding_init(&e.e, c.P, "emb.", 5, 4, 3), ATTN_OK);
    cr_assert_eq(attn_linear_init(&e.l, c.P, "fc.", 4, 3, 1), ATTN_OK);
    c.build = build_embedding, c.ctx = &e;
    /* the padding row (3) is used but must get no gradient: FD would see one, so check it apart */
    attn_tape *t;
    cr_assert_eq(attn_tape_create(NULL, &t), ATTN_OK);
    attn_var *out;
    cr_assert_eq(build_embedding(t, NULL, &e, &out), ATTN_OK);
    cr_assert_eq(attn_tape_backward(t, out, NULL), ATTN_OK);
    for (int d = 0; d < 4; d++) cr_expect_eq(e.e.weight->grad[3 * 4 + d], 0.0f);
    for (int d = 0; d < 4; d++) cr_expect_eq(e.e.weight->data[3 * 4 + d], 0.0f);
    cr_expect_neq(e.e.weight->grad[1 * 4 + 0], 0.0f);
    attn_tape_free(t);
    e.e.padding_idx = -1; /* then the FD check covers every row */
    check_grads(&c);
    free_case(&c);
}

static int build_layernorm(attn_tape *t, attn_var **in, void *ctx, attn_var **out)
{
    return attn_layernorm_forward(t, ctx, in[0], out);
}

Test(nn_fd, layernorm)
{
    for (int affine = 0; affine < 2; affine++) {
        attn_layernorm n;
        fd_case c = {0};
        cr_assert_eq(attn_params_create(3, &c.P), ATTN_OK);
        cr_assert_eq(attn_layernorm_init(&n, c.P, "", 7, 1e-5f, affine), ATTN_OK);
        jitter(c.P);
        set_input(&c, 0, 2, 4, 7, 0, 0, 2);
        c.build = build_layernorm, c.ctx = &n;
        check_grads(&c);
        free_case(&c);
    }
}

typedef struct op_ctx {
    int which;
    float p;
} op_ctx;

static int build_op(attn_tape *t, attn_var **in, void *ctx, attn_var **out)
{
    op_ctx *o = ctx;
    switch (o->which) {
    case 0: return attn_op_relu(t, in[0], out);
    case 1: return attn_op_gelu(t, in[0], 0, out);
    case 2: return attn_op_gelu(t, in[0], 1, out);
    case 3: return attn_op_softmax(t, in[0], out);
    case 4: return attn_op_add(t, in[0], in[1], out);
    case 5: { /* x used twice: gradients must add up */
        attn_var *y;
        int st = attn_op_add(t, in[0], in[0], &y);
        return st ? st : attn_op_gelu(t, y, 0, out);
    }
    case 6: return attn_op_dropout(t, in[0], o->p, out);
    case 7:
    case 8: return attn_op_add(t, in[0], in[1], out); /* b broadcast */
    case 10: return attn_op_tanh(t, in[0], out);
    case 11: { /* overlapping narrows of one input along different dimensions, then added */
        attn_var *a, *b, *y;
        int st = attn_op_narrow(t, in[0], 1, 1, 3, &a);
        if (!st) st = attn_op_narrow(t, a, 2, 0, 4, &a);
        if (!st) st = attn_op_narrow(t, in[0], 2, 2, 4, &b);
        if (!st) st = attn_op_narrow(t, b, 1, 0, 3, &b);
        if (!st) st = attn_op_tanh(t, b, &b);
        if (!st) st = attn_op_add(t, a, b, &y);
        return st ? st : attn_op_narrow(t, y, 0, 1, 2, out);
    }
    default: { /* scale, then reshape twice, then a nonlinearity */
        attn_var *y;
        int64_t flat[1] = {30}, two[2] = {3, 10};
        int st = attn_op_scale(t, in[0], -1.5f, &y);
        if (!st) st = attn_op_reshape(t, y, 1, flat, &y);
        if (!st) st = attn_op_reshape(t, y, 2, two, &y);
        return st ? st : attn_op_gelu(t, y, 1, out);
    }
    }
}

Test(nn_fd, elementwise_ops)
{
    for (int which = 0; which <= 11; which++) {
        op_ctx o = {which, 0.4f};
        fd_case c = {0};
        if (which == 11) set_input(&c, 0, 3, 3, 5, 6, 0, 2);
        else set_input(&c, 0, 2, 5, 6, 0, 0, 2);
        if (which == 0) /* keep away from ReLU's kink */
            for (int i = 0; i < 30; i++) c.in[0][i] += c.in[0][i] > 0 ? 0.1f : -0.1f;
        if (which == 4) set_input(&c, 1, 2, 5, 6, 0, 0, 1);
        if (which == 7) set_input(&c, 1, 1, 6, 0, 0, 0, 1);
        if (which == 8) set_input(&c, 1, 2, 5, 1, 0, 0, 1);
        c.build = build_op, c.ctx = &o;
        check_grads(&c);
        free_case(&c);
    }
}

typedef struct ce_ctx {
    attn_ce_options opt;
} ce_ctx;

static int build_ce(attn_tape *t, attn_var **in, void *ctx, attn_var **out)
{
    static const int32_t targets[6] = {0, 4, -1, 2, 2, 1};
    return attn_op_cross_entropy(t, in[0], targets, &((ce_ctx *)ctx)->opt, out);
}

Test(nn_fd, cross_entropy)
{
    ce_ctx cc[3] = {{{-1, 0.0f}}, {{-1, 0.2f}}, {{-100, 0.1f}}};
    for (int k = 0; k < 3; k++) {
        fd_case c = {0};
        set_input(&c, 0, 2, 6, 5, 0, 0, 2);
        c.build = build_ce, c.ctx = &cc[k];
        if (k == 2) { /* -1 is not ignored there: it is out of range */
            attn_tape *t;
            attn_var *x, *loss;
            cr_assert_eq(attn_tape_create(NULL, &t), ATTN_OK);
            cr_assert_eq(attn_tape_input(t, c.in[0], 2, c.shape[0], 1, &x), ATTN_OK);
            cr_expect_eq(build_ce(t, &x, &cc[k], &loss), ATTN_E_ARG);
            attn_tape_free(t);
        } else {
            check_grads(&c);
        }
        free_case(&c);
    }
}

typedef struct sdpa_case {
    attn_sdpa_options opt;
} sdpa_case;

static int build_sdpa(attn_tape *t, attn_var **in, void *ctx, attn_var **out)
{
    return attn_op_sdpa(t, in[0], in[1], in[2], &((sdpa_case *)ctx)->opt, out);
}

Test(nn_fd, sdpa_op)
{
    sdpa_case s = {{0}};
    s.opt.causal = 1;
    s.opt.dropout_p = 0.2f;
    fd_case c = {0};
    set_input(&c, 0, 4, 2, 2, 4, 3, 1);
    set_input(&c, 1, 4, 2, 2, 5, 3, 1);
    set_input(&c, 2, 4, 2, 2, 5, 2, 1);
    c.build = build_sdpa, c.ctx = &s;
    check_grads(&c);
    free_case(&c);
}

/* ---- multi-head attention and the Transformer layers ---------------------------------------- */

typedef struct mha_case {
    attn_mha m;
    attn_mha_args args;
    int self;
} mha_case;

static int build_mha(attn_tape *t, attn_var **in, void *ctx, attn_var **out)
{
    mha_case *m = ctx;
    if (m->self) return attn_mha_forward(t, &m->m, in[0], in[0], in[0], &m->args, out, NULL);
    return attn_mha_forward(t, &m->m, in[0], in[1], in[2], &m->args, out, NULL);
}

Test(nn_fd, mha_cross_extra_rows_masks_dropout)
{
    static const uint8_t kpm[2 * 5] = {0, 0, 0, 1, 1, 0, 0, 0, 0, 1};
    static float bias[4 * 5];
    for (int i = 0; i < 20; i++) bias[i] = 0.5f * frand();
    for (int bf = 0; bf < 2; bf++) {
        mha_case mc = {0};
        attn_mha_config cfg = {.embed_dim = 6, .num_heads = 2, .kdim = 4, .vdim = 3,
                               .add_bias_kv = 1, .add_zero_attn = 1, .dropout = 0.3f,
                               .batch_first = bf};
        fd_case c = {0};
        cr_assert_eq(attn_params_create(4, &c.P), ATTN_OK);
        cr_assert_eq(attn_mha_init(&mc.m, c.P, "attn.", &cfg), ATTN_OK, "%s", attn_last_error());
        jitter(c.P);
        mc.args.key_padding_mask = kpm;
        mc.args.attn_bias = bias;
        mc.args.is_causal = 1;
        if (bf) {
            set_input(&c, 0, 3, 2, 4, 6, 0, 1);
            set_input(&c, 1, 3, 2, 5, 4, 0, 1);
            set_input(&c, 2, 3, 2, 5, 3, 0, 1);
        } else {
            set_input(&c, 0, 3, 4, 2, 6, 0, 1);
            set_input(&c, 1, 3, 5, 2, 4, 0, 1);
            set_input(&c, 2, 3, 5, 2, 3, 0, 1);
        }
        c.build = build_mha, c.ctx = &mc;
        check_grads(&c);
        free_case(&c);
    }
}

Test(nn_fd, mha_self_attention)
{
    mha_case mc = {0};
    attn_mha_config cfg = {.embed_dim = 8, .num_heads = 2};
    fd_case c = {0};
    cr_assert_eq(attn_params_create(5, &c.P), ATTN_OK);
    cr_assert_eq(attn_mha_init(&mc.m, c.P, "", &cfg), ATTN_OK);
    jitter(c.P);
    mc.self = 1;
    set_input(&c, 0, 3, 4, 2, 8, 0, 1);
    c.build = build_mha, c.ctx = &mc;
    check_grads(&c);
    free_case(&c);
}

typedef struct layer_case {
    attn_encoder_layer enc;
    attn_decoder_layer dec;
    int decoder;
} layer_case;

static int build_layer(attn_tape *t, attn_var **in, void *ctx, attn_var **out)
{
    layer_case *l = ctx;
    static const uint8_t causal[16] = {0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0};
    attn_mha_args self = {.attn_mask = causal};
    if (!l->decoder) return attn_encoder_layer_forward(t, &l->enc, in[0], NULL, out);
    return attn_decoder_layer_forward(t, &l->dec, in[0], in[1], &self, NULL, out);
}

Test(nn_fd, transformer_layers)
{
    for (int decoder = 0; decoder < 2; decoder++)
        for (int norm_first = 0; norm_first < 2; norm_first++) {
            layer_case l = {.decoder = decoder};
            attn_transformer_config cfg = {.d_model = 8, .nhead = 2, .dim_feedforward = 12,
                                           .dropout = 0.1f, .activation = ATTN_ACT_GELU,
                                           .norm_first = norm_first};
            fd_case c = {0};
            cr_assert_eq(attn_params_create(6, &c.P), ATTN_OK);
            if (decoder) cr_assert_eq(attn_decoder_layer_init(&l.dec, c.P, "dec.", &cfg), ATTN_OK);
            else cr_assert_eq(attn_encoder_layer_init(&l.enc, c.P, "enc.", &cfg), ATTN_OK);
            jitter(c.P);
            set_input(&c, 0, 3, 4, 2, 8, 0, 1);
            if (decoder) set_input(&c, 1, 3, 5, 2, 8, 0, 1);
            c.build = build_layer, c.ctx = &l;
            check_grads(&c);
            free_case(&c);
        }
}

/* ---- contracts and error paths ----------------------------------------------------------------- */

Test(nn, params_table)
{
    attn_params *P;
    attn_linear l;
    attn_mha m;
    attn_mha_config cfg = {.embed_dim = 8, .num_heads = 2, .add_bias_kv = 1};
    cr_assert_eq(attn_params_create(1, &P), ATTN_OK);
    cr_assert_eq(attn_linear_init(&l, P, "fc.", 8, 3, 1), ATTN_OK);
    cr_assert_eq(attn_mha_init(&m, P, "attn.", &cfg), ATTN_OK);
    const char *names[] = {"fc.weight", "fc.bias", "attn.in_proj_weight", "attn.in_proj_bias",
                           "attn.bias_k", "attn.bias_v", "attn.out_proj.weight",
                           "attn.out_proj.bias"};
    cr_assert_eq(attn_params_count(P), 8);
    for (int i = 0; i < 8; i++) cr_expect_str_eq(attn_params_at(P, i)->name, names[i]);
    cr_expect_eq(attn_params_numel(P), 24 + 3 + 192 + 24 + 8 + 8 + 64 + 8);
    cr_expect_eq(attn_params_find(P, "attn.bias_k"), m.bias_k);
    cr_expect_null(attn_params_find(P, "nope"));
    cr_expect_null(attn_params_at(P, 8));
    cr_expect_eq(attn_params_find(P, "attn.bias_k")->shape[2], 8);
    /* duplicate names, bad shapes, too-long names */
    int64_t shape[2] = {2, 0};
    cr_expect_eq(attn_linear_init(&l, P, "fc.", 8, 3, 1), ATTN_E_ARG);
    cr_expect(strstr(attn_last_error(), "fc.weight") != NULL);
    cr_expect_eq(attn_params_add(P, "", "x", 2, shape, ATTN_INIT_ZEROS, 0, NULL), ATTN_E_SHAPE);
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    shape[1] = 1;
    cr_expect_eq(attn_params_add(P, "", longname, 2, shape, ATTN_INIT_ZEROS, 0, NULL), ATTN_E_ARG);
    cr_expect_eq(attn_params_add(P, "", "y", 5, shape, ATTN_INIT_ZEROS, 0, NULL), ATTN_E_ARG);
    attn_mha_config bad = {.embed_dim = 10, .num_heads = 3};
    cr_expect_eq(attn_mha_init(&m, P, "b.", &bad), ATTN_E_ARG);
    cr_expect_eq(attn_embedding_init(NULL, P, "", 3, 3, -1), ATTN_E_ARG);
    attn_embedding e;
    cr_expect_eq(attn_embedding_init(&e, P, "e.", 3, 3, 3), ATTN_E_ARG);
    attn_layernorm n;
    cr_expect_eq(attn_layernorm_init(&n, P, "n.", 3, 0.0f, 1), ATTN_E_ARG);
    cr_expect_gt(attn_nn_sizeof("attn_mha"), 0);
    cr_expect_eq(attn_nn_sizeof("attn_nothing"), 0);
    attn_params_free(P);
    attn_params_free(NULL);
}

Test(nn, tape_contracts)
{
    attn_params *P;
    attn_tape *t;
    attn_linear l;
    cr_assert_eq(attn_params_create(1, &P), ATTN_OK);
    cr_assert_eq(attn_linear_init(&l, P, "", 64, 64, 1), ATTN_OK);
    attn_tape_config cfg = {.arena_bytes = 4096, .num_threads = 2};
    cr_assert_eq(attn_tape_create(&cfg, &t), ATTN_OK);
    float x[32 * 64];
    for (int i = 0; i < 32 * 64; i++) x[i] = frand();
    int64_t shape[2] = {32, 64};
    float first[32 * 64];
    size_t cap_after_first = 0;
    for (int step = 0; step < 3; step++) {
        cr_assert_eq(attn_tape_reset(t), ATTN_OK);
        attn_var *xv, *h, *y;
        cr_assert_eq(attn_tape_input(t, x, 2, shape, 1, &xv), ATTN_OK);
        cr_assert_eq(attn_linear_forward(t, &l, xv, &h), ATTN_OK);
        cr_assert_eq(attn_op_gelu(t, h, 0, &h), ATTN_OK);
        cr_assert_eq(attn_linear_forward(t, &l, h, &y), ATTN_OK);
        cr_assert_eq(attn_tape_backward(t, y, NULL), ATTN_OK);
        /* a second backward on the same recording is refused */
        cr_expect_eq(attn_tape_backward(t, y, NULL), ATTN_E_STATE);
        if (step == 0) {
            memcpy(first, y->data, sizeof first);
        } else { /* bit-identical for a fixed thread count */
            cr_expect_eq(memcmp(first, y->data, sizeof first), 0);
        }
        if (step == 1) cap_after_first = attn_tape_arena_capacity(t);
        if (step == 2) cr_expect_eq(attn_tape_arena_capacity(t), cap_after_first);
        cr_expect_leq(attn_tape_arena_used(t), attn_tape_arena_capacity(t));
    }
    /* shape errors name what is wrong */
    attn_var *bad, *out;
    int64_t bshape[2] = {3, 5};
    cr_assert_eq(attn_tape_input(t, NULL, 2, bshape, 0, &bad), ATTN_OK);
    cr_expect_eq(attn_linear_forward(t, &l, bad, &out), ATTN_E_SHAPE);
    cr_expect(strstr(attn_last_error(), "in_features=64") != NULL);
    cr_expect_eq(attn_tape_input(t, NULL, 0, bshape, 0, &bad), ATTN_E_ARG);
    cr_expect_eq(attn_op_dropout(t, bad, 1.0f, &out), ATTN_E_ARG);
    attn_var *b4;
    int64_t four = 4, twelve[2] = {4, 4};
    cr_assert_eq(attn_tape_input(t, NULL, 1, &four, 0, &b4), ATTN_OK);
    cr_expect_eq(attn_op_add(t, bad, b4, &out), ATTN_E_SHAPE);
    cr_expect(strstr(attn_last_error(), "does not broadcast") != NULL);
    cr_expect_eq(attn_op_reshape(t, bad, 2, twelve, &out), ATTN_E_SHAPE);
    cr_expect_eq(attn_op_narrow(t, bad, 2, 0, 1, &out), ATTN_E_ARG);
    cr_expect_eq(attn_op_narrow(t, bad, -1, 0, 1, &out), ATTN_E_ARG);
    cr_expect_eq(attn_op_narrow(t, bad, 1, 4, 2, &out), ATTN_E_ARG);
    cr_expect(strstr(attn_last_error(), "outside dimension 1 of size 5") != NULL);
    cr_expect_eq(attn_op_narrow(t, bad, 0, -1, 2, &out), ATTN_E_ARG);
    cr_expect_eq(attn_op_narrow(t, bad, 1, 4, 1, &out), ATTN_OK);
    cr_expect(out->ndim == 2 && out->shape[0] == 3 && out->shape[1] == 1);
    /* backward from a variable that needs no gradient */
    cr_expect_eq(attn_tape_reset(t), ATTN_OK);
    cr_assert_eq(attn_tape_input(t, NULL, 2, bshape, 0, &bad), ATTN_OK);
    cr_assert_eq(attn_op_relu(t, bad, &out), ATTN_OK);
    cr_expect_eq(attn_tape_backward(t, out, NULL), ATTN_E_ARG);
    /* dropout is the identity outside training */
    attn_tape_set_training(t, 0);
    cr_assert_eq(attn_op_dropout(t, bad, 0.5f, &out), ATTN_OK);
    cr_expect_eq(out, bad);
    attn_tape_free(t);
    attn_tape_free(NULL);
    attn_params_free(P);
}

Test(nn, thread_counts_agree)
{
    attn_params *P;
    attn_encoder_layer enc;
    attn_transformer_config cfg = {.d_model = 16, .nhead = 4, .dim_feedforward = 32};
    cr_assert_eq(attn_params_create(3, &P), ATTN_OK);
    cr_assert_eq(attn_encoder_layer_init(&enc, P, "", &cfg), ATTN_OK);
    float x[6 * 3 * 16], y1[6 * 3 * 16];
    for (int i = 0; i < 6 * 3 * 16; i++) x[i] = frand();
    int64_t shape[3] = {6, 3, 16};
    for (int threads = 1; threads <= 2; threads++) {
        attn_tape *t;
        attn_tape_config tc = {.num_threads = threads};
        cr_assert_eq(attn_tape_create(&tc, &t), ATTN_OK);
        attn_var *xv, *y;
        cr_assert_eq(attn_tape_input(t, x, 3, shape, 0, &xv), ATTN_OK);
        cr_assert_eq(attn_encoder_layer_forward(t, &enc, xv, NULL, &y), ATTN_OK);
        if (threads == 1) memcpy(y1, y->data, sizeof y1);
        else
            for (int i = 0; i < 6 * 3 * 16; i++) cr_expect_float_eq(y->data[i], y1[i], 1e-5);
        attn_tape_free(t);
    }
    attn_params_free(P);
}

Test(nn, optimiser_errors_and_sgd_step)
{
    attn_params *P;
    attn_optim *o;
    attn_param *w;
    int64_t shape[1] = {3};
    cr_assert_eq(attn_params_create(1, &P), ATTN_OK);
    cr_assert_eq(attn_params_add(P, "", "w", 1, shape, ATTN_INIT_ONES, 0, &w), ATTN_OK);
    attn_optim_config bad = {.kind = ATTN_OPTIM_SGD, .nesterov = 1};
    cr_expect_eq(attn_optim_create(P, &bad, &o), ATTN_E_ARG);
    attn_optim_config cfg = {.kind = ATTN_OPTIM_SGD, .momentum = 0.5f};
    cr_assert_eq(attn_optim_create(P, &cfg, &o), ATTN_OK);
    for (int i = 0; i < 3; i++) w->grad[i] = (float)i;
    cr_assert_eq(attn_optim_step(o, 0.1f), ATTN_OK); /* buf = g; p -= 0.1 g */
    cr_assert_eq(attn_optim_step(o, 0.1f), ATTN_OK); /* buf = 1.5 g; p -= 0.15 g */
    for (int i = 0; i < 3; i++) cr_expect_float_eq(w->data[i], 1.0f - 0.25f * i, 1e-6);
    cr_expect_eq(attn_optim_steps(o), 2);
    float *mom, *v2;
    cr_assert_eq(attn_optim_state(o, 0, &mom, &v2), ATTN_OK);
    cr_expect_float_eq(mom[2], 3.0f, 1e-6); /* 0.5·2 + 2 */
    cr_expect_null(v2);
    cr_expect_eq(attn_optim_state(o, 1, &mom, &v2), ATTN_E_ARG);
    cr_expect_eq(attn_optim_set_steps(o, -1), ATTN_E_ARG);
    cr_expect_eq(attn_optim_step(o, -1.0f), ATTN_E_ARG);
    cr_expect_eq(attn_params_add(P, "", "late", 1, shape, ATTN_INIT_ZEROS, 0, NULL), ATTN_OK);
    cr_expect_eq(attn_optim_step(o, 0.1f), ATTN_E_STATE);
    float norm;
    cr_expect_eq(attn_clip_grad_norm(P, -1.0f, &norm), ATTN_E_ARG);
    cr_expect_eq(attn_clip_grad_norm(P, 1.0f, &norm), ATTN_OK);
    cr_expect_float_eq(norm, sqrtf(5.0f), 1e-6);
    cr_expect_float_eq(w->grad[2], 2.0f / sqrtf(5.0f), 1e-5);
    attn_optim_free(o);
    attn_optim_free(NULL);
    attn_params_free(P);
    attn_schedule s = {ATTN_SCHEDULE_INVSQRT, 1.0f, 4, 0, 0};
    cr_expect_float_eq(attn_schedule_lr(&s, 2), 0.5f, 1e-7);
    cr_expect_float_eq(attn_schedule_lr(&s, 16), 0.5f, 1e-7);
}

Test(nn, mha_errors)
{
    attn_params *P;
    attn_tape *t;
    attn_mha m;
    attn_mha_config cfg = {.embed_dim = 8, .num_heads = 2, .kdim = 4};
    cr_assert_eq(attn_params_create(1, &P), ATTN_OK);
    cr_assert_eq(attn_mha_init(&m, P, "", &cfg), ATTN_OK);
    cr_expect_not_null(attn_params_find(P, "k_proj_weight"));
    cr_expect_null(attn_params_find(P, "in_proj_weight"));
    cr_assert_eq(attn_tape_create(NULL, &t), ATTN_OK);
    attn_var *q, *k, *k2, *v, *vbad, *out, *w;
    int64_t qs[3] = {3, 2, 8}, ks[3] = {5, 2, 4}, k2s[3] = {5, 2, 8}, vs[3] = {5, 2, 8},
            vb[3] = {4, 2, 8};
    cr_assert_eq(attn_tape_input(t, NULL, 3, qs, 1, &q), ATTN_OK);
    cr_assert_eq(attn_tape_input(t, NULL, 3, ks, 1, &k), ATTN_OK);
    cr_assert_eq(attn_tape_input(t, NULL, 3, k2s, 1, &k2), ATTN_OK);
    cr_assert_eq(attn_tape_input(t, NULL, 3, vs, 1, &v), ATTN_OK);
    cr_assert_eq(attn_tape_input(t, NULL, 3, vb, 1, &vbad), ATTN_OK);
    cr_expect_eq(attn_mha_forward(t, &m, q, k, v, NULL, &out, NULL), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(attn_mha_forward(t, &m, q, k2, v, NULL, &out, NULL), ATTN_E_SHAPE);
    cr_expect(strstr(attn_last_error(), "kdim=4") != NULL);
    cr_expect_eq(attn_mha_forward(t, &m, q, k, vbad, NULL, &out, NULL), ATTN_E_SHAPE);
    attn_mha_args a = {.need_weights = 1};
    cr_expect_eq(attn_mha_forward(t, &m, q, k, v, &a, &out, NULL), ATTN_E_ARG);
    cr_expect_eq(attn_mha_forward(t, &m, q, k, v, &a, &out, &w), ATTN_OK);
    cr_expect_eq(w->ndim, 3);
    cr_expect_eq(w->shape[0], 2);
    cr_expect_eq(w->shape[2], 5);
    /* the averaged weights of each query row sum to 1 */
    for (int r = 0; r < 6; r++) {
        double s = 0;
        for (int j = 0; j < 5; j++) s += w->data[r * 5 + j];
        cr_expect_float_eq(s, 1.0, 1e-5);
    }
    attn_tape_free(t);
    attn_params_free(P);
}

/* ---- the vectorizable exponential behind cross-entropy (src/core/internal.h) --------------- */

#include "internal.h"

Test(nn, expf_relative_error)
{
    double worst = 0;
    float wx = 0;
    int64_t n = 0;
    /* every 997th float of [−87, 0) and of [0, 88], walking the magnitude bits */
    for (int neg = 0; neg < 2; neg++) {
        const float end = neg ? 87.0f : 88.0f;
        uint32_t top;
        memcpy(&top, &end, sizeof top);
        for (uint32_t mag = 0; mag <= top; mag += 997) {
            uint32_t b = mag | (neg ? 0x80000000u : 0);
            float x;
            memcpy(&x, &b, sizeof x);
            double r = exp((double)x), e = fabs((double)attn_expf(x) - r) / r;
            if (e > worst) worst = e, wx = x;
            n++;
        }
    }
    cr_expect_lt(worst, 2e-7, "attn_expf: relative error %.3g at %g", worst, (double)wx);
    cr_expect_gt(n, 1000000);
    cr_expect_eq(attn_expf(-1000.0f), attn_expf(-87.0f), "clamped below");
    cr_expect_eq(attn_expf(0.0f), 1.0f);
}

Test(nn, cross_entropy_nan_logits_give_nan)
{
    attn_tape *t;
    attn_tape_config cfg = {0, 1, 1};
    cr_assert_eq(attn_tape_create(&cfg, &t), ATTN_OK);
    float x[8] = {0.5f, -1.0f, 2.0f, 0.0f, 1.0f, NAN, 0.25f, 3.0f};
    int64_t shape[2] = {2, 4};
    attn_var *v, *loss;
    int32_t tg[2] = {1, 2};
    attn_ce_options ce = {-100, 0.1f};
    cr_assert_eq(attn_tape_input(t, x, 2, shape, 1, &v), ATTN_OK);
    cr_assert_eq(attn_op_cross_entropy(t, v, tg, &ce, &loss), ATTN_OK);
    cr_expect(isnan(loss->data[0]), "loss %g", (double)loss->data[0]);
    cr_assert_eq(attn_tape_backward(t, loss, NULL), ATTN_OK);
    cr_expect(isfinite(v->grad[0]) && isnan(v->grad[4]), "row 0 finite, row 1 NaN");
    attn_tape_free(t);
}

/* The exact GELU runs in float (vectorised); against the double formula x·Φ(x) and
 * Φ(x) + x·φ(x) on a dense grid over [−12, 12], both within a few float roundings. */
Test(nn, gelu_exact_accuracy)
{
    const int64_t n = 240001;
    float *x = malloc((size_t)n * sizeof *x), *ones = malloc((size_t)n * sizeof *ones);
    cr_assert(x && ones);
    for (int64_t i = 0; i < n; i++) x[i] = -12.0f + 24.0f * (float)i / (float)(n - 1), ones[i] = 1.0f;
    attn_tape *t;
    attn_tape_config tc = {.num_threads = 2};
    cr_assert_eq(attn_tape_create(&tc, &t), ATTN_OK);
    attn_var *xv, *y;
    cr_assert_eq(attn_tape_input(t, x, 1, &n, 1, &xv), ATTN_OK);
    cr_assert_eq(attn_op_gelu(t, xv, 0, &y), ATTN_OK);
    cr_assert_eq(attn_tape_backward(t, y, ones), ATTN_OK);
    double worst_y = 0, worst_d = 0;
    for (int64_t i = 0; i < n; i++) {
        const double v = x[i], cdf = 0.5 * erfc(-v * M_SQRT1_2);
        const double ry = v * cdf, rd = cdf + v * exp(-0.5 * v * v) / sqrt(2 * M_PI);
        const double scale = fabs(v) > 1 ? fabs(v) : 1;
        const double ey = fabs(y->data[i] - ry) / scale, ed = fabs(xv->grad[i] - rd) / scale;
        worst_y = ey > worst_y ? ey : worst_y, worst_d = ed > worst_d ? ed : worst_d;
    }
    fprintf(stderr, "gelu (float): max error %.2e (value), %.2e (derivative), relative to max(1, |x|)\n", worst_y,
            worst_d);
    cr_expect(worst_y < 3e-7, "value error %.3g", worst_y);
    cr_expect(worst_d < 5e-7, "derivative error %.3g", worst_d);
    free(x), free(ones);
    attn_tape_free(t);
}
