import CFloatKernels
import FlatBuffers
import IR
import Support

/// Which implementation of the hot float kernels runs (FloatGEMM, FloatDepthwise): the
/// portable Swift one, or its AVX twin in C (CFloatKernels) on x86-64 CPUs that have AVX.
/// Both compute every output with the same operations in the same order, so the choice
/// changes the speed, never the bits (tests run both and compare).
package enum FloatKernel: Sendable {
    case portable, avx
    /// The fastest implementation this machine runs.
    package static let best: FloatKernel = tfr_float_avx_available() != 0 ? .avx : .portable
}
