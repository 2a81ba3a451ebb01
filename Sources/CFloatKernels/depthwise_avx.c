#include "CFloatKernels.h"

#if defined(__x86_64__)
#include "avx_support.h"

// Sums `lanes` channels (a multiple of 8, at most 32) of one output pixel over the taps inside
// the image, then adds the bias, clamps and stores. Four accumulators at most: each channel
// still has its own chain in tap order, the chains only run side by side.
__attribute__((target("avx")))
static inline void pixel_block(const tfr_window *g, const float *input, const float *weights, long ldw,
                               const float *bias, __m256 vlo, __m256 vhi, float *out,
                               long b, long y0, long x0, long c, int lanes) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    const int vectors = lanes / 8;
    for (long fy = 0; fy < g->k_h; fy++) {
        long iy = y0 + fy * g->dil_h;
        if (iy < 0 || iy >= g->in_h) continue;
        const float *row = input + ((b * g->in_h + iy) * g->in_w) * g->channels + c;
        const float *wrow = weights + fy * g->k_w * ldw + c;
        for (long fx = 0; fx < g->k_w; fx++) {
            long ix = x0 + fx * g->dil_w;
            if (ix < 0 || ix >= g->in_w) continue;
            const float *src = row + ix * g->channels, *w = wrow + fx * ldw;
            for (int v = 0; v < vectors; v++)
                acc[v] = _mm256_add_ps(acc[v], _mm256_mul_ps(_mm256_loadu_ps(src + 8 * v), _mm256_loadu_ps(w + 8 * v)));
        }
    }
    for (int v = 0; v < vectors; v++) {
        __m256 x = _mm256_add_ps(acc[v], _mm256_loadu_ps(bias + c + 8 * v));
        _mm256_storeu_ps(out + c + 8 * v, clamp8(x, vlo, vhi));
    }
}

__attribute__((target("avx")))
long tfr_depthwise_f32_avx(const tfr_window *g, const float *input,
                           const float *weights, long ldw, const float *bias,
                           float lo, float hi, float *output) {
    const long full = g->channels / 16 * 16;
    if (full == 0) return 0;
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    for (long b = 0; b < g->batches; b++) {
        for (long oy = 0; oy < g->out_h; oy++) {
            const long y0 = oy * g->stride_h - g->pad_top;
            for (long ox = 0; ox < g->out_w; ox++) {
                const long x0 = ox * g->stride_w - g->pad_left;
                float *out = output + ((b * g->out_h + oy) * g->out_w + ox) * g->channels;
                long c = 0;
                for (; c + 32 <= full; c += 32)
                    pixel_block(g, input, weights, ldw, bias, vlo, vhi, out, b, y0, x0, c, 32);
                for (; c < full; c += 16)
                    pixel_block(g, input, weights, ldw, bias, vlo, vhi, out, b, y0, x0, c, 16);
            }
        }
    }
    return full;
}

#else

long tfr_depthwise_f32_avx(const tfr_window *g, const float *input, const float *weights, long ldw,
                           const float *bias, float lo, float hi, float *output) {
    (void)g; (void)input; (void)weights; (void)ldw; (void)bias; (void)lo; (void)hi; (void)output;
    return 0;
}

#endif
