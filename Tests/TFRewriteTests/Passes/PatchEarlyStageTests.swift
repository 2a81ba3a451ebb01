import XCTest

@testable import Memory
@testable import Passes
@testable import Quantize
@testable import TFRewrite

/// The patch-based rewrite of a CNN's early stage: every stage end and patch grid computes
/// what the whole-map layers compute, bit for bit, and the pass keeps a rewrite only when the
/// TFLM arena shrinks.
final class PatchEarlyStageTests: XCTestCase {
    /// input → CONV_2D 3×3 stride 2 SAME → DEPTHWISE 3×3 SAME → CONV_2D 1×1 → MAX_POOL 2×2
    /// VALID → CONV_2D 3×3 stride 2 SAME (odd sizes, so SAME pads unevenly).
    static func smallCNN(height: Int32 = 13, width: Int32 = 11, channels: Int32 = 4, seed: UInt64 = 7) -> Model {
        var b = PassGraphBuilder()
        var rng = SplitMix64(seed: seed)
        func floats(_ n: Int32) -> [Float] { (0..<Int(n)).map { _ in Float(rng.nextUnit() * 2 - 1) } }
        let x = b.input("x", float32Type, [1, height, width, 2])
        let h1 = (height + 1) / 2, w1 = (width + 1) / 2
        let w0 = b.constant("w0", ConstantTensor(floats: floats(channels * 9 * 2), shape: [channels, 3, 3, 2]))
        let b0 = b.constant("b0", ConstantTensor(floats: floats(channels), shape: [channels]))
        let a = b.value("a", float32Type, [1, h1, w1, channels])
        b.op(.conv2D(Conv2DAttributes(padding: .same, strideW: 2, strideH: 2, activation: .relu)), [x, w0, b0], [a])
        let w1d = b.constant("w1", ConstantTensor(floats: floats(channels * 9), shape: [1, 3, 3, channels]))
        let b1 = b.constant("b1", ConstantTensor(floats: floats(channels), shape: [channels]))
        let d = b.value("d", float32Type, [1, h1, w1, channels])
        b.op(.depthwiseConv2D(DepthwiseConv2DAttributes(padding: .same, strideW: 1, strideH: 1, depthMultiplier: 1, activation: .relu6)), [a, w1d, b1], [d])
        let w2 = b.constant("w2", ConstantTensor(floats: floats(8 * channels), shape: [8, 1, 1, channels]))
        let b2 = b.constant("b2", ConstantTensor(floats: floats(8), shape: [8]))
        let p = b.value("p", float32Type, [1, h1, w1, 8])
        b.op(.conv2D(Conv2DAttributes(padding: .valid, strideW: 1, strideH: 1)), [d, w2, b2], [p])
        let m = b.value("m", float32Type, [1, h1 / 2, w1 / 2, 8])
        b.op(.maxPool2D(Pool2DAttributes(padding: .valid, strideW: 2, strideH: 2, filterW: 2, filterH: 2)), [p], [m])
        let w3 = b.constant("w3", ConstantTensor(floats: floats(4 * 9 * 8), shape: [4, 3, 3, 8]))
        let b3 = b.constant("b3", ConstantTensor(floats: floats(4), shape: [4]))
        let y = b.value("y", float32Type, [1, (h1 / 2 + 1) / 2, (w1 / 2 + 1) / 2, 4])
        b.op(.conv2D(Conv2DAttributes(padding: .same, strideW: 2, strideH: 2)), [m, w3, b3], [y])
        b.output(y)
        return b.model
    }

    func testEveryStageEndAndGridComputesTheSameBits() throws {
        let model = Self.smallCNN()
        var rng = SplitMix64(seed: 11)
        let input = try XCTUnwrap(RuntimeTensor(shape: [1, 13, 11, 2], floats: (0..<(13 * 11 * 2)).map { _ in Float(rng.nextUnit() * 2 - 1) }))
        let want = try XCTUnwrap(try Interpreter(model: model).run([input])[0].floats)
        let chains = StageChain.chains(in: model.subgraphs[0])
        XCTAssertEqual(chains.count, 1)
        XCTAssertEqual(chains[0].layers.count, 5)
        var tried = 0
        for end in chains[0].layers.indices {
            let stage = Array(chains[0].layers[...end])
            for rows in 1...4 {
                for columns in 1...4 where rows * columns > 1 && rows <= stage[end].outHeight && columns <= stage[end].outWidth {
                    guard let patched = StageChain.patched(model, stage: stage, rows: rows, columns: columns) else {
                        // Only a pooling that would need padding refuses (the max pool is VALID).
                        XCTFail("stage end \(end), \(rows)×\(columns) refused")
                        continue
                    }
                    XCTAssertEqual(Verifier.verify(patched.model).map(\.description), [], "end \(end) \(rows)×\(columns)")
                    let got = try XCTUnwrap(try Interpreter(model: patched.model).run([input])[0].floats)
                    XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "stage end \(end), \(rows)×\(columns) patches")
                    XCTAssertGreaterThanOrEqual(patched.macs, stage.reduce(0) { $0 + $1.macs(outHeight: $1.outHeight, outWidth: $1.outWidth) })
                    tried += 1
                }
            }
        }
        XCTAssertGreaterThan(tried, 40)
    }

    func testPaddedPoolingEndsTheStage() throws {
        // A SAME max pool right after the input: every patch touching the border would need
        // padding the pooling must not count, so no rewrite is made.
        var b = PassGraphBuilder()
        let x = b.input("x", float32Type, [1, 9, 9, 1])
        let y = b.value("y", float32Type, [1, 5, 5, 1])
        b.op(.maxPool2D(Pool2DAttributes(padding: .same, strideW: 2, strideH: 2, filterW: 3, filterH: 3)), [x], [y])
        b.output(y)
        let stage = StageChain.chains(in: b.model.subgraphs[0])[0].layers
        XCTAssertNil(StageChain.patched(b.model, stage: stage, rows: 2, columns: 2))
    }

    /// A wide first stage: patches lower TFLM's arena; the pass says so, and leaves a model it
    /// cannot improve alone.
    func testPassKeepsOnlyASmallerArena() throws {
        var m = Self.smallCNN(height: 64, width: 64, channels: 32)
        let before = try ArenaReport.analyze(m, build: .standard(.bits64))
        var pass = PatchEarlyStage(build: .standard(.bits64))
        var context = PassContext()
        XCTAssertTrue(try pass.run(on: &m, context: &context))
        let after = try ArenaReport.analyze(m, build: .standard(.bits64))
        XCTAssertLessThan(after.minArenaBytes, before.minArenaBytes)
        XCTAssertTrue(context.notes.contains { $0.contains("patches: TFLM arena (64-bit)") && $0.contains("minimum arena_size \(before.minArenaBytes) → \(after.minArenaBytes)") }, "\(context.notes)")
        XCTAssertEqual(Verifier.verify(m).map(\.description), [])

        var tiny = Self.smallCNN(height: 4, width: 4, channels: 1)
        let original = tiny
        XCTAssertFalse(try pass.run(on: &tiny, context: &context))
        XCTAssertEqual(tiny, original)
    }
}
