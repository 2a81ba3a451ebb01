import CFloatKernels
import FlatBuffers
import IR
import Support
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SOFTMAX, MEAN, QUANTIZE, DEQUANTIZE.

// MARK: - SOFTMAX

/// Float: max-subtracted exp, sum, divide (reference_ops::Softmax). Int8 → int8: TFLM's
/// reference kernel, the gemmlowp fixed-point path (input differences scaled into Q5.26 by
/// PreprocessSoftmaxScaling, exp_on_negative_values, sum in Q12.19, GetReciprocal, output in
/// 1/256 steps offset by −128). TFLM uses no exp lookup table for int8 (only for int16).
package final class SoftmaxKernel: Kernel {
    private let label: String
    private let input: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let beta: Float
    private var inputMultiplier = QuantizedMultiplier(multiplier: 0, shift: 0)
    private var diffMin: Int32 = 0
    private var exps: [Float] = []

    package init(_ c: KernelContext, beta: Float) throws {
        label = c.label
        input = try c.input(0)
        output = try c.output()
        self.beta = beta
        switch (input.dtype, output.dtype) {
        case (.float32, .float32): break
        case (.int8, .int8), (.int8, .int16):
            guard input.isQuantized else { throw Unsupported("int8 input without quantization parameters") }
            try requirePositiveScales(input)
            // PreprocessSoftmaxScaling(beta, input_scale, 5) then CalculateInputRadius(5, shift).
            let real = min(Double(beta) * Double(input.scale) * Double(1 << (31 - 5)), Double((Int64(1) << 31) - 1))
            inputMultiplier = QuantizedMultiplier(real)
            guard inputMultiplier.shift >= 0 else {
                throw Unsupported("beta·input_scale \(Double(beta) * Double(input.scale)) is too small for TFLM's int8 softmax")
            }
            diffMin = 0 &- FixedPoint.inputRadius(integerBits: 5, leftShift: inputMultiplier.shift)
        default:
            throw Unsupported("types \(input.dtype.name) → \(output.dtype.name); supported: FLOAT32 → FLOAT32, INT8 → INT8 or INT16")
        }
    }

    package func run() throws {
        guard input.rank >= 1, let depth = input.shape.last, depth > 0 else {
            throw InterpreterError.runtime("input \(input.shape) has no classes axis", at: label)
        }
        try output.resize(input.shape, at: label)
        let rows = input.count / depth
        switch output.dtype {
        case .float32: runFloat(rows, depth)
        case .int16: try runInt8(rows, depth, into: output.i16)
        default: try runInt8(rows, depth, into: output.i8)
        }
    }

    private func runFloat(_ rows: Int, _ depth: Int) {
        let x = input.f32, y = output.f32
        for r in 0..<rows {
            let row = x + r * depth, out = y + r * depth
            var mx = -Float.greatestFiniteMagnitude
            for c in 0..<depth { mx = max(mx, row[c]) }
            var sum: Float = 0
            for c in 0..<depth {
                let e = expf((row[c] - mx) * beta)
                out[c] = e
                sum += e
            }
            for c in 0..<depth { out[c] = out[c] / sum }
        }
    }

    /// The output type sets the result's resolution (reference softmax.h: 2⁻⁸ or 2⁻¹⁶ steps)
    /// and its offset (the type's minimum).
    private func runInt8<T: FixedWidthInteger & SignedInteger>(_ rows: Int, _ depth: Int, into y: UnsafeMutablePointer<T>) throws {
        let x = input.i8
        let m = inputMultiplier
        let lowest = Int32(T.min), highest = Int32(T.max)
        for r in 0..<rows {
            let row = x + r * depth, out = y + r * depth
            var maxIn: Int32 = -128
            for c in 0..<depth { maxIn = max(maxIn, Int32(row[c])) }
            var sumOfExps: Int32 = 0  // Q12.19
            for c in 0..<depth {
                let diff = Int32(row[c]) &- maxIn
                if diff >= diffMin {
                    let scaled = FixedPoint.multiplyGreaterThanOne(diff, m)  // Q5.26
                    let e = FixedPoint.expOnNegativeValues(scaled, integerBits: 5)
                    sumOfExps = sumOfExps &+ FixedPoint.rescale(e, from: 0, to: 12)
                }
            }
            let (scale, bitsOverUnit) = FixedPoint.reciprocal(sumOfExps, integerDigits: 12)
            let exponent = bitsOverUnit + 31 - T.bitWidth
            // TFLM checks this with TFLITE_CHECK (an abort on the device).
            guard exponent >= 0 && exponent <= 31 else {
                throw InterpreterError.runtime("softmax exponent \(exponent) is outside 0...31", at: label)
            }
            for c in 0..<depth {
                let diff = Int32(row[c]) &- maxIn
                if diff >= diffMin {
                    let scaled = FixedPoint.multiplyGreaterThanOne(diff, m)
                    let e = FixedPoint.expOnNegativeValues(scaled, integerBits: 5)
                    let unsat = FixedPoint.rdbpot(FixedPoint.srdhm(scale, e), exponent)
                    let shifted = unsat &+ lowest
                    out[c] = T(truncatingIfNeeded: max(min(shifted, highest), lowest))
                } else {
                    out[c] = T(truncatingIfNeeded: lowest)
                }
            }
        }
    }
}

