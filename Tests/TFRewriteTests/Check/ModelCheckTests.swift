import FlatBuffers
import Foundation
import XCTest

@testable import TFRewrite

final class ModelCheckTests: XCTestCase {
    func target(_ name: String) throws -> TargetProfile { try XCTUnwrap(RuleSet.load([name]).target) }
    func fixture(_ name: String) throws -> Model { try TFLiteImporter.load(path: TestPaths.fixtures.appendingPathComponent(name).path) }

    /// The passes `check` asks about ops a target lacks are passes a rules file can name, and
    /// each says which ops it removes.
    func testPassesThatRemoveMissingOpsAreRegistered() {
        let names = Set(PassRegistry.all.map(\.name))
        XCTAssertFalse(MissingOpFixes.passes.isEmpty)
        for pass in MissingOpFixes.passes {
            XCTAssertTrue(names.contains(pass.name), pass.name)
            XCTAssertFalse(pass.removableOps.isEmpty, pass.name)
        }
    }

    func testMicroSpeechInt8FailsTheMicroSpeechTarget() throws {
        let result = ModelCheck.run(try fixture("micro_speech_int8.tflite"), target: try target("micro_speech"))
        XCTAssertFalse(result.isClean)
        XCTAssertEqual(result.findings.count, 1, "\(result.findings)")
        let f = try XCTUnwrap(result.findings.first)
        XCTAssertEqual(f.code, "op-not-in-target")
        XCTAssertEqual(f.severity, .error)
        XCTAssertEqual(f.op, "CONV_2D")
        XCTAssertEqual(f.opIndex, 1)
        XCTAssertEqual(f.fixPass, "conv-to-depthwise")
        XCTAssertEqual(f.description, "CONV_2D #1 is not in the target micro_speech (tflm); its input has 1 channel: conv-to-depthwise rewrites it as DEPTHWISE_CONV_2D")
    }

    func testReferenceMicroSpeechModelPasses() throws {
        let dir = try TestPaths.corpusDirectory("tflite")
        let m = try TFLiteImporter.load(path: dir.appendingPathComponent("micro_speech_quantized.tflite").path)
        let result = ModelCheck.run(m, target: try target("micro_speech"))
        XCTAssertTrue(result.isClean, "\(result.findings)")
        XCTAssertTrue(result.text(model: "m.tflite").contains("no problems for the target micro_speech (tflm)"))
    }

