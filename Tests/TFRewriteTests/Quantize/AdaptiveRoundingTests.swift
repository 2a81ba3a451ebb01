import Foundation
import XCTest

@testable import TFRewrite

/// `--optimize-rounding`: the coordinate descent on one channel, the layer geometry that feeds
/// it, and the whole run on micro_speech.
final class AdaptiveRoundingTests: XCTestCase {
    private let float = TestPaths.fixtures.appendingPathComponent("micro_speech_float.tflite").path
    private let calib = TestPaths.fixtures.appendingPathComponent("calib/micro_speech_calib.npy").path
    private let heldout = TestPaths.fixtures.appendingPathComponent("heldout/tiny_conv_inputs.npy").path

    /// Two inputs that always move together (x1 = x0): nearest rounding puts both weights
    /// 0.4 quanta low (error 0.8 quanta per unit input); rounding one of them up instead leaves 0.2.
    func testGreedyRoundingBeatsNearestOnCorrelatedInputs() {
        let rows = 64
        let x = (0..<rows).map { Float(($0 * 37) % 17) - 8 }
        let column = x + x  // column-major [column][row], both columns the same input
        let centered = column.map { Double($0) - Double(x.reduce(0, +)) / Double(rows) }
        let norms = [0, 1].map { k in (0..<rows).reduce(0.0) { $0 + centered[k * rows + $1] * centered[k * rows + $1] } }
        let data = AdaptiveRounding.GroupData(quantized: column, float: column, centered: centered,
                                              means: [Double](repeating: Double(x.reduce(0, +)) / Double(rows), count: 2), norms: norms)
        let r = AdaptiveRounding.optimizeChannel(weights: [1.4, 1.4], codes: [1, 1], scale: 1, data: data, rows: rows, maxSweeps: 8)
        XCTAssertEqual(r.codes.sorted(), [1, 2])
        XCTAssertEqual(r.flipped, 1)
        XCTAssertEqual(r.errorAfter / r.errorBefore, 0.0625, accuracy: 1e-6)  // (0.2 / 0.8)²
    }

    /// Every code stays floor or ceil of w/s, and the error never grows.
    func testCodesStayNextToTheWeights() {
        let rows = 40, columns = 6
        var column = [Float](repeating: 0, count: rows * columns)
        for i in column.indices { column[i] = Float((i * 7919) % 23) / 7 - 1.5 }
        let means = (0..<columns).map { k in (0..<rows).reduce(0.0) { $0 + Double(column[k * rows + $1]) } / Double(rows) }
        let centered = column.indices.map { Double(column[$0]) - means[$0 / rows] }
        let norms = (0..<columns).map { k in (0..<rows).reduce(0.0) { $0 + centered[k * rows + $1] * centered[k * rows + $1] } }
        let data = AdaptiveRounding.GroupData(quantized: column, float: column, centered: centered, means: means, norms: norms)
        let weights: [Float] = [0.31, -0.77, 0.05, 1.22, -0.5, 0.93]
        let scale = 0.1
        let nearest = weights.map { Int8((Double($0) / scale).rounded(.toNearestOrAwayFromZero)) }
        let r = AdaptiveRounding.optimizeChannel(weights: weights, codes: nearest, scale: scale, data: data, rows: rows, maxSweeps: 16)
        XCTAssertLessThanOrEqual(r.errorAfter, r.errorBefore * (1 + 1e-12))
        for (w, q) in zip(weights, r.codes) {
            let u: Double = Double(w) / scale
            let down: Double = u.rounded(FloatingPointRoundingRule.down), up: Double = u.rounded(FloatingPointRoundingRule.up)
            XCTAssertTrue(Double(q) == down || Double(q) == up, "\(w) -> \(q)")
        }
    }

