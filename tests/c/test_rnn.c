/* test_rnn.c — additive attention, positional encodings and the GRU: every backward against
 * central finite differences of a double-precision loss, and the error paths of every public
 * function. The Bahdanau decoder's tests are in test_rnn_decoder.c. */
#include "test_rnn_util.h"

/* ---------------------------------------------------------------- additive attention */

typedef struct add_case {
    int64_t B, Lq, Lk, Dq, Dk, Dv, A;
    float *q, *k, *val, *wq, *wk, *b, *v, *R, *out, *w;
    attn_tensor tq, tk, tv, tout, tw;
    attn_additive_params p;
    attn_additive_options opt;
    attn_bool_tensor mask;
    uint8_t maskbuf[64];
    int32_t lens[4];
} add_case;

static void add_setup(add_case *c)
{
    c->B = 2, c->Lq = 3, c->Lk = 4, c->Dq = 3, c->Dk = 2, c->Dv = 3, c->A = 5;
    c->q = rand_buf(c->B * c->Lq * c->Dq, 1), c->k = rand_buf(c->B * c->Lk * c->Dk, 1);
    c->val = rand_buf(c->B * c->Lk * c->Dv, 1);
    c->wq = rand_buf(c->A * c->Dq, 0.7f), c->wk = rand_buf(c->A * c->Dk, 0.7f);
    c->b = rand_buf(c->A, 0.5f), c->v = rand_buf(c->A, 1);
    c->R = rand_buf(c->B * c->Lq * c->Dv, 1);
    c->out = zeros(c->B * c->Lq * c->Dv), c->w = zeros(c->B * c->Lq * c->Lk);
    int64_t sq[3] = {c->B, c->Lq, c->Dq}, sk[3] = {c->B, c->Lk, c->Dk},
            sv[3] = {c->B, c->Lk, c->Dv}, so[3] = {c->B, c->Lq, c->Dv},
            sw[3] = {c->B, c->Lq, c->Lk};
    c->tq = attn_tensor_make(c->q, 3, sq), c->tk = attn_tensor_make(c->k, 3, sk);
    c->tv = attn_tensor_make(c->val, 3, sv), c->tout = attn_tensor_make(c->out, 3, so);
    c->tw = attn_tensor_make(c->w, 3, sw);
    c->p = (attn_additive_params){c->A, c->wq, c->wk, c->b, c->v};
    /* mask [B, Lq, Lk]; batch 0 row 1 attends nothing; batch 1 has 3 keys */
    for (int i = 0; i < 24; i++) c->maskbuf[i] = (i % 5) != 2;
    for (int j = 0; j < 4; j++) c->maskbuf[1 * 4 + j] = 0;
    c->mask = attn_bool_tensor_4d(c->maskbuf, 1, c->B, c->Lq, c->Lk);
    c->mask.ndim = 3;
    for (int d = 0; d < 3; d++) c->mask.shape[d] = c->mask.shape[d + 1], c->mask.stride[d] = c->mask.stride[d + 1];
    c->lens[0] = 4, c->lens[1] = 3;
    c->opt = (attn_additive_options){&c->mask, c->lens, 1};
}

static void add_teardown(add_case *c)
{
    float *bufs[] = {c->q, c->k, c->val, c->wq, c->wk, c->b, c->v, c->R, c->out, c->w};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
}

static double add_loss(void *ctx)
{
    add_case *c = ctx;
    cr_assert_eq(attn_additive_forward(&c->tq, &c->tk, &c->tv, &c->p, &c->opt, &c->tout, NULL, NULL),
                 ATTN_OK, "%s", attn_last_error());
    return dot(c->out, c->R, c->B * c->Lq * c->Dv);
}

