#include "CFloatKernels.h"

// tfr_float_gemm_avx with 512-bit registers: up to 6 rows × 64 columns per register tile
// (24 accumulators). Each lane still computes acc = acc + a·b (a multiply then an add, no FMA),
// k ascending, then + bias and the clamp: the same bits as the AVX and portable kernels.

#if defined(__x86_64__)
#include "avx_support.h"

#define AVX512_TARGET __attribute__((target("avx,avx2,avx512f")))
#define TILE_ROWS 6
#define MAX_VECS 4

int tfr_float_avx512_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx") && __builtin_cpu_supports("avx512f") ? 1 : 0;
}

// Swift's min(max(x, lo), hi) per lane, as clamp8 (NaN passes through, max(-0, +0) is +0).
AVX512_TARGET
static inline __m512 clamp16(__m512 x, __m512 lo, __m512 hi) {
    const __m512 t = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(lo, x, _CMP_GE_OQ), x, lo);
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(hi, t, _CMP_LT_OQ), t, hi);
}

// Stores columns 0..<cols (≤ 16) of one accumulator vector; bias is read only below cols.
AVX512_TARGET
static inline void store16(__m512 acc, const float *bias, float lo, float hi, float *c, long cols) {
    if (cols >= 16) {
        _mm512_storeu_ps(c, clamp16(_mm512_add_ps(acc, _mm512_loadu_ps(bias)), _mm512_set1_ps(lo), _mm512_set1_ps(hi)));
        return;
    }
    float lanes[16];
    _mm512_storeu_ps(lanes, acc);
    for (long l = 0; l < cols; l++) c[l] = clamp1(lanes[l] + bias[l], lo, hi);
}

// `rows` × `vecs`·16 columns, both constants after inlining (accumulators in registers).
AVX512_TARGET __attribute__((always_inline))
static inline void tile(const int rows, const int vecs, const float *a, long lda, long k, const float *b, long ldb,
                        const float *bias, float lo, float hi, float *c, long ldc, long cols) {
    __m512 acc[TILE_ROWS][MAX_VECS];
#pragma clang loop unroll(full)
    for (int r = 0; r < rows; r++)
#pragma clang loop unroll(full)
        for (int v = 0; v < vecs; v++) acc[r][v] = _mm512_setzero_ps();
    const float *w = b;
    for (long kk = 0; kk < k; kk++, w += ldb) {
        __m512 wv[MAX_VECS];
#pragma clang loop unroll(full)
        for (int v = 0; v < vecs; v++) wv[v] = _mm512_loadu_ps(w + 16 * v);
#pragma clang loop unroll(full)
        for (int r = 0; r < rows; r++) {
            const __m512 x = _mm512_set1_ps(a[r * lda + kk]);
#pragma clang loop unroll(full)
            for (int v = 0; v < vecs; v++) acc[r][v] = _mm512_add_ps(acc[r][v], _mm512_mul_ps(x, wv[v]));
        }
    }
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < vecs; v++) {
            const long left = cols - 16 * v;
            if (left <= 0) break;
            store16(acc[r][v], bias + 16 * v, lo, hi, c + r * ldc + 16 * v, left);
        }
}

#define DEFINE_TILES(VECS)                                                                                    \
    AVX512_TARGET static void tile6_##VECS(const float *a, long lda, long k, const float *b, long ldb,        \
                                           const float *bias, float lo, float hi, float *c, long ldc, long cols) { \
        tile(TILE_ROWS, VECS, a, lda, k, b, ldb, bias, lo, hi, c, ldc, cols);                                  \
    }                                                                                                         \
    AVX512_TARGET static void tile1_##VECS(const float *a, long lda, long k, const float *b, long ldb,        \
                                           const float *bias, float lo, float hi, float *c, long ldc, long cols) { \
        tile(1, VECS, a, lda, k, b, ldb, bias, lo, hi, c, ldc, cols);                                          \
    }
DEFINE_TILES(1)
DEFINE_TILES(2)
DEFINE_TILES(3)
DEFINE_TILES(4)

typedef void (*tile_function)(const float *, long, long, const float *, long, const float *, float, float, float *, long, long);

AVX512_TARGET
void tfr_float_gemm_avx512(const float *a, long lda, long m, long k,
                           const float *b, long ldb, long n,
                           const float *bias, float lo, float hi,
                           float *c, long ldc, long block_rows) {
    static const tile_function six[MAX_VECS] = {tile6_1, tile6_2, tile6_3, tile6_4};
    static const tile_function one[MAX_VECS] = {tile1_1, tile1_2, tile1_3, tile1_4};
    if (m <= 0 || n <= 0 || ldb % 16 != 0) return;
    if (block_rows < TILE_ROWS) block_rows = TILE_ROWS;
    for (long r0 = 0; r0 < m; r0 += block_rows) {
        const long end = r0 + block_rows < m ? r0 + block_rows : m;
        for (long j = 0; j < n; j += 16 * MAX_VECS) {
            const long cols = n - j < 16 * MAX_VECS ? n - j : 16 * MAX_VECS;
            const long vecs = (cols + 15) / 16;  // ldb ≥ j + 16·vecs: columns are padded to 16
            long r = r0;
            for (; r + TILE_ROWS <= end; r += TILE_ROWS)
                six[vecs - 1](a + r * lda, lda, k, b + j, ldb, bias + j, lo, hi, c + r * ldc + j, ldc, cols);
            for (; r < end; r++)
                one[vecs - 1](a + r * lda, lda, k, b + j, ldb, bias + j, lo, hi, c + r * ldc + j, ldc, cols);
        }
    }
}

#else

int tfr_float_avx512_available(void) { return 0; }
void tfr_float_gemm_avx512(const float *a, long lda, long m, long k, const float *b, long ldb, long n,
                           const float *bias, float lo, float hi, float *c, long ldc, long block_rows) {
    (void)a; (void)lda; (void)m; (void)k; (void)b; (void)ldb; (void)n;
    (void)bias; (void)lo; (void)hi; (void)c; (void)ldc; (void)block_rows;
}

#endif
