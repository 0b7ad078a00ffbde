/* test_flash.c — the fused attention kernel against the textbook reference (itself checked in
 * double), over shapes, masks, layouts and every SIMD path; determinism across thread counts;
 * finite differences; the fused extras (varlen, slices + merge, weights on demand, entropy). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn.h"

/* ---- a small problem generator ---------------------------------------------------------- */

typedef struct fcase {
    int64_t B, Hq, Hkv, Lq, Lk, E, Ev;
    int blhe;       /* [B, L, H, E] memory */
    int causal, align, window, wl, wr;
    int mask;       /* 0 none, 1 bool [B,1,Lq,Lk], 2 bool [1,Hq,1,Lk] */
    int bias;       /* 0 none, 1 [B,Hq,Lq,Lk], 2 [1,1,Lq,Lk], 3 [B,1,1,Lk] with −∞ */
    int lengths;    /* key_lengths: batch b gets Lk − b·Lk/3 (b = 2: 0 keys when B = 4) */
    int alibi;
    float softcap, dropout, scale;
} fcase;

typedef struct fbufs {
    float *q, *k, *v, *o, *lse, *dout, *dq, *dk, *dv, *bias, *dbias, *slopes;
    uint8_t *mask;
    int32_t *lens;
    attn_tensor tq, tk, tv, to, tdo, tdq, tdk, tdv, tbias, tdbias;
    attn_bool_tensor tmask;
    attn_sdpa_options opt;
} fbufs;

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float frand(void) /* uniform in [−1, 1) */
{
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

static float *rand_buf(int64_t n, float amp)
{
    float *p = malloc((size_t)n * sizeof *p);
    for (int64_t i = 0; i < n; i++) p[i] = amp * frand();
    return p;
}

static attn_tensor view(float *d, int blhe, int64_t B, int64_t H, int64_t L, int64_t E)
{
    return blhe ? attn_tensor_blhe(d, B, L, H, E) : attn_tensor_4d(d, B, H, L, E);
}

static void make(const fcase *c, fbufs *f)
{
    memset(f, 0, sizeof *f);
    int64_t nq = c->B * c->Hq * c->Lq * c->E, nk = c->B * c->Hkv * c->Lk * c->E;
    int64_t nv = c->B * c->Hkv * c->Lk * c->Ev, no = c->B * c->Hq * c->Lq * c->Ev;
    f->q = rand_buf(nq, 1.5f), f->k = rand_buf(nk, 1.5f), f->v = rand_buf(nv, 1);
    f->o = calloc((size_t)no, sizeof(float));
    f->lse = calloc((size_t)(c->B * c->Hq * c->Lq), sizeof(float));
    f->dout = rand_buf(no, 1);
    f->dq = calloc((size_t)nq, sizeof(float)), f->dk = calloc((size_t)nk, sizeof(float));
    f->dv = calloc((size_t)nv, sizeof(float));
    f->tq = view(f->q, c->blhe, c->B, c->Hq, c->Lq, c->E);
    f->tk = view(f->k, c->blhe, c->B, c->Hkv, c->Lk, c->E);
    f->tv = view(f->v, c->blhe, c->B, c->Hkv, c->Lk, c->Ev);
    f->to = view(f->o, c->blhe, c->B, c->Hq, c->Lq, c->Ev);
    f->tdo = view(f->dout, c->blhe, c->B, c->Hq, c->Lq, c->Ev);
    f->tdq = view(f->dq, c->blhe, c->B, c->Hq, c->Lq, c->E);
    f->tdk = view(f->dk, c->blhe, c->B, c->Hkv, c->Lk, c->E);
    f->tdv = view(f->dv, c->blhe, c->B, c->Hkv, c->Lk, c->Ev);
    attn_sdpa_options *o = &f->opt;
    o->scale = c->scale, o->causal = c->causal, o->align = (attn_align)c->align;
    o->window = c->window, o->window_left = c->wl, o->window_right = c->wr;
    o->softcap = c->softcap, o->dropout_p = c->dropout, o->seed = 1234, o->offset = 7;
    if (c->mask) {
        int64_t d0 = c->mask == 1 ? c->B : 1, d1 = c->mask == 1 ? 1 : c->Hq;
        int64_t d2 = c->mask == 1 ? c->Lq : 1, n = d0 * d1 * d2 * c->Lk;
        f->mask = malloc((size_t)n);
        for (int64_t i = 0; i < n; i++) f->mask[i] = frand() > -0.6f;
        f->tmask = attn_bool_tensor_4d(f->mask, d0, d1, d2, c->Lk);
        o->mask = &f->tmask;
    }
    if (c->bias) {
        int64_t d0 = c->bias == 1 || c->bias == 3 ? c->B : 1, d1 = c->bias == 1 ? c->Hq : 1;
        int64_t d2 = c->bias == 3 ? 1 : c->Lq, n = d0 * d1 * d2 * c->Lk;
        f->bias = rand_buf(n, 1);
        if (c->bias == 3)
            for (int64_t i = 0; i < n; i += 5) f->bias[i] = -INFINITY;
        f->dbias = calloc((size_t)n, sizeof(float));
        f->tbias = attn_tensor_4d(f->bias, d0, d1, d2, c->Lk);
        f->tdbias = attn_tensor_4d(f->dbias, d0, d1, d2, c->Lk);
        o->bias = &f->tbias;
    }
    if (c->lengths) {
        f->lens = malloc((size_t)c->B * sizeof(int32_t));
        for (int64_t b = 0; b < c->B; b++) f->lens[b] = (int32_t)(c->Lk - b * c->Lk / 3);
        if (c->B == 4) f->lens[2] = 0;
        o->key_lengths = f->lens;
    }
    if (c->alibi) {
        f->slopes = malloc((size_t)c->Hq * sizeof(float));
        for (int64_t h = 0; h < c->Hq; h++) f->slopes[h] = 0.5f / (float)(h + 1);
        o->alibi_slopes = f->slopes;
    }
}

static void release(fbufs *f)
{
    free(f->q), free(f->k), free(f->v), free(f->o), free(f->lse), free(f->dout), free(f->dq);
    free(f->dk), free(f->dv), free(f->bias), free(f->dbias), free(f->slopes), free(f->mask);
    free(f->lens);
}

/* max |a − b| / max(max |b|, floor) */
static double rel_err(const float *a, const float *b, int64_t n, double floor)
{
    double d = 0, m = floor;
    for (int64_t i = 0; i < n; i++) {
        if (isinf(b[i]) || isinf(a[i])) {
            if (a[i] != b[i]) return INFINITY;
            continue;
        }
        double e = fabs((double)a[i] - b[i]);
        if (!(e <= d)) d = e; /* NaN propagates */
        if (fabs(b[i]) > m) m = fabs(b[i]);
    }
    return d / m;
}

static float *copy(const float *p, int64_t n)
{
    float *c = malloc((size_t)n * sizeof *c);
    memcpy(c, p, (size_t)n * sizeof *c);
    return c;
}

/* Forward (and backward) of the case on the reference and on the fused kernel; expect them to
 * agree. Returns nothing; failures are Criterion expectations naming the case. */
static void check_case(const fcase *c, int backward, const char *name)
{
    fbufs f;
    make(c, &f);
    const int64_t no = c->B * c->Hq * c->Lq * c->Ev, nl = c->B * c->Hq * c->Lq;
    const int64_t nq = c->B * c->Hq * c->Lq * c->E, nk = c->B * c->Hkv * c->Lk * c->E;
    const int64_t nv = c->B * c->Hkv * c->Lk * c->Ev;
    f.opt.kernel = ATTN_KERNEL_REFERENCE;
    cr_assert_eq(attn_sdpa_forward(&f.tq, &f.tk, &f.tv, &f.opt, &f.to, f.lse, NULL), 0, "%s: %s",
                 name, attn_last_error());
    float *ro = copy(f.o, no), *rl = copy(f.lse, nl);
    float *rdq = NULL, *rdk = NULL, *rdv = NULL, *rdb = NULL;
    int64_t nb = c->bias ? f.tbias.shape[0] * f.tbias.shape[1] * f.tbias.shape[2] * f.tbias.shape[3] : 0;
    if (backward) {
        cr_assert_eq(attn_sdpa_backward(&f.tq, &f.tk, &f.tv, &f.to, f.lse, &f.tdo, &f.opt, &f.tdq,
                                        &f.tdk, &f.tdv, c->bias ? &f.tdbias : NULL),
                     0, "%s: %s", name, attn_last_error());
        rdq = copy(f.dq, nq), rdk = copy(f.dk, nk), rdv = copy(f.dv, nv);
        if (c->bias) rdb = copy(f.dbias, nb);
    }
    static const attn_isa isas[] = {ATTN_ISA_PORTABLE, ATTN_ISA_AVX2, ATTN_ISA_AVX512};
    for (int k = 0; k < 3; k++) {
        if (!attn_isa_supported(isas[k])) continue;
        attn_set_isa(isas[k]);
        memset(f.o, 0xff, (size_t)no * sizeof(float)); /* NaN: every element must be written */
        f.opt.kernel = ATTN_KERNEL_FLASH;
        int st = attn_sdpa_forward(&f.tq, &f.tk, &f.tv, &f.opt, &f.to, f.lse, NULL);
        cr_expect_eq(st, 0, "%s [%s]: %s", name, attn_isa_name(isas[k]), attn_last_error());
        double eo = rel_err(f.o, ro, no, 1e-3), el = rel_err(f.lse, rl, nl, 1.0);
        cr_expect(eo <= 2e-6, "%s [%s]: out rel err %g", name, attn_isa_name(isas[k]), eo);
        cr_expect(el <= 2e-6, "%s [%s]: lse rel err %g", name, attn_isa_name(isas[k]), el);
        if (backward) {
            memset(f.dq, 0xff, (size_t)nq * sizeof(float));
            memset(f.dk, 0xff, (size_t)nk * sizeof(float));
            memset(f.dv, 0xff, (size_t)nv * sizeof(float));
            st = attn_sdpa_backward(&f.tq, &f.tk, &f.tv, &f.to, f.lse, &f.tdo, &f.opt, &f.tdq,
                                    &f.tdk, &f.tdv, c->bias ? &f.tdbias : NULL);
            cr_expect_eq(st, 0, "%s [%s] bwd: %s", name, attn_isa_name(isas[k]), attn_last_error());
            double e1 = rel_err(f.dq, rdq, nq, 0.05), e2 = rel_err(f.dk, rdk, nk, 0.05);
            double e3 = rel_err(f.dv, rdv, nv, 0.05);
            double e4 = c->bias ? rel_err(f.dbias, rdb, nb, 0.05) : 0;
            cr_expect(e1 <= 2e-5 && e2 <= 2e-5 && e3 <= 2e-5 && e4 <= 2e-5,
                      "%s [%s]: bwd rel err dq %g dk %g dv %g dbias %g", name,
                      attn_isa_name(isas[k]), e1, e2, e3, e4);
        }
    }
    attn_set_isa(ATTN_ISA_AUTO);
    free(ro), free(rl), free(rdq), free(rdk), free(rdv), free(rdb);
    release(&f);
}

/* ---- fused vs reference ------------------------------------------------------------------ */

Test(flash, shapes_and_tails)
{
    static const int64_t L[] = {1, 17, 63, 127, 129};
    char name[128];
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++) {
            fcase c = {.B = 1, .Hq = 2, .Hkv = 2, .Lq = L[a], .Lk = L[b], .E = 16 + 8 * a,
                       .Ev = 8 + 8 * b};
            snprintf(name, sizeof name, "Lq=%lld Lk=%lld E=%lld Ev=%lld", (long long)c.Lq,
                     (long long)c.Lk, (long long)c.E, (long long)c.Ev);
            check_case(&c, (a + b) % 2 == 0, name);
        }
}

