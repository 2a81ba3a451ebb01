#include "CInt8Kernels.h"

#if defined(__x86_64__)
#include "requant_avx2.h"

// Eight int8 of each input, widened to int32 (TFLM reference_integer_ops/add.h per element:
// (offset + x) << left_shift, each input rescaled, summed or subtracted, rescaled to the output).
__attribute__((target("avx2")))
static inline __m256i add8(__m128i xs, __m128i ys, const tfr_add *p) {
    const __m256i shift = _mm256_set1_epi32(p->left_shift);
    __m256i x = _mm256_sllv_epi32(_mm256_add_epi32(_mm256_cvtepi8_epi32(xs), _mm256_set1_epi32(p->offset1)), shift);
    __m256i y = _mm256_sllv_epi32(_mm256_add_epi32(_mm256_cvtepi8_epi32(ys), _mm256_set1_epi32(p->offset2)), shift);
    x = multiply_smaller_than_one(x, _mm256_set1_epi32(p->multiplier1), _mm256_set1_epi32(p->right_shift1),
                                  _mm256_set1_epi32((int32_t)((1LL << p->right_shift1) - 1)));
    y = multiply_smaller_than_one(y, _mm256_set1_epi32(p->multiplier2), _mm256_set1_epi32(p->right_shift2),
                                  _mm256_set1_epi32((int32_t)((1LL << p->right_shift2) - 1)));
    __m256i sum = p->subtract ? _mm256_sub_epi32(x, y) : _mm256_add_epi32(x, y);
    sum = multiply_smaller_than_one(sum, _mm256_set1_epi32(p->out_multiplier), _mm256_set1_epi32(p->out_right_shift),
                                    _mm256_set1_epi32((int32_t)((1LL << p->out_right_shift) - 1)));
    sum = _mm256_add_epi32(sum, _mm256_set1_epi32(p->out_zp));
    sum = _mm256_max_epi32(sum, _mm256_set1_epi32(p->act_min));
    return _mm256_min_epi32(sum, _mm256_set1_epi32(p->act_max));
}

__attribute__((target("avx2")))
void tfr_int8_add_avx2(const int8_t *x, const int8_t *y, long count, const tfr_add *p, int8_t *out) {
    long i = 0;
    for (; i + 16 <= count; i += 16) {
        const __m128i xs = _mm_loadu_si128((const __m128i *)(x + i)), ys = _mm_loadu_si128((const __m128i *)(y + i));
        const __m256i lo = add8(xs, ys, p), hi = add8(_mm_srli_si128(xs, 8), _mm_srli_si128(ys, 8), p);
        // Both halves are inside [-128, 127]: the saturating packs only narrow.
        __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);
        __m256i bytes = _mm256_packs_epi16(words, words);
        _mm_storeu_si128((__m128i *)(out + i), _mm256_castsi256_si128(_mm256_permute4x64_epi64(bytes, 0x08)));
    }
    if (i < count) {
        int8_t xs[16] = {0}, ys[16] = {0}, lanes[16];
        for (long t = 0; t < count - i; t++) { xs[t] = x[i + t]; ys[t] = y[i + t]; }
        tfr_int8_add_avx2(xs, ys, 16, p, lanes);
        for (long t = 0; t < count - i; t++) out[i + t] = lanes[t];
    }
}

#else

void tfr_int8_add_avx2(const int8_t *x, const int8_t *y, long count, const tfr_add *p, int8_t *out) {
    (void)x; (void)y; (void)count; (void)p; (void)out;
}

#endif
