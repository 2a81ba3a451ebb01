import FlatBuffers
import IR
import Kernels
import Support

/// The text form of the IR used by golden tests and `--print-ir-after`:
///
///     subgraph 0 "main"
///       input %0 "x": f32[1,4]
///       const %1 "w": f32[3,4] = sha256:1a2b3c4d
///       #0 FULLY_CONNECTED v1 {act=RELU} (%0, %1, %none) -> %3 "y": f32[1,3]
///       output %3
///
/// Constants of up to 16 elements print their values; larger ones a digest of their bytes.
public enum IRPrinter {
    public static func print(_ model: Model) -> String {
        var out = ""
        for s in model.subgraphs.indices { out += print(model, subgraph: s) }
        return out
    }

    public static func print(_ model: Model, subgraph s: Int) -> String {
        let g = model.subgraphs[s]
        var out = "subgraph \(s)\(g.name.map { " \"\($0)\"" } ?? "")\n"
        for v in g.inputs { out += "  input \(value(v, g))\n" }
        let produced = Set(g.ops.filter { !$0.isErased }.flatMap(\.outputs))
        let used = Set(g.ops.filter { !$0.isErased }.flatMap(\.inputs))
        for (i, v) in g.values.enumerated() where model.isConstant(v) && used.contains(ValueID(i)) {
            out += "  const \(value(ValueID(i), g)) = \(constantText(model, v))\n"
        }
        for (i, op) in g.ops.enumerated() where !op.isErased {
            var line = "  #\(i) \(op.name) v\(op.version)"
            var attrs = OptionsDescription.fields(op).map { "\($0.0)=\($0.1)" }
            if let a = op.kind.fusedActivation, a != .none { attrs.append("act=\(a)") }
            if !attrs.isEmpty { line += " {" + attrs.joined(separator: ", ") + "}" }
            line += " (" + op.inputs.map(\.description).joined(separator: ", ") + ")"
            line += " -> " + op.outputs.map { value($0, g) }.joined(separator: ", ")
            out += line + "\n"
        }
        _ = produced
        for v in g.outputs { out += "  output \(v)\n" }
        return out
    }

    package static func value(_ id: ValueID, _ g: Graph) -> String {
        guard !id.isAbsent, id.index < g.values.count else { return id.description }
        let v = g[id]
        return "\(id)\(v.name.isEmpty ? "" : " \"\(v.name)\""): \(typeText(v))"
    }

    public static func typeText(_ v: Value) -> String {
        var s = v.dtype.shortName + "[" + v.shape.enumerated().map { i, d in
            if let sig = v.shapeSignature, i < sig.count, sig[i] == -1 { return "?" }
            return String(d)
        }.joined(separator: ",") + "]"
        if let q = v.quantization, q.hasScales {
            if q.scales.count == 1 {
                s += " q(\(q.scales[0]), \(q.zeroPoints.first ?? 0))"
            } else {
                s += " q(axis \(q.axis): \(q.scales.count) scales, zp \(Set(q.zeroPoints) == [0] ? "0" : "mixed"))"
            }
        }
        return s
    }

    package static func constantText(_ model: Model, _ v: Value) -> String {
        // A sparse constant's buffer holds the stored values only: shown with its encoding when
        // small, else by their digest.
        if let sparsity = v.sparsity, let stored = model.constantData(v) {
            let size = max(v.dtype.byteSize ?? 1, 1)
            let t = ConstantTensor(type: v.type, shape: [Int32(stored.count / size)], bytes: stored.array)
            let vectors = sparsity.dimensions.flatMap { [$0.segments?.values.count ?? 0, $0.indices?.values.count ?? 0] }
            if vectors.allSatisfy({ $0 <= 16 }), let values = valuesText(t) { return "sparse(\(sparsityText(sparsity))) " + values }
            return "sparse sha256:" + String(SHA256.hex(stored.array).prefix(8))
        }
        guard let t = model.constant(v) else { return "?" }
        return valuesText(t) ?? "sha256:" + String(SHA256.hex(t.bytes).prefix(8))
    }

    /// `[1.5, -2.0]` for up to 16 float32, float16 or integer elements.
    static func valuesText(_ t: ConstantTensor) -> String? {
        guard t.elementCount <= 16 else { return nil }
        if t.type.dtype == .float32 { return "[" + t.floats.map { "\($0)" }.joined(separator: ", ") + "]" }
        // Every binary16 value is exactly a binary32 one, so it prints (and parses) as such.
        if t.type.dtype == .float16 { return "[" + t.scalars(UInt16.self).map { "\(Float16Bits.float($0))" }.joined(separator: ", ") + "]" }
        if let ints = t.integers { return "[" + ints.map(String.init).joined(separator: ", ") + "]" }
        return nil
    }

    /// `order [0, 1], blocks [], dims [dense 2, csr [0, 1, 2] [2, 0]]` (schema.fbs SparsityParameters).
    package static func sparsityText(_ s: Sparsity) -> String {
        func list(_ v: [Int32]) -> String { "[" + v.map(String.init).joined(separator: ", ") + "]" }
        let dims = s.dimensions.map { d in
            d.format == .dense ? "dense \(d.denseSize)" : "csr \(list(d.segments?.values ?? [])) \(list(d.indices?.values ?? []))"
        }
        return "order \(list(s.traversalOrder)), blocks \(list(s.blockMap)), dims [\(dims.joined(separator: ", "))]"
    }
}
