/* flash.c — fused scaled dot-product attention, forward (FlashAttention-2 on the CPU).
 *
 * One task is (segment, batch b, query head h, query tile of FLASH_BR rows, key split). It packs
 * Qᵀ of its tile once, then walks the key tiles its rows may attend (tiles hidden by causal,
 * window or key lengths are never visited):
 *
 *     Sᵀ = scale · K_tile · Qᵀ              (keys × queries, K read in place)
 *     element masks, structural masks on boundary tiles
 *     online softmax down each column:  m, l, α = exp(m_old − m_new)
 *     Oᵀ = α ∘ Oᵀ + V_tileᵀ · dropout(Pᵀ)
 *
 * and finishes O = Oᵀᵀ / l, lse = m + log l. Memory: a few tiles per thread, nothing Lq×Lk.
 * Decoding (Lq ≤ FLASH_SPLIT_LQ) splits long key ranges into a fixed number of slices —
 * fixed by the problem, never by the thread count — and merges them through their lse, so one
 * sequence uses every core and results are bit-identical for any thread count. */
#include "flash_internal.h"

#include <string.h>

#define FLASH_SPLIT_LQ 16     /* query lengths up to this are "decoding": keys get split */
#define FLASH_SPLIT_KEYS 1024 /* keys per split, at least */
#define FLASH_SPLIT_MAX 64
#define FLASH_FWD_BC 96 /* keys per forward tile: 16 blocks of the 6-row micro-kernel */

int attn_sdpa_flash_supported(const attn_sdpa_problem *p)
{
    return p->E <= FLASH_MAX_E && p->Ev <= FLASH_MAX_E;
}

/* Address of key j (absolute position) of (b, kv head hk). */
static inline const float *key_row(const flash_seg *sg, int64_t b, int64_t hk, int64_t j)
{
    const attn_sdpa_problem *p = &sg->p;
    return p->k + b * p->ks[0] + hk * p->ks[1] + (j - sg->kbase) * p->ks[2];
}
static inline const float *value_row(const flash_seg *sg, int64_t b, int64_t hk, int64_t j)
{
    const attn_sdpa_problem *p = &sg->p;
    return p->v + b * p->vs[0] + hk * p->vs[1] + (j - sg->kbase) * p->vs[2];
}

/* Per-thread scratch. */
typedef struct fwd_ws {
    float *qp;  /* [E][BR]   Qᵀ of the tile */
    float *s;   /* [BC][BR]  Sᵀ, then Pᵀ */
    float *ot;  /* [Evp][BR] Oᵀ accumulator (rows path: [BR][Evp]) */
    float *vp;  /* [BC][Evp + FLASH_PAD] the key tile's values, rows padded as FLASH_LDR */
    float *kp;  /* [BC][Ep + FLASH_PAD] the key tile's keys, likewise */
    float *qrow;/* [E]       one contiguous query row (rows path) */
    float m[FLASH_BR], l[FLASH_BR], al[FLASH_BR], u[FLASH_BR];
    int64_t lo[FLASH_BR], hi[FLASH_BR];
    /* The keys and values of one (segment, b, kv head), rows padded as kp and vp, packed as
     * the tiles first need them and kept for the thread's next query tiles of the same head
     * (NULL when they would not fit cache_max bytes): key j's row at
     * kc + (j − kbase)·pitch; rows [ca, cz) are packed. */
    float *kc, *vc;
    int64_t kc_n, vc_n; /* floats kc and vc hold */
    int64_t cache_max;  /* this thread's share of attn_flash_fwd_cache_bytes */
    const flash_seg *ctag;
    int64_t cb, chk, ca, cz;
} fwd_ws;

/* Bytes a forward call may spend on packing heads' keys and values once (fwd_ws.kc), shared
 * among its threads; a head that does not fit its thread's share is packed tile by tile: the
 * same numbers. A variable so that the tests can take the second path. */
int64_t attn_flash_fwd_cache_bytes = (int64_t)32 << 20;

/* Where a task's rows go: row c of the tile at o + c·ors (elements e·oes), lse at lse[c·ls]. */
typedef struct fwd_dst {
    float *o;
    int64_t ors, oes;
    float *lse, *ent;
    int64_t ls;
} fwd_dst;

