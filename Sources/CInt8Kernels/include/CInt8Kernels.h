#ifndef TFREWRITE_CINT8KERNELS_H
#define TFREWRITE_CINT8KERNELS_H
#include <stdint.h>
#include "CFloatKernels.h"

// AVX2 versions of the int8 CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED inner loops
// (Int8Fast.swift owns the contracts and decides when they apply; the portable Swift kernels
// in ConvKernels.swift and FullyConnectedAndPoolKernels.swift stay the reference). Each
// function carries `target("avx2")` and is only called after tfr_int8_avx2_available().
//
// Sums: products of (input − zero point) and weights, both widened to int16, added in pairs by
// vpmaddwd into int32 lanes. Every term is an exact integer and int32 addition wraps the same
// way in any order, so each accumulator equals TFLM's (reference_integer_ops conv.h,
// depthwise_conv.h, fully_connected.h). Requantization is TFLM's double-rounding
// MultiplyByQuantizedMultiplier (kernels/internal/common.h) done eight lanes at a time.

/// 1 when this CPU and OS run AVX2 instructions (and this is an x86-64 build), else 0.
int tfr_int8_avx2_available(void);

/// Per-output-channel requantization, every array padded to a multiple of 16 channels.
/// out = clamp(rdbpot(srdhm((acc + bias) << left_shift, multiplier), right_shift) + out_zp).
/// Callers guarantee: left_shift and right_shift in 0...31, multiplier != INT32_MIN,
/// -128 <= act_min, act_max <= 127. `right_mask` is (1 << right_shift) − 1.
typedef struct {
    const int32_t *bias, *multiplier, *left_shift, *right_shift, *right_mask;
    int32_t out_zp, act_min, act_max;
} tfr_requant;

/// Fills `count` rows of an im2col matrix for output pixels first_pixel ..< first_pixel+count
/// (pixels numbered batch, y, x): row = for each filter tap (y then x), `filter_c` int16 values
/// input[channel_offset + i] − zero_point, or 0 for taps outside the image (TFLM adds nothing
/// there), then zeros up to `ld` (even, ≥ k_h·k_w·filter_c). g->channels is the input depth.
void tfr_int8_im2col_avx2(const tfr_window *g, long channel_offset, long filter_c, const int8_t *input,
                          int32_t zero_point, long first_pixel, long count, int16_t *rows, long ld);

/// Converts `count` rows of `depth` int8 (row stride `in_ld`) to int16 value − zero_point,
/// zero padded up to `ld` (even).
void tfr_int8_widen_rows_avx2(const int8_t *input, long in_ld, long depth, int32_t zero_point,
                              long count, int16_t *rows, long ld);

/// Lays out int8 weights W[n][k] (row stride `w_ld`) for tfr_int8_gemm_avx2: `pairs` =
/// ceil(k/2) blocks of ldb × 2 int16, element (p, j, t) = W[j][2p + t], zero outside k and n.
/// `packed` holds pairs · ldb · 2 values; ldb is n rounded up to 16.
void tfr_int8_pack_gemm_weights(const int8_t *weights, long w_ld, long n, long k, long ldb, int16_t *packed);

/// C[m][0..<n] = requant(Σ_k A[m][k]·W[n][k]) as int8, A from tfr_int8_im2col_avx2 or
/// tfr_int8_widen_rows_avx2 (row stride lda int16, pairs = lda / 2), B from
/// tfr_int8_pack_gemm_weights; columns n..<16-multiple are computed but never stored.
void tfr_int8_gemm_avx2(const int16_t *a, long lda, long m, const int16_t *b, long ldb, long n,
                        const tfr_requant *q, int8_t *c, long ldc);

/// 1 when this CPU and OS run AVX-512 F/BW/VNNI (and this is an x86-64 build), else 0.
int tfr_int8_vnni512_available(void);

