import IR
import Ops

/// Where a persistent (tail) allocation goes in the report's breakdown.
public enum TailCategory: String, CaseIterable, Sendable {
    /// TfLiteEvalTensor per tensor, and the TfLiteTensor of each model input and output.
    case tensorStructs = "tensor_structs"
    /// TfLiteAffineQuantization and zero-point arrays of the input and output TfLiteTensors.
    case quantization
    /// Kernels' `AllocatePersistentBuffer` (op data, per-channel multipliers, tables).
    case opData = "op_data"
    /// Parsed builtin options (flatbuffer_conversions.cc).
    case builtinOptions = "builtin_options"
    /// NodeAndRegistration per op.
    case nodes
    /// Variable tensors' buffers.
    case variables
    /// ScratchBufferHandle per scratch request.
    case scratchHandles = "scratch_handles"
    /// The allocator, planner and interpreter objects and the input/output pointer arrays.
    case runtime
}

/// An arena too small for the model: the allocation TFLM would refuse.
struct ArenaExhausted: Error {}

/// TFLM's SingleArenaBufferAllocator over an arena of `size` bytes at address 0 (TFLM's Python
/// package allocates the arena with `new uint8_t[]`, 16-byte aligned): persistent buffers grow
/// down from the end, the resizable buffer and temporaries grow up from the start.
struct SimulatedArena {
    let end: Int
    private(set) var head = 0
    private(set) var tail: Int
    private(set) var temp = 0
    /// The end of the temporaries still read after they were made. TFLM checks a persistent
    /// allocation against the head only, so it may overwrite temporaries; a kernel still works
    /// when it overwrites only bytes it no longer reads (see `allocateTemp`).
    private(set) var liveTempEnd = 0
    private(set) var tailBytes: [TailCategory: Int] = [:]

    init(size: Int) {
        end = size
        tail = size
    }

    static func alignDown(_ x: Int, _ a: Int) -> Int { x >= 0 ? x / a * a : -(((-x) + a - 1) / a * a) }

    mutating func persistent(_ size: Int, alignment: Int, _ category: TailCategory) throws {
        let result = Self.alignDown(tail - size, alignment)
        guard result >= head, result >= liveTempEnd else { throw ArenaExhausted() }
        tailBytes[category, default: 0] += tail - result
        tail = result
    }

    /// A temporary of `size` bytes of which the first `liveBytes` (default: all) are read again
    /// after later allocations.
    mutating func allocateTemp(_ size: Int, alignment: Int, liveBytes: Int? = nil) throws {
        let result = roundUp(temp, alignment)
        guard tail - result >= size else { throw ArenaExhausted() }
        temp = result + size
        if let live = liveBytes ?? Optional(size), live > 0 { liveTempEnd = max(liveTempEnd, result + live) }
    }

    /// ResetTempAllocations.
    mutating func resetTemp() {
        temp = head
        liveTempEnd = head
    }

    /// ResizeBuffer on the one resizable buffer at the arena's start.
    mutating func resize(_ size: Int, alignment: Int) throws {
        let start = roundUp(0, alignment)
        guard tail - start >= size else { throw ArenaExhausted() }
        head = start + size
        temp = head
        liveTempEnd = head
    }

    /// GetAvailableMemory.
    func available(alignment: Int) -> Int { Self.alignDown(tail, alignment) - roundUp(temp, alignment) }

    var persistentUsed: Int { end - tail }
    var nonPersistentUsed: Int { max(head, temp) }
}

/// One node as the allocator sees it: its footprint and operands.
struct PlannedNode {
    var footprint: MicroKernelFootprint
    var inputs: [Int]
    var outputs: [Int]
}

/// One subgraph as the allocator sees it: its nodes and, per tensor, its byte length, whether
/// the planner places it, and its quantization channels (nil: not quantized).
struct PlannedSubgraph {
    let graph: Graph
    let nodes: [PlannedNode]
    let tensorBytes: [Int]
    let needsPlanning: [Bool]
    let quantizationChannels: [Int?]
}

