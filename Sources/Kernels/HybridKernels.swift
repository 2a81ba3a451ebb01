import IR
import Support

/// Hybrid ("dynamic-range") kernels: float32 activations, constant int8 weights, float32 output,
/// as LiteRT computes them (TFLM has no hybrid kernels). Each run quantizes the float input of
/// every batch to int8 on the fly (`HybridInputQuantizer`), sums exact int32 products with the
/// weights, and scales the sum back to float with the input's and the weights' scales:
///
/// - FULLY_CONNECTED: LiteRT kernels/fully_connected.cc EvalHybridDense — symmetric input
///   quantization, or asymmetric with `asymmetric_quantize_inputs` (the zero point is taken out
///   through the weights' row sums); per-channel weights when they have more than one scale.
/// - CONV_2D: kernels/conv.cc — weights with differing per-channel scales (or a grouped
///   convolution) take EvalHybridPerChannel (asymmetric input, reference_ops::HybridConvPerChannel);
///   otherwise EvalHybrid (symmetric input, one weight scale).
/// - DEPTHWISE_CONV_2D: kernels/depthwise_conv.cc EvalHybridPerChannel (asymmetric input,
///   per-channel scales, reference_integer_ops::DepthwiseConvHybridPerChannel).
///
/// The integer sums are exact, so the outputs differ from LiteRT's only by float rounding in the
/// last scaling steps, which follow LiteRT's order.

/// One batch's float values quantized to int8 (tensor_utils Symmetric/AsymmetricQuantizeFloats).
package enum HybridInputQuantizer {
    /// PortableSymmetricQuantizeFloats: scale = max|x| / 127, values round(x · 127/max|x|)
    /// clamped to ±127; an all-zero input gives zeros with scale 1. Returns the scale (the
    /// offset is 0).
    @discardableResult
    package static func symmetric(_ values: UnsafePointer<Float>, count: Int, into q: UnsafeMutablePointer<Int8>) -> Float {
        guard count > 0 else { return 1 }
        var lo = values[0], hi = values[0]
        for i in 1..<count {
            // std::minmax_element: the first smallest, the last largest.
            if values[i] < lo { lo = values[i] }
            if !(values[i] < hi) { hi = values[i] }
        }
        let range = max(abs(lo), abs(hi))
        if range == 0 {
            q.update(repeating: 0, count: count)
            return 1
        }
        let inverse = Float(127) / range
        for i in 0..<count {
            let v = int32FromFloat((values[i] * inverse).rounded(.toNearestOrAwayFromZero))
            q[i] = Int8(min(127, max(-127, v)))
        }
        return range / 127
    }

    /// PortableAsymmetricQuantizeFloats: the range [min(0, x), max(0, x)] over int8's 255 steps
    /// in double, the zero point from whichever end has the smaller error, nudged into
    /// [−128, 127]; values round(zp + x / scale) in float, clamped. An input whose range is a
    /// single point gives zeros with scale 1 and offset 0.
    package static func asymmetric(_ values: UnsafePointer<Float>, count: Int, into q: UnsafeMutablePointer<Int8>) -> (scale: Float, offset: Int32) {
        guard count > 0 else { return (1, 0) }
        var lo = values[0], hi = values[0]
        for i in 1..<count {
            if values[i] < lo { lo = values[i] }
            if !(values[i] < hi) { hi = values[i] }
        }
        // std::min(0.0f, lo) and std::max(0.0f, hi) return 0 unless the value is beyond it.
        let rmin = Double(lo < 0 ? lo : 0), rmax = Double(0 < hi ? hi : 0)
        if rmin == rmax {
            q.update(repeating: 0, count: count)
            return (1, 0)
        }
        let qmin = -128.0, qmax = 127.0
        let scale = (rmax - rmin) / (qmax - qmin)
        let fromMin = qmin - rmin / scale, fromMax = qmax - rmax / scale
        let errorFromMin = abs(qmin) + abs(rmin / scale), errorFromMax = abs(qmax) + abs(rmax / scale)
        let zeroPoint = errorFromMin < errorFromMax ? fromMin : fromMax
        let offset: Int32
        if zeroPoint <= qmin { offset = -128 } else if zeroPoint >= qmax { offset = 127 } else {
            offset = Int32(zeroPoint.rounded(.toNearestOrAwayFromZero))
        }
        let scaleF = Float(scale)
        let inverse = Float(1) / scaleF
        let offsetF = Float(offset)
        for i in 0..<count {
            let v = int32FromFloat((offsetF + values[i] * inverse).rounded(.toNearestOrAwayFromZero))
            q[i] = Int8(min(127, max(-128, v)))
        }
        return (scaleF, offset)
    }
}

