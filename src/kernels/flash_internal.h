/* flash_internal.h — the fused attention kernel's pieces: the SIMD primitives each ISA file
 * provides, and the "segment" that forward and backward work on.
 *
 * Layout of the work (FlashAttention-2): the forward keeps, per query tile, Qᵀ packed once and
 * the scores transposed (keys × queries), so the online softmax runs down columns with plain
 * vector ops; K and V tiles are copied into padded rows (flash_pack_rows). The backward keeps,
 * per key tile, Kᵀ, K and Vᵀ packed once and walks all query tiles of the kv-head's group,
 * whose Q and dO rows a task packs once (or tile by tile when they would not fit).
 *
 * Every product is C[M×N] (+)= alpha · A[M×K] · B[K×N] with A read element by element through
 * two strides (so it may be a strided input or a transposed view) and B, C row-major with N a
 * multiple of the vector length (buffers are zero padded). */
#ifndef ATTN_FLASH_INTERNAL_H
#define ATTN_FLASH_INTERNAL_H

#include "sdpa_internal.h"

#include <string.h>

#define FLASH_BR 128      /* query rows per tile */
#define FLASH_BC 64      /* keys per backward tile (the forward takes FLASH_FWD_BC, flash.c) */
#define FLASH_MAX_E 256  /* widest E and Ev served */
#define FLASH_PAD 16     /* every padded width is a multiple of this (the widest vector) */
#define FLASH_ROWS_MAX 8 /* query lengths up to this use the row-at-a-time paths */
/* Row pitch of the tiles FLASH_BR (resp. FLASH_BC) wide: one vector more than the width. A
 * kernel walks a column block of such a tile down its rows; with a pitch of 512 bytes (or 256)
 * every row of the walk maps to the same 8 (16) of L1's 64 sets, and a 128-row walk evicts
 * itself. An odd number of cache lines spreads the walk over every set. */
#define FLASH_LDR (FLASH_BR + FLASH_PAD)
/* A product whose whole B operand takes at most this many bytes walks A's rows outside (B stays
 * in L1, each block of A is read once, and C is walked row after row); a larger B walks its
 * column panels outside instead. The backward's Kᵀ, Vᵀ and K rows (64 rows of 80 floats) fit;
 * a 128-query Qᵀ does not. */
#define FLASH_GEMM_B_L1 (24 << 10)
#define FLASH_LDC (FLASH_BC + FLASH_PAD)

typedef struct flash_ops {
    attn_isa isa;
    /* C = alpha·A·B (acc = 0) or C += alpha·A·B (acc = 1); A(m, k) = A[m·ars + k·acs];
     * N a multiple of FLASH_PAD; B and C rows may be read up to N. */
    void (*gemm)(int64_t M, int64_t N, int64_t K, const float *A, int64_t ars, int64_t acs,
                 const float *B, int64_t ldb, float *C, int64_t ldc, float alpha, int acc);
    /* Online softmax down the columns of S [rows × ncols] (ncols padded): for each column c,
     * m_new = max(m[c], max_r S[r][c]); alpha[c] = exp(m[c] − m_new); S ← exp(S − m_new);
     * l[c] = l[c]·alpha[c] + Σ_r S[r][c]; m[c] = m_new. −∞ everywhere stays 0 without NaN. */
    void (*softmax_cols)(float *S, int64_t lds, int64_t rows, int64_t ncols, float *m, float *l,
                         float *alpha);
    /* X[r][c] *= alpha[c] for rows × ncols. */
    void (*scale_cols)(float *X, int64_t ldx, int64_t rows, int64_t ncols, const float *alpha);
    /* S[r][c] = exp(S[r][c] − lse[r]) (lse = +∞ gives 0). */
    void (*exp_rows)(float *S, int64_t lds, int64_t rows, int64_t ncols, const float *lse);
    /* dP[r][c] = P[r][c] · (dP[r][c] − D[r]), and exactly 0 where P = 1 (a row that attends
     * one key: dP − D is then rounding noise of two ways to compute the same number). */
    void (*ds_rows)(const float *P, float *dP, int64_t ld, int64_t rows, int64_t ncols,
                    const float *D);
    /* Decoding: s[j] = alpha · Σ_e q[e]·K(j, e) for j < n, K rows at k + j·ldk (contiguous e). */
    void (*dots)(int64_t n, int64_t E, const float *q, const float *k, int64_t ldk, float alpha,
                 float *s);
    /* o[e] += w · v[e] for e < n. */
    void (*axpy)(int64_t n, float w, const float *v, float *o);
    /* dst[c·ldd + r] = src[r·lds + c] for r < rows, c < cols (packing tiles: data moves, no
     * arithmetic, so every ISA gives the same bits). */
    void (*transpose)(int64_t rows, int64_t cols, const float *src, int64_t lds, float *dst,
                      int64_t ldd);
} flash_ops;

