import Foundation
import IR
import Support

/// SOFTMAX with int16 input and output (TFLM softmax_common.cc CalculateSoftmaxParams and
/// InitializeLutForInt16; reference_ops::SoftmaxInt16 in kernels/internal/reference/softmax.h):
/// the row maximum is subtracted, the difference rescaled so that [−65535, 0] covers
/// [−10, 0], exp read from a 513-entry interpolated table, the sum's reciprocal from a second
/// table of 1/(1+x), output in Q0.15 (scale 1/32768, zero point 0).
package final class Int16SoftmaxKernel: Kernel {
    private let label: String
    private let input: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let multiplier: QuantizedMultiplier
    private let expTable: [Int16]
    private let reciprocalTable: [Int16]

    package init(_ c: KernelContext, beta: Float) throws {
        label = c.label
        input = try c.input(0)
        output = try c.output()
        guard input.dtype == .int16, output.dtype == .int16 else { throw Unsupported("types \(input.dtype.name) → \(output.dtype.name); int16 SOFTMAX needs INT16 in and out") }
        guard input.isQuantized, output.isQuantized else { throw Unsupported("int16 tensors without quantization parameters") }
        try requirePositiveScales(input, output)
        // softmax_common.cc: zero points 0, output scale 1/32768 (within 0.1 %).
        guard input.zeroPoint == 0, output.zeroPoint == 0, abs(output.scale - 1.0 / 32768) <= 0.001 / 32768 else {
            throw Unsupported("int16 SOFTMAX needs zero points 0 and output scale 1/32768 (has \(output.scale), \(output.zeroPoint))")
        }
        multiplier = QuantizedMultiplier(Double(input.scale) * Double(beta) / (10.0 / 65535.0))
        let range: Float = 65535
        expTable = Self.table(inputScale: 10 / range, inputZeroPoint: 32767, outputScale: 2 / range) { Foundation.exp($0) }
        reciprocalTable = Self.table(inputScale: 1 / range, inputZeroPoint: -32768, outputScale: 2 / range) { 1 / (1 + $0) }
    }

    /// `LUTPopulateInt16<float>` (kernels/internal/common.h): 512 steps over the input range,
    /// each sample corrected by half the interpolation error at the step's midpoint, plus the end.
    static func table(inputScale: Float, inputZeroPoint: Int32, outputScale: Float, _ f: (Float) -> Float) -> [Int16] {
        let inputMin = inputScale * Float(-32768 - inputZeroPoint)
        let inputMax = inputScale * Float(32767 - inputZeroPoint)
        let outputMin = outputScale * Float(-32768)
        let outputMax = outputScale * Float(32767)
        let steps = 512
        let step = (inputMax - inputMin) / Float(steps)
        let halfStep = step / 2
        let scalingInverse = Float(65536) / (outputMax - outputMin)
        func round(_ x: Float) -> Float { x.rounded(.toNearestOrAwayFromZero) }
        func clamp(_ x: Float) -> Int16 { Int16(min(max(x, -32768), 32767)) }
        var lut = [Int16](repeating: 0, count: steps + 1)
        for i in 0..<steps {
            let x = inputMin + Float(i) * step
            let value = f(x)
            let midpoint = f(x + halfStep)
            let next = f(inputMin + Float(i + 1) * step)
            let sample = round(value * scalingInverse)
            let interpolated = round((next * scalingInverse + round(value * scalingInverse)) / 2)
            let midpointError = interpolated - round(midpoint * scalingInverse)
            let bias = round(midpointError / 2)
            lut[i] = clamp(sample - bias)
        }
        lut[steps] = clamp(round(f(inputMax) * scalingInverse))
        return lut
    }

    /// `LUTLookup(int16_t, const int16_t*)`: 512 base values, linear interpolation on the low 7 bits.
    @inline(__always)
    static func lookup(_ value: Int16, _ lut: [Int16]) -> Int16 {
        let index = Int(256 + (Int32(value) >> 7))
        let offset = Int32(value & 0x7F)
        let base = Int32(lut[index])
        let slope = Int32(lut[index + 1]) - base
        return Int16(truncatingIfNeeded: base + ((slope * offset + 64) >> 7))
    }

    package func run() throws {
        guard input.rank >= 1, let depth = input.shape.last, depth > 0 else {
            throw InterpreterError.runtime("input \(input.shape) has no last axis to normalise", at: label)
        }
        try output.resize(input.shape, at: label)
        let rows = input.count / depth
        let x = input.i16, y = output.i16
        for r in 0..<rows {
            let row = x + r * depth
            var maximum = Int16.min
            for c in 0..<depth { maximum = max(maximum, row[c]) }
            var sum: Int32 = 0  // Q16.15
            for c in 0..<depth {
                let scaled = FixedPoint.multiply(Int32(row[c]) - Int32(maximum), multiplier)
                let centred = Int16(min(max(scaled + 32767, -32768), 32767))
                let e = Self.lookup(centred, expTable)
                y[r * depth + c] = e
                sum &+= Int32(e)
            }
            let headroomPlusOne = UInt32(bitPattern: sum).leadingZeroBitCount
            let shiftedSum = Int32(truncatingIfNeeded: ((Int64(sum) << (headroomPlusOne - 1)) + (1 << 13)) >> 14)
            // 1/(1 + x) with x = sum − 1, recentred from [0, 65535] to [−32768, 32767].
            let symmetric = shiftedSum - ((1 << 15) + (1 << 16))
            let reciprocal = Self.lookup(Int16(min(max(symmetric, -32768), 32767)), reciprocalTable)
            let rightShift = 31 - headroomPlusOne
            let round = Int64(1) << (rightShift - 1)
            for c in 0..<depth {
                let v = Int32(truncatingIfNeeded: (Int64(y[r * depth + c]) * Int64(reciprocal) + round) >> rightShift)
                y[r * depth + c] = Int16(min(max(v, 0), 32767))
            }
        }
    }
}