/* Row ranges of the tile clipped to [ks, ke); returns the union [*jmin, *jmax) (empty: equal). */
static void tile_ranges(const flash_seg *sg, int64_t b, int64_t i0, int64_t br, int64_t ks,
                        int64_t ke, int64_t *lo, int64_t *hi, int64_t *jmin, int64_t *jmax)
{
    int64_t a = INT64_MAX, z = INT64_MIN;
    for (int64_t c = 0; c < br; c++) {
        sdpa_row_range(&sg->p, b, i0 + c, &lo[c], &hi[c]);
        if (lo[c] < ks) lo[c] = ks;
        if (hi[c] > ke) hi[c] = ke;
        if (hi[c] < lo[c]) hi[c] = lo[c];
        if (lo[c] < hi[c]) {
            if (lo[c] < a) a = lo[c];
            if (hi[c] > z) z = hi[c];
        }
    }
    if (a >= z) a = z = 0;
    *jmin = a, *jmax = z;
}

/* Sᵀ row jj holds key j0 + jj against the tile's queries: −∞ where query c may not attend it
 * (j outside [lo[c], hi[c])). lo and hi never decrease down the tile (sdpa_row_range, clipped
 * by tile_ranges), so the queries that may attend key j are one run [ca, cz) whose ends only
 * move right as j grows: two plain fills a row instead of two comparisons an element. */
static void mask_keys(float *s, int64_t lds, int64_t j0, int64_t bc, int64_t br, const int64_t *lo,
                      const int64_t *hi)
{
    int64_t ca = 0, cz = 0;
    for (int64_t jj = 0; jj < bc; jj++) {
        float *srow = s + jj * lds;
        const int64_t j = j0 + jj;
        while (ca < br && hi[ca] <= j) ca++; /* queries before ca end at or before j */
        while (cz < br && lo[cz] <= j) cz++; /* queries from cz on start after j */
        const int64_t z = cz > ca ? cz : ca;
        for (int64_t c = 0; c < ca; c++) srow[c] = -INFINITY;
        for (int64_t c = z; c < br; c++) srow[c] = -INFINITY;
    }
}

/* Online softmax down the columns with the entropy sum u = Σ e^{s−m}(s−m) kept alongside
 * (portable; used only when the caller asks for entropies). */
static void softmax_cols_entropy(float *S, int64_t lds, int64_t rows, int64_t ncols, float *m,
                                 float *l, float *alpha, float *u)
{
    for (int64_t c = 0; c < ncols; c++) {
        float mx = m[c];
        for (int64_t r = 0; r < rows; r++)
            if (S[r * lds + c] > mx) mx = S[r * lds + c];
        float use = mx == -INFINITY ? 0.0f : mx;
        float al = expf(m[c] - use);
        float uu = l[c] > 0 ? al * (u[c] + (m[c] - use) * l[c]) : 0.0f;
        float sum = 0;
        for (int64_t r = 0; r < rows; r++) {
            float x = S[r * lds + c] - use;
            float e = expf(x);
            S[r * lds + c] = e;
            sum += e;
            if (e > 0) uu += e * x;
        }
        alpha[c] = al;
        l[c] = l[c] * al + sum;
        u[c] = uu;
        m[c] = mx;
    }
}

/* Keys and values [j0, j1) of (b, kv head hk) packed in w->kc, w->vc: the packed run [ca, cz)
 * grows to cover them (restarting when they do not touch it, or for another head). */
static void cache_rows(const flash_seg *sg, fwd_ws *w, int64_t b, int64_t hk, int64_t j0,
                       int64_t j1)
{
    const attn_sdpa_problem *p = &sg->p;
    const int64_t kpitch = flash_pad(p->E) + FLASH_PAD, vpitch = flash_pad(p->Ev) + FLASH_PAD;
    if (w->ctag != sg || w->cb != b || w->chk != hk || j1 < w->ca || j0 > w->cz) {
        w->ctag = sg, w->cb = b, w->chk = hk;
        w->ca = w->cz = j0;
    }
    int64_t a[2] = {j0, w->cz}, z[2] = {w->ca < j1 ? w->ca : j1, j1}; /* before, after the run */
    for (int r = 0; r < 2; r++)
        if (a[r] < z[r]) {
            flash_pack_rows(z[r] - a[r], p->E, key_row(sg, b, hk, a[r]), p->ks[2], p->ks[3],
                            w->kc + (a[r] - sg->kbase) * kpitch, kpitch);
            flash_pack_rows(z[r] - a[r], p->Ev, value_row(sg, b, hk, a[r]), p->vs[2], p->vs[3],
                            w->vc + (a[r] - sg->kbase) * vpitch, vpitch);
        }
    if (j0 < w->ca) w->ca = j0;
    if (j1 > w->cz) w->cz = j1;
}

