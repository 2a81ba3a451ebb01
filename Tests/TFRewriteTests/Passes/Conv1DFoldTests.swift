import TestSupport
import XCTest

@testable import TFRewrite

/// fold-through-reshape, expand-dims-to-reshape and fold-input-normalization: the Conv1D and
/// Keras preprocessing rewrites.
final class Conv1DFoldTests: XCTestCase {
    /// A Keras Conv1D (2 → 3 channels, kernel 2) as TF's GraphDef has it once imported: the
    /// bias, batch norm and RELU after the Squeeze.
    func conv1D(padding: String = "SAME") throws -> Model {
        try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": f32[1,4,2]
              const %1 "ExpandDims/shape": i32[4] = [1, 1, 4, 2]
              const %2 "w": f32[3,1,2,2] = [0.5, -1.0, 0.25, 2.0, -0.75, 1.5, 1.0, 0.125, -2.0, 0.5, 0.375, -0.25]
              const %3 "Squeeze/shape": i32[3] = [1, 4, 3]
              const %4 "bias": f32[3] = [0.1, -0.2, 0.3]
              const %5 "bn/mul": f32[3] = [1.5, 0.5, -2.0]
              const %6 "bn/sub": f32[1,1,3] = [0.25, -0.5, 1.0]
              #0 RESHAPE v1 (%0, %1) -> %7 "ExpandDims": f32[1,1,4,2]
              #1 CONV_2D v1 {padding=\(padding), stride=1x1, dilation=1x1} (%7, %2, %none) -> %8 "conv": f32[1,1,4,3]
              #2 RESHAPE v1 (%8, %3) -> %9 "Squeeze": f32[1,4,3]
              #3 ADD v1 (%9, %4) -> %10 "BiasAdd": f32[1,4,3]
              #4 MUL v1 (%10, %5) -> %11 "bn/mul_1": f32[1,4,3]
              #5 ADD v1 (%11, %6) -> %12 "bn/add_1": f32[1,4,3]
              #6 RELU v1 (%12) -> %13 "Relu": f32[1,4,3]
              output %13

            """)
    }

    func testConv1DBiasAndBatchNormFoldIntoTheConvGolden() throws {
        let given = try conv1D()
        var m = given
        XCTAssertTrue(try runVerified([FoldThroughReshape(), FuseActivation(), Cleanup()], on: &m))
        GoldenIR.check("fold-through-reshape.conv1d", given: given, passes: "fold-through-reshape, fuse-activation, cleanup", result: m)
        XCTAssertEqual(liveOpNames(m), ["RESHAPE", "CONV_2D", "RESHAPE"])
        try assertSameOutputs(given, m, inputShape: [1, 4, 2], tolerance: 1e-6)
    }

    func testNothingMovesWithoutAFoldableProducer() throws {
        // The Squeeze reads the graph input, not a conv: nothing to fold, nothing reordered.
        var m = try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": f32[1,1,4,3]
              const %1 "shape": i32[3] = [1, 4, 3]
              const %2 "c": f32[3] = [1.0, 2.0, 3.0]
              #0 RESHAPE v1 (%0, %1) -> %3 "Squeeze": f32[1,4,3]
              #1 ADD v1 (%3, %2) -> %4 "add": f32[1,4,3]
              output %4

            """)
        XCTAssertFalse(try runVerified([FoldThroughReshape()], on: &m))
    }

    func testAReshapeThatMovesChannelsBlocksTheFold() throws {
        // [1,1,4,3] → [1,3,4]: the last axis is no longer the conv's channels.
        var m = try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": f32[1,1,4,2]
              const %1 "w": f32[3,1,1,2] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
              const %2 "shape": i32[3] = [1, 3, 4]
              const %3 "c": f32[4] = [1.0, 2.0, 3.0, 4.0]
              #0 CONV_2D v1 {padding=VALID, stride=1x1, dilation=1x1} (%0, %1, %none) -> %4 "conv": f32[1,1,4,3]
              #1 RESHAPE v1 (%4, %2) -> %5 "r": f32[1,3,4]
              #2 ADD v1 (%5, %3) -> %6 "add": f32[1,3,4]
              output %6

            """)
        XCTAssertFalse(try runVerified([FoldThroughReshape()], on: &m))
    }

    func testExpandDimsAndSqueezeBecomeReshapeGolden() throws {
        let given = try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": i8[1,8,8] q(0.5, -3)
              const %1 "axis": i32[] = [1]
              #0 EXPAND_DIMS v1 (%0, %1) -> %2 "ExpandDims": i8[1,1,8,8] q(0.5, -3)
              #1 SQUEEZE v1 {squeeze_dims=[1]} (%2) -> %3 "Squeeze": i8[1,8,8] q(0.5, -3)
              output %3

            """)
        var m = given
        XCTAssertTrue(try runVerified([ExpandDimsToReshape(), Cleanup()], on: &m))
        GoldenIR.check("expand-dims-to-reshape", given: given, passes: "expand-dims-to-reshape, cleanup", result: m)
        XCTAssertEqual(liveOpNames(m), ["RESHAPE", "RESHAPE"])
        let input = RuntimeTensor(shape: [1, 8, 8], int8s: (0..<64).map { Int8($0 - 32) })!
        XCTAssertEqual(try Interpreter(model: m).run([input])[0], try Interpreter(model: given).run([input])[0])
    }

    func testDynamicExpandDimsStays() throws {
        var m = try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": f32[?,8]
              const %1 "axis": i32[] = [1]
              #0 EXPAND_DIMS v1 (%0, %1) -> %2 "e": f32[?,1,8]
              output %2

            """)
        XCTAssertFalse(try runVerified([ExpandDimsToReshape()], on: &m))
    }

    /// A Rescaling by 1/16 and a per-feature scale by powers of two before a Dense layer fold
    /// into its weights, and the layer computes the same bits.
    func testPowerOfTwoRescalingFoldsIntoDenseBitExactGolden() throws {
        let given = try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": f32[1,4]
              const %1 "rescaling/scale": f32[] = [0.0625]
              const %2 "normalization/inv_std": f32[4] = [2.0, 4.0, 0.5, 8.0]
              const %3 "w": f32[2,4] = [1.1, -0.53, 0.27, 2.9, -1.7, 0.71, 1.23, -0.29]
              const %4 "b": f32[2] = [0.1, -0.1]
              #0 MUL v1 (%0, %1) -> %5 "rescaling/mul": f32[1,4]
              #1 MUL v1 (%5, %2) -> %6 "normalization/mul": f32[1,4]
              #2 FULLY_CONNECTED v1 {act=RELU} (%6, %3, %4) -> %7 "dense": f32[1,2]
              output %7

            """)
        var m = given
        XCTAssertTrue(try runVerified([FoldInputNormalization(), Cleanup()], on: &m))
        GoldenIR.check("fold-input-normalization.dense", given: given, passes: "fold-input-normalization, cleanup", result: m)
        XCTAssertEqual(liveOpNames(m), ["FULLY_CONNECTED"])
        try assertSameOutputs(given, m, inputShape: [1, 4], range: 0...16, tolerance: 0)
    }

    /// Normalization's shift (x − μ) and scales that are not powers of two would change the float
    /// results if folded (W·x + (b − W·μ) rounds differently): they stay.
    func testNormalizationThatWouldRoundStays() throws {
        for scale in ["0.0625", "0.01"] {
            var m = try IRParser.parse("""
                subgraph 0 "main"
                  input %0 "x": f32[1,4]
                  const %1 "rescaling/scale": f32[] = [\(scale)]
                  const %2 "normalization/mean": f32[4] = [0.5, 0.25, 0.75, 0.125]
                  const %3 "normalization/inv_std": f32[4] = [2.0, 4.0, 1.5, 3.0]
                  const %4 "w": f32[2,4] = [1.0, -0.5, 0.25, 2.0, -1.5, 0.75, 1.25, -0.25]
                  const %5 "b": f32[2] = [0.1, -0.1]
                  #0 MUL v1 (%0, %1) -> %6 "rescaling/mul": f32[1,4]
                  #1 SUB v1 (%6, %2) -> %7 "normalization/Sub": f32[1,4]
                  #2 MUL v1 (%7, %3) -> %8 "normalization/truediv": f32[1,4]
                  #3 FULLY_CONNECTED v1 {act=RELU} (%8, %4, %5) -> %9 "dense": f32[1,2]
                  output %9

                """)
            XCTAssertFalse(try runVerified([FoldInputNormalization()], on: &m), scale)
        }
    }

    /// A power-of-two scale whose product would lose bits of a tiny weight (subnormal) stays.
    func testAWeightThatWouldUnderflowBlocksTheFold() throws {
        var m = try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": f32[1,2]
              const %1 "scale": f32[] = [0.0009765625]
              const %2 "w": f32[1,2] = [1.5e-38, 1.0]
              #0 MUL v1 (%0, %1) -> %3 "rescaling/mul": f32[1,2]
              #1 FULLY_CONNECTED v1 (%3, %2, %none) -> %4 "dense": f32[1,1]
              output %4

            """)
        XCTAssertFalse(try runVerified([FoldInputNormalization()], on: &m))
    }

    /// A per-channel power-of-two scale moves past a VALID Conv1D's ExpandDims into the CONV_2D;
    /// the shift before it stays.
    func testPowerOfTwoScaleFoldsIntoAConv1D() throws {
        for padding in ["VALID", "SAME"] {
            let given = try conv1DWithPreprocessing(padding: padding)
            var m = given
            XCTAssertTrue(try runVerified([FoldInputNormalization(), Cleanup()], on: &m))
            XCTAssertEqual(liveOpNames(m), ["MUL", "SUB", "RESHAPE", "CONV_2D"], padding)
            try assertSameOutputs(given, m, inputShape: [1, 4, 2], range: 0...16, tolerance: 0)
        }
    }

    func conv1DWithPreprocessing(padding: String) throws -> Model {
        let outputWidth = padding == "VALID" ? 3 : 4
        return try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": f32[1,4,2]
              const %1 "scale": f32[] = [0.0625]
              const %2 "mean": f32[2] = [0.5, 0.25]
              const %3 "inv_std": f32[2] = [2.0, 4.0]
              const %4 "ExpandDims/shape": i32[4] = [1, 1, 4, 2]
              const %5 "w": f32[3,1,2,2] = [0.5, -1.0, 0.25, 2.0, -0.75, 1.5, 1.0, 0.125, -2.0, 0.5, 0.375, -0.25]
              const %6 "b": f32[3] = [0.1, -0.2, 0.3]
              #0 MUL v1 (%0, %1) -> %7 "rescaling/mul": f32[1,4,2]
              #1 SUB v1 (%7, %2) -> %8 "normalization/Sub": f32[1,4,2]
              #2 MUL v1 (%8, %3) -> %9 "normalization/truediv": f32[1,4,2]
              #3 RESHAPE v1 (%9, %4) -> %10 "ExpandDims": f32[1,1,4,2]
              #4 CONV_2D v1 {padding=\(padding), stride=1x1, dilation=1x1} (%10, %5, %6) -> %11 "conv": f32[1,1,\(outputWidth),3]
              output %11

            """)
    }

    /// Both models on the same random inputs: every output within `tolerance` relative to the
    /// largest output magnitude.
    func assertSameOutputs(_ a: Model, _ b: Model, inputShape: [Int], range: ClosedRange<Float> = -1...1, tolerance: Float, file: StaticString = #filePath, line: UInt = #line) throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<8 {
            let n = inputShape.reduce(1, *)
            let input = RuntimeTensor(shape: inputShape, floats: (0..<n).map { _ in Float.random(in: range, using: &rng) })!
            let want = try XCTUnwrap(try Interpreter(model: a).run([input])[0].floats)
            let got = try XCTUnwrap(try Interpreter(model: b).run([input])[0].floats)
            // Relative to the output's size, but at least 1: the inputs and weights are O(1), so
            // a reassociated sum's rounding is O(1e-7) even where the output itself is tiny (a
            // RELU6 clipping all but one near-zero value made the largest output 5e-4).
            let scale = max(want.map(abs).max() ?? 0, 1)
            for (g, w) in zip(got, want) { XCTAssertLessThanOrEqual(abs(g - w) / scale, tolerance, "\(got) vs \(want)", file: file, line: line) }
        }
    }
}

