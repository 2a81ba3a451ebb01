import CFloatKernels
import FlatBuffers
import IR
import Support

/// FULLY_CONNECTED, AVERAGE_POOL_2D and MAX_POOL_2D.

// MARK: - FULLY_CONNECTED

/// Float: SIMD over output units with weights laid out [k][unit], keeping the reference
/// summation order (k ascending, then + bias). Int8: SIMD dot products over k (exact), then
/// TFLM's requantization — per-tensor multiplier from the float product in_scale·w_scale
/// (GetQuantizedConvolutionMultipler), per-channel from double products (FullyConnectedPerChannel).
package final class FullyConnectedKernel: Kernel {
    private let label: String
    private let input: Slot, weights: Slot, bias: Slot?, output: Slot
    package var outputs: [Slot] { [output] }
    private let attrs: FullyConnectedAttributes
    private let units: Int, depth: Int
    private let isInt8: Bool
    private var weightsF: [Float] = []   // [depth][unitsPadded]
    private var weightsQ: [Int32] = []   // [unit][depthPadded]
    private var biasF: [Float] = []
    private var biasQ: [Int32] = []
    private let unitsPadded: Int, depthPadded: Int
    private let actF: (Float, Float)
    private var multipliers: [QuantizedMultiplier] = []
    private var actQ: (Int32, Int32) = (-128, 127)
    private var inZp: Int32 = 0, outZp: Int32 = 0
    private var rowQ: [Int32] = []
    private var rowQF: [Float] = []
    private var weightsQF: [Float] = []  // [unit][depthPadded], when the sums are exact in float
    private var preparedWeights = false
    /// The AVX2 kernel (Int8Fast.swift) for constant weights, when this machine and these
    /// parameters allow it.
    private var int8Fast: Int8FullyConnectedFast?
    private let int8Kernel = Int8Kernel.current

    package init(_ c: KernelContext, _ attrs: FullyConnectedAttributes) throws {
        label = c.label
        input = try c.input(0)
        weights = try c.input(1)
        bias = c.optionalInput(2)
        output = try c.output()
        self.attrs = attrs
        guard attrs.weightsFormat == 0 else { throw Unsupported("shuffled weights format") }
        guard weights.rank >= 2 else { throw Unsupported("weights must be at least 2-D, got \(weights.shape)") }
        units = weights.shape[weights.rank - 2]
        depth = weights.shape[weights.rank - 1]
        unitsPadded = (units + 15) / 16 * 16
        depthPadded = (depth + 15) / 16 * 16
        actF = floatActivationRange(attrs.activation)
        if let b = bias, !b.isConstant { throw Unsupported("bias is not constant") }
        switch (input.dtype, weights.dtype, output.dtype) {
        case (.float32, .float32, .float32):
            isInt8 = false
            if let b = bias {
                guard b.dtype == .float32, b.count == units else { throw Unsupported("bias must be FLOAT32 [\(units)]") }
                biasF = Array(UnsafeBufferPointer(start: b.f32, count: units))
            } else {
                biasF = Array(repeating: 0, count: units)
            }
        case (.int8, .int8, .int8):
            isInt8 = true
            guard input.isQuantized, weights.isQuantized, output.isQuantized else {
                throw Unsupported("int8 tensors without quantization parameters")
            }
            try requirePositiveScales(input, weights, output)
            if let b = bias {
                guard b.dtype == .int32, b.count == units else { throw Unsupported("bias must be INT32 [\(units)]") }
                biasQ = Array(UnsafeBufferPointer(start: b.i32, count: units))
            } else {
                biasQ = Array(repeating: 0, count: units)
            }
            let ws = weights.scales
            if ws.count > 1 {
                guard ws.count == units else { throw Unsupported("weights have \(ws.count) scales for \(units) units") }
                multipliers = ws.map { QuantizedMultiplier(Double(input.scale) * Double($0) / Double(output.scale)) }
            } else {
                let m = QuantizedMultiplier(Double(input.scale * ws[0]) / Double(output.scale))
                multipliers = Array(repeating: m, count: units)
            }
            inZp = input.zeroPoint; outZp = output.zeroPoint
            actQ = quantizedActivationRange(attrs.activation, scale: output.scale, zeroPoint: outZp)
            rowQ = Array(repeating: 0, count: depthPadded)
        default:
            throw Unsupported("types \(input.dtype.name)/\(weights.dtype.name) → \(output.dtype.name); supported: FLOAT32 or INT8 throughout (no hybrid)")
        }
        if weights.isConstant { prepareWeights() }
    }

    private func prepareWeights() {
        if isInt8 && weights.isConstant && int8Kernel == .avx2,
           let requant = Int8Requantization(bias: biasQ, multipliers: multipliers, inputZeroPoint: inZp, outputZeroPoint: outZp, activation: actQ) {
            int8Fast = Int8FullyConnectedFast(weights: weights.i8, units: units, depth: depth, requant: requant, inputZeroPoint: inZp)
        } else if isInt8 {
            weightsQ = Array(repeating: 0, count: units * depthPadded)
            let w = weights.i8
            for u in 0..<units { for k in 0..<depth { weightsQ[u * depthPadded + k] = Int32(w[u * depth + k]) } }
            if int8SumsExactInFloat(terms: depth, zeroPoint: inZp) {
                weightsQF = weightsQ.map(Float.init)
                rowQF = Array(repeating: 0, count: depthPadded)
            }
        } else {
            weightsF = Array(repeating: 0, count: depth * unitsPadded)
            let w = weights.f32
            for u in 0..<units { for k in 0..<depth { weightsF[k * unitsPadded + u] = w[u * depth + k] } }
        }
        preparedWeights = true
    }

    package func run() throws {
        if !weights.isConstant || !preparedWeights {
            guard weights.rank >= 2, weights.shape[weights.rank - 2] == units, weights.shape[weights.rank - 1] == depth else {
                throw InterpreterError.runtime("weights changed shape to \(weights.shape)", at: label)
            }
            prepareWeights()
        }
        guard depth > 0, input.count % depth == 0 else {
            throw InterpreterError.runtime("input \(input.shape) does not divide into rows of \(depth)", at: label)
        }
        let batches = input.count / depth
        let outShape: [Int]
        if attrs.keepNumDims {
            guard input.shape.last == depth else {
                throw InterpreterError.runtime("keep_num_dims needs the input's last dimension \(input.shape) to be \(depth)", at: label)
            }
            outShape = Array(input.shape.dropLast()) + [units]
        } else {
            outShape = [batches, units]
        }
        try output.resize(outShape, at: label)
        if isInt8 { runInt8(batches) } else { runFloat(batches) }
    }

    private func runFloat(_ batches: Int) {
        let inp = input.f32, out = output.f32
        let (lo, hi) = actF
        weightsF.withUnsafeBufferPointer { wbuf in
            let w = wbuf.baseAddress!
            for b in 0..<batches {
                let row = inp + b * depth
                var blk = 0
                while blk < units {
                    var acc = SIMD16<Float>(repeating: 0)
                    var wp = w + blk
                    for k in 0..<depth {
                        acc = acc + SIMD16<Float>(repeating: row[k]) * loadVector(wp)
                        wp += unitsPadded
                    }
                    for l in 0..<min(16, units - blk) {
                        out[b * units + blk + l] = min(max(acc[l] + biasF[blk + l], lo), hi)
                    }
                    blk += 16
                }
            }
        }
    }

    private func runInt8(_ batches: Int) {
        if let fast = int8Fast { return fast.run(batches: batches, input: input.i8, output: output.i8) }
        if !weightsQF.isEmpty { return runInt8InFloat(batches) }
        let inp = input.i8, out = output.i8
        let (actMin, actMax) = actQ
        let zp = inZp, ozp = outZp
        weightsQ.withUnsafeBufferPointer { wbuf in
            rowQ.withUnsafeMutableBufferPointer { rbuf in
                let w = wbuf.baseAddress!, row = rbuf.baseAddress!
                for b in 0..<batches {
                    for k in 0..<depth { row[k] = Int32(inp[b * depth + k]) &- zp }
                    for u in 0..<units {
                        let wr = w + u * depthPadded
                        var acc16 = SIMD16<Int32>(repeating: 0)
                        var k = 0
                        while k + 16 <= depth {
                            acc16 &+= (loadVector(row + k) as SIMD16<Int32>) &* loadVector(wr + k)
                            k += 16
                        }
                        var acc = acc16.wrappedSum()
                        while k < depth { acc = acc &+ row[k] &* wr[k]; k += 1 }
                        var v = FixedPoint.multiply(acc &+ biasQ[u], multipliers[u]) &+ ozp
                        v = min(max(v, actMin), actMax)
                        out[b * units + u] = Int8(truncatingIfNeeded: v)
                    }
                }
            }
        }
    }
}

