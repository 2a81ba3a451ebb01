// requant_avx2.h's requantization sixteen lanes at a time (x86-64 with AVX-512F/BW).
#ifndef TFREWRITE_REQUANT_AVX512_H
#define TFREWRITE_REQUANT_AVX512_H
#include <immintrin.h>
#include "CInt8Kernels.h"

#define REQUANT512_TARGET __attribute__((target("avx2,avx512f,avx512bw")))

// floor((ab + 2^30) / 2^31) of the 64-bit products, low 32 bits kept (see round_high_product).
REQUANT512_TARGET
static inline __m512i round_high_product16(__m512i ab) {
    return _mm512_srli_epi64(_mm512_add_epi64(ab, _mm512_set1_epi64(1LL << 30)), 31);
}

// TFLM MultiplyByQuantizedMultiplier (kernels/internal/common.h) of acc + bias for channels
// c ..< c+16 (lane i is channel c + i), + output zero point, the activation clamp, narrowed to
// int8 (the clamp keeps every lane inside [-128, 127], so truncation is exact). Same
// operations lane for lane as requant8.
REQUANT512_TARGET
static inline __m128i requant16_512(__m512i acc, const tfr_requant *q, long c) {
    __m512i x = _mm512_add_epi32(acc, _mm512_loadu_si512((const void *)(q->bias + c)));
    x = _mm512_sllv_epi32(x, _mm512_loadu_si512((const void *)(q->left_shift + c)));
    const __m512i m = _mm512_loadu_si512((const void *)(q->multiplier + c));
    const __m512i even = round_high_product16(_mm512_mul_epi32(x, m));
    const __m512i odd = round_high_product16(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(m, 32)));
    x = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
    // RoundingDivideByPOT: (x >> e) + (remainder > (mask >> 1) + (x < 0) ? 1 : 0).
    const __m512i mask = _mm512_loadu_si512((const void *)(q->right_mask + c));
    const __m512i remainder = _mm512_and_si512(x, mask);
    const __m512i threshold = _mm512_mask_add_epi32(_mm512_srai_epi32(mask, 1), _mm512_cmplt_epi32_mask(x, _mm512_setzero_si512()),
                                                    _mm512_srai_epi32(mask, 1), _mm512_set1_epi32(1));
    x = _mm512_srav_epi32(x, _mm512_loadu_si512((const void *)(q->right_shift + c)));
    x = _mm512_mask_add_epi32(x, _mm512_cmpgt_epi32_mask(remainder, threshold), x, _mm512_set1_epi32(1));
    x = _mm512_add_epi32(x, _mm512_set1_epi32(q->out_zp));
    x = _mm512_max_epi32(x, _mm512_set1_epi32(q->act_min));
    x = _mm512_min_epi32(x, _mm512_set1_epi32(q->act_max));
    return _mm512_cvtepi32_epi8(x);
}

#endif