/// The float clamp of a fused activation for a hybrid kernel (LiteRT's
/// ApplyActivationToVector / ActivationFunctionWithMinMax); TANH and SIGN_BIT are not modelled.
private func hybridActivationRange(_ activation: ActivationFunction) throws -> (Float, Float) {
    switch activation {
    case .none, .relu, .relu6, .reluN1To1: return floatActivationRange(activation)
    case .tanh, .signBit: throw Unsupported("hybrid kernel with fused \(activation)")
    }
}

/// The weights' scales, one per output channel (a single scale repeated), checked positive.
private func hybridWeightScales(_ weights: Slot, channels: Int) throws -> [Float] {
    guard weights.dtype == .int8, weights.isConstant else { throw Unsupported("hybrid weights must be constant INT8") }
    let scales = weights.scales
    guard weights.isQuantized, !scales.isEmpty, scales.allSatisfy({ $0 > 0 && $0.isFinite }) else {
        throw Unsupported("hybrid INT8 weights need positive scales")
    }
    if weights.zeroPoints.contains(where: { $0 != 0 }) { throw Unsupported("hybrid INT8 weights must have zero point 0") }
    if scales.count == 1 { return Array(repeating: scales[0], count: channels) }
    guard scales.count == channels else { throw Unsupported("weights have \(scales.count) scales for \(channels) channels") }
    return scales
}

private func hybridFloatBias(_ bias: Slot?, count: Int) throws -> [Float]? {
    guard let b = bias else { return nil }
    guard b.isConstant, b.dtype == .float32, b.count == count else { throw Unsupported("hybrid bias must be a constant FLOAT32 [\(count)]") }
    return Array(UnsafeBufferPointer(start: b.f32, count: count))
}

// MARK: - FULLY_CONNECTED

/// FULLY_CONNECTED's output shape at run time (LiteRT fully_connected.cc Prepare): rows of
/// `depth` input values; [rows, units], or with keep_num_dims the input's shape with its last
/// dimension (which must be `depth`) replaced by `units`. Returns the number of rows.
package func resizeFullyConnectedOutput(input: Slot, output: Slot, depth: Int, units: Int, keepNumDims: Bool, at label: String) throws -> Int {
    guard depth > 0, input.count % depth == 0 else {
        throw InterpreterError.runtime("input \(input.shape) does not divide into rows of \(depth)", at: label)
    }
    let batches = input.count / depth
    if keepNumDims {
        guard input.shape.last == depth else {
            throw InterpreterError.runtime("keep_num_dims needs the input's last dimension \(input.shape) to be \(depth)", at: label)
        }
        try output.resize(Array(input.shape.dropLast()) + [units], at: label)
    } else {
        try output.resize([batches, units], at: label)
    }
    return batches
}

/// LiteRT fully_connected.cc EvalHybridDense with the portable
/// MatrixBatchVectorMultiplyAccumulate: output = bias, then += (Σ w·q − row_sum·offset) ·
/// (input scale · weight scale), then the activation.
package final class HybridFullyConnectedKernel: Kernel {
    private let label: String
    private let input: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let keepNumDims: Bool, asymmetric: Bool
    private let units: Int, depth: Int
    private let weights: [Int8]          // [unit][depth]
    private let rowSums: [Int32]
    private let weightScales: [Float]
    /// One scale for every unit: LiteRT folds it into the input scale before the products.
    private let perTensorScale: Float?
    private let bias: [Float]?
    private let activation: (Float, Float)
    private var quantized: [Int8] = []

    package init(_ c: KernelContext, _ attrs: FullyConnectedAttributes) throws {
        label = c.label
        input = try c.input(0)
        let w = try c.constantInput(1, "weights")
        output = try c.output()
        guard attrs.weightsFormat == 0 else { throw Unsupported("shuffled weights format") }
        guard input.dtype == .float32, output.dtype == .float32 else {
            throw Unsupported("hybrid FULLY_CONNECTED needs FLOAT32 input and output, got \(input.dtype.name) → \(output.dtype.name)")
        }
        guard w.rank == 2 else { throw Unsupported("weights must be 2-D [out, in], got \(w.shape)") }
        units = w.shape[0]; depth = w.shape[1]
        keepNumDims = attrs.keepNumDims
        asymmetric = attrs.asymmetricQuantizeInputs
        weightScales = try hybridWeightScales(w, channels: units)
        perTensorScale = w.scales.count == 1 ? w.scales[0] : nil
        bias = try hybridFloatBias(c.optionalInput(2), count: units)
        activation = try hybridActivationRange(attrs.activation)
        let values = Array(UnsafeBufferPointer(start: w.i8, count: w.count))
        weights = values
        // PortableReductionSumVector: int32 sum of each weight row.
        let (n, k) = (units, depth)
        rowSums = (0..<n).map { u in values[(u * k)..<((u + 1) * k)].reduce(Int32(0)) { $0 &+ Int32($1) } }
    }

    package func run() throws {
        let batches = try resizeFullyConnectedOutput(input: input, output: output, depth: depth, units: units, keepNumDims: keepNumDims, at: label)
        if quantized.count < depth { quantized = Array(repeating: 0, count: depth) }
        let inp = input.f32, out = output.f32
        let (lo, hi) = activation
        weights.withUnsafeBufferPointer { wbuf in
            quantized.withUnsafeMutableBufferPointer { qbuf in
                let w = wbuf.baseAddress!, q = qbuf.baseAddress!
                for b in 0..<batches {
                    var scale: Float, offset: Int32 = 0
                    if asymmetric {
                        (scale, offset) = HybridInputQuantizer.asymmetric(inp + b * depth, count: depth, into: q)
                    } else {
                        scale = HybridInputQuantizer.symmetric(inp + b * depth, count: depth, into: q)
                    }
                    if let s = perTensorScale { scale *= s }
                    for u in 0..<units {
                        let row = w + u * depth
                        var dot: Int32 = 0
                        for k in 0..<depth { dot = dot &+ Int32(row[k]) &* Int32(q[k]) }
                        dot = dot &- rowSums[u] &* offset
                        let unitScale = perTensorScale == nil ? scale * weightScales[u] : scale
                        let value = (bias?[u] ?? 0) + Float(dot) * unitScale
                        out[b * units + u] = min(max(value, lo), hi)
                    }
                }
            }
        }
    }
}