extension Conv1DFoldTests {
    /// Random weights and per-channel constants: a DEPTHWISE_CONV_2D behind SQUEEZE and a
    /// FULLY_CONNECTED behind EXPAND_DIMS fold the same way, and compute the same.
    func testRandomDepthwiseAndFullyConnectedFoldThroughSqueezeAndExpandDims() throws {
        var rng = SystemRandomNumberGenerator()
        func values(_ n: Int) -> String { (0..<n).map { _ in String(Float.random(in: -2...2, using: &rng)) }.joined(separator: ", ") }
        let depthwise = try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": f32[1,1,4,2]
              const %1 "w": f32[1,1,2,4] = [\(values(8))]
              const %2 "b": f32[4] = [\(values(4))]
              const %3 "m": f32[4] = [\(values(4))]
              const %4 "s": f32[4] = [\(values(4))]
              #0 DEPTHWISE_CONV_2D v1 {padding=SAME, stride=1x1, dilation=1x1, depth_multiplier=2} (%0, %1, %none) -> %5 "dw": f32[1,1,4,4]
              #1 SQUEEZE v1 {squeeze_dims=[1]} (%5) -> %6 "Squeeze": f32[1,4,4]
              #2 SUB v1 (%6, %2) -> %7 "sub": f32[1,4,4]
              #3 MUL v1 (%3, %7) -> %8 "mul": f32[1,4,4]
              #4 ADD v1 (%4, %8) -> %9 "add": f32[1,4,4]
              output %9

            """)
        let fullyConnected = try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": f32[1,3]
              const %1 "w": f32[4,3] = [\(values(12))]
              const %2 "b": f32[4] = [\(values(4))]
              const %3 "axis": i32[] = [1]
              const %4 "m": f32[1,1,4] = [\(values(4))]
              #0 FULLY_CONNECTED v1 (%0, %1, %2) -> %5 "fc": f32[1,4]
              #1 EXPAND_DIMS v1 (%5, %3) -> %6 "e": f32[1,1,4]
              #2 MUL v1 (%6, %4) -> %7 "mul": f32[1,1,4]
              #3 RELU6 v1 (%7) -> %8 "relu6": f32[1,1,4]
              output %8

            """)
        for (given, shape, want) in [(depthwise, [1, 1, 4, 2], ["DEPTHWISE_CONV_2D", "SQUEEZE"]), (fullyConnected, [1, 3], ["FULLY_CONNECTED", "EXPAND_DIMS"])] {
            var m = given
            XCTAssertTrue(try runVerified([FoldThroughReshape(), FuseActivation(), Cleanup()], on: &m))
            XCTAssertEqual(liveOpNames(m), want)
            try assertSameOutputs(given, m, inputShape: shape, tolerance: 1e-6)
        }
    }
}
