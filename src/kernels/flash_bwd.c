/* flash_bwd.c — fused scaled dot-product attention, backward (FlashAttention-2 on the CPU).
 *
 * With P = exp(S − lse) recomputed tile by tile (never stored), Z = dropout(P), D_i = dO_i·O_i:
 *     dV_j += Σ_i Z_ij dO_i              dP_ij = (dO_i·v_j) · keep_ij
 *     dS_ij = P_ij (dP_ij − D_i)         (= ∂loss/∂bias_ij; × (1 − tanh²) through the softcap)
 *     dK_j += scale Σ_i dS_ij q_i        dQ_i += scale Σ_j dS_ij k_j
 *
 * A task is (segment, b, kv head, key chunk). It owns the dK, dV rows of its key tiles and
 * walks every query tile of every query head of the group, packing K and V of a key tile once.
 * dQ goes to a task-private buffer, summed over key tiles in increasing order; when a (b, kv
 * head) is split into chunks (few heads), the chunks' buffers are added in chunk order after
 * the parallel part. The split depends only on the problem, so results are bit-identical for
 * any thread count. */
#include "flash_internal.h"

#include <string.h>

#define FLASH_BWD_UNITS 8 /* split key ranges until there are at least this many tasks */
/* A task packs Q and dO of all its query rows once when they take at most this many bytes
 * per thread, else each (query tile, key tile) pair packs its own tile: the same numbers, a
 * few % slower. A variable so that the tests can take the second path. */
int64_t attn_flash_bwd_pack_bytes = (int64_t)32 << 20;

typedef struct bwd_ws {
    float *kp, *kt, *vp, *dkt, *dvt, *s, *dp, *z, *raw;
    float *qa, *da;      /* the query tile's Q and dO rows, packed (bwd_pair) */
    float *qall, *dall;  /* or all the task's rows, packed once: [group·Lq][ldq], [..][ldd] */
    int64_t all_rows;    /* rows qall and dall hold (0: none) */
    float *qrow, *dorow; /* one query row and its dO, contiguous (row path) */
    int64_t *lo, *hi; /* [Lq] row ranges of the task's batch */
    int64_t *qlo, *qhi, *qflo, *qfhi; /* per query tile: union and full (common) range */
} bwd_ws;

static void bws_free(bwd_ws *w)
{
    if (!w) return;
    free(w->kp), free(w->kt), free(w->vp), free(w->dkt), free(w->dvt), free(w->s), free(w->dp);
    free(w->z), free(w->raw), free(w->qrow), free(w->dorow), free(w->lo), free(w->hi), free(w->qlo), free(w->qhi);
    free(w->qflo), free(w->qfhi), free(w->qa), free(w->da), free(w->qall), free(w->dall);
    free(w);
}

/* Row pitches of packed Q and dO rows (flash_pack_rows). */
static inline int64_t pitch_q(const attn_sdpa_problem *p) { return flash_pad(p->E) + FLASH_PAD; }
static inline int64_t pitch_d(const attn_sdpa_problem *p) { return flash_pad(p->Ev) + FLASH_PAD; }

/* all_rows: rows of packed Q and dO to keep for a whole task (0: pack tile by tile). */
static bwd_ws *bws_alloc(int64_t E, int64_t Ev, int64_t Lq, int64_t all_rows)
{
    bwd_ws *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    const int64_t Ep = flash_pad(E), Evp = flash_pad(Ev), nqt = (Lq + FLASH_BR - 1) / FLASH_BR;
    const size_t tile = (size_t)(FLASH_BR * FLASH_LDC) * sizeof(float);
    w->kp = attn_aligned_alloc((size_t)(Ep * FLASH_LDC) * sizeof(float));
    /* kt: [FLASH_BC][Ep + FLASH_PAD], padded as FLASH_LDC */
    w->kt = attn_aligned_alloc((size_t)(FLASH_BC * (Ep + FLASH_PAD)) * sizeof(float));
    w->vp = attn_aligned_alloc((size_t)(Evp * FLASH_LDC) * sizeof(float));
    w->dkt = attn_aligned_alloc((size_t)(Ep * FLASH_LDC) * sizeof(float));
    w->dvt = attn_aligned_alloc((size_t)(Evp * FLASH_LDC) * sizeof(float));
    w->s = attn_aligned_alloc(tile), w->dp = attn_aligned_alloc(tile);
    w->z = attn_aligned_alloc(tile), w->raw = attn_aligned_alloc(tile);
    w->qa = attn_aligned_alloc((size_t)(FLASH_BR * (Ep + FLASH_PAD)) * sizeof(float));
    w->da = attn_aligned_alloc((size_t)(FLASH_BR * (Evp + FLASH_PAD)) * sizeof(float));
    w->qrow = attn_aligned_alloc((size_t)Ep * sizeof(float));
    w->dorow = attn_aligned_alloc((size_t)Evp * sizeof(float));
    w->lo = malloc((size_t)Lq * sizeof(int64_t)), w->hi = malloc((size_t)Lq * sizeof(int64_t));
    w->qlo = malloc((size_t)nqt * sizeof(int64_t)), w->qhi = malloc((size_t)nqt * sizeof(int64_t));
    w->qflo = malloc((size_t)nqt * sizeof(int64_t));
    w->qfhi = malloc((size_t)nqt * sizeof(int64_t));
    if (all_rows > 0) { /* optional: without it, pairs pack their own tiles */
        w->qall = attn_aligned_alloc((size_t)(all_rows * (Ep + FLASH_PAD)) * sizeof(float));
        w->dall = attn_aligned_alloc((size_t)(all_rows * (Evp + FLASH_PAD)) * sizeof(float));
        if (w->qall && w->dall)
            w->all_rows = all_rows;
    }
    if (!w->kp || !w->kt || !w->vp || !w->dkt || !w->dvt || !w->s || !w->dp || !w->z || !w->raw || !w->qrow || !w->dorow ||
        !w->qa || !w->da ||
        !w->lo || !w->hi || !w->qlo || !w->qhi || !w->qflo || !w->qfhi) {
        bws_free(w);
        return NULL;
    }
    return w;
}