/// Lays out int8 weights W[n][k] (row stride `w_ld`) for tfr_int8_gemm_vnni8: ceil(k/4) blocks
/// of ldb × 4 int8, element (q, j, t) = W[j][4q + t], zero outside k and n; and
/// column_sums[j] = Σ_k W[j][k] (ldb values, 0 past n), which the caller folds into the bias as
/// bias[j] − (128 + input zero point)·column_sums[j] (int32, wrapping).
void tfr_int8_pack_quads(const int8_t *weights, long w_ld, long n, long k, long ldb, int8_t *packed, int32_t *column_sums);

/// Like tfr_int8_im2col_avx2 but copying int8 as they are; taps outside the image and the
/// tail up to `ld` (a multiple of 4, ≥ k_h·k_w·filter_c) hold the zero point.
void tfr_int8_im2col_bytes(const tfr_window *g, long channel_offset, long filter_c, const int8_t *input,
                           int32_t zero_point, long first_pixel, long count, int8_t *rows, long ld);

/// C[m][0..<n] = requant(Σ_k (A[m][k] + 128)·W[n][k]) with AVX-512 VNNI vpdpbusd, A int8 rows
/// of stride `lda` bytes of which 4·ceil(k/4) are read (values past k meet zero weights), B from
/// tfr_int8_pack_quads; q's bias must hold the folded column sums. Only called after
/// tfr_int8_vnni512_available().
void tfr_int8_gemm_vnni8(const int8_t *a, long lda, long m, long k, const int8_t *b, long ldb, long n,
                         const tfr_requant *q, int8_t *c, long ldc);

/// Lays out depthwise weights W[tap][channel] (tap = y·k_w + x, `channels` per tap) for
/// tfr_int8_depthwise_avx2: per tap pair and 16-channel block two vectors of 8 (tap 2p, tap
/// 2p+1) int16 pairs, channels in the order vpunpck{l,h}wd produces. Size:
/// ceil(taps/2) · ceil(channels/16) · 32 int16.
void tfr_int8_pack_depthwise_weights(const int8_t *weights, long taps, long channels, int16_t *packed);

/// DEPTHWISE_CONV_2D with one output channel per input channel. `zero_row` holds
/// g->channels copies of the input zero point (what a tap outside the image reads, so that it
/// adds 0); `taps` is scratch for k_h·k_w + 1 pointers.
void tfr_int8_depthwise_avx2(const tfr_window *g, const int8_t *input, int32_t zero_point,
                             const int16_t *packed, const tfr_requant *q, const int8_t *zero_row,
                             const int8_t **taps, int8_t *output);

/// tfr_int8_depthwise_avx2 with AVX-512 VNNI (same packed weights, same bytes) for CPUs where
/// tfr_int8_vnni512_available(): taps are summed as Σ x·w without subtracting the zero point,
/// so q's bias must already hold bias[c] − zp·Σ_taps W[tap][c] (int32, wrapping); `zero_row`
/// holds g->channels copies of the input zero point.
void tfr_int8_depthwise_vnni(const tfr_window *g, const int8_t *input, const int16_t *packed, const tfr_requant *q,
                             const int8_t *zero_row, const int8_t **taps, int8_t *output);

/// int8 ADD / SUB of two same-shape tensors (TFLM reference_integer_ops/add.h, sub.h):
/// out = clamp(rdbpot(srdhm(s1 ± s2, out_multiplier), out_right_shift) + out_zp) with
/// s_i = rdbpot(srdhm((offset_i + x_i) << left_shift, multiplier_i), right_shift_i).
/// Callers guarantee: shifts in 0...31, multipliers != INT32_MIN, |offset_i| ≤ 255 with
/// left_shift ≤ 22 (no int32 overflow), -128 <= act_min <= act_max <= 127.
typedef struct {
    int32_t offset1, offset2, left_shift;
    int32_t multiplier1, right_shift1, multiplier2, right_shift2;
    int32_t out_multiplier, out_right_shift, out_zp, act_min, act_max;
    int32_t subtract;
} tfr_add;

void tfr_int8_add_avx2(const int8_t *x, const int8_t *y, long count, const tfr_add *p, int8_t *out);

#endif
