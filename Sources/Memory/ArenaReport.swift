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
        guard let graph = model.subgraphs.first else { throw FootprintUnknown("the model has no subgraph") }
        guard model.subgraphs.count == 1 else {
            throw FootprintUnknown("the model has \(model.subgraphs.count) subgraphs; only single-subgraph models are planned")
        }
        if model.metadata.contains(where: { $0.name == "OfflineMemoryAllocation" }) {
            throw FootprintUnknown("the model carries an OfflineMemoryAllocation plan, which is not modelled yet")
        }
        let replay = try makeReplay(model, graph, build)
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
            steps: steps(graph, replay))
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

    private static func makeReplay(_ model: Model, _ graph: Graph, _ build: TFLMBuild) throws -> AllocationReplay {
        let values = graph.values
        var tensorBytes: [Int] = []
        var needsPlanning: [Bool] = []
        var channels: [Int?] = []
        for v in values {
            let hasData = v.buffer.index < model.buffers.count && !model.buffers[v.buffer.index].isEmpty && v.buffer != .none
            guard let count = Value.elementCount(v.shape), let elementSize = v.dtype.byteSize else {
                if hasData { tensorBytes.append(0); needsPlanning.append(false); channels.append(nil); continue }
                throw FootprintUnknown("tensor '\(v.name)' has no static byte size (\(v.type) \(v.shape))")
            }
            let (bytes, overflow) = count.multipliedReportingOverflow(by: elementSize)
            guard !overflow, bytes <= MicroFootprintContext.largestBuffer else {
                throw FootprintUnknown("tensor '\(v.name)' (\(v.type) \(v.shape)) is larger than any arena")
            }
            tensorBytes.append(bytes)
            needsPlanning.append(!hasData && !v.isVariable && bytes != 0)
            if let q = v.quantization, !q.scales.isEmpty, !q.zeroPoints.isEmpty { channels.append(q.scales.count) } else { channels.append(nil) }
        }
        var nodes: [PlannedNode] = []
        for (i, op) in graph.ops.enumerated() where !op.isErased {
            guard let declare = OperatorTable[op.builtinOperator]?.microFootprint, !isCustom(op) else {
                throw FootprintUnknown("op #\(i) \(op.name): its TFLM kernel's arena footprint is not declared")
            }
            let context = MicroFootprintContext(
                op: op,
                inputs: op.inputs.map { $0.isAbsent ? nil : values[$0.index] },
                outputs: op.outputs.map { values[$0.index] },
                build: build)
            nodes.append(PlannedNode(footprint: try declare(context), inputs: op.inputs.map { Int($0.raw) }, outputs: op.outputs.map { $0.index }))
        }
        let buffers = planBuffers(graph, nodes, tensorBytes, needsPlanning)
        let plan = GreedyMemoryPlanner(buffers.map(\.buffer))
        return AllocationReplay(
            graph: graph, nodes: nodes, build: build, tensorBytes: tensorBytes, needsPlanning: needsPlanning,
            quantizationChannels: channels, subgraphCount: model.subgraphs.count,
            tensorCountAllSubgraphs: model.subgraphs.reduce(0) { $0 + $1.values.count },
            planBuffers: buffers.map(\.buffer), plannedHead: plan.maximumSize)
    }

    /// The planned head of the main subgraph's ops in another order, without the rest of the
    /// replay: what the op-order search compares candidates by.
    struct PlanEvaluator {
        let replay: AllocationReplay

        init(_ model: Model, build: TFLMBuild) throws {
            replay = try makeReplay(model, model.subgraphs[0], build)
        }

        /// `order`: indexes into the subgraph's ops (none erased).
        func head(_ order: [Int]) -> Int {
            let buffers = planBuffers(replay.graph, order.map { replay.nodes[$0] }, replay.tensorBytes, replay.needsPlanning)
            return GreedyMemoryPlanner(buffers.map(\.buffer)).maximumSize
        }
    }

    private static func isCustom(_ op: Op) -> Bool {
        if case .custom = op.kind { return true }
        return false
    }

    /// The planner's buffers, in TFLM's order (tensors, then scratch requests), with their
    /// lifetimes (AllocationInfoBuilder::MarkAllocationLifetimes: graph inputs at step 0, op i
    /// at step i + 1, graph outputs up to the last step). `label` names a buffer in the report.
    static func planBuffers(_ graph: Graph, _ nodes: [PlannedNode], _ tensorBytes: [Int], _ needsPlanning: [Bool]) -> [(buffer: GreedyMemoryPlanner.Buffer, label: String)] {
        var first = Array(repeating: -1, count: tensorBytes.count)
        var last = Array(repeating: -1, count: tensorBytes.count)
        for id in graph.inputs {
            if first[id.index] == -1 { first[id.index] = 0 }
            last[id.index] = 0
        }
        var scratch: [GreedyMemoryPlanner.Buffer] = []
        for (i, node) in nodes.enumerated() {
            let step = i + 1
            for t in node.outputs where first[t] == -1 { first[t] = step }
            for t in node.inputs where t >= 0 { last[t] = step }
            for t in node.outputs { last[t] = step }
            for bytes in node.footprint.scratch {
                scratch.append(.init(size: roundUp(bytes, TFLMStructs.arenaAlignment), firstUsed: step, lastUsed: step))
            }
        }
        for id in graph.outputs {
            if first[id.index] == -1 { first[id.index] = nodes.count }
            last[id.index] = nodes.count
        }
        var result: [(GreedyMemoryPlanner.Buffer, String)] = []
        for t in tensorBytes.indices where needsPlanning[t] {
            result.append((.init(size: roundUp(tensorBytes[t], TFLMStructs.arenaAlignment), firstUsed: first[t], lastUsed: last[t]), graph.values[t].name))
        }
        for (k, b) in scratch.enumerated() { result.append((b, "scratch#\(k)")) }
        return result
    }

    private static func steps(_ graph: Graph, _ replay: AllocationReplay) -> [Step] {
        let buffers = planBuffers(graph, replay.nodes, replay.tensorBytes, replay.needsPlanning)
        let liveOps = graph.ops.filter { !$0.isErased }
        return liveOps.enumerated().map { i, op in
            let live = buffers.filter { $0.buffer.firstUsed <= i + 1 && i + 1 <= $0.buffer.lastUsed }
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
