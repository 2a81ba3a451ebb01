import FlatBuffers
import IR
import Ops
import Rewrite
import Support

/// Rewrites a grouped CONV_2D — its filter has fewer input channels than its input, as Keras
/// `Conv2D(groups=g)` exports — for runtimes without grouped convolution (TFLM before mid-2023:
/// conv.cc required filter input channels == input channels; LiteRT's op_version.cc gives
/// grouped CONV_2D version 6).
///
/// One input channel per group is a depthwise convolution: group c reads input channel c and
/// writes output channels c·M ..< (c+1)·M, exactly DEPTHWISE_CONV_2D's channel order with depth
/// multiplier M = O / C.
///
/// Given:
///
///     input %0 "x": f32[1,5,5,4]
///     const %1 "w": f32[4,3,3,1]
///     #0 CONV_2D v6 {padding=SAME, stride=1x1, dilation=1x1, act=RELU} (%0, %1, %2) -> %3 "y": f32[1,5,5,4]
///
/// Result:
///
///     const %1 "w": f32[1,3,3,4]
///     #0 DEPTHWISE_CONV_2D v1 {padding=SAME, stride=1x1, dilation=1x1, depth_multiplier=1, act=RELU} (%0, %1, %2) -> %3 "y": f32[1,5,5,4]
///
/// Otherwise the input is split into the g groups along the channels, each group gets an
/// ordinary CONV_2D with its slice of the filters (and bias, and per-channel scales), and a
/// CONCATENATION puts the outputs back in order:
///
///     #0 SPLIT v1 {num_splits=2} (axis 3, %0: f32[1,5,5,4]) -> %g0, %g1: f32[1,5,5,2]
///     #1 CONV_2D v1 (%g0, w[0..<2], b[0..<2]) -> %y0: f32[1,5,5,2]
///     #2 CONV_2D v1 (%g1, w[2..<4], b[2..<4]) -> %y1: f32[1,5,5,2]
///     #3 CONCATENATION v1 {axis=3} (%y0, %y1) -> %3 "y": f32[1,5,5,4]
///
/// Each output channel is computed from the same inputs, weights, bias and (int8) per-channel
/// multiplier as before, so int8 results are bit-exact; the split and concatenation copy
/// values, keeping the input's and output's quantization (LiteRT's grouped conv in
/// kernels/conv.cc also runs group by group). The fused activation stays with the convs.
///
/// Options: `when:` (a `PassCondition`, e.g. `{ target_lacks: ... }`).
public struct UngroupConv: ConditionalPatternPass {
    public static let name = "ungroup-conv"
    public static let summary = "Grouped CONV_2D → DEPTHWISE_CONV_2D (one channel per group) or SPLIT + g CONV_2D + CONCATENATION"

    public var condition: PassCondition?

    public init() {}

    public init(options: PassOptions) throws {
        condition = try ImportPassOptions.condition(options, pass: Self.name)
    }

    public var patterns: [Pattern] { [Self.pattern] }

    package struct Match {
        var attributes: Conv2DAttributes
        var input: ValueID
        var x: Value
        var y: Value
        var filter: ConstantTensor
        var bias: ConstantTensor
        var groups: Int
    }

    /// A CONV_2D whose constant filter covers C/g of its C input channels, g > 1; nil otherwise.
    package static func grouped(_ r: Rewriter, _ id: OpID) -> Match? {
        guard case .conv2D(let a) = r[id].kind, a.quantizedBiasType == 0, r[id].outputs.count == 1,
            let xid = r[id].input(0), let x = r.operand(id, 0), let y = r.result(id),
            x.rank == 4, x.isStatic(dimension: 3), y.rank == 4,
            let wid = r[id].input(1), let w = r.constant(wid), w.type.dtype.byteSize != nil, w.shape.count == 4
        else { return nil }
        let channels = Int(x.shape[3]), perGroup = Int(w.shape[3]), outputs = Int(w.shape[0])
        guard perGroup > 0, channels > perGroup, channels % perGroup == 0, y.shape[3] == w.shape[0] else { return nil }
        let groups = channels / perGroup
        guard outputs % groups == 0 else { return nil }
        if let q = w.type.quantization, q.scales.count > 1, q.axis != 0 || q.scales.count != outputs { return nil }
        let bias: ConstantTensor
        if let bid = r[id].input(2) {
            guard let b = r.constant(bid), b.shape == [Int32(outputs)] else { return nil }
            if let q = b.type.quantization, q.scales.count > 1, q.scales.count != outputs { return nil }
            bias = b
        } else {
            guard let b = zeroBias(input: x, filter: w, channels: Int32(outputs)) else { return nil }
            bias = b
        }
        return Match(attributes: a, input: xid, x: x, y: y, filter: w, bias: bias, groups: groups)
    }

