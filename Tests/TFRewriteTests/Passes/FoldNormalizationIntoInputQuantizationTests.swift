import TestSupport
import XCTest

@testable import TFRewrite

/// fold-normalization-into-input-quantization: a per-tensor Rescaling at an int8 model's
/// input goes into the input's scale and zero point.
final class FoldNormalizationIntoInputQuantizationTests: XCTestCase {
    /// An int8 Dense model behind Rescaling(a, offset): QUANTIZE, MUL by a, ADD offset
    /// (constants int8 as the quantizer writes them), FULLY_CONNECTED, DEQUANTIZE.
    func rescaled(scale: String = "q(7.874016e-05, 0) = [127]", offset: String = "q(0.0019685039, 0) = [-127]",
                  addOutput: String = "q(0.01, 0)", constantShape: String = "") throws -> Model {
        try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": f32[1,4]
              const %1 "rescaling/scale": i8[\(constantShape)] \(scale)
              const %2 "rescaling/offset": i8[\(constantShape)] \(offset)
              const %3 "w": i8[2,4] q(0.02, 0) = [50, -27, 13, 127, -85, 36, 62, -15]
              const %4 "b": i32[2] q(0.0002, 0) = [500, -500]
              #0 QUANTIZE v1 (%0) -> %5 "x_int8": i8[1,4] q(1.0, -128)
              #1 MUL v2 (%5, %1) -> %6 "rescaling/mul": i8[1,4] q(0.01, -128)
              #2 ADD v1 (%6, %2) -> %7 "rescaling/add": i8[1,4] \(addOutput)
              #3 FULLY_CONNECTED v4 (%7, %3, %4) -> %8 "dense": i8[1,2] q(0.05, 0)
              #4 DEQUANTIZE v2 (%8) -> %9 "y": f32[1,2]
              output %9

            """)
    }

    /// x·0.01 − 1.28: the shift is −128 steps of the ADD's output scale, so both fold; the
    /// QUANTIZE now writes what the ADD wrote.
    func testRescalingWithAnIntegerShiftFoldsGolden() throws {
        let given = try rescaled(offset: "q(0.01007874, 0) = [-127]")
        var m = given
        XCTAssertTrue(try runVerified([FoldNormalizationIntoInputQuantization(), Cleanup()], on: &m))
        GoldenIR.check("fold-normalization-into-input-quantization.rescaling", given: given,
                       passes: "fold-normalization-into-input-quantization, cleanup", result: m)
        XCTAssertEqual(liveOpNames(m), ["QUANTIZE", "FULLY_CONNECTED", "DEQUANTIZE"])
        let q = try XCTUnwrap(m.subgraphs[0].ops.first { $0.name == "QUANTIZE" && !$0.isErased }).outputs[0]
        let p = try XCTUnwrap(m.subgraphs[0][q].quantization)
        XCTAssertEqual(p.scales[0], 1.0, accuracy: 1e-6)
        XCTAssertEqual(p.zeroPoints, [-128])
        try assertOutputsWithinOneStep(given, m, step: 0.05)
    }

    /// A shift of half a step (−0.005 at scale 0.01) cannot be an integer zero point: both
    /// stay (the MUL alone has no layer behind it).
    func testAFractionalShiftStays() throws {
        var m = try rescaled(offset: "q(3.937008e-05, 0) = [-127]")
        XCTAssertFalse(try runVerified([FoldNormalizationIntoInputQuantization()], on: &m))
    }

    /// Without the offset, Rescaling's MUL alone folds; the weights keep their integers.
    func testRescalingAloneFolds() throws {
        let given = try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": i8[1,4] q(1.0, -128)
              const %1 "rescaling/scale": i8[] q(7.874016e-05, 0) = [127]
              const %2 "w": i8[2,4] q(0.02, 0) = [50, -27, 13, 127, -85, 36, 62, -15]
              const %3 "b": i32[2] q(0.0002, 0) = [500, -500]
              #0 MUL v2 (%0, %1) -> %4 "rescaling/mul": i8[1,4] q(0.01, -128)
              #1 FULLY_CONNECTED v4 (%4, %2, %3) -> %5 "dense": i8[1,2] q(0.05, 0)
              output %5

            """)
        var m = given
        XCTAssertTrue(try runVerified([FoldNormalizationIntoInputQuantization(), Cleanup()], on: &m))
        XCTAssertEqual(liveOpNames(m), ["FULLY_CONNECTED"])
        let g = m.subgraphs[0]
        XCTAssertEqual(g[g.inputs[0]].quantization?.zeroPoints, [-128])
        let fc = try XCTUnwrap(g.ops.first { !$0.isErased })
        // Weights 0.02 · 0.01; bias input scale 1.0 × that: input × weight scale as before.
        for operand in [1, 2] {
            XCTAssertEqual(Double(try XCTUnwrap(g[fc.inputs[operand]].quantization?.scales.first)), 0.0002, accuracy: 1e-10)
        }
        let text = IRPrinter.print(m)
        XCTAssertTrue(text.contains("[50, -27, 13, 127, -85, 36, 62, -15]"), text)
        XCTAssertTrue(text.contains("[500, -500]"), text)
    }

    /// Per-feature constants (Normalization) and a negative scale have no per-tensor input
    /// quantization that reads the same integers.
    func testPerChannelAndNegativeConstantsStay() throws {
        for (scale, offset, shape) in [
            ("q(7.874016e-05, 0) = [127, 100, 90, 80]", "q(0.01007874, 0) = [-127, -127, -127, -127]", "4"),
            ("q(7.874016e-05, 0) = [-127]", "q(0.01007874, 0) = [-127]", ""),
        ] {
            var m = try rescaled(scale: scale, offset: offset, constantShape: shape)
            XCTAssertFalse(try runVerified([FoldNormalizationIntoInputQuantization()], on: &m), scale)
        }
    }

    /// Both models on raw inputs 0...255: dequantized outputs within one output step (the
    /// unfolded model rounds the input twice, the folded one once).
    func assertOutputsWithinOneStep(_ a: Model, _ b: Model, step: Float, file: StaticString = #filePath, line: UInt = #line) throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<32 {
            let input = RuntimeTensor(shape: [1, 4], floats: (0..<4).map { _ in Float(Int.random(in: 0...255, using: &rng)) })!
            let want = try XCTUnwrap(try Interpreter(model: a).run([input])[0].floats)
            let got = try XCTUnwrap(try Interpreter(model: b).run([input])[0].floats)
            for (g, w) in zip(got, want) { XCTAssertLessThanOrEqual(abs(g - w), step * 1.001, "\(got) vs \(want)", file: file, line: line) }
        }
    }
}
