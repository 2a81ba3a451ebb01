import FlatBuffers
import IR
import Kernels
import Ops
import Support

/// Copies the ops of a subgraph a control-flow op calls (a WHILE body, an IF branch) into the
/// calling subgraph: `unroll-while` once per iteration, `inline-constant-if` once.
package struct SubgraphInliner {
    package let callee: Graph
    private let order: [Int]
    /// The callee's constants, by value index → their tensor in the caller: one tensor, and the
    /// same buffer, however often the callee is copied.
    private var shared: [Int: ValueID] = [:]
    /// Caller tensors the copied ops write.
    package private(set) var produced = Set<ValueID>()
    package private(set) var opsAdded = 0

    /// nil when the callee's ops form a cycle.
    package init?(callee: Graph) {
        guard let order = callee.topologicalOrder() else { return nil }
        self.callee = callee
        self.order = order
    }

    /// Copies the callee's ops into `graph`, reading `inputs` where the callee reads its inputs,
    /// and returns the caller tensors holding the callee's outputs. Copied tensors are named
    /// `<name><suffix>`. `known` holds callee values computed as constants for this copy: they
    /// become constants, and the ops computing only such values are not copied.
    package mutating func inline(into graph: inout Graph, model: inout Model, inputs: [ValueID], suffix: String, known: [Int: ConstantTensor] = [:]) -> [ValueID] {
        var map: [Int: ValueID] = [:]
        for (j, v) in callee.inputs.enumerated() where j < inputs.count { map[v.index] = inputs[j] }
        func resolve(_ v: ValueID) -> ValueID {
            if v.isAbsent { return v }
            if let m = map[v.index] { return m }
            var value = callee[v]
            if model.isConstant(value) {
                if let id = shared[v.index] { return id }
                let id = graph.addValue(value)
                shared[v.index] = id
                return id
            }
            value.name += suffix
            if let t = known[v.index] {
                value.type = t.type
                value.shape = t.shape
                value.shapeSignature = nil
                value.buffer = model.addBuffer(t.slice)
            }
            // Otherwise a value no op of the callee writes (ops are copied in order).
            let id = graph.addValue(value)
            map[v.index] = id
            return id
        }
        func fresh(_ v: ValueID) -> ValueID {
            if v.isAbsent { return v }
            var value = callee[v]
            value.name += suffix
            value.buffer = .none
            let id = graph.addValue(value)
            map[v.index] = id
            return id
        }
        for i in order where !Self.isComputed(callee.ops[i], known) {
            var op = callee.ops[i]
            op.inputs = op.inputs.map(resolve)
            op.intermediates = op.intermediates.map(fresh)
            op.outputs = op.outputs.map(fresh)
            produced.formUnion(op.outputs)
            Self.refineShapes(op, &graph, model)
            graph.addOp(op)
            opsAdded += 1
        }
        return callee.outputs.map(resolve)
    }

    /// Ops of the callee a copy with these known values would add.
    package func opsToCopy(known: [Int: ConstantTensor]) -> Int {
        order.filter { !Self.isComputed(callee.ops[$0], known) }.count
    }

    /// Erases the call and makes its readers read `results`. A graph output keeps its tensor
    /// (its name and index, which signatures name): the copied op computing it writes it.
    /// Returns the position of an output that cannot be kept so (nothing copied computes it),
    /// nil when done.
    package func replace(_ call: OpID, with results: [ValueID], in graph: inout Graph) -> Int? {
        let outputs = graph[call].outputs
        graph.eraseOp(call)
        var renamed = Set<ValueID>()
        for (k, out) in outputs.enumerated() where !out.isAbsent {
            guard k < results.count else { return k }
            let result = results[k]
            if graph.isGraphOutput(out) {
                guard produced.contains(result), renamed.insert(result).inserted,
                    let producer = graph.ops.indices.last(where: { !graph.ops[$0].isErased && graph.ops[$0].outputs.contains(result) })
                else { return k }
                graph.ops[producer].outputs = graph.ops[producer].outputs.map { $0 == result ? out : $0 }
                graph.replaceAllUses(of: result, with: out)
            } else {
                graph.replaceAllUses(of: out, with: result)
            }
        }
        return nil
    }

    /// An op whose every output is known: its results are constants and the op is not copied.
    private static func isComputed(_ op: Op, _ known: [Int: ConstantTensor]) -> Bool {
        !op.outputs.isEmpty && op.outputs.allSatisfy { !$0.isAbsent && known[$0.index] != nil }
    }

    /// Gives a copied op's outputs the shapes its inputs now imply, as a runtime's Prepare would
    /// (the interpreter and LiteRT resize such outputs; TFLM plans static shapes). A loop body's
    /// TensorList write slices `[0, i)` and `[i + 1, T)` of the sequence: sizes the loop only
    /// knew at run time (the converter declares a placeholder shape) and each iteration knows.
    private static func refineShapes(_ op: Op, _ graph: inout Graph, _ model: Model) {
        guard let infer = OperatorTable[op.builtinOperator]?.shape, let shapes = infer(Verifier.shapeInference(op, graph, model)) else { return }
        for (k, v) in op.outputs.enumerated() where k < shapes.count && !v.isAbsent && graph[v].shape != shapes[k] {
            graph[v].shape = shapes[k]
            graph[v].hasRank = true
            if graph[v].shapeSignature != nil { graph[v].shapeSignature = shapes[k] }
        }
    }
}

