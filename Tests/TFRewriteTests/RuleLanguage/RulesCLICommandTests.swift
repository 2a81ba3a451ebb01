import Foundation
import XCTest

@testable import TFRewrite

/// `tfrewrite rules check` and the convert command's pipeline control flags.
final class RulesCLICommandTests: XCTestCase {
    let examples = RuleExamples.directory.path
    func fixture(_ name: String) -> String { TestPaths.fixtures.appendingPathComponent(name).path }

    func testRulesCheckPrintsOneLinePerRule() throws {
        let r = try runTool(["rules", "check", "\(examples)/fuse_activation.yaml"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 4, r.stdout)
        XCTAssertTrue(lines[0].hasPrefix("rule fuse-relu ("), String(lines[0]))
        XCTAssertTrue(lines[0].contains("fuse_activation.yaml:10): matches RELU ← CONV_2D|DEPTHWISE_CONV_2D"), String(lines[0]))
        XCTAssertTrue(lines[3].hasSuffix("ok: 3 rules, 0 passes"), String(lines[3]))
    }

    func testRulesCheckReportsTheFirstProblemWithItsLine() throws {
        let dir = try TestPaths.temporaryDirectory()
        let file = dir.appendingPathComponent("bad.yaml")
        try """
            rules:
              - name: r
                match: { op: RELU, inputs: [x] }
                rewrite:
                  - set: { x.nmae: "y" }
            """.write(to: file, atomically: true, encoding: .utf8)
        let r = try runTool(["rules", "check", "bad.yaml"], cwd: dir)
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stdout, "")
        XCTAssertTrue(r.stderr.hasPrefix("tfrewrite: error: bad.yaml:5: rule r: set: tensors have no settable field 'nmae'"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1)
    }

    func testListPassesShowsBuiltInsAndRules() throws {
        let r = try runTool(["--list-passes", "--rules", "\(examples)/fold_batch_norm.yaml"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for name in ["conv-to-depthwise", "fold-batch-norm", "fuse-activation", "legalize-op-versions", "custom-rules", "fold-batch-norm-scale", "fold-bias-sub-new-bias"] {
            XCTAssertTrue(r.stdout.split(separator: "\n").contains { $0.hasPrefix(name + " ") }, "\(name) missing:\n\(r.stdout)")
        }
        XCTAssertTrue(r.stdout.contains("[rule] MUL(linear op, per-channel constant) -> scaled weights and bias"), r.stdout)
        XCTAssertTrue(r.stdout.contains("[import] "), r.stdout)
    }

    func testUnknownDisabledPassIsAUsageError() throws {
        let out = try TestPaths.temporaryDirectory().appendingPathComponent("o.tflite").path
        let r = try runTool([fixture("micro_speech_int8.tflite"), "-o", out, "--rules", "micro_speech", "--disable-pass", "conv-to-dephtwise"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "tfrewrite: error: --disable-pass conv-to-dephtwise: no pass or rule has this name (see --list-passes)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func testDisablingAPassChangesTheResult() throws {
        let out = try TestPaths.temporaryDirectory().appendingPathComponent("o.tflite").path
        // Without conv-to-depthwise the micro_speech target cannot run the CONV_2D: refused.
        let r = try runTool([fixture("micro_speech_int8.tflite"), "-o", out, "--rules", "micro_speech", "--disable-pass", "conv-to-depthwise"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("cannot run 1 op(s): CONV_2D"), r.stderr)
    }

    func testYamlRuleReplacesTheBuiltInPassOnTheCommandLine() throws {
        let dir = try TestPaths.temporaryDirectory()
        let a = dir.appendingPathComponent("a.tflite").path, b = dir.appendingPathComponent("b.tflite").path
        // micro_speech with its built-in conv-to-depthwise disabled, plus the YAML rule.
        let rules = dir.appendingPathComponent("yaml.yaml")
        try "extends: \(examples)/conv_to_depthwise.yaml\n".write(to: rules, atomically: true, encoding: .utf8)
        let builtin = try runTool([fixture("micro_speech_int8.tflite"), "-o", a, "--rules", "micro_speech"])
        XCTAssertEqual(builtin.status, 0, builtin.stderr)
        let yaml = try runTool([fixture("micro_speech_int8.tflite"), "-o", b, "--rules", rules.path, "--rules", "micro_speech", "--stats"])
        XCTAssertEqual(yaml.status, 0, yaml.stderr)
        XCTAssertTrue(yaml.stderr.contains("stats: conv-to-depthwise: 1"), yaml.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a)), try Data(contentsOf: URL(fileURLWithPath: b)))
    }

    func testPrintIRAfterAndStats() throws {
        let out = try TestPaths.temporaryDirectory().appendingPathComponent("o.tflite").path
        let r = try runTool([fixture("micro_speech_int8.tflite"), "-o", out, "--rules", "micro_speech", "--print-ir-after", "conv-to-depthwise", "--stats"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("// IR after conv-to-depthwise\nsubgraph 0"), r.stderr)
        XCTAssertFalse(r.stderr.contains("// IR after cleanup"))
        XCTAssertTrue(r.stderr.contains("#1 DEPTHWISE_CONV_2D v3"), r.stderr)
        XCTAssertTrue(r.stderr.contains("stats: conv-to-depthwise: 1"), r.stderr)
        let all = try runTool([fixture("micro_speech_int8.tflite"), "-o", out, "--rules", "micro_speech", "--print-ir-after", "all"])
        // The five passes of micro_speech, then check-target: the target check is a pass too.
        XCTAssertEqual(all.stderr.components(separatedBy: "// IR after ").count - 1, 6, "one IR per pass of micro_speech")
        XCTAssertTrue(all.stderr.contains("// IR after check-target"), all.stderr)
    }

    func testImportPassesCanBeDisabledAndShown() throws {
        let out = try TestPaths.temporaryDirectory().appendingPathComponent("o.tflite").path
        let r = try runTool([RuleExamples.graphDef("bn_net"), "-o", out, "--disable-pass", "fuse-activation", "--stats", "--print-ir-after", "fold-batch-norm"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("// IR after fold-batch-norm"), r.stderr)
        XCTAssertTrue(r.stderr.contains("stats: fold-batch-norm: "), r.stderr)
        XCTAssertFalse(r.stderr.contains("stats: fuse-activation"), r.stderr)
        let m = try TFLiteImporter.load(path: out)
        let names = m.subgraphs[0].ops.map(\.name)
        XCTAssertTrue(names.contains("RELU6") && names.contains("RELU"), "\(names)")
        // Same rules file rule as a custom pass, run through the CLI.
        let fused = try runTool([RuleExamples.graphDef("bn_net"), "-o", out, "--disable-pass", "fuse-activation", "--rules", "\(examples)/fuse_activation.yaml", "--stats"])
        XCTAssertEqual(fused.status, 0, fused.stderr)
        XCTAssertTrue(fused.stderr.contains("stats: fuse-relu: 1") && fused.stderr.contains("stats: fuse-relu6: 1"), fused.stderr)
        XCTAssertFalse(try TFLiteImporter.load(path: out).subgraphs[0].ops.map(\.name).contains("RELU6"))
    }

    func testListPassesNeedsNoModelButConvertDoes() throws {
        let r = try runTool(["convert"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("Missing expected argument '<input>'"), r.stderr)
    }
}
