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

/// Structural differences between two models, as one would check by eye in Netron:
/// ops added, removed or replaced (kind), ops whose version or options changed, tensors whose
/// dtype, shape or quantization differ, and metadata differences.
public struct ModelDiff {
    public enum OpChange {
        case same(a: Int, b: Int, op: String)
        case changed(a: Int, b: Int, details: [String])
        case replaced(a: Int, b: Int, from: String, to: String)
        case removed(a: Int, op: String)
        case added(b: Int, op: String)
    }
    public struct TensorChange {
        public var a: Int
        public var b: Int
        public var name: String
        public var details: [String]
    }

    public var ops: [OpChange] = []
    public var tensors: [TensorChange] = []
    public var metadata: [String] = []
    public var model: [String] = []

    public var isIdentical: Bool {
        tensors.isEmpty && metadata.isEmpty && model.isEmpty && ops.allSatisfy { if case .same = $0 { return true }; return false }
    }

    public init(_ a: Model, _ b: Model) {
        if a.description != b.description { model.append("description: \(quoted(a.description)) → \(quoted(b.description))") }
        if a.subgraphs.count != b.subgraphs.count { model.append("subgraphs: \(a.subgraphs.count) → \(b.subgraphs.count)") }
        if a.signatureDefs.map(\.key) != b.signatureDefs.map(\.key) {
            model.append("signature defs: \(a.signatureDefs.map { $0.key ?? "" }) → \(b.signatureDefs.map { $0.key ?? "" })")
        }
        let ga = a.main, gb = b.main
        let opsA = ga.ops.filter { !$0.isErased }, opsB = gb.ops.filter { !$0.isErased }
        compareIO(ga, gb)

        // Align the op sequences by kind (LCS); a run of removals next to a run of additions is a replacement.
        let names = (opsA.map(\.name), opsB.map(\.name))
        var raw: [OpChange] = []
        for step in lcsAlign(names.0, names.1) {
            switch step {
            case .match(let i, let j):
                let d = Self.opDetails(opsA[i], opsB[j], ga, gb, a, b)
                raw.append(d.isEmpty ? .same(a: i, b: j, op: opsA[i].name) : .changed(a: i, b: j, details: d))
            case .delete(let i): raw.append(.removed(a: i, op: opsA[i].name))
            case .insert(let j): raw.append(.added(b: j, op: opsB[j].name))
            }
        }
        ops = pairReplacements(raw)

        // Tensors: pair by position in matched ops' inputs and outputs, then compare.
        var seen = Set<String>()
        for change in ops {
            let pair: (Int, Int)?
            switch change {
            case .same(let i, let j, _), .changed(let i, let j, _), .replaced(let i, let j, _, _): pair = (i, j)
            default: pair = nil
            }
            guard let (i, j) = pair else { continue }
            let oa = opsA[i], ob = opsB[j]
            for (va, vb) in zip(oa.inputs + oa.outputs, ob.inputs + ob.outputs) where !va.isAbsent && !vb.isAbsent {
                let key = "\(va.raw):\(vb.raw)"
                guard seen.insert(key).inserted else { continue }
                let d = Self.tensorDetails(ga[va], gb[vb], a, b)
                if !d.isEmpty { tensors.append(TensorChange(a: va.index, b: vb.index, name: ga[va].name.isEmpty ? gb[vb].name : ga[va].name, details: d)) }
            }
        }

        let ma = Dictionary(a.metadata.map { ($0.name, a.metadata(named: $0.name)) }, uniquingKeysWith: { x, _ in x })
        let mb = Dictionary(b.metadata.map { ($0.name, b.metadata(named: $0.name)) }, uniquingKeysWith: { x, _ in x })
        for name in Set(ma.keys).union(mb.keys).sorted() {
            switch (ma[name], mb[name]) {
            case (.some, .none): metadata.append("metadata \"\(name)\" removed")
            case (.none, .some): metadata.append("metadata \"\(name)\" added")
            case (.some(let x), .some(let y)) where x != y:
                metadata.append("metadata \"\(name)\" differs (\(x?.count ?? 0) → \(y?.count ?? 0) bytes)")
            default: break
            }
        }
    }

