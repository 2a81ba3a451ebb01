import Foundation
import XCTest

@testable import Import
@testable import Kernels
@testable import Support
@testable import TFRewrite

/// Keras model files (Fixtures/keras/generate.py: Keras models trained on scikit-learn data,
/// saved as .keras, Keras 3 .h5 and Keras 2 .h5) read without TensorFlow: float outputs against
/// Keras's own, int8 accuracy through the CLI, and damaged files refused in one line.
final class KerasImportTests: XCTestCase {
    static let directory = TestPaths.fixtures.appendingPathComponent("keras")
    static let models = ["cnn_digits", "conv1d_digits", "mlp_cancer", "lstm_digits", "gru_digits"]
    /// File suffix → the .npy of the Keras that wrote it.
    static let forms = [(".keras", "keras"), (".h5", "keras"), ("_keras2.h5", "keras2")]

    static func path(_ file: String) -> String { directory.appendingPathComponent(file).path }

    /// libhdf5 runs in the built tfrewrite's reader child, as in the CLI.
    override func setUpWithError() throws {
        try TestPaths.useHDF5ReaderChild()
    }

    static func samples(_ file: String) throws -> [[Float]] {
        let a = try readFloatNpy(path(file))
        let n = a.shape[0], size = a.values.count / n
        return (0..<n).map { Array(a.values[($0 * size)..<(($0 + 1) * size)]) }
    }

