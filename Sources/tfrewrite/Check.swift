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

    @Argument(help: "A model: .tflite, frozen GraphDef .pb, or a SavedModel directory (checked after import).")
    var model: String

    @OptionGroup(title: "TensorFlow graph inputs")
    var importFlags: ImportFlags

    @Option(name: .long, help: "Rules whose target to check against (built-in name or .yaml path; repeatable). Default: micro.")
    var rules: [String] = []

    @OptionGroup(title: "Resources")
    var memoryFlags: MemoryFlags

    @OptionGroup(title: "Output")
    var common: CommonFlags

    @OptionGroup(title: "Arena")
    var arena: ArenaLimitFlag

    func run() throws {
        let names = RulesArguments.resolve(rules.isEmpty ? ["micro"] : rules)
        let ruleSet = try RuleSet.load(names)
        guard let target = ruleSet.target else {
            throw CLIError("the rules \(names.joined(separator: ", ")) define no target: add a target: section")
        }
        let m = try ModelLoader.load(path: model, options: try importFlags.loadOptions())
        try arena.check(m, model: model)
        let result = ModelCheck.run(m, target: target)
        writeStdout(common.json ? result.json(model: model, rules: ruleSet.files).rendered() + "\n" : result.text(model: model))
        if !result.isClean { throw ToolExit(code: 1) }
    }
}