// MARK: - CONV_2D and DEPTHWISE_CONV_2D

/// Hybrid CONV_2D (grouped too) and DEPTHWISE_CONV_2D: each batch image quantized as a whole,
/// then per output value the exact sum of w·(q − offset) over the taps inside the image
/// (padding adds nothing), scaled to float, plus the bias, clamped.
package final class HybridConvolutionKernel: Kernel {
    private enum Form {
        /// conv.cc EvalHybrid: symmetric input, one weight scale folded into the input scale.
        case convolutionPerTensor
        /// conv.cc EvalHybridPerChannel: (acc · channel scale) · input scale.
        case convolutionPerChannel
        /// depthwise_conv.cc: acc · (channel scale · input scale).
        case depthwise(multiplier: Int)
    }

    private let label: String
    private let input: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let form: Form
    private let padding: Padding
    private let strideH: Int, strideW: Int, dilationH: Int, dilationW: Int
    private let outC: Int, kH: Int, kW: Int, filterC: Int
    private let filter: [Int8]
    private let channelScales: [Float]
    private let bias: [Float]?
    private let activation: (Float, Float)
    private var quantized: [Int8] = []

    /// `depthMultiplier` nil: CONV_2D; otherwise DEPTHWISE_CONV_2D.
    package init(_ c: KernelContext, padding: Padding, strides: (Int, Int), dilations: (Int, Int),
                 activation: ActivationFunction, depthMultiplier: Int?) throws {
        label = c.label
        input = try c.input(0)
        let f = try c.constantInput(1, "filter")
        output = try c.output()
        guard input.dtype == .float32, output.dtype == .float32 else {
            throw Unsupported("hybrid convolution needs FLOAT32 input and output, got \(input.dtype.name) → \(output.dtype.name)")
        }
        guard f.rank == 4 else { throw Unsupported("filter must be 4-D, got \(f.shape)") }
        guard strides.0 > 0, strides.1 > 0, dilations.0 > 0, dilations.1 > 0 else { throw Unsupported("strides and dilations must be positive") }
        self.padding = padding
        (strideH, strideW) = strides
        (dilationH, dilationW) = dilations
        kH = f.shape[1]; kW = f.shape[2]
        if let m = depthMultiplier {
            guard f.shape[0] == 1 else { throw Unsupported("depthwise filter must be [1,kh,kw,channels], got \(f.shape)") }
            outC = f.shape[3]; filterC = 1
            // depthwise_conv.cc indexes one scale per output channel.
            guard f.scales.count == outC else { throw Unsupported("hybrid DEPTHWISE_CONV_2D needs one weight scale per channel (LiteRT), got \(f.scales.count)") }
            form = .depthwise(multiplier: max(m, 1))
        } else {
            outC = f.shape[0]; filterC = f.shape[3]
            guard filterC > 0 else { throw Unsupported("filter depth must be positive") }
            let scales = f.scales
            let inC = input.rank == 4 ? input.shape[3] : filterC
            if scales.count > 1 && scales.contains(where: { $0 != scales[0] }) || inC != filterC {
                guard scales.count == outC else { throw Unsupported("grouped hybrid CONV_2D needs one weight scale per channel (LiteRT), got \(scales.count)") }
                form = .convolutionPerChannel
            } else {
                form = .convolutionPerTensor
            }
        }
        channelScales = try hybridWeightScales(f, channels: outC)
        bias = try hybridFloatBias(c.optionalInput(2), count: outC)
        self.activation = try hybridActivationRange(activation)
        filter = Array(UnsafeBufferPointer(start: f.i8, count: f.count))
    }

    package func run() throws {
        let geo: WindowGeometry
        do {
            geo = try WindowGeometry(input: input.shape, kH: kH, kW: kW, strideH: strideH, strideW: strideW,
                                     dilH: dilationH, dilW: dilationW, padding: padding)
        } catch { throw InterpreterError.runtime(error.description, at: label) }
        switch form {
        case .depthwise(let m):
            guard geo.inC * m == outC else {
                throw InterpreterError.runtime("input depth \(geo.inC) × depth multiplier \(m) is not the \(outC) output channels", at: label)
            }
        case .convolutionPerTensor:
            guard geo.inC == filterC else { throw InterpreterError.runtime("input depth \(geo.inC) does not match the filter depth \(filterC)", at: label) }
        case .convolutionPerChannel:
            guard geo.inC >= filterC, geo.inC % filterC == 0, outC % (geo.inC / filterC) == 0 else {
                throw InterpreterError.runtime("input depth \(geo.inC) does not match the filter depth \(filterC) (out channels \(outC))", at: label)
            }
        }
        try output.resize([geo.batches, geo.outH, geo.outW, outC], at: label)
        let imageSize = geo.inH * geo.inW * geo.inC
        if quantized.count < imageSize { quantized = Array(repeating: 0, count: imageSize) }
        let inp = input.f32
        for b in 0..<geo.batches {
            var scale: Float, offset: Int32 = 0
            let image = inp + b * imageSize
            switch form {
            case .convolutionPerTensor:
                scale = quantized.withUnsafeMutableBufferPointer { HybridInputQuantizer.symmetric(image, count: imageSize, into: $0.baseAddress!) }
                scale *= channelScales[0]
            case .convolutionPerChannel, .depthwise:
                (scale, offset) = quantized.withUnsafeMutableBufferPointer { HybridInputQuantizer.asymmetric(image, count: imageSize, into: $0.baseAddress!) }
            }
            runBatch(geo, batch: b, inputScale: scale, offset: offset)
        }
    }

    private func runBatch(_ geo: WindowGeometry, batch b: Int, inputScale: Float, offset: Int32) {
        let out = output.f32
        let (lo, hi) = activation
        let groupSize: Int
        switch form {
        case .depthwise: groupSize = 1
        default: groupSize = outC / (geo.inC / filterC)
        }
        quantized.withUnsafeBufferPointer { qbuf in
            filter.withUnsafeBufferPointer { fbuf in
                let q = qbuf.baseAddress!, f = fbuf.baseAddress!
                for oy in 0..<geo.outH {
                    for ox in 0..<geo.outW {
                        let y0 = oy * geo.strideH - geo.padTop, x0 = ox * geo.strideW - geo.padLeft
                        let outBase = ((b * geo.outH + oy) * geo.outW + ox) * outC
                        for oc in 0..<outC {
                            var acc: Int32 = 0
                            for ky in 0..<kH {
                                let y = y0 + ky * geo.dilH
                                if y < 0 || y >= geo.inH { continue }
                                for kx in 0..<kW {
                                    let x = x0 + kx * geo.dilW
                                    if x < 0 || x >= geo.inW { continue }
                                    let pixel = q + (y * geo.inW + x) * geo.inC
                                    switch form {
                                    case .depthwise(let m):
                                        let w = Int32(f[(ky * kW + kx) * outC + oc])
                                        acc = acc &+ w &* (Int32(pixel[oc / m]) &- offset)
                                    default:
                                        let firstChannel = (oc / groupSize) * filterC
                                        let wrow = f + ((oc * kH + ky) * kW + kx) * filterC
                                        for ic in 0..<filterC {
                                            acc = acc &+ Int32(wrow[ic]) &* (Int32(pixel[firstChannel + ic]) &- offset)
                                        }
                                    }
                                }
                            }
                            var value: Float
                            switch form {
                            case .convolutionPerTensor: value = Float(acc) * inputScale
                            case .convolutionPerChannel: value = Float(acc) * channelScales[oc] * inputScale
                            case .depthwise: value = Float(acc) * (channelScales[oc] * inputScale)
                            }
                            if let bias { value += bias[oc] }
                            out[outBase + oc] = min(max(value, lo), hi)
                        }
                    }
                }
            }
        }
    }
}
