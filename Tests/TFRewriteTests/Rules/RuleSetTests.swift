import Foundation
import XCTest

@testable import TFRewrite

final class RuleSetTests: XCTestCase {
    func testEmbeddedCopiesMatchTheFiles() throws {
        let dir = TestPaths.root.appendingPathComponent("Rules")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertEqual(files.map { String($0.dropLast(5)) }, BuiltinRulesText.files.map(\.name).sorted(),
                       "Rules/*.yaml and the embedded copies differ: run scripts/embed-rules.sh")
        for (name, text) in BuiltinRulesText.files {
            let onDisk = try String(contentsOf: dir.appendingPathComponent("\(name).yaml"), encoding: .utf8)
            XCTAssertEqual(text, onDisk, "Rules/\(name).yaml changed: run scripts/embed-rules.sh")
        }
    }

    func testBuiltinsLoadAndNameTheirSource() throws {
        for name in BuiltinRules.names {
            let set = try RuleSet.load([name])
            let t = try XCTUnwrap(set.target, name)
            XCTAssertEqual(t.runtime, "tflm")
            XCTAssertFalse((t.source ?? "").isEmpty, "\(name) must say where its numbers come from")
            XCTAssertEqual(t.name, name)
            XCTAssertEqual(set.passes.last?.name, "legalize-op-versions", name)
            XCTAssertNoThrow(try set.pipeline(), name)
        }
    }

