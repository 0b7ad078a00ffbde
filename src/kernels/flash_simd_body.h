/* flash_simd_body.h — the fused kernel's primitives written once over a vector type, included
 * by flash_avx2.c and flash_avx512.c after they define (for their own ISA):
 *   VF, VL (floats per vector), MR × NR (register block: MR rows × NR vectors),
 *   V_ZERO(), V_LOAD(p), V_STORE(p, v), V_SET1(x), V_FMA(a, b, c) = a·b + c, V_MUL, V_ADD,
 *   V_SUB, V_MAX, v_exp(x) (exp with −∞ → 0), v_hsum(v), V_EQ_NEGINF_SEL0(v) (−∞ lanes → 0),
 *   V_ZERO_WHERE_ONE(p, x) (x with 0 in the lanes where p = 1), v_hsum4(a, b, c, d, out[4])
 *   (the four lane sums, each depending on its own vector only),
 *   FLASH_OPS_NAME (the accessor's name) and FLASH_OPS_ISA; and have included
 *   gemm_transpose8.h (AVX2's in-register 8×8 transpose) before their macros.
 * Every function here is static; only the accessor leaves the file. */

#define FLASH_AI static inline __attribute__((always_inline))

/* C[mr × nr·VL] (+)= alpha · A[mr × K] · B[K × nr·VL], accumulators in registers. */
FLASH_AI void kern(const int mr, const int nr, int64_t K, const float *A, int64_t ars,
                   int64_t acs, const float *B, int64_t ldb, float *C, int64_t ldc, float alpha,
                   int acc)
{
    VF c[MR][NR];
    if (acc) /* C is read at the end: on its way (often from L2 or beyond) while the products run */
#pragma GCC unroll 8
        for (int m = 0; m < mr; m++) {
            __builtin_prefetch(C + m * ldc, 1, 3);
            __builtin_prefetch(C + m * ldc + nr * VL - 1, 1, 3);
        }
#pragma GCC unroll 8
    for (int m = 0; m < mr; m++)
#pragma GCC unroll 8
        for (int n = 0; n < nr; n++) c[m][n] = V_ZERO();
    const float *a0 = A;
    for (int64_t k = 0; k < K; k++, a0 += acs, B += ldb) {
        VF b[NR];
#pragma GCC unroll 8
        for (int n = 0; n < nr; n++) b[n] = V_LOAD(B + n * VL);
#pragma GCC unroll 8
        for (int m = 0; m < mr; m++) {
            VF a = V_SET1(a0[m * ars]);
#pragma GCC unroll 8
            for (int n = 0; n < nr; n++) c[m][n] = V_FMA(a, b[n], c[m][n]);
        }
    }
    VF al = V_SET1(alpha);
#pragma GCC unroll 8
    for (int m = 0; m < mr; m++)
#pragma GCC unroll 8
        for (int n = 0; n < nr; n++) {
            float *cp = C + m * ldc + n * VL;
            V_STORE(cp, acc ? V_FMA(c[m][n], al, V_LOAD(cp)) : V_MUL(c[m][n], al));
        }
}

typedef void (*kern_fn)(int64_t K, const float *A, int64_t ars, int64_t acs, const float *B,
                        int64_t ldb, float *C, int64_t ldc, float alpha, int acc);

#define KERN_INST(mr, nr)                                                                      \
    static __attribute__((noinline)) void kern_##mr##_##nr(int64_t K, const float *A,          \
                                                           int64_t ars, int64_t acs,           \
                                                           const float *B, int64_t ldb,        \
                                                           float *C, int64_t ldc, float alpha, \
                                                           int acc)                            \
    {                                                                                          \
        kern(mr, nr, K, A, ars, acs, B, ldb, C, ldc, alpha, acc);                              \
    }