typedef struct bwd_task {
    int64_t seg, b, hk, chunk, nchunk;
    float *dqb; /* [group][Lq][Ep], NULL: allocate privately */
} bwd_task;

/* Everything a task reads besides its segment. */
typedef struct bwd_ctx {
    const flash_bwd_seg *segs;
    const flash_ops *ops;
    float **L, **D; /* per segment: [B][Hq][Lq] lse (−∞ → +∞) and dO·O */
} bwd_ctx;

static int64_t seg_chunks(const flash_seg *sg)
{
    const int64_t nkt = (sg->kend - sg->kbase + FLASH_BC - 1) / FLASH_BC;
    const int64_t units = sg->p.B * sg->p.Hkv;
    int64_t n = units >= FLASH_BWD_UNITS ? 1 : (FLASH_BWD_UNITS + units - 1) / units;
    if (n > nkt) n = nkt;
    return n < 1 ? 1 : n;
}

/* Row ranges of batch b for all rows, and per query tile the union [qlo, qhi) and the range
 * every row covers [qflo, qfhi). */
static void row_ranges(const flash_seg *sg, int64_t b, bwd_ws *w)
{
    const attn_sdpa_problem *p = &sg->p;
    const int64_t nqt = (p->Lq + FLASH_BR - 1) / FLASH_BR;
    for (int64_t qt = 0; qt < nqt; qt++) {
        int64_t a = INT64_MAX, z = INT64_MIN, fa = INT64_MIN, fz = INT64_MAX;
        for (int64_t i = qt * FLASH_BR; i < p->Lq && i < (qt + 1) * FLASH_BR; i++) {
            int64_t lo, hi;
            sdpa_row_range(p, b, i, &lo, &hi);
            if (lo < sg->kbase) lo = sg->kbase;
            if (hi > sg->kend) hi = sg->kend;
            if (hi < lo) hi = lo;
            w->lo[i] = lo, w->hi[i] = hi;
            if (lo < hi) {
                if (lo < a) a = lo;
                if (hi > z) z = hi;
            }
            if (lo > fa) fa = lo;
            if (hi < fz) fz = hi;
        }
        if (a >= z) a = z = 0;
        w->qlo[qt] = a, w->qhi[qt] = z, w->qflo[qt] = fa, w->qfhi[qt] = fz;
    }
}

/* dst[e·FLASH_LDC + jj] = x(jj, e) for jj < bc, zero for bc ≤ jj < bcp; x(jj, e) at
 * x[jj·rs + e·es]. */
static void pack_transposed(const flash_ops *ops, int64_t bc, int64_t bcp, int64_t E,
                            const float *x, int64_t rs, int64_t es, float *dst)
{
    if (es == 1)
        ops->transpose(bc, E, x, rs, dst, FLASH_LDC);
    else
        for (int64_t e = 0; e < E; e++)
            for (int64_t jj = 0; jj < bc; jj++) dst[e * FLASH_LDC + jj] = x[jj * rs + e * es];
    for (int64_t e = 0; e < E; e++)
        for (int64_t jj = bc; jj < bcp; jj++) dst[e * FLASH_LDC + jj] = 0;
}

/* The inverse for the gradients: x(jj, e) = src[e·FLASH_LDC + jj] for jj < bc. */
static void unpack_transposed(const flash_ops *ops, int64_t bc, int64_t E, const float *src,
                              float *x, int64_t rs, int64_t es)
{
    if (es == 1)
        ops->transpose(E, bc, src, FLASH_LDC, x, rs);
    else
        for (int64_t jj = 0; jj < bc; jj++)
            for (int64_t e = 0; e < E; e++) x[jj * rs + e * es] = src[e * FLASH_LDC + jj];
}

