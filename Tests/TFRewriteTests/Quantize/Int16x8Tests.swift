import Foundation
import XCTest

@testable import Kernels
@testable import TFRewrite

/// int16x8 quantization (`Int16x8`), the int16 kernels' arithmetic, and `--max-error`'s search
/// (`MixedPrecisionSearch`) against a brute-force search over every int16 subset.
final class Int16x8Tests: XCTestCase {
    let models = QuantizedAccuracyTests(name: "models", testClosure: { _ in })

    func testInt16x8ModelTypesAndParameters() throws {
        let model = models.randomModel(seed: 3)
        var request = PostTrainingQuantizationRequest(calibration: "-")
        request.activations = .int16x8
        let result = try PostTrainingQuantization.run(model, samples: models.samples(16, seed: 5), request)
        let g = result.model.subgraphs[0]
        XCTAssertEqual(g.ops.map(\.name), ["CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"])
        for op in g.ops {
            XCTAssertEqual(g[op.inputs[0]].dtype, .int16, op.name)
            XCTAssertEqual(g[op.outputs[0]].dtype, .int16, op.name)
            XCTAssertEqual(g[op.outputs[0]].quantization?.zeroPoint ?? 0, 0, op.name)
            if op.inputs.count > 2, !op.inputs[2].isAbsent, op.name != "RESHAPE" {
                XCTAssertEqual(g[op.inputs[1]].dtype, .int8, op.name)
                XCTAssertEqual(g[op.inputs[2]].dtype, .int64, op.name)
            }
        }
        let softmaxOut = g[g.ops[5].outputs[0]]
        XCTAssertEqual(softmaxOut.quantization?.scale, 1.0 / 32768)
        XCTAssertTrue(result.text().hasPrefix("quantized to int16x8: 6 of 6 ops"), result.text())
        // int16x8 is closer to the float model than int8 on the same data.
        let int8 = try PostTrainingQuantization.run(model, samples: models.samples(16, seed: 5), PostTrainingQuantizationRequest(calibration: "-"))
        let check = models.samples(30, seed: 9)
        let e16 = try VerifyReport.compare(model, result.model, samples: check, layers: false).outputs[0].stats.meanAbsError
        let e8 = try VerifyReport.compare(model, int8.model, samples: check, layers: false).outputs[0].stats.meanAbsError
        XCTAssertLessThan(e16, e8 / 4, "int16x8 \(e16), int8 \(e8)")
    }

    /// An op without a modelled int16 kernel (EXPAND_DIMS here: none in TFLM) is an error naming it.
    func testOpWithoutInt16KernelIsNamed() throws {
        var b = QuantGraphBuilder()
        let x = b.input("x", qf32, [1, 4])
        let axis = b.ints("axis", [0])
        let y = b.value("y", qf32, [1, 1, 4])
        b.op(.builtin(.expandDims, options: nil), [x, axis], [y])
        b.output(y)
        var request = PostTrainingQuantizationRequest(calibration: "-")
        request.activations = .int16x8
        let s = SampleSet(samples: [[RuntimeTensor(shape: [1, 4], floats: [-1, 0, 1, 2])!]], source: "-", isRandom: false)
        XCTAssertThrowsError(try PostTrainingQuantization.run(b.model, samples: s, request)) { error in
            XCTAssertTrue("\(error)".contains("no int16 kernel for EXPAND_DIMS #0"), "\(error)")
        }
    }

