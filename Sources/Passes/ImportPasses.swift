import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

extension PassRegistry {
    /// Passes that clean up graphs lowered from TensorFlow GraphDefs (`ImportPipeline`).
    package static var importPasses: [Entry] {
        [
            entry(ConstantFold.self) { try ConstantFold(options: $0) },
            entry(FoldBiasAdd.self) { try FoldBiasAdd(options: $0) },
            entry(FoldBatchNorm.self) { try FoldBatchNorm(options: $0) },
            entry(FoldThroughReshape.self) { try FoldThroughReshape(options: $0) },
            entry(FuseActivation.self) { try FuseActivation(options: $0) },
            entry(FusePadIntoConvolution.self) { try FusePadIntoConvolution(options: $0) },
            entry(FoldInputScale.self) { try FoldInputScale(options: $0) },
            entry(FoldInputNormalization.self) { try FoldInputNormalization(options: $0) },
            entry(SimplifyReshapes.self) { try SimplifyReshapes(options: $0) },
        ]
    }
}

/// What always runs on a model lowered from a GraphDef or SavedModel, before any `--rules`
/// passes: it turns the one-op-per-TF-node lowering into what TF's converter emits (batch
/// norms and biases folded, activations fused, reshape chains gone), then drops dead ops,
/// values and buffers.
public enum ImportPipeline {
    /// The passes in order, each with why it sits where it does.
    public static let standardPassNames: [(name: String, reason: String)] = [
        ("constant-fold", "first: batch-norm factors (rsqrt(var+ε)·γ, β − μ·m) and reshape targets must be plain constants before anything can match them"),
        ("fold-bias-add", "BiasAdd right after a conv/FC goes into its bias, so the batch-norm MUL that follows sees the conv directly"),
        ("fold-batch-norm", "after fold-bias-add: MUL then ADD per channel into weights and bias"),
        ("fold-through-reshape", "after fold-batch-norm: a Conv1D's bias and batch norm sit after its Squeeze; moved before it, the same folds apply"),
        ("fuse-activation", "after the folds: a RELU only touches the conv once the batch-norm arithmetic between them is gone"),
        ("fuse-pad-into-conv", "a PAD the importer or Keras ZeroPadding2D put before a VALID conv becomes SAME padding; independent of the folds"),
        ("fold-input-scale", "after fuse-pad-into-conv: an input normalization (x/255) goes into the weights of the layers it feeds once no PAD stands between them"),
        ("fold-input-normalization", "after fold-input-scale: a power-of-two Rescaling left before a Conv1D's ExpandDims goes into its weights, bit-exact"),
        ("simplify-reshapes", "last: reshape chains and the flatten before FULLY_CONNECTED; independent of the folds"),
    ]

    /// The standard passes in order, minus `disabled` ones.
    public static func standard(disabling disabled: Set<String> = []) throws -> Pipeline {
        Pipeline(try standardPassNames.filter { !disabled.contains($0.name) }.map { n in
            guard let entry = PassRegistry.importPasses.first(where: { $0.name == n.name }) else {
                throw PassError.failed(pass: n.name, message: "not registered")
            }
            return try entry.make(PassOptions())
        })
    }

    /// Runs the standard passes, then removes what they left unused.
    public static func run(on model: inout Model, context: inout PassContext) throws {
        var pipeline = try standard()
        try pipeline.run(on: &model, context: &context)
        removeDeadCode(&model)
        if context.verifyAfterEachPass, let problem = Verifier.verify(model).first {
            throw PassError.verifierFailed(pass: "import cleanup", message: problem.description)
        }
    }

    /// Erases dead ops, then unused values and buffers (`Model.removeDeadCode`).
    public static func removeDeadCode(_ model: inout Model) { model.removeDeadCode() }
}
