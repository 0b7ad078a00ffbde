/* gemm.c — attn_sgemm: single-precision C = alpha·op(A)·op(B) + beta·C, row-major.
 *
 * Goto/BLIS blocking, written for row-major C. The micro-kernel (gemm_internal.h) keeps an
 * MR×NR tile of C in registers, broadcasting A and loading B as vectors along N:
 *
 *   for jc over N in blocks of nc
 *     for each chunk: a run of MR-row panels × NR-column panels of C[:, jc:jc+nc]
 *       for pc over K in blocks of kc                  (K is never split across threads)
 *         pack op(A)[rows, pc:pc+kc]                   (MR×kc panels: each in L1 while used;
 *                                                       once for all jc when A is shared)
 *         for each tile: micro-kernel with the B panel (pc, j)   (B block kc×nc: in L2)
 *           C tile = alpha·Σ_k A·B + (pc = 0 ? beta : 1)·C tile
 *
 * B panels are packed once per call, on first use, by whichever thread needs them; threads
 * take (jc, chunk) items from one counter, without barriers (gemm_blocked).
 * Each C element is the sum of the same K-blocks in the same order whatever thread computes
 * its tile, so results are bit-identical for any thread count. When few rows of A share each
 * B panel, packing B costs more than it saves: the kernel then reads B in place (B not
 * transposed) or the product is done as dot products (C = A·Bᵀ with B rows contiguous: up to
 * DOT_TILE_MAX rows of A where the ISA has a tile of dot products, e.g. a decoder's batch
 * against a weight matrix). */
#include "gemm_internal.h"

#include <sched.h>
#include <string.h>

#define KC_MAX 384                 /* K block: A panel MR×kc in L1 */
#define B_BLOCK_FLOATS (384 * 384) /* kc×nc B block: 576 KB, half-to-most of a 1–1.25 MB L2 */
#define B_SLAB_MAX (8 << 20)       /* floats of packed B kept per column block (32 MB) */
#define A_PANELS 16                /* row panels of A packed together (one run of lines per k) */
#define DOT_MAX 4    /* at most this many rows (A·Bᵀ) or columns (op(A) = A): dot products */
#define DOT_TILE_MAX 96 /* rows of A·Bᵀ done as dot products where the ISA has a dot tile:
                         * measured on Zen 3, M = 64 ran 1.4× the packed path, M = 128 on par */
#define NARROW_N 32  /* up to this many columns, the AVX-512 path uses the narrower AVX2 tile */

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

static const attn_gemm_arch portable_arch = {P_MR, P_NR, portable_kernel, NULL, NULL,
                                             NULL, NULL, NULL};

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
    int64_t apanels; /* A row panels packed at once (room per thread) */
    /* B slabs: two buffers (by parity of jc's index), each with slots for the K blocks' panels
     * (ring slots per block row; ring = nk normally, 1 when one thread works alone with a
     * slab too large to keep); a slot holds one [kcb × NR] panel. */
    float *bpack;
    int64_t ring, slots; /* slots per K block: njp_max, or 1 (the ragged panel) if direct_b */
    int64_t bfloats;     /* floats per buffer: ring × slots × kcb × NR */
    float *apack;        /* per thread apanels × [kcb × MR], or NULL when A is shared: */
    float *ashare;       /* A packed once for every column block (see a_block), or NULL */
    int64_t *atag;       /* [row chunks × nk]: 0 unpacked, 1 being packed, 2 ready */
    /* Schedule (see gemm_blocked): items (jc, chunk), jc-major. */
    int64_t njc, nchunks;
    int64_t rpc, njg, jpg; /* a chunk: rpc row panels × jpg column panels; njg chunks across */
    int64_t next;          /* next work item to hand out (atomic) */
    int nt;                /* threads asked for */
    int64_t *jc_done;      /* [njc]: items finished in this column block */
    int64_t *panel_tag;    /* [2][ring × slots]: 2t+1 = being packed for use t, 2t+2 = ready */
} gemm_job;

