import Foundation
import XCTest

@testable import Import
@testable import Support
@testable import TFRewrite

/// libhdf5 runs in the `tfrewrite __hdf5-reader` child: what it hands back equals an in-process
/// read, its output format is parsed defensively, and a reader that crashes, loops, hangs or
/// prints garbage becomes one error line (exit 2, nothing written), never a crash of the caller.
final class HDF5ReaderTests: XCTestCase {
    static let fixtures = ["mlp_cancer", "cnn_digits", "conv1d_digits", "lstm_digits", "gru_digits"].flatMap { ["\($0).h5", "\($0)_keras2.h5"] }

    override func setUpWithError() throws {
        try TestPaths.useHDF5ReaderChild()
    }

    override func tearDown() {
        unsetenv("TFREWRITE_TEST_HDF5_READER")
    }

    static func bytes(_ file: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: KerasImportTests.path(file))))
    }

    /// gru_digits.h5 with bits flipped that crash libhdf5 1.10.8, found by flipping random bits:
    /// one bit makes H5Aread of a variable-length string attribute segfault in H5HG_read (the
    /// global heap; every run); four make libhdf5 spend CPU time without end.
    static func damaged(_ flips: [(Int, UInt8)]) throws -> [UInt8] {
        var b = try bytes("gru_digits.h5")
        for (offset, mask) in flips { b[offset] ^= mask }
        return b
    }
    static let segfaultFlips: [(Int, UInt8)] = [(38398, 2)]
    static let cpuLoopFlips: [(Int, UInt8)] = [(9921, 1), (23706, 32), (49443, 2), (50628, 8)]

    func testChildSnapshotEqualsInProcessRead() throws {
        for file in Self.fixtures {
            let image = try Self.bytes(file)
            let child = try HDF5Reader.snapshot(image: image, path: file)
            let local = try HDF5Snapshot.read(image: image, path: file)
            XCTAssertEqual(child, local, file)
            XCTAssertFalse(child.datasets.isEmpty, file)
            XCTAssertNotNil(try child.strings(attribute: "model_config", of: "."), file)
        }
    }

    /// The codec round-trips, and every cut-short or bit-flipped encoding is a FormatError or a
    /// snapshot, never a trap.
    func testSnapshotCodecIsStrict() throws {
        let snapshot = try HDF5Snapshot.read(image: try Self.bytes("mlp_cancer.h5"), path: "m.h5")
        let encoded = HDF5SnapshotCodec.encode(snapshot)
        XCTAssertEqual(try HDF5SnapshotCodec.decode(encoded, path: "m.h5"), snapshot)
        XCTAssertThrowsError(try HDF5SnapshotCodec.decode(encoded + [0], path: "m.h5"))
        XCTAssertThrowsError(try HDF5SnapshotCodec.decode(HDF5SnapshotCodec.encodeFailure("bad"), path: "m.h5")) { error in
            XCTAssertEqual(error as? HDF5Error, HDF5Error(path: "m.h5", message: "bad"))
        }
        let cuts = Array(0..<min(400, encoded.count)) + stride(from: 400, to: encoded.count, by: 97)
        for cut in cuts {
            XCTAssertThrowsError(try HDF5SnapshotCodec.decode(Array(encoded[..<cut]), path: "m.h5"), "cut at \(cut)")
        }
        var seed: UInt64 = 7
        for _ in 0..<300 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            var b = encoded
            let at = Int(seed >> 33) % b.count
            b[at] ^= UInt8(truncatingIfNeeded: seed >> 20) | 1
            _ = try? HDF5SnapshotCodec.decode(b, path: "m.h5")
        }
    }

    /// The failure the library API gives for a reader that did not finish.
    func readerFailure(_ image: [UInt8], limits: HDF5ReaderLimits = HDF5ReaderLimits()) -> HDF5ReaderError.Cause? {
        let saved = HDF5Reader.mode
        defer { HDF5Reader.mode = saved }
        HDF5Reader.mode = .childProcess(executable: TestPaths.executable.path, limits: limits)
        do {
            _ = try KerasImporter.load(bytes: image, path: "d.h5")
            return nil
        } catch let error as HDF5ReaderError {
            XCTAssertTrue("\(error)".hasPrefix("d.h5: the HDF5 reader failed on this file ("), "\(error)")
            return error.cause
        } catch {
            XCTFail("not a reader failure: \(error)")
            return nil
        }
    }

    /// Under AddressSanitizer (`make test-asan`) a child's SIGSEGV is caught by ASan, which
    /// reports it and exits with status 1 instead.
    static let underAddressSanitizer: Bool = {
        guard let handle = dlopen(nil, RTLD_NOW) else { return false }
        return dlsym(handle, "__asan_init") != nil
    }()
    static var crash: HDF5ReaderError.Cause { underAddressSanitizer ? .exitStatus(1) : .signal(SIGSEGV) }
    static var crashText: String { underAddressSanitizer ? "exit status 1" : "killed by signal 11, SIGSEGV" }

    func testCrashingAndLoopingReadersAreErrors() throws {
        XCTAssertEqual(readerFailure(try Self.damaged(Self.segfaultFlips)), Self.crash)
        let started = Date()
        // One CPU second; the wall-clock limit is set wide so that a busy machine cannot turn
        // SIGXCPU into a timeout.
        XCTAssertEqual(readerFailure(try Self.damaged(Self.cpuLoopFlips), limits: HDF5ReaderLimits(cpuSeconds: 1, extraWallSeconds: 60)), .signal(SIGXCPU))
        XCTAssertLessThan(Date().timeIntervalSince(started), 60)
    }

    /// The DEBUG-only hooks of the child: a crash, a hang past the wall-clock limit, garbage.
    func testReaderHooksGiveTypedErrors() throws {
        #if DEBUG
        let image = try Self.bytes("mlp_cancer.h5")
        setenv("TFREWRITE_TEST_HDF5_READER", "crash", 1)
        XCTAssertEqual(readerFailure(image), Self.crash)
        setenv("TFREWRITE_TEST_HDF5_READER", "garbage", 1)
        XCTAssertEqual(readerFailure(image), .malformedOutput("truncated at byte 13"))
        setenv("TFREWRITE_TEST_HDF5_READER", "hang", 1)
        let started = Date()
        XCTAssertEqual(readerFailure(image, limits: HDF5ReaderLimits(cpuSeconds: 1, extraWallSeconds: 0)), .timedOut(seconds: 2))
        XCTAssertLessThan(Date().timeIntervalSince(started), 6)
        #else
        throw XCTSkip("the reader's test hooks exist in debug builds only")
        #endif
    }

    /// Through the CLI: one error line, exit 2, no output file, for a real libhdf5 crash and the
    /// DEBUG crash hook.
    func testCLIRefusesCrashingReaderInOneLine() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("segfault.h5")
        try Data(try Self.damaged(Self.segfaultFlips)).write(to: input)
        let output = dir.appendingPathComponent("out.tflite")
        var r = try runTool([input.path, "-o", output.path])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "tfrewrite: error: \(input.path): the HDF5 reader failed on this file (\(Self.crashText)): the file is damaged or not a Keras model\n")
        XCTAssertEqual(r.stdout, "")
        XCTAssertFalse(FileManager.default.fileExists(atPath: output.path))
        #if DEBUG
        var environment = ProcessInfo.processInfo.environment
        environment["TFREWRITE_TEST_HDF5_READER"] = "crash"
        r = try runProcess(TestPaths.executable, [KerasImportTests.path("mlp_cancer.keras"), "-o", output.path], environment: environment)
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "tfrewrite: error: \(KerasImportTests.path("mlp_cancer.keras"))[model.weights.h5]: the HDF5 reader failed on this file (\(Self.crashText)): the file is damaged or not a Keras model\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: output.path))
        #endif
    }

    /// Many damaged files through the library in this one process (in-process libhdf5 crashed
    /// on such a run): each imports or throws.
    func testDamagedFilesInOneProcess() throws {
        var seed: UInt64 = 21
        func next() -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: seed >> 33)
        }
        var refused = 0
        for file in ["mlp_cancer.keras", "mlp_cancer.h5", "gru_digits.h5", "cnn_digits_keras2.h5"] {
            let original = try Self.bytes(file)
            for trial in 0..<30 {
                var bytes = original
                if trial % 3 == 0 {
                    bytes = Array(bytes[..<(8 + next() % (bytes.count - 8))])
                } else {
                    for _ in 0..<(trial % 2 == 0 ? 2 : 8) { bytes[next() % bytes.count] ^= UInt8(truncatingIfNeeded: 1 << (next() % 8)) }
                }
                do { _ = try KerasImporter.load(bytes: bytes, path: file) } catch { refused += 1 }
            }
        }
        XCTAssertGreaterThan(refused, 40)
    }
}