    /// LOGISTIC, TANH, RELU and RELU6 become int16 with the parameters TFLM's kernels require
    /// (logistic_common.cc / tanh.cc: output 2^-15, zero point 0; Relu6Prepare clamps without
    /// rescaling, so RELU6 keeps its input's parameters), and each output is closer to the float
    /// model than its int8 quantization.
    func testInt16ActivationsQuantizeWithTFLMParameters() throws {
        var b = QuantGraphBuilder()
        let x = b.input("x", qf32, [1, 64])
        let kinds: [OpKind] = [.logistic, .tanh, .relu, .relu6]
        for (i, kind) in kinds.enumerated() {
            let y = b.value("y\(i)", qf32, [1, 64])
            b.op(kind, [x], [y])
            b.output(y)
        }
        var rng = SplitMix64(seed: 11)
        let samples = SampleSet(samples: (0..<24).map { _ in [RuntimeTensor(shape: [1, 64], floats: (0..<64).map { _ in Float.random(in: -5...8, using: &rng) })!] },
                                source: "seed 11", isRandom: false)
        var request = PostTrainingQuantizationRequest(calibration: "-")
        request.activations = .int16x8
        let int16 = try PostTrainingQuantization.run(b.model, samples: samples, request)
        let g = int16.model.subgraphs[0]
        XCTAssertEqual(g.ops.map(\.name), ["LOGISTIC", "TANH", "RELU", "RELU6"])
        XCTAssertEqual(Verifier.verify(int16.model).map(\.description), [])
        let input = try XCTUnwrap(g[g.inputs[0]].quantization)
        for op in g.ops {
            XCTAssertEqual(g[op.inputs[0]].dtype, .int16, op.name)
            XCTAssertEqual(g[op.outputs[0]].dtype, .int16, op.name)
            let q = try XCTUnwrap(g[op.outputs[0]].quantization, op.name)
            XCTAssertEqual(q.zeroPoint ?? 0, 0, op.name)
            switch op.name {
            case "LOGISTIC", "TANH": XCTAssertEqual(q.scale, 1.0 / 32768, op.name)
            case "RELU6": XCTAssertEqual(q.scale, input.scale, op.name)
            default: break
            }
        }
        let int8 = try PostTrainingQuantization.run(b.model, samples: samples, PostTrainingQuantizationRequest(calibration: "-"))
        let e16 = try VerifyReport.compare(b.model, int16.model, samples: samples, layers: false).outputs.map(\.stats.meanAbsError)
        let e8 = try VerifyReport.compare(b.model, int8.model, samples: samples, layers: false).outputs.map(\.stats.meanAbsError)
        for (i, kind) in kinds.enumerated() {
            XCTAssertLessThan(e16[i], e8[i] / 8, "\(kind): int16x8 \(e16[i]), int8 \(e8[i])")
        }
    }

    /// TFLM's int64 MultiplyByQuantizedMultiplier on hand-derived values.
    func testInt64MultiplyByQuantizedMultiplier() {
        // 0.5 = 2^30 · 2^-31 · 2^0: reduced multiplier 2^14, shift 15 → x · 2^14 / 2^15.
        let half = QuantizedMultiplier(0.5)
        XCTAssertEqual(multiplyByQuantizedMultiplier64(1001, half), 501)   // 500.5 rounds up
        XCTAssertEqual(multiplyByQuantizedMultiplier64(-1001, half), -500)  // −500.5 + 0.5 → floor
        XCTAssertEqual(multiplyByQuantizedMultiplier64(Int64(1) << 40, QuantizedMultiplier(1.0 / 1024)), 1 << 30)
        // Multipliers at or above 0x7FFF0000 saturate to 0x7FFF.
        XCTAssertEqual(multiplyByQuantizedMultiplier64(1 << 20, QuantizedMultiplier(multiplier: Int32.max, shift: 0)), Int32((Int64(1 << 20) * 0x7FFF) >> 15))
    }

    /// The int16 softmax tables against values of exp and 1/(1+x): within two steps of Q0.15.
    func testSoftmaxTables() {
        let range: Float = 65535
        let exp = Int16SoftmaxKernel.table(inputScale: 10 / range, inputZeroPoint: 32767, outputScale: 2 / range) { Foundation.exp($0) }
        XCTAssertEqual(exp.count, 513)
        XCTAssertEqual(exp[512], 32767)  // exp(0) = 1 saturates
        for i in stride(from: 0, to: 512, by: 37) {
            let x = -10 + Float(i) * 10 / 512
            XCTAssertEqual(Double(exp[i]), Double(Foundation.exp(x) * 32768), accuracy: 2, "i \(i)")
        }
        XCTAssertEqual(Double(Int16SoftmaxKernel.lookup(32767, exp)), 32767, accuracy: 8)
    }