    private mutating func compareIO(_ ga: Graph, _ gb: Graph) {
        if ga.inputs.count != gb.inputs.count { model.append("inputs: \(ga.inputs.count) → \(gb.inputs.count)") }
        if ga.outputs.count != gb.outputs.count { model.append("outputs: \(ga.outputs.count) → \(gb.outputs.count)") }
        for (k, (x, y)) in zip(ga.inputs, gb.inputs).enumerated() {
            let (va, vb) = (ga[x], gb[y])
            if va.dtype != vb.dtype || va.shape != vb.shape { model.append("input \(k): \(va.dtype.name)\(va.shape) → \(vb.dtype.name)\(vb.shape)") }
        }
        for (k, (x, y)) in zip(ga.outputs, gb.outputs).enumerated() {
            let (va, vb) = (ga[x], gb[y])
            if va.dtype != vb.dtype || va.shape != vb.shape { model.append("output \(k): \(va.dtype.name)\(va.shape) → \(vb.dtype.name)\(vb.shape)") }
        }
    }

    package static func opDetails(_ x: Op, _ y: Op, _ ga: Graph, _ gb: Graph, _ a: Model, _ b: Model) -> [String] {
        var d: [String] = []
        if x.version != y.version { d.append("version \(x.version) → \(y.version)") }
        let fa = Dictionary(OptionsDescription.fields(x), uniquingKeysWith: { p, _ in p })
        let fb = Dictionary(OptionsDescription.fields(y), uniquingKeysWith: { p, _ in p })
        for k in Set(fa.keys).union(fb.keys).sorted() where fa[k] != fb[k] {
            d.append("\(k) \(fa[k] ?? "-") → \(fb[k] ?? "-")")
        }
        if x.kind.fusedActivation != y.kind.fusedActivation {
            d.append("fused activation \(x.kind.fusedActivation?.description ?? "-") → \(y.kind.fusedActivation?.description ?? "-")")
        }
        if x.inputs.count != y.inputs.count || zip(x.inputs, y.inputs).contains(where: { $0.isAbsent != $1.isAbsent }) {
            d.append("inputs \(x.inputs.count) → \(y.inputs.count)\(y.inputs.contains(where: \.isAbsent) ? " (some omitted)" : "")")
        }
        if x.customOptions != y.customOptions { d.append("custom options differ") }
        return d
    }

    package static func tensorDetails(_ x: Value, _ y: Value, _ a: Model, _ b: Model) -> [String] {
        var d: [String] = []
        if x.dtype != y.dtype { d.append("dtype \(x.dtype.name) → \(y.dtype.name)") }
        if x.shape != y.shape { d.append("shape \(x.shape) → \(y.shape)") }
        let qa = x.quantization, qb = y.quantization
        if (qa?.scales ?? []) != (qb?.scales ?? []) || (qa?.zeroPoints ?? []) != (qb?.zeroPoints ?? []) {
            d.append("quantization \(qdesc(qa)) → \(qdesc(qb))")
        } else if (qa?.scales.count ?? 0) > 1 && qa?.axis != qb?.axis {
            d.append("quantized axis \(qa!.axis) → \(qb!.axis)")
        }
        let ca = a.isConstant(x), cb = b.isConstant(y)
        if ca != cb { d.append(ca ? "constant → runtime" : "runtime → constant") }
        return d
    }

    private static func qdesc(_ q: Quantization?) -> String {
        guard let q, q.hasScales else { return "none" }
        if q.scales.count == 1 { return "scale \(q.scales[0]) zp \(q.zeroPoints.first ?? 0)" }
        return "per-channel(\(q.scales.count), axis \(q.axis))"
    }

    private func pairReplacements(_ raw: [OpChange]) -> [OpChange] {
        var out: [OpChange] = []
        var i = 0
        while i < raw.count {
            var removed: [(Int, String)] = []
            var added: [(Int, String)] = []
            var j = i
            while j < raw.count {
                if case .removed(let a, let op) = raw[j] { removed.append((a, op)) } else if case .added(let b, let op) = raw[j] { added.append((b, op)) } else { break }
                j += 1
            }
            if j == i { out.append(raw[i]); i += 1; continue }
            let n = min(removed.count, added.count)
            for k in 0..<n { out.append(.replaced(a: removed[k].0, b: added[k].0, from: removed[k].1, to: added[k].1)) }
            for r in removed.dropFirst(n) { out.append(.removed(a: r.0, op: r.1)) }
            for ad in added.dropFirst(n) { out.append(.added(b: ad.0, op: ad.1)) }
            i = j
        }
        return out
    }

    // MARK: rendering

