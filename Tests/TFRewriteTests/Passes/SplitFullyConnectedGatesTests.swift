import TestSupport
import XCTest

@testable import TFRewrite

final class SplitFullyConnectedGatesTests: XCTestCase {
    /// One Keras LSTM step in miniature: x·W + reshape(h·U) + b, split into two gates.
    static let given = """
        subgraph 0 "main"
          input %0 "x": f32[1,2]
          input %1 "h": f32[1,1]
          const %2 "w": f32[4,2] = [1, 2, 3, 4, 5, 6, 7, 8]
          const %3 "u": f32[4,1] = [0.5, -1, 2, 0.25]
          const %4 "b": f32[4] = [1, 2, 3, 4]
          const %5 "shape": i32[2] = [1, 4]
          const %6 "axis": i32[] = [1]
          #0 FULLY_CONNECTED v1 (%0, %2, %none) -> %7 "xw": f32[1,4]
          #1 FULLY_CONNECTED v1 (%1, %3, %none) -> %8 "hu": f32[1,4]
          #2 RESHAPE v1 (%8, %5) -> %9 "hu2": f32[1,4]
          #3 ADD v1 (%7, %9) -> %10 "sum": f32[1,4]
          #4 ADD v1 (%10, %4) -> %11 "z": f32[1,4]
          #5 SPLIT v1 (%6, %11) -> %12 "i": f32[1,2], %13 "f": f32[1,2]
          #6 LOGISTIC v1 (%12) -> %14 "si": f32[1,2]
          #7 TANH v1 (%13) -> %15 "tf": f32[1,2]
          output %14
          output %15

        """

    func testSplitOfFullyConnectedGatesGolden() throws {
        let given = try IRParser.parse(Self.given)
        var m = given
        XCTAssertTrue(try runVerified([SplitFullyConnectedGates()], on: &m))
        GoldenIR.check("split-fully-connected-gates", given: given, passes: "split-fully-connected-gates", result: m)
        let names = m.subgraphs[0].ops.filter { !$0.isErased }.map(\.name)
        XCTAssertEqual(names.filter { $0 == "FULLY_CONNECTED" }.count, 4)
        XCTAssertFalse(names.contains("SPLIT"))
        // The same dot products and sums in the same order: bit-exact in float.
        for (x, h) in [([Float(0.5), -2], [Float(3)]), ([1.25, 1e-3], [-0.7]), ([-3, 7], [0.1])] {
            XCTAssertEqual(try runFloatOutputs(given, [x, h]), try runFloatOutputs(m, [x, h]))
        }
    }

    /// A gate that also feeds another op cannot move: the whole vector is still needed.
    func testSharedPreActivationStays() throws {
        var m = try IRParser.parse(Self.given.replacingOccurrences(of: "output %15", with: "output %15\n  output %10"))
        XCTAssertFalse(try runVerified([SplitFullyConnectedGates()], on: &m))
    }

    /// A SPLIT of a graph input (no FULLY_CONNECTED behind it) stays.
    func testSplitWithoutFullyConnectedStays() throws {
        let plain = """
            subgraph 0 "main"
              input %0 "x": f32[1,4]
              const %1 "axis": i32[] = [1]
              #0 SPLIT v1 (%1, %0) -> %2 "a": f32[1,2], %3 "b": f32[1,2]
              output %2
              output %3

            """
        var m = try IRParser.parse(plain)
        XCTAssertFalse(try runVerified([SplitFullyConnectedGates()], on: &m))
    }
}
