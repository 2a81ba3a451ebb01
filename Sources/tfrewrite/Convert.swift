import ArgumentParser
import Foundation
import TFRewrite

struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert or repair a model and write a .tflite (or a C array with -o model.cc).",
        discussion: """
            --rules R (a built-in name such as micro, micro_speech, micro_versioned_2020, or a \
            .yaml path; repeat to layer files) runs the rules' passes, then checks that the \
            target registers every op. If it does not, nothing is written and the exit code is 2.

            -o model.cc writes a C array (alignas(16) const unsigned char <name>[]) and model.h \
            with its extern declarations; <name> comes from the file name or --array-name. \
            --emit-resolver F writes a header registering exactly the model's ops with \
            tflite::MicroMutableOpResolver<N>.

            Set TFREWRITE_VERIFY=1 to run the IR verifier after every pass.
            """)

    // A default only so that --list-passes needs no model; validate() requires it otherwise.
    @Argument(help: "Input model: .tflite, frozen GraphDef .pb, or a SavedModel directory.")
    var input: String = ""

    // Short only: --output names a graph output node (ImportFlags).
    @Option(name: .customShort("o"), help: "Output path (.tflite, or .cc for a C array plus header).")
    var output: String = ""

    @OptionGroup(title: "TensorFlow graph inputs")
    var importFlags: ImportFlags

    @Option(name: .long, help: "Rules to apply: a built-in name or a .yaml path (repeatable; later files extend earlier ones).")
    var rules: [String] = []

    @Option(name: .long, help: "Batch size to use for a dynamic (-1) batch dimension.")
    var batch: Int?

    @Option(name: .customLong("emit-resolver"), help: "Also write a C++ header registering the model's ops with MicroMutableOpResolver.")
    var emitResolver: String?

    @Option(name: .customLong("array-name"), help: "Name of the C array for -o *.cc (default: from the output file name).")
    var arrayName: String?

    @OptionGroup(title: "Int8 quantization")
    var quantization: QuantizeFlags

    @OptionGroup(title: "Pipeline control")
    var pipelineFlags: PipelineFlags

    @OptionGroup(title: "Resources")
    var memoryFlags: MemoryFlags

    @OptionGroup(title: "Arena")
    var arena: ArenaLimitFlag

    static let cSourceExtensions = ["cc", "cpp", "cxx"]

    var writesCArray: Bool { Self.cSourceExtensions.contains((output as NSString).pathExtension.lowercased()) }

    func validate() throws {
        if pipelineFlags.listPasses { return }
        if input.isEmpty { throw ValidationError("Missing expected argument '<input>'") }
        if output.isEmpty { throw ValidationError("Missing expected argument '-o <o>'") }
        if let b = batch, b < 1 || b > Int(Int32.max) { throw ValidationError("--batch must be a positive integer, got \(b)") }
        if batch != nil && rules.isEmpty { throw ValidationError("--batch only affects the passes of --rules; give --rules too") }
        if let n = arrayName, n.isEmpty { throw ValidationError("--array-name must not be empty") }
        if arrayName != nil && !writesCArray && emitResolver == nil {
            throw ValidationError("--array-name applies to -o *.cc (C array) and --emit-resolver output")
        }
        if let r = emitResolver, r == output { throw ValidationError("--emit-resolver and -o name the same file") }
    }

    func run() throws {
        // Before any work: a name collision must not cost a whole conversion.
        if !pipelineFlags.listPasses { try checkOutputNames() }
        // Rules first: a typo in a rules file should not wait for the model to load.
        let ruleSet = rules.isEmpty ? nil : try RuleSet.load(rules)
        if pipelineFlags.listPasses { return try pipelineFlags.list(ruleSet) }
        try pipelineFlags.checkNames(ruleSet)
        var context = ruleSet?.context(batch: batch) ?? PassContext()
        // Also without --rules: GraphDef and SavedModel imports run passes too.
        context.verifyAfterEachPass = ProcessInfo.processInfo.environment["TFREWRITE_VERIFY"] == "1"
        defer { pipelineFlags.printStatistics(context) }
        var model = try pipelineFlags.load(path: input, options: try importFlags.loadOptions(), context: &context)
        // One pipeline: the rules' passes, the target check, then int8 quantization.
        let quantizing = quantization.pass()
        if ruleSet != nil || quantizing != nil {
            do {
                try pipelineFlags.run(ruleSet, quantization: quantizing?.pass, on: &model, context: &context)
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
        try arena.check(model, model: input, consequence: "; nothing written")
        let quantizationSummary = quantizing?.report ?? { _ in }
        let name = arrayName ?? CArrayExporter.identifier(fromPath: output)
        let comment = (input as NSString).lastPathComponent
        // The resolver, the C array and its header appear together or not at all.
        let outputs = OutputTransaction()
        if let r = emitResolver {
            try ResolverExporter.write(model, to: r, name: name, comment: comment, in: outputs)
        }
        if writesCArray {
            try CArrayExporter.write(model, to: output, arrayName: name, comment: comment, in: outputs)
        } else {
            try TFLiteExporter.write(model, to: output, in: outputs)
        }
        try outputs.commit()
        quantizationSummary((try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? nil)
    }
}

extension Convert {
    func checkOutputNames() throws {
        var outputs: [(flag: String, path: String)] = [("-o", output)]
        if writesCArray { outputs.append(("the header for -o", CArrayExporter.headerPath(for: output))) }
        if let r = emitResolver { outputs.append(("--emit-resolver", r)) }
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
