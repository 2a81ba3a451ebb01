import Foundation
import XCTest

@testable import TFRewrite

/// `tfrewrite show` and `convert --report` as a user runs them: outputs by extension, the
/// same bytes on every run, nothing written on a usage error, and --report leaving the
/// converted model as it is without it.
final class ShowCommandTests: XCTestCase {
    func fixture(_ name: String) -> String { TestPaths.fixtures.appendingPathComponent(name).path }

    func testPageAndImageAreWrittenTheSameEveryRun() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["a.html", "a.svg"] {
            let out = dir.appendingPathComponent(name).path
            var runs: [Data] = []
            for _ in 0..<2 {
                let r = try runTool(["show", fixture("ds_cnn_float.tflite"), "-o", out])
                XCTAssertEqual(r.status, 0, r.stderr)
                XCTAssertEqual(r.stderr, "tfrewrite: wrote \(out): ds_cnn_float.tflite: 18 ops in 1 subgraph(s)\n")
                runs.append(try Data(contentsOf: URL(fileURLWithPath: out)))
            }
            XCTAssertEqual(runs[0], runs[1], name)
        }
        // A TensorFlow graph is drawn after import, like every command reads it.
        let r = try runTool(["show", fixture("graphdef/tiny_conv.pb"), "-o", dir.appendingPathComponent("g.html").path, "-q"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")
    }

    func testBeforeAfterJSON() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let repaired = dir.appendingPathComponent("m.tflite").path
        XCTAssertEqual(try runTool([fixture("micro_speech_float.tflite"), "--rules", "micro", "-o", repaired, "-q"]).status, 0)
        let out = dir.appendingPathComponent("d.html").path
        let r = try runTool(["show", fixture("micro_speech_float.tflite"), repaired, "-o", out, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["format"] as? String, "html")
        XCTAssertEqual(json["ops"] as? [Int], [5, 4])
        XCTAssertEqual(json["changed"] as? Int, 2, "CONV_2D → DEPTHWISE_CONV_2D, and the FULLY_CONNECTED now reading a 4-D tensor")
        XCTAssertEqual(json["removed"] as? Int, 1, "the folded RESHAPE")
        XCTAssertEqual(json["added"] as? Int, 0)
    }

    func testUsageErrorsWriteNothing() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let png = dir.appendingPathComponent("g.png").path
        var r = try runTool(["show", fixture("micro_speech_float.tflite"), "-o", png])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("unknown extension '.png'; write .html or .svg"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: png))

        let input = dir.appendingPathComponent("in.html").path
        FileManager.default.createFile(atPath: input, contents: Data("x".utf8))
        r = try runTool(["show", input, "-o", input])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(try String(contentsOfFile: input, encoding: .utf8), "x", "the input is never overwritten")

        let report = dir.appendingPathComponent("r.txt").path
        let model = dir.appendingPathComponent("m.tflite").path
        r = try runTool([fixture("micro_speech_float.tflite"), "--rules", "micro", "-o", model, "--report", report])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("--report \(report): the report is an HTML page"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: model))
    }

    func testReportLeavesTheModelAsItIs() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let plain = dir.appendingPathComponent("a.tflite").path, reported = dir.appendingPathComponent("b.tflite").path
        let report = dir.appendingPathComponent("r.html").path
        XCTAssertEqual(try runTool([fixture("micro_speech_float.tflite"), "--rules", "micro", "-o", plain, "-q"]).status, 0)
        let r = try runTool([fixture("micro_speech_float.tflite"), "--rules", "micro", "-o", reported, "--report", report, "-q"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: plain)), try Data(contentsOf: URL(fileURLWithPath: reported)))
        let page = try String(contentsOfFile: report, encoding: .utf8)
        XCTAssertTrue(page.range(of: #"<tr class="changed"><td>\d+</td><td>conv-to-depthwise</td><td>5</td><td>yes</td></tr>"#, options: .regularExpression) != nil, "the pass log")
        XCTAssertTrue(page.range(of: #"<tr class="unchanged"><td>\d+</td><td>fold-shapes</td><td>5</td><td>no</td></tr>"#, options: .regularExpression) != nil)
        XCTAssertTrue(page.contains("<td>check-target</td><td>4</td><td>no</td>"))
    }
}
