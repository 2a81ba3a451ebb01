import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// What the import passes (`fold-bias-add`, `fold-batch-norm`, `fuse-activation`,
/// `simplify-reshapes`) share: finding the linear op that feeds an element-wise op, and reading
/// a constant as one value per output channel.
package enum ImportPassSupport {
    /// A CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED with float weights, no fused activation,
    /// that writes only `value`, which nothing else reads: the op an element-wise ADD/SUB/MUL on
    /// `value` can be folded into.
    package struct LinearProducer {
        package var op: OpID
        /// Output channels (the bias length).
        package var channels: Int
        /// The weights value (a float32 constant); read with `r.constant` when needed.
        package var weights: ValueID
        /// nil when the op has no bias input.
        package var bias: ConstantTensor?
    }

    package static func linearProducer(of value: ValueID, _ r: Rewriter) -> LinearProducer? {
        guard !value.isAbsent, r.hasSingleUse(value), !r.graph.isGraphInput(value), let p = r.producer(of: value) else { return nil }
        let op = r[p]
        guard op.outputs == [value], op.kind.fusedActivation == ActivationFunction.none,
            let wid = op.input(1), r.isConstant(wid)
        else { return nil }
        let w = r[wid]
        guard w.dtype == .float32, !w.type.isQuantized else { return nil }
        let channels: Int
        switch op.kind {
        case .conv2D(let a):
            guard w.shape.count == 4, a.quantizedBiasType == 0 else { return nil }
            channels = Int(w.shape[0])
        case .depthwiseConv2D:
            guard w.shape.count == 4 else { return nil }
            channels = Int(w.shape[3])
        case .fullyConnected(let a):
            guard w.shape.count == 2, a.weightsFormat == 0, a.quantizedBiasType == 0 else { return nil }
            channels = Int(w.shape[0])
        default:
            return nil
        }
        var bias: ConstantTensor?
        if let b = op.input(2) {
            guard let t = r.constant(b), t.type.dtype == .float32, !t.type.isQuantized, t.elementCount == channels else { return nil }
            bias = t
        }
        guard r[value].shape.last.map(Int.init) == channels else { return nil }
        return LinearProducer(op: p, channels: channels, weights: wid, bias: bias)
    }

    /// The constant as one float per channel when it only varies along the last axis of an
    /// output of rank `rank` (shape [], [1], [C], [1,…,1,C] with at most `rank` dims), so an
    /// element-wise op with it acts per output channel. nil otherwise.
    package static func perChannel(_ t: ConstantTensor, channels: Int, rank: Int) -> [Float]? {
        guard t.type.dtype == .float32, !t.type.isQuantized, t.shape.count <= rank,
            t.shape.dropLast().allSatisfy({ $0 == 1 })
        else { return nil }
        let values = t.floats
        if values.count == channels { return values }
        if values.count == 1 { return Array(repeating: values[0], count: channels) }
        return nil
    }

    /// Writes `t` as input `k` of `op` as a new constant of its own (the old value may be shared).
    package static func setOperand(_ r: inout Rewriter, _ op: OpID, _ k: Int, _ t: ConstantTensor, name: String) {
        let id = r.addConstant(t, name: name)
        while r[op].inputs.count <= k { r[op].inputs.append(.absent) }
        r[op].inputs[k] = id
    }

    /// Makes `producer` write the value `consumer` wrote, records the consumer's provenance and
    /// erases the consumer. The producer's old output becomes unused.
    package static func absorb(_ r: inout Rewriter, consumer: OpID, into producer: OpID) {
        r[producer].outputs = r[consumer].outputs
        r[producer].provenance += r[consumer].provenance.filter { !r[producer].provenance.contains($0) }
        r.erase(consumer)
    }

    /// The bias value name for a producer: its weights' name with "/bias" when it had none.
    package static func biasName(_ r: Rewriter, _ op: OpID) -> String {
        if let b = r[op].input(2) { return r[b].name }
        return (r[op].input(1).map { r[$0].name } ?? r[r[op].outputs[0]].name) + "/bias"
    }
}

/// Import passes take one option, `when:` (a `PassCondition`, like the repair passes), so a
/// rules file can run them on .tflite models for some targets only.
public protocol ConditionalPatternPass: PatternPass {
    var condition: PassCondition? { get }
}

extension ConditionalPatternPass {
    public mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        guard PassCondition.allows(condition, pass: Self.name, context: &context) else { return false }
        return try GreedyRewriteDriver(patterns: patterns, passName: Self.name).run(on: &model, context: &context)
    }
}

package enum ImportPassOptions {
    /// The `when:` condition; any other option is an error naming the pass and the place.
    package static func condition(_ options: PassOptions, pass: String) throws -> PassCondition? {
        try PassOptionReader(options, pass: pass, known: ["when"]).condition()
    }
}
