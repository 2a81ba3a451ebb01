import Foundation
import XCTest

@testable import TFRewrite

/// Meaning is preserved: random small conv/FC models, quantized from calibration on samples of
/// the same distribution, stay within a few output quanta of the float model on other samples;
/// bias correction removes the mean error of rounded weights; `VerifyReport` measures it.
final class QuantizedAccuracyTests: XCTestCase {
    /// input [1,8,8,2] → CONV 3×3 (RELU) → DEPTHWISE 3×3 → AVG_POOL 2×2 → RESHAPE → FC → SOFTMAX.
    func randomModel(seed: UInt64) -> Model {
        var rng = SplitMix64(seed: seed)
        func floats(_ n: Int, _ scale: Float) -> [Float] { (0..<n).map { _ in Float.random(in: -scale...scale, using: &rng) } }
        var b = QuantGraphBuilder()
        let x = b.input("x", qf32, [1, 8, 8, 2])
        let w1 = b.constant("w1", ConstantTensor(floats: floats(4 * 9 * 2, 0.5), shape: [4, 3, 3, 2]))
        let b1 = b.constant("b1", ConstantTensor(floats: floats(4, 0.2), shape: [4]))
        let c1 = b.value("c1", qf32, [1, 8, 8, 4])
        let w2 = b.constant("w2", ConstantTensor(floats: floats(9 * 4, 0.5), shape: [1, 3, 3, 4]))
        let c2 = b.value("c2", qf32, [1, 8, 8, 4])
        let p = b.value("p", qf32, [1, 4, 4, 4])
        let shape = b.ints("shape", [1, 64])
        let r = b.value("r", qf32, [1, 64])
        let w3 = b.constant("w3", ConstantTensor(floats: floats(5 * 64, 0.3), shape: [5, 64]))
        let b3 = b.constant("b3", ConstantTensor(floats: floats(5, 0.1), shape: [5]))
        let f = b.value("f", qf32, [1, 5])
        let y = b.value("y", qf32, [1, 5])
        b.op(.conv2D(Conv2DAttributes(padding: .same, strideW: 1, strideH: 1, activation: .relu)), [x, w1, b1], [c1])
        b.op(.depthwiseConv2D(DepthwiseConv2DAttributes(padding: .same, strideW: 1, strideH: 1, depthMultiplier: 1)), [c1, w2, .absent], [c2])
        b.op(.averagePool2D(Pool2DAttributes(padding: .valid, strideW: 2, strideH: 2, filterW: 2, filterH: 2)), [c2], [p])
        b.op(.reshape(newShape: nil), [p, shape], [r])
        b.op(.fullyConnected(FullyConnectedAttributes()), [r, w3, b3], [f])
        b.op(.softmax(beta: 1), [f], [y])
        b.output(y)
        return b.model
    }

    func samples(_ n: Int, seed: UInt64) -> SampleSet {
        var rng = SplitMix64(seed: seed)
        let s = (0..<n).map { _ in [RuntimeTensor(shape: [1, 8, 8, 2], floats: (0..<128).map { _ in Float.random(in: 0...2, using: &rng) })!] }
        return SampleSet(samples: s, source: "seed \(seed)", isRandom: false)
    }

    func testQuantizedRandomModelsStayCloseToFloat() throws {
        for seed in 1...5 as ClosedRange<UInt64> {
            let model = randomModel(seed: seed)
            XCTAssertEqual(Verifier.verify(model).map(\.description), [])
            let result = try PostTrainingQuantization.run(model, samples: samples(32, seed: 100 + seed), PostTrainingQuantizationRequest(calibration: "-"))
            XCTAssertEqual(result.summary.floatOps, [])
            XCTAssertEqual(result.model.subgraphs[0].ops.map(\.name), ["CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"])
            XCTAssertEqual(result.model.subgraphs[0].ops.map(\.version), [3, 3, 2, 1, 4, 2])
            let report = try VerifyReport.compare(model, result.model, samples: samples(50, seed: 200 + seed), layers: true)
            let out = report.outputs[0].stats
            // Softmax output quantum is 1/256: a few quanta of error at most on average.
            XCTAssertLessThan(out.meanAbsError, 3.0 / 256, "seed \(seed)")
            XCTAssertGreaterThanOrEqual(out.argmaxAgreement ?? 0, 0.8, "seed \(seed)")
            XCTAssertEqual(report.layers?.count, 6)
            for l in report.layers ?? [] {
                if let s = l.scaleB { XCTAssertLessThan(l.stats.meanAbsError / Double(s), 4, "seed \(seed) layer \(l.key)") }
            }
        }
    }

