import FlatBuffers
import IR
import Kernels
import Ops
import Support

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A reference interpreter for the ops tfrewrite models: float32 kernels, and int8 kernels that
/// reproduce TFLite Micro's reference kernels bit for bit.
///
/// `init` checks every op once (all unsupported ops are reported together), decodes constants,
/// precomputes fixed-point multipliers and weight layouts, and allocates every tensor. `run`
/// then only computes. An instance is not thread-safe: it reuses its buffers between runs.
/// Variable tensors (the state of SVDF and LSTM streaming models) and the state stateful kernels
/// keep (the signal library's buffers) carry over from one run to the next, as on TFLM, until
/// `resetVariables()`.
public final class Interpreter {
    /// An input or output tensor of the subgraph.
    public struct TensorInfo: Hashable, Sendable {
        public var id: ValueID
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        /// −1 marks a dimension the caller may choose (from shape_signature).
        public var shapeSignature: [Int]
        public var quantization: Quantization?

        public init(id: ValueID, name: String, dtype: DType, shape: [Int], shapeSignature: [Int], quantization: Quantization?) {
            self.id = id
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.shapeSignature = shapeSignature
            self.quantization = quantization
        }
    }

    public let model: Model
    public let subgraphIndex: Int
    public let inputs: [TensorInfo]
    public let outputs: [TensorInfo]

    private let graph: Graph
    private var slots: [Slot?]
    private var steps: [Step] = []
    /// Variable tensors: kernels update them in place, and they keep their contents across runs.
    private var variables: [Slot] = []

    private struct Step {
        package var opIndex: Int
        package var kernel: Kernel
    }

    /// The model's resource variables (shared with the subgraph interpreters it creates).
    private let resources: ResourceVariables

    /// How many subgraph interpreters one model may create for its control flow (WHILE bodies
    /// within IF branches within …): enough for any real model, finite for a hostile one whose
    /// ops call the same subgraphs from many places.
    package static let maxSubgraphInstances = 256

    /// Counts the subgraph interpreters a root interpreter created, across all depths.
    private final class SubgraphBudget {
        var remaining = Interpreter.maxSubgraphInstances
        /// The resource variables every subgraph of the model shares.
        let resources = ResourceVariables()
    }

    public convenience init(model: Model, subgraph: Int = 0) throws {
        try self.init(model: model, subgraph: subgraph, callers: [], budget: SubgraphBudget())
    }

