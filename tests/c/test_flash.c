/* test_flash.c — the fused attention kernel against the textbook reference (itself checked in
 * double), over shapes, masks, layouts and every SIMD path; determinism across thread counts;
 * finite differences; the fused extras (varlen, slices + merge, weights on demand, entropy). */
#include <criterion/criterion.h>
#include <sched.h>
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

static void check_threads(const fcase *c, const char *name);

Test(flash, odd_widths_and_wide_heads)
{
    fcase c1 = {.B = 1, .Hq = 1, .Hkv = 1, .Lq = 33, .Lk = 70, .E = 3, .Ev = 5};
    check_case(&c1, 1, "E=3 Ev=5");
    fcase c2 = {.B = 1, .Hq = 1, .Hkv = 1, .Lq = 20, .Lk = 40, .E = 256, .Ev = 200};
    check_case(&c2, 1, "E=256 Ev=200");
    fcase c3 = {.B = 1, .Hq = 1, .Hkv = 1, .Lq = 20, .Lk = 40, .E = 130, .Ev = 256, .scale = 0.3f};
    check_case(&c3, 1, "E=130 Ev=256 scale");
    /* wide rows over several query tiles, the last one ragged, with causal masks, key lengths
     * and dropout */
    fcase c4 = {.B = 2, .Hq = 2, .Hkv = 1, .Lq = 150, .Lk = 140, .E = 96, .Ev = 72, .causal = 1,
                .lengths = 1, .dropout = 0.1f};
    check_case(&c4, 1, "E=96 Ev=72, 3 query tiles");
    check_threads(&c4, "E=96 Ev=72, 3 query tiles");
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
    /* short key rows: a tile's dropout decisions drawn as one run (whole rows, then rows with
     * a few keys past the tile: key lengths) */
    fcase sh = {.B = 2, .Hq = 3, .Hkv = 3, .Lq = 45, .Lk = 29, .E = 16, .Ev = 16, .dropout = 0.3f};
    check_case(&sh, 1, "dropout, whole short rows");
    fcase sl = {.B = 3, .Hq = 2, .Hkv = 1, .Lq = 37, .Lk = 41, .E = 8, .Ev = 12, .dropout = 0.2f,
                .lengths = 1, .causal = 1};
    check_case(&sl, 1, "dropout, short rows with key lengths, causal");
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
    fcase c4 = {.B = 2, .Hq = 4, .Hkv = 1, .Lq = 2, .Lk = 150, .E = 20, .Ev = 36, .bias = 1,
                .softcap = 2, .window = 1, .wl = 60, .wr = 60, .dropout = 0.25f};
    check_case(&c4, 1, "rows backward: gqa bias softcap window dropout");
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

/* The backward packs Q and dO once per task when they fit attn_flash_bwd_pack_bytes, else
 * tile by tile: both paths give the same bits, and agree with the reference. */
extern int64_t attn_flash_bwd_pack_bytes;

Test(flash, backward_packing_paths_agree)
{
    fcase c = {.B = 2, .Hq = 4, .Hkv = 2, .Lq = 300, .Lk = 260, .E = 40, .Ev = 24, .blhe = 1,
               .causal = 1, .dropout = 0.1f};
    fbufs f;
    make(&c, &f);
    const int64_t nq = c.B * c.Hq * c.Lq * c.E, nk = c.B * c.Hkv * c.Lk * c.E;
    const int64_t nv = c.B * c.Hkv * c.Lk * c.Ev;
    const int64_t saved = attn_flash_bwd_pack_bytes;
    float *g[2][3];
    f.opt.kernel = ATTN_KERNEL_FLASH;
    f.opt.num_threads = 2;
    cr_assert_eq(attn_sdpa_forward(&f.tq, &f.tk, &f.tv, &f.opt, &f.to, f.lse, NULL), 0);
    for (int pass = 0; pass < 2; pass++) {
        attn_flash_bwd_pack_bytes = pass == 0 ? saved : 0;
        cr_assert_eq(attn_sdpa_backward(&f.tq, &f.tk, &f.tv, &f.to, f.lse, &f.tdo, &f.opt, &f.tdq,
                                        &f.tdk, &f.tdv, NULL),
                     0, "%s", attn_last_error());
        g[pass][0] = copy(f.dq, nq), g[pass][1] = copy(f.dk, nk), g[pass][2] = copy(f.dv, nv);
    }
    attn_flash_bwd_pack_bytes = saved;
    cr_expect(!memcmp(g[0][0], g[1][0], (size_t)nq * 4), "dq differs between the paths");
    cr_expect(!memcmp(g[0][1], g[1][1], (size_t)nk * 4), "dk differs between the paths");
    cr_expect(!memcmp(g[0][2], g[1][2], (size_t)nv * 4), "dv differs between the paths");
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < 3; i++) free(g[pass][i]);
    release(&f);
    attn_flash_bwd_pack_bytes = 0; /* the tile-by-tile path against the reference */
    check_case(&c, 1, "tile-by-tile packing, [B, L, H, E], causal, dropout, GQA");
    attn_flash_bwd_pack_bytes = saved;
}

