import CFloatKernels
import FlatBuffers
import IR
import Support
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM, SQUARED_DIFFERENCE (numpy broadcasting) and the one-input
/// activations.

package enum BinaryOperation: String {
    case add = "ADD", sub = "SUB", mul = "MUL", div = "DIV", maximum = "MAXIMUM", minimum = "MINIMUM"
    case squaredDifference = "SQUARED_DIFFERENCE"
}

/// Binary elementwise ops. int8 ADD/SUB follow TFLM's add_common/sub_common (inputs shifted
/// left 20 bits, each rescaled to twice the larger input scale, then to the output); int8 MUL
/// uses one multiplier in_scale1·in_scale2/out_scale; int8 SQUARED_DIFFERENCE rescales its inputs
/// as ADD does but shifted left 7 bits, squares the difference, then rescales to the output
/// (tflite-micro tensorflow/lite/micro/kernels/squared_difference.cc).
package final class BinaryKernel: Kernel {
    private let label: String
    private let a: Slot, b: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let operation: BinaryOperation
    private let actF: (Float, Float)
    private var actQ: (Int32, Int32) = (-128, 127)
    private var actI32: (Int32, Int32) = (Int32.min, Int32.max)
    // int8 ADD/SUB
    private var offset1: Int32 = 0, offset2: Int32 = 0, outOffset: Int32 = 0
    private var m1 = QuantizedMultiplier(multiplier: 0, shift: 0)
    private var m2 = QuantizedMultiplier(multiplier: 0, shift: 0)
    private var mOut = QuantizedMultiplier(multiplier: 0, shift: 0)
    /// add_common.cc / sub_common.cc: 20 for int8, 15 for int16.
    private var leftShift: Int32 = 20
    /// TFLM squared_difference.cc: 255² · 2^(2·7) still fits in an int32.
    private static let squaredDifferenceLeftShift: Int32 = 7
    /// int8 ADD/SUB of same-shape inputs on AVX2 machines (same bytes as runRescaled).
    private var addFast: Int8AddFast?

    package init(_ c: KernelContext, _ operation: BinaryOperation, activation: ActivationFunction) throws {
        label = c.label
        a = try c.input(0)
        b = try c.input(1)
        output = try c.output()
        self.operation = operation
        actF = floatActivationRange(activation)
        guard a.dtype == b.dtype, a.dtype == output.dtype else {
            throw Unsupported("types \(a.dtype.name), \(b.dtype.name) → \(output.dtype.name) differ")
        }
        // TFLite's DIV takes float32, int32 (a different rounding) and uint8; TFLM float32, int32
        // (reference div.h: C++ `/`, truncating) and int8. We model float32 and int32.
        guard operation != .div || a.dtype == .float32 || a.dtype == .int32 else {
            throw Unsupported("type \(a.dtype.name); supported: FLOAT32 or INT32")
        }
        switch a.dtype {
        case .float32: break
        case .int32:
            switch activation {
            case .none: break
            case .relu: actI32 = (0, Int32.max)
            case .relu6: actI32 = (0, 6)
            case .reluN1To1: actI32 = (-1, 1)
            default: break
            }
        case .int8, .int16:
            let isInt16 = a.dtype == .int16
            // TFLM runs int16 ADD, SUB and MUL (add.cc, sub.cc, mul.cc); MAXIMUM/MINIMUM int16 not modelled.
            guard !isInt16 || [.add, .sub, .mul].contains(operation) else { throw Unsupported("int16 \(operation) is not modelled") }
            if operation == .maximum || operation == .minimum { break }
            guard a.isQuantized, b.isQuantized, output.isQuantized else {
                throw Unsupported("\(a.dtype.name) tensors without quantization parameters")
            }
            try requirePositiveScales(a, b, output)
            if isInt16 { leftShift = 15 }
            actQ = isInt16
                ? quantizedActivationRange(activation, scale: output.scale, zeroPoint: output.zeroPoint, qmin: -32768, qmax: 32767)
                : quantizedActivationRange(activation, scale: output.scale, zeroPoint: output.zeroPoint)
            offset1 = 0 &- a.zeroPoint
            offset2 = 0 &- b.zeroPoint
            outOffset = output.zeroPoint
            switch operation {
            case .add, .sub, .squaredDifference:
                // add_common.cc / sub_common.cc / squared_difference.cc: 2·max(scale) is exact in
                // float and in double.
                let twiceMax = 2 * Double(max(a.scale, b.scale))
                m1 = QuantizedMultiplier(Double(a.scale) / twiceMax)
                m2 = QuantizedMultiplier(Double(b.scale) / twiceMax)
                if operation == .squaredDifference {
                    // TFLM squared_difference.cc PrepareQuantized: (2·max scale)² over
                    // 2^(2·7)·out_scale, a product the C++ code takes in float before widening it.
                    let shiftedOutputScale = Float(1 << (2 * Self.squaredDifferenceLeftShift)) * output.scale
                    mOut = QuantizedMultiplier(twiceMax * twiceMax / Double(shiftedOutputScale))
                } else {
                    mOut = QuantizedMultiplier(twiceMax / (Double(1 << leftShift) * Double(output.scale)))
                }
            case .mul:
                mOut = QuantizedMultiplier(Double(a.scale) * Double(b.scale) / Double(output.scale))
            default: break
            }
            if !isInt16, operation == .add || operation == .sub {
                addFast = Int8AddFast(subtract: operation == .sub, offset1: offset1, offset2: offset2, leftShift: leftShift,
                                      input1: m1, input2: m2, output: mOut, outputZeroPoint: outOffset, activation: actQ)
            }
        default:
            throw Unsupported("type \(a.dtype.name); supported: FLOAT32, INT8, INT16 or INT32")
        }
    }

    package func run() throws {
        guard let bc = Broadcast(a.shape, b.shape) else {
            throw InterpreterError.runtime("shapes \(a.shape) and \(b.shape) do not broadcast", at: label)
        }
        try output.resize(bc.outputShape, at: label)
        switch a.dtype {
        case .float32: runFloat(bc)
        case .int32:
            if operation == .div, (0..<b.count).contains(where: { b.i32[$0] == 0 }) {
                throw InterpreterError.runtime("integer division by zero", at: label)
            }
            runInt32(bc)
        case .int16: runRescaled(bc, a.i16, b.i16, output.i16)
        default: runInt8(bc)
        }
    }

    /// Quantized ADD/SUB/MUL, int8 or int16 (add_common.cc, sub_common.cc, mul.h): int16 is the
    /// int8 arithmetic with a 15-bit left shift and int16 limits.
    private func runRescaled<T: FixedWidthInteger>(_ bc: Broadcast, _ x: UnsafeMutablePointer<T>, _ y: UnsafeMutablePointer<T>, _ out: UnsafeMutablePointer<T>) {
        let (lo, hi) = actQ
        let o1 = offset1, o2 = offset2, oo = outOffset
        let m1 = self.m1, m2 = self.m2, mo = self.mOut
        let shift = leftShift
        switch operation {
        case .add, .sub:
            let isSub = operation == .sub
            bc.forEach { o, i, j in
                let s1 = FixedPoint.multiplySmallerThanOne((o1 &+ Int32(x[i])) &* (1 << shift), m1)
                let s2 = FixedPoint.multiplySmallerThanOne((o2 &+ Int32(y[j])) &* (1 << shift), m2)
                let raw = isSub ? s1 &- s2 : s1 &+ s2
                let v = FixedPoint.multiplySmallerThanOne(raw, mo) &+ oo
                out[o] = T(truncatingIfNeeded: min(hi, max(lo, v)))
            }
        case .mul:
            bc.forEach { o, i, j in
                let v = oo &+ FixedPoint.multiply((o1 &+ Int32(x[i])) &* (o2 &+ Int32(y[j])), mo)
                out[o] = T(truncatingIfNeeded: min(hi, max(lo, v)))
            }
        default: break  // int16 refuses the others at init; int8 runs them in runInt8
        }
    }

    private func runFloat(_ bc: Broadcast) {
        let x = a.f32, y = b.f32, out = output.f32
        let (lo, hi) = actF
        switch operation {
        case .add: bc.forEach { o, i, j in out[o] = min(max(x[i] + y[j], lo), hi) }
        case .sub: bc.forEach { o, i, j in out[o] = min(max(x[i] - y[j], lo), hi) }
        case .mul: bc.forEach { o, i, j in out[o] = min(max(x[i] * y[j], lo), hi) }
        case .div: bc.forEach { o, i, j in out[o] = min(max(x[i] / y[j], lo), hi) }
        case .maximum: bc.forEach { o, i, j in out[o] = x[i] > y[j] ? x[i] : y[j] }
        case .minimum: bc.forEach { o, i, j in out[o] = x[i] < y[j] ? x[i] : y[j] }
        case .squaredDifference: bc.forEach { o, i, j in let d = x[i] - y[j]; out[o] = d * d }
        }
    }

    private func runInt32(_ bc: Broadcast) {
        let x = a.i32, y = b.i32, out = output.i32
        let (lo, hi) = actI32
        switch operation {
        case .add: bc.forEach { o, i, j in out[o] = min(max(x[i] &+ y[j], lo), hi) }
        case .sub: bc.forEach { o, i, j in out[o] = min(max(x[i] &- y[j], lo), hi) }
        case .mul: bc.forEach { o, i, j in out[o] = min(max(x[i] &* y[j], lo), hi) }
        // Zero divisors are refused in run(); INT32_MIN / −1 wraps (x86's idiv would trap).
        case .div: bc.forEach { o, i, j in out[o] = min(max(x[i].dividedReportingOverflow(by: y[j]).partialValue, lo), hi) }
        case .maximum: bc.forEach { o, i, j in out[o] = max(x[i], y[j]) }
        case .minimum: bc.forEach { o, i, j in out[o] = min(x[i], y[j]) }
        case .squaredDifference: bc.forEach { o, i, j in let d = x[i] &- y[j]; out[o] = d &* d }
        }
    }

    private func runInt8(_ bc: Broadcast) {
        let x = a.i8, y = b.i8, out = output.i8
        let (lo, hi) = actQ
        let o1 = offset1, o2 = offset2, oo = outOffset
        let m1 = self.m1, m2 = self.m2, mo = self.mOut
        switch operation {
        case .add, .sub, .mul:
            if bc.isElementwise, let addFast {
                addFast.run(x, y, count: output.count, output: out)
            } else {
                runRescaled(bc, x, y, out)
            }
        case .div: break  // refused at init
        case .maximum: bc.forEach { o, i, j in out[o] = max(x[i], y[j]) }
        case .minimum: bc.forEach { o, i, j in out[o] = min(x[i], y[j]) }
        case .squaredDifference:
            let sqShift = Self.squaredDifferenceLeftShift
            bc.forEach { o, i, j in
                let s1 = FixedPoint.multiplySmallerThanOne((o1 &+ Int32(x[i])) &* (1 << sqShift), m1)
                let s2 = FixedPoint.multiplySmallerThanOne((o2 &+ Int32(y[j])) &* (1 << sqShift), m2)
                let d = s1 &- s2
                let v = FixedPoint.multiply(d &* d, mo) &+ oo
                out[o] = Int8(truncatingIfNeeded: min(hi, max(lo, v)))
            }
        }
    }
}

