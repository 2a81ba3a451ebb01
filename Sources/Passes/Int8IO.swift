import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Makes a model with float I/O around an int8 body take and return int8 directly: drops the
/// QUANTIZE (float → int8) behind a graph input and the DEQUANTIZE (int8 → float) in front of
/// a graph output, as converting with `inference_input/output_type=tf.int8` would have
/// (TFLite's quantization_spec.md).
///
/// Given:
///
///     input %0 "image": f32[1,12,12,1]
///     #0 QUANTIZE v1 (%0) -> %6 "tfl.quantize": i8[1,12,12,1] q(0.0038606469, -128)
///     …
///     #4 DEQUANTIZE v2 (%9) -> %10 "Identity": f32[1,3]
///     output %10
///
/// Result:
///
///     input %6 "image": i8[1,12,12,1] q(0.0038606469, -128)
///     …
///     output %9 "Identity": i8[1,3] q(0.007709593, -21)
///
/// The new I/O tensors carry the scale and zero point the caller needs (quantize as
/// q = round(x / s) + zp; dequantize as x = (q − zp)·s) and take over the old I/O names, so
/// lookups by name keep working; signature_defs point at them. A graph input qualifies when a
/// single per-tensor QUANTIZE to int8 is its only reader; an output when it comes from a
/// per-tensor int8 DEQUANTIZE and nothing else reads it. The float tensors left unused go in
/// `cleanup`.
///
/// Options: `inputs` (default true), `outputs` (default true).
public struct Int8IO: GraphPass {
    public static let name = "int8-io"
    public static let summary = "Drop QUANTIZE at graph inputs and DEQUANTIZE at graph outputs: int8 I/O"

    public var inputs = true
    public var outputs = true

    public init(options: PassOptions = PassOptions()) throws {
        let reader = try PassOptionReader(options, pass: Self.name, known: ["inputs", "outputs"])
        inputs = try reader.bool("inputs", default: true)
        outputs = try reader.bool("outputs", default: true)
    }

