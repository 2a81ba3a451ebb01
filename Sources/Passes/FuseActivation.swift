import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Fuses a RELU, RELU6 or RELU_N1_TO_1 into the fused_activation_function of the op that
/// feeds it, as TF's converter does (TF's prepare_tf.cc and optimize_patterns.td: "Optimizer fuses RELU/RELU6/RELU_N1_TO_1
/// into preceding CONV/DW/POOL/ADD/SUB/MUL", single use).
///
/// Given:
///
///     #0 CONV_2D v1 {padding=SAME, stride=1x1, dilation=1x1} (%0, %1, %2) -> %3 "BiasAdd": f32[1,8,8,4]
///     #1 RELU6 v1 (%3) -> %4 "Relu6": f32[1,8,8,4]
///
/// Result:
///
///     #0 CONV_2D v1 {padding=SAME, stride=1x1, dilation=1x1, act=RELU6} (%0, %1, %2) -> %4 "Relu6": f32[1,8,8,4]
///
/// The producer must be CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, AVERAGE_POOL_2D,
/// MAX_POOL_2D, ADD, SUB or MUL with no activation yet; its output must have no other reader
/// and not be a graph output; and both tensors must have the same type (for quantized
/// tensors, the same scale and zero point, so the clamp is the same). CONCATENATION is left
/// out: TFLM's kernel rejects a fused activation there.
public struct FuseActivation: ConditionalPatternPass {
    public static let name = "fuse-activation"
    public static let summary = "RELU/RELU6/RELU_N1_TO_1 → the fused activation of the op before it"

    public var condition: PassCondition?

    public init(options: PassOptions = PassOptions()) throws {
        condition = try ImportPassOptions.condition(options, pass: Self.name)
    }

    public var patterns: [Pattern] { [Self.pattern] }

    /// The ops that compute an activation on their own (`standaloneActivation` in the table).
    static let activationOps = Set(OperatorTable.all.filter { $0.standaloneActivation != nil }.map(\.op))

    public static let pattern = Pattern(name: name, rootKinds: activationOps) { r, id in
        let op = r[id]
        guard let activation = OperatorTable[op.builtinOperator]?.standaloneActivation else { return false }
        guard op.inputs.count == 1, op.outputs.count == 1, let x = op.input(0), r.hasSingleUse(x),
            !r.graph.isGraphInput(x), let p = r.producer(of: x), r[p].outputs == [x],
            r[x].type == r[op.outputs[0]].type
        else { return false }
        // The producer must carry a fusable activation field that is still NONE.
        guard let field = OperatorTable[r[p].builtinOperator]?.activation, field.fusable,
            field.get(r[p].kind) == ActivationFunction.none
        else { return false }
        field.set(&r[p].kind, activation)
        ImportPassSupport.absorb(&r, consumer: id, into: p)
        return true
    }
}
