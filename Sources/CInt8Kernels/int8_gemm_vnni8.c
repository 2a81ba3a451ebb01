#include "CInt8Kernels.h"

// The int8 matrix product with AVX-512 VNNI's vpdpbusd: four unsigned-byte × signed-byte
// products summed into each int32 lane per instruction (twice vpdpwssd's work). vpdpbusd
// wants one unsigned operand, so A's int8 values x are fed as x + 128 (x XOR 0x80) and
//     Σ (x − zp)·w = Σ (x + 128)·w − (128 + zp)·Σ w,
// whose last term the caller folds into the bias once per model. Every product is an exact
// integer, vpdpbusd does not saturate, and int32 addition wraps alike in any order: the
// accumulators are TFLM's (reference_integer_ops conv.h / fully_connected.h) modulo 2^32, as
// theirs are. Requantization is the AVX2 one's arithmetic 16 lanes wide (requant_avx512.h).

void tfr_int8_pack_quads(const int8_t *weights, long w_ld, long n, long k, long ldb, int8_t *packed, int32_t *column_sums) {
    const long quads = (k + 3) / 4;
    for (long q = 0; q < quads; q++)
        for (long j = 0; j < ldb; j++)
            for (long t = 0; t < 4; t++) {
                const long kk = 4 * q + t;
                packed[(q * ldb + j) * 4 + t] = (j < n && kk < k) ? weights[j * w_ld + kk] : 0;
            }
    for (long j = 0; j < ldb; j++) {
        int32_t sum = 0;
        for (long kk = 0; j < n && kk < k; kk++) sum += weights[j * w_ld + kk];
        column_sums[j] = sum;
    }
}

#if defined(__x86_64__)
#include <string.h>
#include "requant_avx2.h"
#include "requant_avx512.h"

#define VNNI_TARGET __attribute__((target("avx2,avx512f,avx512bw,avx512vnni")))
#define TILE_ROWS 6
#define MAX_VECS 4

// memcpy for the few bytes of one tap (3 for an RGB input) without a library call per tap.
static inline void copy_bytes(int8_t *dst, const int8_t *src, long n) {
    if (n >= 16) { memcpy(dst, src, (size_t)n); return; }
    if (n >= 8) {
        uint64_t head, tail;
        memcpy(&head, src, 8); memcpy(&tail, src + n - 8, 8);
        memcpy(dst, &head, 8); memcpy(dst + n - 8, &tail, 8);
        return;
    }
    if (n >= 4) {
        uint32_t head, tail;
        memcpy(&head, src, 4); memcpy(&tail, src + n - 4, 4);
        memcpy(dst, &head, 4); memcpy(dst + n - 4, &tail, 4);
        return;
    }
    for (long i = 0; i < n; i++) dst[i] = src[i];
}

__attribute__((target("avx2")))
void tfr_int8_im2col_bytes(const tfr_window *g, long channel_offset, long filter_c, const int8_t *input,
                           int32_t zero_point, long first_pixel, long count, int8_t *rows, long ld) {
    for (long r = 0; r < count; r++) {
        const long pixel = first_pixel + r;
        const long ox = pixel % g->out_w, oy = pixel / g->out_w % g->out_h, b = pixel / (g->out_w * g->out_h);
        const long y0 = oy * g->stride_h - g->pad_top, x0 = ox * g->stride_w - g->pad_left;
        int8_t *row = rows + r * ld;
        long k = 0;
        for (long fy = 0; fy < g->k_h; fy++) {
            const long iy = y0 + fy * g->dil_h;
            const int8_t *image_row = input + (b * g->in_h + iy) * g->in_w * g->channels;
            // A whole filter row inside the image, contiguous in the input: one copy.
            if (iy >= 0 && iy < g->in_h && x0 >= 0 && x0 + g->k_w <= g->in_w && g->dil_w == 1 && filter_c == g->channels) {
                copy_bytes(row + k, image_row + x0 * g->channels, g->k_w * filter_c);
                k += g->k_w * filter_c;
                continue;
            }
            for (long fx = 0; fx < g->k_w; fx++, k += filter_c) {
                const long ix = x0 + fx * g->dil_w;
                // A tap outside the image reads the zero point: x − zp = 0 adds nothing, as in TFLM.
                if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w)
                    memset(row + k, (int8_t)zero_point, (size_t)filter_c);
                else
                    copy_bytes(row + k, image_row + ix * g->channels + channel_offset, filter_c);
            }
        }
        if (k < ld) memset(row + k, (int8_t)zero_point, (size_t)(ld - k));
    }
}

VNNI_TARGET __attribute__((always_inline))
static inline __m512i dot_quads(__m512i acc, __m512i x, __m512i w) {
    return _mm512_dpbusd_epi32(acc, x, w);
}

