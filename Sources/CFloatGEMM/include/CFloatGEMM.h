#ifndef TFREWRITE_CFLOATGEMM_H
#define TFREWRITE_CFLOATGEMM_H

/// The AVX micro-kernel of tfrewrite's float matrix product (see FloatGEMM.swift, which owns
/// the contract and the portable version). It lives in C because Swift cannot compile one
/// function for a wider instruction set than the rest of the module; here the function carries
/// `target("avx")` and is only called after a run-time CPU check, so the binary still runs on
/// any x86-64.

/// 1 when this CPU and OS run AVX instructions (and this is an x86-64 build), else 0.
int tfr_float_gemm_avx_available(void);

/// C[m][n] = clamp(Σ_k A[m][k]·B[k][n] + bias[n], lo, hi), each output summed k ascending,
/// one multiply then one add per term (no FMA), then + bias, then the clamp as Swift's
/// min(max(x, lo), hi): bit-identical to FloatGEMM's portable kernel.
/// Requires ldb to be a multiple of 16 with B's columns n..<ldb readable (zero padding); bias
/// is read below n only. `block_rows` is the number of rows of A kept hot
/// while every column panel passes over them. Does nothing on builds without AVX.
void tfr_float_gemm_avx(const float *a, long lda, long m, long k,
                        const float *b, long ldb, long n,
                        const float *bias, float lo, float hi,
                        float *c, long ldc, long block_rows);

#endif
