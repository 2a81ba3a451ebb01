import IR
import Ops

/// Searches the op orders of a model's main subgraph for one that needs a smaller TFLM arena
/// (the first step of `--optimize memory`, issue 14): TFLM runs ops in the order the file lists
/// them, and its planner can only share memory between tensors that are not alive at the same
/// time, so a different topological order can lower the peak. Outputs do not change: every op
/// computes the same values from the same inputs, only the order of independent ops moves.
///
/// Up to `exactLimit` ops the search is exact for the live-bytes peak (a minimax dynamic
/// program over the sets of ops already run); beyond, it builds one greedy order (at each
/// step the ready op whose step holds the fewest live bytes, the earlier op on ties). Every
/// candidate is then replayed in full (planner, persistent tail, minimum arena), and the
/// original order is kept unless a candidate needs strictly less.
public enum OpOrderSearch {
    public struct Result: Sendable {
        /// Indexes into the subgraph's ops, in the order to run them.
        public var order: [Int]
        public var minArenaBytes: Int
        public var originalMinArenaBytes: Int
        public var improved: Bool { minArenaBytes < originalMinArenaBytes }
    }

    /// Graphs with at most this many ops are searched exactly (2^n states).
    public static let exactLimit = 16

    /// `originalMinArena`: the model's own figure when the caller already has it.
    public static func search(_ model: Model, build: TFLMBuild = .standard(.bits32), originalMinArena: Int? = nil) throws -> Result {
        let original = try originalMinArena ?? ArenaReport.analyze(model, build: build).minArenaBytes
        let graph = model.subgraphs[0]
        guard graph.ops.allSatisfy({ !$0.isErased }), graph.ops.count > 1 else {
            return Result(order: Array(graph.ops.indices), minArenaBytes: original, originalMinArenaBytes: original)
        }
        let problem = try ScheduleProblem(model)
        let candidate = graph.ops.count <= exactLimit ? problem.exactOrder() : problem.greedyOrder()
        var best = Result(order: Array(graph.ops.indices), minArenaBytes: original, originalMinArenaBytes: original)
        if candidate != best.order {
            let bytes = try ArenaReport.analyze(reordered(model, candidate), build: build).minArenaBytes
            if bytes < original { best = Result(order: candidate, minArenaBytes: bytes, originalMinArenaBytes: original) }
        }
        return best
    }

    /// The model with its main subgraph's ops in `order`.
    public static func reordered(_ model: Model, _ order: [Int]) -> Model {
        var m = model
        m.subgraphs[0].ops = order.map { model.subgraphs[0].ops[$0] }
        return m
    }
}

/// Ops, their dependencies and the bytes each tensor holds in TFLM's plan (16-byte rounded).
struct ScheduleProblem {
    let count: Int
    /// Ops each op must follow.
    let predecessors: [[Int]]
    /// Planned tensors: bytes, producer (nil: graph input), consumers, whether a graph output.
    let tensors: [(bytes: Int, producer: Int?, consumers: [Int], isOutput: Bool)]
    let scratch: [Int]

    init(_ model: Model) throws {
        let graph = model.subgraphs[0]
        count = graph.ops.count
        var producer: [Int: Int] = [:]
        for (i, op) in graph.ops.enumerated() { for o in op.outputs { producer[o.index] = i } }
        var consumers: [Int: [Int]] = [:]
        var preds = Array(repeating: Set<Int>(), count: count)
        for (i, op) in graph.ops.enumerated() {
            for v in op.inputs where !v.isAbsent {
                consumers[v.index, default: []].append(i)
                if let p = producer[v.index], p != i { preds[i].insert(p) }
            }
        }
        predecessors = preds.map { $0.sorted() }
        let outputs = Set(graph.outputs.map(\.index))
        var planned: [(Int, Int?, [Int], Bool)] = []
        for (t, v) in graph.values.enumerated() {
            let constant = v.buffer != .none && v.buffer.index < model.buffers.count && !model.buffers[v.buffer.index].isEmpty
            guard !constant, !v.isVariable, let n = v.elementCount, let size = v.dtype.byteSize else { continue }
            let bytes = roundUp(n * size, 16)
            guard bytes > 0, producer[t] != nil || graph.inputs.contains(where: { $0.index == t }) else { continue }
            planned.append((bytes, producer[t], consumers[t] ?? [], outputs.contains(t)))
        }
        tensors = planned.map { (bytes: $0.0, producer: $0.1, consumers: $0.2, isOutput: $0.3) }
        let build = TFLMBuild.standard(.bits64)
        scratch = try graph.ops.map { op in
            guard let declare = OperatorTable[op.builtinOperator]?.microFootprint else { return 0 }
            let c = MicroFootprintContext(op: op, inputs: op.inputs.map { $0.isAbsent ? nil : graph.values[$0.index] }, outputs: op.outputs.map { graph.values[$0.index] }, build: build)
            return try declare(c).scratch.reduce(0) { $0 + roundUp($1, 16) }
        }
    }

