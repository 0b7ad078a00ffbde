/* flash_avx512.c — the fused kernel's primitives for AVX-512 (F/BW/DQ/VL), compiled with its
 * own ISA flags and chosen at run time (flash_ops_current). Register block: 6 rows × 4 zmm. */
#include "flash_internal.h"

#if defined(__x86_64__) && defined(__AVX512F__)
#include <immintrin.h>

#include "gemm_transpose8.h"

typedef __m512 VF;
#define VL 16
#define MR 6
#define NR 4
#define V_ZERO() _mm512_setzero_ps()
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_STORE(p, v) _mm512_storeu_ps((p), (v))
#define V_SET1(x) _mm512_set1_ps(x)
#define V_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define V_MUL(a, b) _mm512_mul_ps((a), (b))
#define V_ADD(a, b) _mm512_add_ps((a), (b))
#define V_SUB(a, b) _mm512_sub_ps((a), (b))
#define V_MAX(a, b) _mm512_max_ps((a), (b))

/* −∞ lanes → 0 (the "no key yet" row maximum becomes a harmless shift). */
static inline VF V_EQ_NEGINF_SEL0(VF v)
{
    __mmask16 ninf = _mm512_cmp_ps_mask(v, _mm512_set1_ps(-INFINITY), _CMP_EQ_OQ);
    return _mm512_mask_mov_ps(v, ninf, _mm512_setzero_ps());
}

static inline VF V_ZERO_WHERE_ONE(VF p, VF x)
{
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(p, _mm512_set1_ps(1.0f), _CMP_NEQ_UQ), x);
}

static inline float v_hsum(VF v) { return _mm512_reduce_add_ps(v); }

/* Lane sums of four vectors at once (a transpose-and-add tree). */
static inline void v_hsum4(VF a, VF b, VF c, VF d, float *out)
{
    VF t0 = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    VF t1 = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    VF u = _mm512_add_ps(_mm512_shuffle_ps(t0, t1, _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 2, 3, 2)));
    __m256 v = _mm256_add_ps(_mm512_castps512_ps256(u), _mm512_extractf32x8_ps(u, 1));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)));
}

/* exp(x): x = n·ln2 + r (Cody–Waite, |r| ≤ ln2/2), e^r by its degree-7 Taylor polynomial
 * (truncation < 0.1 ulp), times 2^n by scalef. x < −87.34 (incl. −∞) and NaN give 0. */
static inline VF v_exp(VF x)
{
    const VF lo = _mm512_set1_ps(-87.33654475f);
    __mmask16 keep = _mm512_cmp_ps_mask(x, lo, _CMP_GE_OQ);
    x = _mm512_min_ps(_mm512_max_ps(x, lo), _mm512_set1_ps(88.3762626647949f));
    VF n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    VF r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    VF p = _mm512_set1_ps(1.0f / 5040);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_maskz_mov_ps(keep, _mm512_scalef_ps(p, n));
}

#define FLASH_OPS_NAME flash_ops_avx512
#define FLASH_OPS_ISA ATTN_ISA_AVX512
#include "flash_simd_body.h"

#else
const flash_ops *flash_ops_avx512(void) { return flash_ops_portable(); }
#endif
