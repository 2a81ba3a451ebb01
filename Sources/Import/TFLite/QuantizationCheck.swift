import FlatBuffers
import IR
import Ops
import Support
import TFProto

/// What the loader refuses in a tensor's quantization parameters, so the interpreter,
/// quantizer and reports never compute with them: LiteRT's InterpreterBuilder requires as many
/// zero points as scales (ParseQuantization: "Must have same number"); TFLM's kernels assert
/// positive scales (they derive fixed-point multipliers from them); a zero point must be a
/// value of the storage type (real = scale · (q − zero_point), schema.fbs).
extension Quantization {
    /// Why these parameters cannot describe a tensor of `dtype`, nil when they can. Tables
    /// without scales (min/max only, or empty placeholders) quantize nothing and pass.
    package func problem(for dtype: DType) -> String? {
        guard !scales.isEmpty else { return nil }
        guard zeroPoints.count == scales.count else {
            return "\(scales.count) quantization scale(s) but \(zeroPoints.count) zero point(s); they must match"
        }
        if let bad = scales.firstIndex(where: { !($0 > 0 && $0.isFinite) }) {
            return "quantization scale \(scales[bad])\(scales.count > 1 ? " (channel \(bad))" : "") is not positive and finite"
        }
        if let range = Self.zeroPointRange(dtype), let bad = zeroPoints.firstIndex(where: { !range.contains($0) }) {
            return "zero point \(zeroPoints[bad])\(zeroPoints.count > 1 ? " (channel \(bad))" : "") is outside the \(dtype.name) range \(range.lowerBound)...\(range.upperBound)"
        }
        return nil
    }

    /// The values a zero point of a quantized `dtype` can take; nil for types whose tensors
    /// carry scales without being stored as quantized integers (float hybrids keep them opaque).
    package static func zeroPointRange(_ dtype: DType) -> ClosedRange<Int64>? {
        switch dtype {
        case .int4: -8...7
        case .int8: Int64(Int8.min)...Int64(Int8.max)
        case .uint8: 0...Int64(UInt8.max)
        case .int16: Int64(Int16.min)...Int64(Int16.max)
        case .uint16: 0...Int64(UInt16.max)
        case .int32, .int64: Int64(Int32.min)...Int64(Int32.max)
        default: nil
        }
    }
}
