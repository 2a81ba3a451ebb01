extension PassRegistry {
    /// Passes that clean up graphs lowered from TensorFlow GraphDefs (`ImportPipeline`).
    static var importPasses: [Entry] {
        [
            entry(ConstantFold.self) { try ConstantFold(options: $0) },
            entry(FoldBiasAdd.self) { try FoldBiasAdd(options: $0) },
            entry(FoldBatchNorm.self) { try FoldBatchNorm(options: $0) },
            entry(FuseActivation.self) { try FuseActivation(options: $0) },
            entry(FusePadIntoConvolution.self) { try FusePadIntoConvolution(options: $0) },
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
            var changed = true
            while changed {
                changed = false
                let counts = g.useCounts()
                for i in g.ops.indices where !g.ops[i].isErased && g.ops[i].intermediates.isEmpty {
                    let outs = g.ops[i].outputs
                    if !outs.isEmpty && outs.allSatisfy({ $0.isAbsent || ($0.index < counts.count && counts[$0.index] == 0) }) {
                        g.ops[i].isErased = true
                        changed = true
                    }
                }
                if changed { g.ops.removeAll { $0.isErased } }
            }
            model.subgraphs[s] = g
            pruneValues(&model, subgraph: s)
        }
        pruneBuffers(&model)
    }

    static func pruneValues(_ model: inout Model, subgraph s: Int) {
        var g = model.subgraphs[s]
        let n = g.values.count
        var keep = [Bool](repeating: false, count: n)
        func mark(_ v: ValueID) { if !v.isAbsent && v.index < n { keep[v.index] = true } }
        for op in g.ops where !op.isErased {
            op.inputs.forEach(mark)
            op.outputs.forEach(mark)
            op.intermediates.forEach(mark)
        }
        g.inputs.forEach(mark)
        g.outputs.forEach(mark)
        for sig in model.signatureDefs where sig.subgraph == s { (sig.inputs + sig.outputs).forEach { mark($0.tensor) } }
        for (i, v) in g.values.enumerated() where v.isVariable { keep[i] = true }
        guard keep.contains(false) else { return }
        var map = [Int32](repeating: -1, count: n)
        var values: [Value] = []
        for i in 0..<n where keep[i] {
            map[i] = Int32(values.count)
            values.append(g.values[i])
        }
        func remap(_ v: ValueID) -> ValueID { v.isAbsent || v.index >= n ? v : ValueID(map[v.index]) }
        for k in g.ops.indices {
            g.ops[k].inputs = g.ops[k].inputs.map(remap)
            g.ops[k].outputs = g.ops[k].outputs.map(remap)
            g.ops[k].intermediates = g.ops[k].intermediates.map(remap)
        }
        g.inputs = g.inputs.map(remap)
        g.outputs = g.outputs.map(remap)
        g.values = values
        model.subgraphs[s] = g
        for k in model.signatureDefs.indices where model.signatureDefs[k].subgraph == s {
            for j in model.signatureDefs[k].inputs.indices { model.signatureDefs[k].inputs[j].tensor = remap(model.signatureDefs[k].inputs[j].tensor) }
            for j in model.signatureDefs[k].outputs.indices { model.signatureDefs[k].outputs[j].tensor = remap(model.signatureDefs[k].outputs[j].tensor) }
        }
    }

    static func pruneBuffers(_ model: inout Model) {
        let n = model.buffers.count
        guard n > 1 else { return }
        var used = [Bool](repeating: false, count: n)
        used[0] = true
        for g in model.subgraphs { for v in g.values where v.buffer.index < n { used[v.buffer.index] = true } }
        for m in model.metadata where m.buffer.index < n { used[m.buffer.index] = true }
        for b in model.metadataBuffer ?? [] where b >= 0 && Int(b) < n { used[Int(b)] = true }
        guard used.contains(false) else { return }
        var map = [UInt32](repeating: 0, count: n)
        var buffers: [Buffer] = []
        for i in 0..<n where used[i] {
            map[i] = UInt32(buffers.count)
            buffers.append(model.buffers[i])
        }
        model.buffers = buffers
        for s in model.subgraphs.indices {
            for i in model.subgraphs[s].values.indices {
                let b = model.subgraphs[s].values[i].buffer.index
                if b < n { model.subgraphs[s].values[i].buffer = BufferID(map[b]) }
            }
        }
        for k in model.metadata.indices where model.metadata[k].buffer.index < n {
            model.metadata[k].buffer = BufferID(map[model.metadata[k].buffer.index])
        }
        if let mb = model.metadataBuffer {
            model.metadataBuffer = mb.map { $0 >= 0 && Int($0) < n ? Int32(map[Int($0)]) : $0 }
        }
    }
}