/* The tile path: rows i0 .. i0+br of (b, h), keys [ks, ke). */
static void fwd_tile(const flash_seg *sg, const flash_ops *ops, fwd_ws *w, int64_t b, int64_t h,
                     int64_t i0, int64_t br, int64_t ks, int64_t ke, const fwd_dst *d)
{
    const attn_sdpa_problem *p = &sg->p;
    const int64_t E = p->E, Ev = p->Ev, hk = h / p->group, brp = flash_pad(br);
    const int elementwise = sdpa_has_elementwise(p);
    int64_t jmin, jmax;
    tile_ranges(sg, b, i0, br, ks, ke, w->lo, w->hi, &jmin, &jmax);
    const float *q = p->q + b * p->qs[0] + h * p->qs[1] + i0 * p->qs[2];
    if (p->qs[3] == 1)
        ops->transpose(br, E, q, p->qs[2], w->qp, FLASH_LDR);
    else
        for (int64_t e = 0; e < E; e++)
            for (int64_t c = 0; c < br; c++)
                w->qp[e * FLASH_LDR + c] = q[c * p->qs[2] + e * p->qs[3]];
    for (int64_t e = 0; e < E; e++)
        for (int64_t c = br; c < brp; c++) w->qp[e * FLASH_LDR + c] = 0;
    for (int64_t c = 0; c < brp; c++) w->m[c] = -INFINITY, w->l[c] = 0, w->u[c] = 0;
    for (int64_t e = 0; e < Ev; e++) memset(w->ot + e * FLASH_LDR, 0, (size_t)brp * sizeof(float));

    /* precision (flash_internal.h): the terms bound needs the query tile's largest norm */
    float qmax = 0, *n2 = w->al; /* scratch until the first softmax: Σ_e q², e in order */
    for (int64_t c = 0; c < br; c++) n2[c] = 0;
    for (int64_t e = 0; e < E; e++)
        for (int64_t c = 0; c < br; c++)
            n2[c] += w->qp[e * FLASH_LDR + c] * w->qp[e * FLASH_LDR + c];
    for (int64_t c = 0; c < br; c++) qmax = n2[c] > qmax ? n2[c] : qmax;
    qmax = sqrtf(qmax) * p->scale;
    /* the head's packed keys and values (fwd_ws.kc), when they fit */
    const int64_t nkeys = sg->kend - sg->kbase;
    const int64_t kc_n = nkeys * (flash_pad(E) + FLASH_PAD), vc_n = nkeys * (flash_pad(Ev) + FLASH_PAD);
    if ((kc_n > w->kc_n || vc_n > w->vc_n) &&
        (kc_n + vc_n) * (int64_t)sizeof(float) <= w->cache_max) {
        free(w->kc), free(w->vc);
        w->kc = attn_aligned_alloc((size_t)kc_n * sizeof(float));
        w->vc = attn_aligned_alloc((size_t)vc_n * sizeof(float));
        w->ctag = NULL, w->kc_n = kc_n, w->vc_n = vc_n;
        if (!w->kc || !w->vc) { /* optional: the tiles are then packed one by one */
            free(w->kc), free(w->vc);
            w->kc = w->vc = NULL, w->kc_n = w->vc_n = 0;
        }
    }
    const int cached = w->kc && kc_n <= w->kc_n && vc_n <= w->vc_n;
    for (int64_t j0 = jmin; j0 < jmax; j0 += FLASH_FWD_BC) {
        const int64_t bc = jmax - j0 < FLASH_FWD_BC ? jmax - j0 : FLASH_FWD_BC, j1 = j0 + bc;
        int any = 0, full = 1;
        int64_t ca = br, cz = 0; /* the queries attending any key of the tile lie in [ca, cz) */
        for (int64_t c = 0; c < br; c++) {
            if (w->lo[c] < j1 && w->hi[c] > j0) {
                any = 1, cz = c + 1;
                if (c < ca) ca = c;
            }
            if (w->lo[c] > j0 || w->hi[c] < j1) full = 0;
        }
        if (!any) continue;
        /* Columns outside [c0, c0 + nc) would hold −∞ scores, weights 0, α = 1: left alone (the
         * tile below a causal diagonal skips half its queries). */
        const int64_t c0 = ca / FLASH_PAD * FLASH_PAD, nc = flash_pad(cz) - c0;
        /* Sᵀ = K·Qᵀ broadcasts K down all the tile's rows once per 16 queries: packed
         * (flash_pack_rows) it stays in L1 */
        const int64_t kpitch = flash_pad(E) + FLASH_PAD, vpitch = flash_pad(Ev) + FLASH_PAD;
        const float *kt = w->kp, *vt = w->vp;
        if (cached) {
            cache_rows(sg, w, b, hk, j0, j1);
            kt = w->kc + (j0 - sg->kbase) * kpitch, vt = w->vc + (j0 - sg->kbase) * vpitch;
        } else {
            flash_pack_rows(bc, E, key_row(sg, b, hk, j0), p->ks[2], p->ks[3], w->kp, kpitch);
            flash_pack_rows(bc, Ev, value_row(sg, b, hk, j0), p->vs[2], p->vs[3], w->vp, vpitch);
        }
        int exact = qmax > FLASH_EXACT_QNORM &&
                    qmax * flash_max_row_norm(bc, E, kt, kpitch, 1) > FLASH_EXACT_TERMS;
        float msave[FLASH_BR], lsave[FLASH_BR], usave[FLASH_BR];
        memcpy(msave, w->m, sizeof msave), memcpy(lsave, w->l, sizeof lsave);
        memcpy(usave, w->u, sizeof usave);
        if (!exact && flash_large_scores(br, msave, 1)) exact = 1; /* known from earlier tiles */
        for (int pass = 0; pass < 2; pass++) {
            ops->gemm(bc, nc, E, kt, kpitch, 1, w->qp + c0, FLASH_LDR, w->s + c0, FLASH_LDR, p->scale, 0);
            if (exact) flash_exact_gemm(bc, br, E, kt, kpitch, 1, w->qp, FLASH_LDR, w->s, FLASH_LDR, p->scale);
            if (!elementwise && !full)
                mask_keys(w->s, FLASH_LDR, j0, bc, br, w->lo, w->hi);
            else if (elementwise)
                for (int64_t jj = 0; jj < bc; jj++) {
                    float *srow = w->s + jj * FLASH_LDR;
                    const int64_t j = j0 + jj;
                    for (int64_t c = 0; c < br; c++) {
                        if (j < w->lo[c] || j >= w->hi[c])
                            srow[c] = -INFINITY;
                        else
                            srow[c] = sdpa_adjust(p, b, h, i0 + c, j, srow[c]);
                    }
                }
            if (d->ent)
                softmax_cols_entropy(w->s + c0, FLASH_LDR, bc, nc, w->m + c0, w->l + c0,
                                     w->al + c0, w->u + c0);
            else
                ops->softmax_cols(w->s + c0, FLASH_LDR, bc, nc, w->m + c0, w->l + c0, w->al + c0);
            /* a large running maximum: redo the tile with exact scores */
            if (exact || !flash_large_scores(br, w->m, 1)) break;
            exact = 1;
            memcpy(w->m, msave, sizeof msave), memcpy(w->l, lsave, sizeof lsave);
            memcpy(w->u, usave, sizeof usave);
        }
        ops->scale_cols(w->ot + c0, FLASH_LDR, Ev, nc, w->al + c0);
        if (p->dropout_p > 0) {
            float ks[FLASH_BR * FLASH_FWD_BC];
            flash_dropout_tile(p, b, h, i0, br, j0, bc, ks, FLASH_FWD_BC);
            for (int64_t c = 0; c < br; c++)
                for (int64_t jj = 0; jj < bc; jj++) w->s[jj * FLASH_LDR + c] *= ks[c * FLASH_FWD_BC + jj];
        }
        /* Oᵀ += Vᵀ·Pᵀ reads the tile's values a few columns at a time down all its rows; in
         * the caller's tensor the rows are often a power of two of bytes apart and would share
         * a handful of L1 sets: they come from the padded copy. */
        ops->gemm(Ev, nc, bc, vt, 1, vpitch, w->s + c0, FLASH_LDR, w->ot + c0, FLASH_LDR, 1.0f, 1);
    }
    /* O = Oᵀᵀ / l: scaled in place (a column with no weight gets 0), then transposed out */
    for (int64_t c = 0; c < brp; c++) w->al[c] = c < br && w->l[c] > 0 ? 1.0f / w->l[c] : 0.0f;
    ops->scale_cols(w->ot, FLASH_LDR, Ev, brp, w->al);
    if (d->oes == 1)
        ops->transpose(Ev, br, w->ot, FLASH_LDR, d->o, d->ors);
    else
        for (int64_t c = 0; c < br; c++)
            for (int64_t e = 0; e < Ev; e++)
                d->o[c * d->ors + e * d->oes] = w->ot[e * FLASH_LDR + c];
    for (int64_t c = 0; c < br; c++) {
        float *o = d->o + c * d->ors;
        const float l = w->l[c];
        if (!(l > 0)) { /* zeros even where Oᵀ holds NaN (NaN inputs) */
            for (int64_t e = 0; e < Ev; e++) o[e * d->oes] = 0;
            if (d->lse) d->lse[c * d->ls] = -INFINITY;
            if (d->ent) d->ent[c * d->ls] = 0;
            continue;
        }
        if (d->lse) d->lse[c * d->ls] = w->m[c] + logf(l);
        if (d->ent) d->ent[c * d->ls] = logf(l) - w->u[c] / l;
    }
}