#define A_SHARE_MAX (8 << 20) /* floats of A packed once for all column blocks (32 MB) */

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
    if (!g->tb && g->arch->pack_b) {
        g->arch->pack_b(kc, nr, g->B + p0 * g->ldb + j0, g->ldb, dst);
    } else if (!g->tb) {
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

/* Wait until *p ≥ v, yielding the core meanwhile (the machine may be oversubscribed: a
 * thread that spins would steal the time the thread it waits for needs). */
static void wait_at_least(int64_t *p, int64_t v)
{
    while (__atomic_load_n(p, __ATOMIC_ACQUIRE) < v) sched_yield();
}

/* Whether the caller is to pack the buffer behind *tag for the use marked `ready`: 1 once it
 * has claimed it (marked `packing`; it stores `ready` when done), 0 once another thread has
 * packed it — yielding the core while that thread works. */
static int claim_packing(int64_t *tag, int64_t packing, int64_t ready)
{
    for (;;) {
        int64_t t = __atomic_load_n(tag, __ATOMIC_ACQUIRE);
        if (t == ready) return 0;
        if (t != packing &&
            __atomic_compare_exchange_n(tag, &t, packing, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return 1;
        sched_yield(); /* another thread is packing it */
    }
}

/* Panel jp of B block (jcb, pb), packed by whichever thread needs it first. Returns where the
 * kernel reads it and its row stride. In place (direct_b), only the ragged last panel is
 * packed. */
static const float *b_panel(gemm_job *g, int64_t jcb, int64_t pb, int64_t jp, int nr,
                            int64_t j0, int64_t p0, int64_t kc, int64_t *bs)
{
    const int NR = g->arch->nr;
    *bs = NR;
    if (g->direct_b && nr == NR) {
        *bs = g->ldb;
        return g->B + p0 * g->ldb + j0;
    }
    const int64_t slot = (pb % g->ring) * g->slots + (g->direct_b ? 0 : jp);
    float *dst = g->bpack + (jcb & 1) * g->bfloats + slot * g->kcb * NR;
    int64_t *tag = g->panel_tag + (jcb & 1) * g->ring * g->slots + slot;
    const int64_t use = jcb * g->nk + pb, packing = 2 * use + 1, ready = 2 * use + 2;
    if (claim_packing(tag, packing, ready)) {
        pack_b(g, dst, j0, nr, p0, kc);
        __atomic_store_n(tag, ready, __ATOMIC_RELEASE);
    }
    return dst;
}

/* The packed A block (row panels ip0..ip1, K block pb at p0, kc long) of row chunk r. Where
 * several items use the same rows (column blocks or column groups), it is packed once, by
 * whichever item needs it first, into ashare — packing was otherwise repeated per column
 * block: 4 times for 4096×1536×384 and 384×1536×4096 TN. */
static const float *a_block(gemm_job *g, float *own, int64_t r, int64_t pb, int64_t ip0,
                            int64_t ip1, int64_t p0, int64_t kc)
{
    if (!g->ashare) {
        pack_a(g, own, ip0, ip1, p0, kc);
        return own;
    }
    float *dst = g->ashare + (r * g->nk + pb) * g->rpc * g->kcb * g->arch->mr;
    int64_t *tag = g->atag + r * g->nk + pb; /* one use: 0 unpacked, 1 packing, 2 ready */
    if (claim_packing(tag, 1, 2)) {
        pack_a(g, dst, ip0, ip1, p0, kc);
        __atomic_store_n(tag, 2, __ATOMIC_RELEASE);
    }
    return dst;
}

/* The body every thread runs. Work items are (jc, chunk) pairs handed out in order from one
 * counter; an item runs through all K blocks of its tiles in order, so items never wait for
 * each other's C tiles, and each C element is summed over the K blocks in the same order
 * whoever computes it. A late thread (the machine may be shared) holds the others up only
 * if they need a B panel it is packing, or its item before reusing the B buffer:
 * before its first item of column block jcb, a thread waits until all items of column
 * blocks ≤ jcb−2 are finished, so buffer (jcb & 1) is free. */
static void gemm_blocked(void *job, int tid)
{
    gemm_job *g = job;
    const int MR = g->arch->mr, NR = g->arch->nr;
    float *own = g->apack ? g->apack + (int64_t)tid * g->apanels * g->kcb * MR : NULL;
    const int64_t nip = (g->M + MR - 1) / MR;
    const int64_t total = g->njc * g->nchunks;
    int64_t verified = -1; /* column blocks ≤ this one are known finished */
    for (;;) {
        const int64_t item = __atomic_fetch_add(&g->next, 1, __ATOMIC_RELAXED);
        if (item >= total) break;
        const int64_t jcb = item / g->nchunks, c = item % g->nchunks;
        const int64_t jc = jcb * g->nc;
        const int64_t ncur = g->N - jc < g->nc ? g->N - jc : g->nc;
        const int64_t njp = (ncur + NR - 1) / NR;
        const int64_t ip0 = c / g->njg * g->rpc, jp0 = c % g->njg * g->jpg;
        const int64_t ip1 = ip0 + g->rpc < nip ? ip0 + g->rpc : nip;
        const int64_t jp1 = jp0 + g->jpg < njp ? jp0 + g->jpg : njp;

        while (verified < jcb - 2) wait_at_least(&g->jc_done[++verified], g->nchunks);
        for (int64_t pb = 0; pb < g->nk && jp0 < jp1; pb++) {
            const int64_t p0 = pb * g->kcb;
            const int64_t kc = g->K - p0 < g->kcb ? g->K - p0 : g->kcb;
            const float beta = pb == 0 ? g->beta : 1.0f;
            const float *ap = a_block(g, own, c / g->njg, pb, ip0, ip1, p0, kc);
            for (int64_t ip = ip0; ip < ip1; ip++) {
                const int64_t i0 = ip * MR;
                const int mr = (int)(g->M - i0 < MR ? g->M - i0 : MR);
                const float *a = ap + (ip - ip0) * kc * MR;
                /* Threads that start on the same column block would queue behind each other
                 * for its B panels, one packing while the others wait: each starts its first
                 * row panel at its own offset instead, so they pack different panels. The C
                 * tiles are independent, so the order does not change a result. */
                const int64_t nj = jp1 - jp0, rot = ip == ip0 ? tid % g->nt * nj / g->nt : 0;
                for (int64_t jq = 0; jq < nj; jq++) {
                    const int64_t jp = jp0 + (jq + rot) % nj;
                    const int64_t j0 = jc + jp * NR;
                    const int nr = (int)(g->N - j0 < NR ? g->N - j0 : NR);
                    int64_t bs;
                    const float *bp = b_panel(g, jcb, pb, jp, nr, j0, p0, kc, &bs);
                    g->arch->kernel(kc, a, bp, bs, g->C + i0 * g->ldc + j0, g->ldc, mr, nr,
                                    g->alpha, beta);
                }
            }
        }
        __atomic_fetch_add(&g->jc_done[jcb], 1, __ATOMIC_ACQ_REL);
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

/* Few rows or few columns: C[i][j] = alpha·(row i of op(A))·(column j of op(B)) + beta·C as
 * dot products of contiguous vectors, no packing — whichever operand is not already
 * contiguous along k is tiny and gathered first. Threads take runs of DOT_COLS columns (few
 * rows) or DOT_ROWS rows (few columns); every element is computed the same way wherever it
 * falls. */
#define DOT_COLS 64
#define DOT_ROWS 16

typedef struct dot_job {
    const attn_gemm_arch *arch;
    int64_t M, N, K;
    float alpha, beta;
    const float *A, *B; /* rows of op(A), rows of op(B)ᵀ: both contiguous along k */
    int64_t lda, ldb, ldc;
    float *C;
    int by_rows; /* share out rows (else columns) */
    int64_t next; /* next run (atomic) */
} dot_job;

static void gemm_dot_run(void *job, int tid)
{
    (void)tid;
    dot_job *d = job;
    const int64_t step = d->by_rows ? DOT_ROWS : DOT_COLS;
    const int64_t runs = ((d->by_rows ? d->M : d->N) + step - 1) / step;
    for (;;) {
        const int64_t r = __atomic_fetch_add(&d->next, 1, __ATOMIC_RELAXED);
        if (r >= runs) break;
        int64_t i0 = 0, i1 = d->M, j0 = 0, n = d->N;
        if (d->by_rows) {
            i0 = r * step;
            i1 = i0 + step < d->M ? i0 + step : d->M;
        } else {
            j0 = r * step;
            n = d->N - j0 < step ? d->N - j0 : step;
        }
        if (d->arch->dotrows && !d->by_rows)
            d->arch->dotrows(d->K, d->A, d->lda, d->M, d->B + j0 * d->ldb, d->ldb, d->C + j0, d->ldc,
                             n, d->alpha, d->beta);
        else
            for (int64_t i = i0; i < i1; i++)
                d->arch->dotrow(d->K, d->A + i * d->lda, d->B + j0 * d->ldb, d->ldb,
                                d->C + i * d->ldc + j0, n, d->alpha, d->beta);
    }
}

/* Transpose a rows×cols matrix (row stride ld) into a new contiguous cols×rows one. */
static float *gather_transposed(const float *x, int64_t rows, int64_t cols, int64_t ld)
{
    float *t = attn_aligned_alloc((size_t)(rows * cols) * sizeof(float));
    if (t == NULL) {
        attn_fail(ATTN_E_NOMEM, "attn_sgemm: cannot allocate %lld floats of workspace",
                  (long long)(rows * cols));
        return NULL;
    }
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) t[c * rows + r] = x[r * ld + c];
    return t;
}

static int gemm_dot(const attn_gemm_arch *arch, int ta, int tb, int64_t M, int64_t N, int64_t K,
                    float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                    float beta, float *C, int64_t ldc, int nt)
{
    float *at = NULL, *bt = NULL;
    if (ta) { /* the few columns of the stored A [K, M] become rows */
        if ((at = gather_transposed(A, K, M, lda)) == NULL) return ATTN_E_NOMEM;
        A = at;
        lda = K;
    }
    if (!tb) { /* the few columns of B [K, N] become rows */
        if ((bt = gather_transposed(B, K, N, ldb)) == NULL) {
            free(at);
            return ATTN_E_NOMEM;
        }
        B = bt;
        ldb = K;
    }
    dot_job d = {arch, M, N, K, alpha, beta, A, B, lda, ldb, ldc, C, M > N, 0};
    const int64_t runs = M > N ? (M + DOT_ROWS - 1) / DOT_ROWS : (N + DOT_COLS - 1) / DOT_COLS;
    attn_gemm_run(gemm_dot_run, &d, nt < runs ? nt : (int)runs);
    free(at);
    free(bt);
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
    if ((double)M * (double)N * (double)K < 4194304.0) nt = 1; /* < 2^22 MACs: not worth a thread */
    const attn_gemm_arch *arch = pick_arch();
    if (arch == &attn_gemm_arch_avx512 && N <= NARROW_N) arch = &attn_gemm_arch_avx2;
    if (arch->dotrow && ((tb && M <= (arch->dotrows ? DOT_TILE_MAX : DOT_MAX)) || (!ta && N <= DOT_MAX)))
        return gemm_dot(arch, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, nt);

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

    /* Chunks: runs of up to A_PANELS row panels × the block's width when there are rows
     * enough for every thread, else single row panels × runs of column panels. */
    const int64_t nip = (M + MR - 1) / MR, njp_max = g.nc / NR;
    if (nip >= 4 * (int64_t)nt) {
        /* Several items per thread, so a late or slow thread costs little — but each item
         * streams its column block's packed B (K × nc) once: with many K blocks, fewer and
         * taller items. */
        const int64_t per = (g.nk >= 4 ? 2 : 8) * (int64_t)nt;
        const int64_t rpc = nip / per > 1 ? nip / per : 1;
        g.rpc = rpc < A_PANELS ? rpc : A_PANELS;
        g.njg = 1;
        g.jpg = njp_max;
    } else {
        g.rpc = 1;
        g.njg = (4 * (int64_t)nt + nip - 1) / nip < njp_max ? (4 * (int64_t)nt + nip - 1) / nip
                                                            : njp_max;
        g.jpg = (njp_max + g.njg - 1) / g.njg;
        g.njg = (njp_max + g.jpg - 1) / g.jpg;
    }
    g.apanels = g.rpc;
    g.nchunks = (nip + g.rpc - 1) / g.rpc * g.njg;
    g.njc = (N + g.nc - 1) / g.nc;
    g.slots = g.direct_b ? 1 : njp_max;
    g.ring = g.nk;
    if (g.nk * g.slots * g.kcb * NR > B_SLAB_MAX) { /* a huge K: one K block kept at a time */
        g.ring = 1;
        nt = 1;
    }
    g.bfloats = g.ring * g.slots * g.kcb * NR;
    /* A packed once (a_block) when several items share its rows and it is not huge */
    const int64_t nrc = (nip + g.rpc - 1) / g.rpc, afloats = nrc * g.nk * g.rpc * g.kcb * MR;
    const int share = (g.njc > 1 || g.njg > 1) && afloats <= A_SHARE_MAX;

    size_t nfloats = 2 * (size_t)g.bfloats +
                     (share ? (size_t)afloats : (size_t)nt * (size_t)(g.apanels * g.kcb * MR));
    size_t nsync = (size_t)g.njc + 2 * (size_t)(g.ring * g.slots) +
                   (share ? (size_t)(nrc * g.nk) : 0);
    size_t bytes = (nfloats + 1) * sizeof(float) + nsync * sizeof(int64_t);
    float *work = attn_aligned_alloc(bytes);
    if (work == NULL)
        return attn_fail(ATTN_E_NOMEM, "%s: cannot allocate %zu bytes of packing workspace", fn,
                         bytes);
    g.bpack = work;
    g.apack = share ? NULL : work + 2 * g.bfloats;
    g.ashare = share ? work + 2 * g.bfloats : NULL;
    g.jc_done = (int64_t *)(work + nfloats + (nfloats & 1)); /* 8-byte aligned */
    g.panel_tag = g.jc_done + g.njc;
    g.atag = share ? g.panel_tag + 2 * g.ring * g.slots : NULL;
    memset(g.jc_done, 0, nsync * sizeof(int64_t));
    g.next = 0;
    g.nt = nt;

    attn_gemm_run(gemm_blocked, &g, nt);
    free(work);
    return ATTN_OK;
}
