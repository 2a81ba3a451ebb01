import Foundation
import XCTest

@testable import TFRewrite

/// Malformed rules must fail when the file is loaded, with `file:line: message` naming the
/// problem at the right line.
final class MalformedRulesTests: XCTestCase {
    /// A valid one-op rule the cases below break one piece at a time.
    static let header = "rules:\n  - name: r\n"

    func assertError(_ rule: String, line: Int, _ expected: String, file: StaticString = #filePath, at: UInt = #line) {
        let text = Self.header + rule
        XCTAssertThrowsError(try RuleSet.parse(text, file: "bad.yaml"), file: file, line: at) { e in
            guard let r = e as? RulesError else { return XCTFail("not a RulesError: \(e)", file: file, line: at) }
            XCTAssertEqual(r.file, "bad.yaml", file: file, line: at)
            XCTAssertEqual(r.line, line, "\(r)", file: file, line: at)
            XCTAssertTrue(r.message.contains(expected), "message: \(r.message)\nexpected to contain: \(expected)", file: file, line: at)
            XCTAssertFalse(r.description.contains("\n"), "one line: \(r)", file: file, line: at)
        }
    }

    /// Lines 3…: a conv match and a rewrite (lines 3–8).
    static let conv = """
            match:
              op: CONV_2D
              as: conv
              inputs: [x, w, b?]
              outputs: [y]
              where: [w.constant, w.rank == 4]

        """

    func testUnknownKeyInOpPattern() {
        assertError("""
                match:
                  ops:
                    conv: { op: CONV_2D, inptus: [x, w] }
                rewrite: [erase: conv]

            """, line: 5, "unknown key 'inptus' in op pattern 'conv'; did you mean 'inputs'?")
    }

    func testUnknownOpName() {
        assertError("""
                match:
                  op: CONV2D
                rewrite: [erase: root]

            """, line: 4, "unknown op 'CONV2D'; did you mean 'CONV_2D'?")
    }

    func testUnboundNameInCondition() {
        assertError(Self.conv.replacingOccurrences(of: "w.rank == 4]", with: "q.rank == 4]") + "    rewrite: [erase: conv]\n",
                    line: 8, "unknown name 'q'")
    }

    func testTypeErrorInCondition() {
        assertError("""
                match:
                  op: RELU
                  inputs: [x]
                  where:
                    - x.dtype == float32
                    - x.rank == int8
                rewrite: [erase: root]

            """, line: 8, "in 'x.rank == int8': cannot compare an int with the symbol int8")
    }

    func testSymbolOfTheWrongEnumeration() {
        assertError("""
                match:
                  op: CONV_2D
                  where: root.fused_activation == RELU7
                rewrite: [erase: root]

            """, line: 5, "'RELU7' is not an activation")
    }

    func testConditionThatIsNotACondition() {
        assertError("""
                match:
                  op: RELU
                  inputs: [x]
                  where: x.rank
                rewrite: [erase: root]

            """, line: 6, "where: 'x.rank' is an int, expected a condition (true/false)")
    }

    func testUnknownTensorProperty() {
        assertError("""
                match:
                  op: RELU
                  inputs: [x]
                  where: x.rnk == 4
                rewrite: [erase: root]

            """, line: 6, "tensors have no property 'rnk'; did you mean 'rank'?")
    }

    func testExpressionSyntaxError() {
        assertError("""
                match:
                  op: RELU
                  inputs: [x]
                  where: x.rank ==
                rewrite: [erase: root]

            """, line: 6, "in 'x.rank ==': expected a value, found the end")
    }

    func testRewriteReferringToAnUnboundTensor() {
        assertError(Self.conv + """
                rewrite:
                  - constant: { bind: w2, from: w, transpose: [3, 1, 2, 0] }
                  - set_input: { op: conv, index: 1, tensor: w3 }

            """, line: 11, "set_input.tensor: 'w3' is not a bound tensor")
    }

    func testBadPermutation() {
        assertError(Self.conv + """
                rewrite:
                  - constant: { bind: w2, from: w, transpose: [3, 1, 1, 0] }

            """, line: 10, "transpose: [3, 1, 1, 0] is not a permutation of 0..3")
    }

    func testPermutationOfTheWrongRank() {
        assertError(Self.conv + """
                rewrite:
                  - constant: { bind: w2, from: w, transpose: [2, 1, 0] }

            """, line: 10, "has 3 entries but 'w' has rank 4")
    }

    func testConstantFromATensorNotKnownToBeConstant() {
        assertError(Self.conv + """
                rewrite:
                  - constant: { bind: b2, from: b, multiply: 2.0 }

            """, line: 10, "the match does not require 'b' to be a constant; add 'b.constant'")
    }

    func testAttributeTheOpDoesNotHave() {
        assertError(Self.conv + """
                rewrite:
                  - set: { conv.depth_multiplier: 2 }

            """, line: 10, "CONV_2D has no attribute 'depth_multiplier'")
    }

