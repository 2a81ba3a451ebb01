import TestSupport
import XCTest

@testable import TFRewrite

final class PerTensorFullyConnectedTests: XCTestCase {
    func model(scales: [Float]) throws -> Model {
        var m = try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": i8[1,2] q(2.0, 0)
              const %1 "w": i8[2,2] q(axis 0: 2 scales, zp 0) = [10, -20, 40, 9]
              const %2 "b": i32[2] q(axis 0: 2 scales, zp 0) = [100, 7]
              #0 FULLY_CONNECTED v4 (%0, %1, %2) -> %3 "y": i8[1,2] q(4.0, 0)
              output %3

            """)
        m.subgraphs[0].values[1].type = ElementType(.int8, quantization: Quantization(scales: scales, zeroPoints: [0, 0], axis: 0))
        m.subgraphs[0].values[2].type = ElementType(.int32, quantization: Quantization(scales: scales.map { 2 * $0 }, zeroPoints: [0, 0], axis: 0))
        return m
    }

    func testDifferentScalesAreRequantizedAndTheErrorNotedGolden() throws {
        let given = try model(scales: [0.5, 0.25])
        var m = given
        var ctx = PassContext()
        XCTAssertTrue(try runVerified([PerTensorFullyConnected()], on: &m, context: &ctx))
        GoldenIR.check("per-tensor-fully-connected", given: given, passes: "per-tensor-fully-connected", result: m)
        let op = m.subgraphs[0].ops[0]
        XCTAssertEqual(m.constant(op.inputs[1])?.scalars(Int8.self), [10, -20, 20, 5])  // 9 · 0.5 = 4.5 → 5
        XCTAssertEqual(m.constant(op.inputs[2])?.scalars(Int32.self), [100, 4])  // 7 · 0.5 = 3.5 → 4
        XCTAssertEqual(m.subgraphs[0][op.inputs[2]].quantization?.scales, [1.0])
        XCTAssertEqual(ctx.notes, ["warning: per-tensor-fully-connected: FULLY_CONNECTED #0: weights \"w\" requantized to one scale 0.5; largest weight change 0.25"])
    }

    func testEqualScalesAreLossless() throws {
        var m = try model(scales: [0.5, 0.5])
        var ctx = PassContext()
        XCTAssertTrue(try runVerified([PerTensorFullyConnected()], on: &m, context: &ctx))
        let op = m.subgraphs[0].ops[0]
        XCTAssertEqual(m.constant(op.inputs[1])?.scalars(Int8.self), [10, -20, 40, 9])
        XCTAssertEqual(m.subgraphs[0][op.inputs[1]].quantization?.scales, [0.5])
        XCTAssertEqual(ctx.notes, [])
    }
}
