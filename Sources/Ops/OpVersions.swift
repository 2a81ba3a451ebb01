import FlatBuffers
import IR
import Kernels
import Support

/// The lowest OperatorCode.version an op needs, from its actual tensor types and options.
///
/// The rules restate TFLite's `op_version.cc` (FACTS.md §2.1): for each op a list of conditions
/// checked in order, the first that holds giving the version. The converter only ever raises
/// versions; tfrewrite recomputes the minimum so runtimes that match versions exactly (old
/// TFLM, FACTS.md §2.3) accept the model.
public struct MinimumVersion: Hashable, Sendable, CustomStringConvertible {
    public var version: Int32
    /// Why this version, e.g. "int8 input, weights and output".
    public var reason: String
    public init(_ version: Int32, _ reason: String) {
        self.version = version
        self.reason = reason
    }
    public var description: String { "v\(version) (\(reason))" }
}

public enum OpVersions {
    package static let mirrorPad = BuiltinOperator(100)
    package static let reduceMax = BuiltinOperator(82)
    package static let reduceMin = BuiltinOperator(89)

    /// The minimum version of `op`, nil for custom ops and builtins tfrewrite has no rule for
    /// (those keep the version they have).
    public static func minimum(_ op: Op, in graph: Graph, model: Model) -> MinimumVersion? {
        let s = Signature(op: op, graph: graph, model: model)
        switch op.builtinOperator {
        case .conv2D: return conv2D(s)
        case .depthwiseConv2D: return depthwiseConv2D(s)
        case .fullyConnected: return fullyConnected(s)
        case .softmax, .mean, .relu6, .rsqrt, Self.mirrorPad, Self.reduceMax, Self.reduceMin:
            return s.first([
                (s.input(0) == .int16, 3, "int16 input"),
                (s.input(0) == .int8, 2, "int8 input"),
            ])
        case .add: return add(s)
        case .sub: return sub(s)
        case .mul: return mul(s)
        case .averagePool2D, .maxPool2D:
            return s.first([
                (s.input(0) == .int16 && s.output(0) == .int16, 3, "int16 input and output"),
                (s.input(0) == .int8, 2, "int8 input"),
            ])
        case .reshape, .shape, .expandDims, .hardSwish:
            return MinimumVersion(1, "no version rule: always 1")
        case .quantize:
            return s.first([
                (s.input(0) == .uint4 || s.output(0) == .uint4, 5, "uint4 input or output"),
                (s.input(0) == .int4 || s.output(0) == .int4, 4, "int4 input or output"),
                (s.perChannelOutput, 3, "per-channel output quantization"),
                (s.output(0) == .int16, 2, "int16 output"),
            ])
        case .dequantize:
            return s.first([
                (s.input(0) == .uint4, 8, "uint4 input"),
                (s.input(0) == .int2, 7, "int2 input"),
                (s.input(0) == .int4, 6, "int4 input"),
                (s.input(0) == .int16 || s.input(0) == .float16, 3, "\(s.name(s.input(0))) input"),
                (s.input(0) == .int8 && s.perChannelInput, 5, "per-channel int8 input"),
                (s.input(0) == .int8, 2, "int8 input"),
            ])
        case .concatenation:
            return s.first([
                (s.input(0) == .int4, 5, "int4 inputs"),
                (s.input(0) == .uint32, 4, "uint32 inputs"),
                (s.input(0) == .int16, 3, "int16 inputs"),
                (s.input(0) == .int8, 2, "int8 inputs"),
            ])
        case .pad, .padV2:
            return s.first([
                (s.input(0) == .bool, 5, "bool input"),
                (s.rank(0) > 4, 4, "input rank \(s.rank(0)) > 4"),
                (s.input(0) == .int16, 3, "int16 input"),
                (s.input(0) == .int8, 2, "int8 input"),
            ])
        case .logistic, .tanh:
            return s.first([
                (s.input(0) == .int16 && s.output(0) == .int16, 3, "int16 input and output"),
                (s.input(0) == .int8, 2, "int8 input"),
            ])
        case .relu:
            return s.first([
                (s.input(0) == .int16, 3, "int16 input"),
                (s.input(0) == .int8 || s.input(0) == .uint8, 2, "\(s.name(s.input(0))) input"),
            ])
        case .stridedSlice: return stridedSlice(s)
        case .transpose:
            return s.first([
                (s.rank(0) > 6 || s.input(0) == .bfloat16, 8, s.input(0) == .bfloat16 ? "bfloat16 input" : "input rank \(s.rank(0)) > 6"),
                (s.input(0) == .int4, 7, "int4 input"),
                (s.rank(0) > 5, 6, "input rank \(s.rank(0)) > 5"),
                (s.input(0) == .int16, 5, "int16 input"),
                (s.rank(0) > 4, 4, "input rank \(s.rank(0)) > 4"),
                (s.input(0) == .bool, 3, "bool input"),
                (s.input(0) == .int8, 2, "int8 input"),
            ])
        case .pack:
            return s.first([
                (s.input(0) == .int8, 2, "int8 inputs"),
                (s.input(0) == .int16 && s.output(0) == .int16, 3, "int16 inputs and output"),
                (s.input(0) == .uint32, 4, "uint32 inputs"),
            ])
        case .cast: return cast(s)
        case .squeeze:
            return s.first([(s.input(0) == .string, 2, "string input")])
        case .leakyRelu:
            return s.first([(s.input(0) == .int16, 2, "int16 input")])
        case .gather:
            var batchDims: Int32 = 0
            if case .gather(_, let b) = op.kind { batchDims = b }
            return s.first([
                (s.input(0) == .int4, 7, "int4 params"),
                (s.input(1) == .int16, 6, "int16 indices"),
                (batchDims != 0, 5, "batch_dims \(batchDims)"),
                (s.input(0) == .int16, 4, "int16 params"),
                (s.input(0) == .bool, 3, "bool params"),
                (s.input(0) == .int8, 2, "int8 params"),
            ])
        case .maximum, .minimum:
            return s.first([
                (s.input(0) == .int16 && s.output(0) == .int16, 4, "int16 inputs and output"),
                (s.broadcastsAbove4D, 3, "broadcast with more than 4 dimensions"),
                (s.input(0) == .int8, 2, "int8 inputs"),
            ])
        case .div:
            return s.first([(s.broadcastsAbove4D, 2, "broadcast with more than 4 dimensions")])
        default:
            return special(s)
        }
    }