    /// Bias correction: the quantized model's mean output error per channel shrinks.
    func testBiasCorrectionReducesMeanError() throws {
        var better = 0
        for seed in 1...6 as ClosedRange<UInt64> {
            let model = randomModel(seed: seed)
            let calib = samples(64, seed: 300 + seed)
            let ranges = try Calibrator.calibrate(model, samples: calib)
            XCTAssertFalse(ranges.channelMeans.isEmpty)
            let (with, summary) = try Int8Quantizer.quantize(model, ranges: ranges, options: QuantizationOptions(biasCorrection: true))
            let (without, _) = try Int8Quantizer.quantize(model, ranges: ranges, options: QuantizationOptions(biasCorrection: false))
            XCTAssertEqual(summary.correctedBiases, 3)  // the depthwise conv got a bias it did not have
            XCTAssertFalse(with.subgraphs[0].ops[1].inputs[2].isAbsent)
            XCTAssertTrue(without.subgraphs[0].ops[1].inputs[2].isAbsent)
            let test = samples(64, seed: 400 + seed)
            let a = try VerifyReport.compare(model, with, samples: test, layers: true)
            let b = try VerifyReport.compare(model, without, samples: test, layers: true)
            // Pre-softmax logits: mean abs error.
            let la = a.layers!.first { $0.key == "f" }!.stats.meanAbsError
            let lb = b.layers!.first { $0.key == "f" }!.stats.meanAbsError
            if la <= lb { better += 1 }
        }
        XCTAssertGreaterThanOrEqual(better, 5)
    }

    /// The exact shift: a 1×1 conv with one weight whose rounding error is known.
    func testBiasCorrectionShift() throws {
        let w = ConstantTensor(floats: [1.0, 0.3], shape: [1, 1, 1, 2])
        let q = ConstantQuantizer.symmetricWeights(w.floats, shape: w.shape, axis: 0)
        let op = Op(kind: .conv2D(Conv2DAttributes(padding: .valid, strideW: 1, strideH: 1)), inputs: [], outputs: [])
        let shift = try XCTUnwrap(BiasCorrection.outputShift(op, weights: w, quantized: q, inputMeans: [2, 10]))
        let s = Float(1.0 / 127)
        let err = Float((0.3 / Double(s)).rounded()) * s - 0.3
        XCTAssertEqual(shift[0], err * 10, accuracy: 1e-6)
        let fc = Op(kind: .fullyConnected(FullyConnectedAttributes()), inputs: [], outputs: [])
        XCTAssertNil(BiasCorrection.outputShift(fc, weights: w, quantized: q, inputMeans: [1, 2]))
    }

    func testVerifyReportOfAModelAgainstItself() throws {
        let model = randomModel(seed: 9)
        let report = try VerifyReport.compare(model, model, samples: samples(5, seed: 1), layers: true)
        XCTAssertEqual(report.outputs[0].stats.maxAbsError, 0)
        XCTAssertEqual(report.outputs[0].stats.argmaxAgree, 5)
        XCTAssertEqual(report.layers?.count, 6)
        XCTAssertEqual(report.unpairedLayers, 0)
        let text = report.text(nameA: "a.tflite", nameB: "a.tflite")
        XCTAssertTrue(text.contains("output 0 \"y\": max abs error 0, mean abs error 0, argmax agreement 5/5 (100.0%)"), text)
        let json = report.json(nameA: "a", nameB: "b").rendered()
        XCTAssertTrue(json.contains("\"argmax_agree\": 5"), json)
    }

    func testVerifyFeedsInt8InputsQuantized() throws {
        let info = Interpreter.TensorInfo(id: ValueID(0), name: "x", dtype: .int8, shape: [1, 3], shapeSignature: [1, 3], quantization: .perTensor(scale: 0.5, zeroPoint: -10))
        let fed = try VerifyReport.feed([RuntimeTensor(shape: [3], floats: [1.0, -0.25, 1000])!], to: [info], other: [], sample: 0)
        XCTAssertEqual(fed[0].int8s, [-8, -11, 127])
        XCTAssertEqual(fed[0].shape, [1, 3])
        XCTAssertEqual(VerifyReport.realValues(fed[0], info.quantization), [1.0, -0.5, 68.5])
    }
}
