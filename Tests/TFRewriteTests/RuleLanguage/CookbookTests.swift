import Foundation
import XCTest

@testable import TFRewrite

/// Every rule of Rules/examples/cookbook runs on a model here: the documented effect is
/// checked, and where the numbers must not change, our interpreter gives the same outputs
/// before and after.
final class CookbookTests: XCTestCase {
    func cookbook(_ file: String) throws -> CustomRulesPass {
        return try RuleExamples.pass(RuleExamples.cookbook.appendingPathComponent(file))
    }

    func ops(_ m: Model) -> [String] { m.subgraphs[0].ops.filter { !$0.isErased }.map(\.name) }

    /// x [1, n] → one float op → y.
    func unaryModel(_ kind: OpKind, n: Int32 = 64) -> Model {
        var g = RuleGraphBuilder()
        let x = g.input("x", ruleF32, [1, n])
        let y = g.value("y", ruleF32, [1, n])
        g.op(kind, [x], [y])
        g.output(y)
        return g.model
    }

    func assertSameOutputs(_ a: Model, _ b: Model, tolerance: Float = 0, file: StaticString = #filePath, line: UInt = #line) throws {
        let oa = try interpret(a), ob = try interpret(b)
        XCTAssertEqual(oa.count, ob.count, file: file, line: line)
        for (x, y) in zip(oa, ob) {
            XCTAssertEqual(x.count, y.count, file: file, line: line)
            let worst = zip(x, y).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, tolerance, "largest difference \(worst)", file: file, line: line)
        }
    }

    func testRelu6AsClamp() throws {
        let before = unaryModel(.relu6)
        var after = before
        XCTAssertTrue(try runOne(try cookbook("relu6_as_clamp.yaml"), on: &after))
        XCTAssertEqual(ops(after), ["MAXIMUM", "MINIMUM"])
        XCTAssertEqual(IRPrinter.print(after).components(separatedBy: "\n").filter { $0.contains("const") }.count, 2)
        try assertSameOutputs(before, after)
    }

    func testHardSwishDecomposition() throws {
        let before = unaryModel(.builtin(.hardSwish, options: nil))
        var after = before
        XCTAssertTrue(try runOne(try cookbook("hard_swish_decompose.yaml"), on: &after))
        XCTAssertEqual(ops(after), ["ADD", "RELU6", "MUL", "MUL"])
        // x·relu6(x+3)·(1/6) rounds differently from x·relu6(x+3)/6: within float32 rounding.
        try assertSameOutputs(before, after, tolerance: 2e-6)
    }

    func testLeakyReluAsMaximum() throws {
        // LeakyReluOptions { alpha: 0.2 }: field 0 at table offset 4.
        let alpha = Float(0.2).bitPattern
        let options = OpaqueOptions(typeTag: 0, vtable: [4], inline: (0..<4).map { UInt8(truncatingIfNeeded: alpha >> (8 * $0)) }, alignmentPhase: 0)
        let before = unaryModel(.builtin(.leakyRelu, options: options))
        var after = before
        XCTAssertTrue(try runOne(try cookbook("leaky_relu_as_maximum.yaml"), on: &after))
        XCTAssertEqual(ops(after), ["MUL", "MAXIMUM"])
        XCTAssertTrue(IRPrinter.print(after).contains("= [0.2]"), IRPrinter.print(after))
        try assertSameOutputs(before, after)
    }

    func testSplitFullyConnected() throws {
        var g = RuleGraphBuilder()
        let x = g.input("x", ruleF32, [1, 16])
        let w = g.constant("w", ConstantTensor(floats: (0..<(600 * 16)).map { Float(($0 * 37) % 101) / 50 - 1 }, shape: [600, 16]))
        let b = g.constant("b", ConstantTensor(floats: (0..<600).map { Float($0 % 7) / 10 - 0.3 }, shape: [600]))
        let y = g.value("y", ruleF32, [1, 600])
        g.op(.fullyConnected(FullyConnectedAttributes(activation: .relu)), [x, w, b], [y])
        g.output(y)
        var after = g.model
        var context = PassContext()
        XCTAssertTrue(try runOne(try cookbook("split_fully_connected.yaml"), on: &after, context: &context))
        // 600 → 2 × 300 → 4 × 150: four FULLY_CONNECTEDs joined by three CONCATENATIONs.
        XCTAssertEqual(ops(after).filter { $0 == "FULLY_CONNECTED" }.count, 4)
        XCTAssertEqual(ops(after).filter { $0 == "CONCATENATION" }.count, 3)
        XCTAssertEqual(context.statistics["split-fully-connected"], 3)
        let fcs = after.subgraphs[0].ops.filter { $0.builtinOperator == .fullyConnected }
        XCTAssertTrue(fcs.allSatisfy { after.subgraphs[0][$0.inputs[1]].shape == [150, 16] && $0.kind.fusedActivation == .relu })
        XCTAssertEqual(after.subgraphs[0][after.subgraphs[0].outputs[0]].name, "y")
        try assertSameOutputs(g.model, after)
    }

    func testRenameTensors() throws {
        let before = try TFLiteImporter.load(path: TestPaths.fixtures.appendingPathComponent("micro_speech_float.tflite").path)
        var after = before
        XCTAssertTrue(try runOne(try cookbook("rename_tensors.yaml"), on: &after))
        let g = after.subgraphs[0]
        for op in g.ops {
            XCTAssertTrue(g[op.outputs[0]].name.hasPrefix("kws/"), g[op.outputs[0]].name)
            XCTAssertFalse(g[op.outputs[0]].name.hasPrefix("kws/kws/"))
            if [.conv2D, .fullyConnected].contains(op.builtinOperator) {
                XCTAssertEqual(g[op.inputs[1]].name, "")
                XCTAssertEqual(g[op.inputs[2]].name, "")
            }
        }
        XCTAssertEqual(g[g.inputs[0]].name, before.subgraphs[0][before.subgraphs[0].inputs[0]].name, "graph inputs are not op outputs")
        try assertSameOutputs(before, after)
        // Running the rules again changes nothing (the rename is guarded, the drop a no-op).
        var again = after
        XCTAssertFalse(try runOne(try cookbook("rename_tensors.yaml"), on: &again))
    }

    func testForceSoftmaxQuantization() throws {
        var g = RuleGraphBuilder()
        let x = g.input("x", ruleI8(0.1, 0), [1, 4])
        let y = g.value("y", ruleI8(0.005, 3), [1, 4])
        g.op(.softmax(beta: 1), version: 2, [x], [y])
        g.output(y)
        XCTAssertEqual(Verifier.verify(g.model).count, 1, "the model breaks TFLM's softmax rule")
        var after = g.model
        var p = Pipeline([try cookbook("force_softmax_quantization.yaml")])
        var context = PassContext()
        XCTAssertTrue(try p.run(on: &after, context: &context))
        let q = after.subgraphs[0][y].quantization
        XCTAssertEqual(q?.scales, [0.00390625])
        XCTAssertEqual(q?.zeroPoints, [-128])
        XCTAssertEqual(Verifier.verify(after), [])
    }

    /// Every cookbook file is tested here and shown in Docs/writing-passes.md.
    func testEveryCookbookRuleIsTestedAndDocumented() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: RuleExamples.cookbook.path).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 5)
        let testSource = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        let docs = try String(contentsOf: TestPaths.root.appendingPathComponent("Docs/writing-passes.md"), encoding: .utf8)
        for f in files {
            XCTAssertTrue(testSource.contains("cookbook(\"\(f)\")"), "\(f) has no test in CookbookTests")
            XCTAssertTrue(docs.contains("Rules/examples/cookbook/\(f)"), "\(f) is not in Docs/writing-passes.md")
            // Each file loads and validates.
            _ = try RuleSet.load([RuleExamples.cookbook.appendingPathComponent(f).path])
        }
    }
}