Test(rnn, additive_gradients_match_finite_differences)
{
    add_case c;
    add_setup(&c);
    attn_additive_cache *cache;
    cr_assert_eq(attn_additive_cache_create(c.B, c.Lq, c.Lk, c.A, &cache), ATTN_OK);
    cr_assert_eq(attn_additive_forward(&c.tq, &c.tk, &c.tv, &c.p, &c.opt, &c.tout, &c.tw, cache),
                 ATTN_OK, "%s", attn_last_error());
    /* the empty row: weights and output 0; weights rows sum to 1 elsewhere */
    for (int64_t b = 0; b < c.B; b++)
        for (int64_t i = 0; i < c.Lq; i++) {
            double s = 0;
            for (int64_t j = 0; j < c.Lk; j++) s += c.w[(b * c.Lq + i) * c.Lk + j];
            cr_expect(fabs(s - ((b == 0 && i == 1) ? 0.0 : 1.0)) < 1e-6, "row sum %f", s);
        }
    for (int64_t e = 0; e < c.Dv; e++) cr_expect_eq(c.out[(0 * c.Lq + 1) * c.Dv + e], 0.0f);
    for (int64_t i = 0; i < c.Lq; i++) cr_expect_eq(c.w[(1 * c.Lq + i) * c.Lk + 3], 0.0f);
    float *dq = zeros(c.B * c.Lq * c.Dq), *dk = zeros(c.B * c.Lk * c.Dk),
          *dv = zeros(c.B * c.Lk * c.Dv);
    float *gwq = zeros(c.A * c.Dq), *gwk = zeros(c.A * c.Dk), *gb = zeros(c.A), *gv = zeros(c.A);
    attn_tensor tdq = c.tq, tdk = c.tk, tdv = c.tv, tR = c.tout;
    tdq.data = dq, tdk.data = dk, tdv.data = dv, tR.data = c.R;
    attn_additive_params g = {c.A, gwq, gwk, gb, gv};
    cr_assert_eq(attn_additive_backward(&c.tq, &c.tk, &c.tv, &c.p, &c.opt, cache, &tR, &tdq, &tdk,
                                        &tdv, &g), ATTN_OK, "%s", attn_last_error());
    for (int64_t e = 0; e < c.Dq; e++) cr_expect_eq(dq[(0 * c.Lq + 1) * c.Dq + e], 0.0f);
    EXPECT_FD("additive dq", add_loss, &c, c.q, c.B * c.Lq * c.Dq, dq);
    EXPECT_FD("additive dk", add_loss, &c, c.k, c.B * c.Lk * c.Dk, dk);
    EXPECT_FD("additive dvalues", add_loss, &c, c.val, c.B * c.Lk * c.Dv, dv);
    EXPECT_FD("additive dW_q", add_loss, &c, c.wq, c.A * c.Dq, gwq);
    EXPECT_FD("additive dW_k", add_loss, &c, c.wk, c.A * c.Dk, gwk);
    EXPECT_FD("additive db", add_loss, &c, c.b, c.A, gb);
    EXPECT_FD("additive dv", add_loss, &c, c.v, c.A, gv);
    /* parameter gradients accumulate: a second backward doubles them */
    float gv0 = gv[0];
    cr_assert_eq(attn_additive_backward(&c.tq, &c.tk, &c.tv, &c.p, &c.opt, cache, &tR, NULL, NULL,
                                        NULL, &g), ATTN_OK);
    cr_expect(fabsf(gv[0] - 2 * gv0) <= 1e-6f * fabsf(gv0) + 1e-7f);
    float *bufs[] = {dq, dk, dv, gwq, gwk, gb, gv};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    attn_additive_cache_free(cache);
    add_teardown(&c);
}

