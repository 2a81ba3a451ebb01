import IR
import Ops
import Support

/// The tensor arena TFLM needs for a model's main subgraph, as TFLM's RecordingMicroAllocator
/// reports it after `AllocateTensors`, and the smallest `arena_size` with which the model loads
/// and runs (see Docs/memory.md).
public struct ArenaReport: Sendable {
    /// One step of TFLM's op order: the planned buffers alive while it runs.
    public struct Step: Sendable {
        public var index: Int
        public var op: String
        /// Bytes of planned buffers alive (16-byte rounded, as planned), scratch included.
        public var liveBytes: Int
        /// Names of the tensors alive, in tensor order; scratch buffers as `scratch#k`.
        public var liveTensors: [String]
    }

    public var build: TFLMBuild
    public var pointerWidth: PointerWidth { build.pointerWidth }
    /// The non-persistent section: the greedy plan of tensors and scratch buffers.
    public var headBytes: Int
    /// The persistent section, by category.
    public var tailBytes: Int
    public var tail: [TailCategory: Int]
    public var totalBytes: Int { headBytes + tailBytes }
    /// The smallest arena size for which the replay of TFLM's allocations succeeds.
    public var minArenaBytes: Int
    public var steps: [Step]

    /// The step with the most live bytes (the first of equals).
    public var peak: Step? { steps.max { $0.liveBytes < $1.liveBytes || ($0.liveBytes == $1.liveBytes && $0.index > $1.index) } }

    /// Plans the main subgraph of `model` as TFLM does. Throws `FootprintUnknown` for an op
    /// whose kernel footprint is not declared, or for a tensor without a static size.
    public static func analyze(_ model: Model, build: TFLMBuild = .standard(.bits32)) throws -> ArenaReport {
        guard !model.subgraphs.isEmpty else { throw FootprintUnknown("the model has no subgraph") }
        let replay = try makeReplay(model, build)
        // The report's figures: an arena larger than any model needs, 16-byte aligned.
        let roomy = 1 << 56
        guard let arena = replay.run(arenaSize: roomy) else { throw FootprintUnknown("the model needs more than 2^56 bytes of arena") }
        let minimum = minimumArenaSize(replay, upperBound: arena.persistentUsed + arena.nonPersistentUsed + 4096, roomy: roomy)
        return ArenaReport(
            build: build,
            headBytes: arena.nonPersistentUsed,
            tailBytes: arena.persistentUsed,
            tail: arena.tailBytes,
            minArenaBytes: minimum,
            steps: steps(replay))
    }

