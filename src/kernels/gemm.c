/* gemm.c — attn_sgemm: single-precision C = alpha·op(A)·op(B) + beta·C, row-major.
 *
 * Goto/BLIS blocking, written for row-major C. The micro-kernel (gemm_internal.h) keeps an
 * MR×NR tile of C in registers, broadcasting A and loading B as vectors along N:
 *
 *   for jc over N in blocks of nc                       B block kc×nc: in L2, shared
 *     for pc over K in blocks of kc                     (K never split across threads)
 *       pack op(B)[pc:pc+kc, jc:jc+nc] into NR-wide panels      (threads split the panels)
 *       barrier
 *       for each MR×NR tile of C[:, jc:jc+nc], i-major  (threads split the tile range)
 *         pack op(A)[i:i+MR, pc:pc+kc] when i changes   (MR×kc panel: in L1)
 *         micro-kernel: C tile = alpha·Σ_k A·B + (pc = 0 ? beta : 1)·C tile
 *       barrier
 *
 * Each C element is the sum of the same K-blocks in the same order whatever thread computes
 * its tile, so results are bit-identical for any thread count. When few rows of A share each
 * B panel, packing B costs more than it saves: the kernel then reads B in place (B not
 * transposed) or the product is done as dot products (C = A·Bᵀ with B rows contiguous). */
#include "gemm_internal.h"

#include <omp.h>
#include <string.h>

#define KC_MAX 384                 /* K block: A panel MR×kc in L1 */
#define B_BLOCK_FLOATS (384 * 384) /* kc×nc B block: 576 KB, half-to-most of a 1–1.25 MB L2 */
#define A_PANELS 8                 /* row panels of A packed together (one run of lines per k) */
#ifndef DOT_MAX_M
#define DOT_MAX_M 4 /* A·Bᵀ with at most this many rows: dot products */
#endif

/* ------------------------------------------------------------------------------------------ */
/* Portable micro-kernel: 4×16, plain C the compiler can vectorise with baseline SSE.          */
/* ------------------------------------------------------------------------------------------ */

#define P_MR 4
#define P_NR 16

static void portable_kernel(int64_t kc, const float *a, const float *b, int64_t bs, float *c,
                            int64_t ldc, int mr, int nr, float alpha, float beta)
{
    float acc[P_MR][P_NR];
    memset(acc, 0, sizeof acc);
    for (int64_t k = 0; k < kc; k++) {
        for (int i = 0; i < P_MR; i++) {
            float ai = a[i];
            for (int j = 0; j < P_NR; j++) acc[i][j] += ai * b[j];
        }
        a += P_MR;
        b += bs;
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) {
            float r = alpha * acc[i][j];
            if (beta != 0.0f) r += beta * c[i * ldc + j];
            c[i * ldc + j] = r;
        }
}

static const attn_gemm_arch portable_arch = {P_MR, P_NR, portable_kernel, NULL, NULL, NULL};

