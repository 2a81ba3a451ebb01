import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Folds the bias and batch norm of a Keras Conv1D into its convolution. TF lowers Conv1D to
/// ExpandDims → Conv2D → Squeeze, then adds the bias (BiasAdd) and the batch norm (Mul, AddV2)
/// *after* the Squeeze, so `fold-bias-add` and `fold-batch-norm` never see them next to the
/// CONV_2D. This pass moves a per-channel ADD/SUB/MUL, or a standalone activation, that reads
/// a channel-keeping RESHAPE/SQUEEZE/EXPAND_DIMS of a foldable op's output in front of that
/// reshape, and folds it there (with `fold-bias-add`'s and `fold-batch-norm`'s patterns);
/// `fuse-activation` then fuses a RELU moved the same way.
///
/// Given:
///
///     #0 RESHAPE v1 (%0, %1) -> %2 "ExpandDims": f32[1,1,8,8]
///     #1 CONV_2D v1 {padding=SAME, stride=1x1, dilation=1x1} (%2, %3, %4) -> %5 "conv": f32[1,1,8,16]
///     #2 RESHAPE v1 (%5, %6) -> %7 "Squeeze": f32[1,8,16]
///     #3 ADD v1 (%7, %8) -> %9 "BiasAdd": f32[1,8,16]
///     #4 MUL v1 (%9, %10) -> %11 "bn/mul_1": f32[1,8,16]
///     #5 ADD v1 (%11, %12) -> %13 "bn/add_1": f32[1,8,16]
///
/// Result:
///
///     #0 RESHAPE v1 (%0, %1) -> %2 "ExpandDims": f32[1,1,8,8]
///     #1 CONV_2D v1 {padding=SAME, stride=1x1, dilation=1x1} (%2, %14, %15) -> %16 "conv": f32[1,1,8,16]
///     #5 RESHAPE v1 (%16, %6) -> %13 "bn/add_1": f32[1,8,16]
///
/// (weights × the batch-norm factor, bias (b + bias)·m + s). Exact reasoning: a reshape that
/// keeps the last dimension moves no element to another channel, so a per-channel op (constant
/// of shape [], [C] or [1,…,1,C]) or an element-wise activation gives the same values before
/// it as after it. Applies only when the reshape's input is the sole output of a CONV_2D,
/// DEPTHWISE_CONV_2D or FULLY_CONNECTED with float weights and no fused activation, read by
/// nothing else, and the moved op has no fused activation; otherwise nothing moves, so the
/// pass never reorders ops it cannot fold.
public struct FoldThroughReshape: ConditionalPatternPass {
    public static let name = "fold-through-reshape"
    public static let summary = "per-channel ADD/SUB/MUL or activation after a Conv1D's SQUEEZE/RESHAPE → moved before it and folded into the conv"

    public var condition: PassCondition?

    public init(options: PassOptions = PassOptions()) throws {
        condition = try ImportPassOptions.condition(options, pass: Self.name)
    }

    public var patterns: [Pattern] { [Self.hoistPattern, FoldBiasAdd.pattern, FoldBatchNorm.scalePattern] }

    /// The ops that keep every element where it is and only change the shape.
    static let reshapeOps: Set<BuiltinOperator> = [.reshape, .squeeze, .expandDims]

    public static let hoistPattern = Pattern(name: name, rootKinds: Set<BuiltinOperator>([.add, .sub, .mul]).union(FuseActivation.activationOps)) { r, id in
        let op = r[id]
        guard op.outputs.count == 1, let out = op.outputs.first, !op.inputs.contains(where: \.isAbsent) else { return false }
        let dataOperand: Int
        var constant: (operand: Int, channels: [Float])?
        if OperatorTable[op.builtinOperator]?.standaloneActivation != nil {
            guard op.inputs.count == 1 else { return false }
            dataOperand = 0
        } else {
            guard op.kind.fusedActivation == ActivationFunction.none, op.inputs.count == 2 else { return false }
            // x + c, c + x, x · c, c · x, x − c (c − x negates: not a bias).
            guard let k = (op.builtinOperator == .sub ? [0] : [0, 1]).first(where: { !r.isConstant(op.inputs[$0]) && r.isConstant(op.inputs[1 - $0]) }) else { return false }
            dataOperand = k
            constant = (1 - k, [])
        }
        let y = op.inputs[dataOperand]
        guard r.hasSingleUse(y), let reshape = r.producer(of: y), reshapeOps.contains(r[reshape].builtinOperator),
            r[reshape].outputs == [y], let x = r[reshape].input(0), !r[x].isDynamic, !r[y].isDynamic,
            r[out].shape == r[y].shape, r[out].type == r[y].type,
            let producer = ImportPassSupport.linearProducer(of: x, r),
            r[y].shape.last.map(Int.init) == producer.channels
        else { return false }
        if let c = constant {
            guard let t = r.constant(op.inputs[c.operand]),
                let values = ImportPassSupport.perChannel(t, channels: producer.channels, rank: r[y].rank)
            else { return false }
            constant = (c.operand, values)
        }
        // Swap the two ops in place (the reshape runs first, so the moved op takes its slot):
        // the moved op reads x and writes a new value shaped like x; the reshape reads that and
        // writes what the moved op wrote.
        var moved = op
        // The new value keeps the producer's output name, which the folded producer then writes.
        let vid = r.addValue(r[x])
        moved.inputs[dataOperand] = x
        if let c = constant {
            moved.inputs[c.operand] = r.addConstant(ConstantTensor(floats: c.channels, shape: [Int32(c.channels.count)]), name: r[op.inputs[c.operand]].name)
        }
        moved.outputs = [vid]
        var shaped = r[reshape]
        shaped.inputs[0] = vid
        shaped.outputs = [out]
        r[reshape] = moved
        r[id] = shaped
        return true
    }
}