extension FullyConnectedKernel {
    /// int8 dot products in float lanes, exact for depth ≤ int8ExactTerms (see ConvKernels).
    fileprivate func runInt8InFloat(_ batches: Int) {
        let inp = input.i8, out = output.i8
        let (actMin, actMax) = actQ
        let zp = Float(inZp), ozp = outZp
        weightsQF.withUnsafeBufferPointer { wbuf in
            rowQF.withUnsafeMutableBufferPointer { rbuf in
                let w = wbuf.baseAddress!, row = rbuf.baseAddress!
                for b in 0..<batches {
                    for k in 0..<depth { row[k] = Float(inp[b * depth + k]) - zp }
                    for u in 0..<units {
                        let wr = w + u * depthPadded
                        var acc16 = SIMD16<Float>(repeating: 0)
                        var k = 0
                        while k + 16 <= depth {
                            acc16 += (loadVector(row + k) as SIMD16<Float>) * loadVector(wr + k)
                            k += 16
                        }
                        var acc = int32FromFloat(acc16.sum())
                        while k < depth { acc = acc &+ int32FromFloat(row[k] * wr[k]); k += 1 }
                        var v = FixedPoint.multiply(acc &+ biasQ[u], multipliers[u]) &+ ozp
                        v = min(max(v, actMin), actMax)
                        out[b * units + u] = Int8(truncatingIfNeeded: v)
                    }
                }
            }
        }
    }
}

