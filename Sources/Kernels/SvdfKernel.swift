import IR
import Support

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - SVDF

/// SVDF, the rank-factored time filter of streaming keyword models, as TFLM's svdf_common.cc
/// computes it. Inputs: x [batch, input], feature weights [filters, input], time weights
/// [filters, memory], bias [units] (optional), and the variable state [batch, filters·memory]
/// that the op itself updates; units = filters / rank.
///
/// Each run shifts the whole state buffer left by one element, writes the feature products of
/// this step into each filter's last memory slot, takes every filter's dot product with its time
/// weights, sums groups of `rank` filters into units on top of the bias, then applies the
/// activation (float) or requantizes to int8. The int8 variant keeps its state and time weights
/// in int8 or int16; the two rescalings use in·feature/state and state·time/out, each product
/// formed in float as TFLM's PrepareSvdf does.
package final class SvdfKernel: Kernel {
    private let label: String
    private let input: Slot, featureWeights: Slot, timeWeights: Slot, bias: Slot?, state: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let activation: ActivationFunction
    private let batch: Int, inputSize: Int, filters: Int, units: Int, rank: Int, memory: Int
    private var featureScale = QuantizedMultiplier(multiplier: 0, shift: 0)
    private var outputScale = QuantizedMultiplier(multiplier: 0, shift: 0)
    private var scratch: [Int32] = [], scratchF: [Float] = []
    private var sums: [Int32] = []

    package init(_ c: KernelContext, rank: Int, activation: ActivationFunction) throws {
        label = c.label
        input = try c.input(0)
        featureWeights = try c.input(1)
        timeWeights = try c.input(2)
        bias = c.optionalInput(3)
        state = try c.input(4)
        output = try c.output()
        self.activation = activation
        guard c.graph[c.op.inputs[4]].isVariable else { throw Unsupported("the state (input 4) must be a variable tensor") }
        guard input.rank == 2, featureWeights.rank == 2, timeWeights.rank == 2, state.rank == 2 else {
            throw Unsupported("input, weights and state must be 2-D")
        }
        guard rank > 0 else { throw Unsupported("rank \(rank) must be positive") }
        batch = input.shape[0]; inputSize = input.shape[1]
        filters = featureWeights.shape[0]; memory = timeWeights.shape[1]
        self.rank = rank
        guard filters % rank == 0 else { throw Unsupported("\(filters) filters do not divide by rank \(rank)") }
        units = filters / rank
        // svdf_common.cc PrepareSvdf: the shapes must agree.
        guard featureWeights.shape[1] == inputSize, timeWeights.shape[0] == filters, memory > 0,
              state.shape == [batch, memory * filters] else {
            throw Unsupported("shapes do not agree: input \(input.shape), feature weights \(featureWeights.shape), time weights \(timeWeights.shape), state \(state.shape)")
        }
        if let b = bias, b.count != units { throw Unsupported("bias has \(b.count) elements, expected \(units)") }
        guard featureWeights.isConstant, timeWeights.isConstant, bias?.isConstant ?? true else {
            throw Unsupported("weights and bias must be constant")
        }
        switch (input.dtype, featureWeights.dtype, timeWeights.dtype, state.dtype, output.dtype) {
        case (.float32, .float32, .float32, .float32, .float32):
            if let b = bias, b.dtype != .float32 { throw Unsupported("bias must be FLOAT32") }
            scratchF = Array(repeating: 0, count: batch * filters)
        case (.int8, .int8, .int8, .int8, .int8), (.int8, .int8, .int16, .int16, .int8):
            if let b = bias, b.dtype != .int32 { throw Unsupported("bias must be INT32") }
            guard input.isQuantized, featureWeights.isQuantized, timeWeights.isQuantized, state.isQuantized, output.isQuantized else {
                throw Unsupported("int8 tensors without quantization parameters")
            }
            try requirePositiveScales(input, featureWeights, timeWeights, state, output)
            // The products are float, as in PrepareSvdf, then widened for QuantizeMultiplier.
            featureScale = QuantizedMultiplier(Double(input.scale * featureWeights.scale / state.scale))
            outputScale = QuantizedMultiplier(Double(state.scale * timeWeights.scale / output.scale))
            scratch = Array(repeating: 0, count: batch * filters)
            sums = Array(repeating: 0, count: batch * units)
        default:
            throw Unsupported("types \(input.dtype.name), \(featureWeights.dtype.name), \(timeWeights.dtype.name), state \(state.dtype.name) → \(output.dtype.name); supported: all FLOAT32, or INT8 with INT8 or INT16 time weights and state")
        }
    }

    package func run() throws {
        guard input.shape == [batch, inputSize] else {
            throw InterpreterError.runtime("input shape \(input.shape) differs from the model's [\(batch), \(inputSize)]", at: label)
        }
        try output.resize([batch, units], at: label)
        switch (input.dtype, state.dtype) {
        case (.float32, _): runFloat()
        case (_, .int16): runInteger(state.i16, timeWeights.i16, lo: Int32(Int16.min), hi: Int32(Int16.max))
        default: runInteger(state.i8, timeWeights.i8, lo: Int32(Int8.min), hi: Int32(Int8.max))
        }
    }

    /// Moves the state one element towards its start: the oldest entry of each filter is
    /// dropped, and the last slot is overwritten by this step's feature product.
    private func shiftState<T>(_ s: UnsafeMutablePointer<T>) {
        let n = batch * filters * memory
        if n > 1 { s.update(from: s + 1, count: n - 1) }
    }

    private func runFloat() {
        let s = state.f32, x = input.f32, wf = featureWeights.f32, wt = timeWeights.f32, y = output.f32
        shiftState(s)
        for b in 0..<batch {
            for f in 0..<filters {
                var dot: Float = 0
                for k in 0..<inputSize { dot += wf[f * inputSize + k] * x[b * inputSize + k] }
                s[(b * filters + f) * memory + memory - 1] = dot
            }
        }
        for b in 0..<batch {
            for f in 0..<filters {
                var dot: Float = 0
                let row = s + (b * filters + f) * memory
                for m in 0..<memory { dot += wt[f * memory + m] * row[m] }
                scratchF[b * filters + f] = dot
            }
        }
        for b in 0..<batch {
            for u in 0..<units {
                var v: Float = bias.map { $0.f32[u] } ?? 0
                for r in 0..<rank { v += scratchF[b * filters + u * rank + r] }
                y[b * units + u] = Self.activate(activation, v)
            }
        }
    }

    /// TFLM activation_utils.h ActivationValFloat.
    private static func activate(_ a: ActivationFunction, _ x: Float) -> Float {
        switch a {
        case .none: x
        case .relu: max(0, x)
        case .reluN1To1: max(-1, min(x, 1))
        case .relu6: max(0, min(x, 6))
        case .tanh: tanhf(x)
        case .signBit: x.sign == .minus ? 1 : 0
        }
    }

    private func runInteger<T: FixedWidthInteger>(_ s: UnsafeMutablePointer<T>, _ wt: UnsafeMutablePointer<T>, lo: Int32, hi: Int32) {
        let x = input.i8, wf = featureWeights.i8, y = output.i8
        let inZp = input.zeroPoint, stateZp = state.zeroPoint, outZp = output.zeroPoint
        shiftState(s)
        for b in 0..<batch {
            for f in 0..<filters {
                var dot: Int32 = 0
                for k in 0..<inputSize { dot = dot &+ Int32(wf[f * inputSize + k]) &* (Int32(x[b * inputSize + k]) &- inZp) }
                dot = min(max(FixedPoint.multiply(dot, featureScale), lo), hi)
                // The zero point is added after the clamp and the sum is narrowed as C++'s
                // static_cast does (int16 states have zero point 0).
                s[(b * filters + f) * memory + memory - 1] = T(truncatingIfNeeded: stateZp &+ dot)
            }
        }
        for b in 0..<batch {
            for f in 0..<filters {
                var dot: Int32 = 0
                let row = s + (b * filters + f) * memory
                for m in 0..<memory { dot = dot &+ Int32(wt[f * memory + m]) &* (Int32(row[m]) &- stateZp) }
                scratch[b * filters + f] = dot
            }
        }
        for b in 0..<batch {
            for u in 0..<units {
                var v: Int32 = bias.map { $0.i32[u] } ?? 0
                for r in 0..<rank { v = v &+ scratch[b * filters + u * rank + r] }
                let q = FixedPoint.multiply(v, outputScale) &+ outZp
                y[b * units + u] = Int8(truncatingIfNeeded: min(max(q, -128), 127))
            }
        }
    }
}