/// The subgraphs control-flow ops call (schema.fbs WhileOptions and IfOptions: fields 0 and 1;
/// CallOnceOptions: field 0), and removing the ones nothing calls any more.
package enum SubgraphCalls {
    package static func called(by op: Op) -> [(field: Int, index: Int)] {
        guard case .builtin(let code, let options?) = op.kind else { return [] }
        let fields: [Int]
        switch code {
        case .whileLoop, .ifThenElse: fields = [0, 1]
        case .callOnce: fields = [0]
        default: return []
        }
        return fields.map { ($0, Int(options.int32($0, default: 0))) }
    }

    /// Removes the candidates no remaining op or signature calls, renumbering the references to
    /// the subgraphs after them. Returns how many went.
    package static func removeUncalled(_ model: inout Model, candidates: Set<Int>) -> Int {
        var removable = candidates.subtracting([0]).filter { $0 < model.subgraphs.count }
        while true {
            var calls = Set(model.signatureDefs.map(\.subgraph))
            for (s, graph) in model.subgraphs.enumerated() where !removable.contains(s) {
                for op in graph.ops where !op.isErased { calls.formUnion(called(by: op).map(\.index)) }
            }
            let next = removable.subtracting(calls)
            if next == removable { break }
            removable = next
        }
        guard !removable.isEmpty else { return 0 }
        let gone = removable.sorted()
        func renumbered(_ index: Int) -> Int { index - gone.prefix { $0 < index }.count }
        for s in model.subgraphs.indices where !removable.contains(s) {
            for i in model.subgraphs[s].ops.indices {
                let op = model.subgraphs[s].ops[i]
                let calls = called(by: op)
                guard !calls.isEmpty, case .builtin(let code, var options?) = op.kind else { continue }
                for (field, index) in calls where renumbered(index) != index {
                    options.setInt32(field, Int32(renumbered(index)))
                }
                model.subgraphs[s].ops[i].kind = .builtin(code, options: options)
            }
        }
        for k in model.signatureDefs.indices { model.signatureDefs[k].subgraph = renumbered(model.signatureDefs[k].subgraph) }
        for s in gone.reversed() { model.subgraphs.remove(at: s) }
        return gone.count
    }
}

extension OpaqueOptions {
    /// Overwrites scalar int32 field `id` in place. Only called for fields read as a non-zero
    /// index, which are present in the table (an absent field reads as the default 0).
    fileprivate mutating func setInt32(_ id: Int, _ value: Int32) {
        guard id < vtable.count, vtable[id] >= 4 else { return }
        let start = Int(vtable[id]) - 4
        guard start + 4 <= inline.count else { return }
        let bits = UInt32(bitPattern: value)
        for k in 0..<4 { inline[start + k] = UInt8(truncatingIfNeeded: bits >> (8 * UInt32(k))) }
    }
}
