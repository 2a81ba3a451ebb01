import IR
import Ops

/// What a target's kernels refuse although the op is registered: each finding here is an
/// op whose Prepare (or Eval) fails on the runtime, so a model with one does not run. Shared by
/// the `check-target` pass and the `check` lint, so both say the same thing.
///
/// Facts (tflite-micro tensorflow/lite/micro/kernels/, measured with the tflite_micro Python
/// package, see Tests/Conformance/test_honest_exits.py):
/// - hybrid ops: fully_connected.cc / conv.cc / depthwise_conv.cc reject a float32 input with
///   int8 filter ("Input type: FLOAT32 with filter type: INT8 not supported");
/// - float16: no kernel takes kTfLiteFloat16 (dequantize.cc accepts int8/int16/uint8 inputs only);
/// - sparse constants: only LiteRT has sparse kernels (fully_connected.cc's sparse path) and
///   DENSIFY; tflite-micro's kernels read every buffer as a dense tensor;
/// - uint8: kernels take int8, except quantize.cc (uint8 <-> int8 requantization) and
///   dequantize_common.cc (uint8 -> float32): the edges of a uint8-I/O model, which the TFLM
///   package loads and runs (Fixtures/repair/mlp_int8_uint8_io.tflite).
package enum KernelLimits {
    /// The first problem `op` has on `target`, as a short reason; nil when its kernel runs it.
    package static func problem(_ op: Op, in g: Graph, subgraph: Int, model: Model, target: TargetProfile) -> String? {
        if let v = runtimeSizedOutput(op, in: g, subgraph: subgraph, target: target) {
            return runtimeSizeReason(v)
        }
        if op.kind.customCode != nil { return nil }
        if op.builtinOperator != .densify, let v = values(op.inputs, g).first(where: { $0.sparsity != nil }) {
            return "reads the sparse constant \"\(v.name)\" ; the target's kernels take dense tensors only (densify-sparse-constants stores it densely)"
        }
        if !target.quantization.hybrid, let w = hybridWeights(op, in: g, model: model) {
            return "hybrid (float input, \(w.dtype.name.lowercased()) weights \"\(w.name)\"), which the target's kernels do not run (give --quantize int8 --calibration DATA to make it full int8)"
        }
        if !target.quantization.float16, let h = float16Tensor(op, in: g) {
            return "reads or writes float16 \"\(h.name)\"; the target has no float16 kernels"
        }
        if !target.quantization.uint8, let u = uint8Tensor(op, in: g) {
            return "uses uint8 quantization (\"\(u.name)\"); the target's kernels take int8 only"
        }
        if let t = unsupportedType(op, in: g, target: target) {
            return "reads or writes \(t.dtype.name.lowercased()) \"\(t.name)\", a type the target's tensor_types lack"
        }
        if !target.quantization.groupedConv, isGroupedConv(op, in: g) {
            return "is a grouped convolution (filter with fewer input channels than its input), which the target's CONV_2D kernel refuses (ungroup-conv rewrites it exactly)"
        }
        if let (t, measured) = unmeasuredType(op, in: g, model: model, target: target) {
            return typeReason(op, t, measured)
        }
        return nil
    }

    /// The type an op computes in, as measured profiles record it (scripts/measure-tflm-profile.py):
    /// the element type of its first non-constant input. nil when every input is constant.
    package static func signatureType(_ op: Op, in g: Graph, model: Model) -> DType? {
        values(op.inputs, g).first { !model.isConstant($0) }?.dtype
    }

    /// The op's type and the types its kernel was measured to run, when the target measured this
    /// op (`op_types`) and that type did not load and run on it.
    package static func unmeasuredType(_ op: Op, in g: Graph, model: Model, target: TargetProfile) -> (DType, Set<DType>)? {
        guard op.kind.customCode == nil, let measured = target.opTypes[op.name], let t = signatureType(op, in: g, model: model),
            !measured.contains(t), !isHandle(t)
        else { return nil }
        return (t, measured)
    }

    /// An output whose size only the run decides (a −1 in its shape signature that is not the
    /// main graph's batch), on a runtime that sizes every tensor once from the file. TFLM's
    /// allocator (micro_allocator.cc, micro_allocation_info.cc) plans each tensor from the static
    /// `shape` and never resizes it, so a kernel that computes the real size at run time — a
    /// SLICE whose begin/size come from a loop counter, as Keras 3's stacked LSTM loop body has —
    /// writes past the planned bytes: current TFLM returns wrong outputs, the 2023/2024 wheels
    /// abort. A leading −1 in the main graph is the batch, which TFLM fixes at the static size.
    package static func runtimeSizedOutput(_ op: Op, in g: Graph, subgraph: Int, target: TargetProfile) -> Value? {
        guard target.runtime == "tflm" else { return nil }
        return values(op.outputs, g).first { v in
            guard let signature = v.shapeSignature else { return false }
            return signature.dropFirst(subgraph == 0 ? 1 : 0).contains(-1)
        }
    }

    package static func runtimeSizeReason(_ v: Value) -> String {
        let signature = (v.shapeSignature ?? []).map { $0 < 0 ? "?" : String($0) }.joined(separator: ",")
        let shape = v.shape.map(String.init).joined(separator: ",")
        return "writes \"\(v.name)\", whose size is known only at run time (shape [\(signature)]); the target plans it once from the file's shape [\(shape)] and never resizes it, so the kernel writes past it"
    }

    package static func typeReason(_ op: Op, _ t: DType, _ measured: Set<DType>) -> String {
        let ran = measured.map { $0.name.lowercased() }.sorted().joined(separator: ", ")
        return "computes in \(t.name.lowercased()), which the target's \(op.name) kernel does not run (measured: \(ran.isEmpty ? "no type" : ran))"
    }

    /// A CONV_2D whose filter [O, H, W, I] has fewer input channels than its input (tflite-micro's
    /// conv.cc before grouped support rejects it; LiteRT's conv.cc computes groups = in / I).
    package static func isGroupedConv(_ op: Op, in g: Graph) -> Bool {
        guard op.builtinOperator == .conv2D, op.inputs.count >= 2, !op.inputs[0].isAbsent, !op.inputs[1].isAbsent,
            let channels = g[op.inputs[0]].shape.last, let filterChannels = g[op.inputs[1]].shape.last
        else { return false }
        return g[op.inputs[1]].shape.count == 4 && filterChannels > 0 && channels != filterChannels
    }

    static func values(_ ids: [ValueID], _ g: Graph) -> [Value] {
        ids.compactMap { $0.isAbsent || $0.index >= g.values.count ? nil : g[$0] }
    }

    /// A constant quantized weight of an op that computes in float (float activation in and out).
    package static func hybridWeights(_ op: Op, in g: Graph, model: Model) -> Value? {
        hybridWeightsOperand(op, in: g, model: model).map { g[op.inputs[$0]] }
    }

    /// The input index of `hybridWeights`.
    package static func hybridWeightsOperand(_ op: Op, in g: Graph, model: Model) -> Int? {
        guard op.kind.customCode == nil, op.builtinOperator != .dequantize else { return nil }
        let outputs = values(op.outputs, g)
        let floatActivation = values(op.inputs, g).contains { !model.isConstant($0) && $0.dtype == .float32 } && outputs.contains { $0.dtype == .float32 }
        guard floatActivation else { return nil }
        return op.inputs.indices.first { k in
            let id = op.inputs[k]
            guard !id.isAbsent, id.index < g.values.count else { return false }
            let v = g[id]
            return model.isConstant(v) && (v.dtype == .int8 || v.dtype == .uint8 || v.dtype == .int4) && v.type.isQuantized
        }
    }

    package static func float16Tensor(_ op: Op, in g: Graph) -> Value? {
        (values(op.inputs, g) + values(op.outputs, g)).first { $0.dtype == .float16 }
    }

    /// A uint8-quantized tensor of an op whose kernel takes int8 only. TFLM's quantize.cc
    /// requantizes uint8 <-> int8 and dequantize.cc reads uint8, so those edges are not reported.
    package static func uint8Tensor(_ op: Op, in g: Graph) -> Value? {
        let inputs = values(op.inputs, g)
        let outputs = values(op.outputs, g)
        let isUInt8 = { (v: Value) in v.dtype == .uint8 && v.type.isQuantized }
        switch op.builtinOperator {
        case .quantize where inputs.allSatisfy({ isUInt8($0) || $0.dtype == .int8 }) && outputs.allSatisfy({ isUInt8($0) || $0.dtype == .int8 }):
            return nil
        case .dequantize where outputs.allSatisfy({ $0.dtype == .float32 }):
            return nil
        default:
            return (inputs + outputs).first(where: isUInt8)
        }
    }

    package static func unsupportedType(_ op: Op, in g: Graph, target: TargetProfile) -> Value? {
        guard target.tensorTypes != nil, checksTensorTypes(op) else { return nil }
        return (values(op.inputs, g) + values(op.outputs, g)).first { !isHandle($0.dtype) && !target.allows($0.dtype) }
    }

    /// Whether the target's `tensor_types` apply to this op's tensors. Custom ops (the signal
    /// library's uint32/uint64 spectra) and CAST (which converts to uint32 for them) bring their
    /// own types: TFLM runs audio_preprocessor_int8.tflite, whose SignalEnergy, CAST and
    /// SignalFilterBank read and write uint32 and uint64.
    package static func checksTensorTypes(_ op: Op) -> Bool {
        op.kind.customCode == nil && op.builtinOperator != .cast
    }

    /// A resource tensor is a handle, not data: VAR_HANDLE makes it and READ_VARIABLE /
    /// ASSIGN_VARIABLE take it (tflite-micro kernels/var_handle.cc, read_variable.cc), whatever
    /// tensor types the kernels compute in.
    package static func isHandle(_ type: DType) -> Bool { type == .resource }
}
