import ArgumentParser
import Foundation
import TFRewrite

/// The convert command's pipeline control: list the passes, disable some, show the IR after
/// some, count what fired. Names are registered passes, import passes (GraphDef/SavedModel),
/// `custom-rules`, and the rules of the --rules files.
struct PipelineFlags: ParsableArguments {
    @Flag(name: .customLong("list-passes"), help: "List the passes and the --rules files' rules (name and summary), then exit.")
    var listPasses = false

    @Option(name: .customLong("disable-pass"), help: ArgumentHelp("Skip a pass or a rule (repeatable).", valueName: "name"))
    var disabled: [String] = []

    @Option(name: .customLong("print-ir-after"), help: ArgumentHelp("Print the IR to stderr after this pass, or after every pass with 'all' (repeatable).", valueName: "name|all"))
    var printIRAfter: [String] = []

    @Flag(help: "Print how often each pass, pattern and rule fired (stderr).")
    var stats = false

    var control: PipelineControl {
        PipelineControl(disabled: Set(disabled), printIRAfter: Set(printIRAfter)) { pass, ir in
            writeStderr("// IR after \(pass)\n\(ir)")
        }
    }

    /// Prints `--list-passes` (with --json: `[{"name", "kind", "summary"}]`).
    func list(_ ruleSet: RuleSet?, json: Bool = false) throws {
        let passes = try Conversion.passList(ruleSet)
        if json {
            let entries = passes.map { p in JSON.object([("name", .string(p.name)), ("kind", .string(p.kind.rawValue)), ("summary", .string(p.summary))]) }
            return writeStdout(JSON.array(entries).rendered() + "\n")
        }
        let width = passes.map(\.name.count).max() ?? 0
        var out = ""
        for p in passes {
            let tag = p.kind == .pass ? "" : "[\(p.kind.rawValue)] "
            out += p.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + tag + p.summary + "\n"
        }
        writeStdout(out)
    }

    /// Unknown names in --disable-pass / --print-ir-after are usage errors (exit 2).
    func checkNames(_ ruleSet: RuleSet?) throws {
        let known = try Conversion.knownNames(ruleSet)
        for (flag, names) in [("--disable-pass", disabled), ("--print-ir-after", printIRAfter.filter { $0 != "all" })] {
            for n in names where !known.contains(n) {
                throw CLIError("\(flag) \(n): no pass or rule has this name (see --list-passes)")
            }
        }
    }

    /// Loads the model, running the import passes under this control.
    func load(path: String, options: ModelLoadOptions, context: inout PassContext) throws -> Model {
        try Conversion.load(path: path, options: options, control: control, context: &context)
    }

    /// Runs the conversion pipeline under this control: the rule set's rules and passes, the
    /// target check, and quantization when asked for.
    func run(_ ruleSet: RuleSet?, quantization: QuantizeInt8Pass?, memoryOptimization: OptimizeMemory?, on model: inout Model, context: inout PassContext) throws {
        try Conversion.run(ruleSet, quantization: quantization, memoryOptimization: memoryOptimization, on: &model, control: control, context: &context)
    }

    /// `--stats`, or -v: how often each pass, pattern and rule fired.
    func printStatistics(_ context: PassContext, verbose: Bool = false) {
        guard stats || verbose else { return }
        let lines = Conversion.statisticsLines(context)
        let text = lines.isEmpty ? "stats: nothing fired\n" : lines.map { "stats: \($0)\n" }.joined()
        writeStderr(text)
    }
}
