import Foundation
import IR

/// int16 LOGISTIC, TANH, RELU and RELU6 as TFLM computes them (symmetric int16: zero point 0).
///
/// - LOGISTIC / TANH (logistic_common.cc, tanh.cc Prepare; reference_integer_ops logistic.h /
///   tanh.h): a power-of-two input scale whose left shift 15 − 3 + log2(scale) is 0 (tanh: 0
///   or 1) uses multiplier 0 (3·2^shift inside the kernel); any other scale gets
///   scale·4096·3 doubled until above 32767/2 (at most 31 doublings), truncated, with that
///   many left shifts. The output scale must be 2^−15. The values are the shared table kernel
///   `Int16Nonlinearity` (also the int8 LSTM's gates).
/// - RELU (activations_common.cc CalculateReluOpData<int16_t>): rescale to the output with
///   QuantizeMultiplier(in/out), clamp at quantized 0 and the int16 limits.
/// - RELU6 (Relu6Prepare, FloatToQuantizedType<int16_t>): clamp between the input's quantized 0
///   and 6, no rescaling.
package final class Int16ActivationKernel: Kernel {
    private let label: String
    private let input: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let operation: UnaryOperation
    private var multiplier: Int32 = 0, leftShift: Int32 = 0
    private var rescale = QuantizedMultiplier(multiplier: 0, shift: 0)
    private var low: Int32 = -32768, high: Int32 = 32767

    package init(_ c: KernelContext, _ operation: UnaryOperation) throws {
        label = c.label
        input = try c.input(0)
        output = try c.output()
        self.operation = operation
        guard input.dtype == .int16, output.dtype == .int16 else {
            throw Unsupported("types \(input.dtype.name) → \(output.dtype.name); int16 \(operation.rawValue) needs INT16 in and out")
        }
        guard input.isQuantized, output.isQuantized || operation == .relu6 else { throw Unsupported("int16 tensors without quantization parameters") }
        try requirePositiveScales(input)
        switch operation {
        case .logistic, .tanh:
            guard input.zeroPoint == 0, output.zeroPoint == 0 else { throw Unsupported("int16 \(operation.rawValue) needs zero points 0 (TFLM)") }
            try requirePositiveScales(output)
            guard let outLog2 = Self.checkedLog2(output.scale), outLog2 == -15 else {
                throw Unsupported("int16 \(operation.rawValue) needs output scale 2^-15 (TFLM), got \(output.scale)")
            }
            if let log2 = Self.checkedLog2(input.scale), 15 - 3 + log2 == 0 || (operation == .tanh && 15 - 3 + log2 == 1) {
                multiplier = 0
                leftShift = 15 - 3 + log2
            } else {
                var m = Double(input.scale) * 4096.0 * 3.0
                var shift: Int32 = 0
                while m <= 32767.0 / 2.0 && shift <= 30 {
                    shift += 1
                    m *= 2.0
                }
                guard m < 2147483648.0 else { throw Unsupported("int16 \(operation.rawValue) input scale \(input.scale) is out of range") }
                multiplier = Int32(m)
                leftShift = shift
            }
            // TFLM only DCHECKs this; a larger multiplier would overflow its int32 products.
            guard multiplier <= 32767 else { throw Unsupported("int16 \(operation.rawValue) input scale \(input.scale) is out of range") }
        case .relu:
            guard input.zeroPoint == 0, output.zeroPoint == 0 else { throw Unsupported("int16 RELU needs zero points 0 (TFLM)") }
            try requirePositiveScales(output)
            rescale = QuantizedMultiplier(Double(input.scale) / Double(output.scale))
            // roundf(0 / scale) is 0: the clamp is at the zero point.
            low = max(-32768, output.zeroPoint)
        case .relu6:
            let six = int32FromFloat((6 / input.scale).rounded(.toNearestOrAwayFromZero)) &+ input.zeroPoint
            (low, high) = (input.zeroPoint, min(32767, max(-32768, six)))
        default:
            throw Unsupported("int16 \(operation.rawValue) has no kernel here")
        }
    }

    /// tflite::CheckedLog2: log2 in float, rounded half away from zero; nil unless within 1e-3
    /// of an integer.
    private static func checkedLog2(_ x: Float) -> Int32? {
        let log2 = Foundation.log(x) * (1 / Foundation.log(Float(2)))
        let rounded = log2.rounded(.toNearestOrAwayFromZero)
        return abs(log2 - rounded) < 1e-3 ? Int32(rounded) : nil
    }

    package func run() throws {
        try output.resize(input.shape, at: label)
        let x = input.i16, y = output.i16
        let n = input.count
        switch operation {
        case .logistic:
            for i in 0..<n { y[i] = Int16Nonlinearity.logistic(x[i], multiplier: multiplier, leftShift: leftShift) }
        case .tanh:
            for i in 0..<n { y[i] = Int16Nonlinearity.tanh(x[i], multiplier: multiplier, leftShift: leftShift) }
        case .relu:
            let zpOut = output.zeroPoint, zpIn = input.zeroPoint
            for i in 0..<n {
                let v = zpOut &+ FixedPoint.multiply(Int32(x[i]) &- zpIn, rescale)
                y[i] = Int16(min(high, max(low, v)))
            }
        case .relu6:
            for i in 0..<n {
                let v = Int32(x[i])
                y[i] = Int16(v > high ? high : (v < low ? low : v))
            }
        default:
            break
        }
    }
}