Test(flash, odd_widths_and_wide_heads)
{
    fcase c1 = {.B = 1, .Hq = 1, .Hkv = 1, .Lq = 33, .Lk = 70, .E = 3, .Ev = 5};
    check_case(&c1, 1, "E=3 Ev=5");
    fcase c2 = {.B = 1, .Hq = 1, .Hkv = 1, .Lq = 20, .Lk = 40, .E = 256, .Ev = 200};
    check_case(&c2, 1, "E=256 Ev=200");
    fcase c3 = {.B = 1, .Hq = 1, .Hkv = 1, .Lq = 20, .Lk = 40, .E = 130, .Ev = 256, .scale = 0.3f};
    check_case(&c3, 1, "E=130 Ev=256 scale");
}

Test(flash, causal_both_alignments_and_windows)
{
    for (int al = 0; al < 2; al++) {
        fcase c = {.B = 2, .Hq = 2, .Hkv = 1, .Lq = 100, .Lk = 150, .E = 32, .Ev = 32,
                   .causal = 1, .align = al};
        check_case(&c, 1, al ? "causal bottom-right" : "causal top-left");
        fcase d = {.B = 1, .Hq = 2, .Hkv = 2, .Lq = 150, .Lk = 90, .E = 32, .Ev = 24,
                   .causal = 1, .align = al};
        check_case(&d, 1, al ? "causal br Lq>Lk (empty rows)" : "causal tl Lq>Lk");
        fcase w = {.B = 1, .Hq = 2, .Hkv = 2, .Lq = 130, .Lk = 140, .E = 16, .Ev = 16,
                   .window = 1, .wl = 20, .wr = 5, .align = al};
        check_case(&w, 1, "window");
        fcase cw = {.B = 1, .Hq = 1, .Hkv = 1, .Lq = 200, .Lk = 200, .E = 16, .Ev = 16,
                    .causal = 1, .window = 1, .wl = 70, .wr = 0, .align = al};
        check_case(&cw, 1, "causal + window");
    }
}