    /// The smallest arena the replay fits in, by binary search as one would on the device.
    private static func minimumArenaSize(_ replay: AllocationReplay, upperBound: Int, roomy: Int) -> Int {
        var hi = min(upperBound, roomy)
        while hi < roomy, replay.run(arenaSize: hi) == nil { hi = min(hi * 2, roomy) }
        var lo = 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if replay.run(arenaSize: mid) != nil { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    static func makeReplay(_ model: Model, _ build: TFLMBuild) throws -> AllocationReplay {
        let subgraphs = try model.subgraphs.indices.map { try plannedSubgraph(model, $0, build) }
        try checkSubgraphCalls(subgraphs)
        let buffers = planBuffers(subgraphs, offline: try OfflineMemoryPlan.read(from: model))
        let plan = GreedyMemoryPlanner(buffers.map(\.buffer))
        return AllocationReplay(subgraphs: subgraphs, build: build, planBuffers: buffers.map(\.buffer), plannedHead: plan.maximumSize)
    }

    /// Most allocation scopes a model may unfold to: subgraphs that run others several times
    /// multiply (TFLM walks each call), so a hostile file could otherwise take forever.
    static let scopeLimit = 10_000_000

    /// Refuses subgraphs that run themselves (directly or not): TFLM's planner would recurse
    /// forever. Also refuses call trees that unfold to more than `scopeLimit` scopes.
    private static func checkSubgraphCalls(_ subgraphs: [PlannedSubgraph]) throws {
        var scopes: [Int?] = Array(repeating: nil, count: subgraphs.count)
        var visiting = Set<Int>()
        func unfolded(_ s: Int) throws -> Int {
            if let known = scopes[s] { return known }
            guard visiting.insert(s).inserted else { throw FootprintUnknown("subgraph \(s) runs itself (a WHILE or IF cycle)") }
            var total = 0
            for node in subgraphs[s].nodes {
                total += 1
                for inner in node.footprint.subgraphs { total += 1 + (try unfolded(inner)) }
                guard total <= scopeLimit else { throw FootprintUnknown("subgraph \(s) unfolds to more than \(scopeLimit) planned steps") }
            }
            visiting.remove(s)
            scopes[s] = total
            return total
        }
        _ = try unfolded(0)
    }

    private static func plannedSubgraph(_ model: Model, _ index: Int, _ build: TFLMBuild) throws -> PlannedSubgraph {
        let graph = model.subgraphs[index]
        let values = graph.values
        // Errors name the subgraph when there are several.
        let place = model.subgraphs.count > 1 ? "subgraph \(index) " : ""
        var tensorBytes: [Int] = []
        var needsPlanning: [Bool] = []
        var channels: [Int?] = []
        for v in values {
            let hasData = v.buffer.index < model.buffers.count && !model.buffers[v.buffer.index].isEmpty && v.buffer != .none
            guard let count = Value.elementCount(v.shape), let elementSize = v.dtype.byteSize else {
                if hasData { tensorBytes.append(0); needsPlanning.append(false); channels.append(nil); continue }
                throw FootprintUnknown("\(place)tensor '\(v.name)' has no static byte size (\(v.type) \(v.shape))")
            }
            let (bytes, overflow) = count.multipliedReportingOverflow(by: elementSize)
            guard !overflow, bytes <= MicroFootprintContext.largestBuffer else {
                throw FootprintUnknown("\(place)tensor '\(v.name)' (\(v.type) \(v.shape)) is larger than any arena")
            }
            tensorBytes.append(bytes)
            needsPlanning.append(!hasData && !v.isVariable && bytes != 0)
            if let q = v.quantization, !q.scales.isEmpty, !q.zeroPoints.isEmpty { channels.append(q.scales.count) } else { channels.append(nil) }
        }
        var nodes: [PlannedNode] = []
        for (i, op) in graph.ops.enumerated() where !op.isErased {
            guard let declare = OperatorTable[op.builtinOperator]?.microFootprint, !isCustom(op) else {
                throw FootprintUnknown("\(place)op #\(i) \(op.name): its TFLM kernel's arena footprint is not declared")
            }
            let context = MicroFootprintContext(
                op: op,
                inputs: op.inputs.map { $0.isAbsent ? nil : values[$0.index] },
                outputs: op.outputs.map { values[$0.index] },
                build: build)
            let footprint = try declare(context)
            for s in footprint.subgraphs where s <= 0 || s >= model.subgraphs.count {
                throw FootprintUnknown("\(place)op #\(i) \(op.name): runs subgraph \(s), which the model does not have")
            }
            nodes.append(PlannedNode(footprint: footprint, inputs: op.inputs.map { Int($0.raw) }, outputs: op.outputs.map { $0.index }))
        }
        return PlannedSubgraph(graph: graph, nodes: nodes, tensorBytes: tensorBytes, needsPlanning: needsPlanning, quantizationChannels: channels)
    }

    /// The planned head of the main subgraph's ops in another order, without the rest of the
    /// replay: what the op-order search compares candidates by.
    struct PlanEvaluator {
        let replay: AllocationReplay

        init(_ model: Model, build: TFLMBuild) throws {
            guard model.subgraphs.count == 1 else { throw FootprintUnknown("the op order of a model with several subgraphs is kept") }
            guard !model.metadata.contains(where: { $0.name == OfflineMemoryPlan.metadataName }) else {
                throw FootprintUnknown("the op order of a model with an \(OfflineMemoryPlan.metadataName) plan is kept (its offsets assume that order)")
            }
            replay = try makeReplay(model, build)
        }

        /// `order`: indexes into the subgraph's ops (none erased).
        func head(_ order: [Int]) -> Int {
            let main = replay.subgraphs[0]
            let reordered = PlannedSubgraph(graph: main.graph, nodes: order.map { main.nodes[$0] }, tensorBytes: main.tensorBytes,
                                            needsPlanning: main.needsPlanning, quantizationChannels: main.quantizationChannels)
            let buffers = planBuffers([reordered])
            return GreedyMemoryPlanner(buffers.map(\.buffer)).maximumSize
        }
    }

    private static func isCustom(_ op: Op) -> Bool {
        if case .custom = op.kind { return true }
        return false
    }

    /// When each buffer is alive, in TFLM's allocation scopes
    /// (AllocationInfoBuilder::MarkAllocationLifetimes, micro_allocation_info.cc): the main
    /// subgraph's inputs at scope 0, then one scope per op; an op that runs subgraphs (WHILE,
    /// IF) plans them inside its own, each starting a scope; a subgraph's outputs live to its
    /// end; an op's scratch buffers from its scope to the end of its subgraphs.
    struct Lifetimes {
        var first: [[Int]]
        var last: [[Int]]
        /// Per scratch request, in request order (subgraph by subgraph, node by node).
        var scratch: [(first: Int, last: Int)] = []
        /// Per main-subgraph op: the scopes from its own to the end of the subgraphs it runs.
        var mainOpScopes: [ClosedRange<Int>] = []
        var scope = 0

        init(_ subgraphs: [PlannedSubgraph]) {
            first = subgraphs.map { Array(repeating: -1, count: $0.tensorBytes.count) }
            last = first
            var scratchIndex: [[Int]] = []
            var k = 0
            for sg in subgraphs {
                scratchIndex.append(sg.nodes.map { let start = k; k += $0.footprint.scratch.count; return start })
            }
            scratch = Array(repeating: (-1, -1), count: k)
            mark(0, subgraphs, scratchIndex)
        }

        private mutating func created(_ s: Int, _ t: Int) { if first[s][t] == -1 { first[s][t] = scope } }

        private mutating func mark(_ s: Int, _ subgraphs: [PlannedSubgraph], _ scratchIndex: [[Int]]) {
            let sg = subgraphs[s]
            for id in sg.graph.inputs {
                created(s, id.index)
                last[s][id.index] = scope
            }
            for (i, node) in sg.nodes.enumerated() {
                scope += 1
                let own = scope
                for t in node.outputs { created(s, t) }
                for inner in node.footprint.subgraphs {
                    scope += 1
                    mark(inner, subgraphs, scratchIndex)
                }
                for t in node.inputs where t >= 0 { last[s][t] = scope }
                for t in node.outputs { last[s][t] = scope }
                for k in node.footprint.scratch.indices { scratch[scratchIndex[s][i] + k] = (own, scope) }
                if s == 0 { mainOpScopes.append(own...scope) }
            }
            for id in sg.graph.outputs {
                created(s, id.index)
                last[s][id.index] = scope
            }
        }
    }

    /// The planner's buffers, in TFLM's order (every subgraph's tensors, then the scratch
    /// requests), with their lifetimes. `label` names a buffer in the report.
    /// `offline`: the model's `OfflineMemoryAllocation` plan (tensor t of every subgraph takes
    /// entry t, as TFLM's InitializeAllocationInfo reads it).
    static func planBuffers(_ subgraphs: [PlannedSubgraph], offline: OfflineMemoryPlan? = nil) -> [(buffer: GreedyMemoryPlanner.Buffer, label: String)] {
        let life = Lifetimes(subgraphs)
        var result: [(GreedyMemoryPlanner.Buffer, String)] = []
        for (s, sg) in subgraphs.enumerated() {
            let prefix = s == 0 ? "" : "\(sg.graph.name ?? "subgraph \(s)")/"
            for t in sg.tensorBytes.indices where sg.needsPlanning[t] {
                let fixed = offline.flatMap { t < $0.offsets.count ? $0.offsets[t] : nil }
                result.append((.init(size: roundUp(sg.tensorBytes[t], TFLMStructs.arenaAlignment), firstUsed: life.first[s][t], lastUsed: life.last[s][t], offlineOffset: fixed),
                               prefix + sg.graph.values[t].name))
            }
        }
        let sizes = subgraphs.flatMap { $0.nodes.flatMap(\.footprint.scratch) }
        for (k, bytes) in sizes.enumerated() {
            result.append((.init(size: roundUp(bytes, TFLMStructs.arenaAlignment), firstUsed: life.scratch[k].first, lastUsed: life.scratch[k].last), "scratch#\(k)"))
        }
        return result
    }

    /// Per main-subgraph op, the buffers alive while it runs (for an op that runs subgraphs,
    /// at any point until they finish).
    private static func steps(_ replay: AllocationReplay) -> [Step] {
        let buffers = planBuffers(replay.subgraphs)
        let scopes = Lifetimes(replay.subgraphs).mainOpScopes
        let liveOps = replay.graph.ops.filter { !$0.isErased }
        // A sweep over the ops' scopes, which increase: buffers join when their first use is
        // reached and leave once their last use is behind, so each is looked at a few times,
        // not once per op.
        let byFirstUse = buffers.indices.sorted { (buffers[$0].buffer.firstUsed, $0) < (buffers[$1].buffer.firstUsed, $1) }
        var next = 0
        var alive: [Int] = []
        return liveOps.enumerated().map { i, op in
            while next < byFirstUse.count, buffers[byFirstUse[next]].buffer.firstUsed <= scopes[i].upperBound {
                alive.append(byFirstUse[next])
                next += 1
            }
            alive.removeAll { buffers[$0].buffer.lastUsed < scopes[i].lowerBound }
            alive.sort()
            let live = alive.map { buffers[$0] }
            return Step(index: i, op: op.name, liveBytes: live.reduce(0) { $0 + $1.buffer.size }, liveTensors: live.map(\.label))
        }
    }
}

/// The smallest `arena_size` TFLM loads and runs `model` with: what `kTensorArenaSize` should
/// be for a device with this pointer width.
public func minimumTensorArenaSize(of model: Model, build: TFLMBuild = .standard(.bits32)) throws -> Int {
    try ArenaReport.analyze(model, build: build).minArenaBytes
}

extension ArenaReport {
    /// The report as JSON: head_bytes, tail_bytes (with tail_breakdown), total_bytes,
    /// min_arena_bytes and per op its live bytes and tensors.
    public var json: JSON { .object(jsonFields) }

    /// The fields of `json`, for callers that add their own.
    public var jsonFields: [(String, JSON)] {
        [
            ("pointer_bits", .int(Int64(pointerWidth.rawValue))),
            ("compression", .bool(build.compression)),
            ("recording_allocator", .bool(build.recordingAllocator)),
            ("head_bytes", .int(Int64(headBytes))),
            ("tail_bytes", .int(Int64(tailBytes))),
            ("tail_breakdown", .object(TailCategory.allCases.map { ($0.rawValue, .int(Int64(tail[$0] ?? 0))) })),
            ("total_bytes", .int(Int64(totalBytes))),
            ("min_arena_bytes", .int(Int64(minArenaBytes))),
            ("peak_op", peak.map { .int(Int64($0.index)) } ?? .null),
            ("ops", .array(steps.map { s in
                .object([
                    ("index", .int(Int64(s.index))),
                    ("op", .string(s.op)),
                    ("live_bytes", .int(Int64(s.liveBytes))),
                    ("tensors", .array(s.liveTensors.map(JSON.string))),
                ])
            })),
        ]
    }

    /// A table of the figures, the tail breakdown, and one timeline bar per op.
    public var text: String {
        var out = "TFLM tensor arena (\(pointerWidth.rawValue)-bit pointers, compression \(build.compression ? "on" : "off"), \(build.recordingAllocator ? "recording" : "plain") allocator)\n"
        func row(_ name: String, _ value: Int) { out += name.padding(toLength: 24, withPad: " ", startingAt: 0) + String(value).leftPadded(10) + "\n" }
        row("head (planned)", headBytes)
        row("tail (persistent)", tailBytes)
        for c in TailCategory.allCases { row("  " + c.rawValue, tail[c] ?? 0) }
        row("total", totalBytes)
        row("minimum arena_size", minArenaBytes)
        let peak = self.peak  // once, not per step
        let scale = max(1, (peak?.liveBytes ?? 0) / 40)
        out += "\nop timeline (planned bytes alive at each op; # = \(scale) bytes)\n"
        for s in steps {
            let bar = String(repeating: "#", count: s.liveBytes / scale)
            let mark = s.index == peak?.index ? " <- peak" : ""
            let line = String(s.index).leftPadded(4) + " " + s.op.padding(toLength: 26, withPad: " ", startingAt: 0)
                + String(s.liveBytes).leftPadded(9) + " " + (mark.isEmpty ? bar : bar.padding(toLength: 41, withPad: " ", startingAt: 0) + mark)
            out += String(line.reversed().drop(while: { $0 == " " }).reversed()) + "\n"
        }
        if let p = peak { out += "\npeak at op #\(p.index) \(p.op): " + p.liveTensors.map { "'\($0)'" }.joined(separator: ", ") + "\n" }
        return out
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
