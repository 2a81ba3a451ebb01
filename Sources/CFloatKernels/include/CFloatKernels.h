#ifndef TFREWRITE_CFLOATKERNELS_H
#define TFREWRITE_CFLOATKERNELS_H

// The AVX versions of tfrewrite's two hottest float kernels (FloatGEMM.swift and
// FloatDepthwise.swift own the contracts and the portable versions). They live in C because
// Swift cannot compile one function for a wider instruction set than the rest of its module;
// here each function carries `target("avx")` and is only called after a run-time CPU check,
// so the binary still runs on any x86-64. Every output is computed with the portable
// kernel's operations in the portable kernel's order: the bits are the same.

/// 1 when this CPU and OS run AVX instructions (and this is an x86-64 build), else 0.
int tfr_float_avx_available(void);

/// C[m][n] = clamp(Σ_k A[m][k]·B[k][n] + bias[n], lo, hi), each output summed k ascending,
/// one multiply then one add per term (no FMA), then + bias, then the clamp as Swift's
/// min(max(x, lo), hi).
/// Requires ldb to be a multiple of 16 with B's columns n..<ldb readable (zero padding); bias
/// is read below n only. `block_rows` is the number of rows of A kept hot while every column
/// panel passes over them. Does nothing on builds without AVX.
void tfr_float_gemm_avx(const float *a, long lda, long m, long k,
                        const float *b, long ldb, long n,
                        const float *bias, float lo, float hi,
                        float *c, long ldc, long block_rows);

/// 1 when this CPU and OS run AVX-512F (and this is an x86-64 build), else 0.
int tfr_float_avx512_available(void);

/// tfr_float_gemm_avx with 512-bit tiles (same contract, same bits); only called after
/// tfr_float_avx512_available().
void tfr_float_gemm_avx512(const float *a, long lda, long m, long k,
                           const float *b, long ldb, long n,
                           const float *bias, float lo, float hi,
                           float *c, long ldc, long block_rows);

/// The window of a 2-D convolution over an NHWC input (padding already resolved).
typedef struct {
    long batches, in_h, in_w, channels;
    long out_h, out_w, k_h, k_w;
    long stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
} tfr_window;

/// DEPTHWISE_CONV_2D with one output channel per input channel, for channels
/// 0 ..< channels rounded down to 16: out = clamp(Σ over the taps inside the image, filter y
/// then x ascending, of in·w, + bias). Weights are [k_h·k_w][ldw]. Returns how many channels
/// it wrote (0 on builds without AVX); the caller computes the rest.
long tfr_depthwise_f32_avx(const tfr_window *g, const float *input,
                           const float *weights, long ldw, const float *bias,
                           float lo, float hi, float *output);

#endif
