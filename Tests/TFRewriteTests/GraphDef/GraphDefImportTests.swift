import FlatBuffers
import Foundation
import XCTest

@testable import TFRewrite

/// The Fixtures' TF1 graphs (frozen GraphDef and constants-only SavedModel): structure after
/// import, and float outputs against TensorFlow's own (held-out inputs, TF session outputs
/// stored by Fixtures/generate.py), run on the reference interpreter.
final class GraphDefImportTests: XCTestCase {
    static let fixtures = ["tiny_conv", "bn_net", "keras_dscnn", "scaled_input"]
    /// Ops that would mean batch-norm arithmetic survived.
    static let batchNormOps: Set<String> = ["MUL", "ADD", "SUB", "RSQRT", "SQRT", "DIV"]

    func load(_ path: String, _ options: ModelLoadOptions = ModelLoadOptions(verify: true)) throws -> Model {
        try ModelLoader.load(path: path, options: options)
    }

    func testTinyConvLowersLikeTheTFConverter() throws {
        let m = try load(TestPaths.graphDef("tiny_conv"))
        XCTAssertEqual(opNames(m), ["RESHAPE", "CONV_2D", "FULLY_CONNECTED", "SOFTMAX"])
        let g = m.subgraphs[0]
        XCTAssertEqual(g.inputs.map { g[$0].name }, ["fingerprint_input"])
        XCTAssertEqual(g.inputs.map { g[$0].shape }, [[1, 1960]])
        XCTAssertEqual(g.outputs.map { g[$0].name }, ["labels_softmax"])
        XCTAssertEqual(g.outputs.map { g[$0].shape }, [[1, 4]])
        // Conv + BiasAdd + Relu became one CONV_2D with a fused RELU and the TF bias.
        let conv = g.ops[1]
        XCTAssertEqual(conv.kind.fusedActivation, .relu)
        XCTAssertEqual(conv.provenance, ["Conv2D", "BiasAdd", "Relu"])
        XCTAssertEqual(g[conv.outputs[0]].name, "Relu")
        XCTAssertEqual(g[conv.inputs[1]].shape, [8, 10, 8, 1], "filter in OHWI")
        XCTAssertTrue(Verifier.verify(m).isEmpty, "\(Verifier.verify(m))")
    }

    func testBatchNormsAreFoldedInBnNet() throws {
        let m = try load(TestPaths.graphDef("bn_net"))
        XCTAssertEqual(opNames(m), ["CONV_2D", "MAX_POOL_2D", "DEPTHWISE_CONV_2D", "MEAN", "FULLY_CONNECTED", "SOFTMAX"])
        let g = m.subgraphs[0]
        XCTAssertEqual(g.ops[0].kind.fusedActivation, .relu6)
        guard case .depthwiseConv2D(let dw) = g.ops[2].kind else { return XCTFail("op 2 is \(g.ops[2].name)") }
        XCTAssertEqual(dw.depthMultiplier, 2)
        XCTAssertEqual(dw.activation, .relu)
        XCTAssertTrue(g.ops[0].provenance.contains("conv1/BatchNorm/FusedBatchNormV3"))
        XCTAssertTrue(g.ops[2].provenance.contains("dw2/BatchNorm/FusedBatchNorm"))
    }

