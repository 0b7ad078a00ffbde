/* machine_avx2.c — an FMA-bound loop: 12 independent accumulator chains hide the FMA latency
 * (4 cycles × 2 ports = 8 in flight needed; 12 leave margin). Returns the flops done. */
#include <immintrin.h>

#include "internal.h"

/* The target attribute lets builds that compile every source with the same flags (the fuzz
 * targets) build this file too; the dispatcher calls it only where the CPU has the ISA. */
__attribute__((target("avx2,fma"))) ATTN_INTERNAL double attn_fma_loop_avx2(long iters)
{
    __m256 acc[12];
    const __m256 b = _mm256_set1_ps(1.0000001f), c = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i);
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], b, c);
    }
    __m256 s = acc[0];
    for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, acc[i]);
    float tmp[8]; _mm256_storeu_ps(tmp, s); volatile float sink = tmp[0];
    (void)sink;
    return 2.0 * 8 * 12 * (double)iters;
}
