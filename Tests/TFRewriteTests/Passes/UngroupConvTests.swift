import TestSupport
import XCTest

@testable import TFRewrite

final class UngroupConvTests: XCTestCase {
    /// Two groups of two channels; filter values 1…16 so that each slice is visible.
    func twoGroups() throws -> Model {
        try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": f32[1,3,3,4]
              const %1 "w": f32[4,1,1,2] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
              const %2 "b": f32[4] = [0.5, -0.5, 1.5, -1.5]
              #0 CONV_2D v6 {padding=SAME, stride=1x1, dilation=1x1, act=RELU} (%0, %1, %2) -> %3 "y": f32[1,3,3,4]
              output %3

            """)
    }

    func testTwoGroupsBecomeSplitConvsAndConcatenationGolden() throws {
        let given = try twoGroups()
        var m = given
        var ctx = PassContext()
        XCTAssertTrue(try runVerified([UngroupConv(), Cleanup()], on: &m, context: &ctx))
        GoldenIR.check("ungroup-conv.split", given: given, passes: "ungroup-conv, cleanup", result: m)
        XCTAssertEqual(liveOpNames(m), ["SPLIT", "CONV_2D", "CONV_2D", "CONCATENATION"])
    }

    func testOneChannelPerGroupBecomesDepthwiseGolden() throws {
        let given = try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": i8[1,3,3,2] q(1.0, -1)
              const %1 "w": i8[4,1,1,1] q(axis 0: 4 scales, zp 0) = [1, 2, 3, 4]
              const %2 "b": i32[4] q(axis 0: 4 scales, zp 0) = [10, 20, 30, 40]
              #0 CONV_2D v6 {padding=VALID, stride=1x1, dilation=1x1} (%0, %1, %2) -> %3 "y": i8[1,3,3,4] q(0.25, 3)
              output %3

            """)
        var m = given
        var ctx = PassContext()
        XCTAssertTrue(try runVerified([UngroupConv()], on: &m, context: &ctx))
        GoldenIR.check("ungroup-conv.depthwise", given: given, passes: "ungroup-conv", result: m)
        guard case .depthwiseConv2D(let a) = m.subgraphs[0].ops[0].kind else { return XCTFail("\(m.subgraphs[0].ops[0].kind)") }
        XCTAssertEqual(a.depthMultiplier, 2)
        XCTAssertEqual(m.subgraphs[0].values[1].quantization?.axis, 3)
    }

    /// Our interpreter computes the grouped conv and its depthwise rewrite the same (it has no
    /// SPLIT kernel: Tests/Conformance/test_ungroup_conv.py checks that form on LiteRT and TFLM).
    func testDepthwiseRewriteComputesTheSameAsTheGroupedConv() throws {
        for groups in [4] {
            var b = PassGraphBuilder()
            let channels: Int32 = 4, outputs: Int32 = 8
            let x = b.input("x", float32Type, [1, 5, 5, channels])
            var rng = SystemRandomNumberGenerator()
            let perGroup = channels / Int32(groups)
            let w = b.constant("w", ConstantTensor(floats: (0..<Int(outputs * 9 * perGroup)).map { _ in Float.random(in: -1...1, using: &rng) }, shape: [outputs, 3, 3, perGroup]))
            let bias = b.constant("b", ConstantTensor(floats: (0..<Int(outputs)).map { _ in Float.random(in: -1...1, using: &rng) }, shape: [outputs]))
            let y = b.value("y", float32Type, [1, 5, 5, outputs])
            b.op(.conv2D(Conv2DAttributes(padding: .same, strideW: 1, strideH: 1, activation: .none)), version: 6, [x, w, bias], [y])
            b.output(y)
            let input = RuntimeTensor(shape: [1, 5, 5, 4], floats: (0..<100).map { _ in Float.random(in: -1...1, using: &rng) })!
            let want = try XCTUnwrap(try Interpreter(model: b.model).run([input])[0].floats)
            var m = b.model
            var ctx = PassContext()
            XCTAssertTrue(try runVerified([UngroupConv()], on: &m, context: &ctx))
            XCTAssertEqual(liveOpNames(m), ["DEPTHWISE_CONV_2D"])
            let got = try XCTUnwrap(try Interpreter(model: m).run([input])[0].floats)
            XCTAssertEqual(got.count, want.count)
            for (g, e) in zip(got, want) { XCTAssertEqual(g, e, accuracy: 1e-5, "groups \(groups)") }
        }
    }

    func testUngroupedConvIsLeftAlone() throws {
        var m = try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": f32[1,3,3,2]
              const %1 "w": f32[1,1,1,2] = [1.0, 2.0]
              #0 CONV_2D v1 {padding=SAME, stride=1x1, dilation=1x1} (%0, %1, %none) -> %2 "y": f32[1,3,3,1]
              output %2

            """)
        var ctx = PassContext()
        var pass = UngroupConv()
        XCTAssertFalse(try pass.run(on: &m, context: &ctx))
    }
}
