#include "CInt8Kernels.h"

// tfr_int8_depthwise_avx2 with AVX-512 VNNI (256-bit vpdpwssd: the multiply of the int16 tap
// pairs and the add into the accumulators in one instruction) and without the per-tap
// zero-point subtraction: the sums are Σ x·w over all taps, taps outside the image reading the
// zero point, and the caller has folded −zp·Σ_taps w into the bias, so each accumulator plus
// bias is Σ (x − zp)·w + bias exactly (mod 2^32) as TFLM's (reference_integer_ops
// depthwise_conv.h, which skips outside taps: they add (zp − zp)·w = 0 here). Requantization
// is requant_avx512.h's, 16 channels at once.

#if defined(__x86_64__)
#include "requant_avx2.h"
#include "window_taps.h"
#include "requant_avx512.h"

#define DEPTHWISE_VNNI_TARGET __attribute__((target("avx2,avx512f,avx512bw,avx512vl,avx512vnni")))

// 16 channels from `src` widened to int16; past `available` channels zeros (their weights are 0).
DEPTHWISE_VNNI_TARGET
static inline __m256i load_raw_channels(const int8_t *src, long available) {
    if (available >= 16) return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)src));
    return _mm256_cvtepi8_epi16(_mm_maskz_loadu_epi8((__mmask16)((1u << available) - 1), src));
}

DEPTHWISE_VNNI_TARGET
void tfr_int8_depthwise_vnni(const tfr_window *g, const int8_t *input, const int16_t *packed, const tfr_requant *q,
                             const int8_t *zero_row, const int8_t **taps, int8_t *output) {
    const long tap_count = g->k_h * g->k_w, pairs = (tap_count + 1) / 2, channels = g->channels;
    taps[tap_count] = zero_row;  // the odd tap of the last pair has zero weights
    for (long b = 0; b < g->batches; b++)
        for (long oy = 0; oy < g->out_h; oy++)
            for (long ox = 0; ox < g->out_w; ox++) {
                window_taps(g, input, zero_row, b, oy, ox, taps);
                int8_t *out = output + ((b * g->out_h + oy) * g->out_w + ox) * channels;
                long c = 0;
                // 32 channels at a time in 512-bit registers: within each 128-bit lane vpunpck{l,h}wd
                // pairs the same four channels as the 256-bit code does, so the two 16-channel
                // weight blocks side by side are the 512-bit weights.
                for (; c + 32 <= channels; c += 32) {
                    const int16_t *w0 = packed + (c / 16) * pairs * 32, *w1 = w0 + pairs * 32;
                    __m512i lo = _mm512_setzero_si512(), hi = lo;
                    for (long p = 0; p < pairs; p++, w0 += 32, w1 += 32) {
                        const __m512i x0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(taps[2 * p] + c)));
                        const __m512i x1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(taps[2 * p + 1] + c)));
                        const __m512i wl = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)w0)),
                                                              _mm256_loadu_si256((const __m256i *)w1), 1);
                        const __m512i wh = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(w0 + 16))),
                                                              _mm256_loadu_si256((const __m256i *)(w1 + 16)), 1);
                        lo = _mm512_dpwssd_epi32(lo, _mm512_unpacklo_epi16(x0, x1), wl);
                        hi = _mm512_dpwssd_epi32(hi, _mm512_unpackhi_epi16(x0, x1), wh);
                    }
                    // 128-bit lanes: lo = channels 0–3, 8–11, 16–19, 24–27; hi = 4–7, 12–15, 20–23, 28–31.
                    const __m512i first = _mm512_permutex2var_epi64(lo, _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), hi);
                    const __m512i second = _mm512_permutex2var_epi64(lo, _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15), hi);
                    _mm_storeu_si128((__m128i *)(out + c), requant16_512(first, q, c));
                    _mm_storeu_si128((__m128i *)(out + c + 16), requant16_512(second, q, c + 16));
                }
                for (; c < channels; c += 16) {
                    const long available = channels - c;
                    const int16_t *w = packed + (c / 16) * pairs * 32;
                    __m256i lo = _mm256_setzero_si256(), hi = lo;
                    for (long p = 0; p < pairs; p++, w += 32) {
                        const __m256i x0 = load_raw_channels(taps[2 * p] + c, available);
                        const __m256i x1 = load_raw_channels(taps[2 * p + 1] + c, available);
                        lo = _mm256_dpwssd_epi32(lo, _mm256_unpacklo_epi16(x0, x1), _mm256_loadu_si256((const __m256i *)w));
                        hi = _mm256_dpwssd_epi32(hi, _mm256_unpackhi_epi16(x0, x1), _mm256_loadu_si256((const __m256i *)(w + 16)));
                    }
                    // Channels 0–7 then 8–15 (see interleaved_channel in int8_depthwise_avx2.c).
                    const __m512i acc = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_permute2x128_si256(lo, hi, 0x20)),
                                                           _mm256_permute2x128_si256(lo, hi, 0x31), 1);
                    store_bytes(out + c, requant16_512(acc, q, c), available < 16 ? available : 16);
                }
            }
}

#else

void tfr_int8_depthwise_vnni(const tfr_window *g, const int8_t *input, const int16_t *packed, const tfr_requant *q,
                             const int8_t *zero_row, const int8_t **taps, int8_t *output) {
    (void)g; (void)input; (void)packed; (void)q; (void)zero_row; (void)taps; (void)output;
}

#endif
