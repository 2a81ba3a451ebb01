import CFloatKernels
import FlatBuffers
import IR
import Support

/// CONV_2D and DEPTHWISE_CONV_2D, float32 and int8.
///
/// Float results follow the reference kernels' summation order (filter y, filter x, input
/// channel, then + bias), so they match TFLM to the last few ulps; int8 results are exact
/// integer arithmetic followed by TFLM's per-channel requantization (reference_integer_ops
/// ConvPerChannel / DepthwiseConvPerChannel).
///
/// Speed: weights are laid out [k][channel] (padded to 16 lanes) at load time. Float CONV_2D is a
/// register-blocked matrix product (FloatGEMM) over the input in place for 1×1 stride-1 filters,
/// else over im2col blocks of output pixels; float depthwise sums 16 channels in registers.
/// Both keep the reference summation order, so their results are bit-identical to the plain
/// loops. int8: im2col of one output pixel into a column, then SIMD over output channels. The
/// int8 sums are done in float lanes when that is exact — every product (x − zp)·w is an integer below 2^15 in
/// magnitude, so a sum of at most `int8ExactTerms` of them stays below 2^24 and each float
/// addition is exact — because 32-bit integer SIMD multiplies are slow on baseline x86-64
/// (no pmulld before SSE4.1). Longer sums use Int32 lanes.

/// Most int8·int8 products a float accumulator sums exactly: 514 · 255 · 128 < 2^24.
package let int8ExactTerms = 514

/// Whether int8 sums of `terms` products with this input zero point are exact in float lanes
/// (|x − zp| ≤ 255 needs an int8 zero point).
package func int8SumsExactInFloat(terms: Int, zeroPoint: Int32) -> Bool {
    terms <= int8ExactTerms && zeroPoint >= -128 && zeroPoint <= 127
}

/// Spatial geometry of a window over an NHWC input.
package struct WindowGeometry {
    package var batches = 0, inH = 0, inW = 0, inC = 0
    package var outH = 0, outW = 0
    package var padTop = 0, padLeft = 0
    package var strideH = 1, strideW = 1, dilH = 1, dilW = 1
    package var kH = 1, kW = 1

    package init(input: [Int], kH: Int, kW: Int, strideH: Int, strideW: Int, dilH: Int, dilW: Int, padding: Padding) throws(WindowError) {
        guard input.count == 4 else { throw .rank(input.count) }
        batches = input[0]; inH = input[1]; inW = input[2]; inC = input[3]
        self.kH = kH; self.kW = kW
        self.strideH = strideH; self.strideW = strideW; self.dilH = dilH; self.dilW = dilW
        outH = Window.outSize(padding, input: inH, filter: kH, stride: strideH, dilation: dilH)
        outW = Window.outSize(padding, input: inW, filter: kW, stride: strideW, dilation: dilW)
        guard outH >= 0, outW >= 0 else { throw .filterTooLarge(input: [inH, inW], filter: [kH, kW]) }
        padTop = Window.padBefore(stride: strideH, dilation: dilH, input: inH, filter: kH, output: outH)
        padLeft = Window.padBefore(stride: strideW, dilation: dilW, input: inW, filter: kW, output: outW)
    }

    package enum WindowError: Error, CustomStringConvertible {
        case rank(Int)
        case filterTooLarge(input: [Int], filter: [Int])
        package var description: String {
            switch self {
            case .rank(let r): "input must be 4-D NHWC, got rank \(r)"
            case .filterTooLarge(let i, let f): "window \(f) does not fit the \(i) input with VALID padding"
            }
        }
    }
}

@inline(__always)
package func loadVector<V: SIMD>(_ p: UnsafePointer<V.Scalar>) -> V {
    UnsafeRawPointer(p).loadUnaligned(as: V.self)
}

private func roundUp16(_ n: Int) -> Int { (n + 15) / 16 * 16 }

/// Common checks and per-op data of both convolutions.
private struct ConvSetup {
    package let input: Slot, filter: Slot, bias: Slot?, output: Slot
    package let outC: Int, kH: Int, kW: Int, filterC: Int