/* The forward packs a head's keys and values once per thread when they fit the thread's share
 * of attn_flash_fwd_cache_bytes, else tile by tile: the same bits either way, with GQA, [B, L, H, E]
 * rows, and windows whose key ranges move between query tiles (the packed run restarts, or
 * grows before and after what it holds), on 1 and 3 threads. */
extern int64_t attn_flash_fwd_cache_bytes;

Test(flash, forward_packing_paths_agree)
{
    static const fcase cs[] = {
        {.B = 2, .Hq = 4, .Hkv = 2, .Lq = 300, .Lk = 260, .E = 40, .Ev = 24, .blhe = 1, .causal = 1},
        {.B = 1, .Hq = 2, .Hkv = 1, .Lq = 200, .Lk = 200, .E = 16, .Ev = 16, .causal = 1,
         .window = 1, .wl = 70},
        {.B = 1, .Hq = 2, .Hkv = 2, .Lq = 400, .Lk = 420, .E = 32, .Ev = 48, .window = 1,
         .wl = 150, .wr = 20, .align = 1},
    };
    const int64_t saved = attn_flash_fwd_cache_bytes;
    for (int ci = 0; ci < 3; ci++) {
        const fcase *c = &cs[ci];
        fbufs f;
        make(c, &f);
        const int64_t no = c->B * c->Hq * c->Lq * c->Ev, nl = c->B * c->Hq * c->Lq;
        float *o[2], *l[2];
        f.opt.kernel = ATTN_KERNEL_FLASH;
        for (int th = 1; th <= 3; th += 2) {
            f.opt.num_threads = th;
            for (int pass = 0; pass < 2; pass++) {
                attn_flash_fwd_cache_bytes = pass == 0 ? saved : 0;
                cr_assert_eq(attn_sdpa_forward(&f.tq, &f.tk, &f.tv, &f.opt, &f.to, f.lse, NULL), 0,
                             "%s", attn_last_error());
                o[pass] = copy(f.o, no), l[pass] = copy(f.lse, nl);
            }
            attn_flash_fwd_cache_bytes = saved;
            cr_expect(!memcmp(o[0], o[1], (size_t)no * 4), "case %d, %d threads: out differs", ci, th);
            cr_expect(!memcmp(l[0], l[1], (size_t)nl * 4), "case %d, %d threads: lse differs", ci, th);
            for (int pass = 0; pass < 2; pass++) free(o[pass]), free(l[pass]);
        }
        release(&f);
        check_case(c, 0, "forward with the packed heads"); /* and against the reference */
    }
    attn_flash_fwd_cache_bytes = saved;
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
            cr_expect(fabs(num - ana) <= 5e-4 + 3e-3 * fabs(ana), "d%s[%lld]: analytic %g numeric %g",
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

/* ---- key slices and merge ------------------------------------------------------------------ */

Test(flash, slices_merge_to_the_whole)
{
    fcase c = {.B = 2, .Hq = 2, .Hkv = 1, .Lq = 40, .Lk = 150, .E = 16, .Ev = 12, .causal = 1,
               .align = 1, .alibi = 1, .mask = 1, .lengths = 1, .dropout = 0.2f};
    fbufs f;
    make(&c, &f);
    const int64_t no = c.B * c.Hq * c.Lq * c.Ev, nl = c.B * c.Hq * c.Lq;
    f.opt.kernel = ATTN_KERNEL_REFERENCE;
    cr_assert_eq(attn_sdpa_forward(&f.tq, &f.tk, &f.tv, &f.opt, &f.to, f.lse, NULL), 0);
    const int64_t cut[4] = {0, 37, 100, 150};
    float *po[3], *pl[3];
    attn_tensor to[3];
    for (int s = 0; s < 3; s++) {
        const int64_t n = cut[s + 1] - cut[s];
        po[s] = malloc((size_t)no * sizeof(float)), pl[s] = malloc((size_t)nl * sizeof(float));
        to[s] = attn_tensor_4d(po[s], c.B, c.Hq, c.Lq, c.Ev);
        attn_tensor ks = attn_tensor_4d(f.k + cut[s] * c.E, c.B, c.Hkv, n, c.E);
        attn_tensor vs = attn_tensor_4d(f.v + cut[s] * c.Ev, c.B, c.Hkv, n, c.Ev);
        ks.stride[0] = ks.stride[1] = c.Lk * c.E; /* slices of the full K, V (Hkv = 1) */
        vs.stride[0] = vs.stride[1] = c.Lk * c.Ev;
        f.opt.kernel = ATTN_KERNEL_AUTO;
        cr_assert_eq(attn_sdpa_forward_partial(&f.tq, &ks, &vs, &f.opt, cut[s], c.Lk, &to[s], pl[s]),
                     0, "%s", attn_last_error());
    }
    float *mo = malloc((size_t)no * sizeof(float)), *ml = malloc((size_t)nl * sizeof(float));
    attn_tensor tm = attn_tensor_4d(mo, c.B, c.Hq, c.Lq, c.Ev);
    cr_assert_eq(attn_sdpa_merge(3, to, (const float *const *)pl, &tm, ml), 0, "%s", attn_last_error());
    cr_expect(rel_err(mo, f.o, no, 1e-3) <= 4e-6, "merged out err %g", rel_err(mo, f.o, no, 1e-3));
    cr_expect(rel_err(ml, f.lse, nl, 1.0) <= 2e-6, "merged lse err %g", rel_err(ml, f.lse, nl, 1.0));
    /* merging into one of the inputs works too */
    cr_assert_eq(attn_sdpa_merge(3, to, (const float *const *)pl, &to[0], NULL), 0);
    cr_expect(!memcmp(po[0], mo, (size_t)no * sizeof(float)));
    for (int s = 0; s < 3; s++) free(po[s]), free(pl[s]);
    free(mo), free(ml);
    release(&f);
}

/* ---- varlen -------------------------------------------------------------------------------- */

Test(flash, varlen_equals_separate_calls)
{
    const int nseq = 4;
    const int32_t lq[4] = {17, 0, 70, 5}, lk[4] = {30, 9, 64, 130};
    int32_t cq[5] = {0}, ck[5] = {0};
    for (int s = 0; s < nseq; s++) cq[s + 1] = cq[s] + lq[s], ck[s + 1] = ck[s] + lk[s];
    const int64_t Hq = 4, Hkv = 2, E = 24, Ev = 16, TQ = cq[nseq], TK = ck[nseq];
    float *q = rand_buf(TQ * Hq * E, 1.5f), *k = rand_buf(TK * Hkv * E, 1.5f);
    float *v = rand_buf(TK * Hkv * Ev, 1), *dout = rand_buf(TQ * Hq * Ev, 1);
    float *o = calloc((size_t)(TQ * Hq * Ev), 4), *lse = calloc((size_t)(TQ * Hq), 4);
    float *dq = calloc((size_t)(TQ * Hq * E), 4), *dk = calloc((size_t)(TK * Hkv * E), 4);
    float *dv = calloc((size_t)(TK * Hkv * Ev), 4);
    attn_tensor tq = attn_tensor_blhe(q, 1, TQ, Hq, E), tk = attn_tensor_blhe(k, 1, TK, Hkv, E);
    attn_tensor tv = attn_tensor_blhe(v, 1, TK, Hkv, Ev), to = attn_tensor_blhe(o, 1, TQ, Hq, Ev);
    attn_tensor tdo = attn_tensor_blhe(dout, 1, TQ, Hq, Ev), tdq = attn_tensor_blhe(dq, 1, TQ, Hq, E);
    attn_tensor tdk = attn_tensor_blhe(dk, 1, TK, Hkv, E), tdv = attn_tensor_blhe(dv, 1, TK, Hkv, Ev);
    attn_sdpa_options opt = {.causal = 1, .align = ATTN_ALIGN_BOTTOM_RIGHT, .dropout_p = 0.1f,
                             .seed = 5, .offset = 3, .softcap = 4};
    cr_assert_eq(attn_sdpa_forward_varlen(&tq, &tk, &tv, cq, ck, nseq, &opt, &to, lse), 0, "%s",
                 attn_last_error());
    cr_assert_eq(attn_sdpa_backward_varlen(&tq, &tk, &tv, &to, lse, &tdo, cq, ck, nseq, &opt, &tdq,
                                           &tdk, &tdv),
                 0, "%s", attn_last_error());
    for (int s = 0; s < nseq; s++) {
        if (lk[s] == 0) continue;
        attn_sdpa_options o1 = opt;
        o1.offset = opt.offset + (uint64_t)s;
        o1.kernel = ATTN_KERNEL_REFERENCE;
        const int64_t LQ = lq[s] ? lq[s] : 1;
        float *ro = calloc((size_t)(LQ * Hq * Ev), 4), *rl = calloc((size_t)(LQ * Hq), 4);
        float *rdq = calloc((size_t)(LQ * Hq * E), 4), *rdk = calloc((size_t)(lk[s] * Hkv * E), 4);
        float *rdv = calloc((size_t)(lk[s] * Hkv * Ev), 4);
        attn_tensor sq = attn_tensor_blhe(q + cq[s] * Hq * E, 1, LQ, Hq, E);
        attn_tensor sk = attn_tensor_blhe(k + ck[s] * Hkv * E, 1, lk[s], Hkv, E);
        attn_tensor sv = attn_tensor_blhe(v + ck[s] * Hkv * Ev, 1, lk[s], Hkv, Ev);
        attn_tensor sdo = attn_tensor_blhe(dout + cq[s] * Hq * Ev, 1, LQ, Hq, Ev);
        attn_tensor so = attn_tensor_blhe(ro, 1, LQ, Hq, Ev), sdq = attn_tensor_blhe(rdq, 1, LQ, Hq, E);
        attn_tensor sdk = attn_tensor_blhe(rdk, 1, lk[s], Hkv, E);
        attn_tensor sdv = attn_tensor_blhe(rdv, 1, lk[s], Hkv, Ev);
        if (lq[s] == 0) { /* no queries: dk, dv of the sequence are 0 */
            for (int64_t i = 0; i < lk[s] * Hkv * E; i++) cr_expect(dk[ck[s] * Hkv * E + i] == 0);
        } else {
            cr_assert_eq(attn_sdpa_forward(&sq, &sk, &sv, &o1, &so, rl, NULL), 0);
            cr_assert_eq(attn_sdpa_backward(&sq, &sk, &sv, &so, rl, &sdo, &o1, &sdq, &sdk, &sdv, NULL), 0);
            cr_expect(rel_err(o + cq[s] * Hq * Ev, ro, LQ * Hq * Ev, 1e-3) <= 2e-6, "seq %d out", s);
            for (int64_t h = 0; h < Hq; h++)
                cr_expect(rel_err(lse + h * TQ + cq[s], rl + h * LQ, LQ, 1) <= 2e-6, "seq %d lse", s);
            cr_expect(rel_err(dq + cq[s] * Hq * E, rdq, LQ * Hq * E, 0.05) <= 2e-5, "seq %d dq", s);
            cr_expect(rel_err(dk + ck[s] * Hkv * E, rdk, lk[s] * Hkv * E, 0.05) <= 2e-5, "seq %d dk", s);
            cr_expect(rel_err(dv + ck[s] * Hkv * Ev, rdv, lk[s] * Hkv * Ev, 0.05) <= 2e-5, "seq %d dv", s);
        }
        free(ro), free(rl), free(rdq), free(rdk), free(rdv);
    }
    /* errors */
    int32_t bad[5] = {0, 5, 3, 90, (int32_t)TQ};
    cr_expect_eq(attn_sdpa_forward_varlen(&tq, &tk, &tv, bad, ck, nseq, &opt, &to, lse), ATTN_E_ARG);
    cr_expect(strstr(attn_last_error(), "cu_seqlens_q") != NULL);
    int32_t shortk[5] = {0, 1, 2, 3, 4};
    cr_expect_eq(attn_sdpa_forward_varlen(&tq, &tk, &tv, cq, shortk, nseq, &opt, &to, lse), ATTN_E_SHAPE);
    cr_expect_eq(attn_sdpa_forward_varlen(&tq, &tk, &tv, cq, ck, 0, &opt, &to, lse), ATTN_E_ARG);
    cr_expect_eq(attn_sdpa_forward_varlen(&tq, &tk, &tv, NULL, ck, nseq, &opt, &to, lse), ATTN_E_ARG);
    cr_expect_eq(attn_sdpa_backward_varlen(&tq, &tk, &tv, &to, NULL, &tdo, cq, ck, nseq, &opt, &tdq,
                                           &tdk, &tdv),
                 ATTN_E_ARG);
    int32_t lens[1] = {3};
    opt.key_lengths = lens;
    cr_expect_eq(attn_sdpa_forward_varlen(&tq, &tk, &tv, cq, ck, nseq, &opt, &to, lse), ATTN_E_ARG);
    free(q), free(k), free(v), free(dout), free(o), free(lse), free(dq), free(dk), free(dv);
}

/* ---- weights on demand and entropy ---------------------------------------------------------- */

Test(flash, weights_on_demand_and_entropy)
{
    fcase c = {.B = 2, .Hq = 2, .Hkv = 1, .Lq = 90, .Lk = 140, .E = 16, .Ev = 16, .causal = 1,
               .align = 1, .alibi = 1, .softcap = 3, .mask = 2, .lengths = 1};
    fbufs f;
    make(&c, &f);
    const int64_t nw = c.B * c.Hq * c.Lq * c.Lk, nl = c.B * c.Hq * c.Lq;
    float *w = malloc((size_t)nw * sizeof(float));
    attn_tensor tw = attn_tensor_4d(w, c.B, c.Hq, c.Lq, c.Lk);
    f.opt.kernel = ATTN_KERNEL_AUTO; /* weights → reference */
    cr_assert_eq(attn_sdpa_forward(&f.tq, &f.tk, &f.tv, &f.opt, &f.to, f.lse, &tw), 0);
    const int64_t b = 1, h = 1, r0 = 10, r1 = 85, rows = r1 - r0;
    float *mine = malloc((size_t)(rows * c.Lk) * sizeof(float));
    int64_t shp[2] = {rows, c.Lk};
    attn_tensor tm = attn_tensor_make(mine, 2, shp);
    for (int with_lse = 0; with_lse < 2; with_lse++) {
        memset(mine, 0xff, (size_t)(rows * c.Lk) * sizeof(float));
        cr_assert_eq(attn_sdpa_weights(&f.tq, &f.tk, &f.opt, with_lse ? f.lse : NULL, b, h, r0, r1, &tm),
                     0, "%s", attn_last_error());
        double e = rel_err(mine, w + ((b * c.Hq + h) * c.Lq + r0) * c.Lk, rows * c.Lk, 1e-3);
        cr_expect(e <= 5e-6, "weights (lse %d) err %g", with_lse, e);
    }
    float *ent = malloc((size_t)nl * sizeof(float));
    cr_assert_eq(attn_sdpa_forward_entropy(&f.tq, &f.tk, &f.tv, &f.opt, &f.to, NULL, ent), 0, "%s",
                 attn_last_error());
    for (int64_t r = 0; r < nl; r++) {
        double H = 0;
        for (int64_t j = 0; j < c.Lk; j++) {
            double p = w[r * c.Lk + j];
            if (p > 0) H -= p * log(p);
        }
        cr_expect(fabs(ent[r] - H) <= 1e-5 * (1 + H), "entropy row %lld: %g vs %g", (long long)r, ent[r], H);
    }
    /* errors */
    cr_expect_eq(attn_sdpa_weights(&f.tq, &f.tk, &f.opt, NULL, 2, 0, 0, 1, &tm), ATTN_E_ARG);
    cr_expect_eq(attn_sdpa_weights(&f.tq, &f.tk, &f.opt, NULL, 0, 0, 5, 5, &tm), ATTN_E_ARG);
    cr_expect_eq(attn_sdpa_weights(&f.tq, &f.tk, &f.opt, NULL, 0, 0, 0, rows - 1, &tm), ATTN_E_SHAPE);
    cr_expect_eq(attn_sdpa_forward_entropy(&f.tq, &f.tk, &f.tv, &f.opt, &f.to, NULL, NULL), ATTN_E_ARG);
    free(w), free(mine), free(ent);
    release(&f);
}

/* ---- error paths of the extras -------------------------------------------------------------- */

Test(flash, partial_and_merge_errors)
{
    float buf[4 * 8 * 4] = {0}, l[8] = {0};
    attn_tensor q = attn_tensor_4d(buf, 1, 1, 2, 4), k = attn_tensor_4d(buf, 1, 1, 3, 4);
    attn_tensor o = attn_tensor_4d(buf + 64, 1, 1, 2, 4);
    attn_sdpa_options opt = {0};
    cr_expect_eq(attn_sdpa_forward_partial(&q, &k, &k, &opt, 2, 4, &o, l), ATTN_E_ARG);
    cr_expect(strstr(attn_last_error(), "total_keys") != NULL);
    cr_expect_eq(attn_sdpa_forward_partial(&q, &k, &k, &opt, -1, 4, &o, l), ATTN_E_ARG);
    cr_expect_eq(attn_sdpa_forward_partial(&q, &k, &k, &opt, 0, 4, &o, NULL), ATTN_E_ARG);
    opt.kernel = ATTN_KERNEL_REFERENCE;
    cr_expect_eq(attn_sdpa_forward_partial(&q, &k, &k, &opt, 0, 4, &o, l), ATTN_E_UNSUPPORTED);
    const float *ls[1] = {l};
    attn_tensor bad = attn_tensor_4d(buf, 1, 1, 3, 4);
    cr_expect_eq(attn_sdpa_merge(0, &o, ls, &o, NULL), ATTN_E_ARG);
    cr_expect_eq(attn_sdpa_merge(1, &bad, ls, &o, NULL), ATTN_E_SHAPE);
    const float *nul[1] = {NULL};
    cr_expect_eq(attn_sdpa_merge(1, &o, nul, &o, NULL), ATTN_E_ARG);
    /* a row every slice left empty merges to 0 and −∞ */
    float ninf[2] = {-INFINITY, -INFINITY}, out[8];
    const float *l2[2] = {ninf, ninf};
    attn_tensor outs[2] = {attn_tensor_4d(buf, 1, 1, 2, 4), attn_tensor_4d(buf + 8, 1, 1, 2, 4)};
    attn_tensor to = attn_tensor_4d(out, 1, 1, 2, 4);
    float lo[2];
    cr_expect_eq(attn_sdpa_merge(2, outs, l2, &to, lo), 0);
    cr_expect(lo[0] == -INFINITY && out[0] == 0);
    /* E above what the fused kernel serves: AUTO falls back, FLASH refuses */
    float *big = calloc(300 * 4, sizeof(float));
    attn_tensor wq = attn_tensor_4d(big, 1, 1, 1, 300), wo = attn_tensor_4d(big + 600, 1, 1, 1, 300);
    opt.kernel = ATTN_KERNEL_FLASH;
    cr_expect_eq(attn_sdpa_forward(&wq, &wq, &wq, &opt, &wo, NULL, NULL), ATTN_E_UNSUPPORTED);
    opt.kernel = ATTN_KERNEL_AUTO;
    cr_expect_eq(attn_sdpa_forward(&wq, &wq, &wq, &opt, &wo, NULL, NULL), 0);
    free(big);
}

/* ---- the team's threads on distinct CPUs (internal.h: attn_team_spread) --------------------- */

extern double attn_team_spread_min_flops;
int attn_team_target(const int *cpus, int nt, int t, const unsigned char *allowed, int ncpus);

Test(flash, team_targets)
{
    unsigned char all4[4] = {1, 1, 1, 1}, only3[4] = {0, 0, 0, 1}, no1[4] = {1, 0, 1, 1};
    const int apart[2] = {0, 1}, stacked[2] = {0, 0}, three[3] = {3, 3, 3}, unknown[2] = {-1, 2};
    cr_expect_eq(attn_team_target(apart, 2, 0, all4, 4), 0, "a thread alone on its CPU stays");
    cr_expect_eq(attn_team_target(apart, 2, 1, all4, 4), 1);
    cr_expect_eq(attn_team_target(stacked, 2, 0, all4, 4), 0, "the first thread keeps its CPU");
    cr_expect_eq(attn_team_target(stacked, 2, 1, all4, 4), 1, "the second moves to a free one");
    cr_expect_eq(attn_team_target(stacked, 2, 1, no1, 4), 2, "... that it may use");
    int t1 = attn_team_target(three, 3, 1, all4, 4), t2 = attn_team_target(three, 3, 2, all4, 4);
    cr_expect(t1 == 0 && t2 == 1, "three on CPU 3 spread to 3, 0, 1 (got %d, %d)", t1, t2);
    cr_expect_eq(attn_team_target(three, 3, 2, only3, 4), 3, "no free CPU: it stays");
    cr_expect_eq(attn_team_target(unknown, 2, 0, all4, 4), -1, "an unknown CPU is left alone");
    cr_expect_eq(attn_team_target(unknown, 2, 1, all4, 4), 2);
}

/* Spreading changes where threads run, never what they compute, and gives every thread its own
 * affinity back: the caller's mask after a call is the one before, also when the caller is
 * bound to one CPU (then it is left alone). */
static int same_mask(const cpu_set_t *a, const cpu_set_t *b) { return CPU_EQUAL(a, b); }

Test(flash, team_spread_keeps_results_and_affinity)
{
    fcase c = {.B = 1, .Hq = 3, .Hkv = 3, .Lq = 260, .Lk = 260, .E = 32, .Ev = 32, .causal = 1,
               .dropout = 0.1f};
    fbufs f;
    make(&c, &f);
    const int64_t no = c.B * c.Hq * c.Lq * c.Ev, nq = c.B * c.Hq * c.Lq * c.E;
    const double saved_min = attn_team_spread_min_flops;
    cpu_set_t before, after, one;
    cr_assert_eq(sched_getaffinity(0, sizeof before, &before), 0);
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu(), &one);
    float *o[3], *dq[3];
    f.opt.kernel = ATTN_KERNEL_FLASH;
    f.opt.num_threads = 2; /* a team no larger than the CPUs (on ≥ 2 of them), so it binds */
    for (int pass = 0; pass < 3; pass++) { /* off; on; on with the caller bound to one CPU */
        attn_team_spread_min_flops = pass == 0 ? 1e300 : 0;
        if (pass == 2) cr_assert_eq(sched_setaffinity(0, sizeof one, &one), 0);
        cr_assert_eq(attn_sdpa_forward(&f.tq, &f.tk, &f.tv, &f.opt, &f.to, f.lse, NULL), 0, "%s",
                     attn_last_error());
        cr_assert_eq(attn_sdpa_backward(&f.tq, &f.tk, &f.tv, &f.to, f.lse, &f.tdo, &f.opt, &f.tdq,
                                        &f.tdk, &f.tdv, NULL),
                     0, "%s", attn_last_error());
        cr_assert_eq(sched_getaffinity(0, sizeof after, &after), 0);
        cr_expect(same_mask(&after, pass == 2 ? &one : &before),
                  "pass %d: the caller's affinity changed", pass);
        o[pass] = copy(f.o, no), dq[pass] = copy(f.dq, nq);
    }
    sched_setaffinity(0, sizeof before, &before);
    attn_team_spread_min_flops = saved_min;
    for (int pass = 1; pass < 3; pass++) {
        cr_expect(!memcmp(o[0], o[pass], (size_t)no * 4), "pass %d: out differs", pass);
        cr_expect(!memcmp(dq[0], dq[pass], (size_t)nq * 4), "pass %d: dq differs", pass);
    }
    for (int pass = 0; pass < 3; pass++) free(o[pass]), free(dq[pass]);
    release(&f);
}
