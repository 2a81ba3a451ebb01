import XCTest

@testable import TFRewrite

/// --float-io keeps a per-feature Normalization at the input in float32, before the input
/// QUANTIZE; a per-tensor one, and int8 I/O, quantize as before.
final class FloatInputPreprocessingTests: XCTestCase {
    /// x → SUB μ → MUL 1/σ → FULLY_CONNECTED, with μ and 1/σ of `perFeature` (else one value).
    func normalizedModel(perFeature: Bool) -> (Model, [ValueID: ObservedRange]) {
        var b = QuantGraphBuilder()
        let x = b.input("x", qf32, [1, 2])
        let mean = b.constant("mean", ConstantTensor(floats: perFeature ? [100, 2] : [3, 3], shape: [2]))
        let inverseStd = b.constant("inv_std", ConstantTensor(floats: perFeature ? [0.01, 0.5] : [0.5, 0.5], shape: [2]))
        let w = b.constant("w", ConstantTensor(floats: [1, -1, 0.5, 2], shape: [2, 2]))
        let centered = b.value("centered", qf32, [1, 2]), normalized = b.value("normalized", qf32, [1, 2]), y = b.value("y", qf32, [1, 2])
        b.op(.sub(ArithmeticAttributes()), [x, mean], [centered])
        b.op(.mul(activation: .none), [centered, inverseStd], [normalized])
        b.op(.fullyConnected(FullyConnectedAttributes(activation: .none)), [normalized, w, .absent], [y])
        b.output(y)
        let ranges = [x: ObservedRange(min: 0, max: 400), centered: ObservedRange(min: -200, max: 300), normalized: ObservedRange(min: -2, max: 3), y: ObservedRange(min: -5, max: 5)]
        return (b.model, ranges)
    }

    func testPerFeatureNormalizationStaysFloatBeforeTheInputQuantize() throws {
        let (m, ranges) = normalizedModel(perFeature: true)
        let (q, summary) = try Int8Quantizer.quantize(m, ranges: RangeTable(ranges: ranges), options: QuantizationOptions(floatIO: true))
        XCTAssertEqual(Verifier.verify(q).map(\.description), [])
        let g = q.subgraphs[0]
        XCTAssertEqual(g.ops.map(\.name), ["SUB", "MUL", "QUANTIZE", "FULLY_CONNECTED", "DEQUANTIZE"])
        XCTAssertEqual(g[g.ops[1].outputs[0]].dtype, .float32)
        XCTAssertEqual(g[g.ops[2].outputs[0]].dtype, .int8)
        XCTAssertEqual(summary.floatOps.count, 2)
        XCTAssertTrue(summary.floatOps.allSatisfy { $0.contains("per-feature preprocessing") }, "\(summary.floatOps)")
    }

    func testPerTensorNormalizationAndInt8InputQuantizeAsBefore() throws {
        let (perTensor, ranges) = normalizedModel(perFeature: false)
        let (q, _) = try Int8Quantizer.quantize(perTensor, ranges: RangeTable(ranges: ranges), options: QuantizationOptions(floatIO: true))
        XCTAssertEqual(q.subgraphs[0].ops.map(\.name), ["QUANTIZE", "SUB", "MUL", "FULLY_CONNECTED", "DEQUANTIZE"])
        let (m, perFeatureRanges) = normalizedModel(perFeature: true)
        let (int8IO, summary) = try Int8Quantizer.quantize(m, ranges: RangeTable(ranges: perFeatureRanges), options: QuantizationOptions())
        XCTAssertEqual(int8IO.subgraphs[0].ops.map(\.name), ["SUB", "MUL", "FULLY_CONNECTED"])
        XCTAssertEqual(summary.floatOps, [])
    }
}
