import TFProto

/// The parts of a TF2 SavedModel's `SavedObjectGraph` (saved_object_graph.proto) that say which
/// checkpoint entry holds each variable a function captures.
public struct TFObjectGraph: Equatable, Sendable {
    public struct Node: Equatable, Sendable {
        /// (object id, attribute name) of each child, in the saved order.
        public var children: [(id: Int, name: String)]
        /// `SavedVariable.name` when the object is a variable.
        public var variableName: String?

        public static func == (a: Node, b: Node) -> Bool {
            a.variableName == b.variableName && a.children.map(\.id) == b.children.map(\.id) && a.children.map(\.name) == b.children.map(\.name)
        }
    }

    public var nodes: [Node]
    /// Concrete function name → object ids of its captured inputs (`bound_inputs`), which are
    /// the last inputs of a call to that function.
    public var boundInputs: [String: [Int]]

    public init(nodes: [Node] = [], boundInputs: [String: [Int]] = [:]) {
        self.nodes = nodes
        self.boundInputs = boundInputs
    }

    init(copying graph: UnsafeMutablePointer<Tfproto__SavedObjectGraph>) {
        let g = graph.pointee
        nodes = ProtoCopy.messages(g.nodes, g.n_nodes) { node in
            Node(
                children: ProtoCopy.messages(node.pointee.children, node.pointee.n_children) { (Int($0.pointee.node_id), ProtoCopy.string($0.pointee.local_name)) },
                variableName: node.pointee.variable.map { ProtoCopy.string($0.pointee.name) })
        }
        var bound: [String: [Int]] = [:]
        for entry in ProtoCopy.messages(g.concrete_functions, g.n_concrete_functions, { $0 }) {
            let key = ProtoCopy.string(entry.pointee.key)
            bound[key] = entry.pointee.value.map { ProtoCopy.array($0.pointee.bound_inputs, $0.pointee.n_bound_inputs).map(Int.init) } ?? []
        }
        boundInputs = bound
    }

    /// The checkpoint key of each object reachable from the root (object 0): the attribute
    /// names along the first path a breadth-first walk finds, each escaped, joined by "/", as
    /// TensorFlow names checkpoint entries (checkpoint/graph_view.py breadth-first traversal,
    /// trackable/trackable_utils.py `escape_local_name` and `object_path_to_string`). A
    /// variable's value is then under key + "/.ATTRIBUTES/VARIABLE_VALUE".
    public func objectPaths() -> [Int: String] {
        guard !nodes.isEmpty else { return [:] }
        var paths: [Int: String] = [0: ""]
        var queue = [0]
        var head = 0
        while head < queue.count {
            let current = queue[head]
            head += 1
            let prefix = paths[current]!
            for child in nodes[current].children where child.id >= 0 && child.id < nodes.count && paths[child.id] == nil {
                paths[child.id] = prefix.isEmpty ? Self.escape(child.name) : prefix + "/" + Self.escape(child.name)
                queue.append(child.id)
            }
        }
        return paths
    }

    /// "." → "..", "/" → ".S" (trackable_utils.py `escape_local_name`).
    static func escape(_ name: String) -> String {
        name.replacingOccurrences(".", with: "..").replacingOccurrences("/", with: ".S")
    }

    public static let variableValueSuffix = "/.ATTRIBUTES/VARIABLE_VALUE"
}

extension String {
    fileprivate func replacingOccurrences(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
