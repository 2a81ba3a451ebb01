import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Replaces a WHILE whose trip count is static with its body's ops repeated that many times, so
/// a runtime without (or with a weak) WHILE runs the loop: TF 2.16+ exports a Keras LSTM or GRU
/// as a WHILE over a condition and a body subgraph, and TFLM runs such loops badly or wrongly.
///
/// Given (subgraph 1 is the condition, 2 the body; WhileOptions cond 1, body 2):
///
///     subgraph 0 "main"
///       input %0 "x": f32[1,4]
///       const %1 "zero": i32[] = [0]
///       #0 WHILE v1 {cond 1, body 2} (%1, %0) -> %2 "i_out": i32[], %3 "h": f32[1,4]
///       output %3
///     subgraph 1 "cond"                      i < 2
///       input %0 "i", %1 "h"; const %2 "n": i32[] = [2]
///       #0 LESS v1 (%0, %2) -> %3: i1[]
///     subgraph 2 "body"                      i + 1, tanh(h)
///       input %0 "i", %1 "h"; const %2 "one": i32[] = [1]
///       #0 ADD v1 (%0, %2) -> %3 "i1": i32[]
///       #1 TANH v1 (%1) -> %4 "t": f32[1,4]
///       output %3, %4
///
/// Result (subgraphs 1 and 2 are gone):
///
///     subgraph 0 "main"
///       input %0 "x": f32[1,4]
///       #0 TANH v1 (%0) -> %1 "t/iter0": f32[1,4]
///       #1 TANH v1 (%1) -> %2 "h": f32[1,4]
///       output %2
///
/// The trip count: the loop variables that are constant when the loop starts and that the body
/// updates from constants and themselves alone (a counter `i = 0; i + 1`) are evaluated
/// iteration by iteration with the constant folder (`ConstantEvaluator`, comparisons and
/// logical ops included) until the condition subgraph gives false. A loop whose condition reads
/// anything else, or that runs more than `max_trips` times, stays, with a note saying why.
///
/// Each iteration copies the body's ops into the loop's subgraph with their values renamed
/// `<name>/iter<k>` (the last iteration's results take over the WHILE's outputs); loop variables
/// are threaded from one iteration into the next; the body's constants are shared (one tensor,
/// the same buffer, for every iteration); the counter's ops are not copied: each iteration reads
/// its known value as a constant, so a GATHER of the current time step gets a constant index.
/// Condition and body subgraphs nothing else calls are removed and the remaining subgraph
/// indices (in WHILE, IF, CALL_ONCE options and signature_defs) renumbered. Nested loops unroll
/// too, inner or outer first.
///
/// Options: `max_trips` (default 1024) and `max_ops` (default 20000: ops the unrolled loops may
/// add in all); a loop beyond either stays, with a note.
public struct UnrollWhile: GraphPass {
    public static let name = "unroll-while"
    public static let summary = "Unroll a WHILE whose trip count is static into its body's ops; drop the unused condition/body subgraphs"

    public var maxTrips = 1024
    public var maxOps = 20_000

    public init(options: PassOptions = PassOptions()) throws {
        let reader = try PassOptionReader(options, pass: Self.name, known: ["max_trips", "max_ops"])
        maxTrips = try reader.int("max_trips", in: 0...1_000_000) ?? maxTrips
        maxOps = try reader.int("max_ops", in: 0...10_000_000) ?? maxOps
    }