Test(rnn, additive_error_paths)
{
    add_case c;
    add_setup(&c);
    static const char fc[] = "attn_additive_cache_create", ff[] = "attn_additive_forward",
                      fb[] = "attn_additive_backward";
    attn_additive_cache *cache = NULL;
    EXPECT_ERR(attn_additive_cache_create(2, 3, 4, 5, NULL), ATTN_E_ARG, fc);
    EXPECT_ERR(attn_additive_cache_create(0, 3, 4, 5, &cache), ATTN_E_ARG, fc);
    EXPECT_ERR(attn_additive_cache_create(INT64_MAX / 2, 4, 4, 4, &cache), ATTN_E_OVERFLOW, fc);
    cr_expect_null(cache);
    attn_additive_cache_free(NULL);
    EXPECT_ERR(attn_additive_forward(NULL, &c.tk, &c.tv, &c.p, NULL, &c.tout, NULL, NULL), ATTN_E_ARG, ff);
    EXPECT_ERR(attn_additive_forward(&c.tq, &c.tk, &c.tv, NULL, NULL, &c.tout, NULL, NULL), ATTN_E_ARG, ff);
    attn_additive_params bad = c.p;
    bad.v = NULL;
    EXPECT_ERR(attn_additive_forward(&c.tq, &c.tk, &c.tv, &bad, NULL, &c.tout, NULL, NULL), ATTN_E_ARG, ff);
    bad = c.p, bad.A = 0;
    EXPECT_ERR(attn_additive_forward(&c.tq, &c.tk, &c.tv, &bad, NULL, &c.tout, NULL, NULL), ATTN_E_ARG, ff);
    attn_tensor t = c.tv;
    t.shape[1] = 3; /* values with the wrong number of keys */
    EXPECT_ERR(attn_additive_forward(&c.tq, &c.tk, &t, &c.p, NULL, &c.tout, NULL, NULL), ATTN_E_SHAPE, ff);
    t = c.tout, t.shape[2] = 2;
    EXPECT_ERR(attn_additive_forward(&c.tq, &c.tk, &c.tv, &c.p, NULL, &t, NULL, NULL), ATTN_E_SHAPE, ff);
    t = c.tk, t.shape[0] = 1;
    EXPECT_ERR(attn_additive_forward(&c.tq, &t, &c.tv, &c.p, NULL, &c.tout, NULL, NULL), ATTN_E_SHAPE, ff);
    t = c.tq, t.ndim = 4;
    EXPECT_ERR(attn_additive_forward(&t, &c.tk, &c.tv, &c.p, NULL, &c.tout, NULL, NULL), ATTN_E_SHAPE, ff);
    t = c.tq, t.shape[0] = INT64_MAX / 4, t.stride[0] = 1024;
    EXPECT_ERR(attn_additive_forward(&t, &c.tk, &c.tv, &c.p, NULL, &c.tout, NULL, NULL), ATTN_E_OVERFLOW, ff);
    attn_additive_options o = c.opt;
    attn_bool_tensor m = c.mask;
    m.shape[1] = 2;
    o.mask = &m;
    EXPECT_ERR(attn_additive_forward(&c.tq, &c.tk, &c.tv, &c.p, &o, &c.tout, NULL, NULL), ATTN_E_SHAPE, ff);
    o = c.opt, o.num_threads = -1;
    EXPECT_ERR(attn_additive_forward(&c.tq, &c.tk, &c.tv, &c.p, &o, &c.tout, NULL, NULL), ATTN_E_ARG, ff);
    /* cache of other sizes; backward before forward; backward without cache */
    cr_assert_eq(attn_additive_cache_create(c.B, c.Lq, c.Lk + 1, c.A, &cache), ATTN_OK);
    EXPECT_ERR(attn_additive_forward(&c.tq, &c.tk, &c.tv, &c.p, NULL, &c.tout, NULL, cache), ATTN_E_SHAPE, ff);
    attn_additive_cache_free(cache);
    cr_assert_eq(attn_additive_cache_create(c.B, c.Lq, c.Lk, c.A, &cache), ATTN_OK);
    attn_tensor tR = c.tout;
    tR.data = c.R;
    EXPECT_ERR(attn_additive_backward(&c.tq, &c.tk, &c.tv, &c.p, NULL, cache, &tR, NULL, NULL, NULL, NULL),
               ATTN_E_STATE, fb);
    EXPECT_ERR(attn_additive_backward(&c.tq, &c.tk, &c.tv, &c.p, NULL, NULL, &tR, NULL, NULL, NULL, NULL),
               ATTN_E_ARG, fb);
    cr_assert_eq(attn_additive_forward(&c.tq, &c.tk, &c.tv, &c.p, NULL, &c.tout, NULL, cache), ATTN_OK);
    t = tR, t.shape[2] = 1;
    EXPECT_ERR(attn_additive_backward(&c.tq, &c.tk, &c.tv, &c.p, NULL, cache, &t, NULL, NULL, NULL, NULL),
               ATTN_E_SHAPE, fb);
    attn_additive_params g = {c.A + 1, NULL, NULL, NULL, NULL};
    EXPECT_ERR(attn_additive_backward(&c.tq, &c.tk, &c.tv, &c.p, NULL, cache, &tR, NULL, NULL, NULL, &g),
               ATTN_E_SHAPE, fb);
    attn_additive_cache_free(cache);
    add_teardown(&c);
}

/* ---------------------------------------------------------------- positional encodings */

Test(rnn, sinusoidal_values_and_errors)
{
    float pe[5 * 7];
    cr_assert_eq(attn_posenc_sinusoidal(pe, 5, 7, 2, 0), ATTN_OK);
    for (int r = 0; r < 5; r++)
        for (int c = 0; c < 7; c++) {
            double ang = (r + 2) / pow(10000.0, (double)(c - c % 2) / 7);
            cr_expect(fabs(pe[r * 7 + c] - (c % 2 ? cos(ang) : sin(ang))) < 1e-6);
        }
    static const char fn[] = "attn_posenc_sinusoidal";
    EXPECT_ERR(attn_posenc_sinusoidal(NULL, 5, 7, 0, 0), ATTN_E_ARG, fn);
    EXPECT_ERR(attn_posenc_sinusoidal(pe, 0, 7, 0, 0), ATTN_E_ARG, fn);
    EXPECT_ERR(attn_posenc_sinusoidal(pe, 5, 7, -1, 0), ATTN_E_ARG, fn);
    EXPECT_ERR(attn_posenc_sinusoidal(pe, 5, 7, 0, 0.5f), ATTN_E_ARG, fn);
    EXPECT_ERR(attn_posenc_sinusoidal(pe, INT64_MAX / 2, 7, 0, 0), ATTN_E_OVERFLOW, fn);
    float s[12];
    cr_assert_eq(attn_alibi_slopes(s, 8), ATTN_OK);
    for (int h = 0; h < 8; h++) cr_expect(fabsf(s[h] - powf(2.0f, -(float)(h + 1))) < 1e-7f);
    cr_assert_eq(attn_alibi_slopes(s, 12), ATTN_OK); /* 8 of 8 heads, then 1st, 3rd, .. of 16 */
    for (int m = 0; m < 4; m++) cr_expect(fabsf(s[8 + m] - powf(2.0f, -0.5f * (2 * m + 1))) < 1e-7f);
    EXPECT_ERR(attn_alibi_slopes(NULL, 8), ATTN_E_ARG, "attn_alibi_slopes");
    EXPECT_ERR(attn_alibi_slopes(s, 0), ATTN_E_ARG, "attn_alibi_slopes");
}