    /// Bytes alive while `op` runs when the ops in `done` (a bitmask, or a Set for large
    /// graphs) already ran: tensors already made (or graph inputs) that `op` or a later op
    /// reads, or that are graph outputs, plus `op`'s outputs and scratch.
    func stepBytes(_ op: Int, ran: (Int) -> Bool) -> Int {
        var live = scratch[op]
        for t in tensors {
            let made = t.producer.map { $0 == op || ran($0) } ?? true
            guard made else { continue }
            if t.producer == op || t.isOutput || t.consumers.contains(where: { $0 == op || !ran($0) }) { live += t.bytes }
        }
        return live
    }

    func ready(_ op: Int, ran: (Int) -> Bool) -> Bool { !ran(op) && predecessors[op].allSatisfy(ran) }

    /// The order with the smallest peak of `stepBytes` (minimax over subsets), ties to the
    /// lexicographically smallest order.
    func exactOrder() -> [Int] {
        let full = (1 << count) - 1
        // best[s]: the smallest peak to finish from state s (ops in s already ran).
        var best = Array(repeating: Int.max, count: 1 << count)
        var choice = Array(repeating: -1, count: 1 << count)
        best[full] = 0
        for s in stride(from: full - 1, through: 0, by: -1) {
            let ran = { (o: Int) in s & (1 << o) != 0 }
            for op in 0..<count where ready(op, ran: ran) {
                let next = best[s | (1 << op)]
                guard next != Int.max else { continue }
                let peak = max(stepBytes(op, ran: ran), next)
                if peak < best[s] { best[s] = peak; choice[s] = op }
            }
        }
        var order: [Int] = []
        var s = 0
        while s != full, choice[s] >= 0 {
            order.append(choice[s])
            s |= 1 << choice[s]
        }
        return order.count == count ? order : Array(0..<count)
    }

    /// At each step the ready op whose step holds the fewest live bytes; on ties the one that
    /// frees the most, then the earliest. Linear in the ops times the ready ones.
    func greedyOrder() -> [Int] {
        var outputsOf = Array(repeating: [Int](), count: count)
        var inputsOf = Array(repeating: [Int](), count: count)
        var remaining = tensors.map { $0.consumers.count }
        var live = 0
        for (t, tensor) in tensors.enumerated() {
            if let p = tensor.producer { outputsOf[p].append(t) } else { live += tensor.bytes }
            for c in Set(tensor.consumers) { inputsOf[c].append(t) }
        }
        var pending = predecessors.map(\.count)
        var successors = Array(repeating: [Int](), count: count)
        for (op, preds) in predecessors.enumerated() { for p in preds { successors[p].append(op) } }
        var ready = Set((0..<count).filter { pending[$0] == 0 })
        var order: [Int] = []
        while !ready.isEmpty {
            func cost(_ op: Int) -> (Int, Int, Int) {
                let step = live + scratch[op] + outputsOf[op].reduce(0) { $0 + tensors[$1].bytes }
                let freed = inputsOf[op].reduce(0) { f, t in
                    remaining[t] == tensors[t].consumers.filter { $0 == op }.count && !tensors[t].isOutput ? f + tensors[t].bytes : f
                }
                return (step, -freed, op)
            }
            let op = ready.min { cost($0) < cost($1) }!
            ready.remove(op)
            order.append(op)
            live += outputsOf[op].reduce(0) { $0 + tensors[$1].bytes }
            for t in inputsOf[op] {
                remaining[t] -= tensors[t].consumers.filter { $0 == op }.count
                if remaining[t] == 0, !tensors[t].isOutput { live -= tensors[t].bytes }
            }
            for t in outputsOf[op] where remaining[t] == 0 && !tensors[t].isOutput { live -= tensors[t].bytes }
            for s in successors[op] {
                pending[s] -= 1
                if pending[s] == 0 { ready.insert(s) }
            }
        }
        return order.count == count ? order : Array(0..<count)
    }
}