    public mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        var changed = false
        for s in model.subgraphs.indices {
            if inputs {
                for k in model.subgraphs[s].inputs.indices {
                    if let note = Self.quantizeInput(&model, subgraph: s, index: k) {
                        context.note("\(Self.name): \(note)")
                        context.count("\(Self.name).inputs")
                        changed = true
                    }
                }
            }
            if outputs {
                for k in model.subgraphs[s].outputs.indices {
                    if let note = Self.quantizeOutput(&model, subgraph: s, index: k) {
                        context.note("\(Self.name): \(note)")
                        context.count("\(Self.name).outputs")
                        changed = true
                    }
                }
            }
            if changed { model.subgraphs[s].compact() }
        }
        return changed
    }

    /// Int8 per-tensor quantization of a value, nil for anything else.
    package static func int8PerTensor(_ v: Value) -> Quantization? {
        guard v.dtype == .int8, let q = v.quantization, q.scales.count == 1 else { return nil }
        return q
    }

    /// The QUANTIZE that is the only reader of graph input `k`, when it makes a per-tensor int8.
    public static func inputQuantize(_ g: Graph, index k: Int) -> OpID? {
        let x = g.inputs[k]
        guard !x.isAbsent, x.index < g.values.count, g.values[x.index].dtype == .float32, !g.isGraphOutput(x) else { return nil }
        let uses = g.uses(of: x)
        guard uses.count == 1, uses[0].operand == 0, case .quantize = g[uses[0].op].kind else { return nil }
        let op = g[uses[0].op]
        guard op.outputs.count == 1, let out = op.outputs.first, !out.isAbsent, out.index < g.values.count,
            int8PerTensor(g.values[out.index]) != nil, !g.isGraphInput(out), !g.isGraphOutput(out)
        else { return nil }
        return uses[0].op
    }

    /// The DEQUANTIZE producing graph output `k` from a per-tensor int8, when nothing else reads the output.
    public static func outputDequantize(_ g: Graph, index k: Int) -> OpID? {
        let y = g.outputs[k]
        guard !y.isAbsent, y.index < g.values.count, g.values[y.index].dtype == .float32,
            g.uses(of: y).isEmpty, g.outputs.filter({ $0 == y }).count == 1, !g.isGraphInput(y),
            let p = g.producer(of: y), case .dequantize = g[p].kind, let z = g[p].input(0), z.index < g.values.count,
            int8PerTensor(g.values[z.index]) != nil, !g.isGraphInput(z), !g.isGraphOutput(z)
        else { return nil }
        return p
    }

    package static func quantizeInput(_ model: inout Model, subgraph s: Int, index k: Int) -> String? {
        var g = model.subgraphs[s]
        guard let qid = inputQuantize(g, index: k) else { return nil }
        let x = g.inputs[k], q = g[qid].outputs[0]
        g.eraseOp(qid)
        g.inputs[k] = q
        if g[q].shapeSignature == nil, g[x].shape == g[q].shape { g[q].shapeSignature = g[x].shapeSignature }
        swapNames(&g, x, q)
        model.subgraphs[s] = g
        retarget(&model, subgraph: s, from: x, to: q, inputs: true)
        let v = g[q], p = v.quantization!
        return "input \(k) \"\(v.name)\" is now int8: quantize as q = round(x / \(p.scales[0])) + \(p.zeroPoint ?? 0)"
    }

    package static func quantizeOutput(_ model: inout Model, subgraph s: Int, index k: Int) -> String? {
        var g = model.subgraphs[s]
        guard let did = outputDequantize(g, index: k) else { return nil }
        let y = g.outputs[k], z = g[did].inputs[0]
        g.eraseOp(did)
        g.outputs[k] = z
        swapNames(&g, y, z)
        model.subgraphs[s] = g
        retarget(&model, subgraph: s, from: y, to: z, inputs: false)
        let v = g[z], p = v.quantization!
        return "output \(k) \"\(v.name)\" is now int8: dequantize as x = (q - \(p.zeroPoint ?? 0)) * \(p.scales[0])"
    }

    /// The new I/O tensor takes the old one's name (callers look tensors up by it); the old,
    /// now unused float tensor gets the other name.
    package static func swapNames(_ g: inout Graph, _ old: ValueID, _ new: ValueID) {
        let name = g[old].name
        g[old].name = g[new].name
        g[new].name = name
    }

    package static func retarget(_ model: inout Model, subgraph s: Int, from old: ValueID, to new: ValueID, inputs: Bool) {
        for i in model.signatureDefs.indices where model.signatureDefs[i].subgraph == s {
            if inputs {
                for j in model.signatureDefs[i].inputs.indices where model.signatureDefs[i].inputs[j].tensor == old {
                    model.signatureDefs[i].inputs[j].tensor = new
                }
            } else {
                for j in model.signatureDefs[i].outputs.indices where model.signatureDefs[i].outputs[j].tensor == old {
                    model.signatureDefs[i].outputs[j].tensor = new
                }
            }
        }
    }
}

extension Int8IO: RemovesMissingOps {
    package static var removableOps: Set<BuiltinOperator> { [.quantize, .dequantize] }

    /// A QUANTIZE of a float graph input or a DEQUANTIZE to a float graph output.
    package static func missingOpFix(_ r: Rewriter, _ id: OpID, target: TargetProfile) -> MissingOpFix? {
        let op = r[id], g = r.graph
        if case .quantize = op.kind, let x = op.input(0), g.isGraphInput(x), g[x].dtype == .float32 {
            return MissingOpFix(detail: "it converts the float input \"\(g[x].name)\" to int8", pass: name, hint: "int8-io makes the model take int8 input directly")
        }
        if case .dequantize = op.kind, let y = op.outputs.first, g.isGraphOutput(y), g[y].dtype == .float32 {
            return MissingOpFix(detail: "it converts the int8 result to the float output \"\(g[y].name)\"", pass: name, hint: "int8-io makes the model return int8 directly")
        }
        return nil
    }
}
