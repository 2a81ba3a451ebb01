import IR
import Ops
import Rewrite

/// Folds the DEQUANTIZE of a float16 constant into a float32 constant, undoing TF's "float16
/// quantization" (`converter.target_spec.supported_types = [tf.float16]`) for runtimes without
/// float16 kernels: TFLM's DEQUANTIZE takes int8, int16 and uint8 inputs only
/// (tflite-micro kernels/dequantize_common.cc), so such a model does not load.
///
/// Given:
///
///     const %1 "w": f16[2] = (bits of 1.5, -0.25)
///     #0 DEQUANTIZE v3 (%1) -> %2 "w_f32": f32[2]
///     #1 MUL v1 (%0, %2) -> %3 "y": f32[2]
///
/// Result:
///
///     const %2 "w_f32": f32[2] = [1.5, -0.25]
///     #1 MUL v1 (%0, %2) -> %3 "y": f32[2]
///
/// Lossless: every IEEE binary16 value (subnormals, infinities and NaN payloads included) is
/// exactly a binary32 value, which is what LiteRT's DEQUANTIZE computes (kernels/dequantize.cc,
/// `static_cast<float>(Eigen::half)`). The float32 value keeps its name; a graph output is left
/// alone (a constant cannot be one).
public struct FoldFloat16Constants: PatternPass {
    public static let name = "fold-float16-constants"
    public static let summary = "DEQUANTIZE of a float16 constant → float32 constant (lossless; for targets without float16)"

    public init() {}

    public init(options: PassOptions) throws {
        _ = try PassOptionReader(options, pass: Self.name, known: [])
    }

    public var patterns: [Pattern] { [Self.pattern] }

    public static let pattern = Pattern(name: name, rootKinds: [.dequantize]) { r, id in
        guard let x = r[id].input(0), let out = r[id].outputs.first, !out.isAbsent, !r.graph.isGraphOutput(out),
            r[out].dtype == .float32, let half = r.constant(x), half.type.dtype == .float16, !half.type.isQuantized
        else { return false }
        let floats = half.scalars(UInt16.self).map(Float16Bits.float)
        r.setConstant(out, ConstantTensor(floats: floats, shape: half.shape))
        r.erase(id)
        return true
    }
}