    /// `callers`: the subgraphs whose control-flow ops led here, to refuse a cycle (a body that
    /// calls its own loop) instead of recursing forever.
    private init(model: Model, subgraph: Int, callers: [Int], budget: SubgraphBudget) throws {
        guard subgraph >= 0, subgraph < model.subgraphs.count else {
            throw InterpreterError.noSuchSubgraph(subgraph, count: model.subgraphs.count)
        }
        self.model = model
        self.subgraphIndex = subgraph
        self.resources = budget.resources
        let graph = model.subgraphs[subgraph]
        self.graph = graph
        self.slots = Array(repeating: nil, count: graph.values.count)
        try Self.checkActivationMemory(graph, in: model, subgraph: subgraph)

        func info(_ id: ValueID, _ kind: String) throws -> TensorInfo {
            guard !id.isAbsent, id.index < graph.values.count else {
                throw InterpreterError.invalidModel("\(kind) \(id) is not a tensor of the subgraph", at: "subgraph \(subgraph)")
            }
            let v = graph[id]
            let shape = v.shape.map { Int(max($0, 1)) }
            let signature = v.shapeSignature.map { $0.map(Int.init) } ?? shape
            return TensorInfo(id: id, name: v.name, dtype: v.dtype, shape: shape,
                              shapeSignature: signature.count == shape.count ? signature : shape,
                              quantization: v.quantization)
        }
        self.inputs = try graph.inputs.map { try info($0, "input") }
        self.outputs = try graph.outputs.map { try info($0, "output") }

        // Graph inputs first, so an input that is also a constant in a broken file still works.
        for i in inputs {
            guard RuntimeTensor.supportedDTypes.contains(i.dtype) else {
                throw InterpreterError.invalidModel("input has type \(i.dtype.name), which the interpreter cannot hold", at: "input \(i.name)")
            }
            slots[i.id.index] = Slot(id: i.id, value: graph[i.id], shape: i.shape)
        }

        var unsupported: [InterpreterError.UnsupportedOp] = []
        var written = Set<Int32>(graph.inputs.map(\.raw))
        for (index, op) in graph.ops.enumerated() where !op.isErased {
            let context = KernelContext(op: op, index: index, graph: graph, slot: { [unowned self] in self.slot($0) },
                                        subgraph: { [model] called in
                let chain = callers + [subgraph]
                guard called >= 0, called < model.subgraphs.count else {
                    throw Unsupported("subgraph \(called) does not exist (the model has \(model.subgraphs.count))")
                }
                guard !chain.contains(called) else {
                    throw Unsupported("subgraph \(called) calls itself (through \(chain.map(String.init).joined(separator: " → ")))")
                }
                guard budget.remaining > 0 else {
                    throw Unsupported("the control flow needs more than \(Interpreter.maxSubgraphInstances) subgraph instances")
                }
                budget.remaining -= 1
                do {
                    return try Interpreter(model: model, subgraph: called, callers: chain, budget: budget)
                } catch let e as InterpreterError {
                    throw Unsupported("\(e)")
                }
            }, resources: budget.resources)
            do {
                // The op itself first, so a missing kernel is the reason given, not its inputs.
                if let reason = KernelFactory.missingKernel(op.kind) { throw Unsupported(reason) }
                for (k, v) in op.inputs.enumerated() where !v.isAbsent {
                    guard v.index < graph.values.count else { throw Unsupported("input \(k) (\(v)) is not a tensor of the subgraph") }
                    if slots[v.index] == nil, graph[v].isVariable {
                        try makeVariableSlot(v)
                        written.insert(v.raw)
                    }
                    if slots[v.index] == nil, let data = model.constantData(graph[v]) {
                        slots[v.index] = try constantSlot(v, data)
                    }
                    if written.contains(v.raw) || slots[v.index]?.isConstant == true {
                        guard slots[v.index] != nil else { throw Unsupported("input \(k) has type \(graph[v].dtype.name)") }
                        continue
                    }
                    throw Unsupported("input \(k) reads \(v) (\(graph[v].name)) before any op writes it")
                }
                for v in op.outputs where !v.isAbsent {
                    guard v.index < graph.values.count else { throw Unsupported("output \(v) is not a tensor of the subgraph") }
                    guard slots[v.index]?.isConstant != true else { throw Unsupported("writes the constant \(v)") }
                    // A resource handle holds VAR_HANDLE's int32 id (ResourceVariableKernels.swift).
                    guard RuntimeTensor.supportedDTypes.contains(graph[v].dtype) || graph[v].dtype == .resource else {
                        throw Unsupported("output type \(graph[v].dtype.name)")
                    }
                    makeOutputSlot(v)
                }
                let kernel = try KernelFactory.make(context)
                steps.append(Step(opIndex: index, kernel: kernel))
            } catch let u as Unsupported {
                unsupported.append(.init(index: index, name: op.name, reason: u.reason))
                // Give the outputs memory anyway, so later ops are judged on their own merits.
                for v in op.outputs where !v.isAbsent && v.index < graph.values.count
                    && (RuntimeTensor.supportedDTypes.contains(graph[v].dtype) || graph[v].dtype == .resource) && slots[v.index]?.isConstant != true {
                    makeOutputSlot(v)
                }
            }
            for v in op.outputs where !v.isAbsent { written.insert(v.raw) }
        }
        if !unsupported.isEmpty { throw InterpreterError.unsupportedOps(unsupported, subgraph: subgraph) }

        for o in outputs {
            if slots[o.id.index] == nil, let data = model.constantData(graph[o.id]) {
                do {
                    slots[o.id.index] = try constantSlot(o.id, data)
                } catch let u as Unsupported {
                    throw InterpreterError.invalidModel(u.reason, at: "output \(o.name)")
                }
            }
            guard slots[o.id.index] != nil else {
                throw InterpreterError.invalidModel("no op writes it", at: "output \(o.name) (\(o.id))")
            }
        }
    }