/// The replay of `MicroInterpreter::AllocateTensors` under TFLM's RecordingMicroAllocator
/// (micro_interpreter.cc, micro_allocator.cc, micro_allocation_info.cc): every allocation in
/// the order TFLM makes it, so alignment padding falls where it does on the device.
struct AllocationReplay {
    /// Every subgraph of the model, the main one first.
    let subgraphs: [PlannedSubgraph]
    let build: TFLMBuild
    var width: PointerWidth { build.pointerWidth }
    let planBuffers: [GreedyMemoryPlanner.Buffer]
    let plannedHead: Int
    /// Layouts worked out once: a report replays the allocations some 30 times (the search
    /// for the minimum arena), and a struct's layout walks its fields each time it is asked.
    private let tensorLayout: (size: Int, alignment: Int)
    private let quantizationLayout: (size: Int, alignment: Int)
    /// Per subgraph and node: the builtin options' layout and the operands read as temporaries.
    private let optionsLayouts: [[(size: Int, alignment: Int)?]]
    private let temporaries: [[[TempTensor]]]

    init(subgraphs: [PlannedSubgraph], build: TFLMBuild, planBuffers: [GreedyMemoryPlanner.Buffer], plannedHead: Int) {
        self.subgraphs = subgraphs
        self.build = build
        self.planBuffers = planBuffers
        self.plannedHead = plannedHead
        let width = build.pointerWidth
        tensorLayout = (TFLMStructs.tensor.size(width), TFLMStructs.tensor.alignment(width))
        quantizationLayout = (TFLMStructs.affineQuantization.size(width), TFLMStructs.affineQuantization.alignment(width))
        optionsLayouts = subgraphs.map { sg in sg.nodes.map { n in n.footprint.builtinData.map { ($0.size(width), $0.alignment(width)) } } }
        temporaries = subgraphs.map { sg in
            sg.nodes.map { n in n.footprint.tempTensors ?? (n.inputs.indices.map { .input($0) } + n.outputs.indices.map { .output($0) }) }
        }
    }

    // The main subgraph's.
    var graph: Graph { subgraphs[0].graph }
    var nodes: [PlannedNode] { subgraphs[0].nodes }
    var tensorBytes: [Int] { subgraphs[0].tensorBytes }
    var needsPlanning: [Bool] { subgraphs[0].needsPlanning }
    var subgraphCount: Int { subgraphs.count }
    var tensorCountAllSubgraphs: Int { subgraphs.reduce(0) { $0 + $1.graph.values.count } }

    /// Runs the allocation sequence in an arena of `size` bytes; nil when TFLM would fail.
    func run(arenaSize size: Int) -> SimulatedArena? {
        var arena = SimulatedArena(size: size)
        do {
            try replay(&arena)
            return arena
        } catch {
            return nil
        }
    }

    private func size(_ s: CStruct) -> Int { s.size(width) }
    private func align(_ s: CStruct) -> Int { s.alignment(width) }

    private func persistentStruct(_ arena: inout SimulatedArena, _ s: CStruct, count: Int = 1, _ category: TailCategory) throws {
        try arena.persistent(size(s) * count, alignment: align(s), category)
    }

    /// `AllocateTempInputTensor`/`AllocateTempOutputTensor`: a TfLiteTensor, and for a quantized
    /// tensor its TfLiteAffineQuantization and zero-point array (absent operands: nothing).
    private func allocateTemporaries(_ temps: ArraySlice<TempTensor>, of node: PlannedNode, in subgraph: PlannedSubgraph, _ arena: inout SimulatedArena) throws {
        for t in temps {
            let tensor: Int
            switch t {
            case .input(let i): tensor = i < node.inputs.count ? node.inputs[i] : -1
            case .output(let i): tensor = i < node.outputs.count ? node.outputs[i] : -1
            }
            guard tensor >= 0 else { continue }
            try arena.allocateTemp(tensorLayout.size, alignment: tensorLayout.alignment)
            if let channels = subgraph.quantizationChannels[tensor] {
                // Kernels read the scale and zero-point pointers again (DeallocateTemp frees
                // through them), not quantized_dimension or the zero points themselves.
                try arena.allocateTemp(quantizationLayout.size, alignment: quantizationLayout.alignment, liveBytes: 2 * width.pointerBytes)
                try arena.allocateTemp(TFLMStructs.intArrayBytes(channels), alignment: 4, liveBytes: 0)
            }
        }
    }