    // MARK: Ops with longer rules

    package static func conv2D(_ s: Signature) -> MinimumVersion {
        var biasType: Int8 = 0
        if case .conv2D(let a) = s.op.kind { biasType = a.quantizedBiasType }
        let grouped = s.rank(0) == 4 && s.rank(1) == 4 && s.shape(0)[3] != s.shape(1)[3]
        let hybrid = s.input(0) == .float32 && s.input(1) == .int8 && s.output(0) == .float32
        // Per-channel: one filter scale per output channel, filter dim 0 (FACTS.md §2.1).
        let perChannel = s.rank(1) >= 1 && s.scaleCount(1) == Int(s.shape(1)[0])
        return s.first([
            (s.input(0) == .int16 && s.input(1) == .int8 && s.output(0) == .int16 && biasType != 0, 8, "int16 activations with quantized_bias_type"),
            (grouped, 6, "grouped convolution: input has \(s.dim(0, 3)) channels, filter \(s.dim(1, 3))"),
            (s.input(0) == .int16 && s.input(1) == .int16 && s.output(0) == .int16, 4, "int16 input, filter and output"),
            (s.input(0) == .int8 && s.input(1) == .int8 && s.output(0) == .int8, 3, "int8 input, filter and output"),
            (s.input(0) == .int8 && s.input(1) == .int4 && s.output(0) == .int8, 7, "int4 filter"),
            (hybrid && perChannel, 5, "float input with per-channel int8 filter (hybrid)"),
            (hybrid, 2, "float input with int8 filter (hybrid)"),
        ])
    }

    package static func depthwiseConv2D(_ s: Signature) -> MinimumVersion {
        var dilated = false
        if case .depthwiseConv2D(let a) = s.op.kind { dilated = a.dilationW != 1 || a.dilationH != 1 }
        let hybrid = s.input(0) == .float32 && s.input(1) == .int8 && s.output(0) == .float32
        let perChannel = s.rank(1) == 4 && s.scaleCount(1) == Int(s.shape(1)[3])
        return s.first([
            (s.input(0) == .int16 && s.input(1) == .int16 && s.output(0) == .int16, 5, "int16 input, filter and output"),
            (hybrid && perChannel, 6, "float input with per-channel int8 filter (hybrid)"),
            (hybrid, 4, "float input with int8 filter (hybrid)"),
            (s.input(0) == .int8 && s.input(1) == .int8 && s.output(0) == .int8, 3, "int8 input, filter and output"),
            (s.input(0) == .int8 && s.input(1) == .int4 && s.output(0) == .int8, 7, "int4 filter"),
            (dilated, 2, "dilation other than 1"),
        ])
    }

