import Foundation
import XCTest

/// The one CLI grammar of Docs/cli.md: -o/--output is a file, graph cuts are
/// --input-arrays/--output-arrays (old spellings warn), every command takes every model kind,
/// --json everywhere, -q/-v, "did you mean", --rules NAME.yaml falling back to the built-in.
final class CLIGrammarTests: XCTestCase {
    let fixtures = TestPaths.fixtures
    var speech: String { fixtures.appendingPathComponent("micro_speech_int8.tflite").path }
    var graph: String { fixtures.appendingPathComponent("graphdef/tiny_conv.pb").path }
    var dir: URL!

    override func setUpWithError() throws { dir = try TestPaths.temporaryDirectory() }
    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func json(_ text: String, _ what: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try XCTUnwrap(object as? [String: Any], "\(what): not a JSON object: \(text)")
    }

    func testOldGraphCutSpellingsWarnOnceAndStillWork() throws {
        let new = try runTool([graph, "--input-arrays", "fingerprint_input", "-o", path("new.tflite"), "-q"])
        XCTAssertEqual(new.status, 0, new.stderr)
        let old = try runTool([graph, "--input", "fingerprint_input", "-o", path("old.tflite")])
        XCTAssertEqual(old.status, 0, old.stderr)
        let lines = old.stderr.split(separator: "\n")
        XCTAssertEqual(lines.first, "tfrewrite: warning: --input NAME is deprecated; use --input-arrays NAME (the old spelling goes in the next release)")
        XCTAssertEqual(lines.count, 2, "the warning and the summary: \(old.stderr)")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("new.tflite"))), try Data(contentsOf: URL(fileURLWithPath: path("old.tflite"))))
        // --output next to -o is the old graph-output spelling; alone it is the file.
        let oldOutput = try runTool([graph, "--output", "labels_softmax", "-o", path("o.tflite")])
        XCTAssertTrue(oldOutput.stderr.contains("--output NAME next to -o (a graph node) is deprecated; use --output-arrays NAME"), oldOutput.stderr)
        let longFile = try runTool([speech, "--output", path("long.tflite"), "-q"])
        XCTAssertEqual(longFile.status, 0, longFile.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("long.tflite")))
    }

    func testEveryCommandTakesAGraphDef() throws {
        let check = try runTool(["check", graph, "--rules", "micro"])
        XCTAssertNotEqual(check.status, 2, check.stderr)
        XCTAssertFalse(check.stderr.contains("not a TFLite model"), check.stderr)
        XCTAssertEqual(try runTool(["inspect", graph]).status, 0)
        let run = try runTool(["run", graph, "--input", fixtures.appendingPathComponent("heldout/tiny_conv_inputs.npy").path, "--batch", "-o", path("y.npy")])
        XCTAssertEqual(run.status, 0, run.stderr)
        let diff = try runTool(["diff", graph, graph])
        XCTAssertEqual(diff.status, 0, diff.stdout + diff.stderr)
        let verify = try runTool(["verify", graph, graph, "--count", "2"])
        XCTAssertEqual(verify.status, 0, verify.stderr)
    }

    func testJSONOnEveryCommand() throws {
        let convert = try runTool([speech, "--rules", "micro_speech", "-o", path("c.tflite"), "--json"])
        XCTAssertEqual(convert.status, 0, convert.stderr)
        XCTAssertEqual(convert.stderr, "", "--json replaces the summary line")
        let c = try json(convert.stdout, "convert")
        XCTAssertEqual(c["ops_before"] as? Int, 5)
        XCTAssertEqual(c["ops_after"] as? Int, 4)
        XCTAssertEqual((c["changed_by"] as? [String])?.first, "conv-to-depthwise")
        XCTAssertEqual(c["format"] as? String, "tflite")
        XCTAssertEqual(c["bytes_after"] as? Int, (try FileManager.default.attributesOfItem(atPath: path("c.tflite"))[.size] as? Int))

        let check = try runTool(["check", speech, "--rules", "micro_speech", "--json"])
        XCTAssertEqual(try json(check.stdout, "check")["clean"] as? Bool, false)
        XCTAssertNotNil(try json(try runTool(["inspect", speech, "--json"]).stdout, "inspect")["subgraphs"])
        XCTAssertEqual(try json(try runTool(["inspect", speech, "--verify", "--json"]).stdout, "inspect --verify")["problems"] as? [String], [])
        XCTAssertEqual(try json(try runTool(["diff", speech, speech, "--json"]).stdout, "diff")["identical"] as? Bool, true)
        XCTAssertNotNil(try json(try runTool(["verify", speech, speech, "--count", "2", "--json"]).stdout, "verify")["outputs"])
        let data = fixtures.appendingPathComponent("heldout/tiny_conv_inputs.npy").path
        let run = try runTool(["run", graph, "--input", data, "--batch", "--json"])
        XCTAssertEqual(run.stderr, "")
        let r = try json(run.stdout, "run")
        XCTAssertEqual(r["samples"] as? Int, 100)
        XCTAssertEqual(((r["outputs"] as? [[String: Any]])?.first?["shape"] as? [Int]), [100, 1, 4])
        let rules = try json(try runTool(["rules", "check", "micro_speech", "--json"]).stdout, "rules check")
        XCTAssertEqual(rules["target"] as? String, "micro_speech (tflm)")
        let list = try runTool(["--list-passes", "--json"])
        let passes = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: String]], list.stdout)
        XCTAssertTrue(passes.contains { $0["name"] == "conv-to-depthwise" && $0["kind"] == "pass" }, list.stdout)
    }

    func testQuietAndVerbose() throws {
        let quiet = try runTool([speech, "--rules", "micro_speech", "-o", path("q.tflite"), "-q"])
        XCTAssertEqual(quiet.status, 0)
        XCTAssertEqual(quiet.stderr, "")
        let verbose = try runTool([speech, "--rules", "micro_speech", "-o", path("v.tflite"), "-v"])
        XCTAssertTrue(verbose.stderr.contains("stats: conv-to-depthwise: 1"), verbose.stderr)
        XCTAssertTrue(verbose.stderr.contains("changed by conv-to-depthwise"), verbose.stderr)
        let both = try runTool([speech, "-o", path("b.tflite"), "-q", "-v"])
        XCTAssertEqual(both.status, 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("b.tflite")))
        let runQuiet = try runTool(["run", graph, "--input", fixtures.appendingPathComponent("heldout/tiny_conv_inputs.npy").path, "--batch", "-q"])
        XCTAssertEqual(runQuiet.stderr, "", "run -q prints no summary")
    }

    func testSummaryLineNamesOpsPassesAndSizes() throws {
        let r = try runTool([speech, "--rules", "micro_speech", "-o", path("s.tflite")])
        XCTAssertEqual(r.status, 0, r.stderr)
        let size = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: path("s.tflite"))[.size] as? Int)
        XCTAssertEqual(r.stderr, "tfrewrite: \(speech) -> \(path("s.tflite")): 5 -> 4 ops; changed by conv-to-depthwise, simplify-reshapes, cleanup; 19.0 KiB -> \(String(format: "%.1f", Double(size) / 1024)) KiB\n")
    }

    func testUnknownFlagsSuggestTheClosest() throws {
        for (args, flag, suggestion) in [
            ([speech, "-o", path("x.tflite"), "--input-array", "x"], "--input-array", "--input-arrays"),
            ([speech, "-o", path("x.tflite"), "--calib", "x"], "--calib", "--calibration"),
            (["check", speech, "--rule", "micro"], "--rule", "--rules"),
            (["inspect", speech, "--jsn"], "--jsn", "--json"),
        ] {
            let r = try runTool(args)
            XCTAssertEqual(r.status, 2)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("Unknown option '\(flag)'. Did you mean '\(suggestion)'?"), r.stderr)
        }
    }

    func testRulesYamlFallsBackToTheBuiltinProfile() throws {
        let r = try runTool([speech, "--rules", "micro_speech.yaml", "-o", path("f.tflite")], cwd: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("tfrewrite: note: no rules file micro_speech.yaml; using the built-in profile micro_speech\n"), r.stderr)
        let direct = try runTool([speech, "--rules", "micro_speech", "-o", path("d.tflite"), "-q"])
        XCTAssertEqual(direct.status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("f.tflite"))), try Data(contentsOf: URL(fileURLWithPath: path("d.tflite"))))
        let check = try runTool(["check", speech, "--rules", "Rules/micro_speech.yaml"], cwd: dir)
        XCTAssertEqual(check.status, 1, check.stderr)
        XCTAssertTrue(check.stderr.contains("using the built-in profile micro_speech"), check.stderr)
        // No built-in of that name: the usual error.
        let missing = try runTool([speech, "--rules", "nosuch.yaml", "-o", path("n.tflite")], cwd: dir)
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.contains("nosuch.yaml"), missing.stderr)
    }
}

