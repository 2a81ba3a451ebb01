import Driver
import Export
import FlatBuffers
import IR
import Import
import Interpret
import Kernels
import Ops
import PassCatalog
import Passes
import Quantize
import Rewrite
import Rules
import Support

/// What `tfrewrite inspect` shows: ops, tensors, histogram, weight bytes, and how to feed and
/// read the model's inputs and outputs. The JSON form is stable (ordered keys) and carries no
/// file offsets, so two faithful serializations of one model give the same report.
public struct ModelReport {
    public let model: Model
    public let path: String

    public init(model: Model, path: String) {
        self.model = model
        self.path = path
    }

    public var weightBytes: Int {
        var used = Set<Int>()
        for g in model.subgraphs {
            for v in g.values where v.buffer.raw != 0 { used.insert(v.buffer.index) }
        }
        return used.reduce(0) { $0 + (($1 < model.buffers.count) ? model.buffers[$1].byteCount : 0) }
    }

    public var opHistogram: [(String, Int)] {
        var counts: [String: Int] = [:]
        for g in model.subgraphs { for op in g.ops where !op.isErased { counts[op.name, default: 0] += 1 } }
        return counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
    }

    // MARK: JSON

    public func json() -> JSON {
        var root: [(String, JSON)] = [
            ("file", .string(path)),
            ("version", .int(Int64(model.version))),
            ("description", .optional(model.description)),
        ]
        root.append(("subgraphs", .array(model.subgraphs.enumerated().map { subgraphJSON($1, index: $0) })))
        root.append(("buffers", .int(Int64(model.buffers.count))))
        root.append(("metadata", .array(model.metadata.map { m in
            let data = m.buffer.index < model.buffers.count ? model.buffers[m.buffer.index].data : nil
            return .object([
                ("name", .string(m.name)), ("buffer", .int(Int64(m.buffer.raw))),
                ("size", .int(Int64(data?.count ?? 0))), ("sha256", .string(SHA256.hex(data))),
            ])
        })))
        root.append(("signature_defs", .array(model.signatureDefs.map { s in
            .object([
                ("key", .optional(s.key)), ("subgraph", .int(Int64(s.subgraph))),
                ("inputs", .object(s.inputs.map { ($0.name, .int(Int64($0.tensor.raw))) })),
                ("outputs", .object(s.outputs.map { ($0.name, .int(Int64($0.tensor.raw))) })),
            ])
        })))
        root.append(("op_histogram", .object(opHistogram.map { ($0.0, .int(Int64($0.1))) })))
        root.append(("weight_bytes", .int(Int64(weightBytes))))
        root.append(("io", .array(ioEntries().map { e in
            .object([
                ("kind", .string(e.kind)), ("subgraph", .int(0)), ("tensor", .int(Int64(e.tensor.raw))),
                ("name", .string(e.value.name)), ("dtype", .string(e.value.dtype.name)), ("shape", .ints(e.value.shape)),
                ("scale", e.value.quantization?.scale.map { JSON.float($0) } ?? .null),
                ("zero_point", e.value.quantization?.zeroPoint.map { JSON.int($0) } ?? .null),
            ])
        })))
        return .object(root)
    }

    package func subgraphJSON(_ g: Graph, index: Int) -> JSON {
        .object([
            ("index", .int(Int64(index))),
            ("name", .optional(g.name)),
            ("inputs", .ints(g.inputs.map(\.raw))),
            ("outputs", .ints(g.outputs.map(\.raw))),
            ("operators", .array(g.ops.filter { !$0.isErased }.enumerated().map { i, op in
                .object([
                    ("index", .int(Int64(i))),
                    ("op", .string(op.builtinOperator.name)),
                    ("custom_code", .optional(op.kind.customCode)),
                    ("version", .int(Int64(op.version))),
                    ("inputs", .ints(op.inputs.map(\.raw))),
                    ("outputs", .ints(op.outputs.map(\.raw))),
                    ("fused_activation", op.kind.fusedActivation.map { .string($0.description) } ?? .null),
                    ("options", OptionsDescription.json(op)),
                    ("options_type", .int(Int64(OptionsEncoding.encode(op)?.0 ?? 0))),
                    ("custom_options_sha256", op.customOptions.map { .string(SHA256.hex($0)) } ?? .null),
                ])
            })),
            ("tensors", .array(g.values.enumerated().map { i, v in
                let data = model.constantData(v)
                return .object([
                    ("index", .int(Int64(i))),
                    ("name", .string(v.name)),
                    ("dtype", .string(v.dtype.name)),
                    ("shape", .ints(v.shape)),
                    ("shape_signature", v.shapeSignature.map { JSON.ints($0) } ?? .null),
                    ("buffer", .int(Int64(v.buffer.raw))),
                    ("is_variable", .bool(v.isVariable)),
                    ("has_rank", .bool(v.hasRank)),
                    ("constant_bytes", .int(Int64(data?.count ?? 0))),
                    ("data_sha256", data.map { .string(SHA256.hex($0)) } ?? .null),
                    ("quantization", v.quantization.map { q in
                        .object([
                            ("scale", .floats(q.scales)), ("zero_point", .ints(q.zeroPoints)), ("axis", .int(Int64(q.axis))),
                            ("min", .floats(q.min)), ("max", .floats(q.max)),
                        ])
                    } ?? .null),
                ])
            })),
        ])
    }

