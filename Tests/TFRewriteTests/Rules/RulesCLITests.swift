import Foundation
import XCTest

@testable import TFRewrite

/// `tfrewrite IN -o OUT --rules R`, `check`, C array and resolver output, through the binary.
final class RulesCLITests: XCTestCase {
    var dir: URL!
    let speech = TestPaths.fixtures.appendingPathComponent("micro_speech_int8.tflite").path
    let dsCNN = TestPaths.fixtures.appendingPathComponent("ds_cnn_int8.tflite").path

    override func setUpWithError() throws {
        try requireTool()
        dir = try TestPaths.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func testRepairForMicroSpeechThenCheckPasses() throws {
        let before = try runTool(["check", speech, "--rules", "micro_speech"])
        XCTAssertEqual(before.status, 1, before.stderr)
        XCTAssertTrue(before.stdout.contains("CONV_2D #1 is not in the target micro_speech (tflm); its input has 1 channel: conv-to-depthwise rewrites it"), before.stdout)

        let r = try runTool([speech, "-o", path("out.tflite"), "--rules", "micro_speech", "--emit-resolver", path("resolver.h")])
        XCTAssertEqual(r.status, 0, r.stderr)
        // One summary line: ops before and after, the passes that changed the model, sizes.
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("-> \(path("out.tflite")): 5 -> 4 ops; changed by conv-to-depthwise"), r.stderr)
        let after = try runTool(["check", path("out.tflite"), "--rules", "micro_speech"])
        XCTAssertEqual(after.status, 0, after.stdout + after.stderr)
        let resolver = try String(contentsOfFile: path("resolver.h"), encoding: .utf8)
        XCTAssertTrue(resolver.contains("tflite::MicroMutableOpResolver<kOutOpCount>"), resolver)
        XCTAssertTrue(resolver.contains("constexpr unsigned int kOutOpCount = 4;"), resolver)
        for m in ["AddReshape", "AddDepthwiseConv2D", "AddFullyConnected", "AddSoftmax"] { XCTAssertTrue(resolver.contains("op_resolver.\(m)()"), m) }
        XCTAssertFalse(resolver.contains("AddConv2D"))
    }

