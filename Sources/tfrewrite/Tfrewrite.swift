import ArgumentParser
import TFRewrite

struct Tfrewrite: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tfrewrite",
        abstract: "Convert and repair TensorFlow models for TensorFlow Lite Micro.",
        discussion: """
            Without a subcommand, converts: tfrewrite IN -o OUT [--rules R ...].
            With no rules, a .tflite input is re-serialized faithfully.

            Every command takes .tflite, frozen GraphDef .pb and SavedModel inputs (graph cuts: \
            --input-arrays, --output-arrays), -q, -v and --json. -o/--output is always a file. \
            Docs/cli.md has the grammar and the JSON schemas.

            Exit codes: 0 ok; 1 a check found problems (check, diff); 2 bad input or usage.
            """,
        version: TFRewriteVersion.string,  // also the wheel's version (scripts/build-wheel.py)
        subcommands: [Convert.self, Check.self, Inspect.self, Diff.self, Show.self, Verify.self, Run.self, MemoryCommand.self, RulesCommand.self],
        defaultSubcommand: Convert.self
    )
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model's ops, tensors, quantization, op histogram and I/O.")

    @Argument(help: "A model: .tflite, frozen GraphDef .pb, or a SavedModel directory (shown after import).")
    var model: String

    @OptionGroup(title: "TensorFlow graph inputs")
    var importFlags: ImportFlags

    @OptionGroup
    var deprecatedInput: DeprecatedGraphInputFlag

    // The old spelling of --output-arrays (inspect writes no file), with a warning.
    @Option(name: .customLong("output"), help: .hidden)
    var deprecatedOutputs: [String] = []

    @OptionGroup(title: "Resources")
    var memoryFlags: MemoryFlags

    @OptionGroup(title: "Output")
    var common: CommonFlags

    @Flag(help: "Print the IR text form instead of tables.")
    var ir = false

    @Flag(help: "Run the IR verifier and list what it finds (exit 1 when it finds problems).")
    var verify = false

    func run() throws {
        DeprecatedFlag.warnIfUsed(deprecatedOutputs, old: "--output NAME", new: "--output-arrays NAME")
        let m = try ModelLoader.load(path: model, options: try importFlags.loadOptions(deprecatedInputs: deprecatedInput.inputs, deprecatedOutputs: deprecatedOutputs))
        if verify {
            let problems = Verifier.verify(m)
            if common.json {
                writeStdout(JSON.object([("model", .string(model)), ("problems", .array(problems.map { .string($0.description) }))]).rendered() + "\n")
            } else {
                for p in problems { writeStdout("\(model): \(p)\n") }
                if problems.isEmpty { writeStdout("\(model): IR verifier found no problems\n") }
            }
            if !problems.isEmpty { throw ToolExit(code: 1) }
            return
        }
        if ir {
            if common.json { throw ValidationError("--ir prints text; it has no --json form") }
            writeStdout(IRPrinter.print(m))
            return
        }
        let report = ModelReport(model: m, path: model)
        writeStdout(common.json ? report.json().rendered() + "\n" : report.text())
    }
}

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show structural differences between two models (exit 1 when they differ).")

    @Argument(help: "The first model: .tflite, frozen GraphDef .pb, or a SavedModel directory.")
    var a: String
    @Argument(help: "The second model (any of the same kinds).")
    var b: String
    @OptionGroup(title: "Resources")
    var memoryFlags: MemoryFlags
    @OptionGroup(title: "Output")
    var common: CommonFlags

    func run() throws {
        let ma = try ModelLoader.load(path: a)
        let mb = try ModelLoader.load(path: b)
        let d = ModelDiff(ma, mb)
        writeStdout(common.json ? d.json().rendered() + "\n" : d.text(nameA: a, nameB: b))
        if !d.isIdentical { throw ToolExit(code: 1) }
    }
}
