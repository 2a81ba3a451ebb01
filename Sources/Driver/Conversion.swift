import Foundation
import Export
import FlatBuffers
import IR
import Import
import Interpret
import Kernels
import Ops
import PassCatalog
import Passes
import Quantize
import Rewrite
import Rules
import Support

/// Which passes run and what to show while they run: the CLI's `--disable-pass`,
/// `--print-ir-after` and `--stats`, and what a Swift program adds with `extraPasses`.
public struct PipelineControl {
    /// Pass names (registered passes, `custom-rules`, import passes) and rule names to skip.
    public var disabled: Set<String> = []
    /// Pass names after which to show the IR; "all" for every pass.
    public var printIRAfter: Set<String> = []
    /// Receives (pass name, IR text) for `printIRAfter`.
    public var showIR: ((String, String) -> Void)?

    public init(disabled: Set<String> = [], printIRAfter: Set<String> = [], showIR: ((String, String) -> Void)? = nil) {
        self.disabled = disabled
        self.printIRAfter = printIRAfter
        self.showIR = showIR
    }

    package func wantsIR(after pass: String) -> Bool { printIRAfter.contains("all") || printIRAfter.contains(pass) }
}

/// The library's small entry point: load a model, run the import pipeline (GraphDef and
/// SavedModel), the passes and rules of rules files and your own passes, write the result.
///
///     struct MyPass: GraphPass { … }
///     try Conversion.convert(input: "model.tflite", output: "out.tflite",
///                            rules: ["micro"], extraPasses: [MyPass()])
public enum Conversion {
    /// One line of `--list-passes`.
    public struct PassInfo: Sendable {
        public enum Kind: String, Sendable { case pass, importPass = "import", rule }
        public var name: String
        public var summary: String
        public var kind: Kind
    }

    /// Loads rules (built-in names or paths), a model, runs everything, writes `output`
    /// (.tflite). Returns the context with the notes and statistics of the passes.
    @discardableResult
    public static func convert(input: String, output: String, rules: [String] = [], extraPasses: [any GraphPass] = [], control: PipelineControl = PipelineControl(), batch: Int? = nil) throws -> PassContext {
        let ruleSet = rules.isEmpty ? nil : try RuleSet.load(rules)
        var context = PassContext(target: ruleSet?.target, batch: batch)
        var model = try load(path: input, control: control, context: &context)
        try run(ruleSet, extraPasses: extraPasses, on: &model, control: control, context: &context)
        try TFLiteExporter.write(model, to: output)
        return context
    }

    /// Reads a model; a GraphDef or SavedModel goes through `ImportPipeline`'s passes, minus
    /// the disabled ones, showing the IR after each when asked.
    public static func load(path: String, options: ModelLoadOptions = ModelLoadOptions(), control: PipelineControl = PipelineControl(), context: inout PassContext) throws -> Model {
        let format = try ModelLoader.detectFormat(path: path)
        guard format != .tflite, options.runImportPipeline else {
            let model = try ModelLoader.load(path: path, options: options)
            try requireValid(model, path: path)
            return model
        }
        var raw = options
        raw.runImportPipeline = false
        var model = try ModelLoader.load(path: path, options: raw)
        let saved = context.afterPass
        hook(&context, control)
        defer { context.afterPass = saved }
        var imports = try PipelineBuilder.imports(disabling: control.disabled)
        try imports.run(on: &model, context: &context)
        ImportPipeline.removeDeadCode(&model)
        if context.verifyAfterEachPass, let problem = Verifier.verify(model).first {
            throw PassError.verifierFailed(pass: "import cleanup", message: problem.description)
        }
        return model
    }

    /// A .tflite that breaks the quantization spec in a way the loader cannot see alone (it
    /// needs the op: an int32 bias with a nonzero zero point, int8 weights with one) is refused
    /// here: the passes and the quantizer assume the spec, so converting it would write a model
    /// that computes something else. Some runtimes ignore such fields (TFLM reads no bias zero
    /// point) and others refuse them (LiteRT's XNNPACK delegate), so "it ran somewhere" is no
    /// excuse.
    static func requireValid(_ model: Model, path: String) throws {
        let problems = Verifier.verify(model)
        guard let first = problems.first else { return }
        let more = problems.count > 1 ? " (and \(problems.count - 1) more problem(s); see tfrewrite inspect --verify)" : ""
        throw TFLiteImportError.invalid("\(first.message)\(more)", at: "\(path): \(first.location)")
    }