    /// A variable tensor (an op's state, e.g. SVDF's memory) gets memory of its own that
    /// persists across runs until `resetVariables`; TFLM ignores any buffer the file gives it.
    private func makeVariableSlot(_ v: ValueID) throws {
        let value = graph[v]
        guard RuntimeTensor.supportedDTypes.contains(value.dtype) else { throw Unsupported("variable \(v) has type \(value.dtype.name)") }
        guard value.shape.allSatisfy({ $0 >= 0 }) else { throw Unsupported("variable \(v) (\(value.name)) has a dynamic shape \(value.shape)") }
        let slot = Slot(id: v, value: value, shape: value.shape.map(Int.init))
        guard slot.count == RuntimeTensor.elementCount(slot.shape) else { throw Unsupported("variable \(v) (\(value.name)) is too large") }
        slots[v.index] = slot
        variables.append(slot)
        Self.reset(slot)
    }

    /// Sets every variable tensor to its initial value, as TFLM's `Reset` (and the end of
    /// `AllocateTensors`) does: the zero point for int8 variables, zero bytes otherwise
    /// (micro_interpreter_graph.cc ResetTensorData memsets the int8 zero point, so an int16
    /// variable with a zero point still starts at 0); and restores what stateful kernels keep to
    /// its state after loading (TFLM's Reset calls each kernel's `reset`).
    public func resetVariables() {
        for slot in variables { Self.reset(slot) }
        for step in steps { (step.kernel as? any StatefulKernel)?.resetState() }
        resources.reset()
    }

    /// Whether the model has variable tensors or stateful kernels, i.e. whether a run depends on
    /// the runs before.
    public var hasVariables: Bool { !variables.isEmpty || steps.contains { $0.kernel is any StatefulKernel } || resources.hasVariables }

    private static func reset(_ slot: Slot) {
        let fill: Int32 = slot.dtype == .int8 ? slot.zeroPoint : 0
        memset(slot.raw, fill, slot.byteCount)
    }

    private func makeOutputSlot(_ v: ValueID) {
        if slots[v.index] == nil {
            let value = graph[v]
            slots[v.index] = Slot(id: v, value: value, shape: value.shape.map { Int(max($0, 0)) })
        }
    }

    /// Sums the memory of every tensor `init` will preallocate (graph inputs and op outputs at
    /// their declared shapes, constants aside) and refuses the model before allocating any
    /// when the sum exceeds `MemoryBudget`: a tiny file can declare gigabytes of activations.
    /// (A tensor over `Slot.maxBytes` is not preallocated; the kernel that writes it reports it.)
    private static func checkActivationMemory(_ graph: Graph, in model: Model, subgraph: Int) throws {
        var counted = Set<Int32>()
        var total = 0
        let live = graph.ops.lazy.filter { !$0.isErased }
        let variables = live.flatMap(\.inputs).filter { !$0.isAbsent && $0.index < graph.values.count && graph[$0].isVariable }
        let written = graph.inputs + live.flatMap(\.outputs) + variables
        for v in written where !v.isAbsent && v.index < graph.values.count && counted.insert(v.raw).inserted {
            let value = graph[v]
            guard value.isVariable || model.constantData(value) == nil else { continue }
            let shape = value.shape.map { Int(max($0, 0)) }
            let (bytes, overflow) = (RuntimeTensor.elementCount(shape) ?? Int.max).multipliedReportingOverflow(by: value.dtype.byteSize ?? 1)
            guard !overflow, bytes <= Slot.maxBytes else { continue }
            total += bytes
            guard total <= MemoryBudget.bytes else {
                throw MemoryBudgetError(
                    what: "allocating the interpreter's tensors (up to \(value.name) of shape \(shape) in subgraph \(subgraph))",
                    bytes: total, budget: MemoryBudget.bytes)
            }
        }
    }

