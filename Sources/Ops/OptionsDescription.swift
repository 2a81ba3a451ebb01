import FlatBuffers
import IR
import Kernels
import Support

/// Human- and JSON-readable options of an op, shared by inspect, diff and the IR printer.
package enum OptionsDescription {
    /// Ordered (name, value) pairs of the op's typed attributes; opaque options as hex.
    package static func fields(_ op: Op) -> [(String, String)] {
        switch op.kind {
        case .conv2D(let a):
            return [("padding", a.padding.description), ("stride", "\(a.strideH)x\(a.strideW)"), ("dilation", "\(a.dilationH)x\(a.dilationW)")]
                + (a.quantizedBiasType != 0 ? [("quantized_bias_type", DType(code: a.quantizedBiasType).name)] : [])
        case .depthwiseConv2D(let a):
            return [("padding", a.padding.description), ("stride", "\(a.strideH)x\(a.strideW)"), ("dilation", "\(a.dilationH)x\(a.dilationW)"), ("depth_multiplier", "\(a.depthMultiplier)")]
        case .fullyConnected(let a):
            var f: [(String, String)] = []
            if a.weightsFormat != 0 { f.append(("weights_format", "\(a.weightsFormat)")) }
            if a.keepNumDims { f.append(("keep_num_dims", "true")) }
            if a.asymmetricQuantizeInputs { f.append(("asymmetric_quantize_inputs", "true")) }
            if a.quantizedBiasType != 0 { f.append(("quantized_bias_type", DType(code: a.quantizedBiasType).name)) }
            return f
        case .averagePool2D(let a), .maxPool2D(let a):
            return [("padding", a.padding.description), ("stride", "\(a.strideH)x\(a.strideW)"), ("filter", "\(a.filterH)x\(a.filterW)")]
        case .reshape(let s):
            return s.map { [("new_shape", "[" + $0.map(String.init).joined(separator: ",") + "]")] } ?? []
        case .softmax(let beta): return [("beta", "\(beta)")]
        case .add(let a), .sub(let a): return a.potScaleInt16 ? [] : [("pot_scale_int16", "false")]
        case .mean(let keep): return [("keep_dims", "\(keep)")]
        case .concatenation(let axis, _): return [("axis", "\(axis)")]
        case .shape(let t): return [("out_type", t.name)]
        case .stridedSlice(let a):
            return [("begin_mask", "\(a.beginMask)"), ("end_mask", "\(a.endMask)"), ("ellipsis_mask", "\(a.ellipsisMask)"), ("new_axis_mask", "\(a.newAxisMask)"), ("shrink_axis_mask", "\(a.shrinkAxisMask)")] + (a.offset ? [("offset", "true")] : [])
        case .pack(let n, let axis): return [("values_count", "\(n)"), ("axis", "\(axis)")]
        case .squeeze(let dims): return [("squeeze_dims", "[" + dims.map(String.init).joined(separator: ",") + "]")]
        case .gather(let axis, let b): return [("axis", "\(axis)"), ("batch_dims", "\(b)")]
        case .builtin(_, let o):
            guard let o else { return [] }
            var f = [("options_type", "\(o.typeTag)"), ("raw", hex(o.vtable.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] } + o.inline))]
            for k in o.references.keys.sorted() { f.append(("field\(k)", "\(o.references[k]!)")) }
            return f
        case .mul, .pad, .quantize, .dequantize, .relu, .relu6, .logistic, .tanh, .custom:
            return []
        }
    }

    package static func text(_ op: Op) -> String {
        fields(op).map { "\($0.0)=\($0.1)" }.joined(separator: " ")
    }

    package static func json(_ op: Op) -> JSON {
        let f = fields(op)
        if f.isEmpty, op.kind.fusedActivation == nil { return .null }
        var o = f.map { ($0.0, JSON.string($0.1)) }
        if let a = op.kind.fusedActivation { o.append(("fused_activation", .string(a.description))) }
        return .object(o)
    }

    package static func hex(_ bytes: [UInt8]) -> String { hexDigits(bytes) }
}