/// Docs/cli.md's JSON examples have exactly the keys the commands print.
final class CLIDocumentationTests: XCTestCase {
    /// The first ```json block after `heading`, with `// comments` removed, parsed.
    func documentedJSON(after heading: String) throws -> [String: Any] {
        let doc = try String(contentsOf: TestPaths.root.appendingPathComponent("Docs/cli.md"), encoding: .utf8)
        let section = try XCTUnwrap(doc.range(of: "\n\(heading)\n"), "\(heading) missing from Docs/cli.md")
        let rest = doc[section.upperBound...]
        let start = try XCTUnwrap(rest.range(of: "```json\n"))
        let end = try XCTUnwrap(rest[start.upperBound...].range(of: "```"))
        let text = rest[start.upperBound..<end.lowerBound].split(separator: "\n").map { line in
            line.range(of: "//").map { String(line[..<$0.lowerBound]) } ?? String(line)
        }.joined(separator: "\n")
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
    }

    func actualJSON(_ args: [String]) throws -> [String: Any] {
        let r = try runTool(args)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout + r.stderr)
    }

    func testConvertRunAndCheckSchemasMatchTheDocs() throws {
        let dir = try TestPaths.temporaryDirectory()
        let speech = TestPaths.fixtures.appendingPathComponent("micro_speech_int8.tflite").path
        let convert = try actualJSON([speech, "--rules", "micro_speech", "-o", dir.appendingPathComponent("m.tflite").path, "--json"])
        XCTAssertEqual(Set(convert.keys), Set(try documentedJSON(after: "## convert").keys))
        let graph = TestPaths.fixtures.appendingPathComponent("graphdef/tiny_conv.pb").path
        let data = TestPaths.fixtures.appendingPathComponent("heldout/tiny_conv_inputs.npy").path
        let run = try actualJSON(["run", graph, "--input", data, "--batch", "-o", dir.appendingPathComponent("y.npy").path, "--json"])
        XCTAssertEqual(Set(run.keys), Set(try documentedJSON(after: "## run").keys))
        let check = try actualJSON(["check", speech, "--rules", "micro_speech", "--json"])
        XCTAssertEqual(Set(check.keys), Set(try documentedJSON(after: "## check").keys))
        let finding = try XCTUnwrap((check["findings"] as? [[String: Any]])?.first)
        let documented = try XCTUnwrap((try documentedJSON(after: "## check")["findings"] as? [[String: Any]])?.first)
        XCTAssertEqual(Set(finding.keys), Set(documented.keys))
    }
}
