/* vit.c — a Vision Transformer, written once as its forward on a tape: patches cut outside the
 * tape, a linear patch embedding, a class token or mean pooling, learned or 2-D sinusoidal
 * positions, pre-norm encoder layers, a final LayerNorm and a linear head. */
#include "../nn/nn_internal.h"

#include <stdio.h>
#include <string.h>

void attn_vit_free(attn_vit *m)
{
    if (!m) return;
    attn_params_free(m->P);
    free(m->layers);
    free(m->pos_table);
    free(m);
}

static int check_cfg(const char *fn, const attn_vit_config *c)
{
    int bad = c->image_size < 1 || c->image_size > 4096 || c->channels < 1 || c->channels > 64 ||
              c->patch_size < 1 || c->patch_size > c->image_size ||
              c->image_size % c->patch_size || c->d_model < 1 || c->d_model > (1 << 16) ||
              c->nhead < 1 || c->d_model % c->nhead || c->num_layers < 1 || c->num_layers > 1000 ||
              c->dim_feedforward < 1 || c->dim_feedforward > (1 << 20) || c->num_classes < 2 ||
              c->num_classes > (1 << 20) || !(c->dropout >= 0 && c->dropout < 1) ||
              c->activation < ATTN_ACT_RELU || c->activation > ATTN_ACT_GELU_TANH ||
              (c->pooling != ATTN_POOL_MEAN && c->pooling != ATTN_POOL_FIRST) ||
              (c->pos != ATTN_VIT_POS_LEARNED && c->pos != ATTN_VIT_POS_SINCOS) ||
              (c->pos == ATTN_VIT_POS_SINCOS && c->d_model % 4);
    if (!bad) {
        int64_t grid = c->image_size / c->patch_size;
        bad = grid * grid > (1 << 16) || c->channels * c->patch_size * c->patch_size > (1 << 20);
    }
    if (bad)
        return attn_fail(ATTN_E_ARG,
                         "%s: invalid configuration (image %lld, channels %lld, patch %lld, d_model "
                         "%lld, nhead %lld, layers %lld, ff %lld, classes %lld, dropout %g, "
                         "activation %d, pooling %d, pos %d)",
                         fn, (long long)c->image_size, (long long)c->channels,
                         (long long)c->patch_size, (long long)c->d_model, (long long)c->nhead,
                         (long long)c->num_layers, (long long)c->dim_feedforward,
                         (long long)c->num_classes, (double)c->dropout, (int)c->activation,
                         (int)c->pooling, (int)c->pos);
    return ATTN_OK;
}

int attn_vit_posenc_2d(int64_t grid, int64_t d, float *out)
{
    static const char fn[] = "attn_vit_posenc_2d";
    ATTN_REQUIRE_NONNULL(fn, out);
    if (grid < 1 || grid > (1 << 8) || d < 4 || d % 4 || d > (1 << 16))
        return attn_fail(ATTN_E_ARG, "%s: grid=%lld, d=%lld (a multiple of 4)", fn, (long long)grid,
                         (long long)d);
    const int64_t K = d / 4;
    for (int64_t y = 0; y < grid; y++)
        for (int64_t x = 0; x < grid; x++) {
            float *row = out + (y * grid + x) * d;
            for (int64_t k = 0; k < K; k++) {
                double w = pow(10000.0, -(double)k / (double)K);
                row[k] = (float)sin((double)y * w);
                row[K + k] = (float)cos((double)y * w);
                row[2 * K + k] = (float)sin((double)x * w);
                row[3 * K + k] = (float)cos((double)x * w);
            }
        }
    return ATTN_OK;
}

