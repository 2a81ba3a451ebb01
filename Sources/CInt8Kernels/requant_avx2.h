// Requantization of int32 accumulators to int8, eight lanes at a time (x86-64, AVX2 only).
#ifndef TFREWRITE_REQUANT_AVX2_H
#define TFREWRITE_REQUANT_AVX2_H
#include <immintrin.h>
#include "CInt8Kernels.h"

// gemmlowp SaturatingRoundingDoublingHighMul's rounding of one 64-bit product (in the even
// 32-bit lanes): (ab + (ab >= 0 ? 2^30 : 1 − 2^30)) / 2^31 with C++'s division toward zero.
// For ab < 0 the numerator n is negative and trunc(n / 2^31) = floor((n + 2^31 − 1) / 2^31),
// so both cases are floor((ab + 2^30) / 2^31): one add and one shift (checked against the
// two-branch form on 2·10^8 random and all edge products). Only the low 32 bits of
// the quotient are kept, so a logical shift gives them.
__attribute__((target("avx2")))
static inline __m256i round_high_product(__m256i ab) {
    return _mm256_srli_epi64(_mm256_add_epi64(ab, _mm256_set1_epi64x(1LL << 30)), 31);
}

// RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x, m), e) per lane (TFLM
// MultiplyByQuantizedMultiplierSmallerThanOneExp, kernels/internal/common.h), with
// mask = 2^e − 1 and e in 0...31. The saturating case of SRDHM needs m == INT32_MIN, which
// callers exclude.
__attribute__((target("avx2")))
static inline __m256i multiply_smaller_than_one(__m256i x, __m256i m, __m256i right_shift, __m256i mask) {
    __m256i even = round_high_product(_mm256_mul_epi32(x, m));
    __m256i odd = round_high_product(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(m, 32)));
    x = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    // RoundingDivideByPOT: (x >> e) + (remainder > (mask >> 1) + (x < 0) ? 1 : 0).
    const __m256i zero = _mm256_setzero_si256();
    const __m256i remainder = _mm256_and_si256(x, mask);
    const __m256i threshold = _mm256_sub_epi32(_mm256_srai_epi32(mask, 1), _mm256_cmpgt_epi32(zero, x));
    x = _mm256_srav_epi32(x, right_shift);
    return _mm256_sub_epi32(x, _mm256_cmpgt_epi32(remainder, threshold));
}

// TFLM MultiplyByQuantizedMultiplier (double rounding, kernels/internal/common.h) of acc + bias
// for channels c ..< c+8, then + output zero point and the activation clamp.
__attribute__((target("avx2")))
static inline __m256i requant8(__m256i acc, const tfr_requant *q, long c) {
    __m256i x = _mm256_add_epi32(acc, _mm256_loadu_si256((const __m256i *)(q->bias + c)));
    x = _mm256_sllv_epi32(x, _mm256_loadu_si256((const __m256i *)(q->left_shift + c)));
    x = multiply_smaller_than_one(x, _mm256_loadu_si256((const __m256i *)(q->multiplier + c)),
                                  _mm256_loadu_si256((const __m256i *)(q->right_shift + c)),
                                  _mm256_loadu_si256((const __m256i *)(q->right_mask + c)));
    x = _mm256_add_epi32(x, _mm256_set1_epi32(q->out_zp));
    x = _mm256_max_epi32(x, _mm256_set1_epi32(q->act_min));
    return _mm256_min_epi32(x, _mm256_set1_epi32(q->act_max));
}

// Channels c ..< c+16 from two accumulator vectors, as 16 int8 (already inside [-128, 127],
// so the saturating packs only narrow).
__attribute__((target("avx2")))
static inline __m128i requant16(__m256i acc0, __m256i acc1, const tfr_requant *q, long c) {
    __m256i words = _mm256_packs_epi32(requant8(acc0, q, c), requant8(acc1, q, c + 8));
    words = _mm256_permute4x64_epi64(words, 0xD8);
    __m256i bytes = _mm256_packs_epi16(words, words);
    return _mm256_castsi256_si128(_mm256_permute4x64_epi64(bytes, 0x08));
}

// Stores the first `count` (1...16) bytes of v.
__attribute__((target("avx2")))
static inline void store_bytes(int8_t *dst, __m128i v, long count) {
    if (count == 16) { _mm_storeu_si128((__m128i *)dst, v); return; }
    int8_t lanes[16];
    _mm_storeu_si128((__m128i *)lanes, v);
    for (long i = 0; i < count; i++) dst[i] = lanes[i];
}

#endif
