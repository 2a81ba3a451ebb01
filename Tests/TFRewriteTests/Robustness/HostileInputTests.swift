import Foundation
import XCTest

@testable import TFRewrite

/// Inputs built to hurt (issue 21's families): each must end in exit 2 with one
/// `tfrewrite: error:` line naming the problem, no output file, and well within 10 s.
final class HostileInputTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = try TestPaths.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: path(name), atomically: false, encoding: .utf8)
        return path(name)
    }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        try Data(bytes).write(to: URL(fileURLWithPath: path(name)))
        return path(name)
    }

    /// Runs the CLI with `args` and checks the refusal: exit 2, one error line containing
    /// every one of `mentions`, nothing at `output`, under 10 seconds.
    func expectRefused(_ args: [String], mentions: [String], output: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        let start = Date()
        let r = try runTool(args)
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(r.status, 2, "stderr: \(r.stderr.prefix(500))", file: file, line: line)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "stderr: \(r.stderr.prefix(500))", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("tfrewrite: error: "), r.stderr, file: file, line: line)
        for m in mentions { XCTAssertTrue(r.stderr.contains(m), "'\(m)' not in: \(r.stderr.prefix(500))", file: file, line: line) }
        XCTAssertLessThan(r.stderr.count, 2000, "the error line should stay readable", file: file, line: line)
        if let output { XCTAssertFalse(FileManager.default.fileExists(atPath: output), "\(output) was written", file: file, line: line) }
        XCTAssertLessThan(seconds, 10, "took \(seconds) s", file: file, line: line)
    }

    var fixtureModel: String { TestPaths.fixtures.appendingPathComponent("micro_speech_float.tflite").path }

    /// Converts the float micro_speech fixture with `rules` and expects the refusal.
    func expectRulesRefused(_ rules: String, mentions: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let out = path("out.tflite")
        try expectRefused([fixtureModel, "-o", out, "--rules", rules], mentions: mentions, output: out, file: file, line: line)
        try expectRefused(["rules", "check", rules], mentions: mentions, file: file, line: line)
    }

    // MARK: Rules YAML

    func testDeeplyNestedYAMLIsRefused() throws {
        let n = 4000
        let flowList = try write("list.yaml", "rules: " + String(repeating: "[", count: n) + String(repeating: "]", count: n) + "\n")
        try expectRulesRefused(flowList, mentions: ["list.yaml:1:", "nested more than 256 levels"])
        let flowMap = try write("map.yaml", "rules: " + String(repeating: "{a: ", count: n) + "b" + String(repeating: "}", count: n) + "\n")
        try expectRulesRefused(flowMap, mentions: ["map.yaml:1:", "nested more than 256 levels"])
        let block = try write("block.yaml", (0..<n).map { String(repeating: " ", count: $0) + "k\($0):\n" }.joined() + String(repeating: " ", count: n) + "x\n")
        try expectRulesRefused(block, mentions: ["block.yaml:257:", "nested more than 256 levels"])
    }

    func testAliasExpansionIsBounded() throws {
        var lines = ["a0: &a0 [" + Array(repeating: "lol", count: 9).joined(separator: ", ") + "]"]
        for level in 1...8 { lines.append("a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ", ") + "]") }
        lines.append("rules: *a8")
        let laughs = try write("laughs.yaml", lines.joined(separator: "\n") + "\n")
        try expectRulesRefused(laughs, mentions: ["laughs.yaml:", "expands to more than 1000000 nodes"])
        // Shallow aliases nested through each other are as deep as what they name.
        var deep = ["a0: &a0 " + String(repeating: "[", count: 200) + String(repeating: "]", count: 200)]
        deep.append("a1: &a1 " + String(repeating: "[", count: 200) + "*a0" + String(repeating: "]", count: 200))
        let deepAlias = try write("deep-alias.yaml", deep.joined(separator: "\n") + "\n")
        try expectRulesRefused(deepAlias, mentions: ["deep-alias.yaml:2:", "through alias *a0"])
    }

    /// One rule whose `where:` is `expression` (quoted for YAML).
    func ruleFile(where expression: String) -> String {
        """
        rules:
          - name: hostile
            match:
              op: RELU
              inputs: [x]
              outputs: [y]
              where: "\(expression)"
            rewrite:
              - erase: root

        """
    }

    func testDeeplyNestedRuleExpressionIsRefused() throws {
        let n = 30_000
        let parens = try write("parens.yaml", ruleFile(where: String(repeating: "(", count: n) + "true" + String(repeating: ")", count: n)))
        try expectRulesRefused(parens, mentions: ["parens.yaml:7: rule hostile: where:", "nested more than 256 levels", "(60004 characters)"])
        let brackets = try write("brackets.yaml", ruleFile(where: String(repeating: "[", count: n) + String(repeating: "]", count: n) + " == 1"))
        try expectRulesRefused(brackets, mentions: ["brackets.yaml:7:", "nested more than 256 levels"])
        let negations = try write("not.yaml", ruleFile(where: String(repeating: "not ", count: n) + "true"))
        try expectRulesRefused(negations, mentions: ["not.yaml:7:", "nested more than 256 levels"])
        // A flat chain is as deep a tree as nesting for the checker and the evaluator.
        let chain = try write("chain.yaml", ruleFile(where: Array(repeating: "true", count: n).joined(separator: " and ")))
        try expectRulesRefused(chain, mentions: ["chain.yaml:7:", "nested more than 256 levels"])
    }
}