    package init(_ c: KernelContext) throws {
        input = try c.input(0)
        filter = try c.constantInput(1, "filter")
        bias = c.optionalInput(2)
        output = try c.output()
        guard filter.rank == 4 else { throw Unsupported("filter must be 4-D, got \(filter.shape)") }
        outC = filter.shape[0]; kH = filter.shape[1]; kW = filter.shape[2]; filterC = filter.shape[3]
        if let b = bias, !b.isConstant { throw Unsupported("bias is not constant") }
    }

    /// Per-output-channel multipliers: in_scale · filter_scale[c] / out_scale in double
    /// (PopulateConvolutionQuantizationParams).
    package func perChannelMultipliers(channels: Int) throws -> [QuantizedMultiplier] {
        guard input.isQuantized, output.isQuantized, filter.isQuantized else {
            throw Unsupported("int8 tensors without quantization parameters")
        }
        try requirePositiveScales(input, output, filter)
        let scales = filter.scales
        guard scales.count == 1 || scales.count == channels else {
            throw Unsupported("filter has \(scales.count) scales for \(channels) channels")
        }
        return (0..<channels).map { c in
            let fs = Double(scales.count == 1 ? scales[0] : scales[c])
            return QuantizedMultiplier(Double(input.scale) * fs / Double(output.scale))
        }
    }

    package func int32Bias(count: Int) throws -> [Int32] {
        guard let b = bias else { return Array(repeating: 0, count: count) }
        guard b.dtype == .int32 else { throw Unsupported("int8 convolution needs an INT32 bias, got \(b.dtype.name)") }
        guard b.count == count else { throw Unsupported("bias has \(b.count) values for \(count) channels") }
        return Array(UnsafeBufferPointer(start: b.i32, count: count))
    }

    package func floatBias(count: Int) throws -> [Float] {
        guard let b = bias else { return Array(repeating: 0, count: count) }
        guard b.dtype == .float32 else { throw Unsupported("float convolution needs a FLOAT32 bias, got \(b.dtype.name)") }
        guard b.count == count else { throw Unsupported("bias has \(b.count) values for \(count) channels") }
        return Array(UnsafeBufferPointer(start: b.f32, count: count))
    }
}

// MARK: - CONV_2D

