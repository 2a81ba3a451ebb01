import FlatBuffers
import IR
import Ops
import Support
import TFProto

// The data-flow structure of a GraphDef: which node a tensor name refers to, which nodes
// an output needs, and an execution order for them. Control inputs ("^node") order
// execution in TensorFlow but carry no data, so they are ignored here.

/// A tensor of a GraphDef: output `index` of node `node` ("node:index"; "node" = index 0).
public struct TFTensorRef: Hashable, Sendable, CustomStringConvertible {
    public var node: String
    public var index: Int

    public init(node: String, index: Int = 0) {
        self.node = node
        self.index = index
    }

    /// Parses "node", "node:k"; nil for a control input ("^node") or an empty name.
    /// Inside function bodies names look like "node:arg:k"; those are not frozen graphs and
    /// are not accepted here.
    public init?(parsing s: String) {
        guard !s.isEmpty, !s.hasPrefix("^") else { return nil }
        if let colon = s.lastIndex(of: ":"), let k = Int(s[s.index(after: colon)...]), k >= 0 {
            let name = String(s[..<colon])
            guard !name.isEmpty, !name.contains(":") else { return nil }
            self.init(node: name, index: k)
        } else {
            guard !s.contains(":") else { return nil }
            self.init(node: s, index: 0)
        }
    }

    /// TensorFlow's spelling: "node" for output 0, "node:k" otherwise.
    public var description: String { index == 0 ? node : "\(node):\(index)" }
}

/// Nodes by name with their data inputs parsed.
package struct GraphDefTopology {
    package let nodes: [TFNodeDef]
    /// Node name → position in `nodes` (the first node wins if a name repeats).
    package let index: [String: Int]
    /// Data inputs of each node, parsed; nil where a string was malformed.
    package let dataInputs: [[TFTensorRef?]]

    package init(_ graph: TFGraphDef) throws {
        nodes = graph.nodes
        var index: [String: Int] = [:]
        index.reserveCapacity(nodes.count)
        for (i, n) in nodes.enumerated() {
            if index[n.name] != nil {
                throw GraphDefImportError.graph("two nodes are named '\(n.name)' (a GraphDef needs unique node names)")
            }
            index[n.name] = i
        }
        self.index = index
        dataInputs = nodes.map { n in n.inputs.filter { !$0.hasPrefix("^") }.map { TFTensorRef(parsing: $0) } }
    }

    package func node(_ name: String) -> TFNodeDef? { index[name].map { nodes[$0] } }

    /// Nodes that nothing reads, through data or control edges, in graph order: the default
    /// outputs. NoOp, Const and Placeholder nodes are never outputs.
    package func sinks() -> [Int] {
        var read = [Bool](repeating: false, count: nodes.count)
        for n in nodes {
            for s in n.inputs {
                let name = s.hasPrefix("^") ? String(s.dropFirst()) : (TFTensorRef(parsing: s)?.node ?? s)
                if let i = index[name] { read[i] = true }
            }
        }
        let excluded: Set<String> = ["NoOp", "Const", "Placeholder", "PlaceholderWithDefault"]
        return nodes.indices.filter { !read[$0] && !excluded.contains(nodes[$0].op) }
    }

    /// Every node the `outputs` need, following data inputs backwards and stopping at the
    /// nodes in `cuts` (graph inputs). Throws for a malformed or dangling input name.
    package func needed(from outputs: [Int], cuts: Set<Int>) throws -> [Bool] {
        var seen = [Bool](repeating: false, count: nodes.count)
        var stack = outputs
        while let i = stack.popLast() {
            if seen[i] { continue }
            seen[i] = true
            if cuts.contains(i) { continue }
            for (k, ref) in dataInputs[i].enumerated() {
                guard let ref else {
                    throw nodes[i].invalid("input \(k) '\(nodes[i].inputs.filter { !$0.hasPrefix("^") }[k])' is not a valid tensor name")
                }
                guard let j = index[ref.node] else {
                    throw GraphDefImportError.missingInput(node: nodes[i].name, op: nodes[i].op, input: ref.description)
                }
                if !seen[j] { stack.append(j) }
            }
        }
        return seen
    }

    /// The needed nodes in an order where every node comes after the nodes it reads (graph
    /// order where possible); throws naming the nodes of a cycle.
    package func executionOrder(needed: [Bool], cuts: Set<Int>) throws -> [Int] {
        // Iterative depth-first search; colour 1 = on the stack, 2 = done.
        var colour = [UInt8](repeating: 0, count: nodes.count)
        var order: [Int] = []
        for root in nodes.indices where needed[root] && colour[root] == 0 {
            var stack: [(node: Int, next: Int)] = [(root, 0)]
            colour[root] = 1
            while !stack.isEmpty {
                let (i, k) = stack[stack.count - 1]
                let inputs = cuts.contains(i) ? [] : dataInputs[i]
                if k < inputs.count {
                    stack[stack.count - 1].next += 1
                    guard let ref = inputs[k], let j = index[ref.node] else { continue }
                    // A TF1 while loop's back edge (NextIteration → Merge) is not a dependency.
                    if isBackEdge(from: j, to: i) { continue }
                    switch colour[j] {
                    case 0:
                        colour[j] = 1
                        stack.append((j, 0))
                    case 1:
                        let start = stack.firstIndex { $0.node == j } ?? 0
                        // Print the cycle in data-flow order: producer → consumer.
                        let cycle = stack[start...].map { nodes[$0.node].name }.reversed()
                        throw GraphDefImportError.cycle([nodes[j].name] + Array(cycle))
                    default:
                        break
                    }
                } else {
                    colour[i] = 2
                    order.append(i)
                    stack.removeLast()
                }
            }
        }
        return order
    }

    /// Whether node `consumer` reads node `producer` along a TF1 while loop's back edge: a
    /// Merge reading a NextIteration (the value for the next iteration).
    package func isBackEdge(from producer: Int, to consumer: Int) -> Bool {
        nodes[consumer].op == "Merge" && nodes[producer].op == "NextIteration"
    }
}
