import Foundation
import XCTest

@testable import TFRewrite

/// Malformed rules files: every error names the file and line, and says what is wrong.
final class RulesFileTests: XCTestCase {
    /// Parses `text` as `bad.yaml` and checks the error is `bad.yaml:<line>: ...<message>...`.
    func assertError(_ text: String, line: Int, _ message: String, file: StaticString = #filePath, sourceLine: UInt = #line) {
        do {
            let set = try RuleSet.parse(text, file: "bad.yaml")
            _ = try set.pipeline()
            XCTFail("expected an error at line \(line) containing \"\(message)\"", file: file, line: sourceLine)
        } catch let e as RulesError {
            XCTAssertEqual(e.file, "bad.yaml", file: file, line: sourceLine)
            XCTAssertEqual(e.line, line, "\(e)", file: file, line: sourceLine)
            XCTAssertTrue(e.description.hasPrefix("bad.yaml:\(line): "), "\(e)", file: file, line: sourceLine)
            XCTAssertTrue(e.message.contains(message), "\"\(e.message)\" does not contain \"\(message)\"", file: file, line: sourceLine)
            XCTAssertFalse(e.description.contains("\n"), "one line: \(e)", file: file, line: sourceLine)
        } catch {
            XCTFail("not a RulesError: \(error)", file: file, line: sourceLine)
        }
    }

    func testYAMLSyntaxErrorHasLine() {
        assertError("""
            target:
              runtime: tflm
              ops: { CONV_2D: 3
            passes: []
            """, line: 4, "YAML syntax error")
    }

    func testTopLevelMustBeAMapping() {
        assertError("- cleanup\n- fold-shapes\n", line: 1, "expected a mapping with keys extends, target, passes, rules, got a list")
    }

    func testEmptyFile() {
        assertError("# nothing here\n", line: 1, "the file is empty")
    }

    func testUnknownTopLevelKeySuggestsTheRightOne() {
        assertError("""
            target:
              runtime: tflm
            pases:
              - cleanup
            """, line: 3, "unknown key 'pases' in a rules file; did you mean 'passes'?")
    }

    func testUnknownTargetKey() {
        assertError("""
            target:
              runtime: tflm
              check_version: true
            """, line: 3, "unknown key 'check_version' in target; did you mean 'check_versions'?")
    }

    func testUnknownOp() {
        assertError("""
            target:
              ops:
                RESHAPE: any
                CONV2D: 3
            """, line: 4, "unknown op 'CONV2D'; did you mean 'CONV_2D'?")
    }

    func testVersionZeroIsBad() {
        assertError("""
            target:
              ops:
                CONV_2D: 0
            """, line: 3, "op CONV_2D: bad version 0: versions start at 1")
    }

    func testVersionMustBeANumberOrAny() {
        assertError("""
            target:
              ops: { SOFTMAX: two }
            """, line: 2, "op SOFTMAX: expected the highest accepted version (1, 2, ...), `any`, or `false` to remove it, got 'two'")
    }

    func testOpListedTwice() {
        assertError("""
            target:
              ops:
                SOFTMAX: 1
                softmax: 2
            """, line: 4, "op SOFTMAX is listed twice (first on line 3)")
    }

    func testCustomIsNotAnOpName() {
        assertError("target:\n  ops: { CUSTOM: any }\n", line: 2, "list custom op codes under custom_ops")
    }

    func testUnknownTensorType() {
        assertError("""
            target:
              runtime: tflm
              tensor_types: [int8, int7]
            """, line: 3, "tensor_types: unknown tensor type 'int7'")
    }

    func testCheckVersionsMustBeABoolean() {
        assertError("target:\n  check_versions: sometimes\n", line: 2, "check_versions: expected true or false, got 'sometimes'")
    }

    func testUnknownQuantizationKey() {
        assertError("""
            target:
              quantization:
                hybrid: false
                int4: false
            """, line: 4, "unknown key 'int4' in target.quantization")
    }

    func testDuplicateKey() {
        assertError("""
            target:
              runtime: tflm
              runtime: other
            """, line: 3, "duplicate key 'runtime' (first given on line 2)")
    }

    func testUnknownPassSuggestsTheRightOne() {
        assertError("""
            passes:
              - cleanup
              - legalize-op-version
            """, line: 3, "unknown pass 'legalize-op-version'; did you mean 'legalize-op-versions'?")
    }

    func testPassesMustBeAList() {
        assertError("passes: cleanup\n", line: 1, "passes: expected a list of pass names, got 'cleanup'")
    }

    func testPassEntryWithTwoKeys() {
        assertError("""
            passes:
              - cleanup: {}
                fold-shapes: {}
            """, line: 2, "a pass entry has 2 keys (cleanup, fold-shapes)")
    }

    func testUnknownOptionPointsAtTheOption() {
        assertError("""
            passes:
              - legalize-op-versions:
                  check_target: true
                  verbose: true
            """, line: 4, "pass legalize-op-versions: option 'verbose': unknown option")
    }

    func testWrongOptionTypePointsAtTheOption() {
        assertError("""
            passes:
              - legalize-op-versions:
                  check_target: maybe
            """, line: 3, "pass legalize-op-versions: option 'check_target': expected true or false")
    }

    func testOptionsOfAnotherEngineersPassAreCheckedToo() throws {
        guard PassRegistry.entry("fold-shapes") != nil else { throw XCTSkip("fold-shapes is not registered") }
        assertError("""
            passes:
              - fold-shapes: { batch: one }
            """, line: 2, "pass fold-shapes: option 'batch'")
    }