// `rows` × `vecs`·16 columns (constants after inlining: accumulators stay in registers).
VNNI_TARGET __attribute__((always_inline))
static inline void tile(const int rows, const int vecs, const int8_t *a, long lda, long quads, const int8_t *b,
                        long ldb, const tfr_requant *q, long col, int8_t *c, long ldc, long cols) {
    __m512i acc[TILE_ROWS][MAX_VECS];
#pragma clang loop unroll(full)
    for (int r = 0; r < rows; r++)
#pragma clang loop unroll(full)
        for (int v = 0; v < vecs; v++) acc[r][v] = _mm512_setzero_si512();
    const __m512i flip = _mm512_set1_epi32((int32_t)0x80808080u);
    const int8_t *w = b;
    for (long p = 0; p < quads; p++, w += 4 * ldb) {
        __m512i wv[MAX_VECS];
#pragma clang loop unroll(full)
        for (int v = 0; v < vecs; v++) wv[v] = _mm512_loadu_si512((const void *)(w + 64 * v));
#pragma clang loop unroll(full)
        for (int r = 0; r < rows; r++) {
            int32_t bits;
            __builtin_memcpy(&bits, a + r * lda + 4 * p, 4);
            const __m512i x = _mm512_xor_si512(_mm512_set1_epi32(bits), flip);
#pragma clang loop unroll(full)
            for (int v = 0; v < vecs; v++) acc[r][v] = dot_quads(acc[r][v], x, wv[v]);
        }
    }
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < vecs; v++) {
            const long left = cols - 16 * v;
            if (left <= 0) break;
            store_bytes(c + r * ldc + 16 * v, requant16_512(acc[r][v], q, col + 16 * v), left < 16 ? left : 16);
        }
}

#define DEFINE_TILES(VECS)                                                                                    \
    VNNI_TARGET static void tile6_##VECS(const int8_t *a, long lda, long quads, const int8_t *b, long ldb,    \
                                         const tfr_requant *q, long col, int8_t *c, long ldc, long cols) {   \
        tile(TILE_ROWS, VECS, a, lda, quads, b, ldb, q, col, c, ldc, cols);                                   \
    }                                                                                                         \
    VNNI_TARGET static void tile1_##VECS(const int8_t *a, long lda, long quads, const int8_t *b, long ldb,    \
                                         const tfr_requant *q, long col, int8_t *c, long ldc, long cols) {   \
        tile(1, VECS, a, lda, quads, b, ldb, q, col, c, ldc, cols);                                           \
    }
DEFINE_TILES(1)
DEFINE_TILES(2)
DEFINE_TILES(3)
DEFINE_TILES(4)

typedef void (*tile_function)(const int8_t *, long, long, const int8_t *, long, const tfr_requant *, long, int8_t *, long, long);

VNNI_TARGET
void tfr_int8_gemm_vnni8(const int8_t *a, long lda, long m, long k, const int8_t *b, long ldb, long n,
                         const tfr_requant *q, int8_t *c, long ldc) {
    static const tile_function six[MAX_VECS] = {tile6_1, tile6_2, tile6_3, tile6_4};
    static const tile_function one[MAX_VECS] = {tile1_1, tile1_2, tile1_3, tile1_4};
    const long quads = (k + 3) / 4;
    for (long j = 0; j < n; j += 16 * MAX_VECS) {
        const long cols = n - j < 16 * MAX_VECS ? n - j : 16 * MAX_VECS;
        const long vecs = (cols + 15) / 16;  // ldb ≥ j + 16·vecs: the panel is padded to 16 columns
        const int8_t *panel = b + 4 * j;
        long r = 0;
        for (; r + TILE_ROWS <= m; r += TILE_ROWS)
            six[vecs - 1](a + r * lda, lda, quads, panel, ldb, q, j, c + r * ldc + j, ldc, cols);
        for (; r < m; r++)
            one[vecs - 1](a + r * lda, lda, quads, panel, ldb, q, j, c + r * ldc + j, ldc, cols);
    }
}

#else

void tfr_int8_im2col_bytes(const tfr_window *g, long channel_offset, long filter_c, const int8_t *input,
                           int32_t zero_point, long first_pixel, long count, int8_t *rows, long ld) {
    (void)g; (void)channel_offset; (void)filter_c; (void)input; (void)zero_point; (void)first_pixel; (void)count; (void)rows; (void)ld;
}
void tfr_int8_gemm_vnni8(const int8_t *a, long lda, long m, long k, const int8_t *b, long ldb, long n,
                         const tfr_requant *q, int8_t *c, long ldc) {
    (void)a; (void)lda; (void)m; (void)k; (void)b; (void)ldb; (void)n; (void)q; (void)c; (void)ldc;
}

#endif