    func testTargetFailureWritesNothingAndExits2() throws {
        let out = path("ds.tflite")
        let r = try runTool([dsCNN, "-o", out, "--rules", "micro_speech", "--batch", "1"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.hasPrefix("tfrewrite: error: \(dsCNN): after the passes, the target micro_speech (tflm) cannot run"), r.stderr)
        XCTAssertTrue(r.stderr.contains("AVERAGE_POOL_2D #"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    func testBadRulesFileIsOneLineWithFileAndLine() throws {
        let rules = try writeTemporary("target:\n  runtime: tflm\n  ops: { CONV_2D: 3, NOT_AN_OP: 1 }\n", name: "bad.yaml", in: dir)
        let r = try runTool([speech, "-o", path("x.tflite"), "--rules", rules])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.hasPrefix("tfrewrite: error: \(rules):3: unknown op 'NOT_AN_OP'"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1)
        let c = try runTool(["check", speech, "--rules", rules])
        XCTAssertEqual(c.status, 2)
        let unknown = try runTool(["check", speech, "--rules", "no_such_rules"])
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(unknown.stderr.contains("unknown rules 'no_such_rules'"), unknown.stderr)
    }

    func testCheckJSONAndDefaultRules() throws {
        let r = try runTool(["check", dsCNN, "--json"])
        XCTAssertEqual(r.status, 1, r.stderr)
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(obj["rules"] as? [String], ["Rules/micro.yaml"])
        XCTAssertEqual((obj["findings"] as? [[String: Any]])?.compactMap { $0["code"] as? String }, ["shape-chain", "shape-chain"])
        let fixed = try runTool([dsCNN, "-o", path("ds.tflite"), "--rules", "micro", "--batch", "1"])
        XCTAssertEqual(fixed.status, 0, fixed.stderr)
        XCTAssertEqual(try runTool(["check", path("ds.tflite")]).status, 0)
    }

    func testCArrayOutputWithArrayName() throws {
        let r = try runTool([speech, "-o", path("speech.cc"), "--rules", "micro_speech", "--array-name", "g_model"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let source = try String(contentsOfFile: path("speech.cc"), encoding: .utf8)
        let header = try String(contentsOfFile: path("speech.h"), encoding: .utf8)
        XCTAssertTrue(source.contains("#include \"speech.h\""))
        XCTAssertTrue(source.contains("alignas(16) const unsigned char g_model[] = {"))
        XCTAssertTrue(header.contains("extern const unsigned int g_model_len;"))
        // The array is the repaired model: same bytes as writing the .tflite.
        let t = try runTool([speech, "-o", path("speech.tflite"), "--rules", "micro_speech"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path("speech.tflite")))
        XCTAssertTrue(source.contains("const unsigned int g_model_len = \(bytes.count);"))
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/cc") {
            let c = try shell("/usr/bin/cc", ["-c", "speech.cc", "-o", "speech.o"], in: dir)
            XCTAssertEqual(c.status, 0, c.stderr)
        }
    }

    func testUsageErrors() throws {
        let batchWithoutRules = try runTool([speech, "-o", path("a.tflite"), "--batch", "1"])
        XCTAssertEqual(batchWithoutRules.status, 2)
        let zeroBatch = try runTool([speech, "-o", path("a.tflite"), "--rules", "micro", "--batch", "0"])
        XCTAssertEqual(zeroBatch.status, 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("a.tflite")))
    }

    func testVerifyAfterEachPassEnvironment() throws {
        let p = Process()
        p.executableURL = TestPaths.executable
        p.arguments = [dsCNN, "-o", path("v.tflite"), "--rules", "micro", "--batch", "1"]
        p.environment = ["TFREWRITE_VERIFY": "1"]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
    }

    /// TFREWRITE_VERIFY also holds without --rules: a GraphDef import runs passes of its own.
    func testVerifyAfterEachPassEnvironmentWithoutRules() throws {
        let graph = TestPaths.fixtures.appendingPathComponent("graphdef/tiny_conv.pb").path
        func stats(verify: Bool) throws -> String {
            let r = try runProcess(TestPaths.executable, [graph, "-o", path("g.tflite"), "--stats"],
                                   environment: verify ? ["TFREWRITE_VERIFY": "1"] : [:])
            XCTAssertEqual(r.status, 0, r.stderr)
            return r.stderr
        }
        XCTAssertTrue(try stats(verify: true).contains(#/stats: IR verifier ran [1-9][0-9]* time\(s\)/#))
        XCTAssertFalse(try stats(verify: false).contains("IR verifier"))
    }
}

/// The built-in rules come from the copy compiled into the library, wherever the binary is
/// installed and whatever directory it runs in.
final class EmbeddedRulesCLITests: XCTestCase {
    func testBuiltinRulesWorkAwayFromThePackage() throws {
        try checkMicroSpeechUsesTheBuiltin(workingDirectory: nil)
    }

    /// Run inside someone else's checkout whose Rules/micro_speech.yaml registers CONV_2D: the
    /// binary must still check against the built-in four ops (the walk up from the working
    /// directory used to pick that file up, and `check` then passed).
    func testAStrangersRulesFolderIsIgnored() throws {
        let checkout = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: checkout) }
        let rules = checkout.appendingPathComponent("Rules")
        let deep = checkout.appendingPathComponent("src/deep")
        try FileManager.default.createDirectory(at: rules, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: deep, withIntermediateDirectories: true)
        for name in ["micro", "micro_speech"] {
            var text = try XCTUnwrap(BuiltinRules.text(name)?.text)
            text = text.replacingOccurrences(of: "ops: { RESHAPE: any,", with: "ops: { CONV_2D: any, RESHAPE: any,")
            try text.write(to: rules.appendingPathComponent("\(name).yaml"), atomically: true, encoding: .utf8)
        }
        // The planted file is valid and would let CONV_2D pass: read by path, it does.
        let speech = TestPaths.fixtures.appendingPathComponent("micro_speech_int8.tflite").path
        let byPath = try runTool(["check", speech, "--rules", rules.appendingPathComponent("micro_speech.yaml").path])
        XCTAssertEqual(byPath.status, 0, byPath.stdout + byPath.stderr)
        try checkMicroSpeechUsesTheBuiltin(workingDirectory: checkout)
        try checkMicroSpeechUsesTheBuiltin(workingDirectory: deep)
    }

    /// Copies the binary to a fresh folder, runs `check --rules micro_speech` on the micro_speech
    /// fixture and expects the built-in profile's finding (CONV_2D → conv-to-depthwise).
    func checkMicroSpeechUsesTheBuiltin(workingDirectory: URL?, file: StaticString = #filePath, line: UInt = #line) throws {
        try requireTool()
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let exe = dir.appendingPathComponent("tfrewrite")
        try FileManager.default.copyItem(at: TestPaths.executable, to: exe)
        let speech = TestPaths.fixtures.appendingPathComponent("micro_speech_int8.tflite").path
        let p = Process()
        p.executableURL = exe
        p.arguments = ["check", speech, "--rules", "micro_speech", "--json"]
        p.currentDirectoryURL = workingDirectory ?? dir
        let out = Pipe()
        p.standardOutput = out
        p.standardError = Pipe()
        do { try p.run() } catch { throw XCTSkip("cannot run a copy of the binary: \(error)") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 1, file: file, line: line)
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any], file: file, line: line)
        XCTAssertEqual(obj["rules"] as? [String], ["Rules/micro_speech.yaml"], file: file, line: line)
        XCTAssertEqual((obj["findings"] as? [[String: Any]])?.first?["fix_pass"] as? String, "conv-to-depthwise", file: file, line: line)
    }
}
