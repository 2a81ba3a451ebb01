#include "CFloatKernels.h"

#if defined(__x86_64__)
#include "avx_support.h"

#define TILE_ROWS 6

// Stores columns 0..<cols (≤ 16) of one output row from its two accumulators; bias is read
// only below cols.
__attribute__((target("avx")))
static inline void store_row(__m256 acc0, __m256 acc1, const float *bias, float lo, float hi, float *c, long cols) {
    if (cols == 16) {
        __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
        _mm256_storeu_ps(c, clamp8(_mm256_add_ps(acc0, _mm256_loadu_ps(bias)), vlo, vhi));
        _mm256_storeu_ps(c + 8, clamp8(_mm256_add_ps(acc1, _mm256_loadu_ps(bias + 8)), vlo, vhi));
        return;
    }
    float lanes[16];
    _mm256_storeu_ps(lanes, acc0);
    _mm256_storeu_ps(lanes + 8, acc1);
    for (long l = 0; l < cols; l++) c[l] = clamp1(lanes[l] + bias[l], lo, hi);
}

// Six rows × sixteen columns: twelve independent accumulator chains; each weight vector pair is
// loaded once per k and used six times, each input element broadcast once.
__attribute__((target("avx")))
static void tile6x16(const float *a, long lda, long k, const float *b, long ldb,
                     const float *bias, float lo, float hi, float *c, long ldc, long cols) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    const float *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda, *a4 = a + 4 * lda, *a5 = a + 5 * lda;
    const float *w = b;
    for (long kk = 0; kk < k; kk++, w += ldb) {
        __m256 w0 = _mm256_loadu_ps(w), w1 = _mm256_loadu_ps(w + 8), x;
        x = _mm256_broadcast_ss(a0 + kk);
        c00 = _mm256_add_ps(c00, _mm256_mul_ps(x, w0)); c01 = _mm256_add_ps(c01, _mm256_mul_ps(x, w1));
        x = _mm256_broadcast_ss(a1 + kk);
        c10 = _mm256_add_ps(c10, _mm256_mul_ps(x, w0)); c11 = _mm256_add_ps(c11, _mm256_mul_ps(x, w1));
        x = _mm256_broadcast_ss(a2 + kk);
        c20 = _mm256_add_ps(c20, _mm256_mul_ps(x, w0)); c21 = _mm256_add_ps(c21, _mm256_mul_ps(x, w1));
        x = _mm256_broadcast_ss(a3 + kk);
        c30 = _mm256_add_ps(c30, _mm256_mul_ps(x, w0)); c31 = _mm256_add_ps(c31, _mm256_mul_ps(x, w1));
        x = _mm256_broadcast_ss(a4 + kk);
        c40 = _mm256_add_ps(c40, _mm256_mul_ps(x, w0)); c41 = _mm256_add_ps(c41, _mm256_mul_ps(x, w1));
        x = _mm256_broadcast_ss(a5 + kk);
        c50 = _mm256_add_ps(c50, _mm256_mul_ps(x, w0)); c51 = _mm256_add_ps(c51, _mm256_mul_ps(x, w1));
    }
    store_row(c00, c01, bias, lo, hi, c, cols);
    store_row(c10, c11, bias, lo, hi, c + ldc, cols);
    store_row(c20, c21, bias, lo, hi, c + 2 * ldc, cols);
    store_row(c30, c31, bias, lo, hi, c + 3 * ldc, cols);
    store_row(c40, c41, bias, lo, hi, c + 4 * ldc, cols);
    store_row(c50, c51, bias, lo, hi, c + 5 * ldc, cols);
}

__attribute__((target("avx")))
static void tile1x16(const float *a, long k, const float *b, long ldb,
                     const float *bias, float lo, float hi, float *c, long cols) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
    const float *w = b;
    for (long kk = 0; kk < k; kk++, w += ldb) {
        __m256 x = _mm256_broadcast_ss(a + kk);
        acc0 = _mm256_add_ps(acc0, _mm256_mul_ps(x, _mm256_loadu_ps(w)));
        acc1 = _mm256_add_ps(acc1, _mm256_mul_ps(x, _mm256_loadu_ps(w + 8)));
    }
    store_row(acc0, acc1, bias, lo, hi, c, cols);
}

__attribute__((target("avx")))
void tfr_float_gemm_avx(const float *a, long lda, long m, long k,
                        const float *b, long ldb, long n,
                        const float *bias, float lo, float hi,
                        float *c, long ldc, long block_rows) {
    if (m <= 0 || n <= 0 || ldb % 16 != 0) return;
    if (block_rows < TILE_ROWS) block_rows = TILE_ROWS;
    for (long r0 = 0; r0 < m; r0 += block_rows) {
        long end = r0 + block_rows < m ? r0 + block_rows : m;
        for (long j = 0; j < n; j += 16) {
            long cols = n - j < 16 ? n - j : 16;
            long r = r0;
            for (; r + TILE_ROWS <= end; r += TILE_ROWS)
                tile6x16(a + r * lda, lda, k, b + j, ldb, bias + j, lo, hi, c + r * ldc + j, ldc, cols);
            for (; r < end; r++)
                tile1x16(a + r * lda, k, b + j, ldb, bias + j, lo, hi, c + r * ldc + j, cols);
        }
    }
}

#else

void tfr_float_gemm_avx(const float *a, long lda, long m, long k, const float *b, long ldb, long n,
                        const float *bias, float lo, float hi, float *c, long ldc, long block_rows) {
    (void)a; (void)lda; (void)m; (void)k; (void)b; (void)ldb; (void)n;
    (void)bias; (void)lo; (void)hi; (void)c; (void)ldc; (void)block_rows;
}

#endif