/* One (query head h, query tile) against the packed key tile [j0, j0+bc). */
static void bwd_pair(const bwd_ctx *cx, int64_t si, bwd_ws *w, float *dqb, int64_t b, int64_t h,
                     int64_t hl, int64_t qt, int64_t j0, int64_t bc, int packed)
{
    const flash_bwd_seg *bs = &cx->segs[si];
    const flash_seg *sg = bs->seg;
    const attn_sdpa_problem *p = &sg->p;
    const flash_ops *ops = cx->ops;
    const int64_t E = p->E, Ev = p->Ev, Ep = flash_pad(E), bcp = flash_pad(bc), j1 = j0 + bc;
    int64_t i0 = qt * FLASH_BR, br = p->Lq - i0 < FLASH_BR ? p->Lq - i0 : FLASH_BR;
    const int full = w->qflo[qt] <= j0 && w->qfhi[qt] >= j1;
    /* Rows at either end of the query tile that attend no key of this tile (above a causal
     * diagonal: half the tile) are left out: they would only add exact zeros. */
    while (br > 1 && !(w->lo[i0] < j1 && w->hi[i0] > j0)) i0++, br--;
    while (br > 1 && !(w->lo[i0 + br - 1] < j1 && w->hi[i0 + br - 1] > j0)) br--;
    const int elementwise = sdpa_has_elementwise(p);
    const int64_t row = (b * p->Hq + h) * p->Lq + i0;
    const float *L = cx->L[si] + row, *D = cx->D[si] + row;
    float *S = w->s, *dP = w->dp;
    /* Q and dO of the tile, packed (flash_pack_rows): four products walk them. Packed by
     * the task for all its rows, or here. */
    const int64_t ldq = pitch_q(p), ldd = pitch_d(p);
    const float *q = w->qa, *dout = w->da;
    if (packed) {
        q = w->qall + (hl * p->Lq + i0) * ldq, dout = w->dall + (hl * p->Lq + i0) * ldd;
    } else {
        flash_pack_rows(br, E, p->q + b * p->qs[0] + h * p->qs[1] + i0 * p->qs[2], p->qs[2],
                        p->qs[3], w->qa, ldq);
        flash_pack_rows(br, Ev, bs->dout + b * bs->dos[0] + h * bs->dos[1] + i0 * bs->dos[2],
                        bs->dos[2], bs->dos[3], w->da, ldd);
    }

    ops->gemm(br, bcp, E, q, ldq, 1, w->kp, FLASH_LDC, S, FLASH_LDC, p->scale, 0);
    if (flash_large_scores(br, L, 1)) /* as the forward did: exact scores (flash_internal.h) */
        flash_exact_gemm(br, bc, E, q, ldq, 1, w->kp, FLASH_LDC, S, FLASH_LDC, p->scale);
    if (p->softcap > 0)
        for (int64_t c = 0; c < br; c++) memcpy(w->raw + c * FLASH_LDC, S + c * FLASH_LDC, (size_t)bc * sizeof(float));
    for (int64_t c = 0; c < br; c++) {
        float *srow = S + c * FLASH_LDC;
        const int64_t lo = w->lo[i0 + c], hi = w->hi[i0 + c];
        if (!full && !elementwise) { /* the row attends keys [lo, hi): one run of the tile */
            const int64_t a = lo <= j0 ? 0 : lo - j0 < bc ? lo - j0 : bc;
            const int64_t z = hi - j0 <= a ? a : hi - j0 < bc ? hi - j0 : bc;
            for (int64_t jj = 0; jj < a; jj++) srow[jj] = -INFINITY;
            for (int64_t jj = z; jj < bc; jj++) srow[jj] = -INFINITY;
        } else if (elementwise)
            for (int64_t jj = 0; jj < bc; jj++) {
                const int64_t j = j0 + jj;
                if (j < lo || j >= hi)
                    srow[jj] = -INFINITY;
                else
                    srow[jj] = sdpa_adjust(p, b, h, i0 + c, j, srow[jj]);
            }
        for (int64_t jj = bc; jj < bcp; jj++) srow[jj] = -INFINITY;
    }
    ops->exp_rows(S, FLASH_LDC, br, bcp, L);
    ops->gemm(br, bcp, Ev, dout, ldd, 1, w->vp, FLASH_LDC, dP, FLASH_LDC, 1.0f, 0);
    const float *Z = S;
    if (p->dropout_p > 0) {
        float kst[FLASH_BR * FLASH_BC];
        flash_dropout_tile(p, b, h, i0, br, j0, bc, kst, FLASH_BC);
        for (int64_t c = 0; c < br; c++) {
            float *zr = w->z + c * FLASH_LDC, *dpr = dP + c * FLASH_LDC;
            const float *pr = S + c * FLASH_LDC, *ks = kst + c * FLASH_BC;
            for (int64_t jj = 0; jj < bcp; jj++) {
                const float k = jj < bc ? ks[jj] : 0.0f;
                zr[jj] = pr[jj] * k;
                dpr[jj] *= k;
            }
        }
        Z = w->z;
    }
    ops->gemm(Ev, bcp, br, dout, 1, ldd, Z, FLASH_LDC, w->dvt, FLASH_LDC, 1.0f, 1);
    ops->ds_rows(S, dP, FLASH_LDC, br, bcp, D);
    if (bs->dbias || p->softcap > 0) {
        const attn_tensor *db = bs->dbias;
        for (int64_t c = 0; c < br; c++) {
            const int64_t i = i0 + c, lo = w->lo[i], hi = w->hi[i];
            float *dsr = dP + c * FLASH_LDC;
            for (int64_t jj = 0; jj < bc; jj++) {
                const int64_t j = j0 + jj;
                if (j < lo || j >= hi || S[c * FLASH_LDC + jj] == 0) continue;
                if (db)
                    db->data[(p->bias_shape[0] == 1 ? 0 : b) * db->stride[0] +
                             (p->bias_shape[1] == 1 ? 0 : h) * db->stride[1] +
                             (p->bias_shape[2] == 1 ? 0 : i) * db->stride[2] +
                             (p->bias_shape[3] == 1 ? 0 : j) * db->stride[3]] += dsr[jj];
                if (p->softcap > 0) {
                    float t = tanhf(w->raw[c * FLASH_LDC + jj] / p->softcap);
                    dsr[jj] *= 1 - t * t;
                }
            }
        }
    }
    ops->gemm(E, bcp, br, q, 1, ldq, dP, FLASH_LDC, w->dkt, FLASH_LDC, p->scale, 1);
    ops->gemm(br, Ep, bcp, dP, FLASH_LDC, 1, w->kt, Ep + FLASH_PAD, dqb + (hl * p->Lq + i0) * Ep,
              Ep, p->scale, 1);
}


