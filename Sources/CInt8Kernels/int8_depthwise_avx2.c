#include "CInt8Kernels.h"

// Channel order within a 16-channel block after vpunpcklwd / vpunpckhwd of two 16 × int16
// vectors: each works inside 128-bit halves, giving channels 0–3 and 8–11 (low) and 4–7 and
// 12–15 (high).
static const int interleaved_channel[16] = {0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15};

void tfr_int8_pack_depthwise_weights(const int8_t *weights, long taps, long channels, int16_t *packed) {
    const long pairs = (taps + 1) / 2, blocks = (channels + 15) / 16;
    for (long cb = 0; cb < blocks; cb++)
        for (long p = 0; p < pairs; p++)
            for (long i = 0; i < 16; i++)
                for (long t = 0; t < 2; t++) {
                    const long tap = 2 * p + t, ch = cb * 16 + interleaved_channel[i];
                    packed[((cb * pairs + p) * 16 + i) * 2 + t] = (tap < taps && ch < channels) ? weights[tap * channels + ch] : 0;
                }
}

#if defined(__x86_64__)
#include "requant_avx2.h"
#include "window_taps.h"

// 16 channels from `src` as int16 value − zero point; past `available` channels the lanes hold
// −zero point, which the zero weights there cancel.
__attribute__((target("avx2")))
static inline __m256i load_channels(const int8_t *src, long available, __m256i zp) {
    __m128i bytes;
    if (available >= 16) {
        bytes = _mm_loadu_si128((const __m128i *)src);
    } else {
        int8_t lanes[16] = {0};
        for (long i = 0; i < available; i++) lanes[i] = src[i];
        bytes = _mm_loadu_si128((const __m128i *)lanes);
    }
    return _mm256_sub_epi16(_mm256_cvtepi8_epi16(bytes), zp);
}

__attribute__((target("avx2")))
void tfr_int8_depthwise_avx2(const tfr_window *g, const int8_t *input, int32_t zero_point,
                             const int16_t *packed, const tfr_requant *q, const int8_t *zero_row,
                             const int8_t **taps, int8_t *output) {
    const long tap_count = g->k_h * g->k_w, pairs = (tap_count + 1) / 2, channels = g->channels;
    const __m256i zp = _mm256_set1_epi16((int16_t)zero_point);
    taps[tap_count] = zero_row;  // the odd tap of the last pair has zero weights
    for (long b = 0; b < g->batches; b++)
        for (long oy = 0; oy < g->out_h; oy++)
            for (long ox = 0; ox < g->out_w; ox++) {
                window_taps(g, input, zero_row, b, oy, ox, taps);
                int8_t *out = output + ((b * g->out_h + oy) * g->out_w + ox) * channels;
                for (long c = 0; c < channels; c += 16) {
                    const long available = channels - c;
                    const int16_t *w = packed + (c / 16) * pairs * 32;
                    __m256i lo = _mm256_setzero_si256(), hi = lo;
                    for (long p = 0; p < pairs; p++, w += 32) {
                        const __m256i x0 = load_channels(taps[2 * p] + c, available, zp);
                        const __m256i x1 = load_channels(taps[2 * p + 1] + c, available, zp);
                        lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(x0, x1), _mm256_loadu_si256((const __m256i *)w)));
                        hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(x0, x1), _mm256_loadu_si256((const __m256i *)(w + 16))));
                    }
                    const __m256i acc0 = _mm256_permute2x128_si256(lo, hi, 0x20), acc1 = _mm256_permute2x128_si256(lo, hi, 0x31);
                    store_bytes(out + c, requant16(acc0, acc1, q, c), available < 16 ? available : 16);
                }
            }
}

#else

void tfr_int8_depthwise_avx2(const tfr_window *g, const int8_t *input, int32_t zero_point,
                             const int16_t *packed, const tfr_requant *q, const int8_t *zero_row,
                             const int8_t **taps, int8_t *output) {
    (void)g; (void)input; (void)zero_point; (void)packed; (void)q; (void)zero_row; (void)taps; (void)output;
}

#endif