Test(flash, masks_bias_lengths)
{
    fcase m1 = {.B = 2, .Hq = 2, .Hkv = 2, .Lq = 70, .Lk = 80, .E = 16, .Ev = 16, .mask = 1};
    check_case(&m1, 1, "bool mask [B,1,Lq,Lk]");
    fcase m2 = {.B = 2, .Hq = 3, .Hkv = 1, .Lq = 40, .Lk = 90, .E = 16, .Ev = 16, .mask = 2};
    check_case(&m2, 1, "bool mask [1,Hq,1,Lk]");
    fcase b1 = {.B = 2, .Hq = 2, .Hkv = 2, .Lq = 70, .Lk = 80, .E = 16, .Ev = 16, .bias = 1};
    check_case(&b1, 1, "bias full");
    fcase b2 = {.B = 2, .Hq = 2, .Hkv = 1, .Lq = 70, .Lk = 80, .E = 16, .Ev = 16, .bias = 2,
                .causal = 1};
    check_case(&b2, 1, "bias [1,1,Lq,Lk] causal");
    fcase b3 = {.B = 4, .Hq = 2, .Hkv = 2, .Lq = 30, .Lk = 80, .E = 16, .Ev = 16, .bias = 3};
    check_case(&b3, 1, "bias [B,1,1,Lk] with -inf");
    fcase l1 = {.B = 4, .Hq = 2, .Hkv = 2, .Lq = 65, .Lk = 130, .E = 16, .Ev = 16, .lengths = 1};
    check_case(&l1, 1, "key lengths incl. 0");
    fcase l2 = {.B = 4, .Hq = 2, .Hkv = 1, .Lq = 65, .Lk = 130, .E = 16, .Ev = 16, .lengths = 1,
                .causal = 1, .align = 1, .mask = 1, .blhe = 1};
    check_case(&l2, 1, "lengths + causal br + mask, blhe");
}

