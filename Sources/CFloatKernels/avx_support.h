// Shared by the AVX kernels (x86-64 only).
#ifndef TFREWRITE_AVX_SUPPORT_H
#define TFREWRITE_AVX_SUPPORT_H
#include <immintrin.h>

// Products and sums stay separate operations, as in the portable kernels (a fused
// multiply-add rounds once and would change the bits). Only AVX is enabled, so no FMA can be
// emitted; the pragma says so for any compiler setting as well.
#pragma clang fp contract(off)

// Swift's max(x, lo) is `lo >= x ? lo : x` and min(t, hi) is `hi < t ? hi : t`: a NaN fails
// both comparisons and passes through; max(-0, +0) is +0.
__attribute__((target("avx")))
static inline __m256 clamp8(__m256 x, __m256 lo, __m256 hi) {
    __m256 t = _mm256_blendv_ps(x, lo, _mm256_cmp_ps(lo, x, _CMP_GE_OQ));
    return _mm256_blendv_ps(t, hi, _mm256_cmp_ps(hi, t, _CMP_LT_OQ));
}

static inline float clamp1(float x, float lo, float hi) {
    float t = lo >= x ? lo : x;
    return hi < t ? hi : t;
}

#endif