    func testMicroSpeechRegistersExactlyTheExampleOps() throws {
        let t = try XCTUnwrap(RuleSet.load(["micro_speech"]).target)
        XCTAssertEqual(Set(t.ops.keys), ["RESHAPE", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"])
        XCTAssertFalse(t.checksVersions)
        let passes = try RuleSet.load(["micro_speech"]).passes.map(\.name)
        XCTAssertEqual(passes, ["conv-to-depthwise", "fold-shapes", "simplify-reshapes", "cleanup", "legalize-op-versions"])
    }

    func testVersionedProfileHasTheInt8Minimums() throws {
        let t = try XCTUnwrap(RuleSet.load(["micro_versioned_2020"]).target)
        XCTAssertTrue(t.checksVersions)
        let expected: [String: Int32] = ["CONV_2D": 3, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 4, "SOFTMAX": 2, "AVERAGE_POOL_2D": 2,
                                         "MAX_POOL_2D": 2, "RESHAPE": 1, "QUANTIZE": 1, "DEQUANTIZE": 2]
        for (op, v) in expected { XCTAssertEqual(t.ops[op] ?? nil, v, op) }
        XCTAssertFalse(t.quantization.perChannelFullyConnected)
    }

    func testMicroIgnoresVersionsAndKnowsCurrentKernels() throws {
        let t = try XCTUnwrap(RuleSet.load(["micro"]).target)
        XCTAssertFalse(t.checksVersions)
        XCTAssertGreaterThanOrEqual(t.ops.count, 100)
        for op in ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SHAPE", "STRIDED_SLICE", "PACK", "SignalWindow"] {
            XCTAssertTrue(t.registers(op), op)
        }
        XCTAssertFalse(t.registers("TOPK_V2"))
        XCTAssertFalse(t.quantization.hybrid)
        XCTAssertTrue(t.quantization.perChannelFullyConnected)
    }

    func testLaterFilesExtendEarlierOnes() throws {
        let dir = try TestPaths.temporaryDirectory()
        let extra = try writeTemporary("""
            extends: micro_speech
            target:
              runtime: tflm-custom
              ops: { AVERAGE_POOL_2D: 2, SOFTMAX: false }
              tensor_types: [int8]
            passes:
              - int8-io
            """, name: "extra.yaml", in: dir)
        let set = try RuleSet.load(["micro_speech", extra])
        let t = try XCTUnwrap(set.target)
        // Target fields override, op tables merge (false removes), lists replace.
        XCTAssertEqual(t.runtime, "tflm-custom")
        XCTAssertEqual(Set(t.ops.keys), ["RESHAPE", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D"])
        XCTAssertEqual(t.tensorTypes, [.int8])
        XCTAssertEqual(t.source, try RuleSet.load(["micro_speech"]).target?.source, "fields a later file omits stay")
        // micro_speech is merged once although extra.yaml extends it again; passes append and
        // legalize-op-versions moves to the end.
        XCTAssertEqual(set.passes.map(\.name), ["conv-to-depthwise", "fold-shapes", "simplify-reshapes", "cleanup", "int8-io", "legalize-op-versions"])
        XCTAssertEqual(set.files, ["Rules/micro_speech.yaml", extra])
        XCTAssertEqual(t.name, "extra")
    }

    func testPassOptionsAndLocationsAreKept() throws {
        let set = try RuleSet.parse("""
            passes:
              - fold-shapes: { batch: 1 }
              - legalize-op-versions:
                  check_target: false
              - cleanup
            """, file: "opts.yaml")
        XCTAssertEqual(set.passes.map(\.name), ["fold-shapes", "cleanup", "legalize-op-versions"])
        XCTAssertEqual(set.passes[0].options["batch"], .int(1))
        XCTAssertEqual(set.passes[0].location, SourceLocation(file: "opts.yaml", line: 2, column: 5))
        XCTAssertEqual(set.passes[2].optionLocations["check_target"]?.line, 4)
        XCTAssertNil(set.target)
        let pipeline = try set.pipeline()
        XCTAssertEqual(pipeline.passes.map(\.name), ["fold-shapes", "cleanup", "legalize-op-versions"])
        XCTAssertEqual((pipeline.passes[2] as? LegalizeOpVersions)?.checkTarget, false)
    }

    func testRelativeExtendsResolveAgainstTheFile() throws {
        let dir = try TestPaths.temporaryDirectory()
        let sub = dir.appendingPathComponent("profiles")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        _ = try writeTemporary("target:\n  runtime: base\n  ops: { RESHAPE: any }\n", name: "base.yaml", in: sub)
        let top = try writeTemporary("extends: ./base.yaml\ntarget:\n  ops: { SOFTMAX: 2 }\n", name: "top.yaml", in: sub)
        let t = try XCTUnwrap(RuleSet.load([top], directory: "/").target)
        XCTAssertEqual(t.runtime, "base")
        XCTAssertEqual(t.ops.count, 2)
        XCTAssertEqual(t.ops["SOFTMAX"] ?? nil, 2)
    }

    func testRunChecksTheTargetEvenWithoutLegalize() throws {
        var m = oneOpModel(.softmax(beta: 1), version: 2, inputs: [.i8([1, 4])], outputs: [.i8([1, 4], scale: 1.0 / 256, zp: -128)])
        let set = try RuleSet.parse("target:\n  runtime: tiny\n  ops: { RESHAPE: any }\npasses: []\n", file: "t.yaml")
        XCTAssertThrowsError(try set.run(on: &m)) { e in
            XCTAssertEqual(e as? PassError, .unsupportedByTarget(["SOFTMAX #0: not registered"]))
        }
    }

    func testATargetWithoutOpsDoesNotRestrictOps() throws {
        let set = try RuleSet.parse("target:\n  runtime: any-ops\n  quantization: { hybrid: false }\n", file: "q.yaml")
        let t = try XCTUnwrap(set.target)
        XCTAssertTrue(t.ops.isEmpty)
        var m = oneOpModel(.softmax(beta: 1), version: 2, inputs: [.i8([1, 4])], outputs: [.i8([1, 4], scale: 1.0 / 256, zp: -128)])
        XCTAssertTrue(TargetCheck.problems(m, target: t).isEmpty)
        XCTAssertTrue(ModelCheck.run(m, target: t).isClean)
        XCTAssertNoThrow(try set.run(on: &m))
        XCTAssertTrue(TargetProfile(runtime: "x").registers("ANYTHING"))
    }
}
