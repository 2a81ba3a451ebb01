import FlatBuffers
import Foundation
import XCTest

@testable import TFRewrite

/// The ML-KWS GraphDefs of ../shared/models/graphdef (skipped, visibly, when absent), cut at
/// Mfcc → labels_softmax like a user deploying the part a microcontroller runs.
final class GraphDefCorpusTests: XCTestCase {
    static let expected: [(name: String, mfcc: [Int32], ops: [String])] = [
        ("DNN_S", [1, 25, 10], ["FULLY_CONNECTED", "FULLY_CONNECTED", "FULLY_CONNECTED", "FULLY_CONNECTED", "SOFTMAX"]),
        ("CNN_S", [1, 49, 10], ["RESHAPE", "CONV_2D", "CONV_2D", "FULLY_CONNECTED", "FULLY_CONNECTED", "FULLY_CONNECTED", "SOFTMAX"]),
        ("DS_CNN_S", [1, 49, 10], ["RESHAPE", "CONV_2D"] + Array(repeating: ["DEPTHWISE_CONV_2D", "CONV_2D"], count: 4).flatMap { $0 } + ["AVERAGE_POOL_2D", "FULLY_CONNECTED", "SOFTMAX"]),
    ]

    func cut(_ path: String, input: String = "Mfcc") throws -> Model {
        try ModelLoader.load(path: path, options: ModelLoadOptions(graph: GraphDefImportOptions(inputs: [try ModelLoadOptions.parseInput(input)], outputs: [try ModelLoadOptions.parseOutput("labels_softmax")]), verify: true))
    }

    /// The Mfcc shape follows from DecodeWav/AudioSpectrogram/Mfcc attributes alone.
    func testMfccShapeIsInferredFromTheAudioFrontEnd() throws {
        for e in Self.expected {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: try TestPaths.corpusGraph(e.name))))
            let graph = try bytes.withUnsafeBytes { try ProtoDecoding.graphDef($0, path: e.name) }
            var inference = GraphDefShapeInference(topology: try GraphDefTopology(graph))
            XCTAssertEqual(inference.shape(of: TFTensorRef(node: "Mfcc")), e.mfcc.map(Int.init), e.name)
            XCTAssertEqual(inference.shape(of: TFTensorRef(node: "AudioSpectrogram")), [1, Int(e.mfcc[1]), 513], e.name)
        }
    }

    func testCutGraphsLowerToTheExpectedOps() throws {
        for e in Self.expected {
            let path = try TestPaths.corpusGraph(e.name)
            let m = try cut(path)
            let g = m.subgraphs[0]
            XCTAssertEqual(g.inputs.map { g[$0].name }, ["Mfcc"], e.name)
            XCTAssertEqual(g.inputs.map { g[$0].shape }, [e.mfcc], e.name)
            XCTAssertEqual(g.outputs.map { g[$0].name }, ["labels_softmax"], e.name)
            XCTAssertEqual(opNames(m), e.ops, e.name)
            XCTAssertTrue(Set(opNames(m)).isDisjoint(with: GraphDefImportTests.batchNormOps), "\(e.name): \(opNames(m))")
            let reference = try TFLiteImporter.load(path: TestPaths.fixtures.appendingPathComponent("reference/corpus/\(e.name)_tf.tflite").path)
            XCTAssertLessThanOrEqual(opNames(m).count, opNames(reference).count, "\(e.name) vs TF \(opNames(reference))")
            // The explicit shape gives the same model.
            let explicit = try cut(path, input: "Mfcc:" + e.mfcc.map(String.init).joined(separator: ","))
            XCTAssertEqual(IRPrinter.print(explicit), IRPrinter.print(m), e.name)
        }
    }

    /// Held-out MFCC inputs (Fixtures/generate_graphdef_refs.py) against the outputs TF
    /// computed for them from the same frozen graph.
    func testOutputsMatchTensorFlow() throws {
        for e in Self.expected {
            let m = try cut(try TestPaths.corpusGraph(e.name))
            let inputs = try readFloatNpy(TestPaths.fixtures.appendingPathComponent("heldout/corpus_\(e.name)_inputs.npy").path)
            let expected = try readFloatNpy(TestPaths.fixtures.appendingPathComponent("heldout/corpus_\(e.name)_tf_outputs.npy").path)
            // The first 50 of the 100 held-out inputs keep the debug-build run short.
            let total = inputs.shape[0], inSize = inputs.values.count / total
            let n = min(total, 50)
            XCTAssertEqual(inSize, Int(e.mfcc.reduce(1, *)))
            let xs = (0..<n).map { Array(inputs.values[($0 * inSize)..<(($0 + 1) * inSize)]) }
            let ys = (0..<n).map { Array(expected.values[($0 * 12)..<(($0 + 1) * 12)]) }
            let diff = maxAbsDifference(try runFloatModel(m, inputs: xs), ys)
            XCTAssertLessThan(diff, 1e-5, "\(e.name): max |ours − TF| = \(diff) over \(n) inputs")
        }
    }

    func testWrongMfccShapeNamesTheReshape() throws {
        let path = try TestPaths.corpusGraph("DNN_S")
        XCTAssertThrowsError(try cut(path, input: "Mfcc:1,49,10")) { error in
            XCTAssertEqual(String(describing: error), "Reshape node 'Reshape': cannot reshape [1,49,10] (490 elements) to [-1,250]")
        }
    }

    func testWithoutACutTheAudioFrontEndIsNamed() throws {
        let path = try TestPaths.corpusGraph("DS_CNN_S")
        XCTAssertThrowsError(try ModelLoader.load(path: path)) { error in
            XCTAssertEqual(String(describing: error), "unsupported TensorFlow ops: DecodeWav (decoded_sample_data), AudioSpectrogram (AudioSpectrogram), Mfcc (Mfcc); the audio front end runs outside the model: cut it off with --input-arrays Mfcc")
        }
    }

    func testCLIHeadlineCommand() throws {
        let dir = try TestPaths.temporaryDirectory()
        for e in Self.expected {
            let out = dir.appendingPathComponent("\(e.name).tflite").path
            let r = try runTool([try TestPaths.corpusGraph(e.name), "--input-arrays", "Mfcc", "--output-arrays", "labels_softmax", "--rules", "micro", "-o", out])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(opNames(try TFLiteImporter.load(path: out)).count, e.ops.count, e.name)
        }
    }
}
