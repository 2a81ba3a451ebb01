extension PassRegistry {
    /// Passes that clean up graphs lowered from TensorFlow GraphDefs (`ImportPipeline`).
    static var importPasses: [Entry] {
        [
            entry(ConstantFold.self) { try ConstantFold(options: $0) },
            entry(FoldBiasAdd.self) { try FoldBiasAdd(options: $0) },
            entry(FoldBatchNorm.self) { try FoldBatchNorm(options: $0) },
            entry(FuseActivation.self) { try FuseActivation(options: $0) },
            entry(FusePadIntoConvolution.self) { try FusePadIntoConvolution(options: $0) },
            entry(FoldInputScale.self) { try FoldInputScale(options: $0) },
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
        ("fuse-activation", "after the folds: a RELU only touches the conv once the batch-norm arithmetic between them is gone"),
        ("fuse-pad-into-conv", "a PAD the importer or Keras ZeroPadding2D put before a VALID conv becomes SAME padding; independent of the folds"),
        ("fold-input-scale", "after fuse-pad-into-conv: an input normalization (x/255) goes into the weights of the layers it feeds once no PAD stands between them"),
        ("simplify-reshapes", "last: reshape chains and the flatten before FULLY_CONNECTED; independent of the folds"),
    ]

    public static func standard() throws -> Pipeline {
        Pipeline(try standardPassNames.map { n in
            guard let entry = PassRegistry.entry(n.name) else {
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

    /// Erases ops none of whose outputs are read (every op the importer emits is free of side
    /// effects), then drops values nothing refers to and buffers no value or metadata uses,
    /// renumbering everything that points at them.
    public static func removeDeadCode(_ model: inout Model) {
        for s in model.subgraphs.indices {
            var g = model.subgraphs[s]
            var counts = g.useCounts()
            func isDead(_ i: Int) -> Bool {
                let op = g.ops[i]
                return !op.isErased && op.intermediates.isEmpty && !op.outputs.isEmpty
                    && op.outputs.allSatisfy({ $0.isAbsent || ($0.index < counts.count && counts[$0.index] == 0) })
            }
            // A worklist: erasing an op can only make the ops writing its inputs dead, so only
            // those are looked at again (one pass per dead op, not one sweep per chain link).
            let writers = g.writersByValue()
            var worklist = g.ops.indices.filter(isDead)
            var erasedAny = false
            while let i = worklist.popLast() {
                guard isDead(i) else { continue }
                g.ops[i].isErased = true
                erasedAny = true
                for v in g.ops[i].inputs where !v.isAbsent && v.index < counts.count {
                    counts[v.index] -= 1
                    if counts[v.index] == 0 { worklist += writers[v.index].filter(isDead) }
                }
            }
            if erasedAny { g.ops.removeAll { $0.isErased } }
            model.subgraphs[s] = g
            model.compactValues(inSubgraph: s)
        }
        model.removeUnusedBuffers()
    }
}
