import IR
import Ops
import Rewrite

/// Turns the int8 weights of a hybrid ("dynamic-range") op back into the float32 values they
/// stand for, so that int8 post-training quantization can quantize the whole op — inputs and
/// outputs too — for runtimes without hybrid kernels (TFLM's fully_connected.cc, conv.cc and
/// depthwise_conv.cc refuse a float input with int8 weights). `PipelineBuilder` runs it right
/// before `quantize-int8`, and only then: without calibration data the op stays hybrid and the
/// target check names it.
///
/// Given:
///
///     const %1 "w": i8[2,2] q(axis 0: scales [0.5, 0.25], zp 0) = [2, -4, 8, 1]
///     #0 FULLY_CONNECTED v12 {asymmetric_quantize_inputs=true} (%0: f32[1,2], %1, %2) -> %3: f32[1,2]
///
/// Result:
///
///     const %1 "w": f32[2,2] = [1.0, -2.0, 2.0, 0.25]
///     #0 FULLY_CONNECTED v1 (%0, %1, %2) -> %3: f32[1,2]
///
/// The values are scale · (q − zero point) along the quantized axis, computed in float as
/// LiteRT's hybrid kernels scale their int32 accumulators (kernels/fully_connected.cc
/// EvalHybrid), and then exact: |q − zp| ≤ 255 needs 8 bits of the float's 24. A weight another
/// op also reads gets its own copy. FULLY_CONNECTED's `asymmetric_quantize_inputs` (how the
/// hybrid kernel quantizes its input on the fly, schema.fbs FullyConnectedOptions) is cleared:
/// it means nothing to a float or int8 op.
public struct DequantizeHybridWeights: PatternPass {
    public static let name = "dequantize-hybrid-weights"
    public static let summary = "Hybrid op's int8 weights → float32 (scale·(q−zp)), so quantize-int8 makes it full int8"

    public init() {}

    public init(options: PassOptions) throws {
        _ = try PassOptionReader(options, pass: Self.name, known: [])
    }

    public var patterns: [Pattern] { [Self.pattern] }

    public static let pattern = Pattern(name: name, rootKinds: nil) { r, id in
        let op = r[id]
        guard let k = KernelLimits.hybridWeightsOperand(op, in: r.graph, model: r.model), let data = r.constant(op.inputs[k]),
            let floats = dequantized(data)
        else { return false }
        r.replaceConstantOperand(of: id, at: k, with: ConstantTensor(floats: floats, shape: data.shape))
        if case .fullyConnected(var a) = r[id].kind, a.asymmetricQuantizeInputs {
            a.asymmetricQuantizeInputs = false
            r[id].kind = .fullyConnected(a)
        }
        if let minimum = OpVersions.minimum(r[id], in: r.graph, model: r.model) { r[id].version = minimum.version }
        return true
    }

    /// scale · (q − zero point) per element, along the per-channel axis when there is one; nil
    /// for types other than int8 and uint8 or parameters that do not fit the shape.
    package static func dequantized(_ t: ConstantTensor) -> [Float]? {
        guard let q = t.type.quantization, !q.scales.isEmpty else { return nil }
        let values: [Int32]
        switch t.type.dtype {
        case .int8: values = t.scalars(Int8.self).map(Int32.init)
        case .uint8: values = t.scalars(UInt8.self).map(Int32.init)
        default: return nil
        }
        let channels = q.scales.count
        let axis = channels > 1 ? Int(q.axis) : 0
        guard axis >= 0, axis < max(t.shape.count, 1), channels == 1 || Int(t.shape[axis]) == channels,
            q.zeroPoints.isEmpty || q.zeroPoints.count == channels
        else { return nil }
        // Elements between two steps of the channel index.
        let inner = channels > 1 ? t.shape[(axis + 1)...].reduce(1) { $0 * Int($1) } : values.count
        return values.indices.map { i in
            let c = channels > 1 ? (i / inner) % channels : 0
            let zp = q.zeroPoints.isEmpty ? 0 : Int32(truncatingIfNeeded: q.zeroPoints[c])
            return q.scales[c] * Float(values[i] - zp)
        }
    }
}