typedef struct pe_case {
    attn_tensor x, y;
    float *R, *table;
    int64_t n, max_len, offset;
    attn_rope_options opt;
    int rope;
} pe_case;

static double pe_loss(void *ctx)
{
    pe_case *c = ctx;
    int st = c->rope ? attn_rope_forward(&c->x, &c->opt, &c->y)
                     : attn_posenc_learned_forward(&c->x, c->table, c->max_len, c->offset, &c->y);
    cr_assert_eq(st, ATTN_OK, "%s", attn_last_error());
    return dot(c->y.data, c->R, c->n);
}

Test(rnn, rope_gradients_match_finite_differences)
{
    /* x stored [B, L, H, E] and seen as [B, H, L, E]; partial rotary on 6 of 8 features */
    const int64_t B = 2, L = 3, H = 2, E = 8, n = B * L * H * E;
    for (int pairing = 0; pairing < 2; pairing++) {
        pe_case c = {0};
        float *x = rand_buf(n, 1), *y = zeros(n), *dx = zeros(n);
        c.R = rand_buf(n, 1);
        c.x = attn_tensor_blhe(x, B, L, H, E), c.y = attn_tensor_4d(y, B, H, L, E);
        c.n = n, c.rope = 1;
        int32_t bo[2] = {0, 5};
        c.opt = (attn_rope_options){(attn_rope_pairing)pairing, 0, 3, bo, 6, 1};
        attn_tensor tR = attn_tensor_4d(c.R, B, H, L, E), tdx = attn_tensor_blhe(dx, B, L, H, E);
        cr_assert_eq(attn_rope_backward(&tR, &c.opt, &tdx), ATTN_OK, "%s", attn_last_error());
        EXPECT_FD(pairing ? "rope interleaved dx" : "rope half dx", pe_loss, &c, x, n, dx);
        /* in place, then the inverse restores the input */
        float *x2 = malloc((size_t)n * sizeof *x2);
        memcpy(x2, x, (size_t)n * sizeof *x2);
        attn_tensor t2 = attn_tensor_blhe(x2, B, L, H, E);
        cr_assert_eq(attn_rope_forward(&t2, &c.opt, &t2), ATTN_OK);
        cr_assert_eq(attn_rope_backward(&t2, &c.opt, &t2), ATTN_OK);
        for (int64_t i = 0; i < n; i++) cr_expect(fabsf(x2[i] - x[i]) < 1e-5f);
        /* features past rotary_dim pass through */
        cr_expect_eq(y[6], x[6]);
        free(x), free(y), free(dx), free(x2), free(c.R);
    }
}

Test(rnn, rope_error_paths)
{
    float buf[2 * 2 * 3 * 4];
    attn_tensor x = attn_tensor_4d(buf, 2, 2, 3, 4), y = x;
    static const char fn[] = "attn_rope_forward";
    attn_rope_options o = {0};
    EXPECT_ERR(attn_rope_forward(NULL, &o, &y), ATTN_E_ARG, fn);
    EXPECT_ERR(attn_rope_forward(&x, &o, NULL), ATTN_E_ARG, fn);
    attn_tensor z = y;
    z.shape[3] = 2;
    EXPECT_ERR(attn_rope_forward(&x, &o, &z), ATTN_E_SHAPE, fn);
    o.rotary_dim = 3;
    EXPECT_ERR(attn_rope_forward(&x, &o, &y), ATTN_E_ARG, fn);
    o.rotary_dim = 6;
    EXPECT_ERR(attn_rope_forward(&x, &o, &y), ATTN_E_ARG, fn);
    o.rotary_dim = 0, o.pairing = (attn_rope_pairing)7;
    EXPECT_ERR(attn_rope_forward(&x, &o, &y), ATTN_E_ARG, fn);
    o.pairing = ATTN_ROPE_HALF, o.offset = -1;
    EXPECT_ERR(attn_rope_backward(&x, &o, &y), ATTN_E_ARG, "attn_rope_backward");
    o.offset = INT64_MAX - 2;
    EXPECT_ERR(attn_rope_forward(&x, &o, &y), ATTN_E_OVERFLOW, fn);
    o.offset = 0, o.base = -3;
    EXPECT_ERR(attn_rope_forward(&x, &o, &y), ATTN_E_ARG, fn);
    int32_t bo[2] = {0, -1};
    o.base = 0, o.batch_offsets = bo;
    EXPECT_ERR(attn_rope_forward(&x, &o, &y), ATTN_E_ARG, fn);
}