/* Few query rows (flash_rows_path, e.g. decoding): no packing; per query row, scores and dP
 * by dot products over K and V read in place, gradients by axpy. dK, dV of the key tile
 * accumulate row-major in dkt, dvt. */
static void bwd_rows_tile(const bwd_ctx *cx, int64_t si, bwd_ws *w, float *dqb, int64_t b,
                          int64_t hk, int64_t j0, int64_t bc)
{
    const flash_bwd_seg *bs = &cx->segs[si];
    const flash_seg *sg = bs->seg;
    const attn_sdpa_problem *p = &sg->p;
    const flash_ops *ops = cx->ops;
    const int64_t E = p->E, Ev = p->Ev, Ep = flash_pad(E), Evp = flash_pad(Ev), bcp = flash_pad(bc);
    const int elementwise = sdpa_has_elementwise(p);
    const float *k = p->k + b * p->ks[0] + hk * p->ks[1] + (j0 - sg->kbase) * p->ks[2];
    const float *v = p->v + b * p->vs[0] + hk * p->vs[1] + (j0 - sg->kbase) * p->vs[2];
    float *s = w->s, *dp = w->dp, *z = w->z;
    for (int64_t hl = 0; hl < p->group; hl++) {
        const int64_t h = hk * p->group + hl;
        for (int64_t i = 0; i < p->Lq; i++) {
            const int64_t lo = w->lo[i], hi = w->hi[i];
            if (!(lo < j0 + bc && hi > j0)) continue;
            const int64_t row = (b * p->Hq + h) * p->Lq + i;
            const float L = cx->L[si][row], D = cx->D[si][row];
            const float *q = p->q + b * p->qs[0] + h * p->qs[1] + i * p->qs[2];
            const float *g = bs->dout + b * bs->dos[0] + h * bs->dos[1] + i * bs->dos[2];
            for (int64_t e = 0; e < E; e++) w->qrow[e] = q[e * p->qs[3]];
            for (int64_t e = 0; e < Ev; e++) w->dorow[e] = g[e * bs->dos[3]];
            /* only the keys the row may attend: [ja, jz) of the tile */
            const int64_t ja = lo > j0 ? lo - j0 : 0, jz = hi < j0 + bc ? hi - j0 : bc;
            for (int64_t jj = 0; jj < bcp; jj++) s[jj] = -INFINITY;
            ops->dots(jz - ja, E, w->qrow, k + ja * p->ks[2], p->ks[2], p->scale, s + ja);
            if (flash_large_scores(jz - ja, s + ja, 1) || flash_large_scores(1, &L, 1) ||
                (p->scale * flash_max_row_norm(1, E, w->qrow, 0, 1) > FLASH_EXACT_QNORM &&
                 p->scale * flash_max_row_norm(1, E, w->qrow, 0, 1) *
                         flash_max_row_norm(jz - ja, E, k + ja * p->ks[2], p->ks[2], 1) >
                     FLASH_EXACT_TERMS))
                flash_exact_dots(jz - ja, E, w->qrow, k + ja * p->ks[2], p->ks[2], p->scale, s + ja);
            if (p->softcap > 0) memcpy(w->raw + ja, s + ja, (size_t)(jz - ja) * sizeof(float));
            if (elementwise)
                for (int64_t jj = ja; jj < jz; jj++) s[jj] = sdpa_adjust(p, b, h, i, j0 + jj, s[jj]);
            ops->exp_rows(s, 0, 1, bcp, &L);
            for (int64_t jj = 0; jj < bc; jj++) dp[jj] = 0;
            ops->dots(jz - ja, Ev, w->dorow, v + ja * p->vs[2], p->vs[2], 1.0f, dp + ja);
            float kss[FLASH_BC];
            if (p->dropout_p > 0) flash_dropout_row(p, b, h, i, j0, bc, kss);
            for (int64_t jj = 0; jj < bc; jj++) {
                if (s[jj] == 0) {
                    dp[jj] = 0;
                    continue;
                }
                const float ks = p->dropout_p > 0 ? kss[jj] : 1.0f;
                z[jj] = s[jj] * ks;
                if (z[jj] != 0) ops->axpy(Ev, z[jj], w->dorow, w->dvt + jj * Evp);
                float ds = s[jj] == 1.0f ? 0.0f : s[jj] * (dp[jj] * ks - D);
                if (bs->dbias) {
                    const attn_tensor *db = bs->dbias;
                    const int64_t j = j0 + jj;
                    db->data[(p->bias_shape[0] == 1 ? 0 : b) * db->stride[0] +
                             (p->bias_shape[1] == 1 ? 0 : h) * db->stride[1] +
                             (p->bias_shape[2] == 1 ? 0 : i) * db->stride[2] +
                             (p->bias_shape[3] == 1 ? 0 : j) * db->stride[3]] += ds;
                }
                if (p->softcap > 0) {
                    float t = tanhf(w->raw[jj] / p->softcap);
                    ds *= 1 - t * t;
                }
                ds *= p->scale;
                dp[jj] = ds;
                if (ds != 0) ops->axpy(E, ds, w->qrow, w->dkt + jj * Ep);
            }
            float *dq = dqb + (hl * p->Lq + i) * Ep;
            for (int64_t jj = 0; jj < bc; jj++)
                if (s[jj] != 0 && dp[jj] != 0) ops->axpy(E, dp[jj], k + jj * p->ks[2], dq);
        }
    }
}

