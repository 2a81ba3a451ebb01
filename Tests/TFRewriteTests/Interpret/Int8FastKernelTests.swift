import XCTest

@testable import TFRewrite

/// The AVX2 int8 CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED kernels (Int8Fast.swift,
/// CInt8Kernels) against the portable Swift kernels, which the conformance tests hold to TFLM:
/// the same one-op model is built once with each implementation and every output byte must
/// match. Shapes cover strides, both paddings, dilation, groups, depth multipliers (which fall
/// back), odd channel and depth counts, row counts around the 6-row tile, per-tensor and
/// per-channel scales including multipliers above 1, and biases over the whole int32 range.
final class Int8FastKernelTests: XCTestCase {
    typealias G = InterpreterTestSupport.GraphBuilder

    override func setUpWithError() throws {
        try XCTSkipIf(Int8Kernel.best != .avx2, "this CPU has no AVX2: only the portable int8 kernels run here")
    }

    private struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 16
        }
        mutating func int8s(_ n: Int) -> [Int8] { (0..<n).map { _ in Int8(truncatingIfNeeded: next()) } }
        mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + Double(next() % 1_000_000) / 1_000_000 * (hi - lo) }
    }

    /// Output of `model` on `inputs` built with the portable and with the AVX2 kernels; where the
    /// CPU has AVX-512 VNNI, the VNNI byte-quad product must give the AVX2 one's bytes too.
    private func bothKernels(_ model: Model, _ input: RuntimeTensor...) throws -> (portable: [Int8], fast: [Int8]) {
        let portable = try Int8Kernel.$forced.withValue(.portable) { try Interpreter(model: model) }
        let fast = try Int8Kernel.$forced.withValue(.avx2) { try Int8Gemm.$forced.withValue(.avx2) { try Interpreter(model: model) } }
        let fastBytes = try XCTUnwrap(fast.run(input)[0].int8s)
        if Int8Gemm.best == .vnni8 {
            let vnni = try Int8Kernel.$forced.withValue(.avx2) { try Int8Gemm.$forced.withValue(.vnni8) { try Interpreter(model: model) } }
            let vnniBytes = try XCTUnwrap(vnni.run(input)[0].int8s)
            XCTAssertEqual(zip(vnniBytes, fastBytes).filter { $0 != $1 }.count, 0, "the AVX-512 VNNI kernels differ from the AVX2 ones")
            XCTAssertEqual(vnniBytes.count, fastBytes.count)
        }
        return (try XCTUnwrap(portable.run(input)[0].int8s), fastBytes)
    }

    /// Per-channel weight scales for `channels` channels: sized so that outputs spread over the
    /// int8 range, a few channels scaled up until their multiplier exceeds 1 (left shifts).
    private func weightScales(_ r: inout Rng, channels: Int, terms: Int, perChannel: Bool, inScale: Float, outScale: Float) -> [Float] {
        let typical = Double(outScale) * 40 / (Double(inScale) * 5000 * Double(max(terms, 1)).squareRoot())
        return (0..<(perChannel ? channels : 1)).map { c in
            Float(typical * r.uniform(0.5, 2) * (c % 7 == 3 ? 4096 : 1))
        }
    }

    private func assertSame(_ got: (portable: [Int8], fast: [Int8]), _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.portable.count, got.fast.count, what, file: file, line: line)
        let differing = zip(got.portable, got.fast).filter { $0 != $1 }.count
        XCTAssertEqual(differing, 0, "\(differing) of \(got.portable.count) outputs differ: \(what)", file: file, line: line)
    }

    private struct ConvCase {
        var n = 1, h: Int, w: Int, inC: Int, outC: Int, kH: Int, kW: Int
        var stride = (1, 1), dilation = (1, 1)
        var padding: Padding = .same
        var activation: ActivationFunction = .none
        var groups = 1
        var inZp: Int64 = 3, outZp: Int64 = -5
        var perChannel = true
        var wideBias = false
    }

    private func outSize(_ p: Padding, _ input: Int, _ k: Int, _ s: Int, _ d: Int) -> Int {
        p == .same ? (input + s - 1) / s : (input - ((k - 1) * d + 1) + s) / s
    }

    private func checkConv(_ c: ConvCase, seed: UInt64) throws {
        var r = Rng(state: seed)
        let fc = c.inC / c.groups, k = c.kH * c.kW * fc
        let inScale: Float = 0.05, outScale: Float = 0.1
        let ws = weightScales(&r, channels: c.outC, terms: k, perChannel: c.perChannel, inScale: inScale, outScale: outScale)
        let oh = outSize(c.padding, c.h, c.kH, c.stride.0, c.dilation.0), ow = outSize(c.padding, c.w, c.kW, c.stride.1, c.dilation.1)
        var g = G()
        let x = g.value("x", .int8, [Int32(c.n), Int32(c.h), Int32(c.w), Int32(c.inC)], q: .perTensor(scale: inScale, zeroPoint: c.inZp))
        let f = g.int8s("f", [Int32(c.outC), Int32(c.kH), Int32(c.kW), Int32(fc)], r.int8s(c.outC * k),
                        q: Quantization(scales: ws, zeroPoints: Array(repeating: 0, count: ws.count)))
        let bias = g.int32s("b", [Int32(c.outC)], (0..<c.outC).map { _ in
            c.wideBias ? Int32(truncatingIfNeeded: r.next()) : Int32(truncatingIfNeeded: Int64(r.next() % 40001) - 20000)
        })
        let y = g.value("y", .int8, [Int32(c.n), Int32(oh), Int32(ow), Int32(c.outC)], q: .perTensor(scale: outScale, zeroPoint: c.outZp))
        g.op(.conv2D(Conv2DAttributes(padding: c.padding, strideW: Int32(c.stride.1), strideH: Int32(c.stride.0), activation: c.activation,
                                      dilationW: Int32(c.dilation.1), dilationH: Int32(c.dilation.0))), [x, f, bias], [y])
        let input = try XCTUnwrap(RuntimeTensor(shape: [c.n, c.h, c.w, c.inC], int8s: r.int8s(c.n * c.h * c.w * c.inC)))
        let got = try bothKernels(g.model(inputs: [x], outputs: [y]), input)
        assertSame(got, "\(c)")
        if !c.wideBias && got.portable.count > 64 { XCTAssertGreaterThan(Set(got.portable).count, 8, "outputs barely vary, the comparison would prove little: \(c)") }
    }

    func testConvolutionsMatchThePortableKernel() throws {
        let cases: [ConvCase] = [
            // 1×1 stride 1 (input rows widened in place): rows around the 6-row tile, columns around 16.
            ConvCase(n: 2, h: 5, w: 7, inC: 13, outC: 21, kH: 1, kW: 1, activation: .relu6),
            ConvCase(h: 4, w: 3, inC: 40, outC: 16, kH: 1, kW: 1, inZp: -128, outZp: 127),
            ConvCase(h: 1, w: 1, inC: 3, outC: 1, kH: 1, kW: 1, activation: .relu),
            ConvCase(h: 13, w: 11, inC: 96, outC: 33, kH: 1, kW: 1, inZp: 127, outZp: 0, perChannel: false),
            // Larger than one row block (64 KiB of int16 rows).
            ConvCase(h: 30, w: 30, inC: 160, outC: 17, kH: 1, kW: 1),
            // im2col: strides, padding, dilation, odd depth (an odd k pads the last pair).
            ConvCase(h: 9, w: 8, inC: 3, outC: 32, kH: 3, kW: 3, stride: (2, 2), activation: .relu6),
            ConvCase(h: 7, w: 7, inC: 5, outC: 11, kH: 3, kW: 2, stride: (1, 2), dilation: (2, 1), padding: .valid),
            ConvCase(h: 6, w: 5, inC: 4, outC: 9, kH: 1, kW: 1, stride: (2, 2), activation: .reluN1To1),
            ConvCase(n: 2, h: 10, w: 9, inC: 7, outC: 40, kH: 5, kW: 5, stride: (2, 1), dilation: (1, 2), inZp: 0),
            ConvCase(h: 8, w: 8, inC: 70, outC: 24, kH: 3, kW: 3),
            // Grouped.
            ConvCase(h: 5, w: 6, inC: 12, outC: 18, kH: 3, kW: 3, groups: 3),
            ConvCase(h: 4, w: 4, inC: 8, outC: 4, kH: 1, kW: 1, groups: 2),
            // Biases anywhere in int32: the sums wrap and the requantization sees extreme values.
            ConvCase(h: 6, w: 6, inC: 9, outC: 37, kH: 3, kW: 3, wideBias: true),
        ]
        for (i, c) in cases.enumerated() { try checkConv(c, seed: UInt64(100 + i)) }
    }

    func testDepthwiseMatchesThePortableKernel() throws {
        var seed: UInt64 = 500
        for channels in [1, 15, 16, 17, 33, 100] {
            for (kH, kW, stride, dil, padding) in [(3, 3, 1, 1, Padding.same), (3, 3, 2, 1, .same), (3, 3, 1, 2, .valid), (5, 5, 2, 1, .same),
                                                   (1, 1, 1, 1, .valid), (2, 3, 1, 1, .same)] {
                for multiplier in channels <= 17 ? [1, 2] : [1] {
                    seed += 1
                    var r = Rng(state: seed)
                    let outC = channels * multiplier, h = 9, w = 8
                    let inScale: Float = 0.05, outScale: Float = 0.1
                    let ws = weightScales(&r, channels: outC, terms: kH * kW, perChannel: seed % 3 != 0, inScale: inScale, outScale: outScale)
                    let oh = outSize(padding, h, kH, stride, dil), ow = outSize(padding, w, kW, stride, dil)
                    var g = G()
                    let inZp = Int64(Int8(truncatingIfNeeded: r.next()))
                    let x = g.value("x", .int8, [2, Int32(h), Int32(w), Int32(channels)], q: .perTensor(scale: inScale, zeroPoint: inZp))
                    let f = g.int8s("f", [1, Int32(kH), Int32(kW), Int32(outC)], r.int8s(kH * kW * outC),
                                    q: Quantization(scales: ws, zeroPoints: Array(repeating: 0, count: ws.count), axis: 3))
                    let bias = g.int32s("b", [Int32(outC)], (0..<outC).map { _ in Int32(truncatingIfNeeded: Int64(r.next() % 4001) - 2000) })
                    let y = g.value("y", .int8, [2, Int32(oh), Int32(ow), Int32(outC)], q: .perTensor(scale: outScale, zeroPoint: -7))
                    let activation: ActivationFunction = [.none, .relu, .relu6][Int(seed % 3)]
                    g.op(.depthwiseConv2D(DepthwiseConv2DAttributes(padding: padding, strideW: Int32(stride), strideH: Int32(stride),
                                                                    depthMultiplier: Int32(multiplier), activation: activation,
                                                                    dilationW: Int32(dil), dilationH: Int32(dil))), [x, f, bias], [y])
                    let input = try XCTUnwrap(RuntimeTensor(shape: [2, h, w, channels], int8s: r.int8s(2 * h * w * channels)))
                    let got = try bothKernels(g.model(inputs: [x], outputs: [y]), input)
                    assertSame(got, "channels \(channels) ×\(multiplier) filter \(kH)×\(kW) stride \(stride) dilation \(dil) \(padding) \(activation)")
                }
            }
        }
    }

    func testFullyConnectedMatchesThePortableKernel() throws {
        var seed: UInt64 = 900
        // Depths above 514 take the portable kernel's Int32 path, below it the float-lane path.
        for (batches, depth, units) in [(1, 1, 1), (1, 7, 10), (3, 64, 17), (7, 130, 33), (13, 600, 16), (1, 1280, 1001), (6, 33, 5)] {
            for perChannel in [false, true] {
                seed += 1
                var r = Rng(state: seed)
                let inScale: Float = 0.05, outScale: Float = 0.1
                let ws = weightScales(&r, channels: units, terms: depth, perChannel: perChannel, inScale: inScale, outScale: outScale)
                var g = G()
                let x = g.value("x", .int8, [Int32(batches), Int32(depth)], q: .perTensor(scale: inScale, zeroPoint: -9))
                let wv = g.int8s("w", [Int32(units), Int32(depth)], r.int8s(units * depth),
                                 q: Quantization(scales: ws, zeroPoints: Array(repeating: 0, count: ws.count)))
                let bias = g.int32s("b", [Int32(units)], (0..<units).map { _ in Int32(truncatingIfNeeded: Int64(r.next() % 40001) - 20000) })
                let y = g.value("y", .int8, [Int32(batches), Int32(units)], q: .perTensor(scale: outScale, zeroPoint: 4))
                g.op(.fullyConnected(FullyConnectedAttributes(activation: perChannel ? .relu : .none)), [x, wv, bias], [y])
                let input = try XCTUnwrap(RuntimeTensor(shape: [batches, depth], int8s: r.int8s(batches * depth)))
                let got = try bothKernels(g.model(inputs: [x], outputs: [y]), input)
                assertSame(got, "batches \(batches) depth \(depth) units \(units) per-channel \(perChannel)")
            }
        }
    }

    func testAddAndSubMatchThePortableKernel() throws {
        var seed: UInt64 = 1300
        // Element counts around the 16-lane step; scale ratios either way and far apart (large
        // and small right shifts), zero points at the int8 ends, every fused activation.
        for count in [1, 15, 16, 17, 100, 4099] {
            for (scale1, scale2, outScale) in [(0.05, 0.05, 0.1), (0.02, 0.3, 0.07), (0.5, 0.001, 0.1), (1e-4, 0.9, 2.0)] as [(Float, Float, Float)] {
                for subtract in [false, true] {
                    seed += 1
                    var r = Rng(state: seed)
                    let zps = (0..<3).map { i in seed % 4 == 0 ? [Int64(-128), 127, 0][i] : Int64(Int8(truncatingIfNeeded: r.next())) }
                    let activation: ActivationFunction = [.none, .relu, .relu6, .reluN1To1][Int(seed / 3 % 4)]
                    var g = G()
                    let x = g.value("x", .int8, [Int32(count)], q: .perTensor(scale: scale1, zeroPoint: zps[0]))
                    let y = g.value("y", .int8, [Int32(count)], q: .perTensor(scale: scale2, zeroPoint: zps[1]))
                    let z = g.value("z", .int8, [Int32(count)], q: .perTensor(scale: outScale, zeroPoint: zps[2]))
                    let attributes = ArithmeticAttributes(activation: activation)
                    g.op(subtract ? .sub(attributes) : .add(attributes), [x, y], [z])
                    let a = try XCTUnwrap(RuntimeTensor(shape: [count], int8s: r.int8s(count)))
                    let b = try XCTUnwrap(RuntimeTensor(shape: [count], int8s: r.int8s(count)))
                    let got = try bothKernels(g.model(inputs: [x, y], outputs: [z]), a, b)
                    assertSame(got, "count \(count) scales \(scale1) \(scale2) → \(outScale) sub \(subtract) zero points \(zps) \(activation)")
                    if count >= 100 && activation == .none && seed % 4 != 0 { XCTAssertGreaterThan(Set(got.portable).count, 8, "outputs barely vary: \(scale1) \(scale2) → \(outScale)") }
                }
            }
        }
    }

    /// Parameters the vector requantization cannot reproduce keep the portable kernel.
    func testOutOfRangeParametersAreRefused() {
        let ok = QuantizedMultiplier(multiplier: 1 << 30, shift: -3)
        XCTAssertNotNil(Int8Requantization(bias: [0], multipliers: [ok], inputZeroPoint: 0, outputZeroPoint: 0, activation: (-128, 127)))
        for m in [QuantizedMultiplier(multiplier: 1 << 30, shift: -32), QuantizedMultiplier(multiplier: 1 << 30, shift: 32),
                  QuantizedMultiplier(multiplier: Int32.min, shift: 0)] {
            XCTAssertNil(Int8Requantization(bias: [0], multipliers: [m], inputZeroPoint: 0, outputZeroPoint: 0, activation: (-128, 127)))
        }
        XCTAssertNil(Int8Requantization(bias: [0], multipliers: [ok], inputZeroPoint: 128, outputZeroPoint: 0, activation: (-128, 127)))
        XCTAssertNil(Int8Requantization(bias: [0], multipliers: [ok], inputZeroPoint: 0, outputZeroPoint: 0, activation: (-129, 127)))
    }
}
