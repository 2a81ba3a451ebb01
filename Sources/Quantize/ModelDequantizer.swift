import IR
import Ops
import Support

/// Turns an already quantized model (int8 or uint8 activations, int8/uint8 weights, int32
/// biases — e.g. a TF1 TOCO uint8 model) back into float32, so that `--quantize int8` can
/// requantize it from calibration data: per-channel int8 weights and int8 I/O, as the int8
/// spec (TFLite's quantization_spec.md) and TFLM's int8 kernels expect.
///
///     Given:   input %0 "x": u8[1,8] q(0.1, 128)
///              #0 FULLY_CONNECTED (%0, %1 u8 weights q(s_w, 120), %2 i32 bias q(0.1·s_w, 0)) -> %3: u8 q(s_3, z_3)
///     Result:  input %0 "x": f32[1,8]
///              #0 FULLY_CONNECTED (%0, %1 f32 = s_w·(w − 120), %2 f32 = 0.1·s_w·b) -> %3: f32
///
/// Every constant with scales becomes its real values (per channel along its axis); every
/// quantized runtime tensor becomes float32; QUANTIZE and DEQUANTIZE ops, now float → float,
/// are removed (a graph output keeps its name). The weights are then exactly what the
/// quantized model computed with, so requantizing starts from the deployed model, not from a
/// float model that may no longer exist. Only subgraph 0 is changed.
package enum ModelDequantizer {
    package struct Result {
        package var model: Model
        package var constants = 0
        package var tensors = 0
        package var removedOps = 0
        /// The dtype the activations had ("uint8", "int8").
        package var activationType: String = ""
    }

    /// Whether subgraph 0 has quantized (int8/uint8/int16) runtime tensors with scales and no
    /// float32 runtime tensors other than I/O converted by QUANTIZE/DEQUANTIZE.
    package static func isQuantized(_ model: Model) -> Bool {
        guard let g = model.subgraphs.first else { return false }
        var quantized = false
        for v in g.values where !model.isConstant(v) {
            if [.int8, .uint8].contains(v.dtype), v.quantization?.hasScales == true { quantized = true }
        }
        guard quantized else { return false }
        // Float ops other than the edge converters mean a hybrid/partly float model: not ours to requantize.
        for op in g.ops where !op.isErased {
            if op.builtinOperator == .quantize || op.builtinOperator == .dequantize { continue }
            if op.outputs.contains(where: { !$0.isAbsent && g[$0].dtype == .float32 }) { return false }
        }
        return true
    }

    package static func dequantize(_ model: Model) -> Result {
        var result = Result(model: model)
        var m = model
        var kinds = Set<String>()
        for i in m.subgraphs[0].values.indices {
            let id = ValueID(Int32(i))
            let v = m.subgraphs[0][id]
            guard let q = v.quantization, q.hasScales, [.int8, .uint8, .int16, .int32].contains(v.dtype) else { continue }
            if m.isConstant(v) {
                guard let t = m.constant(v) else { continue }
                m.setConstant(id, ConstantTensor(floats: realValues(t, q), shape: t.shape))
                result.constants += 1
            } else if v.dtype != .int32 {
                kinds.insert(v.dtype.name.lowercased())
                m.subgraphs[0][id].type = ElementType(.float32)
                result.tensors += 1
            }
        }
        var g = m.subgraphs[0]
        // QUANTIZE / DEQUANTIZE between float tensors are identities now.
        for i in g.ops.indices where !g.ops[i].isErased {
            let op = g.ops[i]
            guard op.builtinOperator == .quantize || op.builtinOperator == .dequantize,
                  let x = op.input(0), let y = op.outputs.first, g[x].dtype == .float32, g[y].dtype == .float32 else { continue }
            if g.isGraphOutput(y) && !g.isGraphInput(x) && !g.isGraphOutput(x) {
                // The output keeps its name (and its place in the signature): the producer writes it directly.
                guard let p = g.producer(of: x) else { continue }
                for k in g.ops[p.index].outputs.indices where g.ops[p.index].outputs[k] == x { g.ops[p.index].outputs[k] = y }
                for j in g.ops.indices where j != i && !g.ops[j].isErased {
                    for k in g.ops[j].inputs.indices where g.ops[j].inputs[k] == x { g.ops[j].inputs[k] = y }
                }
            } else if g.isGraphOutput(y) {
                continue  // input straight to output: keep the copy
            } else {
                g.replaceAllUses(of: y, with: x)
            }
            g.eraseOp(OpID(i))
            result.removedOps += 1
        }
        m.subgraphs[0] = g
        _ = m.subgraphs[0].compact()
        _ = m.compactValues(inSubgraph: 0)
        _ = m.removeUnusedBuffers()
        result.model = m
        result.activationType = kinds.sorted().joined(separator: "/")
        return result
    }

    /// (q − zero point) · scale, per channel along the quantized axis.
    package static func realValues(_ t: ConstantTensor, _ q: Quantization) -> [Float] {
        let raw: [Double]
        switch t.type.dtype {
        case .int8: raw = t.scalars(Int8.self).map(Double.init)
        case .uint8: raw = t.scalars(UInt8.self).map(Double.init)
        case .int16: raw = t.scalars(Int16.self).map(Double.init)
        case .int32: raw = t.scalars(Int32.self).map(Double.init)
        default: raw = t.floats.map(Double.init)
        }
        let channels = q.scales.count
        let axis = channels > 1 ? Int(q.axis) : nil
        let (_, inner) = ConstantQuantizer.channelLayout(raw.count, shape: t.shape, axis: axis)
        return raw.enumerated().map { i, x in
            let c = channels > 1 ? (i / max(inner, 1)) % channels : 0
            let zero = c < q.zeroPoints.count ? Double(q.zeroPoints[c]) : 0
            return Float((x - zero) * Double(q.scales[c]))
        }
    }
}