static void bwd_task_run(const bwd_ctx *cx, const bwd_task *t, bwd_ws *w, float *dqb)
{
    const flash_bwd_seg *bs = &cx->segs[t->seg];
    const flash_seg *sg = bs->seg;
    const attn_sdpa_problem *p = &sg->p;
    const int64_t E = p->E, Ev = p->Ev, Ep = flash_pad(E), b = t->b, hk = t->hk;
    const int64_t nkt = (sg->kend - sg->kbase + FLASH_BC - 1) / FLASH_BC;
    const int64_t nqt = (p->Lq + FLASH_BR - 1) / FLASH_BR;
    const int rows = flash_rows_path(p);
    row_ranges(sg, b, w);
    memset(dqb, 0, (size_t)(p->group * p->Lq * Ep) * sizeof(float));
    /* Q and dO of every row the task visits, packed once (bwd_pair) */
    const int packed = !rows && w->all_rows >= p->group * p->Lq;
    if (packed) {
        for (int64_t hl = 0; hl < p->group; hl++) {
            const int64_t h = hk * p->group + hl;
            flash_pack_rows(p->Lq, E, p->q + b * p->qs[0] + h * p->qs[1], p->qs[2], p->qs[3],
                            w->qall + hl * p->Lq * pitch_q(p), pitch_q(p));
            flash_pack_rows(p->Lq, Ev, bs->dout + b * bs->dos[0] + h * bs->dos[1], bs->dos[2],
                            bs->dos[3], w->dall + hl * p->Lq * pitch_d(p), pitch_d(p));
        }
    }
    for (int64_t kt = t->chunk; kt < nkt; kt += t->nchunk) {
        const int64_t j0 = sg->kbase + kt * FLASH_BC;
        const int64_t bc = sg->kend - j0 < FLASH_BC ? sg->kend - j0 : FLASH_BC, bcp = flash_pad(bc);
        float *dk = bs->dk + b * bs->dks[0] + hk * bs->dks[1] + (j0 - sg->kbase) * bs->dks[2];
        float *dv = bs->dv + b * bs->dvs[0] + hk * bs->dvs[1] + (j0 - sg->kbase) * bs->dvs[2];
        if (rows) {
            const int64_t Evp = flash_pad(Ev);
            memset(w->dkt, 0, (size_t)(bc * Ep) * sizeof(float));
            memset(w->dvt, 0, (size_t)(bc * Evp) * sizeof(float));
            bwd_rows_tile(cx, t->seg, w, dqb, b, hk, j0, bc);
            for (int64_t jj = 0; jj < bc; jj++) {
                float *dkr = dk + jj * bs->dks[2], *dvr = dv + jj * bs->dvs[2];
                if (bs->dks[3] == 1)
                    memcpy(dkr, w->dkt + jj * Ep, (size_t)E * sizeof(float));
                else
                    for (int64_t e = 0; e < E; e++) dkr[e * bs->dks[3]] = w->dkt[jj * Ep + e];
                if (bs->dvs[3] == 1)
                    memcpy(dvr, w->dvt + jj * Evp, (size_t)Ev * sizeof(float));
                else
                    for (int64_t e = 0; e < Ev; e++) dvr[e * bs->dvs[3]] = w->dvt[jj * Evp + e];
            }
            continue;
        }
        const float *k = p->k + b * p->ks[0] + hk * p->ks[1] + (j0 - sg->kbase) * p->ks[2];
        const float *v = p->v + b * p->vs[0] + hk * p->vs[1] + (j0 - sg->kbase) * p->vs[2];
        /* Kᵀ and Vᵀ of the tile (columns past bc zero), and K with padded rows */
        pack_transposed(cx->ops, bc, bcp, E, k, p->ks[2], p->ks[3], w->kp);
        pack_transposed(cx->ops, bc, bcp, Ev, v, p->vs[2], p->vs[3], w->vp);
        for (int64_t jj = 0; jj < bcp; jj++) {
            float *kt_ = w->kt + jj * (Ep + FLASH_PAD);
            int64_t e = 0;
            if (jj < bc && p->ks[3] == 1)
                memcpy(kt_, k + jj * p->ks[2], (size_t)E * sizeof(float)), e = E;
            else if (jj < bc)
                for (; e < E; e++) kt_[e] = k[jj * p->ks[2] + e * p->ks[3]];
            for (; e < Ep; e++) kt_[e] = 0.0f;
        }
        memset(w->dkt, 0, (size_t)(E * FLASH_LDC) * sizeof(float));
        memset(w->dvt, 0, (size_t)(Ev * FLASH_LDC) * sizeof(float));
        for (int64_t hl = 0; hl < p->group; hl++)
            for (int64_t qt = 0; qt < nqt; qt++)
                if (w->qlo[qt] < j0 + bc && w->qhi[qt] > j0)
                    bwd_pair(cx, t->seg, w, dqb, b, hk * p->group + hl, hl, qt, j0, bc, packed);
        unpack_transposed(cx->ops, bc, E, w->dkt, dk, bs->dks[2], bs->dks[3]);
        unpack_transposed(cx->ops, bc, Ev, w->dvt, dv, bs->dvs[2], bs->dvs[3]);
    }
}