    package static func fullyConnected(_ s: Signature) -> MinimumVersion {
        var a = FullyConnectedAttributes()
        if case .fullyConnected(let attrs) = s.op.kind { a = attrs }
        let hybrid = s.input(0) == .float32 && s.input(1) == .int8 && s.output(0) == .float32
        let perChannel = s.rank(1) >= 1 && s.scaleCount(1) == Int(s.shape(1)[0])
        return s.first([
            (s.input(1) == .int2, 14, "int2 weights"),
            (s.input(0) == .int16 && s.input(1) == .int4 && s.output(0) == .int16, 13, "int16 activations with int4 weights"),
            (hybrid && perChannel, 12, "float input with per-channel int8 weights (hybrid)"),
            (s.input(0) == .int16 && s.input(1) == .int8 && s.output(0) == .int16 && a.quantizedBiasType != 0, 11, "int16 activations with quantized_bias_type"),
            (s.input(0) == .int16 && s.input(1) == .int16 && s.output(0) == .int16, 7, "int16 input, weights and output"),
            // An absent bias written as −1 still counts as an input; only a 2-input op needs v6.
            (s.op.inputs.count == 2, 6, "only 2 inputs (no bias slot)"),
            (a.keepNumDims, 5, "keep_num_dims"),
            (s.input(0) == .int8 && s.input(1) == .int8 && s.output(0) == .int8, 4, "int8 input, weights and output"),
            (s.input(0) == .int8 && s.input(1) == .int4 && s.output(0) == .int8, 10, "int4 weights"),
            (hybrid && a.asymmetricQuantizeInputs, 9, "float input with int8 weights (hybrid, asymmetric inputs)"),
            (hybrid, 3, "float input with int8 weights (hybrid)"),
            (a.weightsFormat == 1, 2, "shuffled 4x16 int8 weights"),
        ])
    }

    package static func add(_ s: Signature) -> MinimumVersion {
        var pot = true
        if case .add(let a) = s.op.kind { pot = a.potScaleInt16 }
        let quantized = s.value(0)?.type.isQuantized ?? false
        return s.first([
            (s.input(0) == .float16, 6, "float16 inputs"),
            (s.input(0) == .int16 && !quantized, 5, "non-quantized int16 inputs"),
            (s.input(0) == .int64, 4, "int64 inputs"),
            (s.input(0) == .int16 && s.output(0) == .int16 && !pot, 3, "int16 with pot_scale_int16 false"),
            (s.input(0) == .int8, 2, "int8 inputs"),
        ])
    }

    package static func sub(_ s: Signature) -> MinimumVersion {
        var pot = true
        if case .sub(let a) = s.op.kind { pot = a.potScaleInt16 }
        return s.first([
            (s.input(0) == .int16 && s.output(0) == .int16 && !pot, 5, "int16 with pot_scale_int16 false"),
            (s.input(0) == .int64, 4, "int64 inputs"),
            (s.broadcastsAbove4D, 3, "broadcast with more than 4 dimensions"),
            (s.input(0) == .int8, 2, "int8 inputs"),
        ])
    }

    package static func mul(_ s: Signature) -> MinimumVersion {
        let quantized = s.value(0)?.type.isQuantized ?? false
        var rescaleAtLeastOne = false
        if let a = s.value(0)?.quantization?.scales.first, let b = s.value(1)?.quantization?.scales.first,
            let o = s.outputValue(0)?.quantization?.scales.first, a != 0, b != 0, o != 0
        {
            rescaleAtLeastOne = Double(a) * Double(b) / Double(o) >= 1
        }
        return s.first([
            (s.input(0) == .float16, 8, "float16 inputs"),
            ((s.input(0) == .int16 && !quantized) || s.input(0) == .uint32, 7, "\(s.name(s.input(0))) inputs without quantization"),
            (s.input(0) == .complex64, 6, "complex64 inputs"),
            (s.input(0) == .int64, 5, "int64 inputs"),
            (s.input(0) == .int16, 4, "int16 inputs"),
            (rescaleAtLeastOne, 3, "input scales product / output scale ≥ 1"),
            (s.input(0) == .int8, 2, "int8 inputs"),
        ])
    }