Test(flash, alibi_softcap_dropout_gqa_layouts)
{
    fcase a = {.B = 1, .Hq = 4, .Hkv = 2, .Lq = 70, .Lk = 90, .E = 16, .Ev = 16, .alibi = 1,
               .causal = 1};
    check_case(&a, 1, "alibi causal gqa");
    fcase s = {.B = 1, .Hq = 2, .Hkv = 2, .Lq = 70, .Lk = 90, .E = 16, .Ev = 16, .softcap = 2};
    check_case(&s, 1, "softcap");
    fcase d = {.B = 2, .Hq = 4, .Hkv = 1, .Lq = 70, .Lk = 90, .E = 16, .Ev = 24, .dropout = 0.3f,
               .blhe = 1};
    check_case(&d, 1, "dropout mqa blhe");
    fcase all = {.B = 2, .Hq = 4, .Hkv = 2, .Lq = 67, .Lk = 131, .E = 24, .Ev = 40, .alibi = 1,
                 .softcap = 5, .dropout = 0.2f, .bias = 1, .mask = 2, .lengths = 1, .causal = 1,
                 .align = 1, .window = 1, .wl = 50, .wr = 3, .blhe = 1};
    check_case(&all, 1, "everything at once");
}

Test(flash, decode_shapes)
{
    fcase c1 = {.B = 1, .Hq = 4, .Hkv = 2, .Lq = 1, .Lk = 3000, .E = 64, .Ev = 64};
    check_case(&c1, 0, "decode Lq=1 split");
    fcase c2 = {.B = 2, .Hq = 2, .Hkv = 2, .Lq = 5, .Lk = 2500, .E = 40, .Ev = 24, .causal = 1,
                .align = 1, .lengths = 1, .dropout = 0.1f, .alibi = 1};
    check_case(&c2, 1, "decode Lq=5 bottom-right lengths dropout alibi");
    fcase c3 = {.B = 1, .Hq = 2, .Hkv = 2, .Lq = 3, .Lk = 300, .E = 20, .Ev = 20, .blhe = 1,
                .mask = 1};
    check_case(&c3, 1, "rows path mask blhe");
}

