import ArgumentParser
import Foundation
import TFRewrite

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert or repair a model and write it as .tflite, a C array, or one C header.",
        discussion: """
            --rules R (a built-in name such as micro, micro_speech, micro_versioned_2020, or a \
            .yaml path; NAME.yaml with no such file means the built-in NAME; repeat to layer \
            files) runs the rules' passes, then checks that the target registers every op and its \
            kernels take the op's types (no hybrid, float16 or uint8 where the target lacks them). \
            If not, each blocking op is listed with its index and why, nothing is written and the \
            exit code is 2; --allow-unsupported writes the model anyway and prints the problems as \
            warnings.

            -o/--output names the output file; its extension picks the form (--format overrides): \
            .tflite the FlatBuffer; .h one self-contained header holding the array (an Arduino \
            sketch includes it); .c, .cc, .cpp a source defining the array plus a header beside \
            it (same name, .h). Arrays are 16-byte aligned, with a <name>_len constant; <name> \
            comes from the file name or --array-name. --emit-resolver F writes a header \
            registering exactly the model's ops with tflite::MicroMutableOpResolver, in the API \
            of the target's TFLM (the pre-template 2020 one for micro_versioned_2020).

            A one-line summary (ops before and after, the passes that changed the model, sizes) \
            goes to stderr unless -q; --json prints it on stdout instead. Docs/cli.md has it all.

            Set TFREWRITE_VERIFY=1 to run the IR verifier after every pass.
            """)

    // A default only so that --list-passes needs no model; validate() requires it otherwise.
    @Argument(help: "Input model: .tflite, frozen GraphDef .pb, or a SavedModel directory.")
    var input: String = ""

    @Option(name: .customShort("o"), help: ArgumentHelp("Output file (also --output): .tflite, .h, .c, .cc or .cpp.", valueName: "file"))
    var shortOutput: String?

    // `--output` is the output file, as -o. Given together with -o it is the old spelling of
    // --output-arrays (a graph node), accepted with a warning for one release.
    @Option(name: .customLong("output"), help: .hidden)
    var longOutputs: [String] = []

    @Option(name: .long, help: ArgumentHelp("Output form, overriding the extension of -o: tflite, c, cc or h.", valueName: "form"))
    var format: String?

    @OptionGroup(title: "TensorFlow graph inputs")
    var importFlags: ImportFlags

    @OptionGroup
    var deprecatedInput: DeprecatedGraphInputFlag

    @Option(name: .long, help: "Rules to apply: a built-in name or a .yaml path (repeatable; later files extend earlier ones).")
    var rules: [String] = []

    @Flag(name: .customLong("allow-unsupported"), help: "Write the model even when the --rules target cannot run it (each problem is printed as a warning).")
    var allowUnsupported = false

    @Option(name: .long, help: "Batch size to use for a dynamic (-1) batch dimension.")
    var batch: Int?

    @Option(name: .customLong("emit-resolver"), help: "Also write a C++ header registering the model's ops with MicroMutableOpResolver.")
    var emitResolver: String?

    @Option(name: .long, help: ArgumentHelp("Also write the model before and after, side by side, and the pass log as a self-contained HTML page.", valueName: "file.html"))
    var report: String?

    @Option(name: .customLong("array-name"), help: "Name of the C array for -o *.cc (default: from the output file name).")
    var arrayName: String?

    @OptionGroup(title: "Int8 quantization")
    var quantization: QuantizeFlags

    @OptionGroup(title: "Pipeline control")
    var pipelineFlags: PipelineFlags

    @OptionGroup(title: "Resources")
    var memoryFlags: MemoryFlags

    @OptionGroup(title: "Output")
    var common: CommonFlags

    @OptionGroup(title: "Arena")
    var arena: ArenaLimitFlag

    @Option(name: .long, help: ArgumentHelp("Optimize the written model for: memory (reorder ops so TFLM's tensor arena, for --pointer-bits, is smaller; outputs unchanged).", valueName: "goal"))
    var optimize: [String] = []

    /// `--optimize memory`: the reordering pass, for the build --pointer-bits names.
    var memoryOptimization: OptimizeMemory? { optimize.contains("memory") ? OptimizeMemory(build: arena.pointer.build) : nil }

    /// The output file: -o, else the one --output.
    var output: String { shortOutput ?? longOutputs.first ?? "" }

    /// Graph output nodes given with the old spelling `--output NAME` (next to -o).
    var deprecatedGraphOutputs: [String] { shortOutput == nil ? [] : longOutputs }

    /// The output form: --format, else the extension of -o, else (a device or pipe such as
    /// /dev/null or /dev/stdout) the FlatBuffer.
    var outputFormat: ModelOutputFormat? {
        if let format { return ModelOutputFormat(rawValue: format) }
        return ModelOutputFormat.forExtension(of: output) ?? (OutputTransaction.isStream(output) ? .tflite : nil)
    }

    var writesCArray: Bool { outputFormat.map { $0 != .tflite } ?? false }

    /// `kTensorArenaSize` beside the array: the smallest arena TFLM's MicroAllocator loads and runs
    /// the model with on a 32-bit target (`tfrewrite memory`, Docs/memory.md), rounded up to 16.
    /// A model the arena model cannot size (custom ops without a declared footprint, several
    /// subgraphs) gets no constant and a note saying why.
    func arenaConstant(for model: Model) -> [CArrayConstant] {
        do {
            let bytes = try minimumTensorArenaSize(of: model)
            return [CArrayConstant(name: "kTensorArenaSize", value: (bytes + 15) / 16 * 16,
                                   comment: "smallest TFLM tensor arena for this model on a 32-bit target (tfrewrite memory), rounded up to 16")]
        } catch {
            if !common.quiet { writeStderr("tfrewrite: note: no kTensorArenaSize in \(output): \(error)\n") }
            return []
        }
    }

    func validate() throws {
        if pipelineFlags.listPasses { return }
        if input.isEmpty { throw ValidationError("Missing expected argument '<input>'") }
        if output.isEmpty { throw ValidationError("Missing expected argument '-o <file>'") }
        if shortOutput == nil && longOutputs.count > 1 {
            throw ValidationError("--output names the output file and is given \(longOutputs.count) times; graph output nodes are --output-arrays NAME")
        }
        if let f = format, ModelOutputFormat(rawValue: f) == nil {
            throw ValidationError("--format must be tflite, c, cc or h, got '\(f)'")
        }
        if outputFormat == nil {
            let ext = (output as NSString).pathExtension
            throw ValidationError("-o \(output): \(ext.isEmpty ? "no extension" : "unknown extension '.\(ext)'"); write .tflite, .h, .c, .cc or .cpp, or choose the form with --format tflite|c|cc|h; nothing written")
        }
        DeprecatedFlag.warnIfUsed(deprecatedGraphOutputs, old: "--output NAME next to -o (a graph node)", new: "--output-arrays NAME")
        if let b = batch, b < 1 || b > Int(Int32.max) { throw ValidationError("--batch must be a positive integer, got \(b)") }
        if batch != nil && rules.isEmpty { throw ValidationError("--batch only affects the passes of --rules; give --rules too") }
        if allowUnsupported && rules.isEmpty { throw ValidationError("--allow-unsupported only affects the target check of --rules; give --rules too") }
        if let n = arrayName, n.isEmpty { throw ValidationError("--array-name must not be empty") }
        if arrayName != nil && !writesCArray && emitResolver == nil {
            throw ValidationError("--array-name applies to C array outputs (-o *.h, *.c, *.cc, *.cpp) and --emit-resolver output")
        }
        if let r = emitResolver, r == output { throw ValidationError("--emit-resolver and -o name the same file") }
        try ConversionReport.validate(report)
        for goal in optimize where goal != "memory" { throw ValidationError("--optimize must be memory, got '\(goal)'") }
    }

    func run() throws {
        let rules = RulesArguments.resolve(self.rules)
        // Before any work: a name collision must not cost a whole conversion.
        if !pipelineFlags.listPasses { try checkOutputNames(rules: rules) }
        // Rules first: a typo in a rules file should not wait for the model to load.
        let ruleSet = rules.isEmpty ? nil : try RuleSet.load(rules)
        if pipelineFlags.listPasses { return try pipelineFlags.list(ruleSet, json: common.json) }
        try pipelineFlags.checkNames(ruleSet)
        var context = ruleSet?.context(batch: batch) ?? PassContext()
        // Also without --rules: GraphDef and SavedModel imports run passes too.
        context.verifyAfterEachPass = ProcessInfo.processInfo.environment["TFREWRITE_VERIFY"] == "1"
        context.allowUnsupported = allowUnsupported
        defer { pipelineFlags.printStatistics(context, verbose: common.verbose) }
        let options = try importFlags.loadOptions(deprecatedInputs: deprecatedInput.inputs, deprecatedOutputs: deprecatedGraphOutputs)
        let passRecorder = report.map { _ in ConversionReport.Recorder(on: &context) }
        var model = try pipelineFlags.load(path: input, options: options, context: &context)
        let modelBefore = model
        passRecorder?.start(from: model)
        let opsBefore = model.liveOpCount
        // One pipeline: the rules' passes, the target check, then int8 quantization.
        let quantizing = quantization.pass()
        if ruleSet != nil || quantizing != nil || memoryOptimization != nil {
            do {
                try pipelineFlags.run(ruleSet, quantization: quantizing?.pass, memoryOptimization: memoryOptimization, on: &model, context: &context)
            } catch where quantizing != nil && context.currentPass == QuantizeInt8Pass.name {
                quantizing?.progress.finish()
                if case PassError.unsupportedByTarget(let lines) = error {
                    let name = ruleSet?.target?.displayName ?? "?"
                    throw CLIError("\(input): after quantizing, the target \(name) cannot run \(lines.count) op(s): \(lines.joined(separator: "; ")); nothing written")
                }
                throw CLIError("\(input): quantize: \(oneLine(error))")
            } catch PassError.unsupportedByTarget(let lines) {
                let target = ruleSet?.target?.displayName ?? "?"
                throw CLIError("\(input): after the passes, the target \(target) cannot run \(lines.count) op(s): \(lines.joined(separator: "; ")); nothing written (see tfrewrite check)")
            } catch let e as PassError {
                throw CLIError("\(input): \(e)")
            } catch let e as RewriteBudgetExceeded {
                throw CLIError("\(input): \(e)")
            }
        }
        quantizing?.progress.finish()
        // Warnings of the passes (lossy requantization) and of --allow-unsupported.
        for note in context.notes where note.hasPrefix("warning: ") { writeStderr("tfrewrite: \(note)\n") }
        if !common.quiet {
            for note in context.notes where note.hasPrefix("note: \(OptimizeMemory.name)") || note.hasPrefix("note: \(FoldNormalizationIntoInputQuantization.name)") {
                writeStderr("tfrewrite: \(note)\n")
            }
        }
        // Over --arena-limit: try the op reordering before giving up (issue 14).
        // Its notes only when the result fits: a failure is the one error line.
        var fitNotes: ArraySlice<String> = []
        if memoryOptimization == nil, try !arena.fits(model, model: input) {
            var reorder = OptimizeMemory(build: arena.pointer.build)
            let notesBefore = context.notes.count
            if try reorder.run(on: &model, context: &context) {
                context.changedPasses.append(OptimizeMemory.name)
                fitNotes = context.notes[notesBefore...]
            }
        }
        try arena.check(model, model: input, consequence: "; nothing written")
        if !common.quiet {
            for note in fitNotes { writeStderr("tfrewrite: \(note) (to fit --arena-limit)\n") }
        }
        let quantizationSummary = quantizing?.report ?? { _ in }
        let name = arrayName ?? CArrayExporter.identifier(fromPath: output)
        let comment = (input as NSString).lastPathComponent
        // The resolver, the C array and its header appear together or not at all.
        let outputs = OutputTransaction()
        if let r = emitResolver {
            try ResolverExporter.write(model, to: r, name: name, comment: comment, target: ruleSet?.target, in: outputs)
        }
        let form = outputFormat ?? .tflite
        if form == .tflite {
            try TFLiteExporter.write(model, to: output, in: outputs)
        } else {
            try CArrayForms.write(model, format: form, to: output, arrayName: name, comment: comment,
                                  constants: arenaConstant(for: model), in: outputs)
        }
        if let report, let passRecorder {
            try ConversionReport.write(to: report, before: modelBefore, after: model, input: input, output: output, recorder: passRecorder, context: context, in: outputs)
        }
        try outputs.commit()
        let fileSize = linkSize(output)?.bytes
        if !common.quiet { quantizationSummary(fileSize) }
        let written = form == .tflite && !OutputTransaction.isStream(output) ? fileSize : nil
        let summary = ConversionSummary(
            input: input, output: output, format: form, opsBefore: context.opsBeforePasses ?? opsBefore, opsAfter: model.liveOpCount,
            changedBy: context.changedPasses, bytesBefore: storedSize(of: input),
            bytesAfter: written ?? TFLiteExporter.serialize(model).bytes().count)
        if common.json {
            writeStdout(summary.json.rendered() + "\n")
        } else if !common.quiet {
            writeStderr("tfrewrite: " + summary.line + "\n")
        }
    }
}

extension Convert {
    func checkOutputNames(rules: [String]) throws {
        var outputs: [(flag: String, path: String)] = [("-o", output)]
        if outputFormat?.writesHeaderBeside ?? false { outputs.append(("the header for -o", CArrayExporter.headerPath(for: output))) }
        if let r = emitResolver { outputs.append(("--emit-resolver", r)) }
        if let r = report { outputs.append(("--report", r)) }
        var inputs: [(what: String, path: String)] = [("input model", input)]
        if let data = quantization.calibration { inputs.append(("calibration data", data)) }
        for r in rules where !BuiltinRules.isBuiltin(r) { inputs.append(("rules file", r)) }
        try OutputCollisions.check(outputs: outputs, inputs: inputs, mayReplaceModel: input)
    }
}

/// A CLI failure whose description is the whole one-line message.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}