#if NR == 4
#define KERN_ROW(mr) KERN_INST(mr, 1) KERN_INST(mr, 2) KERN_INST(mr, 3) KERN_INST(mr, 4)
#define KERN_PTRS(mr) {kern_##mr##_1, kern_##mr##_2, kern_##mr##_3, kern_##mr##_4}
#elif NR == 2
#define KERN_ROW(mr) KERN_INST(mr, 1) KERN_INST(mr, 2)
#define KERN_PTRS(mr) {kern_##mr##_1, kern_##mr##_2}
#else
#error "NR must be 2 or 4"
#endif
#if MR != 6
#error "MR must be 6"
#endif
KERN_ROW(1)
KERN_ROW(2)
KERN_ROW(3)
KERN_ROW(4)
KERN_ROW(5)
KERN_ROW(6)
static const kern_fn kerns[6][NR] = {KERN_PTRS(1), KERN_PTRS(2), KERN_PTRS(3),
                                     KERN_PTRS(4), KERN_PTRS(5), KERN_PTRS(6)};

static void gemm_simd(int64_t M, int64_t N, int64_t K, const float *A, int64_t ars, int64_t acs,
                      const float *B, int64_t ldb, float *C, int64_t ldc, float alpha, int acc)
{
    /* Blocks of MR rows × NR vectors of C. When all of B fits in L1, rows of A go outside
     * (each block of MR rows read once); otherwise B's column panels do (a panel of K rows of
     * NR vectors stays in L1 while A streams past it). */
    const int64_t nv = N / VL, nm = (M + MR - 1) / MR, nb = (nv + NR - 1) / NR;
    const int rows_outside = K * ldb * (int64_t)sizeof(float) <= FLASH_GEMM_B_L1;
    for (int64_t i = 0; i < nm * nb; i++) {
        const int64_t m0 = (rows_outside ? i / nb : i % nm) * MR;
        const int64_t v0 = (rows_outside ? i % nb : i / nm) * NR;
        const int mr = M - m0 < MR ? (int)(M - m0) : MR, nr = nv - v0 < NR ? (int)(nv - v0) : NR;
        kerns[mr - 1][nr - 1](K, A + m0 * ars, ars, acs, B + v0 * VL, ldb, C + m0 * ldc + v0 * VL,
                              ldc, alpha, acc);
    }
}

static void softmax_cols_simd(float *S, int64_t lds, int64_t rows, int64_t ncols, float *m,
                              float *l, float *alpha)
{
    for (int64_t c = 0; c < ncols; c += VL) {
        VF mold = V_LOAD(m + c), mx = mold;
        for (int64_t r = 0; r < rows; r++) mx = V_MAX(mx, V_LOAD(S + r * lds + c));
        VF use = V_EQ_NEGINF_SEL0(mx);
        VF al = v_exp(V_SUB(mold, use));
        VF s0 = V_ZERO(), s1 = V_ZERO();
        int64_t r = 0;
        for (; r + 1 < rows; r += 2) {
            float *p0 = S + r * lds + c, *p1 = p0 + lds;
            VF e0 = v_exp(V_SUB(V_LOAD(p0), use)), e1 = v_exp(V_SUB(V_LOAD(p1), use));
            V_STORE(p0, e0);
            V_STORE(p1, e1);
            s0 = V_ADD(s0, e0);
            s1 = V_ADD(s1, e1);
        }
        if (r < rows) {
            float *p0 = S + r * lds + c;
            VF e0 = v_exp(V_SUB(V_LOAD(p0), use));
            V_STORE(p0, e0);
            s0 = V_ADD(s0, e0);
        }
        V_STORE(l + c, V_FMA(V_LOAD(l + c), al, V_ADD(s0, s1)));
        V_STORE(alpha + c, al);
        V_STORE(m + c, mx);
    }
}

static void scale_cols_simd(float *X, int64_t ldx, int64_t rows, int64_t ncols, const float *alpha)
{
    for (int64_t c = 0; c < ncols; c += VL) {
        VF al = V_LOAD(alpha + c);
        for (int64_t r = 0; r < rows; r++) V_STORE(X + r * ldx + c, V_MUL(V_LOAD(X + r * ldx + c), al));
    }
}

static void exp_rows_simd(float *S, int64_t lds, int64_t rows, int64_t ncols, const float *lse)
{
    for (int64_t r = 0; r < rows; r++) {
        VF L = V_SET1(lse[r]);
        float *s = S + r * lds;
        for (int64_t c = 0; c < ncols; c += VL) V_STORE(s + c, v_exp(V_SUB(V_LOAD(s + c), L)));
    }
}