    public mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        var unrolledSubgraphs = Set<Int>()
        var kept: [String] = []
        var skipped = Set<LoopSite>()
        // One budget for the whole run: it also ends loops whose bodies call each other.
        var opsAdded = 0
        search: while true {
            for s in model.subgraphs.indices {
                for i in model.subgraphs[s].ops.indices {
                    let op = model.subgraphs[s].ops[i]
                    guard !op.isErased, op.builtinOperator == .whileLoop, !skipped.contains(LoopSite(subgraph: s, op: i)) else { continue }
                    let label = "\(op.label(OpID(i))) in subgraph \(s)"
                    switch unroll(&model, subgraph: s, op: i, budget: maxOps - opsAdded) {
                    case .unrolled(let trips, let added, let callees):
                        opsAdded += added
                        context.count("\(Self.name).loops")
                        context.count("\(Self.name).iterations", trips)
                        context.count("\(Self.name).ops-added", added)
                        unrolledSubgraphs.formUnion(callees)
                        // Op and value indices of this subgraph changed: look again from the start.
                        skipped = skipped.filter { $0.subgraph != s }
                        continue search
                    case .kept(let reason):
                        skipped.insert(LoopSite(subgraph: s, op: i))
                        let line = "\(Self.name): \(label) kept: \(reason)"
                        if !kept.contains(line) { kept.append(line) }
                    }
                }
            }
            break
        }
        for line in kept { context.note(line) }
        if !kept.isEmpty { context.count("\(Self.name).kept", kept.count) }
        guard !unrolledSubgraphs.isEmpty else { return false }
        let removed = SubgraphCalls.removeUncalled(&model, candidates: unrolledSubgraphs)
        if removed > 0 { context.count("\(Self.name).subgraphs-removed", removed) }
        return true
    }

    private struct LoopSite: Hashable {
        var subgraph: Int
        var op: Int
    }

    private enum Outcome {
        case unrolled(trips: Int, opsAdded: Int, callees: [Int])
        case kept(String)
    }

    /// Values of one subgraph computed from constants, by value index.
    private typealias KnownValues = [Int: ConstantTensor]

    // MARK: - Unrolling one loop

    private func unroll(_ model: inout Model, subgraph s: Int, op opIndex: Int, budget: Int) -> Outcome {
        let loop = model.subgraphs[s].ops[opIndex]
        guard case .builtin(_, let options?) = loop.kind else { return .kept("it has no WhileOptions") }
        // WhileOptions (schema.fbs): field 0 cond_subgraph_index, field 1 body_subgraph_index.
        let c = Int(options.int32(0, default: 0)), b = Int(options.int32(1, default: 0))
        let count = model.subgraphs.count
        guard c >= 0, c < count, b >= 0, b < count, c != s, b != s else {
            return .kept("its condition (\(c)) or body (\(b)) subgraph is not another subgraph of the model")
        }
        let cond = model.subgraphs[c], body = model.subgraphs[b]
        let n = loop.inputs.count
        guard loop.outputs.count == n, cond.inputs.count == n, body.inputs.count == n, body.outputs.count == n, cond.outputs.count == 1 else {
            return .kept("its \(n) inputs, \(loop.outputs.count) outputs, the condition's \(cond.inputs.count) inputs and the body's \(body.inputs.count) inputs and \(body.outputs.count) outputs do not agree")
        }
        guard !loop.inputs.contains(where: \.isAbsent), !body.outputs.contains(where: \.isAbsent),
            !body.inputs.contains(where: \.isAbsent), Set(body.inputs).count == n
        else { return .kept("an input or a body input or output is absent or repeated") }
        if body.values.contains(where: \.isVariable) { return .kept("its body has variable tensors") }
        guard var inliner = SubgraphInliner(callee: body) else { return .kept("its body's ops form a cycle") }

        // The counter-only part: loop variables constant on entry whose update the folder
        // computes from constants and themselves.
        var state: [Int: ConstantTensor] = [:]
        for (k, v) in loop.inputs.enumerated() {
            if let t = model.constant(v, in: s), !t.type.isQuantized { state[k] = Self.plain(t) }
        }
        while true {
            let known = evaluate(model, body, inputs: state)
            let closed = state.filter { known[body.outputs[$0.key].index] != nil }
            if closed.count == state.count { break }
            state = closed
        }
        var iterations: [KnownValues] = []
        while true {
            let known = evaluate(model, cond, inputs: state)
            guard let verdict = known[cond.outputs[0].index], verdict.type.dtype == .bool, verdict.elementCount == 1, !verdict.bytes.isEmpty else {
                return .kept("its trip count is not static: the condition subgraph \(c) depends on loop variables that are not constants updated by constant arithmetic")
            }
            if verdict.bytes[0] == 0 { break }
            guard iterations.count < maxTrips else {
                return .kept("it runs more than \(maxTrips) times (option max_trips)")
            }
            let values = evaluate(model, body, inputs: state)
            var next: [Int: ConstantTensor] = [:]
            for k in state.keys {
                guard let t = values[body.outputs[k].index] else { return .kept("the body's update of loop variable \(k) cannot be evaluated at iteration \(iterations.count)") }
                next[k] = t
            }
            iterations.append(values)
            state = next
        }
        let copied = inliner.opsToCopy(known: iterations.first ?? [:])
        guard copied * iterations.count <= budget else {
            return .kept("unrolling \(iterations.count) iterations would add \(copied * iterations.count) ops, more than the \(budget) left of \(maxOps) (option max_ops)")
        }

        var work = model
        var graph = work.subgraphs[s]
        var current = loop.inputs
        let firstCopied = graph.ops.count
        for (k, known) in iterations.enumerated() {
            current = inliner.inline(into: &graph, model: &work, inputs: current, suffix: "/iter\(k)", known: known)
        }
        Self.dropEmptyPieces(&graph, copiedFrom: firstCopied)
        // The last iteration's results replace the WHILE's outputs.
        if let k = inliner.replace(OpID(opIndex), with: current, in: &graph) {
            return .kept("its output \(k) is a graph output the last iteration does not compute itself")
        }
        guard graph.compact() else { return .kept("unrolling would make a cycle") }
        work.subgraphs[s] = graph
        model = work
        return .unrolled(trips: iterations.count, opsAdded: inliner.opsAdded, callees: [c, b])
    }

    /// Drops the empty tensors a copied CONCATENATION joins, and the ops that made them: the
    /// first and last iterations' TensorList writes slice `[0, 0)` and `[T, T)`, and TFLM
    /// refuses a zero-sized tensor ("Dynamic tensors are not supported").
    private static func dropEmptyPieces(_ graph: inout Graph, copiedFrom first: Int) {
        func isEmpty(_ v: ValueID) -> Bool {
            !v.isAbsent && ShapeInference.isStatic(graph[v]) && graph[v].elementCount == 0 && !graph.isGraphOutput(v)
        }
        for i in first..<graph.ops.count where graph.ops[i].builtinOperator == .concatenation {
            let kept = graph.ops[i].inputs.filter { !isEmpty($0) }
            if !kept.isEmpty, kept.count < graph.ops[i].inputs.count { graph.ops[i].inputs = kept }
        }
        let uses = graph.useCounts()
        for i in first..<graph.ops.count {
            let op = graph.ops[i]
            if op.builtinOperator == .slice, op.outputs.allSatisfy({ isEmpty($0) && uses[$0.index] == 0 }) { graph.eraseOp(OpID(i)) }
        }
    }

    // MARK: - Evaluating the counter

    /// Largest tensor the counter evaluation computes: loop counters are scalars; this keeps a
    /// body's weight arithmetic out of it.
    private static let evaluatedElementLimit = 1024

    /// The values of `graph` computable from its constants and the given inputs (by input
    /// position), by value index.
    private func evaluate(_ model: Model, _ graph: Graph, inputs: [Int: ConstantTensor]) -> KnownValues {
        var known: KnownValues = [:]
        for (position, t) in inputs { known[graph.inputs[position].index] = t }
        func value(_ v: ValueID) -> ConstantTensor? {
            if let t = known[v.index] { return t }
            guard !graph.isGraphInput(v), let t = model.constant(graph[v]), !t.type.isQuantized,
                t.elementCount <= Self.evaluatedElementLimit
            else { return nil }
            let plain = Self.plain(t)
            known[v.index] = plain
            return plain
        }
        for i in graph.topologicalOrder() ?? Array(graph.ops.indices) {
            let op = graph.ops[i]
            guard !op.isErased, !op.outputs.isEmpty, !op.outputs.contains(where: \.isAbsent) else { continue }
            var operands: [ConstantTensor?] = []
            var complete = true
            for v in op.inputs {
                if v.isAbsent { operands.append(nil); continue }
                guard let t = value(v) else { complete = false; break }
                operands.append(t)
            }
            guard complete, let outputs = Self.outputValues(op, operands, graph),
                outputs.allSatisfy({ ($0.elementCount ?? .max) <= Self.evaluatedElementLimit }),
                let results = ConstantEvaluator.evaluate(op.kind, inputs: operands, outputs: outputs), results.count == op.outputs.count
            else { continue }
            for (v, t) in zip(op.outputs, results) { known[v.index] = t }
        }
        return known
    }

    /// The tensor without an (empty) quantization table, so that the folder sees one type
    /// where a file gave some constants an empty QuantizationParameters and others none.
    private static func plain(_ t: ConstantTensor) -> ConstantTensor {
        ConstantTensor(type: ElementType(t.type.dtype), shape: t.shape, bytes: t.bytes)
    }

    /// The op's output values with static shapes: as declared, or, where a loop body leaves
    /// them dynamic (a TensorList index computed from the counter), as the op's shape function
    /// computes them from the constant operands.
    private static func outputValues(_ op: Op, _ operands: [ConstantTensor?], _ graph: Graph) -> [Value]? {
        var outputs = op.outputs.map { graph[$0] }
        guard outputs.contains(where: { !ShapeInference.isStatic($0) }) else { return outputs }
        let inputs = operands.map { $0.map { Value(name: "", type: $0.type, shape: $0.shape) } }
        let inference = ShapeInference(ShapeOperands(
            op: op,
            value: { k in k < inputs.count ? inputs[k] : nil },
            constant: { k in k < operands.count ? operands[k].flatMap { IntTensor($0) } : nil }))
        guard let shapes = OperatorTable[op.builtinOperator]?.shape?(inference), shapes.count == outputs.count else { return nil }
        for k in outputs.indices {
            outputs[k].shape = shapes[k]
            outputs[k].shapeSignature = nil
            outputs[k].hasRank = true
        }
        return outputs
    }
}