// MARK: - MEAN

/// Float: sum in input order, divide by the count (reference_ops::Mean). Int8: TFLM's
/// QuantizedMeanOrSum — int32 sum, the count folded into the in/out multiplier.
package final class MeanKernel: Kernel {
    private let label: String
    private let input: Slot, axes: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let keepDims: Bool
    /// SUM on int8/int16: reduce.h QuantizedMeanOrSum with compute_sum, the same sum and
    /// requantization without 1/count folded into the multiplier.
    private let isSum: Bool
    private var multiplier = QuantizedMultiplier(multiplier: 0, shift: 0)
    private var sumsF: [Float] = []
    private var sumsQ: [Int32] = []

    package init(_ c: KernelContext, keepDims: Bool, sum: Bool = false) throws {
        label = c.label
        isSum = sum
        input = try c.input(0)
        axes = try c.input(1)
        output = try c.output()
        self.keepDims = keepDims
        guard axes.dtype == .int32 || axes.dtype == .int64 else { throw Unsupported("axes must be INT32, got \(axes.dtype.name)") }
        switch (input.dtype, output.dtype) {
        case (.float32, .float32) where !sum: break
        case (.int8, .int8), (.int16, .int16):
            // reduce_common.cc: int16 takes QuantizedMeanOrSum with int16 limits.
            guard input.isQuantized, output.isQuantized else { throw Unsupported("\(input.dtype.name) tensors without quantization parameters") }
            try requirePositiveScales(input, output)
            multiplier = QuantizedMultiplier(Double(input.scale) / Double(output.scale))
        default:
            throw Unsupported("types \(input.dtype.name) → \(output.dtype.name); supported: FLOAT32 → FLOAT32, INT8 → INT8 or INT16")
        }
    }

    package func run() throws {
        let rank = input.rank
        let reduce = try reducedAxes(axes, rank: rank, at: label)
        var outShape: [Int] = []
        for d in 0..<rank {
            if !reduce[d] { outShape.append(input.shape[d]) } else if keepDims { outShape.append(1) }
        }
        try output.resize(outShape, at: label)
        // Output strides per input dimension (0 for reduced dimensions).
        var outStrides = [Int](repeating: 0, count: rank)
        var acc = 1
        for d in stride(from: rank - 1, through: 0, by: -1) where !reduce[d] {
            outStrides[d] = acc
            acc *= input.shape[d]
        }
        let outCount = output.count
        let reducedCount = (0..<rank).filter { reduce[$0] }.reduce(1) { $0 * input.shape[$1] }
        let n = input.count
        var index = [Int](repeating: 0, count: rank)
        // A local copy: reading the class property per element costs an exclusivity check.
        let shape = input.shape
        func forEachInput(_ body: (Int, Int) -> Void) {
            var o = 0
            for i in 0..<n {
                body(i, o)
                var d = rank - 1
                while d >= 0 {
                    index[d] += 1
                    o += outStrides[d]
                    if index[d] < shape[d] { break }
                    o -= outStrides[d] * shape[d]
                    index[d] = 0
                    d -= 1
                }
            }
        }
        if input.dtype == .float32 {
            if sumsF.count < outCount { sumsF = Array(repeating: 0, count: outCount) }
            for i in 0..<outCount { sumsF[i] = 0 }
            let x = input.f32
            sumsF.withUnsafeMutableBufferPointer { s in forEachInput { i, o in s[o] = s[o] + x[i] } }
            let y = output.f32
            for i in 0..<outCount { y[i] = reducedCount > 0 ? sumsF[i] / Float(reducedCount) : 0 }
        } else {
            if sumsQ.count < outCount { sumsQ = Array(repeating: 0, count: outCount) }
            for i in 0..<outCount { sumsQ[i] = 0 }
            let isInt16 = input.dtype == .int16
            if isInt16 {
                let x = input.i16
                sumsQ.withUnsafeMutableBufferPointer { s in forEachInput { i, o in s[o] = s[o] &+ Int32(x[i]) } }
            } else {
                let x = input.i8
                sumsQ.withUnsafeMutableBufferPointer { s in forEachInput { i, o in s[o] = s[o] &+ Int32(x[i]) } }
            }
            let y = output.i8, y16 = output.i16
            guard n > 0, reducedCount > 0 else {
                for i in 0..<outCount { if isInt16 { y16[i] = 0 } else { y[i] = 0 } }
                return
            }
            // Fold 1/count into the multiplier, as reduce.h does (not for SUM).
            var m = multiplier
            let count = Int64(reducedCount)
            if !isSum {
                var shift = 63 - UInt64(count).leadingZeroBitCount
                shift = min(shift, 32)
                shift = min(shift, 31 + m.shift)
                m.multiplier = Int32(truncatingIfNeeded: (Int64(m.multiplier) << Int64(max(shift, 0))) / count)
                m.shift -= shift
            }
            let zp = Int64(input.zeroPoint), ozp = output.zeroPoint
            for i in 0..<outCount {
                let shiftedSum = Int32(truncatingIfNeeded: Int64(sumsQ[i]) - zp * count)
                let v = FixedPoint.multiply(shiftedSum, m) &+ ozp
                if isInt16 { y16[i] = Int16(truncatingIfNeeded: min(max(v, -32768), 32767)); continue }
                y[i] = Int8(truncatingIfNeeded: min(max(v, -128), 127))
            }
        }
    }
}