Test(rnn, learned_positions_gradients_and_errors)
{
    const int64_t B = 2, L = 3, D = 4, max_len = 6, n = B * L * D;
    pe_case c = {0};
    float *x = rand_buf(n, 1), *y = zeros(n), *dx = zeros(n);
    c.table = rand_buf(max_len * D, 1), c.R = rand_buf(n, 1);
    int64_t shape[3] = {B, L, D};
    c.x = attn_tensor_make(x, 3, shape), c.y = attn_tensor_make(y, 3, shape);
    c.n = n, c.max_len = max_len, c.offset = 2;
    float *dtable = zeros(max_len * D);
    attn_tensor tR = attn_tensor_make(c.R, 3, shape), tdx = attn_tensor_make(dx, 3, shape);
    cr_assert_eq(attn_posenc_learned_backward(&tR, max_len, 2, &tdx, dtable), ATTN_OK);
    EXPECT_FD("learned dx", pe_loss, &c, x, n, dx);
    EXPECT_FD("learned dtable", pe_loss, &c, c.table, max_len * D, dtable);
    for (int64_t e = 0; e < 2 * D; e++) cr_expect_eq(dtable[e], 0.0f); /* rows 0, 1 unused */
    static const char ff[] = "attn_posenc_learned_forward", fb[] = "attn_posenc_learned_backward";
    EXPECT_ERR(attn_posenc_learned_forward(&c.x, c.table, max_len, 4, &c.y), ATTN_E_SHAPE, ff);
    EXPECT_ERR(attn_posenc_learned_forward(&c.x, NULL, max_len, 0, &c.y), ATTN_E_ARG, ff);
    EXPECT_ERR(attn_posenc_learned_forward(&c.x, c.table, max_len, -1, &c.y), ATTN_E_ARG, ff);
    EXPECT_ERR(attn_posenc_learned_forward(&c.x, c.table, INT64_MAX / 2, 0, &c.y), ATTN_E_OVERFLOW, ff);
    attn_tensor bad = c.y;
    bad.shape[2] = 3;
    EXPECT_ERR(attn_posenc_learned_forward(&c.x, c.table, max_len, 0, &bad), ATTN_E_SHAPE, ff);
    EXPECT_ERR(attn_posenc_learned_backward(NULL, max_len, 0, &tdx, dtable), ATTN_E_ARG, fb);
    EXPECT_ERR(attn_posenc_learned_backward(&tR, max_len, 0, &bad, dtable), ATTN_E_SHAPE, fb);
    free(x), free(y), free(dx), free(c.table), free(c.R), free(dtable);
}

/* ---------------------------------------------------------------- GRU */

/* Pointers to each tensor of a flat parameter array, in attn_gru_param_info order. */
static int gru_table(const attn_gru_config *cfg, float *flat, float **tab)
{
    int n;
    cr_assert_eq(attn_gru_num_params(cfg, &n, NULL), ATTN_OK);
    for (int i = 0; i < n; i++) {
        attn_gru_tensor_info info;
        cr_assert_eq(attn_gru_param_info(cfg, i, &info), ATTN_OK);
        tab[i] = flat + info.offset;
    }
    return n;
}

typedef struct gru_case {
    float *ptab[32];
    attn_gru_config cfg;
    int64_t L, B, nparams, ny, nh;
    float *params, *x, *h0, *y, *hn, *Ry, *Rh;
    int32_t lens[3];
    attn_tensor tx, th0, ty, thn;
} gru_case;

static void gru_setup(gru_case *c, int batch_first)
{
    c->cfg = (attn_gru_config){3, 3, 2, 1, batch_first, 0, 1};
    c->L = 4, c->B = 3;
    cr_assert_eq(attn_gru_num_params(&c->cfg, NULL, &c->nparams), ATTN_OK);
    c->params = rand_buf(c->nparams, 0.6f);
    gru_table(&c->cfg, c->params, c->ptab);
    const int64_t H = 3, D = 2, In = 3;
    c->x = rand_buf(c->L * c->B * In, 1);
    c->h0 = rand_buf(2 * D * c->B * H, 1);
    c->ny = c->L * c->B * D * H, c->nh = 2 * D * c->B * H;
    c->y = zeros(c->ny), c->hn = zeros(c->nh), c->Ry = rand_buf(c->ny, 1), c->Rh = rand_buf(c->nh, 1);
    c->lens[0] = 4, c->lens[1] = 1, c->lens[2] = 3;
    int64_t sx[3] = {c->L, c->B, In}, sy[3] = {c->L, c->B, D * H}, sh[3] = {2 * D, c->B, H};
    if (batch_first) sx[0] = sy[0] = c->B, sx[1] = sy[1] = c->L;
    c->tx = attn_tensor_make(c->x, 3, sx), c->ty = attn_tensor_make(c->y, 3, sy);
    c->th0 = attn_tensor_make(c->h0, 3, sh), c->thn = attn_tensor_make(c->hn, 3, sh);
}