    func testOpNotConnectedToTheRoot() {
        assertError("""
                match:
                  ops:
                    act: { op: RELU, inputs: [t], outputs: [y] }
                    other: { op: CONV_2D, outputs: [z] }
                rewrite: [erase: act]

            """, line: 6, "op 'other' is not connected to the root 'act'")
    }

    func testUnknownAction() {
        assertError(Self.conv + """
                rewrite:
                  - delete: conv

            """, line: 10, "unknown action 'delete'")
    }

    func testUnknownNativeFunction() {
        assertError(Self.conv + """
                rewrite:
                  - call: add_zero_bais

            """, line: 10, "unknown native function 'add_zero_bais'; did you mean 'add_zero_bias'?")
    }

    func testInsertedOpWritingATensorStillWritten() {
        assertError("""
                match:
                  op: RELU6
                  inputs: [x]
                  outputs: [y]
                rewrite:
                  - insert: { op: RELU, inputs: [x], outputs: [y] }

            """, line: 8, "insert: 'y' is still written by 'root'; erase 'root'")
    }

    func testConditionalNameUsedUnconditionally() {
        assertError(Self.conv + """
                rewrite:
                  - constant: { bind: b2, from: b, multiply: 2.0, when: b.present and b.constant }
                  - set_input: { op: conv, index: 2, tensor: b2 }

            """, line: 11, "'b2' exists only when 'b.present and b.constant'")
    }

    func testRewriteMustBeAList() {
        assertError(Self.conv + """
                rewrite: { erase: conv }

            """, line: 9, "rewrite: expected a list of actions")
    }

    func testDuplicateRuleNames() {
        XCTAssertThrowsError(try RuleSet.parse("""
            rules:
              - name: r
                match: { op: RELU }
                rewrite: [erase: root]
              - name: r
                match: { op: RELU6 }
                rewrite: [erase: root]
            """, file: "dup.yaml")) { e in
            XCTAssertEqual("\(e)", "dup.yaml:5: rule r: a rule with this name is already defined at dup.yaml:2")
        }
    }

    func testWholeMessageForOneCase() {
        XCTAssertThrowsError(try RuleSet.parse(Self.header + Self.conv + "    rewrite:\n      - set: { conv.padding: MIDDLE }\n", file: "pad.yaml")) { e in
            XCTAssertEqual("\(e)", "pad.yaml:10: rule r: set conv.padding: 'MIDDLE' is not a padding (SAME, VALID)")
        }
    }

    /// The checker sees through YAML: quoting a number keeps it a number, but a stray list is caught.
    func testValidRuleLoads() throws {
        let set = try RuleSet.parse(Self.header + Self.conv + """
                rewrite:
                  - constant: { bind: w2, from: w, transpose: [3, 1, 2, 0] }
                  - set_input: { op: conv, index: 1, tensor: w2, in_place: true }
                  - convert: { op: conv, to: DEPTHWISE_CONV_2D, attributes: { depth_multiplier: "w.shape[0]" } }

            """, file: "ok.yaml")
        XCTAssertEqual(try DeclarativeRuleCompiler.summaries(set.rules).map(\.line), ["r (ok.yaml:2): matches CONV_2D; 2 conditions; constant, set_input, convert"])
    }

    /// Mutated example files (lines dropped or duplicated, characters replaced) load or fail
    /// with a located RulesError; they never trap.
    func testMutatedRulesFilesNeverTrap() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: RuleExamples.directory.path).filter { $0.hasSuffix(".yaml") }
            .map { RuleExamples.directory.appendingPathComponent($0) }
            + (try FileManager.default.contentsOfDirectory(atPath: RuleExamples.cookbook.path)).filter { $0.hasSuffix(".yaml") }.map { RuleExamples.cookbook.appendingPathComponent($0) }
        var rng = SplitMix64(seed: 11)
        let replacements = ["", "0", "-1", "[", "]", "{", "}", ":", "x", "?", "...", "'", "\"", "not", "==", "w.shape[9]", "1e309"]
        var failures = 0, loads = 0
        for url in files {
            let lines = try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n")
            for _ in 0..<60 {
                var m = lines
                let k = Int.random(in: 0..<m.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: m.remove(at: k)
                case 1: m.insert(m[k], at: k)
                default:
                    var chars = Array(m[k])
                    if !chars.isEmpty {
                        let at = Int.random(in: 0..<chars.count, using: &rng)
                        chars.replaceSubrange(at...at, with: Array(replacements.randomElement(using: &rng)!))
                    }
                    m[k] = String(chars)
                }
                do {
                    let set = try RuleSet.parse(m.joined(separator: "\n"), file: "m.yaml")
                    _ = try set.pipeline()
                    loads += 1
                } catch let e as RulesError {
                    XCTAssertEqual(e.file, "m.yaml")
                    XCTAssertFalse(e.description.contains("\n"), e.description)
                    failures += 1
                }
            }
        }
        XCTAssertGreaterThan(failures, 50)
        XCTAssertGreaterThan(loads, 10)
    }
}
