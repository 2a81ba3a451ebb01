import Foundation
import XCTest

// Only the public API: what a package depending on TFRewrite sees.
import TFRewrite

/// A pass written against the public API: doubles every float bias (a visible, checkable change).
struct DoubleBiases: PatternPass {
    static let name = "double-biases"
    static let summary = "Multiply the float bias of every CONV_2D/DEPTHWISE_CONV_2D/FULLY_CONNECTED by 2"

    var patterns: [Pattern] {
        [Pattern(name: Self.name, rootKinds: [.conv2D, .depthwiseConv2D, .fullyConnected]) { r, id in
            guard let b = r[id].input(2), let t = r.constant(b), t.type.dtype == .float32, !r[b].name.hasSuffix("/doubled") else { return false }
            let doubled = r.addConstant(ConstantTensor(floats: t.floats.map { $0 * 2 }, shape: t.shape), name: r[b].name + "/doubled")
            r[id].inputs[2] = doubled
            return true
        }]
    }
}

final class SwiftAPITests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    func testConvertWithAnExtraPass() throws {
        let temp = FileManager.default.temporaryDirectory.appendingPathComponent("api-\(UUID().uuidString).tflite")
        defer { try? FileManager.default.removeItem(at: temp) }
        let input = Self.fixtures.appendingPathComponent("micro_speech_float.tflite").path
        let context = try Conversion.convert(input: input, output: temp.path, rules: ["micro_speech"], extraPasses: [DoubleBiases()])
        XCTAssertEqual(context.statistics["double-biases"], 2)
        XCTAssertEqual(context.statistics["conv-to-depthwise"], 1)
        let before = try TFLiteImporter.load(path: input), after = try TFLiteImporter.load(path: temp.path)
        func biases(_ m: Model) -> [[Float]] {
            m.subgraphs[0].ops.compactMap { op in op.input(2).flatMap { m.constant($0) }?.floats }
        }
        XCTAssertEqual(biases(after), biases(before).map { $0.map { $0 * 2 } })
    }

    func testRegisteredPassCanBeNamedInARulesFile() throws {
        PassRegistry.register(DoubleBiases.self) { _ in DoubleBiases() }
        let set = try RuleSet.parse("passes: [double-biases]\n", file: "api.yaml")
        var model = try TFLiteImporter.load(path: Self.fixtures.appendingPathComponent("micro_speech_float.tflite").path)
        var context = PassContext()
        try Conversion.run(set, on: &model, context: &context)
        XCTAssertEqual(context.statistics["double-biases"], 2)
        XCTAssertTrue(try Conversion.passList(set).contains { $0.name == "double-biases" })
    }

    func testNativeFunctionCalledFromARule() throws {
        NativeRewriteRegistry.register("tag_with_op_name") { r, bindings in
            let op = try bindings.op("root")
            for v in r[op].outputs { r[v].name = "\(r[op].name.lowercased())_out" }
        }
        let set = try RuleSet.parse("""
            rules:
              - name: tag-softmax
                match: { op: SOFTMAX, outputs: [y], where: 'y.name != "softmax_out"' }
                rewrite: [call: tag_with_op_name]
            """, file: "native.yaml")
        var model = try TFLiteImporter.load(path: Self.fixtures.appendingPathComponent("micro_speech_float.tflite").path)
        var context = PassContext()
        try Conversion.run(set, on: &model, context: &context)
        XCTAssertEqual(context.statistics["tag-softmax"], 1)
        XCTAssertEqual(model.subgraphs[0][model.subgraphs[0].outputs[0]].name, "softmax_out")
    }

    func testRulePatternsRunInTheSameDriverAsBuiltIns() throws {
        let set = try RuleSet.parse("""
            rules:
              - name: relu-to-relu6
                match: { op: RELU, inputs: [x], outputs: [y] }
                rewrite:
                  - insert: { op: RELU6, inputs: [x], outputs: [y] }
                  - erase: root
            """, file: "driver.yaml")
        var patterns = try DeclarativeRuleCompiler.patterns(set.rules)
        patterns.append(Pattern(name: "noop", rootKinds: [.relu6]) { _, _ in false })
        var m = Model(subgraphs: [Graph(name: "main")])
        let x = m.subgraphs[0].addValue(Value(name: "x", type: ElementType(.float32), shape: [1, 4]))
        let y = m.subgraphs[0].addValue(Value(name: "y", type: ElementType(.float32), shape: [1, 4]))
        m.subgraphs[0].inputs = [x]
        m.subgraphs[0].outputs = [y]
        m.subgraphs[0].addOp(Op(kind: .relu, inputs: [x], outputs: [y]))
        var context = PassContext()
        XCTAssertTrue(try GreedyRewriteDriver(patterns: patterns, passName: "mixed").run(on: &m, context: &context))
        XCTAssertEqual(m.subgraphs[0].ops.map(\.name), ["RELU6"])
    }

    func testRuleThatNeverConvergesIsAnErrorNamingIt() throws {
        let set = try RuleSet.parse("""
            rules:
              - name: grow-name
                match: { op: RELU, outputs: [y] }
                rewrite:
                  - set: { y.name: "{y.name}x" }
            """, file: "loop.yaml")
        var m = Model(subgraphs: [Graph(name: "main")])
        let x = m.subgraphs[0].addValue(Value(name: "x", type: ElementType(.float32), shape: [1]))
        let y = m.subgraphs[0].addValue(Value(name: "y", type: ElementType(.float32), shape: [1]))
        m.subgraphs[0].inputs = [x]
        m.subgraphs[0].outputs = [y]
        m.subgraphs[0].addOp(Op(kind: .relu, inputs: [x], outputs: [y]))
        var context = PassContext()
        XCTAssertThrowsError(try Conversion.run(set, on: &m, context: &context)) { e in
            XCTAssertEqual("\(e)", "pass custom-rules did not converge after 64 iterations (still firing: grow-name (loop.yaml:2))")
        }
    }
}
