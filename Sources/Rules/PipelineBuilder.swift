import Export
import FlatBuffers
import IR
import Kernels
import Ops
import PassCatalog
import Passes
import Quantize
import Rewrite
import Support

/// What a conversion asks for, whoever asks: the CLI's flags, rules files, a Swift program.
public struct PipelineRequest {
    /// The rules files' target, passes and custom rules.
    public var ruleSet: RuleSet?
    /// A library user's own passes.
    public var extraPasses: [any GraphPass]
    /// Int8 quantization (`--quantize int8`), when asked for.
    public var quantization: QuantizeInt8Pass?
    /// The op reordering for a smaller TFLM arena (`--optimize memory`), when asked for.
    public var memoryOptimization: OptimizeMemory?
    /// Passes and rules to skip (`--disable-pass`).
    public var disabled: Set<String>

    public init(ruleSet: RuleSet? = nil, extraPasses: [any GraphPass] = [], quantization: QuantizeInt8Pass? = nil, memoryOptimization: OptimizeMemory? = nil, disabled: Set<String> = []) {
        self.ruleSet = ruleSet
        self.extraPasses = extraPasses
        self.quantization = quantization
        self.memoryOptimization = memoryOptimization
        self.disabled = disabled
    }
}

/// The one place a conversion's passes are put in order. Each step says why it sits where it
/// does; `--list-passes`, `--disable-pass`, `--print-ir-after` and `--stats` see them all.
public enum PipelineBuilder {
    /// After a GraphDef or SavedModel import: `ImportPipeline`'s passes, minus disabled ones.
    public static func imports(disabling disabled: Set<String> = []) throws -> Pipeline {
        try ImportPipeline.standard(disabling: disabled)
    }

    /// The rewrites, the target check and quantization, in order:
    /// 1. the rules files' custom rules, then their passes;
    /// 2. the library user's passes, before a final `legalize-op-versions` (which must see
    ///    every rewrite);
    /// 3. `check-target` when a rules file named a target: the firmware must load and run the
    ///    result (registered ops and versions, and what the kernels take: types, hybrid, float16);
    /// 4. with an int8 input and rules that fold input preprocessing,
    ///    `fold-input-normalization-for-int8`; then `dequantize-hybrid-weights`,
    ///    `split-concat-fully-connected`, `split-fully-connected-gates` (not under
    ///    `--optimize memory`), then `quantize-int8` last: it needs the final weights and ops, and sets versions; before it
    ///    `check-target` looks at ops and versions only (quantizing changes the types), and a
    ///    second one after it checks the kernels too; when the rules fold input preprocessing,
    ///    `fold-normalization-into-input-quantization` right after the quantizer;
    /// 5. `optimize-memory` after all of them: the arena depends on the final ops and types
    ///    (int8 tensors are a quarter of the float ones), and reordering changes neither.
    public static func conversion(_ request: PipelineRequest) throws -> Pipeline {
        if request.disabled.contains(CheckTarget.name) {
            throw PassError.failed(pass: CheckTarget.name, message: "cannot be disabled: a conversion for a target must be loadable by it")
        }
        var passes = try request.ruleSet?.pipeline(disabling: request.disabled).passes ?? []
        let extra = request.extraPasses.filter { !request.disabled.contains($0.name) }
        if let last = passes.last, last.name == LegalizeOpVersions.name {
            passes.insert(contentsOf: extra, at: passes.count - 1)
        } else {
            passes += extra
        }
        let target = request.ruleSet?.target
        if let q = request.quantization, !request.disabled.contains(QuantizeInt8Pass.name) {
            let foldsPreprocessing = passes.contains { $0.name == FoldInputNormalization.name }
            // With an int8 input a per-feature Normalization cannot stay float: its fold into
            // the first layer, inexact in float, is far more accurate than int8 SUB/MUL.
            if foldsPreprocessing, !q.floatIO, !request.disabled.contains(FoldInputNormalizationForInt8.name) {
                passes.append(try FoldInputNormalizationForInt8())
            }
            // The quantizer quantizes float ops: a hybrid op's int8 weights go back to float
            // first, so it becomes full int8 (without calibration it stays, and the check names it).
            if !request.disabled.contains(DequantizeHybridWeights.name) { passes.append(DequantizeHybridWeights()) }
            // A feature concat before FULLY_CONNECTED (a TF1 LSTM cell) would force one int8 scale
            // on all its parts.
            if !request.disabled.contains(SplitConcatFullyConnected.name) { passes.append(SplitConcatFullyConnected()) }
            // An LSTM cell's SPLIT into gates would force one int8 scale on all four gates. The
            // split doubles an unrolled LSTM's ops and TFLM arena, so --optimize memory, which
            // asks for the smallest arena, keeps the shared scale.
            if request.memoryOptimization == nil, !request.disabled.contains(SplitFullyConnectedGates.name) {
                passes.append(SplitFullyConnectedGates())
            }
            if let target { passes.append(CheckTarget(target: target, kernels: false)) }
            passes.append(q)
            // The preprocessing fold-input-normalization left in float (not exact there) goes
            // into the input quantization once there is one.
            if foldsPreprocessing, !request.disabled.contains(FoldNormalizationIntoInputQuantization.name) {
                passes.append(try FoldNormalizationIntoInputQuantization())
            }
        }
        if let m = request.memoryOptimization, !request.disabled.contains(OptimizeMemory.name) { passes.append(m) }
        if let target { passes.append(CheckTarget(target: target, kernels: true)) }
        return Pipeline(passes)
    }
}