/* The row path for a handful of rows (decoding): scores by dot products over E, output by
 * axpy over Ev; K and V must have unit element stride (checked by the caller). */
static void fwd_rows(const flash_seg *sg, const flash_ops *ops, fwd_ws *w, int64_t b, int64_t h,
                     int64_t i0, int64_t br, int64_t ks, int64_t ke, const fwd_dst *d)
{
    const attn_sdpa_problem *p = &sg->p;
    const int64_t E = p->E, Ev = p->Ev, Evp = flash_pad(Ev), hk = h / p->group;
    const int elementwise = sdpa_has_elementwise(p);
    int64_t jmin, jmax;
    tile_ranges(sg, b, i0, br, ks, ke, w->lo, w->hi, &jmin, &jmax);
    for (int64_t c = 0; c < br; c++) w->m[c] = -INFINITY, w->l[c] = 0;
    memset(w->ot, 0, (size_t)(br * Evp) * sizeof(float));
    float *s = w->s;
    for (int64_t j0 = jmin; j0 < jmax; j0 += FLASH_FWD_BC) {
        const int64_t bc = jmax - j0 < FLASH_FWD_BC ? jmax - j0 : FLASH_FWD_BC, j1 = j0 + bc;
        for (int64_t c = 0; c < br; c++) {
            if (!(w->lo[c] < j1 && w->hi[c] > j0)) continue;
            const float *q = p->q + b * p->qs[0] + h * p->qs[1] + (i0 + c) * p->qs[2];
            if (p->qs[3] != 1) {
                for (int64_t e = 0; e < E; e++) w->qrow[e] = q[e * p->qs[3]];
                q = w->qrow;
            }
            /* only the keys the row may attend: [ja, jz) of the tile */
            const int64_t ja = w->lo[c] > j0 ? w->lo[c] - j0 : 0;
            const int64_t jz = w->hi[c] < j1 ? w->hi[c] - j0 : bc;
            for (int64_t jj = 0; jj < flash_pad(bc); jj++) s[jj] = -INFINITY;
            ops->dots(jz - ja, E, q, key_row(sg, b, hk, j0 + ja), p->ks[2], p->scale, s + ja);
            if (flash_large_scores(jz - ja, s + ja, 1) ||
                (p->scale * flash_max_row_norm(1, E, q, 0, 1) > FLASH_EXACT_QNORM &&
                 p->scale * flash_max_row_norm(1, E, q, 0, 1) *
                         flash_max_row_norm(jz - ja, E, key_row(sg, b, hk, j0 + ja), p->ks[2], 1) >
                     FLASH_EXACT_TERMS))
                flash_exact_dots(jz - ja, E, q, key_row(sg, b, hk, j0 + ja), p->ks[2], p->scale, s + ja);
            float mx = -INFINITY;
            for (int64_t jj = ja; jj < jz; jj++) {
                if (elementwise) s[jj] = sdpa_adjust(p, b, h, i0 + c, j0 + jj, s[jj]);
                if (s[jj] > mx) mx = s[jj];
            }
            float *o = w->ot + c * Evp;
            if (mx == -INFINITY) continue;
            if (mx > w->m[c]) {
                float al = expf(w->m[c] - mx);
                for (int64_t e = 0; e < Ev; e++) o[e] *= al;
                w->l[c] *= al;
                w->m[c] = mx;
            }
            ops->exp_rows(s, 0, 1, flash_pad(bc), &w->m[c]);
            float sum = 0;
            for (int64_t jj = 0; jj < bc; jj++) sum += s[jj];
            w->l[c] += sum;
            float ks[FLASH_FWD_BC];
            if (p->dropout_p > 0) flash_dropout_row(p, b, h, i0 + c, j0, bc, ks);
            for (int64_t jj = ja; jj < jz; jj++) {
                float x = s[jj];
                if (p->dropout_p > 0) x *= ks[jj];
                if (jj + 8 < jz) /* decoding streams V from memory: a few rows ahead */
                    for (int64_t e = 0; e < Ev; e += 16)
                        __builtin_prefetch(value_row(sg, b, hk, j0 + jj + 8) + e * p->vs[3], 0, 0);
                if (x != 0) ops->axpy(Ev, x, value_row(sg, b, hk, j0 + jj), o);
            }
        }
    }
    for (int64_t c = 0; c < br; c++) {
        float *o = d->o + c * d->ors;
        const float l = w->l[c];
        if (!(l > 0)) {
            for (int64_t e = 0; e < Ev; e++) o[e * d->oes] = 0;
            if (d->lse) d->lse[c * d->ls] = -INFINITY;
            continue;
        }
        const float inv = 1.0f / l;
        for (int64_t e = 0; e < Ev; e++) o[e * d->oes] = w->ot[c * Evp + e] * inv;
        if (d->lse) d->lse[c * d->ls] = w->m[c] + logf(l);
    }
}

