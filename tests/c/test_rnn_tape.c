/* test_rnn_tape.c — additive attention, GRU and RoPE on the tape give the outputs and
 * gradients of the direct calls (themselves checked against finite differences). */
#include "test_rnn_util.h"

static double max_diff(const float *a, const float *b, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

Test(rnn_tape, additive_layer_matches_direct_call)
{
    attn_params *P;
    attn_tape *t;
    cr_assert_eq(attn_params_create(7, &P), ATTN_OK);
    cr_assert_eq(attn_tape_create(NULL, &t), ATTN_OK);
    attn_additive_layer l;
    const int64_t B = 2, Lq = 3, Lk = 4, Dq = 3, Dk = 5, Dv = 2, A = 6;
    cr_assert_eq(attn_additive_layer_init(&l, P, "attn.", Dq, Dk, A, 1), ATTN_OK);
    cr_expect_not_null(attn_params_find(P, "attn.w_q"));
    cr_expect_not_null(attn_params_find(P, "attn.v"));
    for (int64_t i = 0; i < A; i++) l.b->data[i] = 0.1f * (float)i; /* nonzero bias */
    float *q = rand_buf(B * Lq * Dq, 1), *k = rand_buf(B * Lk * Dk, 1), *val = rand_buf(B * Lk * Dv, 1);
    float *R = rand_buf(B * Lq * Dv, 1);
    int32_t lens[2] = {4, 2};
    attn_additive_options opt = {NULL, lens, 1};
    int64_t sq[3] = {B, Lq, Dq}, sk[3] = {B, Lk, Dk}, sv[3] = {B, Lk, Dv};
    attn_var *vq, *vk, *vv, *y, *w;
    cr_assert_eq(attn_tape_input(t, q, 3, sq, 1, &vq), ATTN_OK);
    cr_assert_eq(attn_tape_input(t, k, 3, sk, 1, &vk), ATTN_OK);
    cr_assert_eq(attn_tape_input(t, val, 3, sv, 1, &vv), ATTN_OK);
    cr_assert_eq(attn_additive_layer_forward(t, &l, vq, vk, vv, &opt, &y, &w), ATTN_OK, "%s",
                 attn_last_error());
    cr_assert_eq(attn_tape_backward(t, y, R), ATTN_OK, "%s", attn_last_error());
    /* the same through the direct API */
    attn_additive_params p = {A, l.w_q->data, l.w_k->data, l.b->data, l.v->data};
    float *out = zeros(B * Lq * Dv), *dq = zeros(B * Lq * Dq), *dk = zeros(B * Lk * Dk),
          *dv = zeros(B * Lk * Dv), *gq = zeros(A * Dq), *gk = zeros(A * Dk), *gb = zeros(A),
          *gv = zeros(A);
    attn_tensor tq = attn_tensor_make(q, 3, sq), tk = attn_tensor_make(k, 3, sk),
                tv = attn_tensor_make(val, 3, sv);
    int64_t so[3] = {B, Lq, Dv};
    attn_tensor to = attn_tensor_make(out, 3, so), tR = attn_tensor_make(R, 3, so);
    attn_tensor tdq = attn_tensor_make(dq, 3, sq), tdk = attn_tensor_make(dk, 3, sk),
                tdv = attn_tensor_make(dv, 3, sv);
    attn_additive_cache *cache;
    cr_assert_eq(attn_additive_cache_create(B, Lq, Lk, A, &cache), ATTN_OK);
    cr_assert_eq(attn_additive_forward(&tq, &tk, &tv, &p, &opt, &to, NULL, cache), ATTN_OK);
    attn_additive_params g = {A, gq, gk, gb, gv};
    cr_assert_eq(attn_additive_backward(&tq, &tk, &tv, &p, &opt, cache, &tR, &tdq, &tdk, &tdv, &g), ATTN_OK);
    cr_expect(max_diff(y->data, out, B * Lq * Dv) < 1e-6);
    cr_expect_eq(w->shape[2], Lk);
    cr_expect(max_diff(vq->grad, dq, B * Lq * Dq) < 1e-6);
    cr_expect(max_diff(vk->grad, dk, B * Lk * Dk) < 1e-6);
    cr_expect(max_diff(vv->grad, dv, B * Lk * Dv) < 1e-6);
    cr_expect(max_diff(l.w_q->grad, gq, A * Dq) < 1e-6);
    cr_expect(max_diff(l.w_k->grad, gk, A * Dk) < 1e-6);
    cr_expect(max_diff(l.b->grad, gb, A) < 1e-6);
    cr_expect(max_diff(l.v->grad, gv, A) < 1e-6);
    EXPECT_ERR(attn_additive_layer_forward(t, &l, vq, vk, NULL, &opt, &y, NULL), ATTN_E_ARG,
               "attn_additive_layer_forward");
    EXPECT_ERR(attn_additive_layer_init(&l, P, "x.", 0, 1, 1, 0), ATTN_E_ARG, "attn_additive_layer_init");
    attn_additive_cache_free(cache);
    float *bufs[] = {q, k, val, R, out, dq, dk, dv, gq, gk, gb, gv};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    attn_tape_free(t);
    attn_params_free(P);
}

Test(rnn_tape, gru_layer_matches_direct_call)
{
    attn_params *P;
    attn_tape *t;
    cr_assert_eq(attn_params_create(11, &P), ATTN_OK);
    cr_assert_eq(attn_tape_create(NULL, &t), ATTN_OK);
    attn_gru_config cfg = {3, 4, 2, 1, 1, 0, 1};
    attn_gru_layer g;
    cr_assert_eq(attn_gru_layer_init(&g, P, "enc.rnn.", &cfg), ATTN_OK, "%s", attn_last_error());
    cr_expect_not_null(attn_params_find(P, "enc.rnn.weight_hh_l1_reverse"));
    const int64_t B = 2, L = 5, H = 4, NL2 = 4;
    float *x = rand_buf(B * L * 3, 1), *h0 = rand_buf(NL2 * B * H, 1);
    float *R = rand_buf(B * L * 2 * H, 1), *Rh = rand_buf(NL2 * B * H, 1);
    int32_t lens[2] = {5, 3};
    int64_t sx[3] = {B, L, 3}, sh[3] = {NL2, B, H}, sy[3] = {B, L, 2 * H};
    attn_var *vx, *vh0, *y, *hn;
    cr_assert_eq(attn_tape_input(t, x, 3, sx, 1, &vx), ATTN_OK);
    cr_assert_eq(attn_tape_input(t, h0, 3, sh, 1, &vh0), ATTN_OK);
    cr_assert_eq(attn_gru_layer_forward(t, &g, vx, vh0, lens, &y, &hn), ATTN_OK, "%s", attn_last_error());
    /* two recordings: the first seeded on y (dy = R), the second on h_n (dh_n = Rh) */
    cr_assert_eq(attn_tape_backward(t, y, R), ATTN_OK, "%s", attn_last_error());
    int n = g.num_tensors;
    const float *ptab[64];
    float *gtab[64];
    int64_t total;
    cr_assert_eq(attn_gru_num_params(&cfg, NULL, &total), ATTN_OK);
    float *flat = zeros(total);
    for (int i = 0; i < n; i++) {
        attn_gru_tensor_info info;
        cr_assert_eq(attn_gru_param_info(&cfg, i, &info), ATTN_OK);
        ptab[i] = g.tensors[i]->data;
        gtab[i] = flat + info.offset;
    }
    attn_gru_cache *cache;
    cr_assert_eq(attn_gru_cache_create(&cfg, L, B, &cache), ATTN_OK);
    float *yd = zeros(B * L * 2 * H), *hnd = zeros(NL2 * B * H), *dx = zeros(B * L * 3),
          *dh0 = zeros(NL2 * B * H);
    attn_tensor tx = attn_tensor_make(x, 3, sx), th0 = attn_tensor_make(h0, 3, sh),
                ty = attn_tensor_make(yd, 3, sy), thn = attn_tensor_make(hnd, 3, sh),
                tR = attn_tensor_make(R, 3, sy), tdx = attn_tensor_make(dx, 3, sx),
                tdh0 = attn_tensor_make(dh0, 3, sh);
    cr_assert_eq(attn_gru_forward(&cfg, ptab, &tx, &th0, lens, &ty, &thn, cache), ATTN_OK);
    cr_assert_eq(attn_gru_backward(&cfg, ptab, cache, &tR, NULL, &tdx, &tdh0, gtab), ATTN_OK);
    cr_expect(max_diff(y->data, yd, B * L * 2 * H) < 1e-6);
    cr_expect(max_diff(hn->data, hnd, NL2 * B * H) < 1e-6);
    cr_expect(max_diff(vx->grad, dx, B * L * 3) < 1e-6);
    cr_expect(max_diff(vh0->grad, dh0, NL2 * B * H) < 1e-6);
    for (int i = 0; i < n; i++) {
        attn_gru_tensor_info info;
        attn_gru_param_info(&cfg, i, &info);
        cr_expect(max_diff(g.tensors[i]->grad, gtab[i], info.numel) < 1e-6, "%s", info.name);
    }
    /* a second recording seeded on h_n: the tape's dh0 = the direct call's */
    cr_assert_eq(attn_tape_reset(t), ATTN_OK);
    cr_assert_eq(attn_tape_input(t, x, 3, sx, 1, &vx), ATTN_OK);
    cr_assert_eq(attn_tape_input(t, h0, 3, sh, 1, &vh0), ATTN_OK);
    cr_assert_eq(attn_gru_layer_forward(t, &g, vx, vh0, lens, &y, &hn), ATTN_OK);
    cr_assert_eq(attn_tape_backward(t, hn, Rh), ATTN_OK, "%s", attn_last_error());
    attn_tensor tRh = attn_tensor_make(Rh, 3, sh);
    cr_assert_eq(attn_gru_backward(&cfg, ptab, cache, NULL, &tRh, &tdx, &tdh0, NULL), ATTN_OK);
    cr_expect(max_diff(vh0->grad, dh0, NL2 * B * H) < 1e-6);
    cr_expect(max_diff(vx->grad, dx, B * L * 3) < 1e-6);
    attn_gru_config big = cfg;
    big.num_layers = 9;
    EXPECT_ERR(attn_gru_layer_init(&g, P, "big.", &big), ATTN_E_UNSUPPORTED, "attn_gru_layer_init");
    attn_gru_cache_free(cache);
    float *bufs[] = {x, h0, R, Rh, flat, yd, hnd, dx, dh0};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    attn_tape_free(t);
    attn_params_free(P);
}

Test(rnn_tape, rope_op_matches_direct_call)
{
    attn_tape *t;
    cr_assert_eq(attn_tape_create(NULL, &t), ATTN_OK);
    const int64_t n = 2 * 2 * 3 * 4;
    float *x = rand_buf(n, 1), *R = rand_buf(n, 1), *y = zeros(n), *dx = zeros(n);
    int64_t s[4] = {2, 2, 3, 4};
    attn_var *vx, *vy;
    attn_rope_options opt = {ATTN_ROPE_INTERLEAVED, 0, 5, NULL, 0, 1};
    cr_assert_eq(attn_tape_input(t, x, 4, s, 1, &vx), ATTN_OK);
    cr_assert_eq(attn_op_rope(t, vx, &opt, &vy), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(attn_tape_backward(t, vy, R), ATTN_OK);
    attn_tensor tx = attn_tensor_4d(x, 2, 2, 3, 4), ty = attn_tensor_4d(y, 2, 2, 3, 4),
                tR = attn_tensor_4d(R, 2, 2, 3, 4), tdx = attn_tensor_4d(dx, 2, 2, 3, 4);
    cr_assert_eq(attn_rope_forward(&tx, &opt, &ty), ATTN_OK);
    cr_assert_eq(attn_rope_backward(&tR, &opt, &tdx), ATTN_OK);
    cr_expect(max_diff(vy->data, y, n) == 0);
    cr_expect(max_diff(vx->grad, dx, n) == 0);
    attn_var *bad;
    int64_t s3[3] = {2, 3, 4};
    cr_assert_eq(attn_tape_input(t, x, 3, s3, 1, &bad), ATTN_OK);
    EXPECT_ERR(attn_op_rope(t, bad, &opt, &vy), ATTN_E_SHAPE, "attn_op_rope");
    free(x), free(R), free(y), free(dx);
    attn_tape_free(t);
}

Test(rnn_tape, bahdanau_layer_matches_direct_call)
{
    attn_params *P;
    attn_tape *t;
    cr_assert_eq(attn_params_create(5, &P), ATTN_OK);
    cr_assert_eq(attn_tape_create(NULL, &t), ATTN_OK);
    attn_bahdanau_config cfg = {4, 3, 2, 5, 6, 1};
    attn_bahdanau_layer l;
    cr_assert_eq(attn_bahdanau_layer_init(&l, P, "dec.", &cfg), ATTN_OK, "%s", attn_last_error());
    cr_expect_not_null(attn_params_find(P, "dec.gru.weight_hh"));
    cr_expect_not_null(attn_params_find(P, "dec.out.bias"));
    for (int i = 0; i < 5; i++) l.attn_b->data[i] = 0.05f * (float)i;
    const int64_t B = 2, Lk = 4, T = 3, H = 4, De = 3, Dm = 2, Do = 6;
    float *enc = rand_buf(B * Lk * De, 1), *s0 = rand_buf(B * H, 1), *emb = rand_buf(B * T * Dm, 1);
    float *R = rand_buf(B * T * Do, 1), *Rs = rand_buf(B * H, 1);
    int32_t lens[2] = {4, 3};
    attn_additive_options opt = {NULL, lens, 1};
    int64_t se[3] = {B, Lk, De}, ss[2] = {B, H}, sm[3] = {B, T, Dm}, so[3] = {B, T, Do};
    attn_var *ve, *vs, *vm, *y, *w, *sl;
    cr_assert_eq(attn_tape_input(t, enc, 3, se, 1, &ve), ATTN_OK);
    cr_assert_eq(attn_tape_input(t, s0, 2, ss, 1, &vs), ATTN_OK);
    cr_assert_eq(attn_tape_input(t, emb, 3, sm, 1, &vm), ATTN_OK);
    cr_assert_eq(attn_bahdanau_layer_forward(t, &l, ve, vs, vm, &opt, &y, &w, &sl), ATTN_OK, "%s",
                 attn_last_error());
    cr_assert_eq(attn_tape_backward(t, y, R), ATTN_OK, "%s", attn_last_error());
    /* direct */
    attn_bahdanau_params p = {l.attn_w_q->data, l.attn_w_k->data, l.attn_b->data, l.attn_v->data,
                              l.weight_ih->data, l.weight_hh->data, l.bias_ih->data,
                              l.bias_hh->data, l.w_out->data, l.b_out->data};
    attn_param *ps[10] = {l.attn_w_q, l.attn_w_k, l.attn_b, l.attn_v, l.weight_ih,
                          l.weight_hh, l.bias_ih, l.bias_hh, l.w_out, l.b_out};
    float *g[10];
    for (int i = 0; i < 10; i++) g[i] = zeros(ps[i]->numel);
    attn_bahdanau_params gp = {g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9]};
    float *out = zeros(B * T * Do), *wd = zeros(B * T * Lk), *sld = zeros(B * H);
    float *denc = zeros(B * Lk * De), *ds0 = zeros(B * H), *demb = zeros(B * T * Dm);
    attn_tensor te = attn_tensor_make(enc, 3, se), tm = attn_tensor_make(emb, 3, sm),
                to = attn_tensor_make(out, 3, so), tR = attn_tensor_make(R, 3, so),
                tde = attn_tensor_make(denc, 3, se), tdm = attn_tensor_make(demb, 3, sm);
    int64_t sw[3] = {B, T, Lk};
    attn_tensor tw = attn_tensor_make(wd, 3, sw);
    attn_bahdanau_decoder_cache *cache;
    cr_assert_eq(attn_bahdanau_decoder_cache_create(&cfg, B, T, Lk, &cache), ATTN_OK);
    cr_assert_eq(attn_bahdanau_decoder_forward(&cfg, &p, &opt, &te, s0, &tm, &to, &tw, sld, cache), ATTN_OK);
    cr_assert_eq(attn_bahdanau_decoder_backward(&cfg, &p, &opt, &te, s0, &tm, cache, &tR, NULL, &tde,
                                                ds0, &tdm, &gp), ATTN_OK);
    cr_expect(max_diff(y->data, out, B * T * Do) < 1e-6);
    cr_expect(max_diff(w->data, wd, B * T * Lk) < 1e-6);
    cr_expect(max_diff(sl->data, sld, B * H) < 1e-6);
    cr_expect(max_diff(ve->grad, denc, B * Lk * De) < 1e-6);
    cr_expect(max_diff(vs->grad, ds0, B * H) < 1e-6);
    cr_expect(max_diff(vm->grad, demb, B * T * Dm) < 1e-6);
    for (int i = 0; i < 10; i++) cr_expect(max_diff(ps[i]->grad, g[i], ps[i]->numel) < 1e-6, "%s", ps[i]->name);
    /* a second recording seeded on s_last reaches s0 */
    cr_assert_eq(attn_tape_reset(t), ATTN_OK);
    cr_assert_eq(attn_tape_input(t, enc, 3, se, 1, &ve), ATTN_OK);
    cr_assert_eq(attn_tape_input(t, s0, 2, ss, 1, &vs), ATTN_OK);
    cr_assert_eq(attn_tape_input(t, emb, 3, sm, 1, &vm), ATTN_OK);
    cr_assert_eq(attn_bahdanau_layer_forward(t, &l, ve, vs, vm, &opt, &y, NULL, &sl), ATTN_OK);
    cr_assert_eq(attn_tape_backward(t, sl, Rs), ATTN_OK, "%s", attn_last_error());
    cr_assert_eq(attn_bahdanau_decoder_backward(&cfg, &p, &opt, &te, s0, &tm, cache, NULL, Rs, &tde,
                                                ds0, &tdm, NULL), ATTN_OK);
    cr_expect(max_diff(vs->grad, ds0, B * H) < 1e-6);
    cr_expect(max_diff(ve->grad, denc, B * Lk * De) < 1e-6);
    attn_var *bad;
    int64_t sb[2] = {B, H + 1};
    cr_assert_eq(attn_tape_input(t, NULL, 2, sb, 0, &bad), ATTN_OK);
    EXPECT_ERR(attn_bahdanau_layer_forward(t, &l, ve, bad, vm, &opt, &y, NULL, NULL), ATTN_E_SHAPE,
               "attn_bahdanau_layer_forward");
    for (int i = 0; i < 10; i++) free(g[i]);
    float *bufs[] = {enc, s0, emb, R, Rs, out, wd, sld, denc, ds0, demb};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    attn_bahdanau_decoder_cache_free(cache);
    attn_tape_free(t);
    attn_params_free(P);
}
