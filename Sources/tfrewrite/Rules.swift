import ArgumentParser
import Foundation
import TFRewrite

/// `tfrewrite rules …`: work with rules files without a model.
struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Check rules files.",
        subcommands: [RulesCheck.self])
}

/// `tfrewrite rules check FILE`: loads and validates a rules file (its `extends:` too), prints
/// one line per custom rule and per pass, exits 0 when valid and 2 with `file:line: message`.
struct RulesCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Load and validate a rules file; print a one-line summary per rule.",
        discussion: """
            Checks everything loading checks: keys, op names, pass names and options, and each \
            custom rule (names bound, expression types, permutations, native functions). \
            Exit codes: 0 valid; 2 the first problem, as file:line: message. \
            The rule language: Docs/writing-passes.md.
            """)

    @Argument(help: "A rules file (.yaml) or a built-in rules name.")
    var file: String

    @OptionGroup(title: "Output")
    var common: CommonFlags

    func run() throws {
        let set = try RuleSet.load(RulesArguments.resolve([file]))
        let summaries = try DeclarativeRuleCompiler.summaries(set.rules)
        var out = ""
        for s in summaries { out += "rule \(s.line)\n" }
        for p in set.passes {
            let options = p.options.isEmpty ? "" : " " + OptionValue.map(p.options).description
            out += "pass \(p.name)\(options) (\(p.location))\n"
        }
        if common.json {
            let json = JSON.object([
                ("file", .string(file)),
                ("rules", .array(summaries.map { .string($0.line) })),
                ("passes", .array(set.passes.map { .string($0.name) })),
                ("target", set.target.map { .string($0.displayName) } ?? .null),
            ])
            return writeStdout(json.rendered() + "\n")
        }
        let target = set.target.map { ", target \($0.displayName)" } ?? ""
        out += "\(file): ok: \(summaries.count) rule\(summaries.count == 1 ? "" : "s"), \(set.passes.count) pass\(set.passes.count == 1 ? "" : "es")\(target)\n"
        writeStdout(out)
    }
}
