import Support

/// Replaces every PartitionedCall / StatefulPartitionedCall node of a GraphDef with the body of
/// the function it calls (from the graph's FunctionDefLibrary), recursively, so the TF2 model
/// body becomes an ordinary graph the GraphDef lowering can read.
///
///     call C = StatefulPartitionedCall[f=F](x, w)       C/MatMul  = MatMul(x, w)
///     F(a, b) { MatMul(a, b); ret y = MatMul:product:0 } ⇒ C        = IdentityN(C/MatMul)
///
/// Body nodes are renamed "<call name>/<node name>" (unique, since node names are unique inside
/// one function), parameters are replaced by the call's inputs, and the call node becomes an
/// IdentityN of the function's return values, so "C:k" keeps meaning output k. Inside bodies a
/// data input is "node:out_arg:idx" (function.proto): the flat output index is idx plus the
/// sizes of the op's earlier output args (`outputArgOffsets`).
package struct FunctionInliner {
    /// Calls nest this deep at most: real models nest a few levels (signature wrapper → model
    /// call → layer); more is a recursive or hostile library.
    package static let maxDepth = 64
    package static let callOps: Set<String> = ["PartitionedCall", "StatefulPartitionedCall"]

    private let functions: [String: TFFunctionDef]
    private let path: String
    private var output: [TFNodeDef] = []

    package init(library: [TFFunctionDef], path: String) {
        var functions: [String: TFFunctionDef] = [:]
        for f in library where functions[f.name] == nil { functions[f.name] = f }
        self.functions = functions
        self.path = path
    }

    /// The graph's nodes with every call whose function is in the library inlined. A call to a
    /// function the library lacks is left as it is (the lowering reports it if it is needed).
    package static func inline(_ graph: TFGraphDef, path: String) throws -> TFGraphDef {
        var inliner = FunctionInliner(library: graph.functions, path: path)
        for node in graph.nodes {
            if let f = inliner.calledFunction(node) {
                try inliner.expand(call: node, function: f, depth: 1)
            } else {
                try inliner.append(node)
            }
        }
        return TFGraphDef(nodes: inliner.output, functions: [], producer: graph.producer)
    }

    private func calledFunction(_ node: TFNodeDef) -> TFFunctionDef? {
        guard Self.callOps.contains(node.op), case .func(let name)? = node.attrs["f"] else { return nil }
        return functions[name]
    }

    private mutating func append(_ node: TFNodeDef) throws {
        output.append(node)
        // Nested calls can multiply the node count (F calls G twice, G calls H twice, …).
        try MemoryBudget.check(count: output.count, elementSize: 512, for: "inlining the function calls of \(path) (\(output.count) nodes so far)")
    }

    /// Appends the body of `function` for the call node `call`, whose inputs are already names in
    /// the flat graph.
    private mutating func expand(call: TFNodeDef, function: TFFunctionDef, depth: Int) throws {
        guard depth <= Self.maxDepth else {
            throw GraphDefImportError.savedModel(path: path, message: "function calls nest deeper than \(Self.maxDepth) levels at '\(call.name)' (calling '\(function.name)'): a recursive function library?")
        }
        let dataInputs = call.inputs.filter { !$0.hasPrefix("^") }
        guard dataInputs.count == function.inputArgs.count else {
            throw GraphDefImportError.savedModel(
                path: path, message: "\(call.op) node '\(call.name)' passes \(dataInputs.count) inputs to function '\(function.name)', which takes \(function.inputArgs.count)")
        }
        let prefix = call.name + "/"
        var arguments: [String: String] = [:]
        for (arg, input) in zip(function.inputArgs, dataInputs) { arguments[arg.name] = input }
        let opOfNode = Dictionary(function.nodes.map { ($0.name, $0.op) }, uniquingKeysWith: { first, _ in first })

        func rename(_ text: String, in node: String) throws -> String? {
            if text.hasPrefix("^") {
                let target = String(text.dropFirst())
                // A control edge on a parameter orders nothing inside the flat graph.
                return arguments[target] != nil ? nil : "^" + prefix + target
            }
            return try flatTensor(text, arguments: arguments, opOfNode: opOfNode, prefix: prefix, function: function.name, node: node)
        }

        for var node in function.nodes {
            let original = node.name
            node.name = prefix + original
            node.inputs = try node.inputs.compactMap { try rename($0, in: original) }
            if let callee = calledFunction(node) {
                try expand(call: node, function: callee, depth: depth + 1)
            } else {
                try append(node)
            }
        }
        var results: [String] = []
        for arg in function.outputArgs {
            guard let ret = function.ret[arg.name] else {
                throw GraphDefImportError.savedModel(path: path, message: "function '\(function.name)' does not say which tensor its output '\(arg.name)' returns")
            }
            results.append(try flatTensor(ret, arguments: arguments, opOfNode: opOfNode, prefix: prefix, function: function.name, node: "ret \(arg.name)"))
        }
        try append(TFNodeDef(name: call.name, op: "IdentityN", inputs: results + call.inputs.filter { $0.hasPrefix("^") }))
    }

    /// A body input ("param", "node:out_arg:idx") as a flat-graph tensor name.
    private func flatTensor(
        _ text: String, arguments: [String: String], opOfNode: [String: String], prefix: String, function: String, node: String
    ) throws -> String {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        func bad(_ why: String) -> GraphDefImportError {
            .savedModel(path: path, message: "function '\(function)', node '\(node)': input '\(text)' \(why)")
        }
        switch parts.count {
        case 1:
            guard let argument = arguments[parts[0]] else { throw bad("names neither a parameter nor a node output (node:out_arg:index)") }
            return argument
        case 2:
            // "param:k" is how TF spells a list parameter's element; ours are single tensors.
            guard let argument = arguments[parts[0]], parts[1] == "0" else { throw bad("is not a node:out_arg:index name") }
            return argument
        case 3:
            guard let op = opOfNode[parts[0]] else { throw bad("reads node '\(parts[0])', which the function does not have") }
            guard let idx = Int(parts[2]), idx >= 0, idx < 1 << 20 else { throw bad("has an invalid output index") }
            let flat = Self.outputArgOffset(op: op, arg: parts[1]) + idx
            return TFTensorRef(node: prefix + parts[0], index: flat).description
        default:
            throw bad("is not a node:out_arg:index name")
        }
    }

    /// Output args of ops with more than one (TF's op definitions in core/ops/*.cc), as
    /// (name, count attr or fixed count). Every other op's outputs are one arg, at offset 0.
    private static let multiOutputOps: [String: [String]] = [
        "FusedBatchNorm": ["y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2"],
        "FusedBatchNormV2": ["y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2"],
        "FusedBatchNormV3": ["y", "batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2", "reserve_space_3"],
        "TopKV2": ["values", "indices"],
        "Unique": ["y", "idx"],
    ]

    /// Flat index of output arg `arg`'s first tensor. Every arg of the ops listed is one tensor.
    package static func outputArgOffset(op: String, arg: String) -> Int {
        multiOutputOps[op]?.firstIndex(of: arg) ?? 0
    }
}
