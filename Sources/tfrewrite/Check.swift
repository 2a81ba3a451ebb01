import ArgumentParser
import Foundation
import TFRewrite

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Lint a model for a TFLM target: what will not load or run, and the fix tfrewrite offers.",
        discussion: """
            One line per finding: the op and its index, the problem, and the fix (a pass of \
            the rules, e.g. conv-to-depthwise, or what to do when no pass can fix it). \
            Exit codes: 0 no findings; 1 findings remain; 2 bad input or rules.
            """)

    @Argument(help: "A .tflite model.")
    var model: String

    @Option(name: .long, help: "Rules whose target to check against (built-in name or .yaml path; repeatable). Default: micro.")
    var rules: [String] = []

    @OptionGroup(title: "Resources")
    var memoryFlags: MemoryFlags

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup(title: "Arena")
    var arena: ArenaLimitFlag

    func run() throws {
        let names = rules.isEmpty ? ["micro"] : rules
        let ruleSet = try RuleSet.load(names)
        guard let target = ruleSet.target else {
            throw CLIError("the rules \(names.joined(separator: ", ")) define no target: add a target: section")
        }
        let m = try TFLiteImporter.load(path: model)
        try arena.check(m, model: model)
        let result = ModelCheck.run(m, target: target)
        writeStdout(json ? result.json(model: model, rules: ruleSet.files).rendered() + "\n" : result.text(model: model))
        if !result.isClean { throw ToolExit(code: 1) }
    }
}