    /// The columns the geometry gathers, times the float weights, plus the bias, are the float
    /// model's output of every CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (where a fused
    /// RELU/RELU6 passes it): the im2col indexing and the weight layouts are right.
    func testGeometryReproducesEveryWeightedOp() throws {
        for (file, calibration) in [("micro_speech_float.tflite", calib),
                                    ("ds_cnn_float.tflite", TestPaths.fixtures.appendingPathComponent("calib/ds_cnn_calib.npy").path)] {
            let model = try TFLiteImporter.load(path: TestPaths.fixtures.appendingPathComponent(file).path)
            let samples = try SampleData.load(calibration, for: ModelInputSpec.inputs(of: model))
            let few = SampleSet(samples: Array(samples.samples.prefix(2)), source: "calib", isRandom: false)
            let interpreter = try Interpreter(model: model)
            var kinds = Set<String>()
            for op in model.subgraphs[0].ops where AdaptiveRounding.isWeighted(op.kind) {
                let captured = try AdaptiveRounding.capture(interpreter, [op.inputs[0], op.outputs[0]], quantizations: [nil, nil], samples: few)
                let (x, y) = (captured[0], captured[1])
                let w = try XCTUnwrap(model.constant(op.inputs[1]))
                let bias = op.input(2).flatMap { model.constant($0) }?.floats
                let geo = try XCTUnwrap(AdaptiveRounding.LayerGeometry(op: op, input: x.shape, samples: 2, weights: w.shape.map(Int.init)), "\(file) \(op.kind.name)")
                let rows = AdaptiveRounding.chosenRows(total: geo.samples * geo.positions, maxRows: 200)
                let weights = w.floats
                var checked = 0
                for g in 0..<geo.groupCount {
                    var columns = [Float](repeating: 0, count: geo.columns * rows.count)
                    geo.columns(of: x.values, group: g, rows: rows, into: &columns)
                    for (r, p) in rows.enumerated() {
                        for o in (g * geo.outputsPerGroup)..<((g + 1) * geo.outputsPerGroup) {
                            var sum = Double(bias?[o] ?? 0)
                            for k in 0..<geo.columns { sum += Double(weights[geo.weightIndex(output: o, column: k)]) * Double(columns[k * rows.count + r]) }
                            let expected = Double(y.values[p * geo.outputChannels + o])  // NHWC: positions, then channels
                            // A fused RELU/RELU6 hides values outside (0, 6).
                            guard (op.kind.fusedActivation ?? ActivationFunction.none) == ActivationFunction.none || (sum > 1e-3 && sum < 5.99) else { continue }
                            XCTAssertEqual(sum, expected, accuracy: 1e-3 * max(1, abs(expected)), "\(file) \(op.kind.name) row \(p) channel \(o)")
                            checked += 1
                        }
                    }
                }
                XCTAssertGreaterThanOrEqual(checked, min(10, rows.count * geo.outputChannels), "\(file) \(op.kind.name)")
                kinds.insert(op.kind.name)
            }
            if file.hasPrefix("ds_cnn") { XCTAssertEqual(kinds, ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"]) }
        }
    }

    /// Rounding against the calibration data lowers the error on held-out data, and the
    /// output is the same bytes on every run.
    func testOptimizedRoundingLowersHeldOutError() throws {
        let model = try TFLiteImporter.load(path: float)
        var request = PostTrainingQuantizationRequest(calibration: calib)
        let plain = try PostTrainingQuantization.run(model, request)
        request.optimizeRounding = true
        let optimized = try PostTrainingQuantization.run(model, request)
        let again = try PostTrainingQuantization.run(model, request)
        let rounding = try XCTUnwrap(optimized.rounding)
        XCTAssertEqual(rounding.layers, 2)
        XCTAssertEqual(rounding.optimizedLayers, 2)
        XCTAssertGreaterThan(rounding.flippedWeights, 0)
        XCTAssertLessThan(rounding.errorAfter, rounding.errorBefore)
        XCTAssertEqual(TFLiteExporter.serialize(optimized.model).bytes(), TFLiteExporter.serialize(again.model).bytes())
        XCTAssertEqual(Verifier.verify(optimized.model).map(\.description), [])
        let inputs = try SampleData.load(heldout, for: ModelInputSpec.inputs(of: model))
        let before = try VerifyReport.compare(model, plain.model, samples: inputs, layers: false).outputs[0].stats.meanAbsError
        let after = try VerifyReport.compare(model, optimized.model, samples: inputs, layers: false).outputs[0].stats.meanAbsError
        XCTAssertLessThan(after, before)
    }
}

extension QuantizeCLITests {
    func testOptimizeRoundingFlag() throws {
        let out = dir.appendingPathComponent("r.tflite").path
        let r = try runTool([float, "--quantize", "int8", "--calibration", calib, "--optimize-rounding", "--rounding-budget", "30", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("adaptive rounding: 2 of 2 layers, "), r.stderr)
        XCTAssertEqual(Verifier.verify(try TFLiteImporter.load(path: out)).map(\.description), [])
        for args in [["--optimize-rounding"], ["--rounding-budget", "5"],
                     ["--quantize", "int8", "--calibration", calib, "--rounding-budget", "5"],
                     ["--quantize", "int8", "--calibration", calib, "--optimize-rounding", "--rounding-budget", "-1"]] {
            let bad = dir.appendingPathComponent("bad.tflite").path
            let e = try runTool([float] + args + ["-o", bad])
            XCTAssertEqual(e.status, 2, "\(args): \(e.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: bad))
        }
    }

    func testRoundingPassOptions() throws {
        let entry = try XCTUnwrap(PassRegistry.entry("quantize-int8"))
        let q = try XCTUnwrap(entry.make(PassOptions(["calibration": .string("c.npy"), "optimize_rounding": .bool(true),
                                                      "rounding_budget": .double(12)])) as? QuantizeInt8Pass)
        XCTAssertTrue(q.optimizeRounding)
        XCTAssertEqual(q.roundingBudget, 12)
        XCTAssertThrowsError(try entry.make(PassOptions(["calibration": .string("c.npy"), "rounding_budget": .string("soon")])))
    }
}