    /// Runs the conversion pipeline `PipelineBuilder` makes: the rule set's custom rules and
    /// passes, `extraPasses` (before a final `legalize-op-versions`), the target check, then
    /// int8 quantization when asked for, then the memory optimization, skipping disabled passes
    /// and rules.
    public static func run(_ ruleSet: RuleSet?, extraPasses: [any GraphPass] = [], quantization: QuantizeInt8Pass? = nil, memoryOptimization: OptimizeMemory? = nil, on model: inout Model, control: PipelineControl = PipelineControl(), context: inout PassContext) throws {
        var pipeline = try PipelineBuilder.conversion(PipelineRequest(ruleSet: ruleSet, extraPasses: extraPasses, quantization: quantization, memoryOptimization: memoryOptimization, disabled: control.disabled))
        let saved = context.afterPass
        hook(&context, control)
        defer { context.afterPass = saved }
        try pipeline.run(on: &model, context: &context)
        // Nothing is written that the verifier rejects. The input verified (`load`), but fixing a
        // dynamic batch can expose declared shapes its own ops contradict (a fuzzer's find:
        // Tests/FuzzCrashes/pipeline); that is the input's fault, and an error, not an output.
        if let problem = Verifier.verify(model).first {
            throw PassError.invalidResult("\(problem) (the input's declared shapes contradict its ops once they are static)")
        }
    }

    /// A rule set's pipeline without the disabled passes and rules.
    public static func pipeline(_ ruleSet: RuleSet, disabling disabled: Set<String>) throws -> Pipeline {
        try ruleSet.pipeline(disabling: disabled)
    }

    /// What `--list-passes` shows: every registered pass (import passes marked), the
    /// custom-rules pass, then each rule of the rule set.
    public static func passList(_ ruleSet: RuleSet?) throws -> [PassInfo] {
        let importNames = Set(ImportPipeline.standardPassNames.map(\.name))
        var out = PassRegistry.all.map { PassInfo(name: $0.name, summary: $0.summary, kind: importNames.contains($0.name) ? .importPass : .pass) }
        out.append(PassInfo(name: CustomRulesPass.name, summary: CustomRulesPass.summary, kind: .pass))
        if let ruleSet {
            for s in try DeclarativeRuleCompiler.summaries(ruleSet.rules) {
                out.append(PassInfo(name: s.name, summary: (s.about ?? "matches \(s.shape)") + " (\(s.location))", kind: .rule))
            }
        }
        return out
    }

    /// Names `--disable-pass` and `--print-ir-after` accept.
    public static func knownNames(_ ruleSet: RuleSet?) throws -> Set<String> {
        Set(try passList(ruleSet).map(\.name))
    }

    /// Statistics as lines "name: count", sorted by name.
    public static func statisticsLines(_ context: PassContext) -> [String] {
        context.statistics.keys.sorted().map { "\($0): \(context.statistics[$0]!)" }
            + (context.verifierRuns > 0 ? ["IR verifier ran \(context.verifierRuns) time(s)"] : [])
    }

    private static func hook(_ context: inout PassContext, _ control: PipelineControl) {
        guard !control.printIRAfter.isEmpty, let show = control.showIR else { return }
        let previous = context.afterPass
        context.afterPass = { name, model in
            previous?(name, model)
            if control.wantsIR(after: name) { show(name, IRPrinter.print(model)) }
        }
    }
}

extension PassRegistry {
    /// Registers a pass type by its `name` and `summary` (Swift API): rules files and the
    /// CLI's pass lists can then name it.
    public static func register<P: GraphPass>(_ type: P.Type, make: @escaping @Sendable (PassOptions) throws -> P) {
        register(entry(type, make))
    }
}
