import FlatBuffers
import IR
import Support

/// CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED with int16 activations and int8 weights
/// (int16x8), as TFLM's reference kernels compute them (reference_integer_ops/conv.h,
/// depthwise_conv.h, fully_connected.h; tflite-micro kernels/conv.cc, depthwise_conv.cc,
/// fully_connected.cc): products summed in an int64 accumulator (zero points are 0, padding taps
/// add nothing), the int64 (or, for CONV_2D and FULLY_CONNECTED, int32) bias added, then
/// `MultiplyByQuantizedMultiplier(int64 …)` and the activation clamp.

/// TFLM's `MultiplyByQuantizedMultiplier(int64_t x, …)` (kernels/internal/common.cc): the Q31
/// multiplier rounded to Q15, one rounding shift. Identical in the single- and double-rounding
/// builds.
@inline(__always)
package func multiplyByQuantizedMultiplier64(_ x: Int64, _ m: QuantizedMultiplier) -> Int32 {
    let reduced: Int64 = m.multiplier < 0x7FFF_0000 ? (Int64(m.multiplier) + (1 << 15)) >> 16 : 0x7FFF
    let totalShift = Int64(15 - m.shift)
    let round: Int64 = totalShift > 0 ? Int64(1) << (totalShift - 1) : 0
    let result = totalShift >= 0 ? (x &* reduced &+ round) >> totalShift : (x &* reduced) << -totalShift
    return Int32(truncatingIfNeeded: result)
}

/// The bias of an int16x8 kernel widened to int64: int64, or int32 where the kernel takes it.
private func int16x8Bias(_ bias: Slot?, count: Int, allowInt32: Bool) throws -> [Int64] {
    guard let b = bias else { return Array(repeating: 0, count: count) }
    guard b.count == count else { throw Unsupported("bias has \(b.count) values for \(count) channels") }
    switch b.dtype {
    case .int64: return (0..<count).map { b.pointer(Int64.self)[$0] }
    case .int32 where allowInt32: return (0..<count).map { Int64(b.i32[$0]) }
    default: throw Unsupported("int16 activations need an INT64\(allowInt32 ? " or INT32" : "") bias, got \(b.dtype.name)")
    }
}

/// Multipliers in_scale · w_scale[c] / out_scale in double, per output channel
/// (PopulateConvolutionQuantizationParams).
private func int16x8Multipliers(input: Slot, weights: Slot, output: Slot, channels: Int) throws -> [QuantizedMultiplier] {
    guard input.isQuantized, weights.isQuantized, output.isQuantized else { throw Unsupported("int16 tensors without quantization parameters") }
    try requirePositiveScales(input, weights, output)
    let scales = weights.scales
    guard scales.count == 1 || scales.count == channels else { throw Unsupported("weights have \(scales.count) scales for \(channels) channels") }
    return (0..<channels).map { c in QuantizedMultiplier(Double(input.scale) * Double(scales.count == 1 ? scales[0] : scales[c]) / Double(output.scale)) }
}

