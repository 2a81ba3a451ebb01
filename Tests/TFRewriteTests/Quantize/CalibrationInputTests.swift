import Foundation
import XCTest

@testable import TFRewrite

/// Calibration input: np.savez_compressed archives (inflated by the system zlib, within the
/// archive limits), the sample layout checked against the model input, few-sample warnings.
final class CalibrationInputTests: XCTestCase {
    let fixtures = TestPaths.fixtures

    func testCompressedArchiveReadsLikeNumpyWroteIt() throws {
        let members = try Npy.readNpz(path: fixtures.appendingPathComponent("npz/compressed_two.npz").path)
        XCTAssertEqual(members.map(\.name), ["a", "b"])
        XCTAssertEqual(members[0].array.shape, [3, 4])
        XCTAssertEqual(members[0].array.tensor()?.floats, (0..<12).map { Float($0) / 4 })
        XCTAssertEqual(members[1].array.shape, [5])
        XCTAssertEqual(members[1].array.data, [0x80, 0xFF, 0, 1, 0x7F])
    }

    func testCompressedCalibrationMatchesTheStoredOne() throws {
        let model = try TFLiteImporter.load(path: fixtures.appendingPathComponent("micro_speech_float.tflite").path)
        let specs = ModelInputSpec.inputs(of: model)
        let compressed = try SampleData.load(fixtures.appendingPathComponent("calib/micro_speech_calib_compressed.npz").path, for: specs)
        let stored = try SampleData.load(fixtures.appendingPathComponent("calib/micro_speech_calib.npy").path, for: specs)
        XCTAssertEqual(compressed.count, 16)
        XCTAssertEqual(compressed.samples.map { $0.map(\.floats) }, stored.samples.map { $0.map(\.floats) })
    }

    /// The archive's directory is patched: sizes beyond deflate's 1032:1, sizes the stream does
    /// not inflate to, a flipped data byte. Each is one error naming the member.
    func testLyingCompressedMembersAreRefused() throws {
        let path = fixtures.appendingPathComponent("npz/compressed_two.npz").path
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        // The first central directory entry ("PK\1\2"): uncompressed size at +24.
        let cd = try XCTUnwrap((0..<(original.count - 4)).first { original[$0] == 0x50 && original[$0 + 1] == 0x4B && original[$0 + 2] == 1 && original[$0 + 3] == 2 })
        func withSize(_ size: UInt32) -> [UInt8] {
            var b = original
            for k in 0..<4 { b[cd + 24 + k] = UInt8((size >> (8 * UInt32(k))) & 0xFF) }
            return b
        }
        func message(_ bytes: [UInt8]) -> String {
            do {
                _ = try Npy.decodeNpz(bytes, path: "x.npz")
                return "accepted"
            } catch { return String(describing: error) }
        }
        XCTAssertTrue(message(withSize(200_000_000)).contains("more than deflate can expand (1032:1; a zip bomb?)"), message(withSize(200_000_000)))
        XCTAssertTrue(message(withSize(177)).contains("member 'a.npy': inflates to 176 bytes but the archive declares 177"), message(withSize(177)))
        XCTAssertTrue(message(withSize(175)).contains("member 'a.npy': inflates to 176 bytes but the archive declares 175"), message(withSize(175)))
        XCTAssertTrue(message(withSize(100)).contains("member 'a.npy': inflates to more than the 100 bytes"), message(withSize(100)))
        // A flipped byte inside the deflate data: corrupt stream or CRC mismatch, never a crash.
        var flipped = original
        flipped[30 + 5 + 20] ^= 0x5A
        XCTAssertTrue(message(flipped).contains("member 'a.npy'"), message(flipped))
        // The memory budget covers what the members expand to, before any is inflated.
        let saved = MemoryBudget.bytes
        MemoryBudget.bytes = 200
        defer { MemoryBudget.bytes = saved }
        XCTAssertTrue(message(original).contains("the archive's members"), message(original))
    }

    func testTransposedCalibrationIsAnErrorNamingBothShapes() throws {
        let dir = try TestPaths.temporaryDirectory()
        let calib = try Npy.read(path: fixtures.appendingPathComponent("calib/ds_cnn_calib.npy").path)
        XCTAssertEqual(calib.shape, [32, 1, 49, 10])
        let transposed = dir.appendingPathComponent("transposed.npy").path
        try Npy.write(NpyArray(dtype: calib.dtype, shape: [32, 10, 49], data: calib.data), path: transposed)
        let out = dir.appendingPathComponent("q.tflite").path
        let r = try runTool([fixtures.appendingPathComponent("ds_cnn_float.tflite").path, "--quantize", "int8", "--calibration", transposed, "-o", out])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("[32, 10, 49]") && r.stderr.contains("[1, 49, 10]"), r.stderr)
        XCTAssertTrue(r.stderr.contains("transposed"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        // The same data in the model's layout, without the input's leading 1, is accepted.
        let right = dir.appendingPathComponent("right.npy").path
        try Npy.write(NpyArray(dtype: calib.dtype, shape: [32, 49, 10], data: calib.data), path: right)
        let ok = try runTool([fixtures.appendingPathComponent("ds_cnn_float.tflite").path, "--quantize", "int8", "--calibration", right, "-o", out])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertFalse(ok.stderr.contains("calibration samples"), "32 samples get no warning: \(ok.stderr)")
    }

    func testFewSamplesWarnAndQuietSilences() throws {
        let dir = try TestPaths.temporaryDirectory()
        let model = fixtures.appendingPathComponent("micro_speech_float.tflite").path
        let data = fixtures.appendingPathComponent("calib/micro_speech_calib_compressed.npz").path
        let r = try runTool([model, "--quantize", "int8", "--calibration", data, "-o", dir.appendingPathComponent("q.tflite").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("tfrewrite: warning: only 16 calibration samples; ranges from fewer than 20 are unreliable"), r.stderr)
        let quiet = try runTool([model, "--quantize", "int8", "--calibration", data, "-o", dir.appendingPathComponent("q2.tflite").path, "-q"])
        XCTAssertEqual(quiet.status, 0, quiet.stderr)
        XCTAssertEqual(quiet.stderr, "")
        XCTAssertEqual(try Data(contentsOf: dir.appendingPathComponent("q.tflite")), try Data(contentsOf: dir.appendingPathComponent("q2.tflite")))
    }
}
