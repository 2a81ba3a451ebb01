import Foundation
import XCTest

@testable import TFRewrite

/// TF2 SavedModels with variables (Fixtures/generate_savedmodel_variables.py: Keras models
/// trained on scikit-learn data, saved by tf.saved_model.save and by Keras 3 model.export),
/// read without TensorFlow: float outputs against Keras's own, and int8 through the quantizer.
final class SavedModelVariablesTests: XCTestCase {
    static let directory = TestPaths.fixtures.appendingPathComponent("savedmodel_variables")
    static let models = ["mlp_cancer", "cnn_digits"]
    static let layouts = ["tfsave", "export"]

    static func path(_ model: String, _ layout: String) -> String {
        directory.appendingPathComponent("\(model)_\(layout)").path
    }

    static func samples(_ file: String) throws -> [[Float]] {
        let a = try readFloatNpy(directory.appendingPathComponent(file).path)
        let n = a.shape[0], size = a.values.count / n
        return (0..<n).map { Array(a.values[($0 * size)..<(($0 + 1) * size)]) }
    }

    static func labels(_ model: String) throws -> [Int] {
        let a = try Npy.read(path: directory.appendingPathComponent("\(model)_labels.npy").path)
        return a.data.withUnsafeBytes { raw in (0..<a.shape[0]).map { Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self))) } }
    }

    static func accuracy(_ outputs: [[Float]], _ labels: [Int]) -> Double {
        let hits = zip(outputs, labels).filter { y, label in y.indices.max(by: { y[$0] < y[$1] }) == label }.count
        return Double(hits) / Double(labels.count)
    }

    func testFloatOutputsMatchKeras() throws {
        for model in Self.models {
            let inputs = try Self.samples("\(model)_inputs.npy"), expected = try Self.samples("\(model)_keras.npy")
            // 100 samples keep the debug-build run short.
            let n = min(inputs.count, 100)
            for layout in Self.layouts {
                let m = try ModelLoader.load(path: Self.path(model, layout), options: ModelLoadOptions(verify: true))
                XCTAssertEqual(Verifier.verify(m).map(\.description), [])
                XCTAssertEqual(m.signatureDefs.first?.key, "serving_default")
                let got = try runFloatModel(m, inputs: Array(inputs[..<n]))
                let diff = maxAbsDifference(got, Array(expected[..<n]))
                XCTAssertLessThanOrEqual(diff, 1e-5, "\(model)_\(layout): max |ours − Keras| = \(diff)")
            }
        }
    }

    func testLayersBecomeFusedBuiltins() throws {
        let mlp = try ModelLoader.load(path: Self.path("mlp_cancer", "export"))
        XCTAssertEqual(opNames(mlp).filter { $0 == "FULLY_CONNECTED" }.count, 3)
        XCTAssertEqual(opNames(mlp).last, "SOFTMAX")
        let cnn = try ModelLoader.load(path: Self.path("cnn_digits", "tfsave"))
        XCTAssertEqual(opNames(cnn).filter { $0 == "CONV_2D" }.count, 2)
        XCTAssertTrue(opNames(cnn).contains("MAX_POOL_2D"))
        // Both layouts give the same model.
        for model in Self.models {
            XCTAssertEqual(
                opNames(try ModelLoader.load(path: Self.path(model, "tfsave"))), opNames(try ModelLoader.load(path: Self.path(model, "export"))), model)
        }
    }

    func testUnknownSignatureIsNamed() throws {
        XCTAssertThrowsError(try ModelLoader.load(path: Self.path("mlp_cancer", "export"), options: ModelLoadOptions(signature: "nope"))) { error in
            XCTAssertTrue("\(error)".contains("no signature 'nope' (signatures: serve, serving_default)"), "\(error)")
        }
        // Keras export's second signature gives the same model.
        let serve = try ModelLoader.load(path: Self.path("mlp_cancer", "export"), options: ModelLoadOptions(signature: "serve"))
        XCTAssertEqual(serve.signatureDefs.first?.key, "serve")
        XCTAssertEqual(opNames(serve), opNames(try ModelLoader.load(path: Self.path("mlp_cancer", "export"))))
    }

    /// The CLI end to end: float .tflite, then int8 with the fixture's calibration samples; the
    /// int8 model's accuracy on the held-out samples against Keras's and TF's own int8's.
    func testCLIConvertsToFloatAndInt8() throws {
        guard FileManager.default.fileExists(atPath: TestPaths.executable.path) else {
            throw XCTSkip("tfrewrite executable absent at \(TestPaths.executable.path): skipped")
        }
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let summaryData = try Data(contentsOf: Self.directory.appendingPathComponent("summary.json"))
        let summary = try XCTUnwrap((try JSONSerialization.jsonObject(with: summaryData) as? [String: Any])?["models"] as? [String: [String: Any]])
        for model in Self.models {
            let source = Self.path(model, "export")
            let float = dir.appendingPathComponent("\(model).tflite").path
            var r = try runTool([source, "-o", float])
            XCTAssertEqual(r.status, 0, r.stderr)
            let int8 = dir.appendingPathComponent("\(model)_int8.tflite").path
            let calib = Self.directory.appendingPathComponent("\(model)_calib.npy").path
            r = try runTool([source, "--quantize", "int8", "--calibration", calib, "--float-io", "-o", int8])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stderr.contains("quantized to int8"), r.stderr)
            let inputs = try Self.samples("\(model)_inputs.npy"), labels = try Self.labels(model)
            let keras = Self.accuracy(try Self.samples("\(model)_keras.npy"), labels)
            let quantized = Self.accuracy(try runFloatModel(try TFLiteImporter.load(path: int8), inputs: inputs), labels)
            let tfInt8 = try XCTUnwrap(summary[model]?["tf_int8_accuracy"] as? Double)
            print("\(model): held-out accuracy Keras \(keras), TF int8 \(tfInt8), tfrewrite int8 \(quantized)")
            // Issue 18: within 0.5 points of Keras. TF's own int8 conversion is one sample either
            // side of Keras on these sets, so it is printed, not compared.
            XCTAssertLessThanOrEqual(abs(quantized - keras), 0.005, "\(model): int8 accuracy \(quantized) vs Keras \(keras)")
        }
    }

    /// Damaged saved_model.pb files (cut short, bytes flipped) are refused or still give a valid
    /// model, in process: a trap would end the test run.
    func testDamagedGraphNeverCrashes() throws {
        let dir = try TestPaths.temporaryDirectory().appendingPathComponent("m")
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        try FileManager.default.copyItem(at: Self.directory.appendingPathComponent("mlp_cancer_export"), to: dir)
        let pb = dir.appendingPathComponent("saved_model.pb")
        let original = [UInt8](try Data(contentsOf: pb))
        var seed: UInt64 = 18
        func next() -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: seed >> 33)
        }
        var refused = 0
        for trial in 0..<60 {
            var bytes = original
            if trial % 3 == 0 {
                bytes = Array(bytes[..<(next() % bytes.count)])
            } else {
                for _ in 0..<4 { bytes[next() % bytes.count] ^= UInt8(truncatingIfNeeded: 1 << (next() % 8)) }
            }
            try Data(bytes).write(to: pb)
            do {
                let m = try ModelLoader.load(path: dir.path)
                XCTAssertEqual(Verifier.verify(m).map(\.description), [], "trial \(trial)")
            } catch {
                refused += 1
            }
        }
        XCTAssertGreaterThan(refused, 20)
    }
}