static void ds_rows_simd(const float *P, float *dP, int64_t ld, int64_t rows, int64_t ncols,
                         const float *D)
{
    for (int64_t r = 0; r < rows; r++) {
        VF d = V_SET1(D[r]);
        const float *p = P + r * ld;
        float *dp = dP + r * ld;
        for (int64_t c = 0; c < ncols; c += VL)
        {
            VF pv = V_LOAD(p + c);
            V_STORE(dp + c, V_ZERO_WHERE_ONE(pv, V_MUL(pv, V_SUB(V_LOAD(dp + c), d))));
        }
    }
}

/* Dot products of q with keys 0..n−1, four keys at a time; a key's sum depends only on its own
 * accumulator (v_hsum4 reduces lanes per vector), so every key gets the same bits whichever
 * group it falls in — forward, backward and D passes agree exactly. */
static void dots_simd(int64_t n, int64_t E, const float *q, const float *k, int64_t ldk,
                      float alpha, float *s)
{
    const int64_t Ev = E / VL * VL;
    for (int64_t j = 0; j < n; j += 4) {
        const int64_t m = n - j < 4 ? n - j : 4;
        const float *kr[4];
        for (int64_t t = 0; t < 4; t++) kr[t] = k + (j + (t < m ? t : 0)) * ldk;
        VF a0 = V_ZERO(), a1 = V_ZERO(), a2 = V_ZERO(), a3 = V_ZERO();
        /* decoding streams K from memory: ask for the rows two groups ahead */
        if (j + 8 < n)
            for (int64_t t = 0; t < 4 && j + 8 + t < n; t++)
                for (int64_t e = 0; e < E; e += 16) __builtin_prefetch(k + (j + 8 + t) * ldk + e, 0, 0);
        for (int64_t e = 0; e < Ev; e += VL) {
            VF qv = V_LOAD(q + e);
            a0 = V_FMA(qv, V_LOAD(kr[0] + e), a0);
            a1 = V_FMA(qv, V_LOAD(kr[1] + e), a1);
            a2 = V_FMA(qv, V_LOAD(kr[2] + e), a2);
            a3 = V_FMA(qv, V_LOAD(kr[3] + e), a3);
        }
        float t[4];
        v_hsum4(a0, a1, a2, a3, t);
        for (int64_t u = 0; u < m; u++) {
            for (int64_t e = Ev; e < E; e++) t[u] += q[e] * kr[u][e];
            s[j + u] = alpha * t[u];
        }
    }
}

static void axpy_simd(int64_t n, float w, const float *v, float *o)
{
    const VF wv = V_SET1(w);
    int64_t e = 0;
    for (; e + VL <= n; e += VL) V_STORE(o + e, V_FMA(wv, V_LOAD(v + e), V_LOAD(o + e)));
    for (; e < n; e++) o[e] += w * v[e];
}

/* 8×8 blocks through registers (AVX2's 8-lane transpose, also on AVX-512 machines), the
 * ragged edges element by element. At a context of 256 a key tile is packed for only two
 * query tiles: the scalar strided copies it replaced were ~10 % of the backward. */
static void transpose_simd(int64_t rows, int64_t cols, const float *src, int64_t lds, float *dst,
                           int64_t ldd)
{
    const int64_t r8 = rows / 8 * 8, c8 = cols / 8 * 8;
    for (int64_t r = 0; r < r8; r += 8)
        for (int64_t c = 0; c < c8; c += 8) {
            __m256 x[8];
            for (int i = 0; i < 8; i++) x[i] = _mm256_loadu_ps(src + (r + i) * lds + c);
            gemm_transpose8(x);
            for (int i = 0; i < 8; i++) _mm256_storeu_ps(dst + (c + i) * ldd + r, x[i]);
        }
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = r < r8 ? c8 : 0; c < cols; c++) dst[c * ldd + r] = src[r * lds + c];
}

const flash_ops *FLASH_OPS_NAME(void)
{
    static const flash_ops ops = {FLASH_OPS_ISA,  gemm_simd,     softmax_cols_simd,
                                  scale_cols_simd, exp_rows_simd, ds_rows_simd,
                                  dots_simd,       axpy_simd,     transpose_simd};
    return &ops;
}
