import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Folds Keras preprocessing at a model's input — Rescaling (x·a + b) and Normalization
/// ((x − μ)·(1/σ), TF writes SUB then MUL) — into the first layer. TF's converter keeps them as
/// MUL, SUB, MUL in front of the first FULLY_CONNECTED or Conv1D; each is one more op and one
/// more activation tensor in RAM, and in int8 one more requantization. `fold-input-scale`'s
/// pattern (included here) takes the MUL/DIV into the weights; this pass adds a constant
/// shift into the bias, and moves per-channel preprocessing past the RESHAPE/EXPAND_DIMS of a
/// Conv1D so both folds reach the CONV_2D.
///
/// Given:
///
///     input %0 "x": f32[1,64]
///     const %1 "rescaling/scale": f32[] = [0.0625]
///     const %2 "normalization/mean": f32[64]
///     const %3 "normalization/inv_std": f32[64]
///     #0 MUL v1 (%0, %1) -> %4 "rescaling/mul": f32[1,64]
///     #1 SUB v1 (%4, %2) -> %5 "normalization/Sub": f32[1,64]
///     #2 MUL v1 (%5, %3) -> %6 "normalization/truediv": f32[1,64]
///     #3 FULLY_CONNECTED v1 {act=RELU} (%6, %7, %8) -> %9 "dense": f32[1,32]
///
/// Result:
///
///     #3 FULLY_CONNECTED v1 {act=RELU} (%0, %10, %11) -> %9 "dense": f32[1,32]
///
/// with W' = W·(1/σ)·a per input unit and b' = b − W·(1/σ)·μ. A shift x + c feeding a layer
/// adds W·c to its bias: exact for FULLY_CONNECTED (no padding) and for CONV_2D and
/// DEPTHWISE_CONV_2D with VALID padding, where every output reads only real inputs; SAME
/// padding reads zeros that a shift would not have touched, so those convolutions are left
/// alone. The constant may vary along the input's last axis only (its channels); for
/// FULLY_CONNECTED the unit j of a flattened row is channel j mod C. The corrections are summed
/// in double precision and rounded once. Applies when the ADD/SUB has no fused activation,
/// reads a non-constant float input, its output is no graph output and every reader takes it
/// as the data input and has float weights; each reader gets a bias of its own.
///
/// Float results can differ from the unfolded graph by rounding: W·x + (b − W·μ) sums other
/// terms than W·(x − μ) + b; Tests/Conformance/test_conv1d.py measures it on the fixtures.
public struct FoldInputNormalization: ConditionalPatternPass {
    public static let name = "fold-input-normalization"
    public static let summary = "input Rescaling/Normalization (x·a + b, (x − μ)/σ) → the first layer's weights and bias"

    public var condition: PassCondition?

    public init(options: PassOptions = PassOptions()) throws {
        condition = try ImportPassOptions.condition(options, pass: Self.name)
    }

    public var patterns: [Pattern] { [Self.shiftPattern, FoldInputScale.pattern, Self.sinkPattern] }

    /// x + c or x − c feeding only layers whose bias can take W·c.
    public static let shiftPattern = Pattern(name: name, rootKinds: [.add, .sub]) { r, id in
        guard let shift = elementwiseConstant(r, id, kinds: [.add, .sub]) else { return false }
        let out = r[id].outputs[0]
        let readers = r.uses(of: out)
        guard !readers.isEmpty, !r.graph.isGraphOutput(out) else { return false }
        let sign: Double = r[id].builtinOperator == .sub ? -1 : 1
        var biases: [(op: OpID, bias: ConstantTensor)] = []
        for use in readers {
            guard use.operand == 0, let bias = shiftedBias(r, use.op, by: shift.channels, sign: sign) else { return false }
            biases.append((use.op, bias))
        }
        for (reader, bias) in biases {
            ImportPassSupport.setOperand(&r, reader, 2, bias, name: ImportPassSupport.biasName(r, reader))
            r[reader].inputs[0] = shift.data
            r[reader].provenance += r[id].provenance.filter { !r[reader].provenance.contains($0) }
        }
        r.erase(id)
        return true
    }

    /// A per-channel ADD/SUB/MUL/DIV whose only reader is a channel-keeping RESHAPE,
    /// EXPAND_DIMS or SQUEEZE that feeds only layers the folds take (Conv1D's ExpandDims): the
    /// two swap, so the element-wise op meets the layer. Exact: no element changes channel.
    public static let sinkPattern = Pattern(name: name, rootKinds: [.add, .sub, .mul, .div]) { r, id in
        guard let e = elementwiseConstant(r, id, kinds: [.add, .sub, .mul, .div]) else { return false }
        let out = r[id].outputs[0]
        guard r.hasSingleUse(out), let use = r.uses(of: out).first, use.operand == 0,
            FoldThroughReshape.reshapeOps.contains(r[use.op].builtinOperator), r[use.op].outputs.count == 1
        else { return false }
        let reshape = use.op, y = r[reshape].outputs[0]
        guard !r[y].isDynamic, !r.graph.isGraphOutput(y), r[y].shape.last == r[out].shape.last, r[y].type == r[out].type else { return false }
        let shift = [.add, .sub].contains(r[id].builtinOperator)
        let readers = r.uses(of: y)
        guard !readers.isEmpty, readers.allSatisfy({ $0.operand == 0 && takesFold(r, $0.op, shift: shift) }) else { return false }
        // The reshape runs first now, in the element-wise op's slot; the element-wise op reads
        // its output and writes what the reshape wrote.
        // Named as the reshape's output, which the folded layer then reads.
        let vid = r.addValue(r[y])
        var shaped = r[reshape]
        shaped.inputs[0] = e.data
        shaped.outputs = [vid]
        var moved = r[id]
        moved.inputs[e.dataOperand] = vid
        moved.inputs[1 - e.dataOperand] = r.addConstant(ConstantTensor(floats: e.channels, shape: [Int32(e.channels.count)]), name: r[r[id].inputs[1 - e.dataOperand]].name)
        moved.outputs = [y]
        r[id] = shaped
        r[reshape] = moved
        return true
    }