    package struct IOEntry {
        package var kind: String
        package var tensor: ValueID
        package var value: Value
    }

    package func ioEntries() -> [IOEntry] {
        guard let g = model.subgraphs.first else { return [] }
        return g.inputs.filter { $0.index < g.values.count }.map { IOEntry(kind: "input", tensor: $0, value: g[$0]) }
            + g.outputs.filter { $0.index < g.values.count }.map { IOEntry(kind: "output", tensor: $0, value: g[$0]) }
    }

    // MARK: Text

    public func text() -> String {
        var out = ""
        let size = model.buffers.reduce(0) { $0 + $1.byteCount }
        out += "\(path): TFLite schema v\(model.version)"
        if let d = model.description, !d.isEmpty { out += ", \"\(d)\"" }
        out += "\n"
        out += "weights: \(weightBytes) bytes in constant tensors (\(size) bytes in \(model.buffers.count) buffers)\n"

        out += "\ninputs and outputs (subgraph 0):\n"
        for e in ioEntries() {
            let v = e.value
            out += "  \(e.kind) \(e.tensor) \"\(v.name)\" \(v.dtype.name) \(shapeText(v))"
            if let q = v.quantization, let s = q.scale, let z = q.zeroPoint {
                if e.kind == "input" {
                    out += "  quantize as q = round(x / \(s)) \(z < 0 ? "-" : "+") \(abs(z)), clamped to the \(v.dtype.name) range"
                } else {
                    out += "  dequantize as x = (q \(z < 0 ? "+" : "-") \(abs(z))) * \(s)"
                }
            } else if v.dtype.isFloatingPoint {
                out += "  float: no quantization needed"
            }
            out += "\n"
        }

        for (s, g) in model.subgraphs.enumerated() {
            out += "\nsubgraph \(s)\(g.name.map { " \"\($0)\"" } ?? ""): \(g.ops.filter { !$0.isErased }.count) ops, \(g.values.count) tensors\n"
            var rows: [[String]] = [["#", "op", "ver", "inputs", "outputs", "activation", "options"]]
            for (i, op) in g.ops.filter({ !$0.isErased }).enumerated() {
                rows.append([
                    String(i), op.name, String(op.version),
                    op.inputs.map { $0.isAbsent ? "-" : String($0.raw) }.joined(separator: ","),
                    op.outputs.map { String($0.raw) }.joined(separator: ","),
                    op.kind.fusedActivation?.description ?? "",
                    OptionsDescription.text(op),
                ])
            }
            out += table(rows, indent: "  ")
            out += "\n"
            var trows: [[String]] = [["#", "name", "dtype", "shape", "quantization", "buffer", "bytes"]]
            for (i, v) in g.values.enumerated() {
                let bytes = model.constantData(v)?.count ?? 0
                trows.append([String(i), abbreviated(v.name), v.dtype.name, shapeText(v), quantText(v.quantization), v.buffer.raw == 0 ? "-" : String(v.buffer.raw), bytes == 0 ? "" : String(bytes)])
            }
            out += table(trows, indent: "  ")
        }

        out += "\nop histogram:\n"
        for (name, n) in opHistogram { out += "  \(name): \(n)\n" }
        if !model.metadata.isEmpty {
            out += "\nmetadata:\n"
            for m in model.metadata {
                let n = m.buffer.index < model.buffers.count ? model.buffers[m.buffer.index].byteCount : 0
                out += "  \(m.name): \(n) bytes (buffer \(m.buffer.raw))\n"
            }
        }
        if !model.signatureDefs.isEmpty {
            out += "\nsignatures:\n"
            for s in model.signatureDefs {
                out += "  \(s.key ?? "(no key)") (subgraph \(s.subgraph)): inputs \(s.inputs.map { "\($0.name)=\($0.tensor.raw)" }.joined(separator: ", ")); outputs \(s.outputs.map { "\($0.name)=\($0.tensor.raw)" }.joined(separator: ", "))\n"
            }
        }
        return out
    }

    package func shapeText(_ v: Value) -> String {
        let dims = v.shape.enumerated().map { i, d in
            if let sig = v.shapeSignature, i < sig.count, sig[i] == -1 { return "?" }
            return String(d)
        }
        return "[" + dims.joined(separator: ",") + "]"
    }

    package func quantText(_ q: Quantization?) -> String {
        guard let q, q.hasScales else { return "" }
        if q.scales.count == 1 { return "scale \(q.scales[0]) zp \(q.zeroPoints.first ?? 0)" }
        return "per-channel axis \(q.axis): \(q.scales.count) scales [\(q.scales.prefix(2).map { "\($0)" }.joined(separator: ", "))…]"
    }
}

/// Long fused names ("a;b;c") are shortened in tables; `--json` keeps them whole.
package func abbreviated(_ name: String, limit: Int = 48) -> String {
    guard name.count > limit else { return name }
    return String(name.prefix(limit - 1)) + "…"
}

/// A plain left-aligned text table.
package func table(_ rows: [[String]], indent: String) -> String {
    guard let width = rows.map(\.count).max() else { return "" }
    var widths = [Int](repeating: 0, count: width)
    for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
    var out = ""
    for r in rows {
        var line = indent
        for (i, c) in r.enumerated() {
            line += c
            if i < r.count - 1 { line += String(repeating: " ", count: widths[i] - c.count + 2) }
        }
        while line.hasSuffix(" ") { line.removeLast() }
        out += line + "\n"
    }
    return out
}
