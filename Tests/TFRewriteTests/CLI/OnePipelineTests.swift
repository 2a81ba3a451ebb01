import Foundation
import XCTest

@testable import TFRewrite

/// One pipeline: the CLI's flags, rules files and library calls go through `PipelineBuilder`,
/// and the target check and quantization are passes in it.
final class OnePipelineTests: XCTestCase {
    func fixture(_ name: String) -> String { TestPaths.fixtures.appendingPathComponent(name).path }

    func testTheBuilderOrdersRulesExtraPassesTargetCheckAndQuantization() throws {
        struct Mark: GraphPass {
            static let name = "mark"
            static let summary = "does nothing"
            mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool { false }
        }
        let rules = try RuleSet.load(["micro_speech"])
        let q = QuantizeInt8Pass(calibration: "random:1")
        let names = try PipelineBuilder.conversion(PipelineRequest(ruleSet: rules, extraPasses: [Mark()], quantization: q)).passes.map(\.name)
        let ruleNames = try rules.pipeline().passes.map(\.name)
        XCTAssertEqual(ruleNames.last, "legalize-op-versions")
        // The check before quantizing looks at ops and versions, the one after at the kernels too.
        XCTAssertEqual(names, ruleNames.dropLast() + ["mark", "legalize-op-versions", "dequantize-hybrid-weights", "split-concat-fully-connected", "split-fully-connected-gates", "check-target", "quantize-int8", "check-target"])
        let checks = try PipelineBuilder.conversion(PipelineRequest(ruleSet: rules, quantization: q)).passes.compactMap { $0 as? CheckTarget }
        XCTAssertEqual(checks.map(\.kernels), [false, true])
        let unquantized = try PipelineBuilder.conversion(PipelineRequest(ruleSet: rules)).passes.compactMap { $0 as? CheckTarget }
        XCTAssertEqual(unquantized.map(\.kernels), [true])
        // Without a target there is nothing to check; without rules only what was asked for runs.
        XCTAssertEqual(try PipelineBuilder.conversion(PipelineRequest(quantization: q)).passes.map(\.name), ["dequantize-hybrid-weights", "split-concat-fully-connected", "split-fully-connected-gates", "quantize-int8"])
        let skipped = try PipelineBuilder.conversion(PipelineRequest(ruleSet: rules, disabled: ["conv-to-depthwise"])).passes.map(\.name)
        XCTAssertFalse(skipped.contains("conv-to-depthwise"))
        XCTAssertThrowsError(try PipelineBuilder.conversion(PipelineRequest(ruleSet: rules, disabled: ["check-target"])))
    }

    func testQuantizationAndTheTargetCheckAreVisiblePasses() throws {
        let list = try runTool(["--list-passes"])
        XCTAssertEqual(list.status, 0, list.stderr)
        for name in ["quantize-int8", "check-target", "legalize-op-versions", "int8-io"] {
            XCTAssertTrue(list.stdout.split(separator: "\n").contains { $0.hasPrefix(name + " ") }, name)
        }
        let out = try TestPaths.temporaryDirectory().appendingPathComponent("q.tflite").path
        let r = try runTool([fixture("ds_cnn_float.tflite"), "-o", out, "--rules", "micro", "--quantize", "int8",
                             "--calibration", "random:2", "--print-ir-after", "quantize-int8", "--stats"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("// IR after quantize-int8\nsubgraph 0"), r.stderr)
        XCTAssertTrue(r.stderr.contains("stats: quantize-int8: "), r.stderr)
        XCTAssertTrue(r.stderr.contains(": i8["), "the IR printed after quantize-int8 is int8")
    }

    func testTheTargetCheckCannotBeDisabled() throws {
        let out = try TestPaths.temporaryDirectory().appendingPathComponent("x.tflite").path
        let r = try runTool([fixture("micro_speech_int8.tflite"), "-o", out, "--rules", "micro_speech", "--disable-pass", "check-target"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("check-target") && r.stderr.contains("cannot be disabled"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}