static void gru_teardown(gru_case *c)
{
    float *bufs[] = {c->params, c->x, c->h0, c->y, c->hn, c->Ry, c->Rh};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
}

static double gru_loss(void *ctx)
{
    gru_case *c = ctx;
    cr_assert_eq(attn_gru_forward(&c->cfg, (const float *const *)c->ptab, &c->tx, &c->th0, c->lens, &c->ty, &c->thn, NULL),
                 ATTN_OK, "%s", attn_last_error());
    return dot(c->y, c->Ry, c->ny) + dot(c->hn, c->Rh, c->nh);
}

static void gru_fd(int batch_first)
{
    gru_case c;
    gru_setup(&c, batch_first);
    attn_gru_cache *cache;
    cr_assert_eq(attn_gru_cache_create(&c.cfg, c.L, c.B, &cache), ATTN_OK);
    cr_assert_eq(attn_gru_forward(&c.cfg, (const float *const *)c.ptab, &c.tx, &c.th0, c.lens, &c.ty, &c.thn, cache),
                 ATTN_OK, "%s", attn_last_error());
    /* padding steps of y are zero (row 1 has one step) */
    for (int64_t t = 1; t < c.L; t++)
        for (int64_t u = 0; u < 6; u++) {
            int64_t i = batch_first ? (1 * c.L + t) * 6 + u : (t * c.B + 1) * 6 + u;
            cr_expect_eq(c.y[i], 0.0f);
        }
    float *dx = zeros(c.L * c.B * 3), *dh0 = zeros(c.nh), *dp = zeros(c.nparams);
    attn_tensor tdy = c.ty, tdhn = c.thn, tdx = c.tx, tdh0 = c.th0;
    tdy.data = c.Ry, tdhn.data = c.Rh, tdx.data = dx, tdh0.data = dh0;
    float *gtab[32];
    gru_table(&c.cfg, dp, gtab);
    cr_assert_eq(attn_gru_backward(&c.cfg, (const float *const *)c.ptab, cache, &tdy, &tdhn, &tdx,
                                   &tdh0, gtab), ATTN_OK,
                 "%s", attn_last_error());
    EXPECT_FD(batch_first ? "gru(bf) dx" : "gru dx", gru_loss, &c, c.x, c.L * c.B * 3, dx);
    EXPECT_FD(batch_first ? "gru(bf) dh0" : "gru dh0", gru_loss, &c, c.h0, c.nh, dh0);
    EXPECT_FD(batch_first ? "gru(bf) dparams" : "gru dparams", gru_loss, &c, c.params, c.nparams, dp);
    free(dx), free(dh0), free(dp);
    attn_gru_cache_free(cache);
    gru_teardown(&c);
}

Test(rnn, gru_gradients_match_finite_differences) { gru_fd(0); }
Test(rnn, gru_batch_first_gradients_match_finite_differences) { gru_fd(1); }

Test(rnn, gru_param_table)
{
    attn_gru_config cfg = {5, 4, 2, 1, 0, 0, 0};
    int n;
    int64_t total;
    cr_assert_eq(attn_gru_num_params(&cfg, &n, &total), ATTN_OK);
    cr_expect_eq(n, 16);
    cr_expect_eq(total, 2 * (12 * 5 + 12 * 4 + 24) + 2 * (12 * 8 + 12 * 4 + 24));
    attn_gru_tensor_info info;
    cr_assert_eq(attn_gru_param_info(&cfg, 5, &info), ATTN_OK);
    cr_expect_str_eq(info.name, "weight_hh_l0_reverse");
    cr_expect_eq(info.shape[0], 12);
    cr_expect_eq(info.shape[1], 4);
    cr_assert_eq(attn_gru_param_info(&cfg, 8, &info), ATTN_OK);
    cr_expect_str_eq(info.name, "weight_ih_l1");
    cr_expect_eq(info.shape[1], 8);
    cr_assert_eq(attn_gru_param_info(&cfg, 15, &info), ATTN_OK);
    cr_expect_str_eq(info.name, "bias_hh_l1_reverse");
    cr_expect_eq(info.offset + info.numel, total);
    cfg.no_bias = 1;
    cr_assert_eq(attn_gru_num_params(&cfg, &n, NULL), ATTN_OK);
    cr_expect_eq(n, 8);
    static const char fi[] = "attn_gru_param_info", fnp[] = "attn_gru_num_params";
    EXPECT_ERR(attn_gru_param_info(&cfg, 8, &info), ATTN_E_ARG, fi);
    EXPECT_ERR(attn_gru_param_info(&cfg, 0, NULL), ATTN_E_ARG, fi);
    EXPECT_ERR(attn_gru_num_params(NULL, &n, NULL), ATTN_E_ARG, fnp);
    cfg.num_layers = 0;
    EXPECT_ERR(attn_gru_num_params(&cfg, &n, NULL), ATTN_E_ARG, fnp);
    cfg.num_layers = 1, cfg.hidden_size = INT64_MAX / 4;
    EXPECT_ERR(attn_gru_num_params(&cfg, &n, NULL), ATTN_E_OVERFLOW, fnp);
}