    func testKerasDecomposedBatchNormIsFolded() throws {
        let m = try load(TestPaths.graphDef("keras_dscnn"))
        XCTAssertEqual(opNames(m), ["RESHAPE", "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "AVERAGE_POOL_2D", "FULLY_CONNECTED", "SOFTMAX"])
        let g = m.subgraphs[0]
        // The output keeps the name of the node asked for (an Identity with a ^NoOp input).
        XCTAssertEqual(g.outputs.map { g[$0].name }, ["Identity"])
        XCTAssertTrue(g.ops[1].provenance.contains("ds_cnn_1/conv_1_bn_1/batchnorm/mul_1"))
        XCTAssertTrue(g.ops[1].provenance.contains("ds_cnn_1/conv_1_bn_1/batchnorm/add_1"))
        for op in g.ops where op.name == "CONV_2D" || op.name == "DEPTHWISE_CONV_2D" {
            XCTAssertEqual(op.kind.fusedActivation, .relu, op.name)
        }
    }

    /// pixels / 255 in the graph: folded into the first conv's weights, as TF's converter does
    /// (TFLite has no int8 DIV, so the model could not be fully quantized with it).
    func testInputNormalizationIsFoldedInScaledInput() throws {
        let m = try load(TestPaths.graphDef("scaled_input"))
        XCTAssertEqual(opNames(m), ["CONV_2D", "DEPTHWISE_CONV_2D", "MEAN", "FULLY_CONNECTED", "SOFTMAX"])
        let g = m.subgraphs[0]
        XCTAssertEqual(g.ops[0].inputs[0], g.inputs[0], "the conv reads the pixels directly")
        XCTAssertTrue(g.ops[0].provenance.contains("normalize/truediv"), "\(g.ops[0].provenance)")
    }

    func testNoBatchNormArithmeticAndNoMoreOpsThanTensorFlow() throws {
        for name in Self.fixtures {
            for path in [TestPaths.graphDef(name), TestPaths.savedModel(name)] {
                let ours = try load(path)
                let theirs = try TFLiteImporter.load(path: TestPaths.reference(name))
                XCTAssertTrue(Set(opNames(ours)).isDisjoint(with: Self.batchNormOps), "\(path): \(opNames(ours))")
                XCTAssertLessThanOrEqual(opNames(ours).count, opNames(theirs).count, "\(path): \(opNames(ours)) vs TF \(opNames(theirs))")
            }
        }
    }

    /// The lowering before any pass still computes what TF computes (the passes are checked
    /// separately against it): every FusedBatchNorm is MUL + ADD, every BiasAdd an ADD.
    func testRawLoweringIsValidAndComplete() throws {
        let raw = try load(TestPaths.graphDef("bn_net"), ModelLoadOptions(runImportPipeline: false))
        XCTAssertTrue(Verifier.verify(raw).isEmpty, "\(Verifier.verify(raw))")
        let ops = opNames(raw)
        XCTAssertEqual(ops.filter { $0 == "MUL" }.count, 2)
        XCTAssertEqual(ops.filter { $0 == "ADD" }.count, 3)
        XCTAssertEqual(ops.filter { $0 == "RELU6" }.count, 1)
        let folded = try load(TestPaths.graphDef("bn_net"))
        let inputs = try readFloatNpy(TestPaths.fixtures.appendingPathComponent("heldout/bn_net_inputs.npy").path)
        let xs = (0..<10).map { Array(inputs.values[($0 * 768)..<(($0 + 1) * 768)]) }
        XCTAssertLessThan(maxAbsDifference(try runFloatModel(raw, inputs: xs), try runFloatModel(folded, inputs: xs)), 1e-5)
    }

    func testOutputsMatchTensorFlowOnHeldOutInputs() throws {
        for name in Self.fixtures {
            let inputs = try readFloatNpy(TestPaths.fixtures.appendingPathComponent("heldout/\(name)_inputs.npy").path)
            let expected = try readFloatNpy(TestPaths.fixtures.appendingPathComponent("heldout/\(name)_tf_outputs.npy").path)
            // The first 50 of the 100 held-out inputs keep the debug-build run short.
            let total = inputs.shape[0], inSize = inputs.values.count / total, outSize = expected.values.count / total
            let n = min(total, 50)
            XCTAssertGreaterThanOrEqual(n, 50)
            let xs = (0..<n).map { Array(inputs.values[($0 * inSize)..<(($0 + 1) * inSize)]) }
            let ys = (0..<n).map { Array(expected.values[($0 * outSize)..<(($0 + 1) * outSize)]) }
            for path in [TestPaths.graphDef(name), TestPaths.savedModel(name)] {
                let got = try runFloatModel(try load(path), inputs: xs)
                let diff = maxAbsDifference(got, ys)
                XCTAssertLessThan(diff, 1e-5, "\(path): max |ours − TF| = \(diff) over \(n) held-out inputs")
            }
        }
    }

    func testSavedModelMatchesGraphDefAndKeepsSignature() throws {
        for name in Self.fixtures {
            let fromGraph = try load(TestPaths.graphDef(name))
            let fromSaved = try load(TestPaths.savedModel(name))
            XCTAssertEqual(IRPrinter.print(fromSaved), IRPrinter.print(fromGraph), name)
            let sig = try XCTUnwrap(fromSaved.signatureDefs.first, name)
            XCTAssertEqual(sig.key, "serving_default")
            let g = fromSaved.subgraphs[0]
            XCTAssertEqual(sig.inputs.map(\.tensor), g.inputs)
            XCTAssertEqual(sig.outputs.map(\.tensor), g.outputs)
        }
        // saved_model.pb named directly works too.
        let direct = try load(TestPaths.savedModel("tiny_conv") + "/saved_model.pb")
        XCTAssertEqual(opNames(direct), ["RESHAPE", "CONV_2D", "FULLY_CONNECTED", "SOFTMAX"])
    }

    /// TOCO parity: with conv-to-depthwise (what the micro_speech rules run), tiny_conv has the
    /// reference micro_speech model's op sequence.
    func testTinyConvWithConvToDepthwiseMatchesTOCO() throws {
        var m = try load(TestPaths.graphDef("tiny_conv"))
        guard let entry = PassRegistry.entry("conv-to-depthwise") else { throw XCTSkip("conv-to-depthwise pass is not registered") }
        var pass = try entry.make(PassOptions())
        var context = PassContext()
        _ = try pass.run(on: &m, context: &context)
        XCTAssertEqual(opNames(m), ["RESHAPE", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"])
        let toco = try TFLiteImporter.load(path: try TestPaths.corpusDirectory("tflite").appendingPathComponent("micro_speech_quantized.tflite").path)
        XCTAssertEqual(opNames(m), opNames(toco))
        // Same tensor shapes along the chain as TOCO's model.
        let ours = m.subgraphs[0], theirs = toco.subgraphs[0]
        XCTAssertEqual(ours.ops.map { ours[$0.outputs[0]].shape }, theirs.ops.map { theirs[$0.outputs[0]].shape })
    }

    func testImportIsDeterministic() throws {
        let a = TFLiteExporter.serialize(try load(TestPaths.graphDef("keras_dscnn")))
        let b = TFLiteExporter.serialize(try load(TestPaths.graphDef("keras_dscnn")))
        XCTAssertEqual(a.bytes(), b.bytes())
    }

    func testCutAtAnInnerNodeInfersItsShape() throws {
        // --input Reshape: the cut tensor's shape comes from lowering the graph upstream.
        let m = try load(TestPaths.graphDef("tiny_conv"), try ModelLoadOptions(inputs: ["Reshape"], outputs: ["labels_softmax"], signature: nil))
        let g = m.subgraphs[0]
        XCTAssertEqual(g.inputs.map { g[$0].shape }, [[1, 49, 40, 1]])
        XCTAssertEqual(opNames(m), ["CONV_2D", "FULLY_CONNECTED", "SOFTMAX"])
        // --output in the middle.
        let head = try load(TestPaths.graphDef("tiny_conv"), try ModelLoadOptions(inputs: [], outputs: ["Relu"], signature: nil))
        XCTAssertEqual(opNames(head), ["RESHAPE", "CONV_2D"])
        XCTAssertEqual(head.subgraphs[0].outputs.map { head.subgraphs[0][$0].name }, ["Relu"])
    }

    func testCLIConvertsGraphDefAndSavedModel() throws {
        let dir = try TestPaths.temporaryDirectory()
        for (i, path) in [TestPaths.graphDef("bn_net"), TestPaths.savedModel("bn_net")].enumerated() {
            let out = dir.appendingPathComponent("out\(i).tflite").path
            let r = try runTool([path, "-o", out])
            XCTAssertEqual(r.status, 0, r.stderr)
            let m = try TFLiteImporter.load(path: out)
            XCTAssertEqual(opNames(m), ["CONV_2D", "MAX_POOL_2D", "DEPTHWISE_CONV_2D", "MEAN", "FULLY_CONNECTED", "SOFTMAX"])
        }
    }
}
