import FlatBuffers
import IR
import Kernels
import Support

/// Checks IR invariants: references in range, single writers, execution order, constant sizes,
/// quantization parameter shapes, the int8 quantization spec for weights and biases, and the
/// shapes of the ops the IR models. Runs after every pass in tests.
public enum Verifier {
    public struct Problem: CustomStringConvertible, Equatable {
        public var location: String
        public var message: String
        public var description: String { "\(location): \(message)" }
    }

    public static func verify(_ model: Model) -> [Problem] {
        var problems: [Problem] = []
        if model.buffers.first.map({ !$0.isEmpty }) ?? true {
            problems.append(Problem(location: "model", message: "buffer 0 must exist and be empty"))
        }
        for (s, g) in model.subgraphs.enumerated() {
            verify(g, subgraph: s, model: model, into: &problems)
        }
        return problems
    }

    package static func verify(_ g: Graph, subgraph s: Int, model: Model, into problems: inout [Problem]) {
        let prefix = s == 0 ? "" : "subgraph \(s) "
        func report(_ at: String, _ m: String) { problems.append(Problem(location: prefix + at, message: m)) }
        let n = g.values.count
        func valid(_ v: ValueID, absentOK: Bool) -> Bool { v.isAbsent ? absentOK : v.index < n }

        for v in g.inputs + g.outputs where !valid(v, absentOK: false) { report("graph I/O", "value \(v) out of range") }
        for (i, v) in g.values.enumerated() {
            if v.buffer.index >= model.buffers.count { report("value %\(i)", "buffer \(v.buffer.raw) out of range"); continue }
            if let data = model.constantData(v), let expected = v.expectedByteCount, expected != data.count {
                report("value %\(i) \"\(v.name)\"", "constant has \(data.count) bytes, shape \(v.shape) \(v.dtype.name) needs \(expected)")
            }
            if let q = v.quantization, q.scales.count > 1 {
                if q.axis < 0 || Int(q.axis) >= v.rank || Int(v.shape[Int(q.axis)]) != q.scales.count {
                    report("value %\(i) \"\(v.name)\"", "\(q.scales.count) per-channel scales do not match axis \(q.axis) of shape \(v.shape)")
                }
                if q.zeroPoints.count != q.scales.count && q.zeroPoints.count > 1 {
                    report("value %\(i) \"\(v.name)\"", "\(q.zeroPoints.count) zero points for \(q.scales.count) scales")
                }
            }
        }

        var writer = [Int](repeating: -1, count: n)
        for (i, op) in g.ops.enumerated() where !op.isErased {
            let at = op.label(OpID(i))
            for v in op.inputs where !valid(v, absentOK: true) { report(at, "input \(v) out of range") }
            for v in op.outputs where !valid(v, absentOK: false) { report(at, "output \(v) out of range") }
            for v in op.inputs where !v.isAbsent && v.index < n && writer[v.index] >= 0 && writer[v.index] >= i {
                report(at, "reads \(v) before it is written")
            }
            for v in op.outputs where v.index < n {
                if writer[v.index] >= 0 { report(at, "writes \(v), already written by op #\(writer[v.index])") }
                writer[v.index] = i
                if model.isConstant(g[v]) { report(at, "writes constant \(v)") }
            }
        }
        for (i, op) in g.ops.enumerated() where !op.isErased {
            for v in op.inputs where !v.isAbsent && v.index < n && writer[v.index] > i {
                report(op.label(OpID(i)), "reads \(v) before op #\(writer[v.index]) writes it")
            }
            checkOp(op, id: OpID(i), g, model, report)
        }
    }