// MARK: - QUANTIZE / DEQUANTIZE

/// QUANTIZE: float → int8/uint8/int16 as `round_half_away(x / scale) + zero_point` in float
/// (reference_ops::AffineQuantize); integer → integer (int8/uint8/int16/int32) requantization
/// with one multiplier in_scale/out_scale (reference_ops::Requantize).
package final class QuantizeKernel: Kernel {
    private let label: String
    private let input: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private var multiplier = QuantizedMultiplier(multiplier: 0, shift: 0)
    private let range: (Int32, Int32)

    package init(_ c: KernelContext) throws {
        label = c.label
        input = try c.input(0)
        output = try c.output()
        guard output.isQuantized, output.scales.count == 1 else { throw Unsupported("output needs one scale and zero point (per-channel is not supported)") }
        try requirePositiveScales(output)
        switch output.dtype {
        case .int8: range = (-128, 127)
        case .uint8: range = (0, 255)
        case .int16: range = (-32768, 32767)
        // quantize_common.cc: int8 and int16 inputs may requantize to int32.
        case .int32: range = (Int32.min, Int32.max)
        default: throw Unsupported("output type \(output.dtype.name); supported: INT8, UINT8, INT16 or INT32")
        }
        switch input.dtype {
        case .float32:
            guard output.dtype != .int32 else { throw Unsupported("FLOAT32 → INT32 is not a quantization TFLM or LiteRT runs") }
        case .int8, .uint8, .int16, .int32:
            guard input.isQuantized else { throw Unsupported("integer input without quantization parameters") }
            try requirePositiveScales(input)
            multiplier = QuantizedMultiplier(Double(input.scale) / Double(output.scale))
        default: throw Unsupported("input type \(input.dtype.name); supported: FLOAT32, INT8, UINT8, INT16 or INT32")
        }
    }

    package func run() throws {
        try output.resize(input.shape, at: label)
        let n = input.count, zp = output.zeroPoint
        var values = [Int32](repeating: 0, count: n)
        if input.dtype == .float32 {
            let scale = output.scale, x = input.f32
            for i in 0..<n { values[i] = int32FromFloat((x[i] / scale).rounded(.toNearestOrAwayFromZero)) &+ zp }
        } else {
            let izp = input.zeroPoint, m = multiplier
            func read(_ i: Int) -> Int32 {
                switch input.dtype {
                case .int8: Int32(input.i8[i])
                case .uint8: Int32(input.u8[i])
                case .int32: input.i32[i]
                default: Int32(input.i16[i])
                }
            }
            // Requantize's fast path: int8 ↔ uint8 with equal scales and zero points 128 apart
            // flips the top bit, which equals the general formula; no special case needed.
            for i in 0..<n { values[i] = FixedPoint.multiply(read(i) &- izp, m) &+ zp }
        }
        let (lo, hi) = range
        switch output.dtype {
        case .int8: for i in 0..<n { output.i8[i] = Int8(truncatingIfNeeded: min(max(values[i], lo), hi)) }
        case .uint8: for i in 0..<n { output.u8[i] = UInt8(truncatingIfNeeded: min(max(values[i], lo), hi)) }
        case .int32: for i in 0..<n { output.i32[i] = values[i] }
        default: for i in 0..<n { output.i16[i] = Int16(truncatingIfNeeded: min(max(values[i], lo), hi)) }
        }
    }
}

