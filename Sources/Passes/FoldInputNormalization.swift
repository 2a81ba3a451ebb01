import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Folds Keras preprocessing at a model's input — Rescaling (x·a + b) and Normalization
/// ((x − μ)·(1/σ), TF writes SUB then MUL) — into the first layer, in float, where the fold
/// is exact: a scale by powers of two (per channel or one for all) goes into the weights, since
/// W·(x·2^k) and (W·2^k)·x are the same float products once no weight loses bits (checked
/// for each), so the layer computes the same bits. It moves such a per-channel scale past the
/// RESHAPE/EXPAND_DIMS of a Conv1D so the fold reaches the CONV_2D.
///
/// Given:
///
///     input %0 "x": f32[1,64]
///     const %1 "rescaling/scale": f32[] = [0.0625]
///     #0 MUL v1 (%0, %1) -> %2 "rescaling/mul": f32[1,64]
///     #1 FULLY_CONNECTED v1 {act=RELU} (%2, %3, %4) -> %5 "dense": f32[1,32]
///
/// Result:
///
///     #1 FULLY_CONNECTED v1 {act=RELU} (%0, %6, %4) -> %5 "dense": f32[1,32]
///
/// with W' = W·0.0625 exactly. Not folded, because the result would change: any other scale
/// (W·(x·a) and (W·a)·x round differently, ~1e-7 relative), and every shift x + c: W·x +
/// (b + W·c) sums other terms than W·(x + c) + b (1.2e-6 of the largest output on the
/// Rescaling/Normalization fixtures, where breast cancer's raw features reach 4000). Those
/// ops stay in float; in an int8 conversion a per-tensor x·a + b at the input goes into the
/// input quantization instead (`fold-normalization-into-input-quantization`).
public struct FoldInputNormalization: ConditionalPatternPass {
    public static let name = "fold-input-normalization"
    public static let summary = "input Rescaling by powers of two (x·2^k) → the first layer's weights, bit-exact; other preprocessing stays"

    public var condition: PassCondition?

    public init(options: PassOptions = PassOptions()) throws {
        condition = try ImportPassOptions.condition(options, pass: Self.name)
    }

    public var patterns: [Pattern] { [Self.exactScalePattern, Self.sinkPattern] }

    /// fold-input-scale's fold, restricted to exact ones.
    public static let exactScalePattern = FoldInputScale.makePattern(name: name, exactOnly: true)

    /// A per-channel MUL/DIV by powers of two whose only reader is a channel-keeping RESHAPE,
    /// EXPAND_DIMS or SQUEEZE that feeds only layers the fold takes (Conv1D's ExpandDims): the
    /// two swap, so the element-wise op meets the layer. Exact: no element changes channel.
    public static let sinkPattern = makeSinkPattern(name: name, kinds: [.mul, .div]) { r, id, channels, readers in
        channels.allSatisfy(FoldInputScale.isPowerOfTwo) && readers.allSatisfy { takesFold(r, $0.op) }
    }

    /// The sink pattern for element-wise ops of `kinds` whose per-channel constant and whose
    /// reshape's readers (each reading it as operand 0) `accepts`.
    package static func makeSinkPattern(name: String, kinds: Set<BuiltinOperator>, accepts: @escaping @Sendable (Rewriter, OpID, [Float], [(op: OpID, operand: Int)]) -> Bool) -> Pattern {
        Pattern(name: name, rootKinds: kinds) { r, id in
        guard let e = elementwiseConstant(r, id, kinds: kinds) else { return false }
        let out = r[id].outputs[0]
        guard r.hasSingleUse(out), let use = r.uses(of: out).first, use.operand == 0,
            FoldThroughReshape.reshapeOps.contains(r[use.op].builtinOperator), r[use.op].outputs.count == 1
        else { return false }
        let reshape = use.op, y = r[reshape].outputs[0]
        guard !r[y].isDynamic, !r.graph.isGraphOutput(y), r[y].shape.last == r[out].shape.last, r[y].type == r[out].type else { return false }
        let readers = r.uses(of: y)
        guard !readers.isEmpty, readers.allSatisfy({ $0.operand == 0 }), accepts(r, id, e.channels, readers) else { return false }
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

    /// Whether `op` has float weights a scale may fold into.
    static func takesFold(_ r: Rewriter, _ op: OpID) -> Bool {
        let kind = r[op].kind
        guard let weights = OperatorTable.weights(of: kind), weights.rescalable(kind), let w = r[op].input(1),
            let t = r.constant(w), t.type.dtype == .float32, !t.type.isQuantized
        else { return false }
        return true
    }
}