int attn_vit_create(const attn_vit_config *cfg, uint64_t seed, attn_vit **out)
{
    static const char fn[] = "attn_vit_create";
    ATTN_REQUIRE_NONNULL(fn, cfg);
    ATTN_REQUIRE_NONNULL(fn, out);
    *out = NULL;
    ATTN_TRY(check_cfg(fn, cfg));
    const attn_vit_config *c = cfg;
    attn_vit *m = calloc(1, sizeof *m);
    if (!m) return attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    m->cfg = *cfg;
    m->grid = c->image_size / c->patch_size;
    const int cls = c->pooling == ATTN_POOL_FIRST;
    m->tokens = m->grid * m->grid + cls;
    const int64_t d = c->d_model, patch = c->channels * c->patch_size * c->patch_size;
    m->layers = calloc((size_t)c->num_layers, sizeof *m->layers);
    int st = m->layers ? attn_params_create(seed, &m->P) : attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    if (st == ATTN_OK) st = attn_linear_init(&m->patch_embed, m->P, "patch_embed.", patch, d, 1);
    /* ViT's initialisation of the tokens: N(0, 0.02²) */
    const int64_t cls_shape[3] = {1, 1, d}, pos_shape[3] = {1, m->tokens, d};
    if (st == ATTN_OK && cls)
        st = attn_params_add(m->P, "", "cls_token", 3, cls_shape, ATTN_INIT_NORMAL, 0.02f, &m->cls_token);
    if (st == ATTN_OK && c->pos == ATTN_VIT_POS_LEARNED)
        st = attn_params_add(m->P, "", "pos_embed", 3, pos_shape, ATTN_INIT_NORMAL, 0.02f, &m->pos_embed);
    if (st == ATTN_OK && c->pos == ATTN_VIT_POS_SINCOS) {
        /* the class token's row stays 0: it has no place on the grid */
        m->pos_table = calloc((size_t)(m->tokens * d), sizeof *m->pos_table);
        st = m->pos_table ? attn_vit_posenc_2d(m->grid, d, m->pos_table + cls * d)
                          : attn_fail(ATTN_E_NOMEM, "%s: out of memory", fn);
    }
    attn_transformer_config lc = {.d_model = d,
                                  .nhead = c->nhead,
                                  .dim_feedforward = c->dim_feedforward,
                                  .dropout = c->dropout,
                                  .activation = c->activation,
                                  .layer_norm_eps = 1e-5f,
                                  .batch_first = 1,
                                  .norm_first = 1};
    char name[ATTN_PARAM_NAME_MAX];
    for (int64_t i = 0; st == ATTN_OK && i < c->num_layers; i++) {
        snprintf(name, sizeof name, "layers.%lld.", (long long)i);
        st = attn_encoder_layer_init(&m->layers[i], m->P, name, &lc);
    }
    if (st == ATTN_OK) st = attn_layernorm_init(&m->norm, m->P, "norm.", d, 1e-5f, 1);
    if (st == ATTN_OK) st = attn_linear_init(&m->head, m->P, "head.", d, c->num_classes, 1);
    if (st != ATTN_OK) {
        attn_vit_free(m);
        return st;
    }
    for (int p = 0; p < attn_params_count(m->P); p++) {
        attn_param *q = attn_params_at(m->P, p);
        if (q->ndim == 1 || q == m->cls_token || q == m->pos_embed) q->no_weight_decay = 1;
    }
    *out = m;
    return ATTN_OK;
}

int attn_vit_patchify(const attn_vit_config *cfg, const float *images, int64_t N, float *patches)
{
    static const char fn[] = "attn_vit_patchify";
    ATTN_REQUIRE_NONNULL(fn, cfg);
    ATTN_REQUIRE_NONNULL(fn, images);
    ATTN_REQUIRE_NONNULL(fn, patches);
    ATTN_TRY(check_cfg(fn, cfg));
    const int64_t C = cfg->channels, S = cfg->image_size, P = cfg->patch_size, G = S / P;
    if (N < 1 || N > INT64_MAX / (C * S * S))
        return attn_fail(ATTN_E_ARG, "%s: N=%lld", fn, (long long)N);
    /* patches[n, gy·G + gx, (c·P + py)·P + px] = images[n, c, gy·P + py, gx·P + px] */
    for (int64_t n = 0; n < N; n++)
        for (int64_t gy = 0; gy < G; gy++)
            for (int64_t gx = 0; gx < G; gx++) {
                float *dst = patches + ((n * G + gy) * G + gx) * C * P * P;
                for (int64_t c = 0; c < C; c++)
                    for (int64_t py = 0; py < P; py++)
                        memcpy(dst + (c * P + py) * P,
                               images + ((n * C + c) * S + gy * P + py) * S + gx * P,
                               (size_t)P * sizeof *dst);
            }
    return ATTN_OK;
}

