import CFloatKernels
import FlatBuffers
import IR
import Support

/// Which implementation of the hot float kernels runs (FloatGEMM, FloatDepthwise): the
/// portable Swift one, or its AVX twin in C (CFloatKernels) on x86-64 CPUs that have AVX.
/// `avx512` is the AVX one with FloatGEMM's tiles 512 bits wide (CPUs with AVX-512F; the
/// depthwise kernel stays AVX). All compute every output with the same operations in the same
/// order, so the choice changes the speed, never the bits (tests run them all and compare).
package enum FloatKernel: Sendable {
    case portable, avx, avx512
    /// The fastest implementation this machine runs.
    package static let best: FloatKernel =
        tfr_float_avx512_available() != 0 ? .avx512 : tfr_float_avx_available() != 0 ? .avx : .portable
    /// Every implementation this machine runs (what the tests compare).
    package static var available: [FloatKernel] {
        [.portable] + (tfr_float_avx_available() != 0 ? [.avx] : []) + (tfr_float_avx512_available() != 0 ? [.avx512] : [])
    }
}