    func testRulesMustBeAList() {
        assertError("rules: { name: x }\n", line: 1, "rules: expected a list of mappings with name, match and rewrite, got a mapping")
    }

    func testRuleMustBeAMapping() {
        assertError("""
            rules:
              - name: ok
                match: { op: CONV_2D }
                rewrite: { op: DEPTHWISE_CONV_2D }
              - just-a-string
            """, line: 5, "rule 2: expected a mapping with name, match and rewrite, got 'just-a-string'")
    }

    func testRuleNeedsMatchAndRewrite() {
        assertError("""
            rules:
              - name: half
                match: { op: CONV_2D }
            """, line: 2, "rule half has no rewrite")
    }

    func testRuleUnknownKey() {
        assertError("""
            rules:
              - name: r
                match: {}
                rewrite: {}
                priority: 3
            """, line: 5, "unknown key 'priority' in rule 1")
    }

    // The rule language (Rules/RuleLanguage, Docs/writing-passes.md) now validates rules when
    // the file loads and compiles them into the pipeline.
    func testRulesAreValidatedWhenLoadedAndCompiled() throws {
        XCTAssertThrowsError(try RuleSet.parse("""
            rules:
              - name: conv-to-dw
                match: { op: CONV_2D }
                rewrite: { op: DEPTHWISE_CONV_2D }
            """, file: "bad.yaml")) { e in
            XCTAssertEqual((e as? RulesError)?.line, 4)
            XCTAssertTrue("\(e)".contains("rewrite: expected a list of actions"), "\(e)")
        }
        let set = try RuleSet.parse("""
            rules:
              - name: conv-to-dw
                match: { op: CONV_2D }
                rewrite: [erase: root]
            """, file: "ok.yaml")
        XCTAssertEqual(set.rules.map(\.name), ["conv-to-dw"])
        XCTAssertEqual(set.rules[0].location.line, 2)
        XCTAssertEqual(set.rules[0].match.entries?.first?.key, "op")
        XCTAssertEqual(try set.pipeline().passes.map(\.name), ["custom-rules"])
    }

    func testUnknownBuiltinInExtends() {
        assertError("extends: micro_speach\n", line: 1, "unknown rules 'micro_speach': not a built-in")
    }

    func testExtendsMissingFile() {
        assertError("extends: ./nowhere/base.yaml\n", line: 1, "rules file './nowhere/base.yaml' not found")
    }

    func testExtendsCycle() throws {
        let dir = try TestPaths.temporaryDirectory()
        _ = try writeTemporary("extends: b.yaml\npasses: [cleanup]\n", name: "a.yaml", in: dir)
        let b = try writeTemporary("extends: a.yaml\n", name: "b.yaml", in: dir)
        XCTAssertThrowsError(try RuleSet.load([b])) { e in
            guard let e = e as? RulesError else { return XCTFail("\(e)") }
            XCTAssertEqual(e.line, 1)
            XCTAssertTrue(e.message.contains("cycle: b.yaml -> a.yaml -> b.yaml"), e.message)
        }
    }

    func testUnknownRulesNameOnTheCommandLine() {
        XCTAssertThrowsError(try RuleSet.load(["nosuch"])) { e in
            XCTAssertEqual("\(e)", "unknown rules 'nosuch': not a built-in (\(BuiltinRules.names.joined(separator: ", "))) nor a .yaml path")
        }
    }

    func testErrorInAnExtendedFileNamesThatFile() throws {
        let dir = try TestPaths.temporaryDirectory()
        _ = try writeTemporary("target:\n  runtime: tflm\n  ops: { NOPE: 1 }\n", name: "base.yaml", in: dir)
        let top = try writeTemporary("extends: base.yaml\n", name: "top.yaml", in: dir)
        XCTAssertThrowsError(try RuleSet.load([top])) { e in
            guard let e = e as? RulesError else { return XCTFail("\(e)") }
            XCTAssertTrue(e.file.hasSuffix("base.yaml"), e.file)
            XCTAssertEqual(e.line, 3)
        }
    }

    /// Mangled versions of a built-in file either load or fail with a located RulesError;
    /// none may trap.
    func testMangledRulesNeverTrap() throws {
        let text = try XCTUnwrap(BuiltinRules.text("micro_versioned_2020")?.text)
        let pieces: [String] = [":", "-", "{", "}", "[", "]", " ", "\n", "  ", "\"", "'", "&a", "*a", "!!int", "#", "0", "-1", "any", "false", "null", "\t", "é"]
        var generator = SplitMix64(seed: 42)
        var failures = 0, loaded = 0
        for _ in 0..<400 {
            var chars = Array(text)
            for _ in 0..<(1 + Int(generator.next() % 4)) {
                let at = Int(generator.next() % UInt64(chars.count))
                switch generator.next() % 3 {
                case 0: chars.remove(at: at)
                case 1: chars.insert(contentsOf: pieces[Int(generator.next() % UInt64(pieces.count))], at: at)
                default: chars.replaceSubrange(at..<min(chars.count, at + 3), with: pieces[Int(generator.next() % UInt64(pieces.count))])
                }
            }
            do {
                _ = try RuleSet.parse(String(chars), file: "m.yaml")
                loaded += 1
            } catch let e as RulesError {
                failures += 1
                XCTAssertEqual(e.file, "m.yaml")
                XCTAssertFalse(e.description.contains("\n"), e.description)
            }
        }
        XCTAssertGreaterThan(failures, 50)
        XCTAssertGreaterThan(loaded, 10)
    }
}
