import Foundation
import XCTest

@testable import TFRewrite
import TestSupport

/// Hybrid (float input, int8 weights) kernels on values worked out by hand; bit-exactness with
/// LiteRT is checked by Tests/Conformance/op_coverage.py (the `hybrid` column).
final class HybridKernelTests: XCTestCase {
    private func quantize(_ values: [Float], asymmetric: Bool) -> (q: [Int8], scale: Float, offset: Int32) {
        var q = [Int8](repeating: 99, count: values.count)
        let r: (Float, Int32) = values.withUnsafeBufferPointer { v in
            q.withUnsafeMutableBufferPointer { out in
                asymmetric
                    ? HybridInputQuantizer.asymmetric(v.baseAddress!, count: v.count, into: out.baseAddress!)
                    : (HybridInputQuantizer.symmetric(v.baseAddress!, count: v.count, into: out.baseAddress!), 0)
            }
        }
        return (q, r.0, r.1)
    }

    func testSymmetricInputQuantization() {
        // max|x| = 1.27: scale 0.01, values x · 100 rounded half away from zero, ±127 at most.
        let s = quantize([0.5, -1.27, 0.005, -0.015, 0], asymmetric: false)
        XCTAssertEqual(s.q, [50, -127, 1, -2, 0])
        XCTAssertEqual(s.scale, Float(1.27) / 127)
        // All zeros: scale 1, zeros.
        let z = quantize([0, 0, 0], asymmetric: false)
        XCTAssertEqual(z.q, [0, 0, 0])
        XCTAssertEqual(z.scale, 1)
    }

    func testAsymmetricInputQuantization() {
        // [0, 2]: scale 2/255; the zero point from the minimum (error 128 < 382) is −128; 1.0 maps
        // to −128 + 127.5 = −0.5, which rounds away from zero to −1.
        let a = quantize([0, 1, 2], asymmetric: true)
        XCTAssertEqual(a.offset, -128)
        XCTAssertEqual(a.scale, Float(2.0 / 255.0))
        XCTAssertEqual(a.q, [-128, -1, 127])
        // A negative-only input still spans 0: [−2.55, 0] → scale 0.01, zero point 127.
        let n = quantize([-2.55, -1, 0], asymmetric: true)
        XCTAssertEqual(n.offset, 127)
        XCTAssertEqual(n.q, [-128, 27, 127])
        // A single point (all equal to 0): zeros, scale 1, offset 0.
        let z = quantize([0, 0], asymmetric: true)
        XCTAssertEqual(z.q, [0, 0]); XCTAssertEqual(z.scale, 1); XCTAssertEqual(z.offset, 0)
    }

    /// x = [0.5, −1.27] quantizes (symmetric) to [50, −127] at scale 0.01; with per-channel
    /// weight scales [0.5, 0.25]: row 0 = (2·50 − 4·−127)·0.005 + 0.5 = 3.54, row 1 = (8·50 −
    /// 127)·0.0025 − 0.5 = 0.1825. Asymmetric quantization of the same input gives the same sums
    /// after the row-sum correction, within a step.
    func testFullyConnectedPerChannel() throws {
        for (options, tolerance) in [("", Float(1e-6)), (" {asymmetric_quantize_inputs=true}", Float(0.01))] {
            let model = try IRParser.parse("""
                subgraph 0 "main"
                  input %0 "x": f32[1,2]
                  const %1 "w": i8[2,2] q(axis 0: scales [0.5, 0.25], zp 0) = [2, -4, 8, 1]
                  const %2 "b": f32[2] = [0.5, -0.5]
                  #0 FULLY_CONNECTED v12\(options) (%0, %1, %2) -> %3 "y": f32[1,2]
                  output %3

                """)
            let out = try Interpreter(model: model).run([RuntimeTensor(shape: [1, 2], floats: [0.5, -1.27])!])[0].floats!
            XCTAssertEqual(out[0], 3.54, accuracy: tolerance, options)
            XCTAssertEqual(out[1], 0.1825, accuracy: tolerance, options)
        }
    }

    /// Hybrid CONV_2D and DEPTHWISE_CONV_2D agree with the float kernels on the dequantized
    /// weights to within the input's quantization error (half a step of max|x|/127 per tap).
    func testConvolutionsFollowTheFloatKernels() throws {
        var rng = SystemRandomNumberGenerator()
        let weights = (0..<36).map { _ in Int8.random(in: -127...127, using: &rng) }
        let x = (0..<50).map { _ in Float.random(in: -2...2, using: &rng) }
        let scales: [Float] = [0.02, 0.03, 0.012, 0.05]
        for (op, shape, axis, options, outShape) in [
            ("CONV_2D", "[4,3,3,1]", 0, "{padding=SAME, stride=1x1, dilation=1x1}", "[2,5,5,4]"),
            ("DEPTHWISE_CONV_2D", "[1,3,3,4]", 3, "{padding=VALID, stride=1x1, dilation=1x1, depth_multiplier=4}", "[2,3,3,4]"),
        ] {
            let float = weights.enumerated().map { i, w in Float(w) * scales[axis == 0 ? i / 9 : i % 4] }
            func model(_ w: String) throws -> Model {
                try IRParser.parse("""
                    subgraph 0 "main"
                      input %0 "x": f32[2,5,5,1]
                      const %1 "w": \(w)
                      const %2 "b": f32[4] = [0.1, -0.2, 0.3, 0]
                      #0 \(op) v1 \(options) (%0, %1, %2) -> %3 "y": f32\(outShape)
                      output %3

                    """)
            }
            let hybrid = try model("i8\(shape) q(axis \(axis): scales [0.02, 0.03, 0.012, 0.05], zp 0) = [\(weights.map(String.init).joined(separator: ", "))]")
            let reference = try model("f32\(shape) = [\(float.map { "\($0)" }.joined(separator: ", "))]")
            let input = RuntimeTensor(shape: [2, 5, 5, 1], floats: x)!
            let got = try Interpreter(model: hybrid).run([input])[0].floats!
            let want = try Interpreter(model: reference).run([input])[0].floats!
            XCTAssertEqual(got.count, want.count)
            let bound = 9 * 127 * 0.05 * (2.0 / 127 / 2) * 1.01
            for (g, w) in zip(got, want) { XCTAssertEqual(g, w, accuracy: Float(bound), op) }
            XCTAssertNotEqual(got, want, "\(op): the hybrid kernel quantizes its input")
        }
    }

    func testTanhActivationIsReportedNotGuessed() throws {
        let model = try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": f32[1,2]
              const %1 "w": i8[2,2] q(0.5, 0) = [2, -4, 8, 1]
              #0 FULLY_CONNECTED v3 {act=TANH} (%0, %1) -> %2 "y": f32[1,2]
              output %2

            """)
        XCTAssertThrowsError(try Interpreter(model: model)) { error in
            XCTAssertEqual((error as? InterpreterError)?.unsupportedOps.first?.reason, "hybrid kernel with fused TANH")
        }
    }
}