    private func constantSlot(_ id: ValueID, _ data: ByteSlice) throws -> Slot {
        let value = graph[id]
        if value.sparsity != nil {
            throw Unsupported("constant \(id) (\(value.name)) is sparse; densify-sparse-constants makes it dense")
        }
        guard let size = value.dtype.byteSize, let n = value.elementCount,
              n.multipliedReportingOverflow(by: size) == (data.count, false) else {
            throw Unsupported("constant \(id) (\(value.name)) of type \(value.dtype.name) shape \(value.shape) holds \(data.count) bytes")
        }
        return Slot(id: id, value: value, constant: data)
    }

    /// Runs one inference.
    public func run(_ inputs: [RuntimeTensor]) throws -> [RuntimeTensor] {
        try execute(inputs, observe: nil)
    }

    /// Runs one inference, calling `observe` with every op output right after the op ran
    /// (for calibration statistics and per-layer comparison).
    public func run(_ inputs: [RuntimeTensor], observe: (ValueID, RuntimeTensor) -> Void) throws -> [RuntimeTensor] {
        try withoutActuallyEscaping(observe) { try execute(inputs, observe: $0) }
    }

    /// Runs one inference, handing `observe` every float32 op output in place, right after the
    /// op ran: no copy is made (calibration reads every activation of every sample), and the
    /// buffer is only valid during the call.
    public func run(_ inputs: [RuntimeTensor], observeFloats: (ValueID, UnsafeBufferPointer<Float>) -> Void) throws -> [RuntimeTensor] {
        try withoutActuallyEscaping(observeFloats) { observe in
            try execute(inputs, observe: nil, observeFloats: observe)
        }
    }

    private func execute(_ given: [RuntimeTensor], observe: ((ValueID, RuntimeTensor) -> Void)?,
                         observeFloats: ((ValueID, UnsafeBufferPointer<Float>) -> Void)? = nil) throws -> [RuntimeTensor] {
        guard given.count == inputs.count else { throw InterpreterError.inputCount(expected: inputs.count, got: given.count) }
        for (k, (info, t)) in zip(inputs, given).enumerated() {
            try Self.check(t, against: info, index: k)
            guard let slot = slots[info.id.index], slot.load(t) else {
                throw InterpreterError.inputMismatch(index: k, name: info.name, message: "cannot load \(t.typeDescription)")
            }
        }
        for step in steps {
            try step.kernel.run()
            if let observe {
                for s in step.kernel.outputs {
                    if let t = s.tensor() { observe(s.id, t) }
                }
            }
            if let observeFloats {
                for s in step.kernel.outputs where s.dtype == .float32 {
                    observeFloats(s.id, UnsafeBufferPointer(start: s.f32, count: s.count))
                }
                (step.kernel as? IntermediateValuesKernel)?.observeIntermediates(observeFloats)
            }
        }
        return try outputs.map { o in
            guard let t = slots[o.id.index]?.tensor() else {
                throw InterpreterError.runtime("output type \(o.dtype.name) cannot be returned", at: "output \(o.name)")
            }
            return t
        }
    }

    /// Whether `t` fits an input: same dtype and rank; each dimension equal to the model's, or
    /// free (−1 in shape_signature).
    package static func check(_ t: RuntimeTensor, against info: TensorInfo, index: Int) throws {
        guard t.dtype == info.dtype else {
            throw InterpreterError.inputMismatch(index: index, name: info.name, message: "expected \(info.dtype.name), got \(t.dtype.name)")
        }
        let ok = t.shape.count == info.shape.count
            && zip(zip(t.shape, info.shape), info.shapeSignature).allSatisfy { pair, sig in pair.0 == pair.1 || (sig < 0 && pair.0 >= 0) }
        guard ok else {
            throw InterpreterError.inputMismatch(index: index, name: info.name,
                message: "expected shape \(Self.shapeText(info.shapeSignature)), got \(Self.shapeText(t.shape))")
        }
    }

    package static func shapeText(_ s: [Int]) -> String { "[" + s.map { $0 < 0 ? "?" : String($0) }.joined(separator: ",") + "]" }

    // MARK: For kernel construction

    package func slot(_ id: ValueID) -> Slot? {
        id.isAbsent || id.index >= slots.count ? nil : slots[id.index]
    }
}

extension Interpreter: SubgraphRunner {
    package var inputTypes: [DType] { inputs.map(\.dtype) }
    package var outputTypes: [DType] { outputs.map(\.dtype) }
}