    package static func stridedSlice(_ s: Signature) -> MinimumVersion {
        var a = StridedSliceAttributes()
        if case .stridedSlice(let attrs) = s.op.kind { a = attrs }
        return s.first([
            (a.offset, 8, "offset option"),
            (s.input(0) == .uint32, 7, "uint32 input"),
            (a.ellipsisMask != 0 || a.newAxisMask != 0, 6, "ellipsis or new-axis mask"),
            (s.input(0) == .string, 5, "string input"),
            (s.rank(0) > 4, 4, "input rank \(s.rank(0)) > 4"),
            (s.input(0) == .bool, 3, "bool input"),
            (s.input(0) == .int8, 2, "int8 input"),
        ])
    }

    package static func cast(_ s: Signature) -> MinimumVersion {
        func either(_ t: DType) -> Bool { s.input(0) == t || s.output(0) == t }
        return s.first([
            (either(.int2) || either(.uint4), 8, "int2 or uint4 cast"),
            (either(.bfloat16), 7, "bfloat16 cast"),
            (s.input(0) == .int4 && s.output(0) == .float32, 6, "int4 to float32"),
            (either(.float64) || either(.float16), 5, "float64 or float16 cast"),
            (either(.uint16), 4, "uint16 cast"),
            (either(.int8), 3, "int8 cast"),
            (either(.uint32), 2, "uint32 cast"),
        ])
    }

    /// Ops the IR keeps opaquely whose rules read their options table.
    package static func special(_ s: Signature) -> MinimumVersion? {
        switch s.op.builtinOperator.name {
        case "SVDF":
            // SVDFOptions: 0 rank, 1 fused_activation_function, 2 asymmetric_quantize_inputs.
            let hybrid = s.input(0) == .float32 && s.input(1) == .int8 && s.output(0) == .float32
            return s.first([
                (s.input(0) == .int8, 3, "int8 input"),
                (hybrid && s.opaqueBool(field: 2), 4, "float input with int8 weights (hybrid, asymmetric inputs)"),
                (hybrid, 2, "float input with int8 weights (hybrid)"),
            ])
        case "UNIDIRECTIONAL_SEQUENCE_LSTM":
            // Options: 4 asymmetric_quantize_inputs, 5 diagonal_recurrent_tensors.
            let hybrid = s.input(0) == .float32 && s.input(2) == .int8 && s.output(0) == .float32
            return s.first([
                (s.input(0) == .int16 && s.input(2) == .int8 && s.output(0) == .int16, 5, "int16 activations with int8 weights"),
                (s.opaqueBool(field: 5), 4, "diagonal recurrent tensors"),
                (hybrid && s.opaqueBool(field: 4), 3, "float input with int8 weights (hybrid, asymmetric inputs)"),
                (hybrid, 2, "float input with int8 weights (hybrid)"),
            ])
        case "SLICE":
            return s.first([
                (s.input(0) == .int4, 7, "int4 input"),
                (s.input(0) == .uint32, 6, "uint32 input"),
                (s.rank(0) > 4, 5, "input rank \(s.rank(0)) > 4"),
                (s.input(0) == .int16, 4, "int16 input"),
                (s.input(0) == .string, 3, "string input"),
                (s.input(0) == .int8, 2, "int8 input"),
            ])
        case "SPLIT":
            // The data is input 1; input 0 is the axis.
            return s.first([
                (s.input(1) == .int16, 4, "int16 input"),
                (s.input(1) == .int32, 3, "int32 input"),
                (s.input(1) == .int8, 2, "int8 input"),
            ])
        case "UNPACK":
            return s.first([
                (s.input(0) == .int8 || s.input(0) == .uint8, 2, "\(s.name(s.input(0))) input"),
                (s.input(0) == .bool, 3, "bool input"),
                (s.input(0) == .int16 && s.output(0) == .int16, 4, "int16 input and output"),
                (s.input(0) == .float16 || s.input(0) == .bfloat16, 5, "\(s.name(s.input(0))) input"),
            ])
        case "L2_NORMALIZATION":
            return s.first([(s.output(0) == .int8, 2, "int8 output")])
        case "ARG_MAX", "ARG_MIN":
            return s.first([
                (s.input(0) == .bool, 3, "bool input"),
                (s.input(0) == .int8, 2, "int8 input"),
            ])
        case "SPACE_TO_DEPTH", "SPLIT_V", "SUM", "LOG_SOFTMAX", "GREATER", "LESS_EQUAL", "SQUARED_DIFFERENCE", "DEPTH_TO_SPACE":
            return s.first([(s.input(0) == .int8, 2, "int8 input")])
        case "LESS", "GREATER_EQUAL":
            return s.first([
                (s.input(0) == .int16, 3, "int16 input"),
                (s.input(0) == .int8, 2, "int8 input"),
            ])
        case "SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND":
            return s.first([
                (s.input(0) == .int16, 4, "int16 input"),
                (s.rank(0) != 4, 3, "input rank \(s.rank(0)) is not 4"),
                (s.input(0) == .int8, 2, "int8 input"),
            ])
        case "EXP", "LOG", "REDUCE_PROD", "SQRT":
            return s.first([(s.input(0) == .int8 || s.input(0) == .int16, 2, "\(s.name(s.input(0))) input")])
        default:
            return nil
        }
    }