package enum UnaryOperation: String {
    case relu = "RELU", relu6 = "RELU6", logistic = "LOGISTIC", tanh = "TANH"
    case leakyRelu = "LEAKY_RELU", hardSwish = "HARD_SWISH", rsqrt = "RSQRT", sqrt = "SQRT"
}

/// One-input elementwise ops.
package final class UnaryKernel: Kernel {
    private let label: String
    private let input: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let operation: UnaryOperation
    private let alpha: Float
    // int8 parameters
    private var inZp: Int32 = 0, outZp: Int32 = 0
    private var multiplier = QuantizedMultiplier(multiplier: 0, shift: 0)
    private var alphaMultiplier = QuantizedMultiplier(multiplier: 0, shift: 0)
    private var actQ: (Int32, Int32) = (-128, 127)
    private var radius: Int32 = 0

    package init(_ c: KernelContext, _ operation: UnaryOperation, alpha: Float = 0) throws {
        label = c.label
        input = try c.input(0)
        output = try c.output()
        self.operation = operation
        self.alpha = alpha
        guard input.dtype == output.dtype else {
            throw Unsupported("types \(input.dtype.name) → \(output.dtype.name) differ")
        }
        switch input.dtype {
        case .float32: break
        case .int8:
            guard input.isQuantized, output.isQuantized || operation == .relu6 else {
                throw Unsupported("int8 tensors without quantization parameters")
            }
            inZp = input.zeroPoint
            outZp = output.zeroPoint
            try requirePositiveScales(input)
            if operation == .relu || operation == .leakyRelu { try requirePositiveScales(output) }
            switch operation {
            case .relu:
                // CalculateReluOpData: rescale to the output, clamp at quantized 0.
                multiplier = QuantizedMultiplier(Double(input.scale) / Double(output.scale))
                let zeroQ = outZp &+ int32FromFloat((0 / output.scale).rounded(.toNearestOrAwayFromZero))
                actQ = (max(-128, zeroQ), 127)
            case .relu6:
                // Relu6Prepare: clamp the raw values between the input's quantized 0 and 6.
                let six = int32FromFloat((6 / input.scale).rounded(.toNearestOrAwayFromZero)) &+ inZp
                actQ = (inZp, min(127, max(-128, six)))
            case .logistic, .tanh:
                // logistic_common.cc / tanh.cc: input rescaled to Q4.27 with a frexp multiplier.
                let real = Double(input.scale) * Double(1 << (31 - 4))
                let (q, shift) = frexpParts(real)
                let m = Int64((q * Double(Int64(1) << 31)).rounded(.toNearestOrAwayFromZero))
                multiplier = QuantizedMultiplier(multiplier: Int32(truncatingIfNeeded: m), shift: shift)
                radius = FixedPoint.inputRadius(integerBits: 4, leftShift: shift)
            case .leakyRelu:
                // leaky_relu_common.cc: one multiplier per branch.
                alphaMultiplier = QuantizedMultiplier(Double(input.scale * alpha / output.scale))
                multiplier = QuantizedMultiplier(Double(input.scale / output.scale))
            default:
                throw Unsupported("int8 \(operation.rawValue) has no kernel here")
            }
        default:
            throw Unsupported("type \(input.dtype.name); supported: FLOAT32 or INT8")
        }
    }

    package func run() throws {
        try output.resize(input.shape, at: label)
        let n = input.count
        if input.dtype == .float32 {
            let x = input.f32, y = output.f32
            switch operation {
            case .relu: for i in 0..<n { y[i] = x[i] < 0 ? 0 : x[i] }
            case .relu6: for i in 0..<n { let v = x[i]; y[i] = v > 6 ? 6 : (v < 0 ? 0 : v) }
            case .logistic:
                // reference_ops::Logistic cut-offs.
                for i in 0..<n {
                    let v = x[i]
                    if v > 16.619047164916992188 { y[i] = 1 }
                    else if v < -9 { y[i] = expf(v) }
                    else { y[i] = 1 / (1 + expf(-v)) }
                }
            case .tanh: for i in 0..<n { y[i] = tanhf(x[i]) }
            case .leakyRelu: for i in 0..<n { let v = x[i]; y[i] = v > 0 ? v : v * alpha }
            case .hardSwish: for i in 0..<n { let v = x[i]; y[i] = v * min(6, max(0, v + 3)) / 6 }
            case .rsqrt: for i in 0..<n { y[i] = 1 / sqrtf(x[i]) }
            case .sqrt: for i in 0..<n { y[i] = sqrtf(x[i]) }
            }
            return
        }
        let x = input.i8, y = output.i8
        let zp = inZp, ozp = outZp, m = multiplier
        switch operation {
        case .relu:
            for i in 0..<n {
                let v = ozp &+ FixedPoint.multiply(Int32(x[i]) &- zp, m)
                y[i] = Int8(truncatingIfNeeded: min(actQ.1, max(actQ.0, v)))
            }
        case .relu6:
            let lo = actQ.0, hi = actQ.1
            for i in 0..<n {
                let v = Int32(x[i])
                y[i] = Int8(truncatingIfNeeded: v > hi ? hi : (v < lo ? lo : v))
            }
        case .logistic, .tanh:
            // Q0.31 results: logistic's [0, 1) becomes 1/256 steps from −128, tanh's (−1, 1)
            // 1/128 steps around 0.
            let isTanh = operation == .tanh
            let shift = isTanh ? 31 - 7 : 31 - 8, offset: Int32 = isTanh ? 0 : -128
            for i in 0..<n {
                let v = Int32(x[i]) &- zp
                if v <= -radius { y[i] = -128 }
                else if v >= radius { y[i] = 127 }
                else {
                    let q4 = FixedPoint.multiply(v, m)
                    let q0 = isTanh ? FixedPoint.tanh(q4, integerBits: 4) : FixedPoint.logistic(q4, integerBits: 4)
                    let r = FixedPoint.rdbpot(q0, shift) &+ offset
                    y[i] = Int8(truncatingIfNeeded: min(127, max(-128, r)))
                }
            }
        case .leakyRelu:
            for i in 0..<n {
                let v = Int32(x[i]) &- zp
                let r = ozp &+ FixedPoint.multiply(v, v >= 0 ? m : alphaMultiplier)
                y[i] = Int8(truncatingIfNeeded: min(127, max(-128, r)))
            }
        default:
            break
        }
    }
}
