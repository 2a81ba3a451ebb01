import Foundation
import XCTest

@testable import TFRewrite

/// SQUARED_DIFFERENCE, the worked example of Docs/adding-an-op.md: its kernels on values worked
/// out by hand, its version rule, its int8 quantization, its constant folding and the GraphDef
/// lowering of TF's SquaredDifference. Bit-exactness with TFLM is checked by
/// Tests/Conformance/test_interpreter.py.
final class SquaredDifferenceTests: XCTestCase {
    typealias G = InterpreterTestSupport.GraphBuilder
    static let kind = OpKind.builtin(.squaredDifference, options: nil)

    private func run(_ g: G, inputs: [ValueID], output: ValueID, _ feeds: [RuntimeTensor]) throws -> RuntimeTensor {
        try Interpreter(model: g.model(inputs: inputs, outputs: [output])).run(feeds)[0]
    }

    func testFloatBroadcastsLikeNumpy() throws {
        var g = G()
        let a = g.value("a", .float32, [2, 3])
        let b = g.value("b", .float32, [3])
        let y = g.value("y", .float32, [2, 3])
        g.op(Self.kind, [a, b], [y])
        let out = try run(g, inputs: [a, b], output: y, [
            RuntimeTensor(shape: [2, 3], floats: [1, -2, 3.5, 0, 10, -1])!,
            RuntimeTensor(shape: [3], floats: [2, 2, 0.5])!,
        ])
        XCTAssertEqual(out.shape, [2, 3])
        XCTAssertEqual(out.floats, [1, 16, 9, 4, 64, 2.25])
    }

    func testInt32Wraps() throws {
        var g = G()
        let a = g.value("a", .int32, [3])
        let b = g.value("b", .int32, [1])
        let y = g.value("y", .int32, [3])
        g.op(Self.kind, [a, b], [y])
        let out = try run(g, inputs: [a, b], output: y, [
            RuntimeTensor(shape: [3], int32s: [7, -3, 65536])!, RuntimeTensor(shape: [1], int32s: [2])!,
        ])
        // 65534² = 2^32 − 2^18 + 4 wraps to −262140, as the C++ int32 multiply does.
        XCTAssertEqual(out.int32s, [25, 25, -262_140])
    }

    /// Equal input scales 0.5, output scale 0.25: every multiplier is a power of two, so the
    /// result is exactly (x − y)² in output steps, plus the output zero point.
    func testInt8ExactPowersOfTwo() throws {
        var g = G()
        let q = Quantization.perTensor(scale: 0.5, zeroPoint: 0)
        let a = g.value("a", .int8, [5], q: q)
        let b = g.value("b", .int8, [5], q: q)
        let y = g.value("y", .int8, [5], q: .perTensor(scale: 0.25, zeroPoint: -100))
        g.op(Self.kind, [a, b], [y])
        let out = try run(g, inputs: [a, b], output: y, [
            RuntimeTensor(shape: [5], int8s: [3, -2, 10, 0, 127])!, RuntimeTensor(shape: [5], int8s: [1, 1, 0, 12, -128])!,
        ])
        // (x − y)² = 4, 9, 100, 144, 65025; −100 added; the last saturates.
        XCTAssertEqual(out.int8s, [-96, -91, 0, 44, 127])
    }

    /// Different input scales and zero points, broadcasting. Input 0 (scale 0.5, zero point 1)
    /// is rescaled by 0.5, input 1 (scale 0.25, zero point −2) by 0.25 after the 7-bit shift, and
    /// the squared difference by 1/(2^14 · 0.1) = 1/1638.4. x = 4, y = 3: 3·128·0.5 = 192,
    /// 5·128·0.25 = 160, 32² / 1638.4 = 0.625 → 1, plus the output zero point 5 → 6.
    /// x = −3, y = 3: (−256 − 160)² / 1638.4 = 105.625 → 106 → 111. (The real values agree:
    /// (0.5·3 − 0.25·5)² / 0.1 = 0.625, (0.5·−4 − 0.25·5)² / 0.1 = 105.625.)
    func testInt8RescalesLikeTFLM() throws {
        var g = G()
        let a = g.value("a", .int8, [2, 1], q: .perTensor(scale: 0.5, zeroPoint: 1))
        let b = g.value("b", .int8, [1], q: .perTensor(scale: 0.25, zeroPoint: -2))
        let y = g.value("y", .int8, [2, 1], q: .perTensor(scale: 0.1, zeroPoint: 5))
        g.op(Self.kind, [a, b], [y])
        let interp = try Interpreter(model: g.model(inputs: [a, b], outputs: [y]))
        XCTAssertEqual(try interp.run([RuntimeTensor(shape: [2, 1], int8s: [4, -3])!, RuntimeTensor(shape: [1], int8s: [3])!])[0].int8s, [6, 111])
        // y = 1 → 3·128·0.25 = 96; x = 0 → −64: 160² / 1638.4 = 15.625 → 16 → 21;
        // x = 6 → 320: 224² / 1638.4 = 30.625 → 31 → 36.
        XCTAssertEqual(try interp.run([RuntimeTensor(shape: [2, 1], int8s: [0, 6])!, RuntimeTensor(shape: [1], int8s: [1])!])[0].int8s, [21, 36])
    }

