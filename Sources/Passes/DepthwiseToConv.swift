import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Rewrites a DEPTHWISE_CONV_2D whose input has one channel as a CONV_2D, for targets built
/// without DEPTHWISE_CONV_2D. The reverse of `conv-to-depthwise`.
///
/// Given:
///
///     const %1 "w": i8[1,3,3,4] q(axis 3: 4 scales, zp 0)
///     #0 DEPTHWISE_CONV_2D v3 {padding=VALID, stride=1x1, dilation=1x1, depth_multiplier=4} (%0, %1, %2) -> %3: i8[1,6,6,4]
///
/// Result:
///
///     const %1 "w": i8[4,3,3,1] q(axis 0: 4 scales, zp 0)
///     #0 CONV_2D v3 {padding=VALID, stride=1x1, dilation=1x1} (%0, %1, %2) -> %3: i8[1,6,6,4]
///
/// The filter moves [1,H,W,M] → [M,H,W,1] (1HWO → OHWI) and a per-channel axis 3 → 0. Bias,
/// strides, dilation, padding and the fused activation are kept; a missing bias becomes a zero
/// bias (LiteRT's CONV_2D refuses to run without one).
///
/// Options: `when:` (a `PassCondition`, e.g. `{ target_lacks: DEPTHWISE_CONV_2D }`).
public struct DepthwiseToConv: PatternPass {
    public static let name = "depthwise-to-conv"
    public static let summary = "DEPTHWISE_CONV_2D on a 1-channel input → CONV_2D"

    public var condition: PassCondition?

    public init(options: PassOptions = PassOptions()) throws {
        let reader = try PassOptionReader(options, pass: Self.name, known: ["when"])
        condition = try reader.condition()
    }

    public var patterns: [Pattern] { [Self.pattern()] }

    public mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        guard PassCondition.allows(condition, pass: Self.name, context: &context) else { return false }
        return try GreedyRewriteDriver(patterns: patterns, passName: Self.name).run(on: &model, context: &context)
    }

    public static func pattern() -> Pattern {
        Pattern(name: name, rootKinds: [.depthwiseConv2D]) { r, id in
            guard let m = oneChannelDepthwise(r, id) else { return false }
            rewriteAsConv(&r, id, m)
            return true
        }
    }

    public struct Match {
        public var attributes: DepthwiseConv2DAttributes
        public var filter: ConstantTensor
        public var outputChannels: Int32
        /// The bias to add when the op has none.
        public var zeroBias: ConstantTensor?
        public var input: Value
        public var output: Value
    }

    /// A DEPTHWISE_CONV_2D on a one-channel (static) input with a constant [1,H,W,M] filter
    /// whose per-channel quantization, if any, is along axis 3.
    public static func oneChannelDepthwise(_ r: Rewriter, _ id: OpID) -> Match? {
        guard case .depthwiseConv2D(let a) = r[id].kind,
            let x = r.operand(id, 0), let y = r.result(id), r[id].outputs.count == 1,
            x.rank == 4, x.isStatic(dimension: 3), x.shape[3] == 1, y.rank == 4,
            let wid = r[id].input(1), let w = r.constant(wid), w.type.dtype.byteSize != nil, w.shape.count == 4, w.shape[0] == 1, w.shape[3] > 0,
            y.shape[3] == w.shape[3]
        else { return nil }
        if let q = w.type.quantization, q.scales.count > 1, q.axis != 3 || q.scales.count != Int(w.shape[3]) { return nil }
        var bias: ConstantTensor?
        if r[id].input(2) == nil {
            guard let b = zeroBias(input: x, filter: w, channels: w.shape[3]) else { return nil }
            bias = b
        }
        return Match(attributes: a, filter: w, outputChannels: w.shape[3], zeroBias: bias, input: x, output: y)
    }

    package static func rewriteAsConv(_ r: inout Rewriter, _ id: OpID, _ m: Match) {
        // 1HWO [1,H,W,M] → OHWI [M,H,W,1]; the per-channel axis follows (3 → 0).
        let filter = m.filter.transposed([3, 1, 2, 0], layout: .ohwi)
        r.replaceConstantOperand(of: id, at: 1, with: filter)
        let a = m.attributes
        let attrs = Conv2DAttributes(padding: a.padding, strideW: a.strideW, strideH: a.strideH, activation: a.activation, dilationW: a.dilationW, dilationH: a.dilationH)
        r[id].kind = .conv2D(attrs)
        // The minimum version of the new op, from its rule in the operator table.
        if let minimum = OpVersions.minimum(r[id], in: r.graph, model: r.model) { r[id].version = minimum.version }
        if let b = m.zeroBias { r.addZeroBias(to: id, b) }
    }
}

extension DepthwiseToConv: RemovesMissingOps {
    package static var removableOps: Set<BuiltinOperator> { [.depthwiseConv2D] }

    package static func missingOpFix(_ r: Rewriter, _ id: OpID, target: TargetProfile) -> MissingOpFix? {
        guard oneChannelDepthwise(r, id) != nil, target.registers(.conv2D) else { return nil }
        return MissingOpFix(detail: "its input has 1 channel", pass: name, hint: "depthwise-to-conv rewrites it as CONV_2D")
    }
}