typedef struct fwd_task {
    int64_t seg, b, h, qt;
    int32_t split, nsplit;
    int64_t buf; /* split tasks: row offset into the partial buffers; −1: write directly */
} fwd_task;

/* Slices of the keys of a segment for decoding; 1 when not split. */
static int64_t seg_splits(const flash_seg *sg)
{
    int64_t keys = sg->kend - sg->kbase;
    if (sg->p.Lq > FLASH_SPLIT_LQ || sg->ent || keys < 2 * FLASH_SPLIT_KEYS) return 1;
    int64_t n = keys / FLASH_SPLIT_KEYS;
    return n > FLASH_SPLIT_MAX ? FLASH_SPLIT_MAX : n;
}

/* Key range of split s of n. */
static void split_range(const flash_seg *sg, int64_t s, int64_t n, int64_t *ks, int64_t *ke)
{
    int64_t keys = sg->kend - sg->kbase;
    int64_t chunk = ((keys + n - 1) / n + FLASH_FWD_BC - 1) / FLASH_FWD_BC * FLASH_FWD_BC;
    *ks = sg->kbase + s * chunk;
    *ke = *ks + chunk < sg->kend ? *ks + chunk : sg->kend;
    if (*ks > sg->kend) *ks = sg->kend;
}

static void run_task(const flash_seg *segs, const fwd_task *t, const flash_ops *ops, fwd_ws *w,
                     float *pbuf, float *plse, int64_t Evmax)
{
    const flash_seg *sg = &segs[t->seg];
    const attn_sdpa_problem *p = &sg->p;
    const int64_t i0 = t->qt * FLASH_BR;
    const int64_t br = p->Lq - i0 < FLASH_BR ? p->Lq - i0 : FLASH_BR;
    int64_t ks = sg->kbase, ke = sg->kend;
    if (t->nsplit > 1) split_range(sg, t->split, t->nsplit, &ks, &ke);
    fwd_dst d;
    if (t->buf >= 0) {
        d.o = pbuf + t->buf * Evmax, d.ors = Evmax, d.oes = 1;
        d.lse = plse + t->buf, d.ent = NULL, d.ls = 1;
    } else {
        d.o = p->o + t->b * p->os[0] + t->h * p->os[1] + i0 * p->os[2];
        d.ors = p->os[2], d.oes = p->os[3];
        int64_t lo = t->b * sg->lse_bs + t->h * sg->lse_hs + i0;
        d.lse = sg->lse ? sg->lse + lo : NULL;
        d.ent = sg->ent ? sg->ent + lo : NULL;
        d.ls = 1;
    }
    if (flash_rows_path(p) && !d.ent)
        fwd_rows(sg, ops, w, t->b, t->h, i0, br, ks, ke, &d);
    else
        fwd_tile(sg, ops, w, t->b, t->h, i0, br, ks, ke, &d);
}