    /// An element-wise op of `kinds` without fused activation on a non-constant float input and
    /// a constant that varies along the last axis only (x − c and x / c: the constant second).
    static func elementwiseConstant(_ r: Rewriter, _ id: OpID, kinds: Set<BuiltinOperator>) -> (data: ValueID, dataOperand: Int, channels: [Float])? {
        let op = r[id]
        let code = op.builtinOperator
        guard kinds.contains(code), op.inputs.count == 2, op.outputs.count == 1, !op.inputs.contains(where: \.isAbsent) else { return nil }
        switch op.kind {
        case .builtin(.div, let options): guard OpaqueOptions.divActivation(options) == ActivationFunction.none else { return nil }
        default: guard op.kind.fusedActivation == ActivationFunction.none else { return nil }
        }
        let out = op.outputs[0]
        for k in ([.sub, .div].contains(code) ? [0] : [0, 1]) {
            let x = op.inputs[k]
            guard !r.isConstant(x), let c = r.constant(op.inputs[1 - k]), r[x].dtype == .float32, !r[x].type.isQuantized,
                r[x].shape == r[out].shape, r[x].type == r[out].type,
                let channels = r[x].shape.last.map(Int.init), channels > 0,
                let values = ImportPassSupport.perChannel(c, channels: channels, rank: r[x].rank),
                values.allSatisfy({ $0.isFinite && (code != .div || $0 != 0) })
            else { continue }
            return (x, k, values)
        }
        return nil
    }

    /// Whether `op` has float weights a fold may change, and (for a shift) no padding.
    static func takesFold(_ r: Rewriter, _ op: OpID, shift: Bool) -> Bool {
        let kind = r[op].kind
        guard let weights = OperatorTable.weights(of: kind), weights.rescalable(kind), let w = r[op].input(1),
            let t = r.constant(w), t.type.dtype == .float32, !t.type.isQuantized
        else { return false }
        guard shift else { return true }
        if case .conv2D(let a) = kind { return a.padding == .valid }
        if case .depthwiseConv2D(let a) = kind { return a.padding == .valid }
        return weights.layout == .oi
    }

    /// `op`'s bias plus sign·W·c, where c is one value per input channel; nil when `op` cannot
    /// take it.
    static func shiftedBias(_ r: Rewriter, _ op: OpID, by c: [Float], sign: Double) -> ConstantTensor? {
        guard takesFold(r, op, shift: true), let w = r.constant(r[op].inputs[1]), let layout = OperatorTable.weights(of: r[op].kind)?.layout,
            w.bytes.count == w.elementCount * 4
        else { return nil }
        let dims = w.shape.map(Int.init), n = w.elementCount, channels = c.count
        // Output channel and input channel of weight element e (layouts as in fold-input-scale).
        let outputs: Int, outputOf: (Int) -> Int, inputOf: (Int) -> Int
        switch layout {
        case .ohwi:
            guard dims.count == 4, dims[3] == channels || Set(c).count == 1 else { return nil }
            let block = n / dims[0], i = dims[3]
            outputs = dims[0]; outputOf = { $0 / block }; inputOf = { $0 % i % channels }
        case .oneHWO:
            guard dims.count == 4, dims[3] % channels == 0 else { return nil }
            let o = dims[3], m = o / channels
            outputs = o; outputOf = { $0 % o }; inputOf = { $0 % o / m }
        case .oi:
            guard dims.count == 2, dims[1] % channels == 0 else { return nil }
            let units = dims[1]
            outputs = dims[0]; outputOf = { $0 / units }; inputOf = { $0 % units % channels }
        default:
            return nil
        }
        var old = [Float](repeating: 0, count: outputs)
        if let b = r[op].input(2) {
            guard let t = r.constant(b), t.type.dtype == .float32, !t.type.isQuantized, t.elementCount == outputs else { return nil }
            old = t.floats
        }
        var sum = old.map(Double.init)
        let weights = w.floats
        for e in 0..<n { sum[outputOf(e)] += sign * Double(weights[e]) * Double(c[inputOf(e)]) }
        let bias = sum.map(Float.init)
        guard bias.allSatisfy(\.isFinite) else { return nil }
        return ConstantTensor(floats: bias, shape: [Int32(outputs)])
    }
}