/* dq rows of (b, kv head hk) from a [group][Lq][Ep] buffer, or the sum of nchunk of them. */
static void write_dq(const flash_bwd_seg *bs, int64_t b, int64_t hk, const float *buf,
                     int64_t nchunk, int64_t chunk_stride)
{
    const attn_sdpa_problem *p = &bs->seg->p;
    const int64_t Ep = flash_pad(p->E);
    for (int64_t hl = 0; hl < p->group; hl++)
        for (int64_t i = 0; i < p->Lq; i++) {
            const int64_t h = hk * p->group + hl;
            float *dq = bs->dq + b * bs->dqs[0] + h * bs->dqs[1] + i * bs->dqs[2];
            const float *src = buf + (hl * p->Lq + i) * Ep;
            for (int64_t e = 0; e < p->E; e++) {
                float acc = src[e];
                for (int64_t c = 1; c < nchunk; c++) acc += src[c * chunk_stride + e];
                dq[e * bs->dqs[3]] = acc;
            }
        }
}

int flash_backward_segs(const char *fn, const flash_bwd_seg *segs, int64_t nseg, int threads,
                        const flash_ops *ops)
{
    int64_t ntask = 0, pool = 0, Emax = 1, Evmax = 1, Lqmax = 1, rows = 0, all_rows = 0;
    int serial = 0;
    for (int64_t s = 0; s < nseg; s++) {
        const flash_seg *sg = segs[s].seg;
        const attn_sdpa_problem *p = &sg->p;
        const int64_t nc = seg_chunks(sg);
        ntask += p->B * p->Hkv * nc;
        if (nc > 1) pool += p->B * p->Hkv * nc * p->group * p->Lq * flash_pad(p->E);
        if (p->E > Emax) Emax = p->E;
        if (p->Ev > Evmax) Evmax = p->Ev;
        if (p->Lq > Lqmax) Lqmax = p->Lq;
        if (p->group * p->Lq > all_rows) all_rows = p->group * p->Lq;
        rows += p->B * p->Hq * p->Lq;
        const attn_tensor *db = segs[s].dbias;
        if (db) {
            for (int64_t a = 0; a < db->shape[0]; a++)
                for (int64_t h = 0; h < db->shape[1]; h++)
                    for (int64_t i = 0; i < db->shape[2]; i++)
                        for (int64_t j = 0; j < db->shape[3]; j++)
                            db->data[a * db->stride[0] + h * db->stride[1] + i * db->stride[2] +
                                     j * db->stride[3]] = 0;
            if ((p->bias_shape[0] == 1 && p->B > 1) || (p->bias_shape[1] == 1 && p->Hkv > 1) ||
                (p->bias_shape[3] == 1 && nc > 1))
                serial = 1; /* tasks would share dbias elements: keep one fixed order */
        }
    }
    if (ntask == 0) return ATTN_OK;
    bwd_task *tasks = malloc((size_t)ntask * sizeof *tasks);
    float *poolbuf = pool ? malloc((size_t)pool * sizeof(float)) : NULL;
    float **L = calloc((size_t)nseg, sizeof *L), **D = calloc((size_t)nseg, sizeof *D);
    float *LD = malloc((size_t)(2 * rows) * sizeof(float));
    if (!tasks || (pool && !poolbuf) || !L || !D || !LD) {
        free(tasks), free(poolbuf), free(L), free(D), free(LD);
        return attn_fail(ATTN_E_NOMEM, "%s: out of memory for %lld tasks", fn, (long long)ntask);
    }
    int nt = serial ? 1 : (threads < 1 ? 1 : threads);
    /* lse with −∞ (nothing attended) turned into +∞ so that exp(S − L) is 0, and D = dO·O */
    int64_t off = 0;
    for (int64_t s = 0; s < nseg; s++) {
        const flash_bwd_seg *bs = &segs[s];
        const attn_sdpa_problem *p = &bs->seg->p;
        const int64_t n = p->B * p->Hq * p->Lq;
        L[s] = LD + off, D[s] = LD + rows + off;
        off += n;
        float *Ls = L[s], *Ds = D[s];
#pragma omp parallel for num_threads(nt) schedule(static) if (n > 4096)
        for (int64_t r = 0; r < n; r++) {
            const int64_t i = r % p->Lq, h = (r / p->Lq) % p->Hq, b = r / (p->Lq * p->Hq);
            float l = bs->seg->lse[b * bs->seg->lse_bs + h * bs->seg->lse_hs + i];
            Ls[r] = l == -INFINITY ? INFINITY : l;
            const float *o = bs->o + b * bs->os[0] + h * bs->os[1] + i * bs->os[2];
            const float *g = bs->dout + b * bs->dos[0] + h * bs->dos[1] + i * bs->dos[2];
            double acc = 0;
            for (int64_t e = 0; e < p->Ev; e++) acc += (double)o[e * bs->os[3]] * g[e * bs->dos[3]];
            Ds[r] = (float)acc;
        }
    }
    int64_t n = 0, poff = 0;
    for (int64_t s = 0; s < nseg; s++) {
        const attn_sdpa_problem *p = &segs[s].seg->p;
        const int64_t nc = seg_chunks(segs[s].seg), per = p->group * p->Lq * flash_pad(p->E);
        for (int64_t b = 0; b < p->B; b++)
            for (int64_t hk = 0; hk < p->Hkv; hk++)
                for (int64_t c = 0; c < nc; c++) {
                    bwd_task *t = &tasks[n++];
                    t->seg = s, t->b = b, t->hk = hk, t->chunk = c, t->nchunk = nc;
                    t->dqb = nc > 1 ? poolbuf + poff + c * per : NULL;
                    if (c == nc - 1 && nc > 1) poff += nc * per;
                }
    }
    bwd_ctx cx = {segs, ops, L, D};
    if (all_rows * (flash_pad(Emax) + flash_pad(Evmax) + 2 * FLASH_PAD) * (int64_t)sizeof(float) >
        attn_flash_bwd_pack_bytes)
        all_rows = 0;
    if (nt > ntask) nt = (int)ntask;
    double work = 0; /* flops, as if nothing were masked */
    for (int64_t s = 0; s < nseg; s++) {
        const attn_sdpa_problem *p = &segs[s].seg->p;
        work += 5.0 * (double)(p->B * p->Hq * p->Lq) *
                (double)(segs[s].seg->kend - segs[s].seg->kbase) * (double)(p->E + p->Ev);
    }
    const int spread = attn_team_worth_spreading(nt, work);
    int cpus[ATTN_TEAM_MAX];
    int failed = 0;
#pragma omp parallel num_threads(nt)
    {
        attn_team_cpu me; /* one thread per CPU for the call (internal.h) */
        if (spread) attn_team_spread(cpus, &me);
        bwd_ws *w = bws_alloc(Emax, Evmax, Lqmax, all_rows);
        float *own = malloc((size_t)(Lqmax * flash_pad(Emax)) * sizeof(float) *
                            (size_t)1 /* grown below when a group needs more */);
        size_t own_n = own ? (size_t)(Lqmax * flash_pad(Emax)) : 0;
        if (!w || !own) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp barrier
        if (!failed) {
#pragma omp for schedule(dynamic, 1)
            for (int64_t ti = 0; ti < ntask; ti++) {
                const bwd_task *t = &tasks[ti];
                const attn_sdpa_problem *p = &segs[t->seg].seg->p;
                float *dqb = t->dqb;
                if (!dqb) {
                    size_t need = (size_t)(p->group * p->Lq * flash_pad(p->E));
                    if (need > own_n) {
                        float *g = realloc(own, need * sizeof(float));
                        if (!g) {
#pragma omp atomic write
                            failed = 1;
                            continue;
                        }
                        own = g, own_n = need;
                    }
                    dqb = own;
                }
                bwd_task_run(&cx, t, w, dqb);
                if (!t->dqb) write_dq(&segs[t->seg], t->b, t->hk, dqb, 1, 0);
            }
        }
        bws_free(w);
        free(own);
        if (spread) attn_team_unspread(&me);
    }
    if (!failed && pool) {
        /* one (segment, b, kv head) per iteration: disjoint dq rows, each summed in chunk order */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (int64_t ti = 0; ti < ntask; ti++) {
            const bwd_task *t = &tasks[ti];
            if (t->nchunk == 1 || t->chunk != 0) continue;
            const attn_sdpa_problem *p = &segs[t->seg].seg->p;
            write_dq(&segs[t->seg], t->b, t->hk, t->dqb, t->nchunk,
                     p->group * p->Lq * flash_pad(p->E));
        }
    }
    free(tasks), free(poolbuf), free(L), free(D), free(LD);
    if (failed) return attn_fail(ATTN_E_NOMEM, "%s: out of memory for kernel scratch", fn);
    return ATTN_OK;
}

