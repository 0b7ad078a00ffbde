/* test_rnn_decoder.c — the Bahdanau decoder step and the T-step decoder: gradients against
 * central finite differences, projected keys, error paths. */
#include "test_rnn_util.h"

/* ---------------------------------------------------------------- Bahdanau decoder step */

typedef struct bd_case {
    attn_bahdanau_config cfg;
    int64_t B, Lk;
    float *s_prev, *enc, *emb, *s, *ctx, *out, *Ro, *Rs;
    float *w[10];
    int64_t wn[10];
    attn_bahdanau_params p;
    attn_tensor tenc;
    attn_additive_options opt;
    int32_t lens[2];
} bd_case;

static void bd_setup(bd_case *c)
{
    c->cfg = (attn_bahdanau_config){3, 3, 2, 4, 3, 1};
    c->B = 2, c->Lk = 4;
    const int64_t H = 3, De = 3, Dm = 2, A = 4, Do = 3;
    int64_t sizes[10] = {A * H, A * De, A, A, 3 * H * (Dm + De), 3 * H * H, 3 * H, 3 * H,
                         Do * (H + De + Dm), Do};
    for (int i = 0; i < 10; i++) c->wn[i] = sizes[i], c->w[i] = rand_buf(sizes[i], 0.6f);
    c->p = (attn_bahdanau_params){c->w[0], c->w[1], c->w[2], c->w[3], c->w[4],
                                  c->w[5], c->w[6], c->w[7], c->w[8], c->w[9]};
    c->s_prev = rand_buf(c->B * H, 1), c->enc = rand_buf(c->B * c->Lk * De, 1);
    c->emb = rand_buf(c->B * Dm, 1);
    c->s = zeros(c->B * H), c->ctx = zeros(c->B * De), c->out = zeros(c->B * Do);
    c->Ro = rand_buf(c->B * Do, 1), c->Rs = rand_buf(c->B * H, 1);
    int64_t se[3] = {c->B, c->Lk, De};
    c->tenc = attn_tensor_make(c->enc, 3, se);
    c->lens[0] = 4, c->lens[1] = 2;
    c->opt = (attn_additive_options){NULL, c->lens, 1};
}

static void bd_teardown(bd_case *c)
{
    for (int i = 0; i < 10; i++) free(c->w[i]);
    float *bufs[] = {c->s_prev, c->enc, c->emb, c->s, c->ctx, c->out, c->Ro, c->Rs};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
}

static double bd_loss(void *ctx)
{
    bd_case *c = ctx;
    cr_assert_eq(attn_bahdanau_step_forward(&c->cfg, &c->p, &c->opt, c->s_prev, &c->tenc, NULL, c->emb,
                                            c->s, c->ctx, NULL, c->out, NULL),
                 ATTN_OK, "%s", attn_last_error());
    return dot(c->out, c->Ro, c->B * 3) + dot(c->s, c->Rs, c->B * 3);
}

Test(rnn, bahdanau_step_gradients_match_finite_differences)
{
    bd_case c;
    bd_setup(&c);
    attn_bahdanau_cache *cache;
    cr_assert_eq(attn_bahdanau_cache_create(&c.cfg, c.B, c.Lk, &cache), ATTN_OK);
    float w[8];
    cr_assert_eq(attn_bahdanau_step_forward(&c.cfg, &c.p, &c.opt, c.s_prev, &c.tenc, NULL, c.emb, c.s,
                                            c.ctx, w, c.out, cache), ATTN_OK, "%s", attn_last_error());
    cr_expect_eq(w[4 + 2], 0.0f); /* batch 1 has two source tokens */
    cr_expect_eq(w[4 + 3], 0.0f);
    float *ds_prev = zeros(c.B * 3), *denc = zeros(c.B * c.Lk * 3), *demb = zeros(c.B * 2);
    float *g[10];
    for (int i = 0; i < 10; i++) g[i] = zeros(c.wn[i]);
    attn_bahdanau_params gp = {g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9]};
    attn_tensor tdenc = c.tenc;
    tdenc.data = denc;
    cr_assert_eq(attn_bahdanau_step_backward(&c.cfg, &c.p, &c.opt, c.s_prev, &c.tenc, NULL, c.emb, cache,
                                             c.Ro, c.Rs, ds_prev, &tdenc, NULL, demb, &gp),
                 ATTN_OK, "%s", attn_last_error());
    EXPECT_FD("bahdanau ds_prev", bd_loss, &c, c.s_prev, c.B * 3, ds_prev);
    EXPECT_FD("bahdanau denc", bd_loss, &c, c.enc, c.B * c.Lk * 3, denc);
    EXPECT_FD("bahdanau demb", bd_loss, &c, c.emb, c.B * 2, demb);
    static const char *names[10] = {"attn_w_q", "attn_w_k", "attn_b", "attn_v", "weight_ih",
                                    "weight_hh", "bias_ih", "bias_hh", "w_out", "b_out"};
    for (int i = 0; i < 10; i++) {
        char label[64];
        snprintf(label, sizeof label, "bahdanau d%s", names[i]);
        EXPECT_FD(label, bd_loss, &c, c.w[i], c.wn[i], g[i]);
    }
    for (int i = 0; i < 10; i++) free(g[i]);
    free(ds_prev), free(denc), free(demb);
    attn_bahdanau_cache_free(cache);
    bd_teardown(&c);
}

