import IR
import Ops

/// Looks for an `OfflineMemoryAllocation` plan that needs a smaller head than TFLM's own
/// greedy plan (`--optimize memory`, issue 14). TFLM places the offline-planned tensors at
/// their offsets and then plans everything else online around them, kernels' scratch buffers
/// included (micro_allocator.cc `CreatePlan`, greedy_memory_planner.cc), so a tensor-only plan
/// is judged the way TFLM will use it: the offline offsets plus TFLM's own placement of the
/// scratch buffers, replayed in full (minimum arena and total).
///
/// Candidates are first-fit packings (each tensor at the lowest offset free for its whole
/// lifetime) in orders other than TFLM's largest-first one: by first use, by lifetime
/// length, by size × lifetime, by size with the earliest first. A packing is kept only when
/// the model then needs strictly less (a smaller minimum `arena_size`, or the same and a
/// smaller total); most chains are already packed as tightly as their widest pair of
/// neighbours allows, so nil is the common answer.
public enum OfflinePlanSearch {
    public struct Result {
        /// The model with the plan attached.
        public var model: Model
        public var report: ArenaReport
        public var original: ArenaReport
    }

    /// Beyond this many planned tensors the search is skipped (first fit is quadratic).
    static let tensorLimit = 4000

    /// Nil when no packing beats TFLM's own plan, or the model is not a one-subgraph model
    /// without a plan of its own.
    public static func search(_ model: Model, build: TFLMBuild = .standard(.bits32), original: ArenaReport? = nil) throws -> Result? {
        guard model.subgraphs.count == 1, !model.metadata.contains(where: { $0.name == OfflineMemoryPlan.metadataName }) else { return nil }
        let original = try original ?? ArenaReport.analyze(model, build: build)
        let replay = try ArenaReport.makeReplay(model, build)
        let main = replay.subgraphs[0]
        let tensors = main.needsPlanning.indices.filter { main.needsPlanning[$0] }
        guard !tensors.isEmpty, tensors.count <= tensorLimit else { return nil }
        let buffers = ArenaReport.planBuffers(replay.subgraphs).map(\.buffer)
        let tensorBuffers = Array(buffers.prefix(tensors.count))
        let scratch = Array(buffers.dropFirst(tensors.count))
        var best: (head: Int, offsets: [Int])?
        for order in candidateOrders(tensorBuffers) {
            let offsets = firstFit(tensorBuffers, order: order)
            let fixed = zip(tensorBuffers, offsets).map { b, o in GreedyMemoryPlanner.Buffer(size: b.size, firstUsed: b.firstUsed, lastUsed: b.lastUsed, offlineOffset: o) }
            let head = GreedyMemoryPlanner(fixed + scratch).maximumSize
            if head < (best?.head ?? replay.plannedHead) { best = (head, offsets) }
        }
        guard let best else { return nil }
        var perTensor: [Int?] = Array(repeating: nil, count: main.graph.values.count)
        for (k, t) in tensors.enumerated() { perTensor[t] = best.offsets[k] }
        let planned = OfflineMemoryPlan(offsets: perTensor).attached(to: model)
        let report = try ArenaReport.analyze(planned, build: build)
        guard (report.minArenaBytes, report.totalBytes) < (original.minArenaBytes, original.totalBytes) else { return nil }
        return Result(model: planned, report: report, original: original)
    }

    static func candidateOrders(_ b: [GreedyMemoryPlanner.Buffer]) -> [[Int]] {
        let span = { (i: Int) in b[i].lastUsed - b[i].firstUsed + 1 }
        let keys: [(Int) -> [Int]] = [
            { [b[$0].firstUsed, -b[$0].size, $0] },
            { [-span($0), -b[$0].size, $0] },
            { [-(b[$0].size * span($0)), $0] },
            { [-b[$0].size, b[$0].firstUsed, $0] },
        ]
        return keys.map { key in b.indices.sorted { key($0).lexicographicallyPrecedes(key($1)) } }
    }

    /// Each buffer, in `order`, at the lowest offset where it overlaps no placed buffer alive
    /// at the same time.
    static func firstFit(_ b: [GreedyMemoryPlanner.Buffer], order: [Int]) -> [Int] {
        var offsets = Array(repeating: 0, count: b.count)
        var placed: [Int] = []
        for id in order {
            let busy = placed.filter { b[$0].firstUsed <= b[id].lastUsed && b[id].firstUsed <= b[$0].lastUsed }
                .sorted { offsets[$0] < offsets[$1] }
            var candidate = 0
            for other in busy {
                if offsets[other] >= candidate + b[id].size { break }
                candidate = max(candidate, offsets[other] + b[other].size)
            }
            offsets[id] = candidate
            placed.append(id)
        }
        return offsets
    }
}
