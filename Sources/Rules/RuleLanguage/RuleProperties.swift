import Export
import FlatBuffers
import IR
import Kernels
import Ops
import PassCatalog
import Passes
import Quantize
import Rewrite
import Support

/// What rules can read and write: tensor properties, op properties, and the typed attributes of
/// the ops the IR models, by their schema option names (schema.fbs).
package enum RuleProperties {
    /// Tensor properties and their types.
    package static let tensor: [String: RuleType] = [
        "present": .bool,  // false for an omitted optional input (`b?`)
        "constant": .bool,  // has data in a buffer
        "name": .string,
        "dtype": .enumeration(.dtype),
        "type": .elementType,  // dtype + quantization, for `a.type == b.type`
        "rank": .int,
        "shape": .list(.int),
        "signature": .list(.int),  // shape_signature (−1 = dynamic), the shape when the file has none
        "elements": .int,
        "element_size": .int,  // bytes per element, 0 for strings and sub-byte types
        "single_use": .bool,  // exactly one op reads it and it is not a graph output
        "uses": .int,  // ops reading it
        "graph_input": .bool,
        "graph_output": .bool,
        "quantized": .bool,
        "per_channel": .bool,
        "scale": .float,  // per-tensor scale
        "zero_point": .int,
        "scales": .list(.float),
        "zero_points": .list(.int),
        "quant_axis": .int,
        "values": .list(.unknown),  // a constant's elements
        "channel_vector": .bool,  // shape [], [n] or [1,…,1,n]: varies only along its last axis
    ]

    /// Properties every op has.
    package static let op: [String: RuleType] = [
        "op": .enumeration(.opKind),
        "version": .int,
        "input_count": .int,
        "output_count": .int,
        "custom_code": .string,
    ]

    /// Tensor fields `set:` may write.
    package static let settableTensorFields: [String: RuleType] = [
        "name": .string, "scale": .float, "zero_point": .int, "scales": .list(.float), "zero_points": .list(.int),
        "quant_axis": .int, "quantized": .bool, "shape": .list(.int), "dtype": .enumeration(.dtype),
    ]

    package static let functions = ["abs", "all", "any", "contains", "ends_with", "float", "if", "len", "max", "min", "product", "replace", "starts_with", "str", "sum"]

    package struct Attribute: Sendable {
        package var name: String
        package var type: RuleType
        package var kinds: [BuiltinOperator]
        /// False for attributes read from options the IR keeps opaquely.
        package var settable: Bool = true
    }

    package static let convLike: [BuiltinOperator] = [.conv2D, .depthwiseConv2D]
    package static let pools: [BuiltinOperator] = [.averagePool2D, .maxPool2D]

    package static let attributes: [Attribute] = [
        Attribute(name: "padding", type: .enumeration(.padding), kinds: convLike + pools),
        Attribute(name: "stride_w", type: .int, kinds: convLike + pools),
        Attribute(name: "stride_h", type: .int, kinds: convLike + pools),
        Attribute(name: "dilation_w", type: .int, kinds: convLike),
        Attribute(name: "dilation_h", type: .int, kinds: convLike),
        Attribute(name: "depth_multiplier", type: .int, kinds: [.depthwiseConv2D]),
        Attribute(name: "fused_activation", type: .enumeration(.activation), kinds: convLike + pools + [.fullyConnected, .add, .sub, .mul, .concatenation]),
        Attribute(name: "filter_w", type: .int, kinds: pools),
        Attribute(name: "filter_h", type: .int, kinds: pools),
        Attribute(name: "weights_format", type: .int, kinds: [.fullyConnected]),
        Attribute(name: "keep_num_dims", type: .bool, kinds: [.fullyConnected]),
        Attribute(name: "asymmetric_quantize_inputs", type: .bool, kinds: [.fullyConnected]),
        Attribute(name: "quantized_bias_type", type: .int, kinds: [.conv2D, .fullyConnected]),
        Attribute(name: "pot_scale_int16", type: .bool, kinds: [.add, .sub]),
        Attribute(name: "beta", type: .float, kinds: [.softmax]),
        Attribute(name: "keep_dims", type: .bool, kinds: [.mean]),
        Attribute(name: "axis", type: .int, kinds: [.concatenation, .pack, .gather]),
        Attribute(name: "new_shape", type: .list(.int), kinds: [.reshape]),
        Attribute(name: "out_type", type: .enumeration(.dtype), kinds: [.shape]),
        Attribute(name: "begin_mask", type: .int, kinds: [.stridedSlice]),
        Attribute(name: "end_mask", type: .int, kinds: [.stridedSlice]),
        Attribute(name: "ellipsis_mask", type: .int, kinds: [.stridedSlice]),
        Attribute(name: "new_axis_mask", type: .int, kinds: [.stridedSlice]),
        Attribute(name: "shrink_axis_mask", type: .int, kinds: [.stridedSlice]),
        Attribute(name: "offset", type: .bool, kinds: [.stridedSlice]),
        Attribute(name: "values_count", type: .int, kinds: [.pack]),
        Attribute(name: "squeeze_dims", type: .list(.int), kinds: [.squeeze]),
        Attribute(name: "batch_dims", type: .int, kinds: [.gather]),
        // LeakyReluOptions.alpha: the IR keeps LEAKY_RELU's options opaquely, so it is read-only.
        Attribute(name: "alpha", type: .float, kinds: [.leakyRelu], settable: false),
    ]

    package static func attributes(of op: BuiltinOperator) -> [Attribute] { attributes.filter { $0.kinds.contains(op) } }

    package static func attributeNames(of op: BuiltinOperator) -> String {
        let names = attributes(of: op).map(\.name)
        return names.isEmpty ? "it has none" : "attributes: " + names.joined(separator: ", ")
    }

    /// The type of attribute `name` on an op that may be any of `kinds` (nil: any op). It must
    /// exist on at least one of them; on the others reading it makes the condition false.
    package static func attributeType(_ name: String, kinds: [BuiltinOperator]?, opName: String) throws -> RuleType {
        guard let a = attributes.first(where: { $0.name == name }) else {
            var m = "ops have no property or attribute '\(name)'"
            let all = Array(op.keys) + attributes.map(\.name)
            if let c = RulesFile.closest(name, in: all) { m += "; did you mean '\(c)'?" }
            throw RuleExprError(m + " (op properties: \(op.keys.sorted().joined(separator: ", ")); attributes depend on the op)")
        }
        if let kinds, !kinds.contains(where: { a.kinds.contains($0) }) {
            let k = kinds.map(\.name).joined(separator: "/")
            throw RuleExprError("\(k) has no attribute '\(name)' (\(kinds.count == 1 ? attributeNames(of: kinds[0]) : "it belongs to " + a.kinds.map(\.name).joined(separator: ", ")))")
        }
        return a.type
    }

    // MARK: Reading and writing attributes

    /// The attribute's value on an op kind, nil when the kind has no such attribute.
    package static func get(_ name: String, of kind: OpKind) -> RuleValue? {
        func i(_ v: Int32) -> RuleValue { .int(Int64(v)) }
        switch (name, kind) {
        case ("fused_activation", _): return kind.fusedActivation.map { .symbol($0.description) }
        case ("padding", .conv2D(let a)): return .symbol(a.padding.description)
        case ("padding", .depthwiseConv2D(let a)): return .symbol(a.padding.description)
        case ("padding", .averagePool2D(let a)), ("padding", .maxPool2D(let a)): return .symbol(a.padding.description)
        case ("stride_w", .conv2D(let a)): return i(a.strideW)
        case ("stride_h", .conv2D(let a)): return i(a.strideH)
        case ("stride_w", .depthwiseConv2D(let a)): return i(a.strideW)
        case ("stride_h", .depthwiseConv2D(let a)): return i(a.strideH)
        case ("stride_w", .averagePool2D(let a)), ("stride_w", .maxPool2D(let a)): return i(a.strideW)
        case ("stride_h", .averagePool2D(let a)), ("stride_h", .maxPool2D(let a)): return i(a.strideH)
        case ("dilation_w", .conv2D(let a)): return i(a.dilationW)
        case ("dilation_h", .conv2D(let a)): return i(a.dilationH)
        case ("dilation_w", .depthwiseConv2D(let a)): return i(a.dilationW)
        case ("dilation_h", .depthwiseConv2D(let a)): return i(a.dilationH)
        case ("depth_multiplier", .depthwiseConv2D(let a)): return i(a.depthMultiplier)
        case ("filter_w", .averagePool2D(let a)), ("filter_w", .maxPool2D(let a)): return i(a.filterW)
        case ("filter_h", .averagePool2D(let a)), ("filter_h", .maxPool2D(let a)): return i(a.filterH)
        case ("weights_format", .fullyConnected(let a)): return .int(Int64(a.weightsFormat))
        case ("keep_num_dims", .fullyConnected(let a)): return .bool(a.keepNumDims)
        case ("asymmetric_quantize_inputs", .fullyConnected(let a)): return .bool(a.asymmetricQuantizeInputs)
        case ("quantized_bias_type", .fullyConnected(let a)): return .int(Int64(a.quantizedBiasType))
        case ("quantized_bias_type", .conv2D(let a)): return .int(Int64(a.quantizedBiasType))
        case ("pot_scale_int16", .add(let a)), ("pot_scale_int16", .sub(let a)): return .bool(a.potScaleInt16)
        case ("beta", .softmax(let b)): return .float(Double(b))
        case ("keep_dims", .mean(let k)): return .bool(k)
        case ("axis", .concatenation(let axis, _)): return i(axis)
        case ("axis", .pack(_, let axis)): return i(axis)
        case ("axis", .gather(let axis, _)): return i(axis)
        case ("new_shape", .reshape(let s)): return .list((s ?? []).map { .int(Int64($0)) })
        case ("out_type", .shape(let t)): return .symbol(t.name)
        case ("begin_mask", .stridedSlice(let a)): return i(a.beginMask)
        case ("end_mask", .stridedSlice(let a)): return i(a.endMask)
        case ("ellipsis_mask", .stridedSlice(let a)): return i(a.ellipsisMask)
        case ("new_axis_mask", .stridedSlice(let a)): return i(a.newAxisMask)
        case ("shrink_axis_mask", .stridedSlice(let a)): return i(a.shrinkAxisMask)
        case ("offset", .stridedSlice(let a)): return .bool(a.offset)
        case ("values_count", .pack(let n, _)): return i(n)
        case ("squeeze_dims", .squeeze(let d)): return .list(d.map { .int(Int64($0)) })
        case ("batch_dims", .gather(_, let b)): return i(b)
        case ("alpha", .builtin(.leakyRelu, let o)):
            // LeakyReluOptions field 0, schema default 0.
            return .float(Double(o?.float32(0, default: 0) ?? 0))
        default: return nil
        }
    }

    /// Sets an attribute; throws when the kind has no such attribute or the value does not fit.
    package static func set(_ name: String, _ value: RuleValue, on kind: inout OpKind) throws {
        func int32() throws -> Int32 {
            guard let n = value.integer, let v = Int32(exactly: n) else { throw RuleEvalError("\(name): expected a 32-bit int, got \(value)") }
            return v
        }
        func int8() throws -> Int8 {
            guard let n = value.integer, let v = Int8(exactly: n) else { throw RuleEvalError("\(name): expected an int in -128...127, got \(value)") }
            return v
        }
        func bool() throws -> Bool {
            guard case .bool(let b) = value else { throw RuleEvalError("\(name): expected true or false, got \(value)") }
            return b
        }
        func padding() throws -> Padding {
            guard case .symbol(let s) = value, let p = RuleEnum.padding.canonical(s) else { throw RuleEvalError("\(name): expected SAME or VALID, got \(value)") }
            return p == "SAME" ? .same : .valid
        }
        func ints() throws -> [Int32] {
            guard case .list(let l) = value else { throw RuleEvalError("\(name): expected a list of ints, got \(value)") }
            return try l.map {
                guard let n = $0.integer, let v = Int32(exactly: n) else { throw RuleEvalError("\(name): expected 32-bit ints, got \($0)") }
                return v
            }
        }
        var k = kind
        switch (name, k) {
        case ("fused_activation", _):
            guard k.fusedActivation != nil else { break }
            guard case .symbol(let s) = value, let a = ActivationFunction(name: s) else { throw RuleEvalError("fused_activation: expected an activation (\(RuleEnum.activation.examples)), got \(value)") }
            k.fusedActivation = a
            kind = k
            return
        case ("padding", .conv2D(var a)): a.padding = try padding(); k = .conv2D(a)
        case ("padding", .depthwiseConv2D(var a)): a.padding = try padding(); k = .depthwiseConv2D(a)
        case ("padding", .averagePool2D(var a)): a.padding = try padding(); k = .averagePool2D(a)
        case ("padding", .maxPool2D(var a)): a.padding = try padding(); k = .maxPool2D(a)
        case ("stride_w", .conv2D(var a)): a.strideW = try int32(); k = .conv2D(a)
        case ("stride_h", .conv2D(var a)): a.strideH = try int32(); k = .conv2D(a)
        case ("stride_w", .depthwiseConv2D(var a)): a.strideW = try int32(); k = .depthwiseConv2D(a)
        case ("stride_h", .depthwiseConv2D(var a)): a.strideH = try int32(); k = .depthwiseConv2D(a)
        case ("stride_w", .averagePool2D(var a)): a.strideW = try int32(); k = .averagePool2D(a)
        case ("stride_h", .averagePool2D(var a)): a.strideH = try int32(); k = .averagePool2D(a)
        case ("stride_w", .maxPool2D(var a)): a.strideW = try int32(); k = .maxPool2D(a)
        case ("stride_h", .maxPool2D(var a)): a.strideH = try int32(); k = .maxPool2D(a)
        case ("dilation_w", .conv2D(var a)): a.dilationW = try int32(); k = .conv2D(a)
        case ("dilation_h", .conv2D(var a)): a.dilationH = try int32(); k = .conv2D(a)
        case ("dilation_w", .depthwiseConv2D(var a)): a.dilationW = try int32(); k = .depthwiseConv2D(a)
        case ("dilation_h", .depthwiseConv2D(var a)): a.dilationH = try int32(); k = .depthwiseConv2D(a)
        case ("depth_multiplier", .depthwiseConv2D(var a)): a.depthMultiplier = try int32(); k = .depthwiseConv2D(a)
        case ("filter_w", .averagePool2D(var a)): a.filterW = try int32(); k = .averagePool2D(a)
        case ("filter_h", .averagePool2D(var a)): a.filterH = try int32(); k = .averagePool2D(a)
        case ("filter_w", .maxPool2D(var a)): a.filterW = try int32(); k = .maxPool2D(a)
        case ("filter_h", .maxPool2D(var a)): a.filterH = try int32(); k = .maxPool2D(a)
        case ("weights_format", .fullyConnected(var a)): a.weightsFormat = try int8(); k = .fullyConnected(a)
        case ("keep_num_dims", .fullyConnected(var a)): a.keepNumDims = try bool(); k = .fullyConnected(a)
        case ("asymmetric_quantize_inputs", .fullyConnected(var a)): a.asymmetricQuantizeInputs = try bool(); k = .fullyConnected(a)
        case ("quantized_bias_type", .fullyConnected(var a)): a.quantizedBiasType = try int8(); k = .fullyConnected(a)
        case ("quantized_bias_type", .conv2D(var a)): a.quantizedBiasType = try int8(); k = .conv2D(a)
        case ("pot_scale_int16", .add(var a)): a.potScaleInt16 = try bool(); k = .add(a)
        case ("pot_scale_int16", .sub(var a)): a.potScaleInt16 = try bool(); k = .sub(a)
        case ("beta", .softmax):
            guard let d = value.number else { throw RuleEvalError("beta: expected a number, got \(value)") }
            k = .softmax(beta: Float(d))
        case ("keep_dims", .mean): k = .mean(keepDims: try bool())
        case ("axis", .concatenation(_, let act)): k = .concatenation(axis: try int32(), activation: act)
        case ("axis", .pack(let n, _)): k = .pack(valuesCount: n, axis: try int32())
        case ("axis", .gather(_, let b)): k = .gather(axis: try int32(), batchDims: b)
        case ("new_shape", .reshape):
            let s = try ints()
            k = .reshape(newShape: s.isEmpty ? nil : s)
        case ("out_type", .shape):
            guard case .symbol(let s) = value, let t = DType(name: s) else { throw RuleEvalError("out_type: expected a dtype, got \(value)") }
            k = .shape(outType: t)
        case ("begin_mask", .stridedSlice(var a)): a.beginMask = try int32(); k = .stridedSlice(a)
        case ("end_mask", .stridedSlice(var a)): a.endMask = try int32(); k = .stridedSlice(a)
        case ("ellipsis_mask", .stridedSlice(var a)): a.ellipsisMask = try int32(); k = .stridedSlice(a)
        case ("new_axis_mask", .stridedSlice(var a)): a.newAxisMask = try int32(); k = .stridedSlice(a)
        case ("shrink_axis_mask", .stridedSlice(var a)): a.shrinkAxisMask = try int32(); k = .stridedSlice(a)
        case ("offset", .stridedSlice(var a)): a.offset = try bool(); k = .stridedSlice(a)
        case ("values_count", .pack(_, let axis)): k = .pack(valuesCount: try int32(), axis: axis)
        case ("squeeze_dims", .squeeze): k = .squeeze(dims: try ints())
        case ("batch_dims", .gather(let axis, _)): k = .gather(axis: axis, batchDims: try int32())
        default:
            throw RuleEvalError("\(kind.name) has no settable attribute '\(name)'")
        }
        kind = k
    }

    /// A new op kind with default attributes (those a converter writes for the plain op).
    package static func defaultKind(_ op: BuiltinOperator, customCode: String? = nil) -> OpKind {
        switch op {
        case .conv2D: return .conv2D(Conv2DAttributes(padding: .same, strideW: 1, strideH: 1))
        case .depthwiseConv2D: return .depthwiseConv2D(DepthwiseConv2DAttributes(padding: .same, strideW: 1, strideH: 1, depthMultiplier: 1))
        case .fullyConnected: return .fullyConnected(FullyConnectedAttributes())
        case .averagePool2D: return .averagePool2D(Pool2DAttributes(padding: .same, strideW: 1, strideH: 1, filterW: 1, filterH: 1))
        case .maxPool2D: return .maxPool2D(Pool2DAttributes(padding: .same, strideW: 1, strideH: 1, filterW: 1, filterH: 1))
        case .reshape: return .reshape(newShape: nil)
        case .softmax: return .softmax(beta: 1)
        case .add: return .add(ArithmeticAttributes())
        case .sub: return .sub(ArithmeticAttributes())
        case .mul: return .mul(activation: .none)
        case .mean: return .mean(keepDims: false)
        case .pad: return .pad
        case .concatenation: return .concatenation(axis: 0, activation: .none)
        case .quantize: return .quantize
        case .dequantize: return .dequantize
        case .shape: return .shape(outType: .int32)
        case .stridedSlice: return .stridedSlice(StridedSliceAttributes())
        case .pack: return .pack(valuesCount: 0, axis: 0)
        case .squeeze: return .squeeze(dims: [])
        case .gather: return .gather(axis: 0, batchDims: 0)
        case .relu: return .relu
        case .relu6: return .relu6
        case .logistic: return .logistic
        case .tanh: return .tanh
        case .custom: return .custom(code: customCode ?? "")
        default: return .builtin(op, options: nil)
        }
    }
}