int attn_vit_forward(attn_tape *t, const attn_vit *m, const float *images, int64_t N,
                     attn_var **logits, attn_var **pooled)
{
    static const char fn[] = "attn_vit_forward";
    ATTN_REQUIRE_NONNULL(fn, t);
    ATTN_REQUIRE_NONNULL(fn, m);
    ATTN_REQUIRE_NONNULL(fn, images);
    ATTN_REQUIRE_NONNULL(fn, logits);
    const attn_vit_config *c = &m->cfg;
    const int64_t T = m->grid * m->grid, d = c->d_model;
    const int64_t patch = c->channels * c->patch_size * c->patch_size;
    if (N < 1 || N > (INT64_C(1) << 40) / (T * patch))
        return attn_fail(ATTN_E_ARG, "%s: N=%lld", fn, (long long)N);
    /* the patches are an input leaf without gradient: copied straight into the arena */
    int64_t pshape[3] = {N, T, patch};
    attn_var *x = NULL, *pos = NULL, *h = NULL;
    ATTN_TRY(attn_tape_var(t, 3, pshape, 0, &x));
    ATTN_TRY(attn_vit_patchify(c, images, N, x->data));
    ATTN_TRY(attn_linear_forward(t, &m->patch_embed, x, &x)); /* [N, T, d] */
    if (m->cls_token) {
        attn_var *cls, *parts[2];
        const int64_t shape[3] = {N, 1, d};
        ATTN_TRY(attn_tape_param(t, m->cls_token, &cls));
        ATTN_TRY(attn_op_expand(t, cls, 3, shape, &cls));
        parts[0] = cls, parts[1] = x;
        ATTN_TRY(attn_op_cat(t, 2, parts, 1, &x)); /* [N, 1 + T, d] */
    }
    if (m->pos_embed) {
        ATTN_TRY(attn_tape_param(t, m->pos_embed, &pos));
    } else {
        const int64_t shape[2] = {m->tokens, d};
        ATTN_TRY(attn_tape_input(t, m->pos_table, 2, shape, 0, &pos));
    }
    ATTN_TRY(attn_op_add(t, x, pos, &x));
    ATTN_TRY(attn_op_dropout(t, x, c->dropout, &x));
    for (int64_t i = 0; i < c->num_layers; i++)
        ATTN_TRY(attn_encoder_layer_forward(t, &m->layers[i], x, NULL, &x));
    ATTN_TRY(attn_layernorm_forward(t, &m->norm, x, &x));
    if (m->cls_token) {
        const int64_t shape[2] = {N, d};
        ATTN_TRY(attn_op_narrow(t, x, 1, 0, 1, &h));
        ATTN_TRY(attn_op_reshape(t, h, 2, shape, &h));
    } else {
        ATTN_TRY(attn_op_mean(t, x, 1, &h));
    }
    if (pooled) *pooled = h;
    ATTN_TRY(attn_op_dropout(t, h, c->dropout, &h));
    return attn_linear_forward(t, &m->head, h, logits);
}

/* ---- configuration as checkpoint metadata ---------------------------------------------------- */

static const attn_meta_field CONFIG_META[] = {
    ATTN_META_FIELD(attn_vit_config, image_size, ATTN_META_I64, 1, 4096),
    ATTN_META_FIELD(attn_vit_config, channels, ATTN_META_I64, 1, 64),
    ATTN_META_FIELD(attn_vit_config, patch_size, ATTN_META_I64, 1, 4096),
    ATTN_META_FIELD(attn_vit_config, d_model, ATTN_META_I64, 1, 1 << 16),
    ATTN_META_FIELD(attn_vit_config, nhead, ATTN_META_I64, 1, 1 << 16),
    ATTN_META_FIELD(attn_vit_config, num_layers, ATTN_META_I64, 1, 1000),
    ATTN_META_FIELD(attn_vit_config, dim_feedforward, ATTN_META_I64, 1, 1 << 20),
    ATTN_META_FIELD(attn_vit_config, num_classes, ATTN_META_I64, 2, 1 << 20),
    ATTN_META_FIELD(attn_vit_config, dropout, ATTN_META_F32, 0, 1),
    ATTN_META_FIELD(attn_vit_config, activation, ATTN_META_INT, 0, 2),
    ATTN_META_FIELD(attn_vit_config, pooling, ATTN_META_INT, 0, 1),
    ATTN_META_FIELD(attn_vit_config, pos, ATTN_META_INT, 0, 1),
};
enum { CONFIG_META_N = (int)(sizeof CONFIG_META / sizeof CONFIG_META[0]) };

int attn_vit_config_to_meta(const attn_vit_config *c, char *buf, size_t cap, const char **kv,
                            int kv_cap)
{
    return attn_meta_write("attn_vit_config_to_meta", c, CONFIG_META, CONFIG_META_N, buf, cap, kv,
                           kv_cap);
}

int attn_vit_config_from_reader(const attn_st_reader *st, attn_vit_config *c)
{
    ATTN_REQUIRE_NONNULL("attn_vit_config_from_reader", st);
    ATTN_REQUIRE_NONNULL("attn_vit_config_from_reader", c);
    ATTN_TRY(attn_meta_read(st, c, sizeof *c, CONFIG_META, CONFIG_META_N));
    return check_cfg("checkpoint", c);
}
