import Foundation
import XCTest

/// `--help` everywhere exits 0; wrong flags exit 2 with a usage message.
final class CLIUsageTests: XCTestCase {
    func testHelpForEveryCommandExitsZero() throws {
        let top = try runTool(["--help"])
        XCTAssertEqual(top.status, 0, top.stderr)
        XCTAssertTrue(top.stdout.contains("Exit codes"), top.stdout)
        // Every subcommand listed in the top-level help has its own help.
        let names = top.stdout.split(separator: "\n").compactMap { line -> String? in
            let t = line.trimmingCharacters(in: .whitespaces)
            guard line.hasPrefix("  "), let first = t.split(separator: " ").first, !first.hasPrefix("-") else { return nil }
            return String(first)
        }
        for name in ["convert", "inspect", "diff", "check", "run"] {
            XCTAssertTrue(names.contains(name), "\(name) missing from help: \(names)")
        }
        for name in names where !name.contains("<") {
            let r = try runTool([name, "--help"])
            XCTAssertEqual(r.status, 0, "\(name) --help: \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("USAGE"), "\(name) --help printed: \(r.stdout)")
        }
    }

    func testWrongFlagsExitTwo() throws {
        for args in [["inspect"], ["inspect", "--no-such-flag", "x.tflite"], ["diff", "a.tflite"], ["--frobnicate"]] {
            let r = try runTool(args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            XCTAssertFalse(r.stderr.isEmpty, "\(args)")
        }
    }

    func testMissingInputIsOneLine() throws {
        let r = try runTool(["/nonexistent/model.tflite", "-o", "/tmp/never-written.tflite"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("/nonexistent/model.tflite"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/never-written.tflite"))
    }
}
