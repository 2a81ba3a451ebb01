// Where each filter tap of one depthwise output pixel reads (shared by the AVX2 and VNNI kernels).
#ifndef TFREWRITE_WINDOW_TAPS_H
#define TFREWRITE_WINDOW_TAPS_H
#include "CInt8Kernels.h"

// taps[fy·k_w + fx] = the input pixel under filter tap (fy, fx) of output pixel (b, oy, ox), or
// `zero_row` (channels copies of the input zero point) for taps outside the image.
static inline void window_taps(const tfr_window *g, const int8_t *input, const int8_t *zero_row,
                               long b, long oy, long ox, const int8_t **taps) {
    const long y0 = oy * g->stride_h - g->pad_top, x0 = ox * g->stride_w - g->pad_left;
    for (long fy = 0; fy < g->k_h; fy++) {
        const long iy = y0 + fy * g->dil_h;
        for (long fx = 0; fx < g->k_w; fx++) {
            const long ix = x0 + fx * g->dil_w;
            const int inside = iy >= 0 && iy < g->in_h && ix >= 0 && ix < g->in_w;
            taps[fy * g->k_w + fx] = inside ? input + ((b * g->in_h + iy) * g->in_w + ix) * g->channels : zero_row;
        }
    }
}

#endif
