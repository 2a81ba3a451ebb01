import TestSupport
import XCTest

@testable import TFRewrite

/// fold-input-normalization-for-int8: a per-feature Normalization with scales far apart folds
/// into the first layer (float results change by rounding only); close scales and per-tensor
/// steps stay for the quantizer and the input quantization.
extension Conv1DFoldTests {
    func normalizedDense(inverseStd: String) throws -> Model {
        try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": f32[1,4]
              const %1 "rescaling/scale": f32[] = [0.01]
              const %2 "normalization/mean": f32[4] = [0.5, 3.0, -1.25, 0.01]
              const %3 "normalization/inv_std": f32[4] = \(inverseStd)
              const %4 "w": f32[2,4] = [1.1, -0.53, 0.27, 2.9, -1.7, 0.71, 1.23, -0.29]
              const %5 "b": f32[2] = [0.1, -0.1]
              #0 MUL v1 (%0, %1) -> %6 "rescaling/mul": f32[1,4]
              #1 SUB v1 (%6, %2) -> %7 "normalization/Sub": f32[1,4]
              #2 MUL v1 (%7, %3) -> %8 "normalization/truediv": f32[1,4]
              #3 FULLY_CONNECTED v1 {act=RELU} (%8, %4, %5) -> %9 "dense": f32[1,2]
              output %9

            """)
    }

    func testPerFeatureNormalizationFoldsIntoDenseForInt8Golden() throws {
        let given = try normalizedDense(inverseStd: "[0.01, 2.0, 300.0, 0.5]")
        var m = given
        XCTAssertTrue(try runVerified([FoldInputNormalizationForInt8(), Cleanup()], on: &m))
        GoldenIR.check("fold-input-normalization-for-int8.dense", given: given, passes: "fold-input-normalization-for-int8, cleanup", result: m)
        // The per-tensor Rescaling stays for fold-normalization-into-input-quantization.
        XCTAssertEqual(liveOpNames(m), ["MUL", "FULLY_CONNECTED"])
        try assertSameOutputs(given, m, inputShape: [1, 4], range: -100...100, tolerance: 1e-5)
    }

    func testCloseScalesStayForTheQuantizer() throws {
        var m = try normalizedDense(inverseStd: "[0.5, 2.0, 30.0, 0.25]")
        XCTAssertFalse(try runVerified([FoldInputNormalizationForInt8()], on: &m))
        XCTAssertEqual(liveOpNames(m), ["MUL", "SUB", "MUL", "FULLY_CONNECTED"])
    }

    /// Only int8 conversions with an int8 input whose rules fold input preprocessing run it.
    func testPipelineRunsItOnlyForInt8Input() throws {
        let rules = try RuleSet.load(["micro"])
        func names(floatIO: Bool?) throws -> [String] {
            let q = floatIO.map { QuantizeInt8Pass(calibration: "random:4", floatIO: $0) }
            return try PipelineBuilder.conversion(PipelineRequest(ruleSet: rules, quantization: q)).passes.map(\.name)
        }
        XCTAssertTrue(try names(floatIO: false).contains(FoldInputNormalizationForInt8.name))
        XCTAssertFalse(try names(floatIO: true).contains(FoldInputNormalizationForInt8.name))
        XCTAssertFalse(try names(floatIO: nil).contains(FoldInputNormalizationForInt8.name))
    }
}
