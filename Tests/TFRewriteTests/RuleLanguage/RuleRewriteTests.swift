import Foundation
import XCTest

@testable import TFRewrite

/// Semantics of matching and rewriting that the fixture tests do not pin down.
final class RuleRewriteTests: XCTestCase {
    /// x → RELU → t → RELU6 → y (float [1, 4]).
    func chain() -> Model {
        var g = RuleGraphBuilder()
        let x = g.input("x", ruleF32, [1, 4])
        let t = g.value("t", ruleF32, [1, 4])
        let y = g.value("y", ruleF32, [1, 4])
        g.op(.relu, [x], [t])
        g.op(.relu6, [t], [y])
        g.output(y)
        return g.model
    }

    func run(_ yaml: String, on m: inout Model) throws -> PassContext {
        var context = PassContext()
        try runOne(try RuleExamples.pass(yaml: yaml, file: "t.yaml"), on: &m, context: &context)
        return context
    }

    func testErasingAnOpStillReadIsAnError() throws {
        var m = chain()
        XCTAssertThrowsError(try run("""
            rules:
              - name: drop-relu
                match: { op: RELU }
                rewrite: [erase: root]
            """, on: &m)) { e in
            XCTAssertEqual("\(e)", "pass custom-rules: rule drop-relu (t.yaml:2): at RELU #0: line 2: erase root: tensor \"t\" is still read by RELU6 #1 and nothing writes it; insert an op that writes it or use replace_uses")
        }
    }

    func testReplaceUsesThenErase() throws {
        var m = chain()
        let c = try run("""
            rules:
              - name: drop-relu-before-relu6
                match:
                  ops:
                    r6: { op: RELU6, inputs: [t] }
                    r: { op: RELU, inputs: [x], outputs: [t] }
                  where: t.single_use
                rewrite:
                  - replace_uses: { of: t, with: x }
                  - erase: r
            """, on: &m)
        XCTAssertEqual(c.statistics["drop-relu-before-relu6"], 1)
        XCTAssertEqual(m.subgraphs[0].ops.map(\.name), ["RELU6"])
        XCTAssertEqual(m.subgraphs[0].ops[0].inputs, m.subgraphs[0].inputs)
    }

    func testWhenSkipsAnAction() throws {
        var m = chain()
        _ = try run("""
            rules:
              - name: rename
                match: { op: RELU6, inputs: [t], outputs: [y] }
                rewrite:
                  - set: { y.name: "out", when: t.graph_input }
                  - set: { t.name: "mid", when: not t.graph_input }
            """, on: &m)
        XCTAssertEqual(m.subgraphs[0].values.map(\.name), ["x", "mid", "y"])
    }

    func testExpressionsSeeTheModelAsMatched() throws {
        // After the first set, y.name is "first"; the second still reads the matched name.
        var m = chain()
        _ = try run("""
            rules:
              - name: names
                match: { op: RELU6, outputs: [y], where: 'y.name == "y"' }
                rewrite:
                  - set: { y.name: "first" }
                  - set: { y.name: "{y.name}-second" }
            """, on: &m)
        XCTAssertEqual(m.subgraphs[0].values[2].name, "y-second")
    }

    func testTransformThatDoesNotFitStopsThePassWithTheRuleAndLine() throws {
        var g = RuleGraphBuilder()
        let x = g.input("x", ruleF32, [1, 4])
        let w = g.constant("w", ConstantTensor(floats: Array(repeating: 1, count: 12), shape: [3, 4]))
        let y = g.value("y", ruleF32, [1, 3])
        g.op(.fullyConnected(FullyConnectedAttributes()), [x, w], [y])
        g.output(y)
        var m = g.model
        XCTAssertThrowsError(try run("""
            rules:
              - name: bad-reshape
                match: { op: FULLY_CONNECTED, inputs: [x, w], where: w.constant }
                rewrite:
                  - constant: { bind: w2, from: w, reshape: [5, -1] }
                  - set_input: { op: root, index: 1, tensor: w2 }
            """, on: &m)) { e in
            XCTAssertEqual("\(e)", "pass custom-rules: rule bad-reshape (t.yaml:2): at FULLY_CONNECTED #0: line 5: constant: reshape: cannot fit 12 elements into [5, -1]")
        }
    }

    func testRulesAreTriedInFileOrder() throws {
        var m = chain()
        let c = try run("""
            rules:
              - name: first
                match: { op: RELU6, outputs: [y], where: 'y.name == "y"' }
                rewrite: [set: { y.name: first }]
              - name: second
                match: { op: RELU6, outputs: [y], where: 'y.name == "y"' }
                rewrite: [set: { y.name: second }]
            """, on: &m)
        XCTAssertEqual(m.subgraphs[0].values[2].name, "first")
        XCTAssertEqual(c.statistics["first"], 1)
        XCTAssertNil(c.statistics["second"])
    }

    func testAbsentOptionalInputMakesConditionsFalseNotErrors() throws {
        var g = RuleGraphBuilder()
        let x = g.input("x", ruleF32, [1, 4])
        let w = g.constant("w", ConstantTensor(floats: Array(repeating: 1, count: 12), shape: [3, 4]))
        let y = g.value("y", ruleF32, [1, 3])
        g.op(.fullyConnected(FullyConnectedAttributes()), [x, w, .absent], [y])
        g.output(y)
        var m = g.model
        let c = try run("""
            rules:
              - name: needs-bias
                match: { op: FULLY_CONNECTED, inputs: [x, w, b?], outputs: [y], where: b.elements == 3 }
                rewrite: [set: { y.name: has-bias }]
              - name: no-bias
                match: { op: FULLY_CONNECTED, inputs: [x, w, b?], outputs: [y], where: not b.present }
                rewrite: [set: { y.name: no-bias }]
            """, on: &m)
        XCTAssertEqual(c.statistics["no-bias"], 1)
        XCTAssertEqual(m.subgraphs[0].values[2].name, "no-bias")
    }

    func testQuantizationFieldsAndVersion() throws {
        var g = RuleGraphBuilder()
        let x = g.input("x", ruleI8(0.5, 1), [1, 4])
        let y = g.value("y", ruleI8(0.5, 1), [1, 4])
        g.op(.relu, version: 1, [x], [y])
        g.output(y)
        var m = g.model
        _ = try run("""
            rules:
              - name: requantize
                match: { op: RELU, inputs: [x], outputs: [y], where: [x.scale == 0.5, y.zero_point == 1, x.per_channel == false] }
                rewrite:
                  - set: { y.scale: 0.25, y.zero_point: -3, root.version: 2 }
            """, on: &m)
        XCTAssertEqual(m.subgraphs[0].values[1].quantization?.scales, [0.25])
        XCTAssertEqual(m.subgraphs[0].values[1].quantization?.zeroPoints, [-3])
        XCTAssertEqual(m.subgraphs[0].ops[0].version, 2)
    }
}
