import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Rewrites a CONV_2D whose input has one channel as a DEPTHWISE_CONV_2D with depth multiplier =
/// output channels, as TOCO's ConvertPureConvToDepthwise did (TOCO's graph_transformations), for runtimes
/// built without CONV_2D (TFLM's micro_speech registers only DEPTHWISE_CONV_2D, §2.3).
///
/// With one input channel, out[b,y,x,o] = Σ_{i,j} in[b,…,0]·f[o,i,j,0], which is exactly a
/// depthwise conv with filter[0,i,j,o] (DEPTHWISE_CONV_2D output channel = c·M + m, c = 0).
///
/// Given:
///
///     const %1 "w": i8[8,10,8,1] q(axis 0: 8 scales, zp 0)
///     #0 CONV_2D v3 {padding=SAME, stride=2x2, dilation=1x1, act=RELU} (%0, %1, %2) -> %3: i8[1,25,20,8]
///
/// Result:
///
///     const %1 "w": i8[1,10,8,8] q(axis 3: 8 scales, zp 0)
///     #0 DEPTHWISE_CONV_2D v3 {padding=SAME, stride=2x2, dilation=1x1, depth_multiplier=8, act=RELU} (%0, %1, %2) -> %3: i8[1,25,20,8]
///
/// The filter moves [O,H,W,1] → [1,H,W,O] (OHWI → 1HWO); a per-channel axis moves 0 → 3 with its
/// scales and zero points in the same channel order. Bias, strides, dilation, padding and the
/// fused activation are kept; the version is the minimum op_version.cc gives the new signature.
/// A filter another op also reads gets a copy; shared buffers are never written. A missing
/// bias becomes a zero bias (TFLM's depthwise kernel crashes without one).
///
/// TFLM's DEPTHWISE_CONV_2D takes stride and dilation per axis and uses `depth_multiplier` from
/// the options (depthwise_conv_common.cc), so unequal strides and dilation are emitted too;
/// `toco_compatible: true` restricts the rewrite to what TOCO did (equal strides, dilation 1),
/// for runtimes older than DEPTHWISE_CONV_2D v2.
///
/// Options: `when:` (a `PassCondition`, e.g. `{ target_lacks: CONV_2D }`), `toco_compatible`
/// (default false).
public struct ConvToDepthwise: PatternPass {
    public static let name = "conv-to-depthwise"
    public static let summary = "CONV_2D on a 1-channel input → DEPTHWISE_CONV_2D (depth_multiplier = output channels)"

    public var condition: PassCondition?
    public var tocoCompatible: Bool

    public init(options: PassOptions = PassOptions()) throws {
        let reader = try PassOptionReader(options, pass: Self.name, known: ["when", "toco_compatible"])
        condition = try reader.condition()
        tocoCompatible = try reader.bool("toco_compatible", default: false)
    }

    public var patterns: [Pattern] { [Self.pattern(tocoCompatible: tocoCompatible)] }

    public mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        guard PassCondition.allows(condition, pass: Self.name, context: &context) else { return false }
        return try GreedyRewriteDriver(patterns: patterns, passName: Self.name).run(on: &model, context: &context)
    }

    public static func pattern(tocoCompatible: Bool = false) -> Pattern {
        Pattern(name: name, rootKinds: [.conv2D]) { r, id in
            guard let m = oneChannelConv(r, id, tocoCompatible: tocoCompatible) else { return false }
            rewriteAsDepthwise(&r, id, m)
            return true
        }
    }

    /// What the rewrite needs from a matching CONV_2D.
    public struct Match {
        public var attributes: Conv2DAttributes
        public var filter: ConstantTensor
        public var outputChannels: Int32
        /// The bias to add when the op has none.
        public var zeroBias: ConstantTensor?
        public var input: Value
        public var output: Value
    }

    /// A CONV_2D whose input has one (static) channel, with a constant [O,H,W,1] filter whose
    /// per-channel quantization, if any, is along axis 0. Nil when the op is anything else.
    public static func oneChannelConv(_ r: Rewriter, _ id: OpID, tocoCompatible: Bool = false) -> Match? {
        guard case .conv2D(let a) = r[id].kind, a.quantizedBiasType == 0 else { return nil }
        if tocoCompatible && (a.strideW != a.strideH || a.dilationW != 1 || a.dilationH != 1) { return nil }
        guard let x = r.operand(id, 0), let y = r.result(id), r[id].outputs.count == 1,
            x.rank == 4, x.isStatic(dimension: 3), x.shape[3] == 1, y.rank == 4,
            let wid = r[id].input(1), let w = r.constant(wid), w.type.dtype.byteSize != nil, w.shape.count == 4, w.shape[3] == 1, w.shape[0] > 0,
            y.shape[3] == w.shape[0]
        else { return nil }
        if let q = w.type.quantization, q.scales.count > 1, q.axis != 0 || q.scales.count != Int(w.shape[0]) { return nil }
        var bias: ConstantTensor?
        if r[id].input(2) == nil {
            guard let b = zeroBias(input: x, filter: w, channels: w.shape[0]) else { return nil }
            bias = b
        }
        return Match(attributes: a, filter: w, outputChannels: w.shape[0], zeroBias: bias, input: x, output: y)
    }

    package static func rewriteAsDepthwise(_ r: inout Rewriter, _ id: OpID, _ m: Match) {
        // OHWI [O,H,W,1] → 1HWO [1,H,W,O]: swap dims 0 and 3; the per-channel axis follows.
        let filter = m.filter.transposed([3, 1, 2, 0], layout: .oneHWO)
        r.replaceConstantOperand(of: id, at: 1, with: filter)
        let a = m.attributes
        let attrs = DepthwiseConv2DAttributes(padding: a.padding, strideW: a.strideW, strideH: a.strideH, depthMultiplier: m.outputChannels, activation: a.activation, dilationW: a.dilationW, dilationH: a.dilationH)
        r[id].kind = .depthwiseConv2D(attrs)
        // The minimum version of the new op, from its rule in the operator table.
        if let minimum = OpVersions.minimum(r[id], in: r.graph, model: r.model) { r[id].version = minimum.version }
        if let b = m.zeroBias { r.addZeroBias(to: id, b) }
    }
}

extension ConvToDepthwise: RemovesMissingOps {
    package static var removableOps: Set<BuiltinOperator> { [.conv2D] }

    /// A CONV_2D the target lacks: rewritten when its input has one channel, else no fix.
    package static func missingOpFix(_ r: Rewriter, _ id: OpID, target: TargetProfile) -> MissingOpFix? {
        guard case .conv2D = r[id].kind else { return nil }
        if oneChannelConv(r, id) != nil, target.registers(.depthwiseConv2D) {
            return MissingOpFix(detail: "its input has 1 channel", pass: name, hint: "conv-to-depthwise rewrites it as DEPTHWISE_CONV_2D")
        }
        let channels = r.operand(id, 0).map { $0.rank == 4 ? "\($0.shape[3])" : "?" } ?? "?"
        return MissingOpFix(detail: "its input has \(channels) channel(s)", pass: nil,
                            hint: target.registers(.depthwiseConv2D) ? "no automatic fix (conv-to-depthwise needs a 1-channel input)" : "no automatic fix")
    }
}