static const attn_gemm_arch *pick_arch(void)
{
    switch (attn_get_isa()) {
    case ATTN_ISA_AVX512: return &attn_gemm_arch_avx512;
    case ATTN_ISA_AVX2: return &attn_gemm_arch_avx2;
    default: return &portable_arch;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Packing                                                                                    */
/* ------------------------------------------------------------------------------------------ */

typedef struct gemm_job {
    const attn_gemm_arch *arch;
    int ta, tb;
    int64_t M, N, K;
    float alpha, beta;
    const float *A, *B;
    int64_t lda, ldb, ldc;
    float *C;
    int64_t kcb, nk; /* K blocks: nk blocks of kcb (the last may be shorter) */
    int64_t nc;      /* N block, a multiple of NR */
    int direct_b;    /* full B panels read in place (B not transposed) */
    int64_t apanels; /* A row panels packed at once */
    float *bpack;    /* 2 × bfloats: [kcb × nc], or one [kcb × NR] panel when direct_b */
    int64_t bfloats;
    float *apack;    /* per thread apanels × [kcb × MR] */
} gemm_job;

/* Row panels ip0 ≤ ip < ip1 of op(A)[:, p0:p0+kc]: panel q at dst + q*kc*MR holds
 * dst[k*MR + i] = op(A)[(ip0 + q)*MR + i][p0 + k], zero past the last row of A. */
static void pack_a(const gemm_job *g, float *dst, int64_t ip0, int64_t ip1, int64_t p0,
                   int64_t kc)
{
    const int MR = g->arch->mr;
    const int64_t r0 = ip0 * MR, r1 = ip1 * MR < g->M ? ip1 * MR : g->M;
    if (g->arch->pack_a) {
        for (int64_t q = 0; q < ip1 - ip0; q++) {
            const int64_t i0 = r0 + q * MR;
            const int mr = (int)(r1 - i0 < MR ? r1 - i0 : MR);
            const float *src = g->ta ? g->A + p0 * g->lda + i0 : g->A + i0 * g->lda + p0;
            g->arch->pack_a(g->ta, kc, mr, src, g->lda, dst + q * kc * MR);
        }
        return;
    }
    if (!g->ta) { /* rows of A are contiguous along k: read each, scatter with stride MR */
        for (int64_t r = r0; r < r1; r++) {
            const float *row = g->A + r * g->lda + p0;
            float *d = dst + (r - r0) / MR * kc * MR + (r - r0) % MR;
            for (int64_t k = 0; k < kc; k++) d[k * MR] = row[k];
        }
    } else { /* columns of the stored A are contiguous along i: one run per k */
        for (int64_t k = 0; k < kc; k++) {
            const float *col = g->A + (p0 + k) * g->lda + r0;
            for (int64_t q = 0; q < ip1 - ip0; q++) {
                const int64_t n = r1 - r0 - q * MR < MR ? r1 - r0 - q * MR : MR;
                float *d = dst + q * kc * MR + k * MR;
                for (int64_t i = 0; i < n; i++) d[i] = col[q * MR + i];
            }
        }
    }
    if ((r1 - r0) % MR) { /* zero the missing rows of the last panel */
        float *d = dst + (r1 - r0) / MR * kc * MR;
        for (int64_t k = 0; k < kc; k++)
            for (int i = (int)((r1 - r0) % MR); i < MR; i++) d[k * MR + i] = 0.0f;
    }
}

/* dst[k*NR + j] = op(B)[p0 + k][j0 + j], zero for j ≥ nr. */
static void pack_b(const gemm_job *g, float *dst, int64_t j0, int nr, int64_t p0, int64_t kc)
{
    const int NR = g->arch->nr;
    if (!g->tb) {
        for (int64_t k = 0; k < kc; k++) {
            memcpy(dst + k * NR, g->B + (p0 + k) * g->ldb + j0, (size_t)nr * sizeof(float));
            for (int j = nr; j < NR; j++) dst[k * NR + j] = 0.0f;
        }
    } else if (g->arch->pack_bt) {
        g->arch->pack_bt(kc, nr, g->B + j0 * g->ldb + p0, g->ldb, dst);
    } else {
        /* Transposing: walk k in chunks so the destination lines stay in L1. */
        for (int64_t kb = 0; kb < kc; kb += 64) {
            int64_t ke = kb + 64 < kc ? kb + 64 : kc;
            for (int j = 0; j < nr; j++) {
                const float *row = g->B + (j0 + j) * g->ldb + p0;
                for (int64_t k = kb; k < ke; k++) dst[k * NR + j] = row[k];
            }
            for (int64_t k = kb; k < ke; k++)
                for (int j = nr; j < NR; j++) dst[k * NR + j] = 0.0f;
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Blocked product: the body every thread runs                                                */
/* ------------------------------------------------------------------------------------------ */

/* Where panel jp of the current B block lives: in bpack, or in place in B. In place, only the
 * ragged last panel is packed, at the start of bpack. */
static const float *b_panel(const gemm_job *g, const float *bpack, int64_t jp, int nr, int64_t j0,
                            int64_t p0, int64_t kc, int64_t *bs)
{
    const int NR = g->arch->nr;
    *bs = NR;
    if (!g->direct_b) return bpack + jp * NR * kc;
    if (nr < NR) return bpack;
    *bs = g->ldb;
    return g->B + p0 * g->ldb + j0;
}

static void gemm_blocked(const gemm_job *g, int tid, int nt)
{
    const int MR = g->arch->mr, NR = g->arch->nr;
    float *ap = g->apack + (int64_t)tid * g->apanels * g->kcb * MR;
    const int64_t nip = (g->M + MR - 1) / MR;
    /* Work is handed out dynamically (the machine may be shared): runs of up to `apanels`
     * row panels × the whole block width when there are enough rows, else single tiles.
     * Which thread computes a tile never changes its value. */
    int64_t rows_per_chunk = nip / (4 * nt);
    if (rows_per_chunk > g->apanels) rows_per_chunk = g->apanels;
    int64_t block = 0;
    for (int64_t jc = 0; jc < g->N; jc += g->nc) {
        const int64_t ncur = g->N - jc < g->nc ? g->N - jc : g->nc;
        const int64_t njp = (ncur + NR - 1) / NR;
        for (int64_t pb = 0; pb < g->nk; pb++, block++) {
            const int64_t p0 = pb * g->kcb;
            const int64_t kc = g->K - p0 < g->kcb ? g->K - p0 : g->kcb;
            const float beta = pb == 0 ? g->beta : 1.0f;
            /* Two B buffers: packing block b+1 can start while others still compute block b
             * (block b−1's buffer is free: every thread passed the barrier of block b). */
            float *bpack = g->bpack + (block & 1) * g->bfloats;

            for (int64_t jp = njp * tid / nt; jp < njp * (tid + 1) / nt; jp++) {
                const int64_t j0 = jc + jp * NR;
                const int nr = (int)(g->N - j0 < NR ? g->N - j0 : NR);
                if (g->direct_b && nr == NR) continue;
                pack_b(g, g->direct_b ? bpack : bpack + jp * NR * kc, j0, nr, p0, kc);
            }
#pragma omp barrier
            if (rows_per_chunk >= 1) {
                const int64_t nchunks = (nip + rows_per_chunk - 1) / rows_per_chunk;
#pragma omp for schedule(dynamic, 1) nowait
                for (int64_t ch = 0; ch < nchunks; ch++) {
                    const int64_t ip0 = ch * rows_per_chunk;
                    const int64_t ip1 = ip0 + rows_per_chunk < nip ? ip0 + rows_per_chunk : nip;
                    pack_a(g, ap, ip0, ip1, p0, kc);
                    for (int64_t ip = ip0; ip < ip1; ip++) {
                        const int64_t i0 = ip * MR;
                        const int mr = (int)(g->M - i0 < MR ? g->M - i0 : MR);
                        const float *a = ap + (ip - ip0) * kc * MR;
                        for (int64_t jp = 0; jp < njp; jp++) {
                            const int64_t j0 = jc + jp * NR;
                            const int nr = (int)(g->N - j0 < NR ? g->N - j0 : NR);
                            int64_t bs;
                            const float *bp = b_panel(g, bpack, jp, nr, j0, p0, kc, &bs);
                            g->arch->kernel(kc, a, bp, bs, g->C + i0 * g->ldc + j0, g->ldc, mr,
                                            nr, g->alpha, beta);
                        }
                    }
                }
            } else {
                int64_t packed_ip = -1;
#pragma omp for schedule(dynamic, 1) nowait
                for (int64_t t = 0; t < nip * njp; t++) {
                    const int64_t ip = t / njp, jp = t % njp;
                    const int64_t i0 = ip * MR, j0 = jc + jp * NR;
                    const int mr = (int)(g->M - i0 < MR ? g->M - i0 : MR);
                    const int nr = (int)(g->N - j0 < NR ? g->N - j0 : NR);
                    if (ip != packed_ip) {
                        pack_a(g, ap, ip, ip + 1, p0, kc);
                        packed_ip = ip;
                    }
                    int64_t bs;
                    const float *bp = b_panel(g, bpack, jp, nr, j0, p0, kc, &bs);
                    g->arch->kernel(kc, ap, bp, bs, g->C + i0 * g->ldc + j0, g->ldc, mr, nr,
                                    g->alpha, beta);
                }
            }
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Special cases                                                                              */
/* ------------------------------------------------------------------------------------------ */

/* alpha = 0 or K = 0: C = beta·C without reading A or B (beta = 0 writes zeros). */
static void scale_c(float *C, int64_t ldc, int64_t M, int64_t N, float beta)
{
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0.0f)
            memset(c, 0, (size_t)N * sizeof(float));
        else
            for (int64_t j = 0; j < N; j++) c[j] *= beta;
    }
}

/* C = op(A)·Bᵀ with a few rows: dot products of contiguous rows, no packing of B. Threads
 * split the columns; every element is computed the same way wherever it falls. */
static int gemm_dot(const attn_gemm_arch *arch, int ta, int64_t M, int64_t N, int64_t K,
                    float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                    float beta, float *C, int64_t ldc, int nt)
{
    float *arows = NULL;
    if (ta) { /* gather the few columns of the stored A into rows */
        arows = attn_aligned_alloc((size_t)(M * K) * sizeof(float));
        if (arows == NULL)
            return attn_fail(ATTN_E_NOMEM, "attn_sgemm: cannot allocate %lld floats of workspace",
                             (long long)(M * K));
        for (int64_t k = 0; k < K; k++)
            for (int64_t i = 0; i < M; i++) arows[i * K + k] = A[k * lda + i];
        A = arows;
        lda = K;
    }
    const int64_t nq = (N + 3) / 4; /* column quads */
    if (nt > nq) nt = (int)nq;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = omp_get_thread_num(), n = omp_get_num_threads();
        const int64_t j0 = nq * t / n * 4, j1 = nq * (t + 1) / n * 4 < N ? nq * (t + 1) / n * 4 : N;
        if (j1 > j0)
            for (int64_t i = 0; i < M; i++)
                arch->dotrow(K, A + i * lda, B + j0 * ldb, ldb, C + i * ldc + j0, j1 - j0, alpha,
                             beta);
    }
    free(arows);
    return ATTN_OK;
}

/* ------------------------------------------------------------------------------------------ */
/* Front end                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* A matrix stored rows×cols with row stride ld: ld ≥ max(1, cols), and its extent addressable. */
static int check_matrix(const char *fn, const char *name, int64_t rows, int64_t cols, int64_t ld)
{
    int64_t need = cols > 1 ? cols : 1;
    if (ld < need)
        return attn_fail(ATTN_E_ARG, "%s: ld%s=%lld is smaller than %lld (the stored row length)",
                         fn, name, (long long)ld, (long long)need);
    if (rows == 0 || cols == 0) return ATTN_OK;
    int64_t span;
    if (attn_mul_overflow(rows - 1, ld, &span) || __builtin_add_overflow(span, cols, &span) ||
        span > (int64_t)(PTRDIFF_MAX / (int64_t)sizeof(float)))
        return attn_fail(ATTN_E_OVERFLOW, "%s: %s (%lld×%lld, ld %lld) exceeds the address space",
                         fn, name, (long long)rows, (long long)cols, (long long)ld);
    return ATTN_OK;
}

int attn_sgemm(attn_trans trans_a, attn_trans trans_b, int64_t M, int64_t N, int64_t K,
               float alpha, const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
               float *C, int64_t ldc, int num_threads)
{
    static const char fn[] = "attn_sgemm";
    if (trans_a != ATTN_NO_TRANS && trans_a != ATTN_TRANS)
        return attn_fail(ATTN_E_ARG, "%s: trans_a=%d is not ATTN_NO_TRANS or ATTN_TRANS", fn,
                         (int)trans_a);
    if (trans_b != ATTN_NO_TRANS && trans_b != ATTN_TRANS)
        return attn_fail(ATTN_E_ARG, "%s: trans_b=%d is not ATTN_NO_TRANS or ATTN_TRANS", fn,
                         (int)trans_b);
    if (M < 0 || N < 0 || K < 0)
        return attn_fail(ATTN_E_ARG, "%s: negative size M=%lld N=%lld K=%lld", fn, (long long)M,
                         (long long)N, (long long)K);
    if (num_threads < 0)
        return attn_fail(ATTN_E_ARG, "%s: num_threads=%d is negative", fn, num_threads);
    const int ta = trans_a == ATTN_TRANS, tb = trans_b == ATTN_TRANS;
    ATTN_TRY(check_matrix(fn, "a", ta ? K : M, ta ? M : K, lda));
    ATTN_TRY(check_matrix(fn, "b", tb ? N : K, tb ? K : N, ldb));
    ATTN_TRY(check_matrix(fn, "c", M, N, ldc));
    if (M > 0 && N > 0) ATTN_REQUIRE_NONNULL(fn, C);
    if (M > 0 && K > 0) ATTN_REQUIRE_NONNULL(fn, A);
    if (K > 0 && N > 0) ATTN_REQUIRE_NONNULL(fn, B);
    if (M == 0 || N == 0) return ATTN_OK;
    if (K == 0 || alpha == 0.0f) {
        scale_c(C, ldc, M, N, beta);
        return ATTN_OK;
    }

    int nt = attn_resolve_threads(num_threads);
    if ((double)M * (double)N * (double)K < 262144.0) nt = 1;
    const attn_gemm_arch *arch = pick_arch();
    if (tb && arch->dotrow && M <= DOT_MAX_M)
        return gemm_dot(arch, ta, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, nt);

    gemm_job g = {.arch = arch, .ta = ta, .tb = tb, .M = M, .N = N, .K = K,
                  .alpha = alpha, .beta = beta, .A = A, .B = B, .lda = lda, .ldb = ldb,
                  .ldc = ldc, .C = C};
    const int MR = g.arch->mr, NR = g.arch->nr;
    g.nk = (K + KC_MAX - 1) / KC_MAX;
    g.kcb = (K + g.nk - 1) / g.nk;
    int64_t nc_max = B_BLOCK_FLOATS / g.kcb / NR * NR;
    if (nc_max < NR) nc_max = NR;
    int64_t nbn = (N + nc_max - 1) / nc_max;
    g.nc = ((N + nbn - 1) / nbn + NR - 1) / NR * NR;
    /* B in place when few row panels share it: up to 16 unless ldb is a multiple of 1024
     * floats, whose rows would crowd into few cache sets. */
    g.direct_b = !tb && (M <= 2 * MR || (M <= 16 * MR && (ldb & 1023) != 0));

    /* Threads: no more than there are tiles in a block (one for small products, above). */
    const int64_t tiles = ((M + MR - 1) / MR) * ((g.nc + NR - 1) / NR);
    if (nt > tiles) nt = (int)tiles;

    g.apanels = A_PANELS;
    g.bfloats = g.kcb * (g.direct_b ? NR : g.nc);
    size_t bytes = (2 * (size_t)g.bfloats + (size_t)nt * (size_t)(g.apanels * g.kcb * MR)) *
                   sizeof(float);
    float *work = attn_aligned_alloc(bytes);
    if (work == NULL)
        return attn_fail(ATTN_E_NOMEM, "%s: cannot allocate %zu bytes of packing workspace", fn,
                         bytes);
    g.bpack = work;
    g.apack = work + 2 * g.bfloats;

    if (nt == 1) {
        gemm_blocked(&g, 0, 1);
    } else {
#pragma omp parallel num_threads(nt)
        gemm_blocked(&g, omp_get_thread_num(), omp_get_num_threads());
    }
    free(work);
    return ATTN_OK;
}