/* Precision. Large scores, or scores summed from large terms that cancel, keep little absolute
 * precision in a float dot product: a logit of 100 (or a logit of 1 summed from terms of 100)
 * carries ~1e-5 of rounding, which the softmax turns into a relative error of the weights —
 * where PyTorch's float32 matmul, summing in another order, may be luckier. Such tiles are
 * recomputed with double sums. The triggers cost almost nothing on realistic attention:
 *   - a row whose running maximum (forward) or log-sum-exp (backward) exceeds
 *     FLASH_EXACT_SCORE in magnitude;
 *   - a tile whose terms are bounded by scale·max‖q‖·max‖k‖ > FLASH_EXACT_TERMS (Cauchy–
 *     Schwarz), checked only when scale·max‖q‖ of the query tile exceeds FLASH_EXACT_QNORM. */
#define FLASH_EXACT_SCORE 16.0f
#define FLASH_EXACT_TERMS 256.0f
#define FLASH_EXACT_QNORM 4.0f

/* C = alpha·A·B with double sums for the M × n (unpadded) block. */
static inline void flash_exact_gemm(int64_t M, int64_t n, int64_t K, const float *A, int64_t ars,
                                    int64_t acs, const float *B, int64_t ldb, float *C,
                                    int64_t ldc, float alpha)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            for (int64_t k = 0; k < K; k++) acc += (double)A[i * ars + k * acs] * B[k * ldb + j];
            C[i * ldc + j] = (float)(acc * alpha);
        }
}

/* s[j] = alpha·q·K(j) with double sums for j < n. */
static inline void flash_exact_dots(int64_t n, int64_t E, const float *q, const float *k,
                                    int64_t ldk, float alpha, float *s)
{
    for (int64_t j = 0; j < n; j++) {
        double acc = 0;
        for (int64_t e = 0; e < E; e++) acc += (double)q[e] * k[j * ldk + e];
        s[j] = (float)(acc * alpha);
    }
}

/* Largest Euclidean norm of M strided rows of K elements: A(i, k) = A[i·ars + k·acs]. */
static inline float flash_max_row_norm(int64_t M, int64_t K, const float *A, int64_t ars,
                                       int64_t acs)
{
    float best = 0;
    for (int64_t i = 0; i < M; i++) {
        float s = 0;
        for (int64_t k = 0; k < K; k++) s += A[i * ars + k * acs] * A[i * ars + k * acs];
        best = s > best ? s : best;
    }
    return sqrtf(best);
}

/* Whether any of n scores exceeds FLASH_EXACT_SCORE in magnitude (−∞ does not count). */
static inline int flash_large_scores(int64_t n, const float *s, int64_t stride)
{
    for (int64_t j = 0; j < n; j++) {
        float a = s[j * stride] < 0 ? -s[j * stride] : s[j * stride];
        if (a > FLASH_EXACT_SCORE && a != INFINITY) return 1;
    }
    return 0;
}

ATTN_INTERNAL const flash_ops *flash_ops_portable(void);
ATTN_INTERNAL const flash_ops *flash_ops_avx2(void);
ATTN_INTERNAL const flash_ops *flash_ops_avx512(void);
/* The primitives for attn_get_isa(). */
ATTN_INTERNAL const flash_ops *flash_ops_current(void);

/* A piece of work: one validated problem (B, Lq, Lk positions, options) whose keys present in
 * memory are [kbase, kend): k and v address key kbase. lse rows are at
 * lse[b·lse_bs + h·lse_hs + i]; ent likewise (NULL: not wanted). Varlen calls make one segment
 * per sequence; partial (key-slice) calls set kbase/kend. */
typedef struct flash_seg {
    attn_sdpa_problem p;
    int64_t kbase, kend;
    float *lse, *ent;
    int64_t lse_bs, lse_hs;
} flash_seg;

/* Whether a problem takes the row-at-a-time paths (dot products over E instead of tiles), in
 * forward and backward alike: both then compute every score with the same arithmetic, so a
 * row attending a single key gets P = exp(S − lse) = 1 exactly in backward. */
static inline int flash_rows_path(const attn_sdpa_problem *p)
{
    return p->Lq <= FLASH_ROWS_MAX && p->ks[3] == 1 && p->vs[3] == 1;
}

static inline int64_t flash_pad(int64_t n) { return (n + FLASH_PAD - 1) / FLASH_PAD * FLASH_PAD; }

/* dst[r·ldd + e] = x(r, e) for r < rows, e < cols; x(r, e) at src[r·rs + e·es]. The tiles the
 * products broadcast element by element are copied so (ldd = flash_pad(cols) + FLASH_PAD, an
 * odd number of cache lines): read in place, rows of a packed q|k|v projection lie 3·H·E
 * floats apart (4,608 bytes for 6 heads of 64), every row starts in one of 8 of L1's 64 sets,
 * and a tile walked down its rows evicts itself. The copy is 1/FLASH_BR of the products. */
static inline void flash_pack_rows(int64_t rows, int64_t cols, const float *src, int64_t rs,
                                   int64_t es, float *dst, int64_t ldd)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *x = src + r * rs;
        float *d = dst + r * ldd;
        if (es == 1)
            memcpy(d, x, (size_t)cols * sizeof(float));
        else
            for (int64_t e = 0; e < cols; e++) d[e] = x[e * es];
    }
}

