import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Folds an ADD (or SUB) of a per-channel constant that follows a CONV_2D,
/// DEPTHWISE_CONV_2D or FULLY_CONNECTED into that op's bias, as TF's converter does with
/// BiasAdd and with the shift of a batch norm (TF's prepare_tf.cc and optimize_patterns.td: "Add/Sub with const into conv
/// bias").
///
/// Given:
///
///     const %1 "w": f32[4,8]
///     const %2 "b": f32[4] = [0.5, -1.0, 0.0, 2.0]
///     #0 FULLY_CONNECTED v1 (%0, %1, %none) -> %3 "MatMul": f32[1,4]
///     #1 ADD v1 (%3, %2) -> %4 "BiasAdd": f32[1,4]
///
/// Result:
///
///     const %5 "w/bias": f32[4] = [0.5, -1.0, 0.0, 2.0]
///     #0 FULLY_CONNECTED v1 (%0, %1, %5) -> %4 "BiasAdd": f32[1,4]
///
/// The new bias is old bias + c (old bias − c for SUB x − c); an op without a bias gets one.
/// Applies only when the ADD has no fused activation, the producer has none either, its output
/// has no other reader, and the constant varies at most along the channel axis (shape [],
/// [C] or [1,…,1,C]), so the sum is the same for every position. Weights and biases stay
/// float; quantized ops are left alone.
public struct FoldBiasAdd: ConditionalPatternPass {
    public static let name = "fold-bias-add"
    public static let summary = "ADD/SUB of a per-channel constant after CONV_2D/DEPTHWISE_CONV_2D/FULLY_CONNECTED → its bias"

    public var condition: PassCondition?

    public init(options: PassOptions = PassOptions()) throws {
        condition = try ImportPassOptions.condition(options, pass: Self.name)
    }

    public var patterns: [Pattern] { [Self.pattern] }

    public static let pattern = Pattern(name: name, rootKinds: [.add, .sub]) { r, id in
        let op = r[id]
        let isSub: Bool
        switch op.kind {
        case .add(let a): guard a.activation == .none else { return false }; isSub = false
        case .sub(let a): guard a.activation == .none else { return false }; isSub = true
        default: return false
        }
        guard op.inputs.count == 2, op.outputs.count == 1 else { return false }
        // x + c, c + x, x − c (c − x would negate the weights: not a bias fold).
        for k in (isSub ? [0] : [0, 1]) {
            let x = op.inputs[k], c = op.inputs[1 - k]
            guard !c.isAbsent, let constant = r.constant(c),
                let p = ImportPassSupport.linearProducer(of: x, r),
                let shift = ImportPassSupport.perChannel(constant, channels: p.channels, rank: r[x].rank),
                r[op.outputs[0]].shape == r[x].shape
            else { continue }
            let old = p.bias?.floats ?? Array(repeating: 0, count: p.channels)
            let bias = zip(old, shift).map { isSub ? $0 - $1 : $0 + $1 }
            let name = ImportPassSupport.biasName(r, p.op)
            ImportPassSupport.setOperand(&r, p.op, 2, ConstantTensor(floats: bias, shape: [Int32(p.channels)]), name: name)
            ImportPassSupport.absorb(&r, consumer: id, into: p.op)
            return true
        }
        return false
    }
}
