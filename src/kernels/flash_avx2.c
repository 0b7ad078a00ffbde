/* flash_avx2.c — the fused kernel's primitives for AVX2 + FMA, compiled with its own ISA flags
 * and chosen at run time (flash_ops_current). Register block: 6 rows × 2 ymm. */
#include "flash_internal.h"

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include "gemm_transpose8.h"

typedef __m256 VF;
#define VL 8
#define MR 6
#define NR 2
#define V_ZERO() _mm256_setzero_ps()
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_STORE(p, v) _mm256_storeu_ps((p), (v))
#define V_SET1(x) _mm256_set1_ps(x)
#define V_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define V_MUL(a, b) _mm256_mul_ps((a), (b))
#define V_ADD(a, b) _mm256_add_ps((a), (b))
#define V_SUB(a, b) _mm256_sub_ps((a), (b))
#define V_MAX(a, b) _mm256_max_ps((a), (b))

static inline VF V_EQ_NEGINF_SEL0(VF v)
{
    VF ninf = _mm256_cmp_ps(v, _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ);
    return _mm256_andnot_ps(ninf, v);
}

static inline VF V_ZERO_WHERE_ONE(VF p, VF x)
{
    return _mm256_and_ps(_mm256_cmp_ps(p, _mm256_set1_ps(1.0f), _CMP_NEQ_UQ), x);
}

static inline float v_hsum(VF v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Lane sums of four vectors at once (horizontal adds). */
static inline void v_hsum4(VF a, VF b, VF c, VF d, float *out)
{
    VF u = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1)));
}

/* exp(x) for the softmax's arguments, x = s − max ≤ 0 (a rounding above 0 is harmless):
 * e^x = 2^n · e^r, n = round(x·log₂e), r = x − n·ln 2 in two steps (Cody–Waite), and e^r
 * = 1 + r·q(r) with q of degree 5 fitted on |r| ≤ ln2/2 (relative error ≤ 1e-7 in float,
 * as the degree-7 Taylor polynomial it replaced; e^0 = 1 exactly). x is clamped at −88, so
 * n ≥ −127, where the exponent field 2^n is built in is 0: −∞ (masked scores) and anything
 * below about −87.3 come out as exactly 0 without a compare and mask. No clamp above: the
 * callers never pass a large positive x. 15 vector ops instead of 19. */
static inline VF v_exp(VF x)
{
    x = _mm256_max_ps(x, _mm256_set1_ps(-88.0f)); /* NaN also becomes −88, hence 0 */
    VF n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    VF r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    VF q = _mm256_set1_ps(0.001385929062962532f);
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(0.008374763652682304f));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(0.04166772589087486f));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(0.1666642129421234f));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(0.4999999403953552f));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f));
    VF p = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

#define FLASH_OPS_NAME flash_ops_avx2
#define FLASH_OPS_ISA ATTN_ISA_AVX2
#include "flash_simd_body.h"

#else
const flash_ops *flash_ops_avx2(void) { return flash_ops_portable(); }
#endif
