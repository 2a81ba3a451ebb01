import Support

/// Unrolls the `While` loops of a flat (inlined) TF2 graph whose trip count is known when the
/// graph is read, as Keras 3's RNN layers write them for a fixed number of time steps
/// (keras/src/backend/tensorflow/rnn.py: a `tf.while_loop` over a TensorList of the steps that
/// writes each step's output to another TensorList):
///
///     list = TensorListFromTensor(x)                  x_t = StridedSlice(x, [t], [t+1], shrink 1)
///     While(counter, max, t, out, h, c; cond, body) ⇒  body nodes copied per step t = 0, 1, …
///     y = TensorListStack(out)                         y = Pack(out_0, …, out_{n-1})
///
/// The loop's integer state (counter, time, bounds) is evaluated here, step by step, through
/// the cond and body functions (Const, Identity, AddV2, Sub, Less, LogicalAnd, Max, Range, …);
/// the cond must come out a known boolean at every step, else the loop is refused. TensorLists
/// are followed symbolically: a list is its source tensor or its items, and GetItem / SetItem /
/// Stack with known indices become slices, item replacement and a Pack. Every other node is
/// copied with its inputs renamed (body node `n` of step k is `<while>/step<k>/n`), so the
/// GraphDef lowering sees only ordinary ops. Graphs without `While` are returned unchanged.
package struct WhileUnroller {
    /// Time steps at most: each copies the loop body.
    package static let maxSteps = 4096
    static let whileOps: Set<String> = ["While", "StatelessWhile"]

    private enum Symbol {
        case tensor(String)
        case list(TensorList)
    }

    private struct TensorList {
        var source: String?
        var items: [String?]
        /// Rank of the source tensor (its element_shape's length + 1), when known.
        var sourceRank: Int?
    }

    private let functions: [String: TFFunctionDef]
    private let path: String
    private var output: [TFNodeDef] = []
    /// Known integer (or boolean 0/1) values of tensors, by flat tensor name ("node:k").
    private var known: [String: [Int]] = [:]
    /// TensorLists by flat tensor name.
    private var lists: [String: TensorList] = [:]
    /// A While output (or list) renamed to the tensor that now holds it.
    private var renamed: [String: String] = [:]

    package static func unroll(_ graph: TFGraphDef, library: [TFFunctionDef], path: String) throws -> TFGraphDef {
        guard graph.nodes.contains(where: { whileOps.contains($0.op) }) else { return graph }
        var unroller = WhileUnroller(library: library, path: path)
        for node in try topologicalOrder(graph.nodes, path: path) {
            try unroller.visit(node, scope: nil)
        }
        return TFGraphDef(nodes: unroller.output, functions: graph.functions, producer: graph.producer)
    }

    private init(library: [TFFunctionDef], path: String) {
        var functions: [String: TFFunctionDef] = [:]
        for f in library where functions[f.name] == nil { functions[f.name] = f }
        self.functions = functions
        self.path = path
    }

    private func fail(_ message: String) -> GraphDefImportError { .savedModel(path: path, message: message) }

    /// Nodes ordered so that each comes after the nodes it reads (Kahn's algorithm, stable).
    private static func topologicalOrder(_ nodes: [TFNodeDef], path: String) throws -> [TFNodeDef] {
        var index: [String: Int] = [:]
        for (k, n) in nodes.enumerated() where index[n.name] == nil { index[n.name] = k }
        var users = [[Int]](repeating: [], count: nodes.count)
        var pending = [Int](repeating: 0, count: nodes.count)
        for (k, n) in nodes.enumerated() {
            for input in n.inputs {
                let name = input.hasPrefix("^") ? String(input.dropFirst()) : TFTensorRef(parsing: input)?.node ?? input
                if let j = index[name], j != k {
                    users[j].append(k)
                    pending[k] += 1
                }
            }
        }
        var ready = (0..<nodes.count).filter { pending[$0] == 0 }
        var order: [TFNodeDef] = []
        var head = 0
        while head < ready.count {
            let k = ready[head]
            head += 1
            order.append(nodes[k])
            for u in users[k] {
                pending[u] -= 1
                if pending[u] == 0 { ready.append(u) }
            }
        }
        guard order.count == nodes.count else {
            throw GraphDefImportError.savedModel(path: path, message: "the graph has a cycle, so its while loops cannot be unrolled")
        }
        return order
    }

    // MARK: One node

    /// A node's data input as a flat tensor name, after renaming.
    private func resolve(_ input: String) -> String {
        let ref = TFTensorRef(parsing: input)?.description ?? input
        return renamed[ref] ?? ref
    }

    private mutating func emit(_ node: TFNodeDef) throws {
        output.append(node)
        try MemoryBudget.check(count: output.count, elementSize: 512, for: "unrolling the while loops of \(path) (\(output.count) nodes so far)")
    }

    /// Handles `node` whose data inputs are already flat tensor names (control inputs dropped
    /// inside unrolled bodies: the copies are ordered by their data).
    private mutating func visit(_ node: TFNodeDef, scope: String?) throws {
        var node = node
        let controls = node.inputs.filter { $0.hasPrefix("^") }
        let data = node.inputs.filter { !$0.hasPrefix("^") }.map(resolve)
        node.inputs = data + (scope == nil ? controls : [])
        let name = node.name
        func out(_ k: Int) -> String { TFTensorRef(node: name, index: k).description }
        switch node.op {
        case "While", "StatelessWhile":
            guard scope == nil else { throw fail("while loop '\(name)' is nested in another loop, which is not supported") }
            try unrollLoop(node, inputs: data)
            return
        case "TensorListFromTensor":
            // element_shape (input 1) gives the rank: the slices are spelled out in full,
            // as TFLM's STRIDED_SLICE wants begin/end/strides for every dimension.
            var sourceRank: Int?
            if data.count > 1, let elementShape = known[data[1]], elementShape != [-1] { sourceRank = elementShape.count + 1 }
            lists[out(0)] = TensorList(source: data.first, items: [], sourceRank: sourceRank)
            return
        case "TensorListReserve":
            guard data.count >= 2, let n = known[data[1]]?.first, n >= 0, n <= Self.maxSteps else {
                throw fail("TensorListReserve '\(name)': the number of elements is not known when the graph is read")
            }
            lists[out(0)] = TensorList(source: nil, items: Array(repeating: nil, count: n))
            return
        case "TensorListGetItem":
            guard data.count >= 2, let list = lists[data[0]], let i = known[data[1]]?.first, abs(i) < 1 << 31 else {
                throw fail("TensorListGetItem '\(name)': the list or the index is not known when the graph is read")
            }
            if let source = list.source {
                // x[i]: the first dimension sliced and dropped, the others whole (masks).
                let rank = list.sourceRank ?? 1
                let rest = Array(repeating: 0, count: rank - 1)
                let whole = Int64(((1 << rank) - 1) & ~1)
                try emitConst(name + "/begin", [i] + rest)
                try emitConst(name + "/end", [i + 1] + rest)
                try emitConst(name + "/strides", Array(repeating: 1, count: rank))
                try emit(TFNodeDef(name: name, op: "StridedSlice", inputs: [source, name + "/begin", name + "/end", name + "/strides"], attrs: [
                    "T": node.attrs["element_dtype"] ?? .type(TFDataType.float.rawValue), "Index": .type(TFDataType.int32.rawValue), "shrink_axis_mask": .i(1),
                    "begin_mask": .i(whole), "end_mask": .i(whole),
                ]))
            } else {
                guard i >= 0, i < list.items.count, let item = list.items[i] else { throw fail("TensorListGetItem '\(name)' reads item \(i), which was never set") }
                renamed[out(0)] = item
            }
            return
        case "TensorListSetItem":
            guard data.count >= 3, var list = lists[data[0]], let i = known[data[1]]?.first, i >= 0, i < list.items.count, list.source == nil else {
                throw fail("TensorListSetItem '\(name)': the list or the index is not known when the graph is read, or the index is out of range")
            }
            list.items[i] = data[2]
            lists[out(0)] = list
            return
        case "TensorListStack":
            guard let list = lists[data.first ?? ""] else { throw fail("TensorListStack '\(name)': the list is not known when the graph is read") }
            if let source = list.source {
                renamed[out(0)] = source
                return
            }
            let items = list.items.compactMap { $0 }
            guard items.count == list.items.count, !items.isEmpty else { throw fail("TensorListStack '\(name)' stacks a list with unset items") }
            try emit(TFNodeDef(name: name, op: "Pack", inputs: items, attrs: [
                "T": node.attrs["element_dtype"] ?? .type(TFDataType.float.rawValue), "N": .i(Int64(items.count)), "axis": .i(0),
            ]))
            return
        case "Identity":
            if let d = data.first {
                if let l = lists[d] {
                    lists[out(0)] = l
                    return
                }
                if let v = known[d] { known[out(0)] = v }
            }
        case "NoOp":
            if scope != nil { return }
        default:
            break
        }
        if let values = evaluate(node.op, data, node) { known[out(0)] = values }
        guard !data.contains(where: { lists[$0] != nil }) else { throw fail("node '\(name)' (\(node.op)) uses a TensorList in a way that cannot be unrolled") }
        try emit(node)
    }

    private mutating func emitConst(_ name: String, _ values: [Int]) throws {
        let tensor = TFTensor(dtype: TFDataType.int32.rawValue, shape: TFTensorShape(dims: [Int64(values.count)]), intVal: values.map { Int32(truncatingIfNeeded: $0) })
        try emit(TFNodeDef(name: name, op: "Const", attrs: ["dtype": .type(TFDataType.int32.rawValue), "value": .tensor(tensor)]))
        known[name] = values
    }

    /// The integer value of a scalar-ish op on known inputs (nil: not known here).
    private func evaluate(_ op: String, _ data: [String], _ node: TFNodeDef) -> [Int]? {
        if op == "Const" {
            guard case .tensor(let t)? = node.attrs["value"], [TFDataType.int32.rawValue, TFDataType.int64.rawValue, TFDataType.bool.rawValue].contains(t.dtype),
                let decoded = try? t.decodedValues(nodeName: node.name), decoded.shape.reduce(1, *) <= 64
            else { return nil }
            switch decoded.elements {
            case .int32(let v): return v.map { Int($0) }
            case .int64(let v): return v.map { Int($0) }
            case .bool(let v): return v.map { $0 ? 1 : 0 }
            default: return nil
            }
        }
        let args = data.map { known[$0] }
        guard args.allSatisfy({ $0 != nil }) else { return nil }
        let a = args.map { $0! }
        func scalars(_ f: (Int, Int) -> Int) -> [Int]? {
            guard a.count == 2, a[0].count == 1, a[1].count == 1 else { return nil }
            let (x, y) = (a[0][0], a[1][0])
            guard abs(x) < 1 << 40, abs(y) < 1 << 40 else { return nil }
            return [f(x, y)]
        }
        switch op {
        case "AddV2", "Add": return scalars(+)
        case "Sub": return scalars(-)
        case "Less": return scalars { $0 < $1 ? 1 : 0 }
        case "LessEqual": return scalars { $0 <= $1 ? 1 : 0 }
        case "Greater": return scalars { $0 > $1 ? 1 : 0 }
        case "GreaterEqual": return scalars { $0 >= $1 ? 1 : 0 }
        case "LogicalAnd": return scalars { $0 != 0 && $1 != 0 ? 1 : 0 }
        case "LogicalOr": return scalars { $0 != 0 || $1 != 0 ? 1 : 0 }
        case "Maximum": return scalars(max)
        case "Minimum": return scalars(min)
        case "Range":
            guard a.count == 3, a.allSatisfy({ $0.count == 1 && abs($0[0]) < 1 << 40 }), a[2][0] != 0 else { return nil }
            let (start, limit, delta) = (a[0][0], a[1][0], a[2][0])
            guard (limit - start) / delta <= 64 else { return nil }  // counted before it is built
            return Array(stride(from: start, to: limit, by: delta))
        case "Max":
            // Reducing a scalar (any axes) or a vector over axis 0.
            guard a.count == 2, !a[0].isEmpty else { return nil }
            return a[0].count == 1 || a[1] == [0] ? [a[0].max()!] : nil
        default: return nil
        }
    }

    // MARK: Loops

    private func function(_ node: TFNodeDef, _ attr: String) throws -> TFFunctionDef {
        guard case .func(let name)? = node.attrs[attr], let f = functions[name] else {
            throw fail("while loop '\(node.name)': its \(attr) function is not in the library")
        }
        return f
    }

    private mutating func unrollLoop(_ node: TFNodeDef, inputs: [String]) throws {
        let cond = try function(node, "cond"), body = try function(node, "body")
        guard inputs.count == body.inputArgs.count, inputs.count == cond.inputArgs.count, body.outputArgs.count <= inputs.count else {
            throw fail("while loop '\(node.name)' passes \(inputs.count) loop variables to functions taking \(cond.inputArgs.count) and \(body.inputArgs.count)")
        }
        var state = inputs
        var step = 0
        while true {
            let go = try run(cond, arguments: state, scope: "\(node.name)/cond\(step)", emitting: false)
            guard go.count == 1, let decision = known[go[0]]?.first else {
                throw fail("while loop '\(node.name)': whether step \(step) runs is not known when the graph is read (only loops over a fixed number of steps are unrolled)")
            }
            if decision == 0 { break }
            guard step < Self.maxSteps else { throw fail("while loop '\(node.name)' runs more than \(Self.maxSteps) steps") }
            let next = try run(body, arguments: state, scope: "\(node.name)/step\(step)", emitting: true)
            // Body outputs replace the first loop variables; the rest (captured tensors) stay.
            state = next + state.dropFirst(next.count)
            step += 1
        }
        for (k, tensor) in state.enumerated() {
            let ref = TFTensorRef(node: node.name, index: k).description
            renamed[ref] = tensor
            if let l = lists[tensor] { lists[ref] = l }
            if let v = known[tensor] { known[ref] = v }
        }
    }

    /// Runs one copy of `function` on `arguments` (flat tensor names): its nodes renamed into
    /// `scope`; returns its outputs' flat names. The cond's nodes are evaluated, not emitted.
    private mutating func run(_ function: TFFunctionDef, arguments: [String], scope: String, emitting: Bool) throws -> [String] {
        var parameters: [String: String] = [:]
        for (arg, value) in zip(function.inputArgs, arguments) { parameters[arg.name] = value }
        let opOfNode = Dictionary(function.nodes.map { ($0.name, $0.op) }, uniquingKeysWith: { first, _ in first })
        func flat(_ text: String) throws -> String {
            if text.hasPrefix("^") { return text }
            let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            if let p = parameters[parts[0]], parts.count <= 2 { return p }
            guard parts.count == 3, let op = opOfNode[parts[0]], let idx = Int(parts[2]), idx >= 0, idx < 1 << 20 else {
                throw fail("function '\(function.name)': input '\(text)' names neither a parameter nor a node output")
            }
            return TFTensorRef(node: "\(scope)/\(parts[0])", index: FunctionInliner.outputArgOffset(op: op, arg: parts[1]) + idx).description
        }
        var nodes: [TFNodeDef] = []
        for var n in function.nodes {
            n.name = "\(scope)/\(n.name)"
            n.inputs = try n.inputs.filter { !$0.hasPrefix("^") }.map(flat)
            nodes.append(n)
        }
        for n in try Self.topologicalOrder(nodes, path: path) {
            if emitting {
                guard !FunctionInliner.callOps.contains(n.op) else { throw fail("while loop body '\(function.name)' calls a function ('\(n.name)'), which is not supported") }
                try visit(n, scope: scope)
            } else {
                let data = n.inputs.map(resolve)
                let ref = TFTensorRef(node: n.name, index: 0).description
                if n.op == "Identity", let d = data.first, let v = known[d] { known[ref] = v } else if let v = evaluate(n.op, data, n) { known[ref] = v }
            }
        }
        return try function.outputArgs.map { arg in
            guard let ret = function.ret[arg.name] else { throw fail("function '\(function.name)' does not say which tensor its output '\(arg.name)' returns") }
            return resolve(try flat(ret))
        }
    }
}