    public func text(nameA: String, nameB: String) -> String {
        var out = "--- \(nameA)\n+++ \(nameB)\n"
        if isIdentical { return out + "no structural differences\n" }
        for m in model { out += "model: \(m)\n" }
        out += "ops:\n"
        for c in ops {
            switch c {
            case .same(let i, let j, let op): out += "    #\(i) = #\(j) \(op)\n"
            case .changed(let i, let j, let d): out += "  ~ #\(i) → #\(j): \(d.joined(separator: "; "))\n"
            case .replaced(let i, let j, let f, let t): out += "  ! #\(i) \(f) became \(t) #\(j)\n"
            case .removed(let i, let op): out += "  - #\(i) \(op) removed\n"
            case .added(let j, let op): out += "  + #\(j) \(op) added\n"
            }
        }
        if !tensors.isEmpty {
            out += "tensors:\n"
            for t in tensors { out += "  ~ %\(t.a) → %\(t.b) \"\(t.name)\": \(t.details.joined(separator: "; "))\n" }
        }
        for m in metadata { out += "\(m)\n" }
        return out
    }

    public func json() -> JSON {
        .object([
            ("identical", .bool(isIdentical)),
            ("model", .array(model.map(JSON.string))),
            ("ops", .array(ops.map { c in
                switch c {
                case .same(let i, let j, let op): .object([("change", .string("same")), ("a", .int(Int64(i))), ("b", .int(Int64(j))), ("op", .string(op))])
                case .changed(let i, let j, let d): .object([("change", .string("changed")), ("a", .int(Int64(i))), ("b", .int(Int64(j))), ("details", .array(d.map(JSON.string)))])
                case .replaced(let i, let j, let f, let t): .object([("change", .string("replaced")), ("a", .int(Int64(i))), ("b", .int(Int64(j))), ("from", .string(f)), ("to", .string(t))])
                case .removed(let i, let op): .object([("change", .string("removed")), ("a", .int(Int64(i))), ("op", .string(op))])
                case .added(let j, let op): .object([("change", .string("added")), ("b", .int(Int64(j))), ("op", .string(op))])
                }
            })),
            ("tensors", .array(tensors.map { t in
                .object([("a", .int(Int64(t.a))), ("b", .int(Int64(t.b))), ("name", .string(t.name)), ("details", .array(t.details.map(JSON.string)))])
            })),
            ("metadata", .array(metadata.map(JSON.string))),
        ])
    }
}

private func quoted(_ s: String?) -> String { s.map { "\"\($0)\"" } ?? "none" }

package enum AlignStep { case match(Int, Int), delete(Int), insert(Int) }

/// Longest-common-subsequence alignment of two sequences: O(n·m) time and memory for what
/// follows their common prefix.
package func lcsAlign(_ a: [String], _ b: [String]) -> [AlignStep] {
    // The walk below matches equal heads first, and the table of a suffix pair is the full
    // table's corner, so a common prefix is matched without a table: comparing a model with
    // its own rewrite costs O(ops), not O(ops²) time and memory.
    var prefix = 0
    while prefix < a.count && prefix < b.count && a[prefix] == b[prefix] { prefix += 1 }
    var steps: [AlignStep] = (0..<prefix).map { .match($0, $0) }
    let n = a.count - prefix, m = b.count - prefix
    // dp[i][j] = LCS length of a[prefix+i...] and b[prefix+j...], one flat row-major table.
    let width = m + 1
    var dp = [Int32](repeating: 0, count: (n + 1) * width)
    if n > 0 && m > 0 {
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                dp[i * width + j] = a[prefix + i] == b[prefix + j]
                    ? dp[(i + 1) * width + j + 1] + 1 : max(dp[(i + 1) * width + j], dp[i * width + j + 1])
            }
        }
    }
    var i = 0, j = 0
    while i < n || j < m {
        if i < n && j < m && a[prefix + i] == b[prefix + j] {
            steps.append(.match(prefix + i, prefix + j)); i += 1; j += 1
        } else if j < m && (i == n || dp[i * width + j + 1] >= dp[(i + 1) * width + j]) {
            // Prefer removals before insertions so replacements pair up in order.
            if i < n && dp[(i + 1) * width + j] == dp[i * width + j + 1] {
                steps.append(.delete(prefix + i)); i += 1
            } else {
                steps.append(.insert(prefix + j)); j += 1
            }
        } else {
            steps.append(.delete(prefix + i)); i += 1
        }
    }
    return steps
}