    func testVersionRuleAndTableEntry() {
        let def = OperatorTable[.squaredDifference]
        XCTAssertNotNil(def?.kernel)
        XCTAssertNotNil(def?.quantization)
        var g = G()
        let q = Quantization.perTensor(scale: 0.5, zeroPoint: 0)
        let a = g.value("a", .int8, [2], q: q), b = g.value("b", .int8, [2], q: q), y = g.value("y", .int8, [2], q: q)
        g.op(Self.kind, [a, b], [y])
        XCTAssertEqual(minimumVersion(g.model(inputs: [a, b], outputs: [y])), MinimumVersion(2, "int8 input"))
        var f = G()
        let fa = f.value("a", .float32, [2]), fb = f.value("b", .float32, [2]), fy = f.value("y", .float32, [2])
        f.op(Self.kind, [fa, fb], [fy])
        XCTAssertEqual(minimumVersion(f.model(inputs: [fa, fb], outputs: [fy]))?.version, 1)
    }

    /// Both operands are quantized as activations (the constant one too, asymmetrically with its
    /// own range); the output takes its own observed range.
    func testInt8QuantizationSpec() throws {
        var b = QuantGraphBuilder()
        let x = b.input("x", qf32, [1, 3])
        let c = b.constant("c", ConstantTensor(floats: [0.5, -1, 2], shape: [3]))
        let y = b.value("y", qf32, [1, 3])
        b.op(Self.kind, [x, c], [y])
        b.output(y)
        let ranges = [x: ObservedRange(min: -2, max: 2), y: ObservedRange(min: 0, max: 9)]
        let (q, summary) = try Int8Quantizer.quantize(b.model, ranges: RangeTable(ranges: ranges), options: QuantizationOptions())
        XCTAssertEqual(Verifier.verify(q).map(\.description), [])
        XCTAssertEqual(summary.quantizedOps, 1)
        let g = q.subgraphs[0]
        XCTAssertEqual(g.ops.map(\.name), ["SQUARED_DIFFERENCE"])
        let op = g.ops[0]
        XCTAssertEqual(op.inputs.map { g[$0].dtype }, [.int8, .int8])
        XCTAssertEqual(g[op.outputs[0]].quantization?.scale, AffineParameters.asymmetric(min: 0, max: 9).scale)
        XCTAssertEqual(g[op.inputs[1]].quantization?.scale, AffineParameters.asymmetric(min: -1, max: 2).scale)
    }

    func testConstantFolding() throws {
        let x = ConstantTensor(floats: [1, 2, 3, -4], shape: [2, 2])
        let y = ConstantTensor(floats: [3, 0.5], shape: [2])
        let out = Value(name: "z", type: ElementType(.float32), shape: [2, 2])
        XCTAssertEqual(ConstantEvaluator.evaluate(Self.kind, inputs: [x, y], outputs: [out])?.first?.floats, [4, 2.25, 0, 20.25])
        let i = ConstantTensor(.int32, shape: [2], values: [Int32(5), -7])
        let j = ConstantTensor(.int32, shape: [1], values: [Int32(2)])
        let iout = Value(name: "k", type: ElementType(.int32), shape: [2])
        XCTAssertEqual(ConstantEvaluator.evaluate(Self.kind, inputs: [i, j], outputs: [iout])?.first?.integers, [9, 81])
    }

    /// TF's SquaredDifference becomes SQUARED_DIFFERENCE, or a constant when both inputs are.
    func testGraphDefLowering() throws {
        let path = try writeTemporary(graphDefBytes([
            .placeholder("x", [1, 2]),
            .const("mean", .floats([1, 2], [2])),
            .const("a", .floats([4, 5], [2])),
            .const("b", .floats([1, 7], [2])),
            TestNode("sq", "SquaredDifference", ["x", "mean"], [("T", .type(.float))]),
            TestNode("folded", "SquaredDifference", ["a", "b"], [("T", .type(.float))]),
            TestNode("out", "Add", ["sq", "folded"], [("T", .type(.float))]),
        ]))
        let m = try ModelLoader.load(path: path, options: ModelLoadOptions(verify: true))
        let g = m.subgraphs[0]
        XCTAssertEqual(g.ops.map(\.name), ["SQUARED_DIFFERENCE", "ADD"])
        // The folded operand of ADD is (4 − 1)², (5 − 7)².
        XCTAssertEqual(m.constant(g.ops[1].inputs[1])?.floats, [9, 4])
        let out = try Interpreter(model: m).run([RuntimeTensor(shape: [1, 2], floats: [3, -1])!])[0]
        XCTAssertEqual(out.floats, [4 + 9, 9 + 4])
    }
}