int attn_sdpa_flash_backward(const attn_sdpa_problem *p, const attn_tensor *out, const float *lse,
                             const attn_tensor *dout, const attn_tensor *dq, const attn_tensor *dk,
                             const attn_tensor *dv, const attn_tensor *dbias)
{
    static const char fn[] = "attn_sdpa_backward";
    const flash_ops *ops = flash_ops_current();
    flash_seg sg;
    sg.p = *p;
    sg.kbase = 0, sg.kend = p->Lk;
    sg.ent = NULL;
    sg.lse_bs = p->Hq * p->Lq, sg.lse_hs = p->Lq;
    sg.lse = (float *)lse;
    float *tmp_o = NULL, *tmp_l = NULL;
    flash_bwd_seg bs;
    memset(&bs, 0, sizeof bs);
    if (!out || !lse) { /* recompute what the caller did not keep */
        const int64_t Ev = p->Ev;
        tmp_o = malloc((size_t)(p->B * p->Hq * p->Lq * Ev) * sizeof(float));
        tmp_l = malloc((size_t)(p->B * p->Hq * p->Lq) * sizeof(float));
        if (!tmp_o || !tmp_l) {
            free(tmp_o), free(tmp_l);
            return attn_fail(ATTN_E_NOMEM, "%s: out of memory recomputing the forward", fn);
        }
        flash_seg f = sg;
        f.p.o = tmp_o;
        f.p.os[3] = 1, f.p.os[2] = Ev, f.p.os[1] = p->Lq * Ev, f.p.os[0] = p->Hq * p->Lq * Ev;
        f.lse = tmp_l;
        int st = flash_forward_segs(fn, &f, 1, p->threads, ops);
        if (st < 0) {
            free(tmp_o), free(tmp_l);
            return st;
        }
        sg.lse = tmp_l;
        bs.o = tmp_o;
        memcpy(bs.os, f.p.os, sizeof bs.os);
    } else {
        bs.o = out->data;
        memcpy(bs.os, out->stride, sizeof bs.os);
    }
    bs.seg = &sg;
    bs.dout = dout->data;
    memcpy(bs.dos, dout->stride, sizeof bs.dos);
    bs.dq = dq->data, bs.dk = dk->data, bs.dv = dv->data;
    memcpy(bs.dqs, dq->stride, sizeof bs.dqs);
    memcpy(bs.dks, dk->stride, sizeof bs.dks);
    memcpy(bs.dvs, dv->stride, sizeof bs.dvs);
    bs.dbias = dbias;
    int st = flash_backward_segs(fn, &bs, 1, p->threads, ops);
    free(tmp_o), free(tmp_l);
    return st;
}