    /// Shape and quantization rules of the modelled ops.
    package static func checkOp(_ op: Op, id: OpID, _ g: Graph, _ model: Model, _ report: (String, String) -> Void) {
        let at = op.label(id)
        func val(_ k: Int) -> Value? {
            guard k < op.inputs.count, !op.inputs[k].isAbsent, op.inputs[k].index < g.values.count else { return nil }
            return g[op.inputs[k]]
        }
        func out(_ k: Int) -> Value? {
            guard k < op.outputs.count, op.outputs[k].index < g.values.count else { return nil }
            return g[op.outputs[k]]
        }
        // A quantized weight must be symmetric (zero point 0) per the int8 spec.
        func checkWeights(_ w: Value, axis: Int32?) {
            guard w.dtype == .int8, let q = w.quantization, q.hasScales, model.isConstant(w) else { return }
            if q.zeroPoints.contains(where: { $0 != 0 }) { report(at, "int8 weights \"\(w.name)\" must have zero point 0") }
            if let axis, q.scales.count > 1, q.axis != axis { report(at, "per-channel weights \"\(w.name)\" quantized along axis \(q.axis), expected \(axis)") }
        }
        func checkBias(_ b: Value?, input: Value?, weights: Value?) {
            guard let b, b.dtype == .int32, let bq = b.quantization, bq.hasScales,
                let iq = input?.quantization, let iscale = iq.scale, let wq = weights?.quantization, wq.hasScales
            else { return }
            if bq.zeroPoints.contains(where: { $0 != 0 }) { report(at, "int32 bias \"\(b.name)\" must have zero point 0") }
            for c in 0..<bq.scales.count {
                let ws = wq.scales.count == 1 ? wq.scales[0] : (c < wq.scales.count ? wq.scales[c] : wq.scales[0])
                let expected = Double(iscale) * Double(ws)
                let actual = Double(bq.scales[c])
                // kernel_util: |in·w − bias| ≤ 1e-6 · min(in·w, bias) (FACTS.md §3.3); allow float rounding.
                if abs(expected - actual) > max(1e-6 * min(expected, actual), 1e-12) * 4 {
                    report(at, "bias scale \(actual) of channel \(c) is not input scale × weight scale (\(expected))")
                    break
                }
            }
        }
        switch op.kind {
        case .conv2D(let a):
            guard let x = val(0), let w = val(1), let y = out(0) else { report(at, "needs input, filter and output"); return }
            guard x.rank == 4, w.rank == 4, y.rank == 4 else { report(at, "input, filter and output must be 4-D (got \(x.shape), \(w.shape), \(y.shape))"); return }
            if w.shape[3] <= 0 || x.shape[3] % w.shape[3] != 0 { report(at, "filter \(w.shape) does not match input channels \(x.shape[3])") }
            if y.shape[3] != w.shape[0] { report(at, "output channels \(y.shape[3]) != filter out channels \(w.shape[0])") }
            if let b = val(2), b.elementCount != Int(w.shape[0]) { report(at, "bias has \(b.elementCount ?? -1) elements, expected \(w.shape[0])") }
            checkSpatial(x, y, kh: w.shape[1], kw: w.shape[2], sh: a.strideH, sw: a.strideW, dh: a.dilationH, dw: a.dilationW, a.padding, at, report)
            checkWeights(w, axis: 0)
            checkBias(val(2), input: x, weights: w)
        case .depthwiseConv2D(let a):
            guard let x = val(0), let w = val(1), let y = out(0) else { report(at, "needs input, filter and output"); return }
            guard x.rank == 4, w.rank == 4, y.rank == 4 else { report(at, "input, filter and output must be 4-D"); return }
            if w.shape[0] != 1 { report(at, "depthwise filter must be [1,kh,kw,C·M], got \(w.shape)") }
            if x.shape[3] == 0 || w.shape[3] % max(x.shape[3], 1) != 0 { report(at, "filter channels \(w.shape[3]) not a multiple of input channels \(x.shape[3])") }
            if y.shape[3] != w.shape[3] { report(at, "output channels \(y.shape[3]) != filter channels \(w.shape[3])") }
            if let b = val(2), b.elementCount != Int(w.shape[3]) { report(at, "bias has \(b.elementCount ?? -1) elements, expected \(w.shape[3])") }
            checkSpatial(x, y, kh: w.shape[1], kw: w.shape[2], sh: a.strideH, sw: a.strideW, dh: a.dilationH, dw: a.dilationW, a.padding, at, report)
            checkWeights(w, axis: 3)
            checkBias(val(2), input: x, weights: w)
        case .fullyConnected:
            guard let x = val(0), let w = val(1), let y = out(0) else { report(at, "needs input, weights and output"); return }
            guard w.rank == 2 else { report(at, "weights must be 2-D [out, in], got \(w.shape)"); return }
            if let nx = x.elementCount, w.shape[1] > 0, nx % Int(w.shape[1]) != 0 { report(at, "input \(x.shape) does not divide into rows of \(w.shape[1])") }
            if y.shape.last != w.shape[0] { report(at, "output \(y.shape) does not end in \(w.shape[0]) units") }
            if let b = val(2), b.elementCount != Int(w.shape[0]) { report(at, "bias has \(b.elementCount ?? -1) elements, expected \(w.shape[0])") }
            checkWeights(w, axis: 0)
            checkBias(val(2), input: x, weights: w)
        case .reshape:
            if let x = val(0), let y = out(0), !x.isDynamic, !y.isDynamic, x.elementCount != y.elementCount {
                report(at, "reshape from \(x.shape) to \(y.shape) changes the element count")
            }
        case .softmax, .logistic:
            if let y = out(0), y.dtype == .int8, let q = y.quantization, let s = q.scale, (s != 1.0 / 256 || q.zeroPoint != -128) {
                report(at, "int8 output must have scale 1/256 and zero point -128 (has \(s), \(q.zeroPoint ?? 0))")
            }
        case .tanh:
            if let y = out(0), y.dtype == .int8, let q = y.quantization, let s = q.scale, (s != 1.0 / 128 || q.zeroPoint != 0) {
                report(at, "int8 output must have scale 1/128 and zero point 0 (has \(s), \(q.zeroPoint ?? 0))")
            }
        default:
            break
        }
    }

    package static func checkSpatial(_ x: Value, _ y: Value, kh: Int32, kw: Int32, sh: Int32, sw: Int32, dh: Int32, dw: Int32, _ p: Padding, _ at: String, _ report: (String, String) -> Void) {
        guard sh > 0, sw > 0, dh > 0, dw > 0 else { report(at, "strides and dilations must be positive"); return }
        let oh = outputSize(Int(x.shape[1]), Int(kh), Int(sh), Int(dh), p)
        let ow = outputSize(Int(x.shape[2]), Int(kw), Int(sw), Int(dw), p)
        if !x.isDynamic && (Int(y.shape[1]) != oh || Int(y.shape[2]) != ow) {
            report(at, "output spatial size \(y.shape[1])x\(y.shape[2]) != expected \(oh)x\(ow)")
        }
    }

    /// FACTS.md §6: SAME → ceil(in/stride); VALID → (in − eff_k)/stride + 1.
    public static func outputSize(_ input: Int, _ k: Int, _ stride: Int, _ dilation: Int, _ p: Padding) -> Int {
        let eff = (k - 1) * dilation + 1
        return p == .same ? (input + stride - 1) / stride : max(0, (input - eff + stride) / stride)
    }
}
