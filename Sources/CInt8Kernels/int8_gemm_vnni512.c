#include "CInt8Kernels.h"

// The int8 matrix product of int8_gemm_avx2.c with 512-bit registers and AVX-512 VNNI's
// vpdpwssd, which multiplies the int16 pairs and adds both products to the int32 lane in one
// instruction: exact integer terms, and int32 addition wraps alike in any order, so the same
// accumulators; then the same AVX2 requantization (requant_avx2.h). Same packed weights: one
// 512-bit load is 16 columns × one k pair.

#if defined(__x86_64__)
#include "requant_avx2.h"

#define VNNI_TARGET __attribute__((target("avx2,avx512f,avx512bw,avx512vnni")))
#define TILE_ROWS 6
#define MAX_VECS 4

int tfr_int8_vnni512_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vnni") ? 1 : 0;
}

// acc + Σ pairwise int16 products, one vpdpwssd. Written as asm because the compiler's generic
// tuning splits the intrinsic back into vpmaddwd + vpaddd (two instructions, as in AVX2).
VNNI_TARGET __attribute__((always_inline))
static inline __m512i dot_pairs(__m512i acc, __m512i x, __m512i w) {
    __asm__("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(x), "v"(w));
    return acc;
}

// `rows` rows × `vecs` · 16 columns (both constants after inlining, so the accumulators stay in
// registers): each weight vector is loaded once per k pair and used `rows` times, each A pair
// broadcast once and used `vecs` times. Columns at or beyond `cols` are computed, not stored.
VNNI_TARGET __attribute__((always_inline))
static inline void tile(const int rows, const int vecs, const int16_t *a, long lda, long pairs, const int16_t *b,
                        long ldb, const tfr_requant *q, long col, int8_t *c, long ldc, long cols) {
    __m512i acc[TILE_ROWS][MAX_VECS];
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < vecs; v++) acc[r][v] = _mm512_setzero_si512();
    const int16_t *w = b;
    for (long p = 0; p < pairs; p++, w += 2 * ldb) {
        __m512i wv[MAX_VECS];
#pragma clang loop unroll(full)
        for (int v = 0; v < vecs; v++) wv[v] = _mm512_loadu_si512((const void *)(w + 32 * v));
#pragma clang loop unroll(full)
        for (int r = 0; r < rows; r++) {
            int32_t bits;
            __builtin_memcpy(&bits, a + r * lda + 2 * p, 4);
            const __m512i x = _mm512_set1_epi32(bits);
#pragma clang loop unroll(full)
            for (int v = 0; v < vecs; v++) acc[r][v] = dot_pairs(acc[r][v], x, wv[v]);
        }
    }
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < vecs; v++) {
            const long left = cols - 16 * v;
            if (left <= 0) break;
            // Lanes 0–7 are columns col+16v ..< +8, lanes 8–15 the next eight: requant16's two halves.
            const __m128i bytes = requant16(_mm512_castsi512_si256(acc[r][v]), _mm512_extracti64x4_epi64(acc[r][v], 1), q, col + 16 * v);
            store_bytes(c + r * ldc + 16 * v, bytes, left < 16 ? left : 16);
        }
}

#define DEFINE_TILES(VECS)                                                                                     \
    VNNI_TARGET static void tile6_##VECS(const int16_t *a, long lda, long pairs, const int16_t *b, long ldb,   \
                                         const tfr_requant *q, long col, int8_t *c, long ldc, long cols) {    \
        tile(TILE_ROWS, VECS, a, lda, pairs, b, ldb, q, col, c, ldc, cols);                                    \
    }                                                                                                          \
    VNNI_TARGET static void tile1_##VECS(const int16_t *a, long lda, long pairs, const int16_t *b, long ldb,   \
                                         const tfr_requant *q, long col, int8_t *c, long ldc, long cols) {    \
        tile(1, VECS, a, lda, pairs, b, ldb, q, col, c, ldc, cols);                                            \
    }
DEFINE_TILES(1)
DEFINE_TILES(2)
DEFINE_TILES(3)
DEFINE_TILES(4)

typedef void (*tile_function)(const int16_t *, long, long, const int16_t *, long, const tfr_requant *, long, int8_t *, long, long);

VNNI_TARGET
void tfr_int8_gemm_vnni512(const int16_t *a, long lda, long m, const int16_t *b, long ldb, long n,
                           const tfr_requant *q, int8_t *c, long ldc) {
    static const tile_function six[MAX_VECS] = {tile6_1, tile6_2, tile6_3, tile6_4};
    static const tile_function one[MAX_VECS] = {tile1_1, tile1_2, tile1_3, tile1_4};
    const long pairs = lda / 2;
    for (long j = 0; j < n; j += 16 * MAX_VECS) {
        const long cols = n - j < 16 * MAX_VECS ? n - j : 16 * MAX_VECS;
        const long vecs = (cols + 15) / 16;  // ldb ≥ j + 16·vecs: the panel is padded to 16 columns
        const int16_t *panel = b + 2 * j;
        long r = 0;
        for (; r + TILE_ROWS <= m; r += TILE_ROWS)
            six[vecs - 1](a + r * lda, lda, pairs, panel, ldb, q, j, c + r * ldc + j, ldc, cols);
        for (; r < m; r++)
            one[vecs - 1](a + r * lda, lda, pairs, panel, ldb, q, j, c + r * ldc + j, ldc, cols);
    }
}

#else

int tfr_int8_vnni512_available(void) { return 0; }
void tfr_int8_gemm_vnni512(const int16_t *a, long lda, long m, const int16_t *b, long ldb, long n,
                           const tfr_requant *q, int8_t *c, long ldc) {
    (void)a; (void)lda; (void)m; (void)b; (void)ldb; (void)n; (void)q; (void)c; (void)ldc;
}

#endif