Test(rnn, bahdanau_error_paths)
{
    bd_case c;
    bd_setup(&c);
    static const char fc[] = "attn_bahdanau_cache_create", ff[] = "attn_bahdanau_step_forward",
                      fb[] = "attn_bahdanau_step_backward";
    attn_bahdanau_cache *cache = NULL;
    EXPECT_ERR(attn_bahdanau_cache_create(&c.cfg, 2, 4, NULL), ATTN_E_ARG, fc);
    EXPECT_ERR(attn_bahdanau_cache_create(NULL, 2, 4, &cache), ATTN_E_ARG, fc);
    EXPECT_ERR(attn_bahdanau_cache_create(&c.cfg, 0, 4, &cache), ATTN_E_ARG, fc);
    attn_bahdanau_config big = c.cfg;
    big.hidden_size = INT64_MAX / 8;
    EXPECT_ERR(attn_bahdanau_cache_create(&big, 2, 4, &cache), ATTN_E_OVERFLOW, fc);
    attn_bahdanau_cache_free(NULL);
    EXPECT_ERR(attn_bahdanau_step_forward(&c.cfg, &c.p, NULL, NULL, &c.tenc, NULL, c.emb, c.s, c.ctx, NULL, c.out, NULL),
               ATTN_E_ARG, ff);
    EXPECT_ERR(attn_bahdanau_step_forward(&c.cfg, &c.p, NULL, c.s_prev, &c.tenc, NULL, c.emb, c.s_prev, c.ctx, NULL, c.out, NULL),
               ATTN_E_ARG, ff);
    attn_bahdanau_params bad = c.p;
    bad.weight_hh = NULL;
    EXPECT_ERR(attn_bahdanau_step_forward(&c.cfg, &bad, NULL, c.s_prev, &c.tenc, NULL, c.emb, c.s, c.ctx, NULL, c.out, NULL),
               ATTN_E_ARG, ff);
    attn_tensor t = c.tenc;
    t.shape[2] = 2;
    EXPECT_ERR(attn_bahdanau_step_forward(&c.cfg, &c.p, NULL, c.s_prev, &t, NULL, c.emb, c.s, c.ctx, NULL, c.out, NULL),
               ATTN_E_SHAPE, ff);
    cr_assert_eq(attn_bahdanau_cache_create(&c.cfg, c.B, c.Lk + 1, &cache), ATTN_OK);
    EXPECT_ERR(attn_bahdanau_step_forward(&c.cfg, &c.p, NULL, c.s_prev, &c.tenc, NULL, c.emb, c.s, c.ctx, NULL, c.out, cache),
               ATTN_E_SHAPE, ff);
    attn_bahdanau_cache_free(cache);
    cr_assert_eq(attn_bahdanau_cache_create(&c.cfg, c.B, c.Lk, &cache), ATTN_OK);
    EXPECT_ERR(attn_bahdanau_step_backward(&c.cfg, &c.p, NULL, c.s_prev, &c.tenc, NULL, c.emb, cache, c.Ro, NULL, NULL, NULL, NULL, NULL, NULL),
               ATTN_E_STATE, fb);
    EXPECT_ERR(attn_bahdanau_step_backward(&c.cfg, &c.p, NULL, c.s_prev, &c.tenc, NULL, c.emb, NULL, c.Ro, NULL, NULL, NULL, NULL, NULL, NULL),
               ATTN_E_ARG, fb);
    cr_assert_eq(attn_bahdanau_step_forward(&c.cfg, &c.p, NULL, c.s_prev, &c.tenc, NULL, c.emb, c.s, c.ctx, NULL, c.out, cache),
                 ATTN_OK);
    attn_tensor td = c.tenc;
    td.shape[1] = 3;
    EXPECT_ERR(attn_bahdanau_step_backward(&c.cfg, &c.p, NULL, c.s_prev, &c.tenc, NULL, c.emb, cache, c.Ro, NULL, NULL, &td, NULL, NULL, NULL),
               ATTN_E_SHAPE, fb);
    attn_bahdanau_cache_free(cache);
    bd_teardown(&c);
}