    /// What the rules look at: the op's tensors (an absent optional input has no type).
    package struct Signature {
        package let op: Op
        package let graph: Graph
        package let model: Model

        package func value(_ i: Int) -> Value? {
            guard i < op.inputs.count, !op.inputs[i].isAbsent, op.inputs[i].index < graph.values.count else { return nil }
            return graph[op.inputs[i]]
        }
        package func outputValue(_ i: Int) -> Value? {
            guard i < op.outputs.count, !op.outputs[i].isAbsent, op.outputs[i].index < graph.values.count else { return nil }
            return graph[op.outputs[i]]
        }
        package func input(_ i: Int) -> DType? { value(i)?.dtype }
        package func output(_ i: Int) -> DType? { outputValue(i)?.dtype }
        package func rank(_ i: Int) -> Int { value(i)?.rank ?? 0 }
        package func shape(_ i: Int) -> [Int32] { value(i)?.shape ?? [] }
        package func dim(_ i: Int, _ d: Int) -> Int32 { d < shape(i).count ? shape(i)[d] : -1 }
        package func scaleCount(_ i: Int) -> Int { value(i)?.quantization?.scales.count ?? 0 }
        package func name(_ t: DType?) -> String { t?.name.lowercased() ?? "no" }

        package var perChannelInput: Bool { scaleCount(0) > 1 }
        package var perChannelOutput: Bool {
            guard let v = outputValue(0), let q = v.quantization, q.scales.count > 1 else { return false }
            return q.axis >= 0 && Int(q.axis) < v.rank && Int(v.shape[Int(q.axis)]) == q.scales.count
        }
        /// op_version.cc's NeedBroadcastForBinaryInputs && GetInputMaxDims > 4.
        package var broadcastsAbove4D: Bool {
            guard let a = value(0), let b = value(1) else { return false }
            let maxRank = op.inputs.indices.map { rank($0) }.max() ?? 0
            return a.shape != b.shape && maxRank > 4
        }

        /// A bool field of an opaque options table (false when absent or out of range).
        package func opaqueBool(field: Int) -> Bool {
            guard case .builtin(_, let options?) = op.kind, field >= 0, field < options.vtable.count else { return false }
            let offset = Int(options.vtable[field])
            // vtable offsets count from the table start; the inline bytes follow its 4-byte soffset.
            guard offset >= 4, offset - 4 < options.inline.count else { return false }
            return options.inline[offset - 4] != 0
        }

        /// The first rule that holds, else version 1.
        package func first(_ rules: [(Bool, Int32, String)]) -> MinimumVersion {
            for (holds, v, why) in rules where holds { return MinimumVersion(v, why) }
            let types = op.inputs.indices.compactMap { input($0) }.map { $0.name.lowercased() }
            let summary = types.isEmpty ? "no typed inputs" : Array(Set(types)).sorted().joined(separator: "/") + " inputs"
            return MinimumVersion(1, "\(summary): no rule needs more than v1")
        }
    }
}
