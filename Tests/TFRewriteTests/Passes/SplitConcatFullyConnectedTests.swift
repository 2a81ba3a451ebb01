import TestSupport
import XCTest

@testable import TFRewrite

final class SplitConcatFullyConnectedTests: XCTestCase {
    static let given = """
        subgraph 0 "main"
          input %0 "x": f32[1,2]
          input %1 "h": f32[1,1]
          #0 CONCATENATION v1 {axis=1} (%0, %1) -> %2 "xh": f32[1,3]
          const %3 "w": f32[2,3] = [1, 2, 3, 4, 5, 6]
          const %4 "b": f32[2] = [0.5, -1]
          #1 FULLY_CONNECTED v1 {act=RELU} (%2, %3, %4) -> %5 "y": f32[1,2]
          output %5

        """

    func testConcatBeforeFullyConnectedSplitsGolden() throws {
        let given = try IRParser.parse(Self.given)
        var m = given
        XCTAssertTrue(try runVerified([SplitConcatFullyConnected()], on: &m))
        GoldenIR.check("split-concat-fully-connected", given: given, passes: "split-concat-fully-connected", result: m)
        XCTAssertEqual(m.subgraphs[0].ops.filter { !$0.isErased }.map(\.name), ["FULLY_CONNECTED", "FULLY_CONNECTED", "ADD"])
        for (x, h) in [([Float(0.5), -2], [Float(3)]), ([1, 1], [-1])] {
            let before = try runFloat(given, [x, h]), after = try runFloat(m, [x, h])
            XCTAssertEqual(before, after)
        }
    }

    /// A constant part (the zero initial state of a recurrent cell) goes into the bias.
    func testConstantPartFoldsIntoTheBias() throws {
        var m = try IRParser.parse(Self.given.replacingOccurrences(of: "input %1 \"h\": f32[1,1]", with: "const %1 \"h\": f32[1,1] = [2]"))
        XCTAssertTrue(try runVerified([SplitConcatFullyConnected()], on: &m))
        let ops = m.subgraphs[0].ops.filter { !$0.isErased }
        XCTAssertEqual(ops.map(\.name), ["FULLY_CONNECTED"])
        XCTAssertEqual(m.constant(ops[0].inputs[2])?.floats, [0.5 + 3 * 2, -1 + 6 * 2])
        XCTAssertEqual(m.constant(ops[0].inputs[1])?.floats, [1, 2, 4, 5])
    }

    func testConcatReadTwiceStays() throws {
        var m = try IRParser.parse(Self.given.replacingOccurrences(of: "output %5", with: "output %5\n  output %2"))
        XCTAssertFalse(try runVerified([SplitConcatFullyConnected()], on: &m))
    }

    func runFloat(_ m: Model, _ inputs: [[Float]]) throws -> [Float] {
        try runFloatOutputs(m, inputs).first ?? []
    }
}