    func testRepairedModelPasses() throws {
        var m = try fixture("micro_speech_int8.tflite")
        let rules = try RuleSet.load(["micro_speech"])
        try rules.run(on: &m, verifyAfterEachPass: true)
        let result = ModelCheck.run(m, target: try XCTUnwrap(rules.target))
        XCTAssertTrue(result.isClean, "\(result.findings)")
        // The op sequence of TOCO's micro_speech_quantized.tflite.
        XCTAssertEqual(m.subgraphs[0].ops.map(\.name), ["RESHAPE", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"])
        XCTAssertEqual(m.subgraphs[0].ops[1].version, 3)
    }

    func testShapeChainsAreWarningsForMicroAndFoldShapesFixesThem() throws {
        let m = try fixture("ds_cnn_int8.tflite")
        let result = ModelCheck.run(m, target: try target("micro"))
        XCTAssertEqual(result.errors.count, 0, "\(result.errors)")
        XCTAssertEqual(result.warnings.map(\.code), ["shape-chain", "shape-chain"])
        XCTAssertEqual(result.warnings.map(\.opIndex), [3, 15])
        XCTAssertEqual(result.warnings[0].fixPass, "fold-shapes")
        XCTAssertEqual(result.warnings[0].description,
                       "RESHAPE #3 takes its shape from SHAPE #0, STRIDED_SLICE #1, PACK #2 at run time: fold-shapes makes the shape a constant and removes them (give --batch N: the batch is dynamic)")
        var repaired = m
        try RuleSet.load(["micro"]).run(on: &repaired, batch: 1, verifyAfterEachPass: true)
        XCTAssertTrue(ModelCheck.run(repaired, target: try target("micro")).isClean)
    }

    func testShapeOpsTheTargetLacksPointAtFoldShapes() throws {
        let result = ModelCheck.run(try fixture("ds_cnn_int8.tflite"), target: try target("micro_speech"))
        let shapeOps = result.findings.filter { ["SHAPE", "STRIDED_SLICE", "PACK"].contains($0.op ?? "") }
        XCTAssertEqual(shapeOps.count, 6)
        XCTAssertTrue(shapeOps.allSatisfy { $0.fixPass == "fold-shapes" && $0.problem.contains("computes the shape of RESHAPE") })
        // The 64-channel 1x1 convolutions cannot become depthwise: no fix.
        let convs = result.findings.filter { $0.op == "CONV_2D" }
        XCTAssertEqual(convs.map(\.fixPass), ["conv-to-depthwise", nil, nil, nil])
        XCTAssertEqual(result.findings.first { $0.op == "AVERAGE_POOL_2D" }?.fixPass, nil)
    }

    func testFloatIOAndPerChannelFullyConnected() throws {
        let m = try fixture("qdq_float_io.tflite")
        let micro = ModelCheck.run(m, target: try target("micro"))
        XCTAssertEqual(micro.findings.map(\.code), ["float-io", "float-io"])
        XCTAssertEqual(micro.findings.map(\.fixPass), ["int8-io", "int8-io"])
        XCTAssertEqual(micro.findings.map(\.op), ["QUANTIZE", "DEQUANTIZE"])
        let old = ModelCheck.run(m, target: try target("micro_versioned_2020"))
        let pc = try XCTUnwrap(old.findings.first { $0.code == "per-channel-fully-connected" })
        XCTAssertEqual(pc.opIndex, 3)
        XCTAssertEqual(pc.fixPass, "per-tensor-fully-connected")
        XCTAssertTrue(pc.fix.contains("per-tensor"), pc.fix)
    }

    func testQuantizeAndDequantizeMissingFromTheTargetPointAtInt8IO() throws {
        let t = TargetProfile(runtime: "t", ops: ["CONV_2D": nil, "RESHAPE": nil, "FULLY_CONNECTED": nil])
        let result = ModelCheck.run(try fixture("qdq_float_io.tflite"), target: t)
        XCTAssertEqual(result.findings.map(\.code), ["op-not-in-target", "op-not-in-target"])
        XCTAssertEqual(result.findings.map(\.fixPass), ["int8-io", "int8-io"])
    }

    func testHybridFloat16AndUint8() throws {
        let micro = try target("micro")
        let hybrid = oneOpModel(.fullyConnected(FullyConnectedAttributes()), version: 3, inputs: [.act(.float32, [1, 4]), .weights([3, 4]), nil], outputs: [.act(.float32, [1, 3])])
        let h = ModelCheck.run(hybrid, target: micro)
        XCTAssertEqual(h.findings.map(\.code), ["hybrid-quantization"])
        XCTAssertTrue(h.findings[0].fix.contains("--quantize int8"))
        XCTAssertTrue(h.findings[0].description.hasPrefix("FULLY_CONNECTED #0 is hybrid (float input, int8 weights \"in1\")"), h.findings[0].description)

        let f16 = oneOpModel(.dequantize, version: 3, inputs: [.const(.float16, [4])], outputs: [.act(.float32, [4])])
        let f = ModelCheck.run(f16, target: micro)
        XCTAssertEqual(f.findings.map(\.code), ["float16", "tensor-type"])
        XCTAssertEqual(f.findings[1].label, "model")
        XCTAssertTrue(f.findings[1].problem.contains("1 FLOAT16 tensor(s) (\"in0\")"), f.findings[1].problem)

        let q = Quantization.perTensor(scale: 0.1, zeroPoint: 128)
        let u8 = oneOpModel(.softmax(beta: 1), inputs: [.act(.uint8, [1, 4], q: q)], outputs: [.act(.uint8, [1, 4], q: q)])
        XCTAssertEqual(ModelCheck.run(u8, target: micro).findings.map(\.code), ["uint8-quantization"])
        // The 2020 profile still ran uint8 models.
        XCTAssertEqual(ModelCheck.run(u8, target: try target("micro_versioned_2020")).findings.map(\.code), [])
    }

    func testVersionsAboveTheProfile() throws {
        let old = try target("micro_versioned_2020")
        let inflated = oneOpModel(.fullyConnected(FullyConnectedAttributes()), version: 9, inputs: [.i8([1, 4]), .weights([3, 4]), .const(.int32, [3])], outputs: [.i8([1, 3])])
        let r = ModelCheck.run(inflated, target: old)
        XCTAssertEqual(r.findings.map(\.code), ["version-above-target"])
        XCTAssertEqual(r.findings[0].fixPass, "legalize-op-versions")
        XCTAssertEqual(r.findings[0].description,
                       "FULLY_CONNECTED #0 is version 9, the target accepts up to 4: legalize-op-versions sets v4, the lowest its types need (int8 input, weights and output)")
        // keep_num_dims needs v5: nothing can lower it.
        let needs5 = oneOpModel(.fullyConnected(FullyConnectedAttributes(keepNumDims: true)), version: 5, inputs: [.i8([1, 2, 4]), .weights([3, 4]), .const(.int32, [3])], outputs: [.i8([1, 2, 3])])
        let r5 = ModelCheck.run(needs5, target: old)
        XCTAssertNil(r5.findings[0].fixPass)
        XCTAssertTrue(r5.findings[0].problem.contains("it needs at least v5 (keep_num_dims)"), r5.findings[0].problem)
    }

    func testOneChannelDepthwiseOnATargetWithoutDepthwise() throws {
        let m = oneOpModel(.depthwiseConv2D(DepthwiseConv2DAttributes(padding: .same, strideW: 1, strideH: 1, depthMultiplier: 4)),
                           inputs: [.i8([1, 4, 4, 1]), .weights([1, 3, 3, 4], perChannelAxis: 3), .const(.int32, [4])], outputs: [.i8([1, 4, 4, 4])])
        let t = TargetProfile(runtime: "t", ops: ["CONV_2D": nil])
        let r = ModelCheck.run(m, target: t)
        XCTAssertEqual(r.findings.map(\.fixPass), ["depthwise-to-conv"])
        XCTAssertEqual(r.findings[0].description, "DEPTHWISE_CONV_2D #0 is not in the target t; its input has 1 channel: depthwise-to-conv rewrites it as CONV_2D")
        // Neither form registered: nothing to offer.
        let none = ModelCheck.run(m, target: TargetProfile(runtime: "t", ops: ["RESHAPE": nil]))
        XCTAssertNil(none.findings[0].fixPass)
    }

    /// Keras 3's stacked LSTM loop body slices by the loop counter: two SLICE outputs with sizes
    /// only the run decides, which TFLM sizes once from the file (wrong outputs on current TFLM,
    /// an abort on the 2023/2024 wheels: Tests/Conformance/test_measured_profiles.py). The
    /// single loop and the main graph's dynamic batch are no finding; unrolling fixes it.
    func testOutputsSizedAtRunTimeInALoopBody() throws {
        let stacked = try fixture("recurrent/lstm_stacked_loop_float.tflite")
        let result = ModelCheck.run(stacked, target: try target("micro"))
        XCTAssertEqual(result.errors.map(\.code), ["runtime-size", "runtime-size"], "\(result.findings)")
        XCTAssertEqual(result.errors.map(\.subgraph), [2, 2])
        XCTAssertEqual(result.errors.map(\.opIndex), [20, 23])
        XCTAssertEqual(result.errors.map(\.op), ["SLICE", "SLICE"])
        XCTAssertEqual(result.errors[0].fixPass, "unroll-while")
        XCTAssertTrue(result.errors[0].problem.contains("shape [?,?,?]"), result.errors[0].problem)
        XCTAssertTrue(ModelCheck.run(try fixture("recurrent/lstm_loop_float.tflite"), target: try target("micro")).isClean)
        // LiteRT resizes tensors as it runs: not a finding there.
        var litert = try target("micro")
        litert.runtime = "litert"
        XCTAssertFalse(ModelCheck.run(stacked, target: litert).findings.contains { $0.code == "runtime-size" })
        // The conversion for the target refuses to write it unless the loop is unrolled.
        var kept = stacked
        XCTAssertThrowsError(try TargetCheck.verify(kept, target: try target("micro"), kernels: true)) { error in
            XCTAssertTrue("\(error)".contains("SLICE #20"), "\(error)")
        }
        let rules = try RuleSet.load(["micro"])
        try rules.run(on: &kept, verifyAfterEachPass: true)
        XCTAssertTrue(TargetCheck.problems(kept, target: try XCTUnwrap(rules.target), kernels: true).isEmpty)
    }

    func testJSON() throws {
        let result = ModelCheck.run(try fixture("micro_speech_int8.tflite"), target: try target("micro_speech"))
        let text = result.json(model: "m.tflite", rules: ["Rules/micro_speech.yaml"]).rendered()
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        XCTAssertEqual(obj["clean"] as? Bool, false)
        XCTAssertEqual(obj["errors"] as? Int, 1)
        let findings = try XCTUnwrap(obj["findings"] as? [[String: Any]])
        XCTAssertEqual(findings.first?["op"] as? String, "CONV_2D")
        XCTAssertEqual(findings.first?["op_index"] as? Int, 1)
        XCTAssertEqual(findings.first?["fix_pass"] as? String, "conv-to-depthwise")
    }

    func testEveryCorpusModelChecksWithoutTrapping() throws {
        let micro = try target("micro")
        for url in try TestPaths.corpusModels() + TestPaths.fixtureModels() {
            let m = try TFLiteImporter.load(path: url.path)
            let r = ModelCheck.run(m, target: micro)
            XCTAssertFalse(r.text(model: url.lastPathComponent).isEmpty)
            if url.lastPathComponent == "person_detect_vela.tflite" {
                XCTAssertTrue(r.findings.contains { $0.op == "ethos-u" && $0.code == "op-not-in-target" }, "\(r.findings)")
            }
        }
    }
}
