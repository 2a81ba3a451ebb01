import Foundation
import XCTest

@testable import TFRewrite

/// `tfrewrite IN --quantize int8 ...` and `tfrewrite verify`: exit codes, messages, output.
final class QuantizeCLITests: XCTestCase {
    var dir: URL!
    let float = TestPaths.fixtures.appendingPathComponent("micro_speech_float.tflite").path
    let calib = TestPaths.fixtures.appendingPathComponent("calib/micro_speech_calib.npy").path

    override func setUpWithError() throws {
        guard FileManager.default.fileExists(atPath: TestPaths.executable.path) else {
            throw XCTSkip("tfrewrite executable absent at \(TestPaths.executable.path): skipped")
        }
        dir = try TestPaths.temporaryDirectory()
    }

    override func tearDown() {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    func testQuantizeWritesInt8ModelAndPrintsParameters() throws {
        let out = dir.appendingPathComponent("q.tflite").path
        let r = try runTool([float, "--quantize", "int8", "--calibration", calib, "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("calibrating: 16/16 samples"), r.stderr)
        XCTAssertTrue(r.stderr.contains("input \"fingerprint_input\": int8[1,1960] scale 0.101736926 zero_point -128"), r.stderr)
        XCTAssertTrue(r.stderr.contains("output \"Identity\": int8[1,4] scale 0.00390625 zero_point -128"), r.stderr)
        XCTAssertTrue(r.stderr.contains("quantized to int8: 5 of 5 ops"), r.stderr)
        let m = try TFLiteImporter.load(path: out)
        XCTAssertEqual(m.subgraphs[0].ops.map(\.version), [1, 3, 1, 4, 2])
        XCTAssertEqual(Verifier.verify(m).map(\.description), [])

        let v = try runTool(["verify", float, out, "--inputs", TestPaths.fixtures.appendingPathComponent("heldout/tiny_conv_inputs.npy").path])
        XCTAssertEqual(v.status, 0, v.stderr)
        XCTAssertTrue(v.stdout.contains("inputs: "), v.stdout)
        XCTAssertTrue(v.stdout.contains("(100 samples)"), v.stdout)
        XCTAssertTrue(v.stdout.contains("argmax agreement"), v.stdout)
        let strict = try runTool(["verify", float, out, "--max-abs-error", "0"])
        XCTAssertEqual(strict.status, 1)
        XCTAssertTrue(strict.stdout.contains("random"), strict.stdout)
    }

    func testFloatIOKeepsFloatTensors() throws {
        let out = dir.appendingPathComponent("f.tflite").path
        let r = try runTool([float, "--quantize", "int8", "--calibration", calib, "--float-io", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let g = try TFLiteImporter.load(path: out).subgraphs[0]
        XCTAssertEqual(g.ops.first?.name, "QUANTIZE")
        XCTAssertEqual(g.ops.last?.name, "DEQUANTIZE")
        XCTAssertEqual(g[g.inputs[0]].dtype, .float32)
        XCTAssertEqual(g[g.outputs[0]].dtype, .float32)
    }

    func testUsageErrors() throws {
        let out = dir.appendingPathComponent("x.tflite").path
        let noData = try runTool([float, "--quantize", "int8", "-o", out])
        XCTAssertEqual(noData.status, 2)
        XCTAssertTrue(noData.stderr.contains("--calibration"), noData.stderr)
        let noQuantize = try runTool([float, "--calibration", calib, "-o", out])
        XCTAssertEqual(noQuantize.status, 2)
        let badMode = try runTool([float, "--quantize", "int4", "--calibration", calib, "-o", out])
        XCTAssertEqual(badMode.status, 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))

        let wrongShape = try runTool([float, "--quantize", "int8", "--calibration", TestPaths.fixtures.appendingPathComponent("calib/bn_net_calib.npy").path, "-o", out])
        XCTAssertEqual(wrongShape.status, 2)
        let last = wrongShape.stderr.split(separator: "\n").last.map(String.init) ?? ""
        XCTAssertTrue(last.hasPrefix("tfrewrite: error: "), wrongShape.stderr)
        XCTAssertTrue(last.contains("bn_net_calib.npy: array of shape [32, 1, 16, 16, 3] does not hold samples of input 'fingerprint_input'"), last)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))

        let random = try runTool([float, "--quantize", "int8", "--calibration", "random:3", "-o", out])
        XCTAssertEqual(random.status, 0, random.stderr)
        XCTAssertTrue(random.stderr.contains("warning: calibrating on random data"), random.stderr)
        XCTAssertEqual(random.stderr.components(separatedBy: "random data").count, 2, "warned once: \(random.stderr)")

        let missing = try runTool(["verify", float, dir.appendingPathComponent("nope.tflite").path])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.hasPrefix("tfrewrite: error: "), missing.stderr)
    }
}