Test(rnn, gru_error_paths)
{
    gru_case c;
    gru_setup(&c, 0);
    static const char fc[] = "attn_gru_cache_create", ff[] = "attn_gru_forward",
                      fb[] = "attn_gru_backward";
    attn_gru_cache *cache = NULL;
    EXPECT_ERR(attn_gru_cache_create(&c.cfg, 4, 3, NULL), ATTN_E_ARG, fc);
    EXPECT_ERR(attn_gru_cache_create(&c.cfg, 0, 3, &cache), ATTN_E_ARG, fc);
    EXPECT_ERR(attn_gru_cache_create(&c.cfg, INT64_MAX / 2, 3, &cache), ATTN_E_OVERFLOW, fc);
    attn_gru_cache_free(NULL);
    EXPECT_ERR(attn_gru_forward(&c.cfg, NULL, &c.tx, NULL, NULL, &c.ty, NULL, NULL), ATTN_E_ARG, ff);
    float *keep = c.ptab[5];
    c.ptab[5] = NULL; /* one tensor missing */
    EXPECT_ERR(attn_gru_forward(&c.cfg, (const float *const *)c.ptab, &c.tx, NULL, NULL, &c.ty, NULL, NULL),
               ATTN_E_ARG, ff);
    c.ptab[5] = keep;
    EXPECT_ERR(attn_gru_forward(&c.cfg, (const float *const *)c.ptab, NULL, NULL, NULL, &c.ty, NULL, NULL), ATTN_E_ARG, ff);
    attn_tensor t = c.tx;
    t.shape[2] = 2;
    EXPECT_ERR(attn_gru_forward(&c.cfg, (const float *const *)c.ptab, &t, NULL, NULL, &c.ty, NULL, NULL), ATTN_E_SHAPE, ff);
    t = c.ty, t.shape[2] = 3;
    EXPECT_ERR(attn_gru_forward(&c.cfg, (const float *const *)c.ptab, &c.tx, NULL, NULL, &t, NULL, NULL), ATTN_E_SHAPE, ff);
    t = c.th0, t.shape[0] = 2;
    EXPECT_ERR(attn_gru_forward(&c.cfg, (const float *const *)c.ptab, &c.tx, &t, NULL, &c.ty, NULL, NULL), ATTN_E_SHAPE, ff);
    int32_t bad_lens[3] = {4, 5, 1};
    EXPECT_ERR(attn_gru_forward(&c.cfg, (const float *const *)c.ptab, &c.tx, NULL, bad_lens, &c.ty, NULL, NULL), ATTN_E_ARG, ff);
    attn_gru_config cfg = c.cfg;
    cfg.num_threads = -2;
    EXPECT_ERR(attn_gru_forward(&cfg, (const float *const *)c.ptab, &c.tx, NULL, NULL, &c.ty, NULL, NULL), ATTN_E_ARG, ff);
    /* a cache of other sizes; backward before a forward */
    cr_assert_eq(attn_gru_cache_create(&c.cfg, 2, 3, &cache), ATTN_OK);
    EXPECT_ERR(attn_gru_forward(&c.cfg, (const float *const *)c.ptab, &c.tx, NULL, NULL, &c.ty, NULL, cache), ATTN_E_SHAPE, ff);
    EXPECT_ERR(attn_gru_backward(&c.cfg, (const float *const *)c.ptab, cache, NULL, NULL, NULL, NULL, NULL), ATTN_E_STATE, fb);
    attn_gru_cache_free(cache);
    cr_assert_eq(attn_gru_cache_create(&c.cfg, 4, 3, &cache), ATTN_OK);
    cr_assert_eq(attn_gru_forward(&c.cfg, (const float *const *)c.ptab, &c.tx, NULL, NULL, &c.ty, NULL, cache), ATTN_OK);
    EXPECT_ERR(attn_gru_backward(&c.cfg, (const float *const *)c.ptab, NULL, NULL, NULL, NULL, NULL, NULL), ATTN_E_ARG, fb);
    t = c.ty, t.shape[0] = 3;
    EXPECT_ERR(attn_gru_backward(&c.cfg, (const float *const *)c.ptab, cache, &t, NULL, NULL, NULL, NULL), ATTN_E_SHAPE, fb);
    cfg = c.cfg, cfg.hidden_size = 4;
    EXPECT_ERR(attn_gru_backward(&cfg, (const float *const *)c.ptab, cache, NULL, NULL, NULL, NULL, NULL), ATTN_E_SHAPE, fb);
    attn_gru_cache_free(cache);
    gru_teardown(&c);
}

