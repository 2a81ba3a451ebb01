import IR
import Ops

extension Int8Quantizer.Rewrite {
    /// With float I/O, the element-wise preprocessing at a float graph input — a chain of
    /// ADD/SUB/MUL by a constant, no fused activation, each reading the input or the previous
    /// link — stays float32 when one of its constants differs between elements (a per-feature
    /// Normalization (x − μ_c)·(1/σ_c)): no per-tensor input quantization can absorb it, and in
    /// int8 the raw features (breast cancer's reach 4000) would share one scale for all features.
    /// The input QUANTIZE then comes after the chain, where the features are normalized. TFLM
    /// registers float32 ADD/SUB/MUL (micro/kernels/add.cc, sub.cc, mul.cc).
    /// Returns the indices of the ops to keep float.
    package func floatInputPreprocessing() -> Set<Int> {
        guard options.floatIO else { return [] }
        let g = graph
        var readers: [Int32: [Int]] = [:]
        for (i, op) in g.ops.enumerated() where !op.isErased {
            for v in op.inputs where !v.isAbsent { readers[v.raw, default: []].append(i) }
        }
        var kept = Set<Int>()
        for input in g.inputs where isFloatRuntime(input) {
            var chain: [Int] = [], perFeature = false, data = input
            while !g.isGraphOutput(data), let uses = readers[data.raw], uses.count == 1,
                let linkIsPerFeature = perFeatureConstantOp(g.ops[uses[0]], reading: data)
            {
                chain.append(uses[0])
                perFeature = perFeature || linkIsPerFeature
                data = g.ops[uses[0]].outputs[0]
            }
            if perFeature { kept.formUnion(chain) }
        }
        return kept
    }

    /// For x + c, x − c, c + x, x · c or c · x on `data` with a float constant c: whether c has
    /// more than one distinct value (per feature); nil for any other op.
    private func perFeatureConstantOp(_ op: Op, reading data: ValueID) -> Bool? {
        let code = op.builtinOperator
        guard [.add, .sub, .mul].contains(code), op.inputs.count == 2, op.outputs.count == 1,
            op.kind.fusedActivation == ActivationFunction.none, isFloatRuntime(op.outputs[0])
        else { return nil }
        let dataOperand = code == .sub ? [0] : [0, 1]
        guard let k = dataOperand.first(where: { op.inputs[$0] == data }), isFloatConstant(op.inputs[1 - k]),
            graph[op.outputs[0]].shape == graph[data].shape, let c = model.constant(op.inputs[1 - k])
        else { return nil }
        let values = c.floats
        return values.contains { $0 != values.first }
    }
}