/* Dropout multipliers (0 or 1/(1−p)) of keys j0 .. j0+n−1 of row (b, h, i): the decisions of
 * attn_dropout_keep, made 64 at a time by attn_dropout_mask_fill's SIMD paths. */
static inline void flash_dropout_row(const attn_sdpa_problem *p, int64_t b, int64_t h, int64_t i,
                                     int64_t j0, int64_t n, float *ks)
{
    const uint64_t idx = sdpa_dropout_index(p, b, h, i, j0);
    uint8_t keep[256];
    for (int64_t t0 = 0; t0 < n; t0 += 256) {
        const int64_t m = n - t0 < 256 ? n - t0 : 256;
        /* cannot fail: m ≥ 0, keep is set, p is in [0, 1) and the index range was checked */
        (void)attn_dropout_mask_fill(p->seed, p->offset, idx + (uint64_t)t0, m, p->dropout_p, keep);
        for (int64_t t = 0; t < m; t++) ks[t0 + t] = keep[t] ? p->dropout_scale : 0.0f;
    }
}

/* The multipliers of a tile: rows i0 .. i0+br−1 of (b, h), keys j0 .. j0+bc−1, into
 * ks[c*ld + jj]. Row c's decisions start Lk indices after row c−1's, so when keys are few
 * (the common case in training) the whole tile lies in one short run of indices, drawn in one
 * call, 64 at a time, skipping the Lk − bc keys between rows; otherwise row by row. The
 * decisions are the same either way. */
static inline void flash_dropout_tile(const attn_sdpa_problem *p, int64_t b, int64_t h, int64_t i0,
                                      int64_t br, int64_t j0, int64_t bc, float *ks, int64_t ld)
{
    const int64_t span = (br - 1) * p->Lk + bc;
    if (br == 1 || span > FLASH_BR * FLASH_BC || p->Lk - bc > bc) {
        for (int64_t c = 0; c < br; c++) flash_dropout_row(p, b, h, i0 + c, j0, bc, ks + c * ld);
        return;
    }
    uint8_t keep[FLASH_BR * FLASH_BC];
    /* cannot fail, as in flash_dropout_row */
    (void)attn_dropout_mask_fill(p->seed, p->offset, sdpa_dropout_index(p, b, h, i0, j0), span,
                                 p->dropout_p, keep);
    for (int64_t c = 0; c < br; c++)
        for (int64_t jj = 0; jj < bc; jj++)
            ks[c * ld + jj] = keep[c * p->Lk + jj] ? p->dropout_scale : 0.0f;
}

/* Forward of every segment; out pointers are in each segment's problem. */
ATTN_INTERNAL int flash_forward_segs(const char *fn, flash_seg *segs, int64_t nseg, int threads,
                                     const flash_ops *ops);

/* Backward of every segment. For segment s, do_[s] etc. are views of the same shapes as its
 * problem; lse as in the segment (must be set: the caller recomputes it when missing). */
typedef struct flash_bwd_seg {
    const flash_seg *seg;
    const float *o;
    int64_t os[4];
    const float *dout;
    int64_t dos[4];
    float *dq, *dk, *dv;
    int64_t dqs[4], dks[4], dvs[4];
    const attn_tensor *dbias; /* NULL: none */
} flash_bwd_seg;

/* Bytes (shared by a call's threads) up to which the forward packs a head's keys and values
 * once (flash.c; the tests lower it to take the tile-by-tile path). */
ATTN_INTERNAL extern int64_t attn_flash_fwd_cache_bytes;

/* Per-thread bytes up to which a backward task packs all its Q and dO rows once (flash_bwd.c;
 * the tests lower it to take the tile-by-tile path). */
ATTN_INTERNAL extern int64_t attn_flash_bwd_pack_bytes;

ATTN_INTERNAL int flash_backward_segs(const char *fn, const flash_bwd_seg *segs, int64_t nseg,
                                      int threads, const flash_ops *ops);

/* Merge n partial results (row_s, lse_s) of one query row into (out, lse): out = Σ_s w_s·row_s
 * with w_s = exp(lse_s − lse), lse = log Σ_s exp(lse_s). w: scratch of n doubles. Rows whose
 * every lse is −∞ give 0 and −∞. Shared by the split decoder and attn_sdpa_merge. */
static inline void flash_merge_row(int64_t n, const float *const *rows, const float *lses,
                                   int64_t ev, double *w, float *out, float *lse)
{
    float m = -INFINITY;
    for (int64_t s = 0; s < n; s++)
        if (lses[s] > m) m = lses[s];
    if (m == -INFINITY) {
        for (int64_t e = 0; e < ev; e++) out[e] = 0;
        if (lse) *lse = -INFINITY;
        return;
    }
    double sum = 0;
    for (int64_t s = 0; s < n; s++) sum += w[s] = lses[s] == -INFINITY ? 0 : exp((double)lses[s] - m);
    for (int64_t e = 0; e < ev; e++) {
        double acc = 0;
        for (int64_t s = 0; s < n; s++)
            if (w[s] != 0) acc += w[s] * rows[s][e];
        out[e] = (float)(acc / sum);
    }
    if (lse) *lse = (float)(m + log(sum));
}

#endif
