#include "CInt8Kernels.h"

void tfr_int8_pack_gemm_weights(const int8_t *weights, long w_ld, long n, long k, long ldb, int16_t *packed) {
    const long pairs = (k + 1) / 2;
    for (long p = 0; p < pairs; p++)
        for (long j = 0; j < ldb; j++)
            for (long t = 0; t < 2; t++) {
                long kk = 2 * p + t;
                packed[(p * ldb + j) * 2 + t] = (j < n && kk < k) ? weights[j * w_ld + kk] : 0;
            }
}

#if defined(__x86_64__)
#include "requant_avx2.h"

#define TILE_ROWS 6

// int8 → int16 value − zero point for `count` values (the difference fits int16: |x − zp| ≤ 255).
__attribute__((target("avx2")))
static inline void widen(const int8_t *src, long count, __m256i zp, int32_t zero_point, int16_t *dst) {
    long i = 0;
    for (; i + 16 <= count; i += 16) {
        __m256i v = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(src + i)));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_sub_epi16(v, zp));
    }
    for (; i < count; i++) dst[i] = (int16_t)(src[i] - zero_point);
}

__attribute__((target("avx2")))
void tfr_int8_im2col_avx2(const tfr_window *g, long channel_offset, long filter_c, const int8_t *input,
                          int32_t zero_point, long first_pixel, long count, int16_t *rows, long ld) {
    const __m256i zp = _mm256_set1_epi16((int16_t)zero_point);
    for (long r = 0; r < count; r++) {
        long pixel = first_pixel + r;
        const long ox = pixel % g->out_w, oy = pixel / g->out_w % g->out_h, b = pixel / (g->out_w * g->out_h);
        const long y0 = oy * g->stride_h - g->pad_top, x0 = ox * g->stride_w - g->pad_left;
        int16_t *row = rows + r * ld;
        long k = 0;
        for (long fy = 0; fy < g->k_h; fy++) {
            const long iy = y0 + fy * g->dil_h;
            for (long fx = 0; fx < g->k_w; fx++, k += filter_c) {
                const long ix = x0 + fx * g->dil_w;
                if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w) {
                    for (long i = 0; i < filter_c; i++) row[k + i] = 0;
                    continue;
                }
                widen(input + ((b * g->in_h + iy) * g->in_w + ix) * g->channels + channel_offset, filter_c, zp, zero_point, row + k);
            }
        }
        for (; k < ld; k++) row[k] = 0;
    }
}

__attribute__((target("avx2")))
void tfr_int8_widen_rows_avx2(const int8_t *input, long in_ld, long depth, int32_t zero_point,
                              long count, int16_t *rows, long ld) {
    const __m256i zp = _mm256_set1_epi16((int16_t)zero_point);
    for (long r = 0; r < count; r++) {
        widen(input + r * in_ld, depth, zp, zero_point, rows + r * ld);
        for (long k = depth; k < ld; k++) rows[r * ld + k] = 0;
    }
}

// The pair (A[r][2p], A[r][2p+1]) in every 32-bit lane.
__attribute__((target("avx2")))
static inline __m256i pair(const int16_t *row, long p) {
    int32_t bits;
    __builtin_memcpy(&bits, row + 2 * p, 4);
    return _mm256_set1_epi32(bits);
}

// Six rows × sixteen columns: twelve int32 accumulator vectors; each weight vector pair is
// loaded once per k pair and used six times.
__attribute__((target("avx2")))
static void tile6x16(const int16_t *a, long lda, long pairs, const int16_t *b, long ldb,
                     const tfr_requant *q, long col, int8_t *c, long ldc, long cols) {
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256i c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    const int16_t *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda, *a4 = a + 4 * lda, *a5 = a + 5 * lda;
    const int16_t *w = b;
    for (long p = 0; p < pairs; p++, w += 2 * ldb) {
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)w), w1 = _mm256_loadu_si256((const __m256i *)(w + 16));
        __m256i x;
        x = pair(a0, p); c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(x, w0)); c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(x, w1));
        x = pair(a1, p); c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(x, w0)); c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(x, w1));
        x = pair(a2, p); c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(x, w0)); c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(x, w1));
        x = pair(a3, p); c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(x, w0)); c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(x, w1));
        x = pair(a4, p); c40 = _mm256_add_epi32(c40, _mm256_madd_epi16(x, w0)); c41 = _mm256_add_epi32(c41, _mm256_madd_epi16(x, w1));
        x = pair(a5, p); c50 = _mm256_add_epi32(c50, _mm256_madd_epi16(x, w0)); c51 = _mm256_add_epi32(c51, _mm256_madd_epi16(x, w1));
    }
    store_bytes(c, requant16(c00, c01, q, col), cols);
    store_bytes(c + ldc, requant16(c10, c11, q, col), cols);
    store_bytes(c + 2 * ldc, requant16(c20, c21, q, col), cols);
    store_bytes(c + 3 * ldc, requant16(c30, c31, q, col), cols);
    store_bytes(c + 4 * ldc, requant16(c40, c41, q, col), cols);
    store_bytes(c + 5 * ldc, requant16(c50, c51, q, col), cols);
}

__attribute__((target("avx2")))
static void tile1x16(const int16_t *a, long pairs, const int16_t *b, long ldb,
                     const tfr_requant *q, long col, int8_t *c, long cols) {
    __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0;
    const int16_t *w = b;
    for (long p = 0; p < pairs; p++, w += 2 * ldb) {
        const __m256i x = pair(a, p);
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(x, _mm256_loadu_si256((const __m256i *)w)));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(x, _mm256_loadu_si256((const __m256i *)(w + 16))));
    }
    store_bytes(c, requant16(acc0, acc1, q, col), cols);
}

__attribute__((target("avx2")))
void tfr_int8_gemm_avx2(const int16_t *a, long lda, long m, const int16_t *b, long ldb, long n,
                        const tfr_requant *q, int8_t *c, long ldc) {
    const long pairs = lda / 2;
    for (long j = 0; j < n; j += 16) {
        const long cols = n - j < 16 ? n - j : 16;
        const int16_t *panel = b + 2 * j;
        long r = 0;
        for (; r + TILE_ROWS <= m; r += TILE_ROWS)
            tile6x16(a + r * lda, lda, pairs, panel, ldb, q, j, c + r * ldc + j, ldc, cols);
        for (; r < m; r++)
            tile1x16(a + r * lda, pairs, panel, ldb, q, j, c + r * ldc + j, cols);
    }
}

#else

void tfr_int8_im2col_avx2(const tfr_window *g, long channel_offset, long filter_c, const int8_t *input,
                          int32_t zero_point, long first_pixel, long count, int16_t *rows, long ld) {
    (void)g; (void)channel_offset; (void)filter_c; (void)input; (void)zero_point; (void)first_pixel; (void)count; (void)rows; (void)ld;
}
void tfr_int8_widen_rows_avx2(const int8_t *input, long in_ld, long depth, int32_t zero_point,
                              long count, int16_t *rows, long ld) {
    (void)input; (void)in_ld; (void)depth; (void)zero_point; (void)count; (void)rows; (void)ld;
}
void tfr_int8_gemm_avx2(const int16_t *a, long lda, long m, const int16_t *b, long ldb, long n,
                        const tfr_requant *q, int8_t *c, long ldc) {
    (void)a; (void)lda; (void)m; (void)b; (void)ldb; (void)n; (void)q; (void)c; (void)ldc;
}

#endif
