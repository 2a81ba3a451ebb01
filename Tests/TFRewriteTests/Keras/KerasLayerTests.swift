import Foundation
import XCTest

@testable import Import
@testable import Kernels
@testable import Support
@testable import TFRewrite

/// The layers added to the Keras importer later (Fixtures/keras/generate_layers.py,
/// MORE_MODELS): Conv2DTranspose, grouped convolutions, UpSampling, Embedding,
/// LayerNormalization, PReLU, ELU, TimeDistributed, return_state, shared layers and nested
/// models; and the Keras fixtures' SavedModel form (model.export), whose LSTM and GRU hold a
/// While loop that the importer unrolls.
final class KerasLayerTests: XCTestCase {
    static let models = ["conv_transpose_groups", "sequence_layers", "timedistributed_states", "nested_shared"]

    override func setUpWithError() throws {
        try TestPaths.useHDF5ReaderChild()
    }

    /// Float outputs on our interpreter against Keras's (test_keras_import.py checks LiteRT and
    /// TFLM).
    func testNewLayersMatchKeras() throws {
        var checked = 0
        for model in Self.models {
            let inputs = try KerasImportTests.samples("layers/\(model)_inputs.npy"), expected = try KerasImportTests.samples("layers/\(model)_keras.npy")
            for suffix in [".keras", ".h5"] {
                let m = try ModelLoader.load(path: KerasImportTests.path("layers/\(model)\(suffix)"), options: ModelLoadOptions(verify: true))
                XCTAssertEqual(Verifier.verify(m).map(\.description), [], model + suffix)
                let diff = maxAbsDifference(try runFloatModel(m, inputs: inputs), expected)
                XCTAssertLessThanOrEqual(diff, 1e-5, "\(model)\(suffix): max |ours − Keras| = \(diff)")
                checked += 1
            }
        }
        XCTAssertEqual(checked, 8)
    }

    func testNewLayersBecomeBuiltins() throws {
        func ops(_ model: String) throws -> [String] { opNames(try ModelLoader.load(path: KerasImportTests.path("layers/\(model).keras"))) }
        // Conv2DTranspose: spread input (CONCATENATION with zeros), PAD, CONV_2D; groups=3: 3 CONV_2D.
        let transpose = try ops("conv_transpose_groups")
        XCTAssertEqual(transpose.filter { $0 == "CONV_2D" }.count, 3 + 3 + 1, "\(transpose)")
        XCTAssertFalse(transpose.contains("TRANSPOSE_CONV"))
        let sequence = try ops("sequence_layers")
        for op in ["CAST", "GATHER", "MEAN", "SQUARED_DIFFERENCE", "RSQRT", "ELU", "MINIMUM", "RELU"] {
            XCTAssertTrue(sequence.contains(op), "\(op) missing from \(sequence)")
        }
        // The shared Dense is called twice, the nested Functional model twice.
        let nested = try ops("nested_shared")
        XCTAssertEqual(nested.filter { $0 == "FULLY_CONNECTED" }.count, 2 + 2 + 1 + 2 + 1, "\(nested)")
    }

    func testNestedLayerErrorsNameThePath() throws {
        let path = KerasImportTests.path("layers/nested_shared.keras")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let members = try Zip.entries(bytes, path: path).map { e -> (name: String, data: [UInt8]) in
            let data = try Zip.contents(of: e, in: bytes, path: path)
            let edited = String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\"class_name\": \"LayerNormalization\"", with: "\"class_name\": \"GroupNormalization\"")
            return (e.name, e.name == "config.json" ? Array(edited.utf8) : data)
        }
        let out = try TestPaths.temporaryDirectory().appendingPathComponent("nested.keras")
        try Data(try Zip.storedArchive(members)).write(to: out)
        XCTAssertThrowsError(try ModelLoader.load(path: out.path)) { error in
            XCTAssertTrue("\(error)".contains("layer 'functional_22/layer_normalization_2' has class GroupNormalization"), "\(error)")
        }
    }

    /// model.export of the five trained fixtures: the LSTM's and GRU's While loops are unrolled
    /// on import; every form matches Keras's outputs.
    func testKerasExportSavedModelsMatchKeras() throws {
        for model in KerasImportTests.models {
            let m = try ModelLoader.load(path: KerasImportTests.path("savedmodel/\(model)"), options: ModelLoadOptions(verify: true))
            XCTAssertFalse(opNames(m).contains("WHILE"), model)
            let inputs = try KerasImportTests.samples("\(model)_inputs.npy"), expected = try KerasImportTests.samples("\(model)_keras.npy")
            let n = min(inputs.count, 40)
            let diff = maxAbsDifference(try runFloatModel(m, inputs: Array(inputs[..<n])), Array(expected[..<n]))
            XCTAssertLessThanOrEqual(diff, 1e-5, "\(model): max |ours − Keras| = \(diff)")
        }
    }

    /// The int8 unrolled LSTM reads one weight tensor per gate and input (x or h), shared by
    /// all 8 steps, not a copy per step.
    func testUnrolledInt8RecurrentWeightsAreShared() throws {
        guard FileManager.default.fileExists(atPath: TestPaths.executable.path) else {
            throw XCTSkip("tfrewrite executable absent at \(TestPaths.executable.path): skipped")
        }
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (model, weights) in [("lstm_digits", 4 + 4 + 1), ("gru_digits", 2 * (3 + 3) + 1)] {
            let out = dir.appendingPathComponent("\(model).tflite").path
            let r = try runTool([KerasImportTests.path("\(model).keras"), "--rules", "micro", "--quantize", "int8", "--calibration",
                                 KerasImportTests.path("\(model)_calib.npy"), "--float-io", "-o", out])
            XCTAssertEqual(r.status, 0, r.stderr)
            let g = try TFLiteImporter.load(path: out).subgraphs[0]
            let fc = g.ops.filter { !$0.isErased && $0.name == "FULLY_CONNECTED" }
            XCTAssertEqual(Set(fc.map { $0.inputs[1] }).count, weights, model)
        }
    }
}