    static func labels(_ model: String) throws -> [Int] {
        let a = try Npy.read(path: path("\(model)_labels.npy"))
        return a.data.withUnsafeBytes { raw in (0..<a.shape[0]).map { Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self))) } }
    }

    static func accuracy(_ outputs: [[Float]], _ labels: [Int]) -> Double {
        Double(zip(outputs, labels).filter { y, label in y.indices.max(by: { y[$0] < y[$1] }) == label }.count) / Double(labels.count)
    }

    func testFloatOutputsMatchKeras() throws {
        var checked = 0
        for model in Self.models {
            let inputs = try Self.samples("\(model)_inputs.npy")
            let n = min(inputs.count, 60)  // keeps the debug-build run short; conformance runs all
            for (suffix, writer) in Self.forms where FileManager.default.fileExists(atPath: Self.path(model + suffix)) {
                let m = try ModelLoader.load(path: Self.path(model + suffix), options: ModelLoadOptions(verify: true))
                XCTAssertEqual(Verifier.verify(m).map(\.description), [], model + suffix)
                let expected = try Self.samples("\(model)_\(writer).npy")
                let diff = maxAbsDifference(try runFloatModel(m, inputs: Array(inputs[..<n])), Array(expected[..<n]))
                XCTAssertLessThanOrEqual(diff, 1e-5, "\(model)\(suffix): max |ours − Keras| = \(diff)")
                checked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 2 * Self.models.count)
    }

    /// Fixtures/keras/generate_layers.py: untrained models covering the layer options the
    /// trained ones do not (cropping, dilations, merges, global max pooling, Permute, SimpleRNN,
    /// GRU without reset_after, go_backwards, sequences into Dense, …).
    func testLayerOptionsMatchKeras() throws {
        for model in ["conv2d_merges", "conv1d_options", "recurrent_options", "bidirectional"] {
            let inputs = try Self.samples("layers/\(model)_inputs.npy"), expected = try Self.samples("layers/\(model)_keras.npy")
            for suffix in [".keras", ".h5"] {
                let m = try ModelLoader.load(path: Self.path("layers/\(model)\(suffix)"), options: ModelLoadOptions(verify: true))
                let diff = maxAbsDifference(try runFloatModel(m, inputs: inputs), expected)
                XCTAssertLessThanOrEqual(diff, 1e-5, "\(model)\(suffix): max |ours − Keras| = \(diff)")
            }
        }
    }

    func testLayersBecomeBuiltins() throws {
        let cnn = opNames(try ModelLoader.load(path: Self.path("cnn_digits.keras")))
        XCTAssertEqual(cnn.filter { $0 == "CONV_2D" }.count, 4, "\(cnn)")  // 3 Conv2D + the separable's pointwise
        XCTAssertEqual(cnn.filter { $0 == "DEPTHWISE_CONV_2D" }.count, 2, "\(cnn)")
        for op in ["MAX_POOL_2D", "AVERAGE_POOL_2D", "PAD", "CONCATENATION", "ADD", "MEAN", "FULLY_CONNECTED", "SOFTMAX"] {
            XCTAssertTrue(cnn.contains(op), "\(op) missing from \(cnn)")
        }
        let lstm = opNames(try ModelLoader.load(path: Self.path("lstm_digits.keras")))
        XCTAssertFalse(lstm.contains("WHILE"))
        XCTAssertEqual(lstm.filter { $0 == "TANH" }.count, 16, "8 steps × (candidate, cell output)")
        // The three files of a model give the same graph.
        for model in Self.models {
            XCTAssertEqual(opNames(try ModelLoader.load(path: Self.path("\(model).keras"))), opNames(try ModelLoader.load(path: Self.path("\(model).h5"))), model)
        }
    }

    /// The CLI end to end with the micro rules: float .tflite, then int8 with the fixture's
    /// calibration samples; held-out accuracy within 0.5 points of Keras's.
    func testCLIConvertsToFloatAndInt8() throws {
        guard FileManager.default.fileExists(atPath: TestPaths.executable.path) else {
            throw XCTSkip("tfrewrite executable absent at \(TestPaths.executable.path): skipped")
        }
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for model in Self.models {
            let source = Self.path("\(model).keras")
            var r = try runTool([source, "--rules", "micro", "-o", dir.appendingPathComponent("\(model).tflite").path])
            XCTAssertEqual(r.status, 0, r.stderr)
            let int8 = dir.appendingPathComponent("\(model)_int8.tflite").path
            r = try runTool([source, "--rules", "micro", "--quantize", "int8", "--calibration", Self.path("\(model)_calib.npy"), "--float-io", "-o", int8])
            XCTAssertEqual(r.status, 0, r.stderr)
            let labels = try Self.labels(model)
            let keras = Self.accuracy(try Self.samples("\(model)_keras.npy"), labels)
            let quantized = Self.accuracy(try runFloatModel(try TFLiteImporter.load(path: int8), inputs: try Self.samples("\(model)_inputs.npy")), labels)
            print("\(model): held-out accuracy Keras \(keras), tfrewrite int8 \(quantized)")
            XCTAssertLessThanOrEqual(abs(quantized - keras), 0.005, "\(model): int8 accuracy \(quantized) vs Keras \(keras)")
        }
    }

    // MARK: Refusals

    /// A copy of a .keras archive with config.json edited.
    func archive(_ model: String, editingConfig edit: (String) -> String) throws -> String {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.path("\(model).keras"))))
        let members = try Zip.entries(bytes, path: model).map { e -> (name: String, data: [UInt8]) in
            let data = try Zip.contents(of: e, in: bytes, path: model)
            return (e.name, e.name == "config.json" ? Array(edit(String(decoding: data, as: UTF8.self)).utf8) : data)
        }
        let out = try TestPaths.temporaryDirectory().appendingPathComponent("\(model).keras")
        try Data(try Zip.storedArchive(members)).write(to: out)
        return out.path
    }

    func testUnknownLayerClassIsNamed() throws {
        let path = try archive("mlp_cancer") { $0.replacingOccurrences(of: "\"class_name\": \"Dropout\"", with: "\"class_name\": \"MyNoise\"") }
        XCTAssertThrowsError(try ModelLoader.load(path: path)) { error in
            XCTAssertTrue("\(error)".hasSuffix(": layer 'dropout_1' has class MyNoise, which tfrewrite cannot import (Docs/importing.md lists the Keras layers it reads)"), "\(error)")
            XCTAssertTrue("\(error)".hasPrefix(path), "\(error)")
        }
    }

    func testBadOptionsAndConfigsAreNamed() throws {
        let cases: [(String, (String) -> String, String)] = [
            ("mlp_cancer", { $0.replacingOccurrences(of: "\"activation\": \"tanh\"", with: "\"activation\": \"gelu\"") }, "activation 'gelu' is not supported"),
            ("cnn_digits", { $0.replacingOccurrences(of: "\"data_format\": \"channels_last\"", with: "\"data_format\": \"channels_first\"") }, "data_format channels_first is not supported"),
            ("mlp_cancer", { String($0.prefix(200)) }, "model config: JSON byte"),
            ("mlp_cancer", { $0.replacingOccurrences(of: "\"units\": 16", with: "\"units\": 17") }, "weight 0 has shape [30,16], expected [30,17]"),
        ]
        for (model, edit, message) in cases {
            XCTAssertThrowsError(try ModelLoader.load(path: try archive(model, editingConfig: edit)), message) { error in
                XCTAssertTrue("\(error)".contains(message), "\(error)")
            }
        }
    }

    /// Cut-short and bit-flipped .keras and .h5 files are refused in one line (exit 2) or still
    /// convert, never a crash, through the CLI (HDF5ReaderTests runs damaged files through the
    /// library in one process: libhdf5 runs in the reader child either way).
    func testDamagedFilesNeverCrash() throws {
        guard FileManager.default.fileExists(atPath: TestPaths.executable.path) else {
            throw XCTSkip("tfrewrite executable absent at \(TestPaths.executable.path): skipped")
        }
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var seed: UInt64 = 18
        func next() -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: seed >> 33)
        }
        var refused = 0
        for file in ["mlp_cancer.keras", "mlp_cancer.h5", "cnn_digits.h5"] {
            let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.path(file))))
            for trial in 0..<24 {
                var bytes = original
                if trial % 2 == 0 {
                    bytes = Array(bytes[..<(8 + next() % (bytes.count - 8))])
                } else {
                    for _ in 0..<6 { bytes[next() % bytes.count] ^= UInt8(truncatingIfNeeded: 1 << (next() % 8)) }
                }
                let path = dir.appendingPathComponent("\(trial)_\(file)").path
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                let r = try runTool([path, "-o", path + ".tflite"])
                XCTAssertTrue(r.status == 0 || r.status == 2, "\(file) trial \(trial): exit \(r.status): \(r.stderr)")
                if r.status == 2 {
                    refused += 1
                    XCTAssertTrue(r.stderr.hasPrefix("tfrewrite: error: ") && r.stderr.split(separator: "\n").count == 1, r.stderr)
                }
            }
        }
        XCTAssertGreaterThan(refused, 30)
    }

    func testWeightsOnlyAndEmptyFilesAreExplained() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        // model.weights.h5 on its own is an HDF5 file without a model config.
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.path("mlp_cancer.keras"))))
        let entry = try XCTUnwrap(try Zip.entries(bytes, path: "m").first { $0.name == "model.weights.h5" })
        let weights = dir.appendingPathComponent("w.h5")
        try Data(try Zip.contents(of: entry, in: bytes, path: "m")).write(to: weights)
        XCTAssertThrowsError(try ModelLoader.load(path: weights.path)) { error in
            XCTAssertTrue("\(error)".contains("has no model_config attribute, so it holds weights only"), "\(error)")
        }
        // A bare HDF5 signature.
        let stub = dir.appendingPathComponent("stub.h5")
        try Data([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a] + [UInt8](repeating: 0, count: 40)).write(to: stub)
        XCTAssertThrowsError(try ModelLoader.load(path: stub.path)) { error in
            XCTAssertEqual("\(error)", "\(stub.path): not a readable HDF5 file (libhdf5 cannot open it: truncated or damaged)")
        }
    }

    func testKerasGroupNames() {
        XCTAssertEqual(["ReLU", "Conv1D", "MaxPooling2D", "BatchNormalization", "LSTM", "GRU", "GlobalAveragePooling2D", "Dense"].map(KerasImporter.snakeCase),
                       ["re_lu", "conv1d", "max_pooling2d", "batch_normalization", "lstm", "gru", "global_average_pooling2d", "dense"])
        let layers = ["Dense", "Dense", "ReLU", "Dense"].enumerated().map { KerasLayerConfig(className: $1, name: "l\($0)", config: .null, inputs: []) }
        XCTAssertEqual(KerasImporter.archiveGroups(layers), ["l0": "dense", "l1": "dense_1", "l2": "re_lu", "l3": "dense_2"])
    }

    func testJSONParser() throws {
        let j = try JSON.parse(Array(#"{"a": [1, -2.5e1, true, null, "x\u00e9\n"], "b": {"c": NaN}}"#.utf8))
        XCTAssertEqual(j["a"]?.arrayValue?.count, 5)
        XCTAssertEqual(j["a"]?.arrayValue?[1].doubleValue, -25)
        XCTAssertEqual(j["a"]?.arrayValue?[4].stringValue, "xé\n")
        XCTAssertEqual(j["b"]?["c"]?.doubleValue?.isNaN, true)
        for bad in ["{", "[1,]", "{\"a\" 1}", "\"abc", String(repeating: "[", count: 600) + String(repeating: "]", count: 600), "1 2"] {
            XCTAssertThrowsError(try JSON.parse(Array(bad.utf8)), bad)
        }
    }
}