/// CONV_2D and DEPTHWISE_CONV_2D, int16 input and output, int8 filter.
package final class Int16ConvolutionKernel: Kernel {
    private let label: String
    private let input: Slot, filter: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let isDepthwise: Bool
    private let padding: Padding
    private let strides: (h: Int, w: Int), dilations: (h: Int, w: Int)
    private let depthMultiplier: Int
    private let outC: Int, kH: Int, kW: Int, filterC: Int
    private let bias: [Int64]
    private let multipliers: [QuantizedMultiplier]
    private let act: (Int32, Int32)

    package init(_ c: KernelContext, padding: Padding, strides: (h: Int, w: Int), dilations: (h: Int, w: Int), activation: ActivationFunction, depthMultiplier: Int?) throws {
        label = c.label
        input = try c.input(0)
        filter = try c.constantInput(1, "filter")
        output = try c.output()
        isDepthwise = depthMultiplier != nil
        self.depthMultiplier = depthMultiplier ?? 1
        self.padding = padding
        self.strides = strides
        self.dilations = dilations
        guard input.dtype == .int16, filter.dtype == .int8, output.dtype == .int16 else {
            throw Unsupported("types \(input.dtype.name)/\(filter.dtype.name) → \(output.dtype.name); int16 activations need an INT8 filter and an INT16 output")
        }
        guard filter.rank == 4 else { throw Unsupported("filter must be 4-D, got \(filter.shape)") }
        kH = filter.shape[1]; kW = filter.shape[2]
        // OHWI for CONV_2D, 1HWO for DEPTHWISE_CONV_2D.
        outC = isDepthwise ? filter.shape[3] : filter.shape[0]
        filterC = isDepthwise ? 1 : filter.shape[3]
        if let b = c.optionalInput(2), !b.isConstant { throw Unsupported("bias is not constant") }
        bias = try int16x8Bias(c.optionalInput(2), count: outC, allowInt32: !isDepthwise)
        multipliers = try int16x8Multipliers(input: input, weights: filter, output: output, channels: outC)
        act = quantizedActivationRange(activation, scale: output.scale, zeroPoint: 0, qmin: -32768, qmax: 32767)
    }

    package func run() throws {
        let geo: WindowGeometry
        do {
            geo = try WindowGeometry(input: input.shape, kH: kH, kW: kW, strideH: strides.h, strideW: strides.w,
                                     dilH: dilations.h, dilW: dilations.w, padding: padding)
        } catch { throw InterpreterError.runtime(error.description, at: label) }
        if isDepthwise {
            guard geo.inC * depthMultiplier == outC else {
                throw InterpreterError.runtime("input has \(geo.inC) channels, filter \(outC) with depth multiplier \(depthMultiplier)", at: label)
            }
        } else {
            guard filterC > 0, geo.inC % filterC == 0, outC % (geo.inC / filterC) == 0 else {
                throw InterpreterError.runtime("input has \(geo.inC) channels, filter \(filterC)", at: label)
            }
        }
        try output.resize([geo.batches, geo.outH, geo.outW, outC], at: label)
        let x = input.i16, w = filter.i8, y = output.i16
        let groups = isDepthwise ? 1 : geo.inC / filterC
        let perGroup = isDepthwise ? 1 : outC / groups
        for b in 0..<geo.batches {
            for oy in 0..<geo.outH {
                let y0 = oy * geo.strideH - geo.padTop
                for ox in 0..<geo.outW {
                    let x0 = ox * geo.strideW - geo.padLeft
                    let outBase = ((b * geo.outH + oy) * geo.outW + ox) * outC
                    for oc in 0..<outC {
                        var acc: Int64 = 0
                        for fy in 0..<kH {
                            let iy = y0 + geo.dilH * fy
                            guard iy >= 0, iy < geo.inH else { continue }
                            for fx in 0..<kW {
                                let ix = x0 + geo.dilW * fx
                                guard ix >= 0, ix < geo.inW else { continue }
                                let pixel = ((b * geo.inH + iy) * geo.inW + ix) * geo.inC
                                if isDepthwise {
                                    let ic = oc / depthMultiplier
                                    acc += Int64(Int32(w[(fy * kW + fx) * outC + oc]) * Int32(x[pixel + ic]))
                                } else {
                                    let group = oc / perGroup
                                    let wBase = ((oc * kH + fy) * kW + fx) * filterC
                                    let xBase = pixel + group * filterC
                                    for ic in 0..<filterC { acc += Int64(Int32(w[wBase + ic]) * Int32(x[xBase + ic])) }
                                }
                            }
                        }
                        acc += bias[oc]
                        let v = multiplyByQuantizedMultiplier64(acc, multipliers[oc])
                        y[outBase + oc] = Int16(truncatingIfNeeded: min(max(v, act.0), act.1))
                    }
                }
            }
        }
    }
}

/// FULLY_CONNECTED, int16 input and output, int8 weights (per tensor or per channel).
package final class Int16FullyConnectedKernel: Kernel {
    private let label: String
    private let input: Slot, weights: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let keepNumDims: Bool
    private let units: Int, depth: Int
    private let bias: [Int64]
    private let multipliers: [QuantizedMultiplier]
    private let act: (Int32, Int32)

    package init(_ c: KernelContext, _ attrs: FullyConnectedAttributes) throws {
        label = c.label
        input = try c.input(0)
        weights = try c.constantInput(1, "weights")
        output = try c.output()
        keepNumDims = attrs.keepNumDims
        guard attrs.weightsFormat == 0 else { throw Unsupported("shuffled weights format") }
        guard input.dtype == .int16, weights.dtype == .int8, output.dtype == .int16 else {
            throw Unsupported("types \(input.dtype.name)/\(weights.dtype.name) → \(output.dtype.name); int16 activations need INT8 weights and an INT16 output")
        }
        guard weights.rank >= 2 else { throw Unsupported("weights must be at least 2-D, got \(weights.shape)") }
        units = weights.shape[weights.rank - 2]
        depth = weights.shape[weights.rank - 1]
        if let b = c.optionalInput(2), !b.isConstant { throw Unsupported("bias is not constant") }
        bias = try int16x8Bias(c.optionalInput(2), count: units, allowInt32: true)
        // in_scale · w_scale / out_scale in double, per tensor too: TFLM's int16 FULLY_CONNECTED
        // disagrees by one code with the float product (int8's GetQuantizedConvolutionMultipler)
        // on Keras's GRU (Tests/Conformance/test_int16x8.py, keras/gru_digits) and agrees with this.
        multipliers = try int16x8Multipliers(input: input, weights: weights, output: output, channels: units)
        act = quantizedActivationRange(attrs.activation, scale: output.scale, zeroPoint: 0, qmin: -32768, qmax: 32767)
    }

    package func run() throws {
        let batches = try resizeFullyConnectedOutput(input: input, output: output, depth: depth, units: units, keepNumDims: keepNumDims, at: label)
        let x = input.i16, w = weights.i8, y = output.i16
        for b in 0..<batches {
            for u in 0..<units {
                var acc: Int64 = 0
                for k in 0..<depth { acc += Int64(Int32(w[u * depth + k]) * Int32(x[b * depth + k])) }
                acc += bias[u]
                let v = multiplyByQuantizedMultiplier64(acc, multipliers[u])
                y[b * units + u] = Int16(truncatingIfNeeded: min(max(v, act.0), act.1))
            }
        }
    }
}