static void ws_free(fwd_ws *w)
{
    if (!w) return;
    free(w->qp), free(w->s), free(w->ot), free(w->vp), free(w->kp), free(w->qrow);
    free(w->kc), free(w->vc);
    free(w);
}

static fwd_ws *ws_alloc(int64_t E, int64_t Ev)
{
    fwd_ws *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    const int64_t Evp = flash_pad(Ev);
    w->qp = attn_aligned_alloc((size_t)(E * FLASH_LDR) * sizeof(float));
    w->s = attn_aligned_alloc((size_t)(FLASH_FWD_BC * FLASH_LDR) * sizeof(float));
    w->ot = attn_aligned_alloc((size_t)(Evp * FLASH_LDR) * sizeof(float));
    w->vp = attn_aligned_alloc((size_t)(FLASH_FWD_BC * (Evp + FLASH_PAD)) * sizeof(float));
    w->kp = attn_aligned_alloc((size_t)(FLASH_FWD_BC * (flash_pad(E) + FLASH_PAD)) * sizeof(float));
    w->qrow = attn_aligned_alloc((size_t)flash_pad(E) * sizeof(float));
    if (!w->qp || !w->s || !w->ot || !w->vp || !w->kp || !w->qrow) {
        ws_free(w);
        return NULL;
    }
    return w;
}