// MARK: - Pooling

/// AVERAGE_POOL_2D / MAX_POOL_2D (reference_ops / reference_integer_ops pooling.h): windows are
/// clipped to the image, so SAME averages count only valid cells; int8 averages round half away
/// from zero.
package final class Pool2DKernel: Kernel {
    private let label: String
    private let input: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let attrs: Pool2DAttributes
    private let isMax: Bool
    private let actF: (Float, Float)
    private var actQ: (Int32, Int32) = (-128, 127)

    package init(_ c: KernelContext, _ attrs: Pool2DAttributes, isMax: Bool) throws {
        label = c.label
        input = try c.input(0)
        output = try c.output()
        self.attrs = attrs
        self.isMax = isMax
        guard attrs.strideW > 0, attrs.strideH > 0, attrs.filterW > 0, attrs.filterH > 0 else {
            throw Unsupported("strides and filter sizes must be positive")
        }
        actF = floatActivationRange(attrs.activation)
        switch (input.dtype, output.dtype) {
        case (.float32, .float32): break
        case (.int8, .int8):
            if attrs.activation != .none { try requirePositiveScales(output) }
            actQ = quantizedActivationRange(attrs.activation, scale: output.scale, zeroPoint: output.zeroPoint)
        case (.int16, .int16):
            // reference_integer_ops/pooling.h: the int8 arithmetic with int16 limits.
            if attrs.activation != .none { try requirePositiveScales(output) }
            actQ = quantizedActivationRange(attrs.activation, scale: output.scale, zeroPoint: output.zeroPoint, qmin: -32768, qmax: 32767)
        default:
            throw Unsupported("types \(input.dtype.name) → \(output.dtype.name); supported: FLOAT32, INT8 or INT16")
        }
    }

    package func run() throws {
        let geo: WindowGeometry
        do {
            geo = try WindowGeometry(input: input.shape, kH: Int(attrs.filterH), kW: Int(attrs.filterW), strideH: Int(attrs.strideH),
                                     strideW: Int(attrs.strideW), dilH: 1, dilW: 1, padding: attrs.padding)
        } catch { throw InterpreterError.runtime(error.description, at: label) }
        try output.resize([geo.batches, geo.outH, geo.outW, geo.inC], at: label)
        let depth = geo.inC
        for b in 0..<geo.batches {
            for oy in 0..<geo.outH {
                let y0 = oy * geo.strideH - geo.padTop
                let fyStart = max(0, -y0), fyEnd = min(geo.kH, geo.inH - y0)
                for ox in 0..<geo.outW {
                    let x0 = ox * geo.strideW - geo.padLeft
                    let fxStart = max(0, -x0), fxEnd = min(geo.kW, geo.inW - x0)
                    let outBase = ((b * geo.outH + oy) * geo.outW + ox) * depth
                    let count = max(0, fyEnd - fyStart) * max(0, fxEnd - fxStart)
                    if !isMax && count == 0 {
                        throw InterpreterError.runtime("an averaging window covers no input cell", at: label)
                    }
                    for c in 0..<depth {
                        if input.dtype == .float32 {
                            let src = input.f32
                            var acc: Float = isMax ? -Float.greatestFiniteMagnitude : 0
                            for fy in fyStart..<max(fyStart, fyEnd) {
                                for fx in fxStart..<max(fxStart, fxEnd) {
                                    let v = src[((b * geo.inH + y0 + fy) * geo.inW + x0 + fx) * depth + c]
                                    acc = isMax ? max(acc, v) : acc + v
                                }
                            }
                            if !isMax { acc = acc / Float(count) }
                            output.f32[outBase + c] = min(max(acc, actF.0), actF.1)
                        } else {
                            let isInt16 = input.dtype == .int16
                            var acc: Int32 = isMax ? (isInt16 ? -32768 : -128) : 0
                            for fy in fyStart..<max(fyStart, fyEnd) {
                                for fx in fxStart..<max(fxStart, fxEnd) {
                                    let i = ((b * geo.inH + y0 + fy) * geo.inW + x0 + fx) * depth + c
                                    let v = isInt16 ? Int32(input.i16[i]) : Int32(input.i8[i])
                                    acc = isMax ? max(acc, v) : acc &+ v
                                }
                            }
                            if !isMax {
                                let n = Int32(count)
                                acc = acc > 0 ? (acc + n / 2) / n : (acc - n / 2) / n
                            }
                            acc = min(max(acc, actQ.0), actQ.1)
                            if isInt16 { output.i16[outBase + c] = Int16(truncatingIfNeeded: acc) } else { output.i8[outBase + c] = Int8(truncatingIfNeeded: acc) }
                        }
                    }
                }
            }
        }
    }
}