package final class Conv2DKernel: Kernel {
    private let label: String
    private let input: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let attrs: Conv2DAttributes
    private let outC: Int, kH: Int, kW: Int, filterC: Int
    private let isInt8: Bool
    /// Per group: [K][ocPerGroupPadded]; float or int32 (int8 weights widened once).
    private var weightsF: [Float] = []
    private var weightsQ: [Int32] = []
    private var biasF: [Float] = []
    private var biasQ: [Int32] = []
    private let actF: (Float, Float)
    private var multipliers: [QuantizedMultiplier] = []
    private var actQ: (Int32, Int32) = (-128, 127)
    private var inZp: Int32 = 0, outZp: Int32 = 0
    private var colF: [Float] = []
    private var colQ: [Int32] = []
    /// im2col rows of one block of output pixels (float path).
    private var colBlockF: [Float] = []
    /// int8 sums are exact in float lanes (see the file comment).
    private var int8InFloat = false
    /// Set by the first run for a given input depth.
    private var groups = 0, ocPerGroup = 0, ocPadded = 0
    /// The AVX2 int8 kernel (Int8Fast.swift) when this machine and these parameters allow it.
    private var int8Fast: Int8ConvFast?
    private let int8Kernel = Int8Kernel.current

    package init(_ c: KernelContext, _ attrs: Conv2DAttributes) throws {
        label = c.label
        let s = try ConvSetup(c)
        input = s.input; output = s.output
        self.attrs = attrs
        outC = s.outC; kH = s.kH; kW = s.kW; filterC = s.filterC
        guard attrs.strideW > 0, attrs.strideH > 0, attrs.dilationW > 0, attrs.dilationH > 0 else {
            throw Unsupported("strides and dilations must be positive")
        }
        actF = floatActivationRange(attrs.activation)
        switch (input.dtype, s.filter.dtype, output.dtype) {
        case (.float32, .float32, .float32):
            isInt8 = false
            biasF = try s.floatBias(count: outC)
        case (.int8, .int8, .int8):
            isInt8 = true
            biasQ = try s.int32Bias(count: outC)
            multipliers = try s.perChannelMultipliers(channels: outC)
            inZp = input.zeroPoint; outZp = output.zeroPoint
            actQ = quantizedActivationRange(attrs.activation, scale: output.scale, zeroPoint: outZp)
        default:
            throw Unsupported("types \(input.dtype.name)/\(s.filter.dtype.name) → \(output.dtype.name); supported: FLOAT32 or INT8 throughout")
        }
        filterData = s.filter
        // Lay the weights out now for the model's static input depth (a run with another depth
        // re-lays them).
        if input.rank == 4, filterC > 0, input.shape[3] % filterC == 0, outC % max(input.shape[3] / filterC, 1) == 0,
           input.shape[3] >= filterC {
            prepareWeights(groups: input.shape[3] / filterC)
        }
    }
    private let filterData: Slot

    /// Lays the filter out per group as [k][oc] with the oc axis padded to 16 lanes.
    private func prepareWeights(groups: Int) {
        self.groups = groups
        ocPerGroup = outC / groups
        ocPadded = roundUp16(ocPerGroup)
        let k = kH * kW * filterC
        int8Fast = nil
        if isInt8 && int8Kernel == .avx2,
           let requant = Int8Requantization(bias: biasQ, multipliers: multipliers, inputZeroPoint: inZp, outputZeroPoint: outZp, activation: actQ) {
            int8Fast = Int8ConvFast(filter: filterData.i8, outC: outC, kH: kH, kW: kW, filterC: filterC, groups: groups,
                                    requant: requant, inputZeroPoint: inZp)
            int8InFloat = false
            return
        }
        int8InFloat = isInt8 && int8SumsExactInFloat(terms: k, zeroPoint: inZp)
        if int8InFloat {
            weightsF = Array(repeating: 0, count: groups * k * ocPadded)
            let f = filterData.i8
            for g in 0..<groups {
                for j in 0..<ocPerGroup {
                    let oc = g * ocPerGroup + j
                    for kk in 0..<k { weightsF[(g * k + kk) * ocPadded + j] = Float(f[oc * k + kk]) }
                }
            }
            colF = Array(repeating: 0, count: k)
        } else if isInt8 {
            weightsQ = Array(repeating: 0, count: groups * k * ocPadded)
            let f = filterData.i8
            for g in 0..<groups {
                for j in 0..<ocPerGroup {
                    let oc = g * ocPerGroup + j
                    for kk in 0..<k { weightsQ[(g * k + kk) * ocPadded + j] = Int32(f[oc * k + kk]) }
                }
            }
            colQ = Array(repeating: 0, count: k)
        } else {
            weightsF = Array(repeating: 0, count: groups * k * ocPadded)
            let f = filterData.f32
            for g in 0..<groups {
                for j in 0..<ocPerGroup {
                    let oc = g * ocPerGroup + j
                    for kk in 0..<k { weightsF[(g * k + kk) * ocPadded + j] = f[oc * k + kk] }
                }
            }
            colF = Array(repeating: 0, count: k)
        }
    }

    package func run() throws {
        let geo: WindowGeometry
        do {
            geo = try WindowGeometry(input: input.shape, kH: kH, kW: kW, strideH: Int(attrs.strideH), strideW: Int(attrs.strideW),
                                     dilH: Int(attrs.dilationH), dilW: Int(attrs.dilationW), padding: attrs.padding)
        } catch { throw InterpreterError.runtime(error.description, at: label) }
        guard filterC > 0, geo.inC >= filterC, geo.inC % filterC == 0, outC % (geo.inC / filterC) == 0 else {
            throw InterpreterError.runtime("input depth \(geo.inC) does not match the filter depth \(filterC) (out channels \(outC))", at: label)
        }
        let g = geo.inC / filterC
        if g != groups { prepareWeights(groups: g) }
        try output.resize([geo.batches, geo.outH, geo.outW, outC], at: label)
        if let fast = int8Fast {
            fast.run(geo, input: input.i8, output: output.i8)
        } else if int8InFloat { runInt8InFloat(geo) } else if isInt8 { runInt8(geo) } else { runFloat(geo) }
    }

    private func runInt8InFloat(_ geo: WindowGeometry) {
        let k = kH * kW * filterC
        let inp = UnsafePointer(input.i8)
        let out = output.i8
        let (actMin, actMax) = actQ
        let zp = inZp, ozp = outZp
        weightsF.withUnsafeBufferPointer { wbuf in
            colF.withUnsafeMutableBufferPointer { cbuf in
                biasQ.withUnsafeBufferPointer { bbuf in
                    multipliers.withUnsafeBufferPointer { mbuf in
                        let w = wbuf.baseAddress!, col = cbuf.baseAddress!, bias = bbuf.baseAddress!, mult = mbuf.baseAddress!
                        for b in 0..<geo.batches {
                            for oy in 0..<geo.outH {
                                for ox in 0..<geo.outW {
                                    let outBase = ((b * geo.outH + oy) * geo.outW + ox) * outC
                                    for gi in 0..<groups {
                                        fillColumnInt8AsFloat(geo, b: b, oy: oy, ox: ox, group: gi, col: col, zeroPoint: zp, input: inp)
                                        let wg = w + gi * k * ocPadded
                                        var blk = 0
                                        while blk < ocPerGroup {
                                            var acc = SIMD16<Float>(repeating: 0)
                                            var wp = wg + blk
                                            for kk in 0..<k {
                                                acc += SIMD16<Float>(repeating: col[kk]) * loadVector(wp)
                                                wp += ocPadded
                                            }
                                            let lanes = min(16, ocPerGroup - blk)
                                            for l in 0..<lanes {
                                                let oc = gi * ocPerGroup + blk + l
                                                // acc holds exact integers below 2^24.
                                                var v = FixedPoint.multiply(int32FromFloat(acc[l]) &+ bias[oc], mult[oc]) &+ ozp
                                                v = min(max(v, actMin), actMax)
                                                out[outBase + oc] = Int8(truncatingIfNeeded: v)
                                            }
                                            blk += 16
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Float: one matrix product per group (FloatGEMM). A 1×1, stride-1 convolution reads the
    /// input in place as a [pixels, channels] matrix; other shapes gather a block of output
    /// pixels' receptive fields (im2col) first.
    private func runFloat(_ geo: WindowGeometry) {
        let k = kH * kW * filterC
        let pixels = geo.batches * geo.outH * geo.outW
        guard pixels > 0, k > 0 else {
            // Empty output, or no terms: every value is the bias, clamped.
            let out = output.f32
            for p in 0..<pixels { for oc in 0..<outC { out[p * outC + oc] = min(max(0 + biasF[oc], actF.0), actF.1) } }
            return
        }
        let inp = UnsafePointer(input.f32)
        let out = output.f32
        let (lo, hi) = actF
        let inPlace = kH == 1 && kW == 1 && geo.strideH == 1 && geo.strideW == 1 && geo.padTop == 0 && geo.padLeft == 0
            && geo.outH == geo.inH && geo.outW == geo.inW
        let block = FloatGEMM.blockRows(k: k)
        if !inPlace && colBlockF.count < block * k { colBlockF = Array(repeating: 0, count: block * k) }
        weightsF.withUnsafeBufferPointer { wbuf in
            colBlockF.withUnsafeMutableBufferPointer { cbuf in
                biasF.withUnsafeBufferPointer { bbuf in
                    let w = wbuf.baseAddress!, bias = bbuf.baseAddress!
                    for gi in 0..<groups {
                        let wg = w + gi * k * ocPadded
                        let bg = bias + gi * ocPerGroup
                        let cg = out + gi * ocPerGroup
                        if inPlace {
                            FloatGEMM.multiply(a: inp + gi * filterC, lda: geo.inC, m: pixels, k: k, b: wg, ldb: ocPadded, n: ocPerGroup,
                                               bias: bg, lo: lo, hi: hi, c: cg, ldc: outC)
                            continue
                        }
                        let col = cbuf.baseAddress!
                        var p0 = 0
                        while p0 < pixels {
                            let rows = min(block, pixels - p0)
                            for r in 0..<rows {
                                let p = p0 + r
                                let ox = p % geo.outW, oy = (p / geo.outW) % geo.outH, b = p / (geo.outW * geo.outH)
                                fillColumn(geo, b: b, oy: oy, ox: ox, group: gi, col: col + r * k, zero: 0, input: inp)
                            }
                            FloatGEMM.multiply(a: col, lda: k, m: rows, k: k, b: wg, ldb: ocPadded, n: ocPerGroup,
                                               bias: bg, lo: lo, hi: hi, c: cg + p0 * outC, ldc: outC)
                            p0 += rows
                        }
                    }
                }
            }
        }
    }

    private func runInt8(_ geo: WindowGeometry) {
        let k = kH * kW * filterC
        let inp = UnsafePointer(input.i8)
        let out = output.i8
        let (actMin, actMax) = actQ
        let zp = inZp, ozp = outZp
        weightsQ.withUnsafeBufferPointer { wbuf in
            colQ.withUnsafeMutableBufferPointer { cbuf in
                biasQ.withUnsafeBufferPointer { bbuf in
                    multipliers.withUnsafeBufferPointer { mbuf in
                        let w = wbuf.baseAddress!, col = cbuf.baseAddress!, bias = bbuf.baseAddress!, mult = mbuf.baseAddress!
                        for b in 0..<geo.batches {
                            for oy in 0..<geo.outH {
                                for ox in 0..<geo.outW {
                                    let outBase = ((b * geo.outH + oy) * geo.outW + ox) * outC
                                    for gi in 0..<groups {
                                        fillColumnInt8(geo, b: b, oy: oy, ox: ox, group: gi, col: col, zeroPoint: zp, input: inp)
                                        let wg = w + gi * k * ocPadded
                                        var blk = 0
                                        while blk < ocPerGroup {
                                            var acc = SIMD16<Int32>(repeating: 0)
                                            var wp = wg + blk
                                            for kk in 0..<k {
                                                acc &+= SIMD16<Int32>(repeating: col[kk]) &* loadVector(wp)
                                                wp += ocPadded
                                            }
                                            let lanes = min(16, ocPerGroup - blk)
                                            for l in 0..<lanes {
                                                let oc = gi * ocPerGroup + blk + l
                                                var v = FixedPoint.multiply(acc[l] &+ bias[oc], mult[oc]) &+ ozp
                                                v = min(max(v, actMin), actMax)
                                                out[outBase + oc] = Int8(truncatingIfNeeded: v)
                                            }
                                            blk += 16
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// One output pixel's receptive field, [fy][fx][c] like the OHWI filter; zero outside.
    @inline(__always)
    private func fillColumn(_ geo: WindowGeometry, b: Int, oy: Int, ox: Int, group: Int, col: UnsafeMutablePointer<Float>, zero: Float, input: UnsafePointer<Float>) {
        var k = 0
        let y0 = oy * geo.strideH - geo.padTop, x0 = ox * geo.strideW - geo.padLeft
        for fy in 0..<kH {
            let iy = y0 + fy * geo.dilH
            for fx in 0..<kW {
                let ix = x0 + fx * geo.dilW
                if iy >= 0 && iy < geo.inH && ix >= 0 && ix < geo.inW {
                    let src = input + ((b * geo.inH + iy) * geo.inW + ix) * geo.inC + group * filterC
                    (col + k).update(from: src, count: filterC)
                } else {
                    (col + k).update(repeating: zero, count: filterC)
                }
                k += filterC
            }
        }
    }

    /// `fillColumnInt8` with float lanes.
    @inline(__always)
    private func fillColumnInt8AsFloat(_ geo: WindowGeometry, b: Int, oy: Int, ox: Int, group: Int, col: UnsafeMutablePointer<Float>, zeroPoint: Int32, input: UnsafePointer<Int8>) {
        var k = 0
        let y0 = oy * geo.strideH - geo.padTop, x0 = ox * geo.strideW - geo.padLeft
        let zp = Float(zeroPoint)
        for fy in 0..<kH {
            let iy = y0 + fy * geo.dilH
            for fx in 0..<kW {
                let ix = x0 + fx * geo.dilW
                if iy >= 0 && iy < geo.inH && ix >= 0 && ix < geo.inW {
                    let src = input + ((b * geo.inH + iy) * geo.inW + ix) * geo.inC + group * filterC
                    for c in 0..<filterC { col[k + c] = Float(src[c]) - zp }
                } else {
                    (col + k).update(repeating: 0, count: filterC)
                }
                k += filterC
            }
        }
    }

    /// The int8 column holds input − zero_point (0 outside the image, where TFLM adds nothing).
    @inline(__always)
    private func fillColumnInt8(_ geo: WindowGeometry, b: Int, oy: Int, ox: Int, group: Int, col: UnsafeMutablePointer<Int32>, zeroPoint: Int32, input: UnsafePointer<Int8>) {
        var k = 0
        let y0 = oy * geo.strideH - geo.padTop, x0 = ox * geo.strideW - geo.padLeft
        for fy in 0..<kH {
            let iy = y0 + fy * geo.dilH
            for fx in 0..<kW {
                let ix = x0 + fx * geo.dilW
                if iy >= 0 && iy < geo.inH && ix >= 0 && ix < geo.inW {
                    let src = input + ((b * geo.inH + iy) * geo.inW + ix) * geo.inC + group * filterC
                    for c in 0..<filterC { col[k + c] = Int32(src[c]) &- zeroPoint }
                } else {
                    (col + k).update(repeating: 0, count: filterC)
                }
                k += filterC
            }
        }
    }
}

// MARK: - DEPTHWISE_CONV_2D

package final class DepthwiseConv2DKernel: Kernel {
    private let label: String
    private let input: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let attrs: DepthwiseConv2DAttributes
    private let outC: Int, kH: Int, kW: Int
    private let isInt8: Bool
    /// [tap][oc], oc padded to 16 lanes.
    private var weightsF: [Float] = []
    private var weightsQ: [Int32] = []
    private var biasF: [Float] = []
    private var biasQ: [Int32] = []
    private let ocPadded: Int
    private let actF: (Float, Float)
    private var multipliers: [QuantizedMultiplier] = []
    private var actQ: (Int32, Int32) = (-128, 127)
    private var inZp: Int32 = 0, outZp: Int32 = 0
    private var accF: [Float] = []
    private var accQ: [Int32] = []
    private var int8InFloat = false
    /// The AVX2 kernel for one output channel per input channel (Int8Fast.swift), when this
    /// machine and these parameters allow it.
    private var int8Fast: Int8DepthwiseFast?

    package init(_ c: KernelContext, _ attrs: DepthwiseConv2DAttributes) throws {
        label = c.label
        let s = try ConvSetup(c)
        input = s.input; output = s.output
        self.attrs = attrs
        guard s.filter.shape[0] == 1 else { throw Unsupported("depthwise filter must be [1,kh,kw,channels], got \(s.filter.shape)") }
        guard attrs.strideW > 0, attrs.strideH > 0, attrs.dilationW > 0, attrs.dilationH > 0 else {
            throw Unsupported("strides and dilations must be positive")
        }
        outC = s.filterC; kH = s.kH; kW = s.kW
        ocPadded = roundUp16(outC)
        actF = floatActivationRange(attrs.activation)
        let taps = kH * kW
        switch (input.dtype, s.filter.dtype, output.dtype) {
        case (.float32, .float32, .float32):
            isInt8 = false
            biasF = try s.floatBias(count: outC)
            weightsF = Array(repeating: 0, count: taps * ocPadded)
            for t in 0..<taps { for oc in 0..<outC { weightsF[t * ocPadded + oc] = s.filter.f32[t * outC + oc] } }
        case (.int8, .int8, .int8):
            isInt8 = true
            biasQ = try s.int32Bias(count: outC)
            multipliers = try s.perChannelMultipliers(channels: outC)
            inZp = input.zeroPoint; outZp = output.zeroPoint
            actQ = quantizedActivationRange(attrs.activation, scale: output.scale, zeroPoint: outZp)
            weightsQ = Array(repeating: 0, count: taps * ocPadded)
            for t in 0..<taps { for oc in 0..<outC { weightsQ[t * ocPadded + oc] = Int32(s.filter.i8[t * outC + oc]) } }
            if int8SumsExactInFloat(terms: taps, zeroPoint: inZp) {
                int8InFloat = true
                weightsF = weightsQ.map(Float.init)
            }
            if Int8Kernel.current == .avx2,
               let requant = Int8Requantization(bias: biasQ, multipliers: multipliers, inputZeroPoint: inZp, outputZeroPoint: outZp, activation: actQ) {
                int8Fast = Int8DepthwiseFast(filter: s.filter.i8, taps: taps, channels: outC, requant: requant, inputZeroPoint: inZp)
            }
        default:
            throw Unsupported("types \(input.dtype.name)/\(s.filter.dtype.name) → \(output.dtype.name); supported: FLOAT32 or INT8 throughout")
        }
        accF = Array(repeating: 0, count: ocPadded)
        accQ = Array(repeating: 0, count: ocPadded)
    }

    package func run() throws {
        let geo: WindowGeometry
        do {
            geo = try WindowGeometry(input: input.shape, kH: kH, kW: kW, strideH: Int(attrs.strideH), strideW: Int(attrs.strideW),
                                     dilH: Int(attrs.dilationH), dilW: Int(attrs.dilationW), padding: attrs.padding)
        } catch { throw InterpreterError.runtime(error.description, at: label) }
        guard geo.inC > 0, outC % geo.inC == 0 else {
            throw InterpreterError.runtime("\(outC) output channels are not a multiple of the \(geo.inC) input channels", at: label)
        }
        try output.resize([geo.batches, geo.outH, geo.outW, outC], at: label)
        let multiplier = outC / geo.inC
        if multiplier == 1, let fast = int8Fast {
            fast.run(geo, input: input.i8, output: output.i8)
        } else if int8InFloat && multiplier == 1 { runInt8InFloat(geo) } else if isInt8 { runInt8(geo, multiplier) } else { runFloat(geo, multiplier) }
    }

    /// int8 with one output channel per input channel, summed exactly in float lanes.
    private func runInt8InFloat(_ geo: WindowGeometry) {
        let inp = UnsafePointer(input.i8), out = output.i8
        let (actMin, actMax) = actQ
        let zp = inZp, ozp = outZp
        let zpVec = SIMD16<Float>(repeating: Float(zp))
        weightsF.withUnsafeBufferPointer { wbuf in
            accF.withUnsafeMutableBufferPointer { abuf in
                multipliers.withUnsafeBufferPointer { mbuf in
                    let w = wbuf.baseAddress!, acc = abuf.baseAddress!, mult = mbuf.baseAddress!
                    for b in 0..<geo.batches {
                        for oy in 0..<geo.outH {
                            for ox in 0..<geo.outW {
                                acc.update(repeating: 0, count: ocPadded)
                                let y0 = oy * geo.strideH - geo.padTop, x0 = ox * geo.strideW - geo.padLeft
                                for fy in 0..<kH {
                                    let iy = y0 + fy * geo.dilH
                                    guard iy >= 0 && iy < geo.inH else { continue }
                                    for fx in 0..<kW {
                                        let ix = x0 + fx * geo.dilW
                                        guard ix >= 0 && ix < geo.inW else { continue }
                                        let src = inp + ((b * geo.inH + iy) * geo.inW + ix) * geo.inC
                                        let wt = w + (fy * kW + fx) * ocPadded
                                        var c = 0
                                        while c + 16 <= outC {
                                            let x = SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: loadVector(src + c) as SIMD16<Int8>)) - zpVec
                                            let v: SIMD16<Float> = loadVector(acc + c) + x * loadVector(wt + c)
                                            UnsafeMutableRawPointer(acc + c).storeBytes(of: v, as: SIMD16<Float>.self)
                                            c += 16
                                        }
                                        while c < outC { acc[c] += (Float(src[c]) - Float(zp)) * wt[c]; c += 1 }
                                    }
                                }
                                let outBase = ((b * geo.outH + oy) * geo.outW + ox) * outC
                                for oc in 0..<outC {
                                    var v = FixedPoint.multiply(int32FromFloat(acc[oc]) &+ biasQ[oc], mult[oc]) &+ ozp
                                    v = min(max(v, actMin), actMax)
                                    out[outBase + oc] = Int8(truncatingIfNeeded: v)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    private func runFloat(_ geo: WindowGeometry, _ m: Int) {
        if m == 1 { runFloatOnePerChannel(geo); return }
        let inp = UnsafePointer(input.f32), out = output.f32
        let (lo, hi) = actF
        weightsF.withUnsafeBufferPointer { wbuf in
            accF.withUnsafeMutableBufferPointer { abuf in
                let w = wbuf.baseAddress!, acc = abuf.baseAddress!
                for b in 0..<geo.batches {
                    for oy in 0..<geo.outH {
                        for ox in 0..<geo.outW {
                            acc.update(repeating: 0, count: ocPadded)
                            let y0 = oy * geo.strideH - geo.padTop, x0 = ox * geo.strideW - geo.padLeft
                            for fy in 0..<kH {
                                let iy = y0 + fy * geo.dilH
                                guard iy >= 0 && iy < geo.inH else { continue }
                                for fx in 0..<kW {
                                    let ix = x0 + fx * geo.dilW
                                    guard ix >= 0 && ix < geo.inW else { continue }
                                    let src = inp + ((b * geo.inH + iy) * geo.inW + ix) * geo.inC
                                    let wt = w + (fy * kW + fx) * ocPadded
                                    if m == 1 {
                                        var c = 0
                                        while c + 16 <= outC {
                                            let v: SIMD16<Float> = loadVector(acc + c) + loadVector(src + c) * loadVector(wt + c)
                                            UnsafeMutableRawPointer(acc + c).storeBytes(of: v, as: SIMD16<Float>.self)
                                            c += 16
                                        }
                                        while c < outC { acc[c] = acc[c] + src[c] * wt[c]; c += 1 }
                                    } else {
                                        for oc in 0..<outC { acc[oc] = acc[oc] + src[oc / m] * wt[oc] }
                                    }
                                }
                            }
                            let outBase = ((b * geo.outH + oy) * geo.outW + ox) * outC
                            for oc in 0..<outC { out[outBase + oc] = min(max(acc[oc] + biasF[oc], lo), hi) }
                        }
                    }
                }
            }
        }
    }

    /// Float with one output channel per input channel (FloatDepthwise).
    private func runFloatOnePerChannel(_ geo: WindowGeometry) {
        weightsF.withUnsafeBufferPointer { wbuf in
            biasF.withUnsafeBufferPointer { bbuf in
                FloatDepthwise.multiplierOne(geo, input: UnsafePointer(input.f32), weights: wbuf.baseAddress!, ldw: ocPadded,
                                             bias: bbuf.baseAddress!, lo: actF.0, hi: actF.1, output: output.f32)
            }
        }
    }

    private func runInt8(_ geo: WindowGeometry, _ m: Int) {
        let inp = UnsafePointer(input.i8), out = output.i8
        let (actMin, actMax) = actQ
        let zp = inZp, ozp = outZp
        let zpVec = SIMD16<Int32>(repeating: zp)
        weightsQ.withUnsafeBufferPointer { wbuf in
            accQ.withUnsafeMutableBufferPointer { abuf in
                multipliers.withUnsafeBufferPointer { mbuf in
                    let w = wbuf.baseAddress!, acc = abuf.baseAddress!, mult = mbuf.baseAddress!
                    for b in 0..<geo.batches {
                        for oy in 0..<geo.outH {
                            for ox in 0..<geo.outW {
                                acc.update(repeating: 0, count: ocPadded)
                                let y0 = oy * geo.strideH - geo.padTop, x0 = ox * geo.strideW - geo.padLeft
                                for fy in 0..<kH {
                                    let iy = y0 + fy * geo.dilH
                                    guard iy >= 0 && iy < geo.inH else { continue }
                                    for fx in 0..<kW {
                                        let ix = x0 + fx * geo.dilW
                                        guard ix >= 0 && ix < geo.inW else { continue }
                                        let src = inp + ((b * geo.inH + iy) * geo.inW + ix) * geo.inC
                                        let wt = w + (fy * kW + fx) * ocPadded
                                        if m == 1 {
                                            var c = 0
                                            while c + 16 <= outC {
                                                let x = SIMD16<Int32>(truncatingIfNeeded: loadVector(src + c) as SIMD16<Int8>) &- zpVec
                                                let v: SIMD16<Int32> = loadVector(acc + c) &+ x &* loadVector(wt + c)
                                                UnsafeMutableRawPointer(acc + c).storeBytes(of: v, as: SIMD16<Int32>.self)
                                                c += 16
                                            }
                                            while c < outC { acc[c] = acc[c] &+ (Int32(src[c]) &- zp) &* wt[c]; c += 1 }
                                        } else {
                                            for oc in 0..<outC { acc[oc] = acc[oc] &+ (Int32(src[oc / m]) &- zp) &* wt[oc] }
                                        }
                                    }
                                }
                                let outBase = ((b * geo.outH + oy) * geo.outW + ox) * outC
                                for oc in 0..<outC {
                                    var v = FixedPoint.multiply(acc[oc] &+ biasQ[oc], mult[oc]) &+ ozp
                                    v = min(max(v, actMin), actMax)
                                    out[outBase + oc] = Int8(truncatingIfNeeded: v)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