/* ---- determinism --------------------------------------------------------------------------- */

/* Forward and backward with 1, 2 and 7 threads must give the same bits. */
static void check_threads(const fcase *c, const char *name)
{
    fbufs f;
    make(c, &f);
    const int64_t no = c->B * c->Hq * c->Lq * c->Ev, nl = c->B * c->Hq * c->Lq;
    const int64_t nq = c->B * c->Hq * c->Lq * c->E, nk = c->B * c->Hkv * c->Lk * c->E;
    const int64_t nv = c->B * c->Hkv * c->Lk * c->Ev;
    float *o1 = NULL, *l1 = NULL, *q1 = NULL, *k1 = NULL, *v1 = NULL;
    static const int th[] = {1, 2, 7};
    f.opt.kernel = ATTN_KERNEL_FLASH;
    for (int t = 0; t < 3; t++) {
        f.opt.num_threads = th[t];
        cr_assert_eq(attn_sdpa_forward(&f.tq, &f.tk, &f.tv, &f.opt, &f.to, f.lse, NULL), 0);
        cr_assert_eq(attn_sdpa_backward(&f.tq, &f.tk, &f.tv, &f.to, f.lse, &f.tdo, &f.opt, &f.tdq,
                                        &f.tdk, &f.tdv, NULL),
                     0, "%s", attn_last_error());
        if (t == 0) {
            o1 = copy(f.o, no), l1 = copy(f.lse, nl), q1 = copy(f.dq, nq), k1 = copy(f.dk, nk);
            v1 = copy(f.dv, nv);
            continue;
        }
        cr_expect(!memcmp(o1, f.o, (size_t)no * 4), "%s: out differs at %d threads", name, th[t]);
        cr_expect(!memcmp(l1, f.lse, (size_t)nl * 4), "%s: lse differs at %d threads", name, th[t]);
        cr_expect(!memcmp(q1, f.dq, (size_t)nq * 4), "%s: dq differs at %d threads", name, th[t]);
        cr_expect(!memcmp(k1, f.dk, (size_t)nk * 4), "%s: dk differs at %d threads", name, th[t]);
        cr_expect(!memcmp(v1, f.dv, (size_t)nv * 4), "%s: dv differs at %d threads", name, th[t]);
    }
    free(o1), free(l1), free(q1), free(k1), free(v1);
    release(&f);
}

Test(flash, bit_identical_across_threads)
{
    fcase a = {.B = 1, .Hq = 3, .Hkv = 1, .Lq = 200, .Lk = 300, .E = 32, .Ev = 32, .causal = 1,
               .dropout = 0.1f};
    check_threads(&a, "split backward (few heads), causal, dropout");
    fcase b = {.B = 2, .Hq = 8, .Hkv = 8, .Lq = 70, .Lk = 90, .E = 16, .Ev = 16, .lengths = 1};
    check_threads(&b, "many heads");
    fcase d = {.B = 1, .Hq = 2, .Hkv = 2, .Lq = 3, .Lk = 5000, .E = 32, .Ev = 32};
    check_threads(&d, "decode split");
}

