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

    /// Shape and quantization rules of the modelled ops, from their `OperatorDefinition`.
    package static func checkOp(_ op: Op, id: OpID, _ g: Graph, _ model: Model, _ report: (String, String) -> Void) {
        guard let definition = OperatorTable[op.builtinOperator] else { return }
        if let verify = definition.verify {
            withoutActuallyEscaping(report) { report in
                verify(OpCheck(op: op, at: op.label(id), graph: g, model: model, report: report))
            }
        }
        if let shape = definition.shape { checkInferredShapes(op, id: id, shape, g, model, report) }
    }

    package static func checkSpatial(_ x: Value, _ y: Value, kh: Int32, kw: Int32, sh: Int32, sw: Int32, dh: Int32, dw: Int32, _ p: Padding, _ at: String, _ report: (String, String) -> Void) {
        guard sh > 0, sw > 0, dh > 0, dw > 0 else { report(at, "strides and dilations must be positive"); return }
        let oh = outputSize(Int(x.shape[1]), Int(kh), Int(sh), Int(dh), p)
        let ow = outputSize(Int(x.shape[2]), Int(kw), Int(sw), Int(dw), p)
        if !x.isDynamic && (Int(y.shape[1]) != oh || Int(y.shape[2]) != ow) {
            report(at, "output spatial size \(y.shape[1])x\(y.shape[2]) != expected \(oh)x\(ow)")
        }
    }

    /// TF's op definitions: SAME → ceil(in/stride); VALID → (in − eff_k)/stride + 1.
    public static func outputSize(_ input: Int, _ k: Int, _ stride: Int, _ dilation: Int, _ p: Padding) -> Int {
        let eff = (k - 1) * dilation + 1
        return p == .same ? (input + stride - 1) / stride : max(0, (input - eff + stride) / stride)
    }
}

/// One op as the verifier sees it: its operands, and where to report a problem.
package struct OpCheck {
    package let op: Op
    package let at: String
    package let graph: Graph
    package let model: Model
    private let sink: (String, String) -> Void

    package init(op: Op, at: String, graph: Graph, model: Model, report: @escaping (String, String) -> Void) {
        self.op = op
        self.at = at
        self.graph = graph
        self.model = model
        self.sink = report
    }

    package func report(_ message: String) { sink(at, message) }

    /// Input `k`, nil when absent or out of range.
    package func input(_ k: Int) -> Value? {
        guard k < op.inputs.count, !op.inputs[k].isAbsent, op.inputs[k].index < graph.values.count else { return nil }
        return graph[op.inputs[k]]
    }
    package func output(_ k: Int) -> Value? {
        guard k < op.outputs.count, op.outputs[k].index < graph.values.count else { return nil }
        return graph[op.outputs[k]]
    }

    /// A quantized weight must be symmetric (zero point 0) per the int8 spec.
    package func weights(_ w: Value, axis: Int32?) {
        guard w.dtype == .int8, let q = w.quantization, q.hasScales, model.isConstant(w) else { return }
        if q.zeroPoints.contains(where: { $0 != 0 }) { report("int8 weights \"\(w.name)\" must have zero point 0") }
        if let axis, q.scales.count > 1, q.axis != axis { report("per-channel weights \"\(w.name)\" quantized along axis \(q.axis), expected \(axis)") }
    }

    /// An int32 bias's scale must be input scale × weight scale, channel by channel.
    package func bias(_ b: Value?, input: Value?, weights: Value?) {
        guard let b, b.dtype == .int32, let bq = b.quantization, bq.hasScales,
            let iq = input?.quantization, let iscale = iq.scale, let wq = weights?.quantization, wq.hasScales
        else { return }
        if bq.zeroPoints.contains(where: { $0 != 0 }) { report("int32 bias \"\(b.name)\" must have zero point 0") }
        for c in 0..<bq.scales.count {
            let ws = wq.scales.count == 1 ? wq.scales[0] : (c < wq.scales.count ? wq.scales[c] : wq.scales[0])
            let expected = Double(iscale) * Double(ws)
            let actual = Double(bq.scales[c])
            // TFLite's kernel_util checks |in·w − bias| ≤ 1e-6 · min(in·w, bias); allow float rounding.
            if abs(expected - actual) > max(1e-6 * min(expected, actual), 1e-12) * 4 {
                report("bias scale \(actual) of channel \(c) is not input scale × weight scale (\(expected))")
                break
            }
        }
    }

    package func spatial(_ x: Value, _ y: Value, kh: Int32, kw: Int32, sh: Int32, sw: Int32, dh: Int32, dw: Int32, _ p: Padding) {
        Verifier.checkSpatial(x, y, kh: kh, kw: kw, sh: sh, sw: sw, dh: dh, dw: dw, p, at, sink)
    }

    /// An int8 output whose parameters the quantization spec fixes (SOFTMAX, LOGISTIC, TANH).
    package func fixedInt8Output(scale: Float, zeroPoint: Int64) {
        guard let y = output(0), y.dtype == .int8, let q = y.quantization, let s = q.scale, s != scale || q.zeroPoint != zeroPoint else { return }
        let scaleText = "1/\(Int((1 / scale).rounded()))"
        report("int8 output must have scale \(scaleText) and zero point \(zeroPoint) (has \(s), \(q.zeroPoint ?? 0))")
    }
}
