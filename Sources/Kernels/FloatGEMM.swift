import CFloatKernels
import FlatBuffers
import IR
import Support

/// Float matrix product for CONV_2D: C[m][n] = clamp(Σ_k A[m][k]·B[k][n] + bias[n]).
///
/// A is the NHWC input seen as a [pixels, channels] matrix (1×1 convolutions read the input in
/// place) or an im2col buffer; B is the filter laid out [k][n] with n padded to a multiple of
/// 16 zero columns at kernel init.
///
/// Register tiles of 6 rows × 8 columns (SIMD8, two SSE registers per row) give twelve
/// independent accumulator chains, against one in a row-at-a-time loop, and reuse each loaded
/// weight vector six times. Every output still sums its products in the reference order —
/// k ascending from 0, one multiply then one add each (no FMA), then + bias, then the
/// activation clamp — so results are bit-identical to the reference kernel's, only faster.
///
/// On x86-64 CPUs with AVX the same tiles run 16 columns wide in C (CFloatKernels: Swift cannot
/// enable AVX for one function behind a run-time check); same order of operations, same bits,
/// about twice the speed. Elsewhere the portable Swift kernel below runs.
package enum FloatGEMM {

    /// Rows of the register tile.
    package static let tileRows = 6
    /// Columns of the register tile (one SIMD8 per row).
    package static let tileCols = 8

    /// Rows of A processed per cache block: about 64 KiB of A, so a block stays in L2 while
    /// every column panel of B passes over it.
    package static func blockRows(k: Int) -> Int {
        let rows = (64 * 1024 / 4) / max(k, 1)
        return max(tileRows, rows / tileRows * tileRows)
    }

    /// - Parameters:
    ///   - a: `m` rows of `k` floats, row stride `lda`.
    ///   - b: `k` rows, row stride `ldb` (≥ `n` rounded up to 8; padding columns are read but
    ///     never stored).
    ///   - c: `m` rows, row stride `ldc`; columns 0..<n are written.
    package static func multiply(a: UnsafePointer<Float>, lda: Int, m: Int, k: Int,
                         b: UnsafePointer<Float>, ldb: Int, n: Int,
                         bias: UnsafePointer<Float>, lo: Float, hi: Float,
                         c: UnsafeMutablePointer<Float>, ldc: Int, kernel: FloatKernel = .best) {
        guard m > 0, n > 0 else { return }
        let block = blockRows(k: k)
        if kernel != .portable && ldb % 16 == 0 {
            if kernel == .avx512 {
                tfr_float_gemm_avx512(a, lda, m, k, b, ldb, n, bias, lo, hi, c, ldc, block)
            } else {
                tfr_float_gemm_avx(a, lda, m, k, b, ldb, n, bias, lo, hi, c, ldc, block)
            }
            return
        }
        var r0 = 0
        while r0 < m {
            let rows = min(block, m - r0)
            var j = 0
            while j < n {
                let cols = min(tileCols, n - j)
                var r = r0
                while r + tileRows <= r0 + rows {
                    tile6x8(a: a + r * lda, lda: lda, k: k, b: b + j, ldb: ldb, bias: bias + j, lo: lo, hi: hi,
                            c: c + r * ldc + j, ldc: ldc, cols: cols)
                    r += tileRows
                }
                while r < r0 + rows {
                    tile1x8(a: a + r * lda, k: k, b: b + j, ldb: ldb, bias: bias + j, lo: lo, hi: hi, c: c + r * ldc + j, cols: cols)
                    r += 1
                }
                j += tileCols
            }
            r0 += rows
        }
    }

    @inline(__always)
    private static func store(_ acc: SIMD8<Float>, bias: UnsafePointer<Float>, lo: Float, hi: Float, to c: UnsafeMutablePointer<Float>, cols: Int) {
        if cols == tileCols {
            // The sum in SIMD (the same lane-wise float additions), the activation clamp per lane
            // in Swift's scalar form so NaN and −0 come out exactly as in the reference loop.
            UnsafeMutableRawPointer(c).storeBytes(of: acc + loadVector(bias), as: SIMD8<Float>.self)
            for l in 0..<tileCols { c[l] = min(max(c[l], lo), hi) }
        } else {
            for l in 0..<cols { c[l] = min(max(acc[l] + bias[l], lo), hi) }
        }
    }

    @inline(__always)
    private static func tile6x8(a: UnsafePointer<Float>, lda: Int, k: Int, b: UnsafePointer<Float>, ldb: Int,
                                bias: UnsafePointer<Float>, lo: Float, hi: Float,
                                c: UnsafeMutablePointer<Float>, ldc: Int, cols: Int) {
        var c0 = SIMD8<Float>(repeating: 0), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0
        let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda, a4 = a + 4 * lda, a5 = a + 5 * lda
        var wp = b
        for kk in 0..<k {
            let w: SIMD8<Float> = loadVector(wp)
            c0 = c0 + SIMD8(repeating: a0[kk]) * w
            c1 = c1 + SIMD8(repeating: a1[kk]) * w
            c2 = c2 + SIMD8(repeating: a2[kk]) * w
            c3 = c3 + SIMD8(repeating: a3[kk]) * w
            c4 = c4 + SIMD8(repeating: a4[kk]) * w
            c5 = c5 + SIMD8(repeating: a5[kk]) * w
            wp += ldb
        }
        store(c0, bias: bias, lo: lo, hi: hi, to: c, cols: cols)
        store(c1, bias: bias, lo: lo, hi: hi, to: c + ldc, cols: cols)
        store(c2, bias: bias, lo: lo, hi: hi, to: c + 2 * ldc, cols: cols)
        store(c3, bias: bias, lo: lo, hi: hi, to: c + 3 * ldc, cols: cols)
        store(c4, bias: bias, lo: lo, hi: hi, to: c + 4 * ldc, cols: cols)
        store(c5, bias: bias, lo: lo, hi: hi, to: c + 5 * ldc, cols: cols)
    }

    @inline(__always)
    private static func tile1x8(a: UnsafePointer<Float>, k: Int, b: UnsafePointer<Float>, ldb: Int,
                                bias: UnsafePointer<Float>, lo: Float, hi: Float,
                                c: UnsafeMutablePointer<Float>, cols: Int) {
        var acc = SIMD8<Float>(repeating: 0)
        var wp = b
        for kk in 0..<k {
            acc = acc + SIMD8(repeating: a[kk]) * (loadVector(wp) as SIMD8<Float>)
            wp += ldb
        }
        store(acc, bias: bias, lo: lo, hi: hi, to: c, cols: cols)
    }
}
