import Foundation
import IR
import Ops

/// One subgraph as boxes and arrows, laid out, with every label and hover text decided here so
/// that the SVG writer only draws: ops (name, version, fused activation), the subgraph's inputs
/// and outputs, and one edge per runtime tensor use, labelled with shape and type. Constants
/// (weights, biases) are not drawn; an op's hover text lists them.
package struct GraphPicture {
    package enum NodeKind: String { case op, input, output }
    /// How a diff sees an op; `plain` outside a diff.
    package enum Status: String { case plain, same, changed, added, removed }

    package struct Node {
        package var kind: NodeKind
        package var lines: [String]
        package var hover: String
        /// The op's index among the subgraph's live ops (inspect's numbering); nil for I/O.
        package var opIndex: Int?
        package var opName: String?
        package var status: Status = .plain
        /// The paired op's index in the other model of a diff.
        package var partner: Int?
        package var width: Double
    }

    package struct Edge {
        package var from: Int
        package var to: Int
        package var label: String
        package var hover: String
    }

    package var title: String
    package var nodes: [Node]
    package var edges: [Edge]
    package var layout: LayeredLayout

    package static let nodeHeight = 38.0
    /// Advance of one character of the 12 px monospace font the page uses (DejaVu Sans Mono).
    package static let characterWidth = 7.3
    static let maxLabel = 32

    /// `liveOps` are the indices into `graph.ops` of the live ops, in the order the picture
    /// numbers them; `status` may mark each (by live index) for a diff.
    package init(model: Model, subgraph: Int, title: String, annotate: (Int) -> (Status, Int?, [String]) = { _ in (.plain, nil, []) }) {
        let graph = model.subgraphs[subgraph]
        self.title = title
        let live = graph.ops.indices.filter { !graph.ops[$0].isErased }
        var liveIndex = [Int: Int]()
        for (i, opIndex) in live.enumerated() { liveIndex[opIndex] = i }
        let order = graph.topologicalOrder() ?? live

        var nodes: [Node] = []
        var producerNode = [Int32: Int]()
        for (k, v) in graph.inputs.enumerated() where !v.isAbsent {
            let value = graph[v]
            producerNode[v.raw] = nodes.count
            nodes.append(Self.ioNode(.input, "input \(k)", value, graph: graph, model: model))
        }
        var opNode = [Int: Int]()
        for opIndex in order {
            let op = graph.ops[opIndex]
            let index = liveIndex[opIndex] ?? opIndex
            let (status, partner, changes) = annotate(index)
            var first = "\(op.name) v\(op.version)"
            if first.count > Self.maxLabel { first = String(first.prefix(Self.maxLabel - 1)) + "…" }
            var second = "#\(index)"
            if let a = op.kind.fusedActivation, a != .none { second += " · \(a)" }
            var node = Node(kind: .op, lines: [first, second], hover: Self.opHover(op, index: index, graph: graph, model: model, changes: changes),
                            opIndex: index, opName: op.name, status: status, partner: partner, width: 0)
            node.width = Self.width(node.lines)
            opNode[opIndex] = nodes.count
            for v in op.outputs where !v.isAbsent { producerNode[v.raw] = nodes.count }
            nodes.append(node)
        }
        var edges: [Edge] = []
        var drawn = Set<[Int]>()
        var labelled = Set<Int32>()
        func connect(_ v: ValueID, to target: Int) {
            guard let source = producerNode[v.raw], drawn.insert([source, target, Int(v.raw)]).inserted else { return }
            let value = graph[v]
            // One label per tensor: its fan-out edges start at the same point.
            let label = labelled.insert(v.raw).inserted ? Self.typeLabel(value) : ""
            edges.append(Edge(from: source, to: target, label: label, hover: Self.tensorHover(value, id: v)))
        }
        for opIndex in order {
            for v in graph.ops[opIndex].inputs where !v.isAbsent { connect(v, to: opNode[opIndex]!) }
        }
        for (k, v) in graph.outputs.enumerated() where !v.isAbsent {
            nodes.append(Self.ioNode(.output, "output \(k)", graph[v], graph: graph, model: model))
            connect(v, to: nodes.count - 1)
        }
        self.nodes = nodes
        self.edges = edges
        layout = LayeredLayout(widths: nodes.map(\.width), nodeHeight: Self.nodeHeight, edges: edges.map { ($0.from, $0.to) })
    }

    static func width(_ lines: [String]) -> Double {
        Double(lines.map(\.count).max() ?? 0) * characterWidth + 20
    }

    static func ioNode(_ kind: NodeKind, _ role: String, _ value: Value, graph: Graph, model: Model) -> Node {
        var name = value.name
        // Scoped names share their prefix (lstm_1/while/…); the end tells them apart.
        if name.count > maxLabel { name = "…" + String(name.suffix(maxLabel - 1)) }
        let lines = [role, name]
        return Node(kind: kind, lines: lines, hover: "\(role): \(value.name)\n\(typeLabel(value))\(quantizationText(value.quantization))",
                    width: width(lines))
    }

    /// `1×49×10 int8`; a tensor without a rank shows `?`.
    package static func typeLabel(_ value: Value) -> String {
        let shape = value.hasRank ? (value.shape.isEmpty ? "scalar" : value.shape.map(String.init).joined(separator: "×")) : "?"
        return "\(shape) \(value.dtype.name.lowercased())"
    }

    static func quantizationText(_ q: Quantization?) -> String {
        guard let q, q.hasScales else { return "" }
        if q.scales.count == 1 { return "\nquantized: scale \(q.scales[0]), zero point \(q.zeroPoints.first ?? 0)" }
        let shown = q.scales.prefix(4).map { "\($0)" }.joined(separator: ", ")
        return "\nquantized per channel (axis \(q.axis), \(q.scales.count) scales): \(shown)\(q.scales.count > 4 ? ", …" : "")"
    }

    static func tensorHover(_ value: Value, id: ValueID) -> String {
        "tensor \(id.raw): \(value.name)\n\(typeLabel(value))\(quantizationText(value.quantization))"
    }

    static func opHover(_ op: Op, index: Int, graph: Graph, model: Model, changes: [String]) -> String {
        var lines = ["#\(index) \(op.name) version \(op.version)"]
        if let a = op.kind.fusedActivation, a != .none { lines.append("fused activation: \(a)") }
        let options = OptionsDescription.text(op)
        if !options.isEmpty { lines.append("options: \(options)") }
        if !op.provenance.isEmpty { lines.append("from: \(op.provenance.joined(separator: ", "))") }
        for (title, ids) in [("inputs", op.inputs), ("outputs", op.outputs)] {
            lines.append("\(title):")
            for (k, v) in ids.enumerated() {
                guard !v.isAbsent else { lines.append("  \(k): (omitted)"); continue }
                let value = graph[v]
                let kind = model.isConstant(value) ? " (constant)" : ""
                let q = quantizationText(value.quantization).replacingOccurrences(of: "\n", with: "\n    ")
                lines.append("  \(k): \(value.name)\(kind) \(typeLabel(value))\(q)")
            }
        }
        if !changes.isEmpty { lines.append("changed:"); lines += changes.map { "  \($0)" } }
        return lines.joined(separator: "\n")
    }
}