/* ---- finite differences ---------------------------------------------------------------------- */

/* loss = Σ dout ∘ out: its gradient w.r.t. x[idx] by central differences (float forward, step
 * chosen for float) vs the analytic one. */
Test(flash, finite_differences)
{
    fcase c = {.B = 1, .Hq = 2, .Hkv = 1, .Lq = 9, .Lk = 11, .E = 5, .Ev = 6, .causal = 1,
               .align = 1, .softcap = 3, .alibi = 1, .bias = 1};
    fbufs f;
    make(&c, &f);
    f.opt.kernel = ATTN_KERNEL_FLASH;
    const int64_t no = c.B * c.Hq * c.Lq * c.Ev;
    cr_assert_eq(attn_sdpa_forward(&f.tq, &f.tk, &f.tv, &f.opt, &f.to, f.lse, NULL), 0);
    cr_assert_eq(attn_sdpa_backward(&f.tq, &f.tk, &f.tv, &f.to, f.lse, &f.tdo, &f.opt, &f.tdq,
                                    &f.tdk, &f.tdv, &f.tdbias),
                 0, "%s", attn_last_error());
    float *out = malloc((size_t)no * sizeof(float));
    attn_tensor tout = attn_tensor_4d(out, c.B, c.Hq, c.Lq, c.Ev);
    struct {
        float *x, *g;
        int64_t n;
        const char *name;
    } vars[] = {{f.q, f.dq, c.B * c.Hq * c.Lq * c.E, "q"},
                {f.k, f.dk, c.B * c.Hkv * c.Lk * c.E, "k"},
                {f.v, f.dv, c.B * c.Hkv * c.Lk * c.Ev, "v"},
                {f.bias, f.dbias, c.B * c.Hq * c.Lq * c.Lk, "bias"}};
    for (int vi = 0; vi < 4; vi++)
        for (int64_t idx = 0; idx < vars[vi].n; idx += 7) {
            double lp[2];
            const float save = vars[vi].x[idx], h = 1e-2f;
            for (int sgn = 0; sgn < 2; sgn++) {
                vars[vi].x[idx] = save + (sgn ? -h : h);
                cr_assert_eq(attn_sdpa_forward(&f.tq, &f.tk, &f.tv, &f.opt, &tout, NULL, NULL), 0);
                double s = 0;
                for (int64_t i = 0; i < no; i++) s += (double)out[i] * f.dout[i];
                lp[sgn] = s;
            }
            vars[vi].x[idx] = save;
            double num = (lp[0] - lp[1]) / (2.0 * h), ana = vars[vi].g[idx];
            cr_expect(fabs(num - ana) <= 2e-3 + 2e-2 * fabs(ana), "d%s[%lld]: analytic %g numeric %g",
                      vars[vi].name, (long long)idx, ana, num);
        }
    free(out);
    release(&f);
}

/* ---- fully masked rows -------------------------------------------------------------------- */

Test(flash, rows_with_nothing_to_attend)
{
    fcase c = {.B = 1, .Hq = 1, .Hkv = 1, .Lq = 70, .Lk = 40, .E = 8, .Ev = 8, .causal = 1,
               .align = 1};
    fbufs f;
    make(&c, &f);
    f.opt.kernel = ATTN_KERNEL_FLASH;
    cr_assert_eq(attn_sdpa_forward(&f.tq, &f.tk, &f.tv, &f.opt, &f.to, f.lse, NULL), 0);
    cr_assert_eq(attn_sdpa_backward(&f.tq, &f.tk, &f.tv, &f.to, f.lse, &f.tdo, &f.opt, &f.tdq,
                                    &f.tdk, &f.tdv, NULL),
                 0);
    for (int64_t i = 0; i < 30; i++) { /* rows i < Lq − Lk see no key */
        cr_expect(f.lse[i] == -INFINITY, "lse[%lld]=%g", (long long)i, f.lse[i]);
        for (int64_t e = 0; e < 8; e++) {
            cr_expect(f.o[i * 8 + e] == 0.0f);
            cr_expect(f.dq[i * 8 + e] == 0.0f);
        }
    }
    for (int64_t i = 0; i < 70 * 8; i++) cr_expect(isfinite(f.o[i]) && isfinite(f.dq[i]));
    release(&f);
}
