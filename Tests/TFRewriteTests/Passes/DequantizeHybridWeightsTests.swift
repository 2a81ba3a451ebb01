import TestSupport
import XCTest

@testable import TFRewrite

final class DequantizeHybridWeightsTests: XCTestCase {
    func hybridFullyConnected() throws -> Model {
        var m = try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": f32[1,2]
              const %1 "w": i8[2,2] q(axis 0: 2 scales, zp 0) = [2, -4, 8, 1]
              const %2 "b": f32[2] = [0.5, -0.5]
              #0 FULLY_CONNECTED v12 {asymmetric_quantize_inputs=true} (%0, %1, %2) -> %3 "y": f32[1,2]
              output %3

            """)
        m.subgraphs[0].values[1].type = ElementType(.int8, quantization: Quantization(scales: [0.5, 0.25], zeroPoints: [0, 0], axis: 0))
        return m
    }

    func testHybridWeightsBecomeFloatGolden() throws {
        let given = try hybridFullyConnected()
        var m = given
        var ctx = PassContext()
        XCTAssertTrue(try runVerified([DequantizeHybridWeights()], on: &m, context: &ctx))
        GoldenIR.check("dequantize-hybrid-weights", given: given, passes: "dequantize-hybrid-weights", result: m)
        let op = m.subgraphs[0].ops[0]
        XCTAssertEqual(m.constant(op.inputs[1])?.floats, [1.0, -2.0, 2.0, 0.25])
        XCTAssertEqual(op.version, 1)
        guard case .fullyConnected(let a) = op.kind else { return XCTFail("\(op.kind)") }
        XCTAssertFalse(a.asymmetricQuantizeInputs)
    }

    func testPerTensorUInt8WithZeroPointAndAxisOfAConvFilter() {
        let q = Quantization(scales: [0.5], zeroPoints: [128], axis: 0)
        let t = ConstantTensor(type: ElementType(.uint8, quantization: q), shape: [1, 3], bytes: [128, 130, 0])
        XCTAssertEqual(DequantizeHybridWeights.dequantized(t), [0, 1, -64])
        // Per-channel along the last axis (DEPTHWISE_CONV_2D filters, [1,H,W,C]).
        let pc = Quantization(scales: [1, 2], zeroPoints: [0, 0], axis: 3)
        let d = ConstantTensor(type: ElementType(.int8, quantization: pc), shape: [1, 1, 2, 2], bytes: [1, 1, 0xff, 0xff])
        XCTAssertEqual(DequantizeHybridWeights.dequantized(d), [1, 2, -1, -2])
    }

    func testFullInt8OpsAreNotHybrid() throws {
        var m = try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": i8[1,2] q(0.5, 0)
              const %1 "w": i8[2,2] q(0.5, 0) = [2, -4, 8, 1]
              #0 FULLY_CONNECTED v4 (%0, %1, %none) -> %2 "y": i8[1,2] q(1.0, 0)
              output %2

            """)
        var ctx = PassContext()
        var pass = DequantizeHybridWeights()
        XCTAssertFalse(try pass.run(on: &m, context: &ctx))
    }
}
