import IR
import Support
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One-input math ops of TFLM's elementwise.cc, neg.cc, exp.cc, floor.cc, ceil.cc, round.cc and
/// elu.cc: float32 for all (the C library function TFLM calls, in float), int8 where TFLM has
/// an int8 kernel (ABS: offset, |x|, rescale; ELU: a 256-entry table built as elu.cc builds it).
package enum MathOperation: String, Sendable {
    case abs = "ABS", neg = "NEG", exp = "EXP", log = "LOG", floor = "FLOOR", ceil = "CEIL", round = "ROUND"
    case sin = "SIN", cos = "COS", square = "SQUARE", elu = "ELU"

    /// The float function, as the reference kernel computes it.
    package var float: (Float) -> Float {
        switch self {
        case .abs: return { Swift.abs($0) }
        case .neg: return { -$0 }
        case .exp: return { expf($0) }
        case .log: return { logf($0) }
        case .floor: return { floorf($0) }
        case .ceil: return { ceilf($0) }
        // reference round.h RoundToNearest: halves go to the even neighbour.
        case .round: return { $0.rounded(.toNearestOrEven) }
        case .sin: return { sinf($0) }
        case .cos: return { cosf($0) }
        case .square: return { $0 * $0 }
        // reference elu.h: TfLiteExpm1 for negative inputs.
        case .elu: return { $0 < 0 ? expm1f($0) : $0 }
        }
    }
}

package final class MathKernel: Kernel {
    private let label: String
    private let input: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let operation: MathOperation
    private var table = [Int8](repeating: 0, count: 256)
    private var multiplier: QuantizedMultiplier?

    package init(_ c: KernelContext, _ operation: MathOperation) throws {
        label = c.label
        input = try c.input(0)
        output = try c.output()
        self.operation = operation
        guard input.dtype == output.dtype else { throw Unsupported("types \(input.dtype.name) → \(output.dtype.name) differ") }
        switch (input.dtype, operation) {
        case (.float32, _): break
        case (.int8, .abs):
            guard input.isQuantized, output.isQuantized else { throw Unsupported("int8 tensors without quantization parameters") }
            try requirePositiveScales(input, output)
            // elementwise.cc SetAbsOutputMultiplier: the scale ratio taken in float.
            if input.scale != output.scale { multiplier = QuantizedMultiplier(Double(input.scale / output.scale)) }
        case (.int8, .elu):
            guard input.isQuantized, output.isQuantized else { throw Unsupported("int8 tensors without quantization parameters") }
            try requirePositiveScales(input, output)
            // elu.cc PopulateLookupTable: dequantize, transform, TfLiteRound(x / out_scale) + zp.
            let inverseScale = 1 / output.scale
            for v in -128...127 {
                let dequantized = input.scale * Float(Int32(v) - input.zeroPoint)
                let transformed = dequantized < 0 ? expf(dequantized) - 1 : dequantized
                let rescaled = (transformed * inverseScale).rounded(.toNearestOrAwayFromZero)
                let q = int32FromFloat(rescaled + Float(output.zeroPoint))
                table[Int(UInt8(bitPattern: Int8(v)))] = Int8(max(-128, min(127, q)))
            }
        default:
            throw Unsupported("type \(input.dtype.name); supported: FLOAT32\([MathOperation.abs, .elu].contains(operation) ? " or INT8" : "")")
        }
    }

    package func run() throws {
        try output.resize(input.shape, at: label)
        let n = input.count
        if input.dtype == .float32 {
            let f = operation.float, x = input.f32, y = output.f32
            for i in 0..<n { y[i] = f(x[i]) }
            return
        }
        let x = input.i8, y = output.i8
        if operation == .elu {
            for i in 0..<n { y[i] = table[Int(UInt8(bitPattern: x[i]))] }
            return
        }
        let inZp = input.zeroPoint, outZp = output.zeroPoint
        for i in 0..<n {
            // elementwise.cc AbsEvalQuantized.
            let v = Swift.abs(Int32(x[i]) - inZp)
            let r = (multiplier.map { FixedPoint.multiply(v, $0) } ?? v) &+ outZp
            y[i] = Int8(max(-128, min(127, r)))
        }
    }
}