/// DEQUANTIZE: int8/uint8/int16 → float, `scale · (q − zero_point)` (per-tensor, or per-channel
/// along the quantized dimension).
package final class DequantizeKernel: Kernel {
    private let label: String
    private let input: Slot, output: Slot
    package var outputs: [Slot] { [output] }

    package init(_ c: KernelContext) throws {
        label = c.label
        input = try c.input(0)
        output = try c.output()
        guard output.dtype == .float32 else { throw Unsupported("output type \(output.dtype.name); supported: FLOAT32") }
        guard [.int8, .uint8, .int16].contains(input.dtype) else {
            throw Unsupported("input type \(input.dtype.name); supported: INT8, UINT8 or INT16")
        }
        guard input.isQuantized else { throw Unsupported("input without quantization parameters") }
    }

    package func run() throws {
        try output.resize(input.shape, at: label)
        let n = input.count
        let perChannel = input.scales.count > 1
        let axis = input.quantizedAxis
        if perChannel {
            guard axis >= 0, axis < input.rank, input.shape[axis] == input.scales.count,
                  input.zeroPoints.count == input.scales.count else {
                throw InterpreterError.runtime("\(input.scales.count) scales do not match dimension \(axis) of \(input.shape)", at: label)
            }
        }
        let inner = perChannel ? product(input.shape[(axis + 1)...]) : 1
        let channels = perChannel ? input.shape[axis] : 1
        for i in 0..<n {
            let c = perChannel ? (i / inner) % channels : 0
            let scale = Double(input.scales[c]), zp = input.zeroPoints.isEmpty ? 0 : input.zeroPoints[c]
            let q: Int64
            switch input.dtype {
            case .int8: q = Int64(input.i8[i])
            case .uint8: q = Int64(input.u8[i])
            default: q = Int64(input.i16[i])
            }
            output.f32[i] = Float(scale * Double(q &- zp))
        }
    }
}

/// Which dimensions a reduction's axes input names (negative axes count from the end), shared by
/// MEAN and the other reducers (TFLM reduce_common.cc resolves axes the same way).
func reducedAxes(_ axes: Slot, rank: Int, at label: String) throws -> [Bool] {
    var reduced = [Bool](repeating: false, count: rank)
    for a in axes.integerValues() ?? [] {
        let axis = a < 0 ? Int(a) + rank : Int(a)
        guard axis >= 0, axis < rank else { throw InterpreterError.runtime("axis \(a) is out of range for rank \(rank)", at: label) }
        reduced[axis] = true
    }
    return reduced
}
