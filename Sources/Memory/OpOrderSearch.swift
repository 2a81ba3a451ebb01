import IR
import Ops

/// Searches the op orders of a model's main subgraph for one that needs a smaller TFLM arena
/// (`--optimize memory`, issue 14): TFLM runs ops in the order the file lists them, and its
/// planner can only share memory between tensors that are not alive at the same time, so a
/// different topological order can lower the peak. Outputs do not change: every op computes
/// the same values from the same inputs, only the order of independent ops moves.
///
/// Candidates: up to `exactLimit` ops the order with the smallest live-bytes peak (a minimax
/// dynamic program over the sets of ops already run); beyond, a greedy order (at each step the
/// ready op whose step holds the fewest live bytes) and two demand-driven ones (each op just
/// before the first op that reads it, walking back from the graph outputs). The best of them
/// under TFLM's own planner is then improved by moving single ops as late or as early as their
/// dependencies allow, keeping a move when the plan shrinks. Every finalist is replayed in
/// full (planner, persistent tail, minimum arena), and the written order is kept unless one
/// needs strictly less: a smaller minimum arena, or the same minimum and a smaller total.
public enum OpOrderSearch {
    public struct Result: Sendable {
        /// Indexes into the subgraph's ops, in the order to run them.
        public var order: [Int]
        public var minArenaBytes: Int
        public var totalBytes: Int
        public var headBytes: Int
        public var originalMinArenaBytes: Int
        public var originalTotalBytes: Int
        public var originalHeadBytes: Int
        public var improved: Bool {
            (minArenaBytes, totalBytes) < (originalMinArenaBytes, originalTotalBytes)
        }
    }

    /// Graphs with at most this many ops are searched exactly (2^n states).
    public static let exactLimit = 16
    /// Sweeps of single-op moves at most (each sweep tries every op twice).
    static let improvementSweeps = 6
    /// Beyond this many ops the single-op moves are skipped (each try replans the graph).
    static let improvementLimit = 400

    /// `original`: the model's own report when the caller already has it.
    public static func search(_ model: Model, build: TFLMBuild = .standard(.bits32), original: ArenaReport? = nil) throws -> Result {
        let report = try original ?? ArenaReport.analyze(model, build: build)
        let graph = model.subgraphs[0]
        var best = Result(
            order: Array(graph.ops.indices), minArenaBytes: report.minArenaBytes, totalBytes: report.totalBytes, headBytes: report.headBytes,
            originalMinArenaBytes: report.minArenaBytes, originalTotalBytes: report.totalBytes, originalHeadBytes: report.headBytes)
        // Several subgraphs (control flow): the order is kept (the search plans one subgraph);
        // so is the order an OfflineMemoryAllocation plan was made for.
        guard model.subgraphs.count == 1, graph.ops.allSatisfy({ !$0.isErased }), graph.ops.count > 1,
            !model.metadata.contains(where: { $0.name == OfflineMemoryPlan.metadataName })
        else { return best }
        let problem = try ScheduleProblem(model)
        let planner = try ArenaReport.PlanEvaluator(model, build: build)
        var candidates = graph.ops.count <= exactLimit
            ? [problem.exactOrder()]
            : [problem.greedyOrder(), problem.demandOrder(reversedInputs: false), problem.demandOrder(reversedInputs: true)]
        candidates = candidates.filter { $0 != best.order }
        guard var start = candidates.min(by: { planner.head($0) < planner.head($1) }) else { return best }
        if graph.ops.count <= improvementLimit { start = problem.improved(start, sweeps: improvementSweeps, cost: planner.head) }
        for order in Set([start] + candidates).sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let r = try ArenaReport.analyze(reordered(model, order), build: build)
            if (r.minArenaBytes, r.totalBytes) < (best.minArenaBytes, best.totalBytes) {
                best.order = order
                best.minArenaBytes = r.minArenaBytes
                best.totalBytes = r.totalBytes
                best.headBytes = r.headBytes
            }
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
    /// The same, in the order of the op's inputs.
    let inputProducers: [[Int]]
    /// Planned tensors: bytes, producer (nil: graph input), consumers, whether a graph output.
    let tensors: [(bytes: Int, producer: Int?, consumers: [Int], isOutput: Bool)]
    let scratch: [Int]

    init(_ model: Model) throws {
        let graph = model.subgraphs[0]
        count = graph.ops.count
        var producer: [Int: Int] = [:]
        for (i, op) in graph.ops.enumerated() { for o in op.outputs { producer[o.index] = i } }
        var consumers: [Int: [Int]] = [:]
        var preds = Array(repeating: [Int](), count: count)
        for (i, op) in graph.ops.enumerated() {
            for v in op.inputs where !v.isAbsent {
                consumers[v.index, default: []].append(i)
                if let p = producer[v.index], p != i, !preds[i].contains(p) { preds[i].append(p) }
            }
        }
        inputProducers = preds
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

    /// Ops that read an output of `op` (each once, in op order).
    private func successors() -> [[Int]] {
        var result = Array(repeating: [Int](), count: count)
        for (op, preds) in predecessors.enumerated() { for p in preds { result[p].append(op) } }
        return result
    }

    /// Each op as late as its readers allow: a depth-first walk back from the graph outputs
    /// (then from ops nothing reads) that runs an op's producers, in input order or reversed,
    /// just before it.
    func demandOrder(reversedInputs: Bool) -> [Int] {
        var roots: [Int] = []
        for t in tensors where t.isOutput { if let p = t.producer { roots.append(p) } }
        let readers = successors()
        roots += (0..<count).filter { readers[$0].isEmpty }
        var visited = Array(repeating: false, count: count)
        var order: [Int] = []
        // An explicit stack: chains of thousands of ops would overflow a recursive walk.
        var stack: [(op: Int, expanded: Bool)] = []
        for root in roots where !visited[root] {
            stack.append((root, false))
            while let (op, expanded) = stack.popLast() {
                if expanded { order.append(op); continue }
                guard !visited[op] else { continue }
                visited[op] = true
                stack.append((op, true))
                let inputs = inputProducers[op]
                for p in (reversedInputs ? inputs : inputs.reversed()) where !visited[p] { stack.append((p, false)) }
            }
        }
        return order.count == count ? order : Array(0..<count)
    }

    /// Moves single ops as late as their first reader allows, or as early as their last
    /// producer allows, while `cost` falls; at most `sweeps` passes over the ops.
    func improved(_ order: [Int], sweeps: Int, cost: ([Int]) -> Int) -> [Int] {
        let readers = successors()
        var best = order
        var bestCost = cost(order)
        for _ in 0..<sweeps {
            var changed = false
            for op in 0..<count {
                var position = Array(repeating: 0, count: count)
                for (i, o) in best.enumerated() { position[o] = i }
                let at = position[op]
                let latest = (readers[op].map { position[$0] }.min() ?? count) - 1
                let earliest = (predecessors[op].map { position[$0] }.max() ?? -1) + 1
                for target in [latest, earliest] where target != at {
                    var candidate = best
                    candidate.remove(at: at)
                    candidate.insert(op, at: target)
                    let c = cost(candidate)
                    if c < bestCost {
                        best = candidate
                        bestCost = c
                        changed = true
                        break
                    }
                }
            }
            if !changed { break }
        }
        return best
    }
}