/* Keys projected once (attn_bahdanau_project_keys) give the same step and, through
 * attn_bahdanau_project_keys_backward, the same gradients as projecting inside the step. */
Test(rnn, bahdanau_projected_keys_match_unprojected)
{
    bd_case c;
    bd_setup(&c);
    const int64_t B = c.B, Lk = c.Lk, A = 4, De = 3, n_enc = B * Lk * De;
    attn_bahdanau_cache *c1, *c2;
    cr_assert_eq(attn_bahdanau_cache_create(&c.cfg, B, Lk, &c1), ATTN_OK);
    cr_assert_eq(attn_bahdanau_cache_create(&c.cfg, B, Lk, &c2), ATTN_OK);
    float s1[6], s2[6], x1[6], x2[6], o1[6], o2[6];
    float *kp = zeros(B * Lk * A), *dkp = zeros(B * Lk * A);
    int64_t ks[3] = {B, Lk, A};
    attn_tensor tkp = attn_tensor_make(kp, 3, ks), tdkp = attn_tensor_make(dkp, 3, ks);
    cr_assert_eq(attn_bahdanau_project_keys(&c.cfg, &c.p, &c.tenc, &tkp), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(attn_bahdanau_step_forward(&c.cfg, &c.p, &c.opt, c.s_prev, &c.tenc, NULL, c.emb,
                                            s1, x1, NULL, o1, c1), ATTN_OK);
    cr_assert_eq(attn_bahdanau_step_forward(&c.cfg, &c.p, &c.opt, c.s_prev, &c.tenc, &tkp, c.emb,
                                            s2, x2, NULL, o2, c2), ATTN_OK, "%s", attn_last_error());
    for (int i = 0; i < 6; i++) {
        cr_expect(fabsf(s1[i] - s2[i]) < 1e-6f && fabsf(x1[i] - x2[i]) < 1e-6f &&
                  fabsf(o1[i] - o2[i]) < 1e-6f);
    }
    float *de1 = zeros(n_enc), *de2 = zeros(n_enc), *gk1 = zeros(A * De), *gk2 = zeros(A * De);
    attn_bahdanau_params g1 = {0}, g2 = {0};
    g1.attn_w_k = gk1, g2.attn_w_k = gk2;
    attn_tensor td1 = c.tenc, td2 = c.tenc;
    td1.data = de1, td2.data = de2;
    cr_assert_eq(attn_bahdanau_step_backward(&c.cfg, &c.p, &c.opt, c.s_prev, &c.tenc, NULL, c.emb, c1,
                                             c.Ro, c.Rs, NULL, &td1, NULL, NULL, &g1), ATTN_OK);
    cr_assert_eq(attn_bahdanau_step_backward(&c.cfg, &c.p, &c.opt, c.s_prev, &c.tenc, &tkp, c.emb, c2,
                                             c.Ro, c.Rs, NULL, &td2, &tdkp, NULL, &g2),
                 ATTN_OK, "%s", attn_last_error());
    for (int i = 0; i < A * De; i++) cr_expect_eq(gk2[i], 0.0f); /* W_k untouched by the step */
    cr_assert_eq(attn_bahdanau_project_keys_backward(&c.cfg, &c.p, &c.tenc, &tdkp, &td2, &g2), ATTN_OK,
                 "%s", attn_last_error());
    double e = 0;
    for (int64_t i = 0; i < n_enc; i++) e = fmax(e, fabs(de1[i] - de2[i]));
    for (int i = 0; i < A * De; i++) e = fmax(e, fabs(gk1[i] - gk2[i]));
    cr_expect(e < 1e-5, "projected vs unprojected gradients differ by %g", e);
    static const char fp[] = "attn_bahdanau_project_keys", fpb[] = "attn_bahdanau_project_keys_backward";
    attn_tensor bad = tkp;
    bad.shape[2] = 3;
    EXPECT_ERR(attn_bahdanau_project_keys(&c.cfg, &c.p, &c.tenc, &bad), ATTN_E_SHAPE, fp);
    EXPECT_ERR(attn_bahdanau_project_keys(&c.cfg, &c.p, NULL, &tkp), ATTN_E_ARG, fp);
    EXPECT_ERR(attn_bahdanau_project_keys_backward(&c.cfg, &c.p, &c.tenc, &bad, &td2, &g2), ATTN_E_SHAPE, fpb);
    EXPECT_ERR(attn_bahdanau_step_forward(&c.cfg, &c.p, &c.opt, c.s_prev, &c.tenc, &bad, c.emb, s2, x2,
                                          NULL, o2, c2), ATTN_E_SHAPE, "attn_bahdanau_step_forward");
    EXPECT_ERR(attn_bahdanau_step_backward(&c.cfg, &c.p, &c.opt, c.s_prev, &c.tenc, NULL, c.emb, c1,
                                           c.Ro, c.Rs, NULL, NULL, &tdkp, NULL, NULL),
               ATTN_E_ARG, "attn_bahdanau_step_backward");
    free(kp), free(dkp), free(de1), free(de2), free(gk1), free(gk2);
    attn_bahdanau_cache_free(c1);
    attn_bahdanau_cache_free(c2);
    bd_teardown(&c);
}

/* The whole decoder (T steps, keys projected once) against finite differences. */
typedef struct dec_case {
    bd_case bd;
    int64_t T;
    float *embs, *out, *Rout, *s_last, *Rs;
    attn_tensor temb, tout;
} dec_case;

static double dec_loss(void *ctx)
{
    dec_case *d = ctx;
    bd_case *c = &d->bd;
    cr_assert_eq(attn_bahdanau_decoder_forward(&c->cfg, &c->p, &c->opt, &c->tenc, c->s_prev, &d->temb,
                                               &d->tout, NULL, d->s_last, NULL),
                 ATTN_OK, "%s", attn_last_error());
    return dot(d->out, d->Rout, c->B * d->T * 3) + dot(d->s_last, d->Rs, c->B * 3);
}

Test(rnn, bahdanau_decoder_gradients_match_finite_differences)
{
    dec_case d;
    bd_case *c = &d.bd;
    bd_setup(c);
    d.T = 3;
    const int64_t B = c->B, T = d.T, Lk = c->Lk, Dm = 2, Do = 3, H = 3;
    /* emb stored [T, B, Dm] and seen as [B, T, Dm]: a strided view */
    d.embs = rand_buf(T * B * Dm, 1), d.out = zeros(B * T * Do), d.Rout = rand_buf(B * T * Do, 1);
    d.s_last = zeros(B * H), d.Rs = rand_buf(B * H, 1);
    d.temb = (attn_tensor){d.embs, 3, {B, T, Dm}, {Dm, B * Dm, 1}};
    int64_t so[3] = {B, T, Do};
    d.tout = attn_tensor_make(d.out, 3, so);
    attn_bahdanau_decoder_cache *cache;
    cr_assert_eq(attn_bahdanau_decoder_cache_create(&c->cfg, B, T, Lk, &cache), ATTN_OK);
    float *w = zeros(B * T * Lk);
    int64_t sw[3] = {B, T, Lk};
    attn_tensor tw = attn_tensor_make(w, 3, sw);
    cr_assert_eq(attn_bahdanau_decoder_forward(&c->cfg, &c->p, &c->opt, &c->tenc, c->s_prev, &d.temb,
                                               &d.tout, &tw, d.s_last, cache),
                 ATTN_OK, "%s", attn_last_error());
    for (int64_t t = 0; t < T; t++) cr_expect_eq(w[(1 * T + t) * Lk + 3], 0.0f); /* past length 2 */
    float *denc = zeros(B * Lk * 3), *ds0 = zeros(B * H), *demb = zeros(T * B * Dm);
    float *g[10];
    for (int i = 0; i < 10; i++) g[i] = zeros(c->wn[i]);
    attn_bahdanau_params gp = {g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9]};
    attn_tensor tdenc = c->tenc, tdemb = d.temb, tR = d.tout;
    tdenc.data = denc, tdemb.data = demb, tR.data = d.Rout;
    cr_assert_eq(attn_bahdanau_decoder_backward(&c->cfg, &c->p, &c->opt, &c->tenc, c->s_prev, &d.temb,
                                                cache, &tR, d.Rs, &tdenc, ds0, &tdemb, &gp),
                 ATTN_OK, "%s", attn_last_error());
    EXPECT_FD("decoder ds0", dec_loss, &d, c->s_prev, B * H, ds0);
    EXPECT_FD("decoder denc", dec_loss, &d, c->enc, B * Lk * 3, denc);
    EXPECT_FD("decoder demb", dec_loss, &d, d.embs, T * B * Dm, demb);
    for (int i = 0; i < 10; i++) {
        char label[64];
        snprintf(label, sizeof label, "decoder param %d", i);
        EXPECT_FD(label, dec_loss, &d, c->w[i], c->wn[i], g[i]);
    }
    static const char fc[] = "attn_bahdanau_decoder_cache_create", ff[] = "attn_bahdanau_decoder_forward",
                      fb[] = "attn_bahdanau_decoder_backward";
    attn_bahdanau_decoder_cache *bad = NULL;
    EXPECT_ERR(attn_bahdanau_decoder_cache_create(&c->cfg, B, 0, Lk, &bad), ATTN_E_ARG, fc);
    EXPECT_ERR(attn_bahdanau_decoder_cache_create(&c->cfg, B, T, Lk, NULL), ATTN_E_ARG, fc);
    EXPECT_ERR(attn_bahdanau_decoder_cache_create(&c->cfg, INT64_MAX / 4, T, Lk, &bad), ATTN_E_OVERFLOW, fc);
    attn_bahdanau_decoder_cache_free(NULL);
    attn_tensor t = d.tout;
    t.shape[1] = 2;
    EXPECT_ERR(attn_bahdanau_decoder_forward(&c->cfg, &c->p, &c->opt, &c->tenc, c->s_prev, &d.temb, &t,
                                             NULL, NULL, cache), ATTN_E_SHAPE, ff);
    EXPECT_ERR(attn_bahdanau_decoder_forward(&c->cfg, &c->p, &c->opt, &c->tenc, NULL, &d.temb, &d.tout,
                                             NULL, NULL, cache), ATTN_E_ARG, ff);
    EXPECT_ERR(attn_bahdanau_decoder_backward(&c->cfg, &c->p, &c->opt, &c->tenc, c->s_prev, &d.temb,
                                              NULL, &tR, NULL, NULL, NULL, NULL, NULL), ATTN_E_ARG, fb);
    t = tR, t.shape[2] = 4;
    EXPECT_ERR(attn_bahdanau_decoder_backward(&c->cfg, &c->p, &c->opt, &c->tenc, c->s_prev, &d.temb,
                                              cache, &t, NULL, NULL, NULL, NULL, NULL), ATTN_E_SHAPE, fb);
    for (int i = 0; i < 10; i++) free(g[i]);
    free(denc), free(ds0), free(demb), free(w);
    free(d.embs), free(d.out), free(d.Rout), free(d.s_last), free(d.Rs);
    attn_bahdanau_decoder_cache_free(cache);
    bd_teardown(c);
}
