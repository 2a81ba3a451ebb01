import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Small operations patterns share.
extension Rewriter {
    /// Gives input `k` of `op` new constant data without touching other readers: the value is
    /// updated in place (with a fresh buffer, since buffers may be shared) when this op is its
    /// only reader, otherwise a new constant value is made for this op alone.
    package mutating func replaceConstantOperand(of op: OpID, at k: Int, with t: ConstantTensor) {
        let v = self[op].inputs[k]
        let readers = uses(of: v).count
        if readers == 1 && !graph.isGraphOutput(v) && !graph.isGraphInput(v) {
            setConstant(v, t)
        } else {
            let id = addConstant(t, name: self[v].name)
            self[op].inputs[k] = id
        }
    }

    /// Gives a conv-like op without bias the zero bias `zeroBias` makes. Measured by the
    /// conformance tests (tflite_micro 0.dev20261023, ai-edge-litert 2.3): TFLM's
    /// DEPTHWISE_CONV_2D crashes (SIGSEGV) on a −1 bias and LiteRT's CONV_2D refuses a missing
    /// one ("has_bias was not true"), so the conv rewrites always emit one.
    package mutating func addZeroBias(to id: OpID, _ bias: ConstantTensor) {
        let filterName = self[self[id].inputs[1]].name
        let b = addConstant(bias, name: (filterName.isEmpty ? "conv" : filterName) + "/zero_bias")
        if self[id].inputs.count >= 3 { self[id].inputs[2] = b } else { self[id].inputs.append(b) }
    }

    /// An existing constant equal to `t` (same bytes, type and shape; say an earlier rewrite's
    /// begin or axis), else a new one named `name`: TFLM holds each tensor once.
    package mutating func sharedConstant(_ t: ConstantTensor, name: String) -> ValueID {
        for i in graph.values.indices {
            let v = ValueID(i)
            if self[v].shape == t.shape, self[v].type == t.type, !self[v].isVariable, constant(v) == t { return v }
        }
        return addConstant(t, name: name)
    }

    /// The value at input `k` if present and in range.
    package func operand(_ op: OpID, _ k: Int) -> Value? {
        guard let v = self[op].input(k), v.index < graph.values.count else { return nil }
        return self[v]
    }

    /// The value at output `k` if present and in range.
    package func result(_ op: OpID, _ k: Int = 0) -> Value? {
        let outs = self[op].outputs
        guard k < outs.count, !outs[k].isAbsent, outs[k].index < graph.values.count else { return nil }
        return self[outs[k]]
    }
}

extension Value {
    /// True when dimension `d` is known statically (in range and not −1 in the signature).
    package func isStatic(dimension d: Int) -> Bool {
        guard d >= 0, d < shape.count else { return false }
        if let sig = shapeSignature, d < sig.count, sig[d] < 0 { return false }
        return true
    }

    /// The per-channel quantization axis when the tensor is quantized per channel.
    package var perChannelAxis: Int? {
        guard let q = quantization, q.scales.count > 1 else { return nil }
        return Int(q.axis)
    }
}

extension PassContext {
    /// Adds a note unless the same text is already there (patterns may be tried every sweep).
    package mutating func noteOnce(_ s: String) {
        if !notes.contains(s) { notes.append(s) }
    }
}

extension Quantization {
    /// Same runtime meaning: scales, zero points and (per-channel) axis. min/max are only
    /// calibration records and do not count.
    package func sameParameters(as other: Quantization) -> Bool {
        scales == other.scales && zeroPoints == other.zeroPoints && (scales.count <= 1 || axis == other.axis)
    }
}

extension ElementType {
    /// Same dtype and the same quantization parameters (no quantization = empty scales).
    package func sameParameters(as other: ElementType) -> Bool {
        guard dtype == other.dtype else { return false }
        switch (quantization.flatMap { $0.hasScales ? $0 : nil }, other.quantization.flatMap { $0.hasScales ? $0 : nil }) {
        case (nil, nil): return true
        case (let a?, let b?): return a.sameParameters(as: b)
        default: return false
        }
    }
}

/// A zero bias for a conv-like op: int32 (int64 for int16 activations) with scale
/// input·filter per channel, as the converter writes biases (TFLite's kernel_util.cc), or float zeros
/// for float and hybrid ops. Nil when the quantization does not say what the bias should be.
package func zeroBias(input x: Value, filter: ConstantTensor, channels: Int32) -> ConstantTensor? {
    let n = Int(channels)
    if x.dtype == .float32 { return ConstantTensor(floats: [Float](repeating: 0, count: n), shape: [channels]) }
    guard [.int8, .uint8, .int16].contains(x.dtype), let xs = x.quantization?.scale,
        let wq = filter.type.quantization, wq.scales.count == 1 || wq.scales.count == n
    else { return nil }
    let scales = (0..<n).map { xs * (wq.scales.count == 1 ? wq.scales[0] : wq.scales[$0]) }
    let q = Quantization(scales: scales, zeroPoints: [Int64](repeating: 0, count: n), axis: 0)
    return x.dtype == .int16
        ? ConstantTensor(.int64, shape: [channels], values: [Int64](repeating: 0, count: n), quantization: q)
        : ConstantTensor(.int32, shape: [channels], values: [Int32](repeating: 0, count: n), quantization: q)
}