    /// `--max-error`'s greedy-and-prune set is as small as the smallest set a brute-force search
    /// over all 2^6 int16 subsets finds, for budgets across the int8…int16x8 error range.
    func testMaxErrorChoosesAsFewOpsAsBruteForce() throws {
        let model = models.randomModel(seed: 2)
        let samples = models.samples(12, seed: 21)
        let ranges = try Calibrator.calibrate(model, samples: samples, ranges: .minMax)
        let options = QuantizationOptions()
        let candidates = MixedPrecisionSearch.candidates(model, ranges: ranges, options: options).map(\.op)
        XCTAssertEqual(candidates.count, 6)
        let evaluator = try MixedPrecisionSearch.ErrorEvaluator(float: model, samples: samples)
        var errorOf: [Int: Double] = [:]  // subset bit mask → error
        for mask in 0..<(1 << candidates.count) {
            var o = options
            o.activations = .mixed(int16Ops: Set(candidates.indices.filter { mask & (1 << $0) != 0 }.map { candidates[$0] }))
            errorOf[mask] = try evaluator.error(of: Int8Quantizer.quantize(model, ranges: ranges, options: o).0)
        }
        let e8 = errorOf[0]!, e16 = errorOf[(1 << candidates.count) - 1]!
        XCTAssertLessThan(e16, e8)
        var mixedBudgets = 0
        for fraction in [0.2, 0.4, 0.6, 0.8, 0.95] {
            let budget = e16 + (e8 - e16) * fraction
            let smallest = errorOf.filter { $0.value <= budget }.map { $0.key.nonzeroBitCount }.min()!
            let report = try MixedPrecisionSearch.run(model, ranges: ranges, samples: samples, options: options, maxError: budget)
            XCTAssertLessThanOrEqual(report.chosenError, budget)
            XCTAssertEqual(report.chosen.count, smallest, "budget \(budget): chose \(report.chosen), brute force needs \(smallest)")
            XCTAssertEqual(report.sensitivity.count, 6)
            if smallest > 0 && smallest < 6 { mixedBudgets += 1 }
        }
        XCTAssertGreaterThan(mixedBudgets, 0, "no budget needed a mixed set: the test would not test the search")
        // Out of reach: below the all-int16 error.
        XCTAssertThrowsError(try MixedPrecisionSearch.run(model, ranges: ranges, samples: samples, options: options, maxError: e16 / 2)) { error in
            XCTAssertTrue("\(error)".contains("cannot be met"), "\(error)")
        }
    }

    /// A mixed model runs in the interpreter with requantizing QUANTIZE ops at the boundaries.
    func testMixedModelHasBoundaryQuantizeOps() throws {
        let model = models.randomModel(seed: 4)
        let samples = models.samples(12, seed: 8)
        let ranges = try Calibrator.calibrate(model, samples: samples, ranges: .minMax)
        var options = QuantizationOptions()
        options.activations = .mixed(int16Ops: [1])  // the depthwise convolution only
        let (q, summary) = try Int8Quantizer.quantize(model, ranges: ranges, options: options)
        XCTAssertEqual(Verifier.verify(q).map(\.description), [])
        let g = q.subgraphs[0]
        let quantizes = g.ops.filter { $0.name == "QUANTIZE" }
        XCTAssertEqual(quantizes.count, 2)  // int8 → int16 before, int16 → int8 after
        XCTAssertEqual(summary.insertedQuantize, 2)
        XCTAssertEqual(Set(quantizes.map { g[$0.inputs[0]].dtype }), Set<DType>([.int8, .int16]))
        let evaluator = try MixedPrecisionSearch.ErrorEvaluator(float: model, samples: samples)
        XCTAssertLessThan(try evaluator.error(of: q), 0.05)
    }
}
