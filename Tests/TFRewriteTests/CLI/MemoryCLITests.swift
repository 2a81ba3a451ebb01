import Foundation
import XCTest

@testable import TFRewrite

/// `tfrewrite memory` and `--arena-limit` as a user runs them.
final class MemoryCLITests: XCTestCase {
    func fixture(_ name: String) -> String { TestPaths.fixtures.appendingPathComponent(name).path }

    func testMemoryJSONHasTheFiguresAndATimeline() throws {
        let r = try runTool(["memory", "--json", "--pointer-bits", "64", fixture("ds_cnn_int8.tflite")])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        // TFLM's Python package reports 16000 / 7888 / 23888 and runs with 23880 bytes.
        XCTAssertEqual(doc["head_bytes"] as? Int, 16000)
        XCTAssertEqual(doc["tail_bytes"] as? Int, 7888)
        XCTAssertEqual(doc["total_bytes"] as? Int, 23888)
        XCTAssertEqual(doc["min_arena_bytes"] as? Int, 23880)
        let ops = try XCTUnwrap(doc["ops"] as? [[String: Any]])
        XCTAssertEqual(ops.count, 18)
        XCTAssertEqual(ops.map { $0["live_bytes"] as? Int ?? 0 }.max(), 16000)
        let again = try runTool(["memory", "--json", "--pointer-bits", "64", fixture("ds_cnn_int8.tflite")])
        XCTAssertEqual(again.stdout, r.stdout)
    }

    /// `memory` also says what all of `--optimize memory` would need, and agrees with the model
    /// a conversion with that flag writes (Docs/memory.md: 115,528 → 67,768 on the person CNN).
    func testMemoryReportsWhatOptimizeMemoryWouldNeed() throws {
        let r = try runTool(["memory", "--json", "--pointer-bits", "64", fixture("patch/person_cnn_int8.tflite")])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(doc["min_arena_bytes"] as? Int, 115528)
        XCTAssertEqual(doc["optimized_min_arena_bytes"] as? Int, 67768)
        XCTAssertTrue((doc["optimized_steps"] as? [String])?.first?.contains("patches") ?? false, "\(doc["optimized_steps"] ?? "")")
        let out = try TestPaths.temporaryDirectory().appendingPathComponent("patched.tflite").path
        let convert = try runTool([fixture("patch/person_cnn_int8.tflite"), "--optimize", "memory", "--pointer-bits", "64", "-o", out])
        XCTAssertEqual(convert.status, 0, convert.stderr)
        let written = try runTool(["memory", "--json", "--pointer-bits", "64", out])
        let writtenDoc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(written.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(writtenDoc["min_arena_bytes"] as? Int, 67768)
        // Nothing left to gain on a chain TFLM already packs as tightly as it can.
        let chain = try runTool(["memory", "--pointer-bits", "64", fixture("ds_cnn_int8.tflite")])
        XCTAssertFalse(chain.stdout.contains("--optimize memory (64-bit) needs"), chain.stdout)
    }

    func testConvertWritesNothingWhenTheArenaLimitIsExceeded() throws {
        let out = try TestPaths.temporaryDirectory().appendingPathComponent("limited.tflite").path
        let r = try runTool([fixture("micro_speech_int8.tflite"), "-o", out, "--arena-limit", "4000"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.hasPrefix("tfrewrite: error: "), r.stderr)
        // The peak of the model --optimize memory made (the RESHAPE before the dense layer is
        // gone), which still does not fit.
        XCTAssertTrue(r.stderr.contains("needs a 6848-byte TFLM arena") && r.stderr.contains("peak at op #1 CONV_2D"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        let ok = try runTool([fixture("micro_speech_int8.tflite"), "-o", out, "--arena-limit", "9000"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
    }

    func testUnsizableModelsAndBadFlagsAreOneLineErrors() throws {
        let bad = try runTool(["memory", "--pointer-bits", "16", fixture("ds_cnn_int8.tflite")])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("--pointer-bits must be 32 or 64"), bad.stderr)
        let missing = try runTool(["memory", fixture("no-such-model.tflite")])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.hasPrefix("tfrewrite: error: "), missing.stderr)
    }
}