    private func replay(_ arena: inout SimulatedArena) throws {
        let requestSize = size(TFLMStructs.scratchBufferRequest), requestAlign = align(TFLMStructs.scratchBufferRequest)
        // (Recording)MicroAllocator::Create: the arena allocator, the planner, the allocator.
        try persistentStruct(&arena, TFLMStructs.arenaAllocator(build), .runtime)
        try persistentStruct(&arena, TFLMStructs.greedyPlanner, .runtime)
        try persistentStruct(&arena, TFLMStructs.microAllocator(build), .runtime)
        // StartModelAllocation.
        try persistentStruct(&arena, TFLMStructs.builtinDataAllocator, .runtime)
        try arena.resize(requestSize * TFLMStructs.maxScratchBuffersPerOp, alignment: requestAlign)
        try persistentStruct(&arena, TFLMStructs.subgraphAllocations(build), count: subgraphCount, .runtime)
        // AllocateTfLiteEvalTensors, AllocateNodeAndRegistrations: one array per subgraph.
        for sg in subgraphs { try persistentStruct(&arena, TFLMStructs.evalTensor, count: sg.graph.values.count, .tensorStructs) }
        for sg in subgraphs { try persistentStruct(&arena, TFLMStructs.nodeAndRegistration, count: sg.nodes.count, .nodes) }
        // PrepareNodeAndRegistrationDataFromFlatbuffer: each node's builtin options.
        for layouts in optionsLayouts {
            for case let options? in layouts { try arena.persistent(options.size, alignment: options.alignment, .builtinOptions) }
        }
        // InitSubgraphs: each kernel's Init.
        for sg in subgraphs {
            for node in sg.nodes {
                for bytes in node.footprint.initBuffers { try arena.persistent(bytes, alignment: TFLMStructs.arenaAlignment, .opData) }
            }
        }
        // PrepareSubgraphs: temporaries, persistent buffers, scratch requests; then
        // FinishPrepareNodeAllocations resets the temporaries and grows the request list.
        var scratchCount = 0
        for (s, sg) in subgraphs.enumerated() {
            for (n, node) in sg.nodes.enumerated() {
                let temps = temporaries[s][n]
                let before = min(node.footprint.buffersAfterTemps ?? temps.count, temps.count)
                try allocateTemporaries(temps[..<before], of: node, in: sg, &arena)
                for bytes in node.footprint.prepareBuffers { try arena.persistent(bytes, alignment: TFLMStructs.arenaAlignment, .opData) }
                try allocateTemporaries(temps[before...], of: node, in: sg, &arena)
                scratchCount += node.footprint.scratch.count
                arena.resetTemp()
                try arena.resize(requestSize * (scratchCount + TFLMStructs.maxScratchBuffersPerOp), alignment: requestAlign)
            }
        }
        // FinishModelAllocation: scratch handles, then CommitStaticMemoryPlan.
        if scratchCount > 0 { try persistentStruct(&arena, TFLMStructs.scratchBufferHandle, count: scratchCount, .scratchHandles) }
        try arena.allocateTemp(width.pointerBytes * subgraphCount, alignment: width.pointerBytes)
        try arena.allocateTemp(size(TFLMStructs.allocationInfo) * (tensorCountAllSubgraphs + scratchCount), alignment: align(TFLMStructs.allocationInfo))
        for sg in subgraphs {
            for (i, v) in sg.graph.values.enumerated() where v.isVariable {
                try arena.persistent(sg.tensorBytes[i], alignment: TFLMStructs.arenaAlignment, .variables)
            }
        }
        let plannerArena = arena.available(alignment: TFLMStructs.arenaAlignment)
        try arena.allocateTemp(plannerArena, alignment: TFLMStructs.arenaAlignment, liveBytes: 0)
        guard planBuffers.count <= plannerArena / TFLMStructs.plannerBytesPerBuffer else { throw ArenaExhausted() }
        arena.resetTemp()
        try arena.resize(0, alignment: 1)
        try arena.resize(plannedHead, alignment: TFLMStructs.arenaAlignment)
        // AllocateTensors: the input and output TfLiteTensors.
        for list in [graph.inputs, graph.outputs] {
            try arena.persistent(width.pointerBytes * list.count, alignment: TFLMStructs.arenaAlignment, .runtime)
            for id in list {
                try persistentStruct(&arena, TFLMStructs.tensor, .tensorStructs)
                if let channels = subgraphs[0].quantizationChannels[id.index] {
                    try persistentStruct(&arena, TFLMStructs.affineQuantization, .quantization)
                    try arena.persistent(TFLMStructs.intArrayBytes(channels), alignment: 4, .quantization)
                }
            }
        }
    }
}