/* Results do not depend on the thread count: bit-identical for 1 and 3 threads. */
Test(rnn, thread_count_does_not_change_results)
{
    add_case c;
    add_setup(&c);
    float *o1 = zeros(c.B * c.Lq * c.Dv), *dq1 = zeros(c.B * c.Lq * c.Dq), *gv1 = zeros(c.A);
    float *o3 = zeros(c.B * c.Lq * c.Dv), *dq3 = zeros(c.B * c.Lq * c.Dq), *gv3 = zeros(c.A);
    float *outs[2] = {o1, o3}, *dqs[2] = {dq1, dq3}, *gvs[2] = {gv1, gv3};
    int threads[2] = {1, 3};
    for (int r = 0; r < 2; r++) {
        attn_additive_cache *cache;
        cr_assert_eq(attn_additive_cache_create(c.B, c.Lq, c.Lk, c.A, &cache), ATTN_OK);
        c.opt.num_threads = threads[r];
        attn_tensor to = c.tout, tdq = c.tq, tR = c.tout;
        to.data = outs[r], tdq.data = dqs[r], tR.data = c.R;
        attn_additive_params g = {c.A, NULL, NULL, NULL, gvs[r]};
        cr_assert_eq(attn_additive_forward(&c.tq, &c.tk, &c.tv, &c.p, &c.opt, &to, NULL, cache), ATTN_OK);
        cr_assert_eq(attn_additive_backward(&c.tq, &c.tk, &c.tv, &c.p, &c.opt, cache, &tR, &tdq, NULL,
                                            NULL, &g), ATTN_OK);
        attn_additive_cache_free(cache);
    }
    cr_expect(memcmp(o1, o3, (size_t)(c.B * c.Lq * c.Dv) * sizeof(float)) == 0);
    cr_expect(memcmp(dq1, dq3, (size_t)(c.B * c.Lq * c.Dq) * sizeof(float)) == 0);
    cr_expect(memcmp(gv1, gv3, (size_t)c.A * sizeof(float)) == 0);
    free(o1), free(dq1), free(gv1), free(o3), free(dq3), free(gv3);
    add_teardown(&c);

    gru_case g;
    gru_setup(&g, 0);
    float *y1 = zeros(g.ny), *dp1 = zeros(g.nparams), *dp3 = zeros(g.nparams);
    float *dps[2] = {dp1, dp3};
    for (int r = 0; r < 2; r++) {
        g.cfg.num_threads = threads[r];
        attn_gru_cache *cache;
        cr_assert_eq(attn_gru_cache_create(&g.cfg, g.L, g.B, &cache), ATTN_OK);
        cr_assert_eq(attn_gru_forward(&g.cfg, (const float *const *)g.ptab, &g.tx, &g.th0, g.lens, &g.ty, &g.thn, cache),
                     ATTN_OK);
        if (r == 0) memcpy(y1, g.y, (size_t)g.ny * sizeof(float));
        attn_tensor tdy = g.ty;
        tdy.data = g.Ry;
        float *gtab[32];
        gru_table(&g.cfg, dps[r], gtab);
        cr_assert_eq(attn_gru_backward(&g.cfg, (const float *const *)g.ptab, cache, &tdy, NULL, NULL,
                                       NULL, gtab), ATTN_OK);
        attn_gru_cache_free(cache);
    }
    cr_expect(memcmp(y1, g.y, (size_t)g.ny * sizeof(float)) == 0);
    cr_expect(memcmp(dp1, dp3, (size_t)g.nparams * sizeof(float)) == 0);
    free(y1), free(dp1), free(dp3);
    gru_teardown(&g);
}


/* The branch-free tanh of additive attention against the double-precision tanh. */
#include "../../src/nn/rnn_internal.h"

Test(rnn, fast_tanh_accuracy)
{
    double worst = 0, worst_rel = 0;
    for (uint32_t bits = 0; bits < 0x41a00000u; bits += 997) { /* every 997th float in [0, 20] */
        float x;
        memcpy(&x, &bits, sizeof x);
        for (int s = 0; s < 2; s++) {
            float xs = s ? -x : x;
            double ref = tanh((double)xs), got = rnn_tanhf(xs);
            worst = fmax(worst, fabs(got - ref));
            if (ref != 0) worst_rel = fmax(worst_rel, fabs(got - ref) / fabs(ref));
        }
    }
    fprintf(stderr, "rnn_tanhf: max abs err %.2e, max rel err %.2e\n", worst, worst_rel);
    cr_expect(worst < 1.5e-7, "max abs error %g", worst);
    cr_expect(worst_rel < 1e-6, "max rel error %g", worst_rel);
    cr_expect_eq(rnn_tanhf(INFINITY), 1.0f);
    cr_expect_eq(rnn_tanhf(-INFINITY), -1.0f);
    cr_expect_eq(rnn_tanhf(100.0f), 1.0f);
    cr_expect(signbit(rnn_tanhf(-0.0f)) && rnn_tanhf(-0.0f) == 0.0f);
    cr_expect(isnan(rnn_tanhf(NAN)));
}
