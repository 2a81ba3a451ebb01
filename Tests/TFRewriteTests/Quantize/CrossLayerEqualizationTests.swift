import Foundation
import XCTest

@testable import TFRewrite

/// Cross-layer equalization keeps the float function and equalizes the per-channel ranges.
final class CrossLayerEqualizationTests: XCTestCase {
    func testEqualizationKeepsTheFloatModelAndEqualizesRanges() throws {
        let fixtures = QuantizedAccuracyTests(name: "fixtures", testClosure: { _ in })
        for seed in 1...3 as ClosedRange<UInt64> {
            let model = fixtures.randomModel(seed: seed)
            let (equalized, pairs) = CrossLayerEqualization.apply(model)
            // CONV(RELU) → DEPTHWISE, and DEPTHWISE → AVG_POOL → RESHAPE (flatten) → FC.
            XCTAssertEqual(pairs, 2)
            XCTAssertEqual(Verifier.verify(equalized).map(\.description), [])
            let report = try VerifyReport.compare(model, equalized, samples: fixtures.samples(16, seed: 50 + seed), layers: false)
            XCTAssertLessThan(report.outputs[0].stats.maxAbsError, 1e-5, "seed \(seed)")

            // The last pair's ranges meet: depthwise output channel c and the FC columns of channel c.
            let g = equalized.subgraphs[0]
            let dw = try XCTUnwrap(equalized.constant(g.ops[1].inputs[1])).floats
            let fc = try XCTUnwrap(equalized.constant(g.ops[4].inputs[1])).floats
            for c in 0..<4 {
                let r1 = dw.indices.filter { $0 % 4 == c }.map { abs(dw[$0]) }.max()!
                let r2 = fc.indices.filter { $0 % 64 % 4 == c }.map { abs(fc[$0]) }.max()!
                XCTAssertEqual(r1, r2, accuracy: 1e-5 * max(r1, r2), "seed \(seed) channel \(c)")
            }
            XCTAssertNotEqual(dw, try XCTUnwrap(model.constant(model.subgraphs[0].ops[1].inputs[1])).floats)
        }
    }

    /// RELU6 clips at a fixed 6, which scaling would move: no pair starts there.
    func testRelu6EndsAChain() {
        var model = QuantizedAccuracyTests(name: "fixtures", testClosure: { _ in }).randomModel(seed: 1)
        guard case .conv2D(var a) = model.subgraphs[0].ops[0].kind else { return XCTFail("op 0 is not CONV_2D") }
        a.activation = .relu6
        model.subgraphs[0].ops[0].kind = .conv2D(a)
        XCTAssertEqual(CrossLayerEqualization.apply(model).pairs, 1)
    }
}
