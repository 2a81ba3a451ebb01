import Foundation
import XCTest

@testable import FuzzSupport
import TFRewrite

/// Every input a fuzzer ever crashed on (Tests/FuzzCrashes/<target>/) replayed through the
/// normal build's entry function: each must now be accepted or refused, never trap.
final class FuzzReplayTests: XCTestCase {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    override class func setUp() {
        FuzzTarget.prepare()
    }

    func testSavedCrashInputsNoLongerCrash() throws {
        let crashes = Self.packageRoot.appendingPathComponent("Tests/FuzzCrashes")
        let folders = try FileManager.default.contentsOfDirectory(atPath: crashes.path).filter { !$0.hasPrefix(".") }.sorted()
        var replayed = 0
        for folder in folders {
            let target = try XCTUnwrap(FuzzTarget.allCases.first { $0.executableName == folder || $0.rawValue == folder },
                                       "Tests/FuzzCrashes/\(folder) names no fuzz target")
            let dir = crashes.appendingPathComponent(folder)
            for name in try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() where !name.hasPrefix(".") {
                let bytes = try [UInt8](Data(contentsOf: dir.appendingPathComponent(name)))
                _ = try? target.run(bytes)
                replayed += 1
            }
        }
        print("replayed \(replayed) saved fuzz crash inputs")
    }

    /// The entry functions reach the parsers: a real file of each format is accepted, and a
    /// few bytes of garbage are refused with an error.
    func testEntryFunctionsAcceptFixturesAndRefuseGarbage() throws {
        let fixtures: [(FuzzTarget, String)] = [
            (.tflite, "Fixtures/micro_speech_float.tflite"),
            (.graphdef, "Fixtures/graphdef/tiny_conv.pb"),
            (.savedmodel, "Fixtures/savedmodel/tiny_conv/saved_model.pb"),
            (.rules, "Rules/micro.yaml"),
            (.pipeline, "Fixtures/micro_speech_float.tflite"),
            (.pipeline, "Fixtures/graphdef/tiny_conv.pb"),
        ]
        for (target, file) in fixtures {
            let bytes = try [UInt8](Data(contentsOf: Self.packageRoot.appendingPathComponent(file)))
            XCTAssertNoThrow(try target.run(bytes), "\(target) on \(file)")
        }
        // fuzz-keras takes HDF5 as the reader child's output (the parent-side decoder) and never
        // runs libhdf5: a real .h5, or a .keras holding one, is refused at the snapshot header.
        let h5 = try [UInt8](Data(contentsOf: Self.packageRoot.appendingPathComponent("Fixtures/keras/mlp_cancer_keras2.h5")))
        let snapshot = HDF5SnapshotCodec.encode(try HDF5Snapshot.read(image: h5, path: "m.h5"))
        XCTAssertNoThrow(try FuzzTarget.keras.run(snapshot))
        XCTAssertThrowsError(try FuzzTarget.keras.run(Array(snapshot.dropLast())))
        for file in ["Fixtures/keras/mlp_cancer_keras2.h5", "Fixtures/keras/mlp_cancer.keras"] {
            let bytes = try [UInt8](Data(contentsOf: Self.packageRoot.appendingPathComponent(file)))
            XCTAssertThrowsError(try FuzzTarget.keras.run(bytes), file) { XCTAssertTrue("\($0)".contains("no snapshot header"), "\($0)") }
        }
        let npy = try [UInt8](Data(contentsOf: Self.packageRoot.appendingPathComponent("Fixtures/calib/tiny_conv_calib.npy")))
        XCTAssertNoThrow(try Npy.decode(npy, path: "calib.npy"))
        let garbage: [UInt8] = [0x08, 0xff, 0xff, 0x7f, 0x12, 0x03, 0x61, 0x62]
        for target in FuzzTarget.allCases where target != .rules {
            XCTAssertThrowsError(try target.run(garbage), "\(target) accepted garbage")
        }
        XCTAssertThrowsError(try FuzzTarget.rules.run(Array("passes: [no-such-pass]".utf8)))
    }
}
