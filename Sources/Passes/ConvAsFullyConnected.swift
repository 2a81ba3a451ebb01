import IR
import Ops
import Rewrite

/// Computes a CONV_2D whose filter covers its whole input (one output pixel) as a
/// FULLY_CONNECTED over the flattened input, and lets the RESHAPEs its output goes through read
/// the FULLY_CONNECTED's [1, O] output. A streaming keyword model's 1-D convolution over the
/// frames it keeps has this form (a RESHAPE in front adds the height, one behind drops it).
/// TFLM then holds one op and one tensor less (the RESHAPE in front goes once
/// `reshape-into-fully-connected` runs), and a FULLY_CONNECTED's op data instead of a
/// convolution's (Docs/memory.md).
///
/// Given:
///
///     #0 CONV_2D {VALID, stride 1} (%x: i8[1,1,3,8], %f: i8[64,1,3,8], %b: i32[64]) -> %y: i8[1,1,1,64]
///     #1 RESHAPE (%y, %shape) -> %z: i8[1,1,64]
///
/// Result:
///
///     #0 FULLY_CONNECTED (%x, %f': i8[64,24], %b) -> %y: i8[1,64]
///     #1 RESHAPE (%y, %shape) -> %z: i8[1,1,64]
///
/// Bit-exact: the filter [O,H,W,I] flattened is the weights [O, H·W·I] in the order the NHWC
/// input flattens, so each output sums the same products (conv.cc and fully_connected.cc;
/// integer sums in any order, float sums in the same order: filter row, column, channel), adds
/// the same bias, and rescales by the same per-channel multiplier (both kernels derive it from
/// input scale × filter scale / output scale in double, kernel_util.cc
/// PopulateConvolutionQuantizationParams) before the same activation clamp. Matches batch 1,
/// static shapes, float32 or int8 input, a constant OHWI filter with as many input channels
/// as the input (no groups), kernel equal to the input's height and width with dilation 1 (or
/// size 1), a [1,1,1,O] output that only RESHAPEs read, and a
/// target that registers FULLY_CONNECTED and (for per-channel int8 filters) takes per-channel
/// FULLY_CONNECTED weights.
public struct ConvAsFullyConnected: PatternPass {
    public static let name = "conv-as-fully-connected"
    public static let summary = "CONV_2D whose filter covers its whole input → FULLY_CONNECTED over the flattened input (RESHAPE readers only); outputs unchanged"

    public init() {}

    public init(options: PassOptions) throws {
        _ = try PassOptionReader(options, pass: Self.name, known: [])
    }

    public var patterns: [Pattern] { [Self.pattern] }

    public static let pattern = Pattern(name: name, rootKinds: [.conv2D]) { r, id in
        let conv = r[id]
        guard case .conv2D(let a) = conv.kind, r.context.target?.registers(.fullyConnected) ?? true, let x = conv.input(0), let fid = conv.input(1), let filter = r.constant(fid),
            r[fid].sparsity == nil, conv.outputs.count == 1, let y = conv.outputs.first, !r[x].isDynamic, !r[y].isDynamic,
            r[x].dtype == .float32 || r[x].dtype == .int8, filter.type.dtype == (r[x].dtype == .float32 ? .float32 : .int8),
            filter.layout == nil || filter.layout == .ohwi
        else { return false }
        let input = r[x].shape, f = filter.shape
        guard input.count == 4, f.count == 4, input[0] == 1, f[1] == input[1], f[2] == input[2], f[3] == input[3],
            a.dilationH == 1 || f[1] == 1, a.dilationW == 1 || f[2] == 1,
            r[y].shape == [1, 1, 1, f[0]], !r.graph.isGraphOutput(y)
        else { return false }
        let readers = r.uses(of: y)
        guard !readers.isEmpty, readers.allSatisfy({ r[$0.op].builtinOperator == .reshape && $0.operand == 0 }) else { return false }
        if let q = filter.type.quantization, q.scales.count > 1 {
            guard q.axis == 0, r.context.target?.quantization.perChannelFullyConnected ?? true else { return false }
        }
        var inputs = conv.inputs
        inputs[1] = r.addConstant(filter.reshaped([f[0], f[1] * f[2] * f[3]], quantizedAxis: 0, layout: .oi), name: r[fid].name)
        r[y].shape = [1, f[0]]
        r[y].shapeSignature = nil
        var fc = Op(kind: .fullyConnected(FullyConnectedAttributes(activation: a.activation)), inputs: inputs, outputs: [y], provenance: conv.provenance)
        fc.version = OpVersions.minimum(fc, in: r.graph, model: r.model)?.version ?? 1
        r.erase(id)
        r.addOp(fc)
        return true
    }
}
