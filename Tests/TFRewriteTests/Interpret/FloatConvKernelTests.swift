import XCTest

@testable import TFRewrite

/// The float CONV_2D (blocked matrix product) and DEPTHWISE_CONV_2D kernels against a plain
/// loop in the reference summation order: the fast kernels only reorganize loops, so every
/// output must have the same bits, not just be close.
final class FloatConvKernelTests: XCTestCase {
    typealias G = InterpreterTestSupport.GraphBuilder

    /// Deterministic values in [-2, 2) with some exact zeros and negative zeros mixed in.
    private struct Values {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let r = Float(state >> 40) / Float(1 << 24) * 4 - 2
            switch state >> 60 { case 0: return 0; case 1: return -0.0; default: return r }
        }
        mutating func array(_ n: Int) -> [Float] { (0..<n).map { _ in next() } }
    }

    private struct ConvCase {
        var n = 1, h: Int, w: Int, inC: Int, outC: Int, kH: Int, kW: Int
        var stride = (1, 1), dilation = (1, 1)
        var padding: Padding = .same
        var activation: ActivationFunction = .none
        var filterC: Int? = nil  // grouped convolution when < inC
    }

    private func outSize(_ p: Padding, _ input: Int, _ k: Int, _ s: Int, _ d: Int) -> Int {
        let ek = (k - 1) * d + 1
        return p == .same ? (input + s - 1) / s : (input - ek + s) / s
    }

    private func padBefore(_ input: Int, _ out: Int, _ k: Int, _ s: Int, _ d: Int) -> Int {
        max(((out - 1) * s + (k - 1) * d + 1 - input) / 2, 0)
    }

    /// CONV_2D in the reference order: filter y, filter x, input channel (a zero for taps outside
    /// the image, as an im2col column holds), then + bias, then the clamp.
    private func referenceConv(_ c: ConvCase, x: [Float], f: [Float], bias: [Float]) -> [Float] {
        let fc = c.filterC ?? c.inC
        let groups = c.inC / fc, ocPerGroup = c.outC / groups
        let oh = outSize(c.padding, c.h, c.kH, c.stride.0, c.dilation.0), ow = outSize(c.padding, c.w, c.kW, c.stride.1, c.dilation.1)
        let pt = c.padding == .same ? padBefore(c.h, oh, c.kH, c.stride.0, c.dilation.0) : 0
        let pl = c.padding == .same ? padBefore(c.w, ow, c.kW, c.stride.1, c.dilation.1) : 0
        let (lo, hi) = floatActivationRange(c.activation)
        var out = [Float](repeating: 0, count: c.n * oh * ow * c.outC)
        for b in 0..<c.n { for oy in 0..<oh { for ox in 0..<ow { for oc in 0..<c.outC {
            let g = oc / ocPerGroup
            var acc: Float = 0
            for fy in 0..<c.kH { for fx in 0..<c.kW { for ic in 0..<fc {
                let iy = oy * c.stride.0 - pt + fy * c.dilation.0, ix = ox * c.stride.1 - pl + fx * c.dilation.1
                let v: Float = (iy >= 0 && iy < c.h && ix >= 0 && ix < c.w) ? x[((b * c.h + iy) * c.w + ix) * c.inC + g * fc + ic] : 0
                acc = acc + v * f[((oc * c.kH + fy) * c.kW + fx) * fc + ic]
            } } }
            out[((b * oh + oy) * ow + ox) * c.outC + oc] = min(max(acc + bias[oc], lo), hi)
        } } } }
        return out
    }

    private func runConv(_ c: ConvCase, seed: UInt64) throws {
        var r = Values(state: seed)
        let fc = c.filterC ?? c.inC
        let x = r.array(c.n * c.h * c.w * c.inC), f = r.array(c.outC * c.kH * c.kW * fc), bias = r.array(c.outC)
        let oh = outSize(c.padding, c.h, c.kH, c.stride.0, c.dilation.0), ow = outSize(c.padding, c.w, c.kW, c.stride.1, c.dilation.1)
        var g = G()
        let xv = g.value("x", .float32, [Int32(c.n), Int32(c.h), Int32(c.w), Int32(c.inC)])
        let fv = g.floats("f", [Int32(c.outC), Int32(c.kH), Int32(c.kW), Int32(fc)], f)
        let bv = g.floats("b", [Int32(c.outC)], bias)
        let yv = g.value("y", .float32, [Int32(c.n), Int32(oh), Int32(ow), Int32(c.outC)])
        g.op(.conv2D(Conv2DAttributes(padding: c.padding, strideW: Int32(c.stride.1), strideH: Int32(c.stride.0), activation: c.activation,
                                      dilationW: Int32(c.dilation.1), dilationH: Int32(c.dilation.0))), [xv, fv, bv], [yv])
        let interp = try Interpreter(model: g.model(inputs: [xv], outputs: [yv]))
        let got = try XCTUnwrap(interp.run([XCTUnwrap(RuntimeTensor(shape: [c.n, c.h, c.w, c.inC], floats: x))])[0].floats)
        let want = referenceConv(c, x: x, f: f, bias: bias)
        XCTAssertEqual(got.count, want.count, "\(c)")
        let differing = zip(got, want).filter { $0.bitPattern != $1.bitPattern }.count
        XCTAssertEqual(differing, 0, "\(differing) of \(want.count) outputs differ in bits for \(c)")
    }

    func testPointwiseReadsTheInputInPlace() throws {
        // 1×1, stride 1: rows not a multiple of the 6-row tile, columns not a multiple of 8.
        try runConv(ConvCase(n: 2, h: 5, w: 7, inC: 13, outC: 21, kH: 1, kW: 1, activation: .relu6), seed: 1)
        try runConv(ConvCase(h: 4, w: 3, inC: 40, outC: 8, kH: 1, kW: 1), seed: 2)
        try runConv(ConvCase(h: 1, w: 1, inC: 3, outC: 1, kH: 1, kW: 1, activation: .relu), seed: 3)
    }

    func testPointwiseLargerThanOneCacheBlock() throws {
        // 64 KiB of A at k = 300 is 54 rows; 11×11 = 121 rows spans three blocks.
        try runConv(ConvCase(h: 11, w: 11, inC: 300, outC: 19, kH: 1, kW: 1), seed: 4)
    }

    func testStridedPaddedAndDilatedConvolutionsUseIm2col() throws {
        try runConv(ConvCase(h: 9, w: 8, inC: 3, outC: 32, kH: 3, kW: 3, stride: (2, 2), activation: .relu6), seed: 5)
        try runConv(ConvCase(h: 7, w: 7, inC: 5, outC: 11, kH: 3, kW: 2, stride: (1, 2), dilation: (2, 1), padding: .valid), seed: 6)
        try runConv(ConvCase(h: 6, w: 5, inC: 4, outC: 9, kH: 1, kW: 1, stride: (2, 2), activation: .reluN1To1), seed: 7)
    }

    func testGroupedConvolution() throws {
        try runConv(ConvCase(h: 5, w: 6, inC: 12, outC: 18, kH: 3, kW: 3, filterC: 4), seed: 8)
        try runConv(ConvCase(h: 4, w: 4, inC: 8, outC: 4, kH: 1, kW: 1, filterC: 4), seed: 9)
    }

    /// DEPTHWISE_CONV_2D in the reference order: taps inside the image only, (fy, fx), then
    /// + bias, then the clamp.
    func testDepthwiseOneOutputPerChannelMatchesReferenceBits() throws {
        for (channels, stride, dil, padding, seed) in [(19, 1, 1, Padding.same, UInt64(10)), (35, 2, 1, .same, 11), (16, 1, 2, .valid, 12), (3, 2, 1, .valid, 13)] {
            var r = Values(state: seed)
            let h = 9, w = 7, kH = 3, kW = 3
            let x = r.array(h * w * channels), f = r.array(kH * kW * channels), bias = r.array(channels)
            let oh = outSize(padding, h, kH, stride, dil), ow = outSize(padding, w, kW, stride, dil)
            let pt = padding == .same ? padBefore(h, oh, kH, stride, dil) : 0, pl = padding == .same ? padBefore(w, ow, kW, stride, dil) : 0
            var want = [Float](repeating: 0, count: oh * ow * channels)
            for oy in 0..<oh { for ox in 0..<ow { for c in 0..<channels {
                var acc: Float = 0
                for fy in 0..<kH { for fx in 0..<kW {
                    let iy = oy * stride - pt + fy * dil, ix = ox * stride - pl + fx * dil
                    guard iy >= 0 && iy < h && ix >= 0 && ix < w else { continue }
                    acc = acc + x[(iy * w + ix) * channels + c] * f[(fy * kW + fx) * channels + c]
                } }
                want[(oy * ow + ox) * channels + c] = min(max(acc + bias[c], 0), 6)
            } } }
            var g = G()
            let xv = g.value("x", .float32, [1, Int32(h), Int32(w), Int32(channels)])
            let fv = g.floats("f", [1, Int32(kH), Int32(kW), Int32(channels)], f)
            let bv = g.floats("b", [Int32(channels)], bias)
            let yv = g.value("y", .float32, [1, Int32(oh), Int32(ow), Int32(channels)])
            g.op(.depthwiseConv2D(DepthwiseConv2DAttributes(padding: padding, strideW: Int32(stride), strideH: Int32(stride), depthMultiplier: 1,
                                                            activation: .relu6, dilationW: Int32(dil), dilationH: Int32(dil))), [xv, fv, bv], [yv])
            let interp = try Interpreter(model: g.model(inputs: [xv], outputs: [yv]))
            let got = try XCTUnwrap(interp.run([XCTUnwrap(RuntimeTensor(shape: [1, h, w, channels], floats: x))])[0].floats)
            XCTAssertEqual(got.count, want.count)
            let differing = zip(got, want).filter { $0.bitPattern != $1.bitPattern }.count
            XCTAssertEqual(differing, 0, "\(differing) outputs differ in bits (channels \(channels), stride \(stride), dilation \(dil))")
        }
    }

    func testMatrixProductKeepsNaNAndSkipsPaddingColumns() {
        // C = A·B + bias with a NaN in A: the NaN row stays NaN through the clamp; columns past n
        // (B's zero padding) are never written.
        let m = 7, k = 3, n = 5, ldb = 16, ldc = 9
        var a = (0..<(m * k)).map { Float($0 % 5) - 2 }
        a[4 * k + 1] = .nan
        let b = (0..<(k * ldb)).map { Float($0 % ldb < n ? ($0 % 7) - 3 : 0) }
        let bias = [Float](repeating: 0.5, count: ldb)
        var c = [Float](repeating: 99, count: m * ldc)
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in bias.withUnsafeBufferPointer { biasp in c.withUnsafeMutableBufferPointer { cp in
            FloatGEMM.multiply(a: ap.baseAddress!, lda: k, m: m, k: k, b: bp.baseAddress!, ldb: ldb, n: n, bias: biasp.baseAddress!,
                               lo: 0, hi: 6, c: cp.baseAddress!, ldc: ldc)
        } } } }
        for i in 0..<m {
            for j in 0..<ldc {
                if j >= n { XCTAssertEqual(c[i * ldc + j], 99, "row \(i) col \(j) written"); continue }
                var acc: Float = 0
                for kk in 0..<k { acc = acc + a[i * k + kk] * b[kk * ldb + j] }
                let want = min(max(acc + 0.5, 0), 6)
                if i == 4 { XCTAssertTrue(c[i * ldc + j].isNaN, "row 4 col \(j)") } else { XCTAssertEqual(c[i * ldc + j].bitPattern, want.bitPattern, "row \(i) col \(j)") }
            }
        }
    }
    /// The AVX (and AVX-512) kernels against the portable Swift one on shapes around the tile
    /// sizes (rows 1…13, columns 1…130 inside a padded B: 16-column AVX tiles, 16…64-column
    /// AVX-512 tiles), with NaN, ±inf, −0 and values beyond the clamp: every written output has
    /// the same bits, nothing past n is written.
    func testAVXKernelMatchesPortableKernelBitForBit() throws {
        try XCTSkipIf(FloatKernel.available.count < 2, "this CPU has no AVX: only the portable kernel runs here")
        var rng = SplitMix64(seed: 99)
        let specials: [Float] = [.nan, .infinity, -.infinity, -0.0, 0, 7, -7]
        for (m, k, n) in [(1, 1, 1), (6, 3, 16), (7, 5, 17), (13, 9, 40), (12, 64, 33), (25, 147, 8), (7, 20, 64), (13, 30, 130), (6, 11, 97)] {
            let ldb = (n + 15) / 16 * 16, ldc = n + 3
            var a = (0..<(m * k)).map { _ in Float(rng.nextNormal()) * 3 }
            for _ in 0..<3 { a[Int(rng.next() % UInt64(a.count))] = specials[Int(rng.next() % UInt64(specials.count))] }
            let b = (0..<(k * ldb)).map { $0 % ldb < n ? Float(rng.nextNormal()) : 0 }
            let bias = (0..<n).map { _ in Float(rng.nextNormal()) }
            for (lo, hi) in [(-Float.infinity, Float.infinity), (0, 6), (-1, 1)] {
                var results: [[Float]] = []
                for kernel in FloatKernel.available {
                    var c = [Float](repeating: 42, count: m * ldc)
                    a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in bias.withUnsafeBufferPointer { biasp in c.withUnsafeMutableBufferPointer { cp in
                        FloatGEMM.multiply(a: ap.baseAddress!, lda: k, m: m, k: k, b: bp.baseAddress!, ldb: ldb, n: n, bias: biasp.baseAddress!,
                                           lo: lo, hi: hi, c: cp.baseAddress!, ldc: ldc, kernel: kernel)
                    } } } }
                    results.append(c)
                }
                for (kernel, result) in zip(FloatKernel.available, results).dropFirst() {
                    let differing = zip(results[0], result).filter { $0.bitPattern != $1.bitPattern }.count
                    XCTAssertEqual(differing, 0, "\(kernel): m \(m) k \(k) n \(n) clamp [\(lo), \(hi)]")
                    for i in 0..<m { for j in n..<ldc { XCTAssertEqual(result[i * ldc + j], 42, "\(kernel): row \(i) col \(j) written") } }
                }
            }
        }
    }
    /// The AVX depthwise kernel (32- and 16-channel blocks, the rest in Swift) against the
    /// portable one, bit for bit: channel counts around both block sizes, strides, dilation,
    /// both paddings, NaN/inf in the input and three clamps.
    func testAVXDepthwiseMatchesPortableBitForBit() throws {
        try XCTSkipIf(!FloatKernel.available.contains(.avx), "this CPU has no AVX: only the portable kernel runs here")
        var rng = SplitMix64(seed: 7)
        for channels in [1, 15, 16, 17, 32, 33, 48, 64, 100] {
            for (stride, dil, padding) in [(1, 1, Padding.same), (2, 1, .same), (1, 2, .valid), (2, 1, .valid)] {
                let h = 9, w = 8, kH = 3, kW = 3, ldw = (channels + 15) / 16 * 16
                let geo = try WindowGeometry(input: [2, h, w, channels], kH: kH, kW: kW, strideH: stride, strideW: stride,
                                             dilH: dil, dilW: dil, padding: padding)
                var x = (0..<(2 * h * w * channels)).map { _ in Float(rng.nextNormal()) * 2 }
                x[Int(rng.next() % UInt64(x.count))] = .nan
                x[Int(rng.next() % UInt64(x.count))] = .infinity
                let f = (0..<(kH * kW * ldw)).map { $0 % ldw < channels ? Float(rng.nextNormal()) : 0 }
                let bias = (0..<channels).map { _ in Float(rng.nextNormal()) }
                for (lo, hi) in [(-Float.infinity, Float.infinity), (0, 6), (-1, 1)] {
                    var results: [[Float]] = []
                    for kernel in [FloatKernel.portable, .avx] {
                        var out = [Float](repeating: 42, count: 2 * geo.outH * geo.outW * channels)
                        x.withUnsafeBufferPointer { xp in f.withUnsafeBufferPointer { fp in bias.withUnsafeBufferPointer { bp in out.withUnsafeMutableBufferPointer { op in
                            FloatDepthwise.multiplierOne(geo, input: xp.baseAddress!, weights: fp.baseAddress!, ldw: ldw, bias: bp.baseAddress!,
                                                         lo: lo, hi: hi, output: op.baseAddress!, kernel: kernel)
                        } } } }
                        results.append(out)
                    }
                    XCTAssertFalse(results[1].contains(42), "an output was not written (channels \(channels))")
                    let differing = zip(results[0], results[1]).filter { $0.bitPattern != $1.bitPattern }.count
                    XCTAssertEqual(differing, 0, "channels \(channels) stride \(stride) dilation \(dil) \(padding) clamp [\(lo), \(hi)]")
                }
            }
        }
    }
}
