import Foundation
import XCTest

@testable import TFRewrite
import TestSupport

/// `--quantize int8` on a model that is already quantized: dequantized to float
/// (`ModelDequantizer`), then quantized from the calibration data to int8.
final class RequantizeTests: XCTestCase {
    private let uint8Model = """
        subgraph 0 "main"
          input %0 "x": u8[1,4] q(0.05, 128)
          const %1 "w": u8[2,4] q(0.01, 120) = [130, 110, 120, 140, 100, 125, 135, 120]
          const %2 "b": i32[2] q(0.0005, 0) = [100, -50]
          #0 FULLY_CONNECTED v1 (%0, %1, %2) -> %3 "y": u8[1,2] q(0.02, 128)
          output %3
        """

    func testUint8ModelDequantizesToItsRealValues() throws {
        let m = try IRParser.parse(uint8Model)
        XCTAssertTrue(ModelDequantizer.isQuantized(m))
        let d = ModelDequantizer.dequantize(m)
        XCTAssertEqual(d.activationType, "uint8")
        XCTAssertEqual(d.constants, 2)
        let g = d.model.subgraphs[0]
        let fc = g.ops[0]
        let w = try XCTUnwrap(d.model.constant(fc.inputs[1]))
        XCTAssertEqual(w.type.dtype, .float32)
        for (a, b) in zip(w.floats, [0.1, -0.1, 0, 0.2, -0.2, 0.05, 0.15, 0] as [Float]) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        for (a, b) in zip(try XCTUnwrap(d.model.constant(fc.inputs[2])).floats, [0.05, -0.025] as [Float]) { XCTAssertEqual(a, b, accuracy: 1e-7) }
        XCTAssertEqual(g[g.inputs[0]].dtype, .float32)
        XCTAssertFalse(ModelDequantizer.isQuantized(d.model))
        XCTAssertEqual(Verifier.verify(d.model).map(\.description), [])
    }

    /// uint8 in, int8 per-spec out: int8 I/O, names kept, weights symmetric int8.
    func testUint8ModelRequantizesToInt8() throws {
        let m = try IRParser.parse(uint8Model)
        let r = try PostTrainingQuantization.run(m, PostTrainingQuantizationRequest(calibration: "random:32"))
        let g = r.model.subgraphs[0]
        XCTAssertEqual(g[g.inputs[0]].dtype, .int8)
        XCTAssertEqual(g[g.outputs[0]].dtype, .int8)
        XCTAssertEqual(g[g.outputs[0]].name, "y")
        let w = try XCTUnwrap(r.model.constant(g.ops[0].inputs[1]))
        XCTAssertEqual(w.type.dtype, .int8)
        XCTAssertEqual(w.type.quantization?.zeroPoints, [0])
        XCTAssertTrue(r.text().contains("requantized a uint8 model: 2 constants and 2 tensors dequantized to float first"), r.text())
    }

    /// QUANTIZE / DEQUANTIZE at the edges of a float-I/O int8 model disappear; the output keeps its name.
    func testEdgeConvertersAreRemoved() throws {
        let m = try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": f32[1,2]
              const %1 "w": i8[2,2] q(0.01, 0) = [100, -50, 25, 127]
              #0 QUANTIZE v1 (%0) -> %2 "xq": i8[1,2] q(0.1, 0)
              #1 FULLY_CONNECTED v1 (%2, %1, %none) -> %3 "yq": i8[1,2] q(0.05, 3)
              #2 DEQUANTIZE v1 (%3) -> %4 "y": f32[1,2]
              output %4
            """)
        XCTAssertTrue(ModelDequantizer.isQuantized(m))
        let d = ModelDequantizer.dequantize(m)
        XCTAssertEqual(d.removedOps, 2)
        let g = d.model.subgraphs[0]
        XCTAssertEqual(g.ops.map { "\($0.kind.name)" }, ["FULLY_CONNECTED"])
        XCTAssertEqual(g[g.outputs[0]].name, "y")
        XCTAssertEqual(g[g.inputs[0]].name, "x")
    }

    /// The TF1 micro_speech model of the corpus (int8, per-tensor FC) requantized from the calibration set.
    func testCorpusMicroSpeechRequantizes() throws {
        let path = TestPaths.corpus.appendingPathComponent("tflite/micro_speech_quantized.tflite").path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("skipped: corpus model \(path) is absent") }
        let m = try TFLiteImporter.load(path: path)
        let calib = TestPaths.fixtures.appendingPathComponent("calib/micro_speech_calib.npy").path
        var request = PostTrainingQuantizationRequest(calibration: calib)
        request.target = nil
        let r = try PostTrainingQuantization.run(m, request)
        XCTAssertNotNil(r.requantized)
        XCTAssertEqual(r.summary.quantizedOps, 4)
        XCTAssertEqual(Verifier.verify(r.model).map(\.description), [])
        // The weights are the deployed model's: each requantized weight is within one step of the original's real value.
        let original = m.subgraphs[0].ops[1], now = r.model.subgraphs[0].ops[1]
        let a = try XCTUnwrap(m.constant(original.inputs[1])), b = try XCTUnwrap(r.model.constant(now.inputs[1]))
        let ra = ModelDequantizer.realValues(a, a.type.quantization!), rb = ModelDequantizer.realValues(b, b.type.quantization!)
        let step = b.type.quantization!.scales.max()!
        for (x, y) in zip(ra, rb) { XCTAssertLessThanOrEqual(abs(x - y), step) }
    }

    /// The corpus' int8 LSTM (TF's export of TFLM's mnist_lstm example) requantizes: its
    /// UNIDIRECTIONAL_SEQUENCE_LSTM has an int8 rule (int16 power-of-two cell state, hidden
    /// state with the output's parameters, TF's five intermediates kept).
    func testTheInt8LstmRequantizes() throws {
        let path = TestPaths.corpus.appendingPathComponent("tflite/trained_lstm_int8.tflite").path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("skipped: corpus model \(path) is absent") }
        let m = try TFLiteImporter.load(path: path)
        let r = try PostTrainingQuantization.run(m, PostTrainingQuantizationRequest(calibration: "random:2"))
        XCTAssertEqual(r.summary.floatOps, [])
        XCTAssertEqual(Verifier.verify(r.model).map(\.description), [])
        let g = r.model.main
        let lstm = try XCTUnwrap(g.ops.first { $0.builtinOperator == .unidirectionalSequenceLSTM })
        XCTAssertEqual(g[lstm.inputs[0]].dtype, .int8)
        XCTAssertEqual(g[lstm.inputs[18]].quantization, g[lstm.outputs[0]].quantization)
        XCTAssertEqual(g[lstm.inputs[19]].dtype, .int16)
        XCTAssertEqual(try XCTUnwrap(g[lstm.inputs[19]].quantization?.scale).significand, 1)
        XCTAssertEqual(lstm.intermediates.count, 5)
        XCTAssertEqual(g[lstm.intermediates[4]].quantization, g[lstm.outputs[0]].quantization)
        _ = try Interpreter(model: r.model).run([RuntimeTensor(shape: [1, 28, 28], int8s: Array(repeating: 0, count: 784))!])
    }
}