    public static let pattern = Pattern(name: name, rootKinds: [.conv2D]) { r, id in
        guard let m = grouped(r, id) else { return false }
        if m.filter.shape[3] == 1 {
            asDepthwise(&r, id, m)
        } else {
            asSplitConvs(&r, id, m)
        }
        return true
    }

    static func asDepthwise(_ r: inout Rewriter, _ id: OpID, _ m: Match) {
        // OHWI [O,H,W,1] → 1HWO [1,H,W,O]; the per-channel axis follows to 3.
        r.replaceConstantOperand(of: id, at: 1, with: m.filter.transposed([3, 1, 2, 0], layout: .oneHWO))
        let a = m.attributes
        let multiplier = m.filter.shape[0] / m.x.shape[3]
        r[id].kind = .depthwiseConv2D(DepthwiseConv2DAttributes(padding: a.padding, strideW: a.strideW, strideH: a.strideH, depthMultiplier: multiplier, activation: a.activation, dilationW: a.dilationW, dilationH: a.dilationH))
        if r[id].input(2) == nil { r.addZeroBias(to: id, m.bias) }
        if let minimum = OpVersions.minimum(r[id], in: r.graph, model: r.model) { r[id].version = minimum.version }
    }

    static func asSplitConvs(_ r: inout Rewriter, _ id: OpID, _ m: Match) {
        let g = m.groups
        let perGroup = m.filter.shape[3]
        let outPerGroup = Int(m.filter.shape[0]) / g
        let base = m.y.name.isEmpty ? "grouped_conv" : m.y.name
        let axis = r.addConstant(ConstantTensor(.int32, shape: [], values: [Int32(3)]), name: base + "/split_axis")
        var slices: [ValueID] = []
        var results: [ValueID] = []
        for k in 0..<g {
            var xs = m.x
            xs.name = "\(base)/group\(k)/input"
            xs.shape[3] = perGroup
            if xs.shapeSignature != nil { xs.shapeSignature![3] = perGroup }
            xs.buffer = .none
            slices.append(r.addValue(xs))
            var ys = m.y
            ys.name = "\(base)/group\(k)"
            ys.shape[3] = Int32(outPerGroup)
            if ys.shapeSignature != nil { ys.shapeSignature![3] = Int32(outPerGroup) }
            ys.buffer = .none
            results.append(r.addValue(ys))
        }
        // SplitOptions { num_splits: int } (schema.fbs): field 0 at offset 4, after the soffset.
        let splitOptions = OpaqueOptions(typeTag: Schema.OptionsTag.split, vtable: [4], inline: le([Int32(g)]), alignmentPhase: 0)
        var split = Op(kind: .builtin(.split, options: splitOptions), version: 1, inputs: [axis, m.input], outputs: slices)
        split.version = OpVersions.minimum(split, in: r.graph, model: r.model)?.version ?? 1
        r.addOp(split)
        for k in 0..<g {
            let range = k * outPerGroup ..< (k + 1) * outPerGroup
            let w = r.addConstant(channels(m.filter, range), name: "\(base)/group\(k)/filter")
            let b = r.addConstant(channels(m.bias, range), name: "\(base)/group\(k)/bias")
            var conv = Op(kind: .conv2D(m.attributes), version: 1, inputs: [slices[k], w, b], outputs: [results[k]])
            conv.version = OpVersions.minimum(conv, in: r.graph, model: r.model)?.version ?? 1
            r.addOp(conv)
        }
        // The original op becomes the CONCATENATION: it keeps the output and its place.
        r[id].kind = .concatenation(axis: 3, activation: .none)
        r[id].inputs = results
        r[id].version = OpVersions.minimum(r[id], in: r.graph, model: r.model)?.version ?? 1
    }

    /// Output channels `range` (axis 0) of a filter [O,H,W,I] or bias [O], with their scales.
    static func channels(_ t: ConstantTensor, _ range: Range<Int>) -> ConstantTensor {
        let inner = t.shape.dropFirst().reduce(1) { $0 * Int($1) } * t.elementSize
        var type = t.type
        if var q = type.quantization, q.scales.count > 1 {
            q.scales = Array(q.scales[range])
            if q.zeroPoints.count > 1 { q.zeroPoints = Array(q.zeroPoints[range]) }
            if q.min.count > 1 { q.min = Array(q.min[range]) }
            if q.max.count > 1 { q.max = Array(q.max[range]) }
            type.quantization = q
        }
        var shape = t.shape
        shape[0] = Int32(range.count)
        return ConstantTensor(type: type, shape: shape, bytes: Array(t.bytes[range.lowerBound * inner ..< range.upperBound * inner]), layout: t.layout)
    }
}