int flash_forward_segs(const char *fn, flash_seg *segs, int64_t nseg, int threads,
                       const flash_ops *ops)
{
    int64_t ntask = 0, nbuf = 0, Emax = 1, Evmax = 1;
    for (int64_t s = 0; s < nseg; s++) {
        const attn_sdpa_problem *p = &segs[s].p;
        int64_t nqt = (p->Lq + FLASH_BR - 1) / FLASH_BR, ns = seg_splits(&segs[s]);
        ntask += p->B * p->Hq * nqt * ns;
        if (ns > 1) nbuf += p->B * p->Hq * p->Lq * ns;
        if (p->E > Emax) Emax = p->E;
        if (p->Ev > Evmax) Evmax = p->Ev;
    }
    if (ntask == 0) return ATTN_OK;
    fwd_task *tasks = malloc((size_t)ntask * sizeof *tasks);
    float *pbuf = nbuf ? malloc((size_t)(nbuf * Evmax) * sizeof(float)) : NULL;
    float *plse = nbuf ? malloc((size_t)nbuf * sizeof(float)) : NULL;
    if (!tasks || (nbuf && (!pbuf || !plse))) {
        free(tasks), free(pbuf), free(plse);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory for %lld tasks", fn, (long long)ntask);
    }
    /* head by head: the threads work on one head at a time (its keys and values shared in
     * L3), and a thread's packed copy of a head (fwd_ws.kc) serves every query tile it takes
     * from it; within a head heaviest first: the last query tiles see the most keys under
     * causal masks */
    int64_t n = 0, boff = 0;
    for (int64_t s = 0; s < nseg; s++) {
        const attn_sdpa_problem *p = &segs[s].p;
        int64_t nqt = (p->Lq + FLASH_BR - 1) / FLASH_BR, ns = seg_splits(&segs[s]);
        for (int64_t b = 0; b < p->B; b++)
            for (int64_t h = 0; h < p->Hq; h++)
                for (int64_t qt = nqt - 1; qt >= 0; qt--)
                    for (int64_t sp = 0; sp < ns; sp++) {
                        fwd_task *t = &tasks[n++];
                        t->seg = s, t->b = b, t->h = h, t->qt = qt;
                        t->split = (int32_t)sp, t->nsplit = (int32_t)ns;
                        /* split buffers: [seg][b][h][split][i] */
                        t->buf = ns > 1 ? boff + ((b * p->Hq + h) * ns + sp) * p->Lq : -1;
                    }
        if (ns > 1) boff += p->B * p->Hq * p->Lq * ns;
    }
    int nt = threads < 1 ? 1 : threads;
    if (nt > ntask) nt = (int)ntask;
    double work = 0; /* flops, as if nothing were masked */
    for (int64_t s = 0; s < nseg; s++) {
        const attn_sdpa_problem *p = &segs[s].p;
        work += 2.0 * (double)(p->B * p->Hq * p->Lq) * (double)(segs[s].kend - segs[s].kbase) *
                (double)(p->E + p->Ev);
    }
    const int spread = attn_team_worth_spreading(nt, work);
    int cpus[ATTN_TEAM_MAX];
    int failed = 0;
#pragma omp parallel num_threads(nt)
    {
        attn_team_cpu me; /* one thread per CPU for the call (internal.h) */
        if (spread) attn_team_spread(cpus, &me);
        fwd_ws *w = ws_alloc(Emax, Evmax);
        if (w) w->cache_max = attn_flash_fwd_cache_bytes / nt;
        if (!w) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp barrier
        if (!failed) {
#pragma omp for schedule(dynamic, 1)
            for (int64_t t = 0; t < ntask; t++) run_task(segs, &tasks[t], ops, w, pbuf, plse, Evmax);
        }
        ws_free(w);
        if (spread) attn_team_unspread(&me);
    }
    if (!failed && nbuf) {
        /* merge the splits of every row in a fixed order */
        boff = 0;
        for (int64_t s = 0; s < nseg && !failed; s++) {
            const flash_seg *sg = &segs[s];
            const attn_sdpa_problem *p = &sg->p;
            const int64_t ns = seg_splits(sg);
            if (ns == 1) continue;
            const int64_t rows = p->B * p->Hq * p->Lq;
#pragma omp parallel for num_threads(nt) schedule(static) if (rows > 4096)
            for (int64_t r = 0; r < rows; r++) {
                const int64_t i = r % p->Lq, h = (r / p->Lq) % p->Hq, b = r / (p->Lq * p->Hq);
                const float *rowp[FLASH_SPLIT_MAX];
                float lses[FLASH_SPLIT_MAX], tmp[FLASH_MAX_E];
                double wts[FLASH_SPLIT_MAX];
                for (int64_t sp = 0; sp < ns; sp++) {
                    int64_t at = boff + ((b * p->Hq + h) * ns + sp) * p->Lq + i;
                    rowp[sp] = pbuf + at * Evmax;
                    lses[sp] = plse[at];
                }
                float lse;
                flash_merge_row(ns, rowp, lses, p->Ev, wts, tmp, &lse);
                float *o = p->o + b * p->os[0] + h * p->os[1] + i * p->os[2];
                for (int64_t e = 0; e < p->Ev; e++) o[e * p->os[3]] = tmp[e];
                if (sg->lse) sg->lse[b * sg->lse_bs + h * sg->lse_hs + i] = lse;
            }
            boff += rows * ns;
        }
    }
    free(tasks), free(pbuf), free(plse);
    if (failed) return attn_fail(ATTN_E_NOMEM, "%s: out of memory for kernel scratch", fn);
    return ATTN_OK;
}

int attn_sdpa_flash_forward(const attn_sdpa_problem *p, float *lse)
{
    flash_seg sg;
    sg.p = *p;
    sg.kbase = 0, sg.kend = p->Lk;
    sg.lse = lse, sg.ent = NULL;
    sg.lse_bs = p->Hq * p->Lq, sg.lse_hs = p->Lq;
    return flash_forward_segs("attn_sdpa_forward", &sg, 1, p->threads, flash_ops_current());
}
