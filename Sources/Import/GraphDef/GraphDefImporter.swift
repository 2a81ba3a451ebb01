import FlatBuffers
import IR
import Ops
import Support
import TFProto

/// Which tensors of a GraphDef become the model's inputs and outputs, like tflite_convert's
/// input_arrays / input_shapes / output_arrays.
public struct GraphDefImportOptions: Sendable, Equatable {
    public struct Input: Sendable, Equatable {
        public var tensor: TFTensorRef
        /// nil: the Placeholder's declared shape, or the shape inferred from the graph upstream.
        public var shape: [Int]?
        /// How the user named it, for messages ("--input-arrays Mfcc", "signature input 'x'").
        public var origin: String
        public init(tensor: TFTensorRef, shape: [Int]? = nil, origin: String? = nil) {
            self.tensor = tensor
            self.shape = shape
            self.origin = origin ?? "--input-arrays \(tensor)"
        }
    }

    public struct Output: Sendable, Equatable {
        public var tensor: TFTensorRef
        public var origin: String
        public init(tensor: TFTensorRef, origin: String? = nil) {
            self.tensor = tensor
            self.origin = origin ?? "--output-arrays \(tensor)"
        }
    }

    /// Empty: every Placeholder the outputs need, in graph order.
    public var inputs: [Input]
    /// Empty: every node nothing reads (NoOp, Const and Placeholder excluded), in graph order.
    public var outputs: [Output]

    public init(inputs: [Input] = [], outputs: [Output] = []) {
        self.inputs = inputs
        self.outputs = outputs
    }
}

/// Lowers a frozen GraphDef to the IR: one float TFLite builtin per TF node (or none: Identity,
/// constant arithmetic), with static NHWC shapes. Batch norms, biases and activations are
/// folded afterwards by `ImportPipeline`. Only the nodes between the inputs and the outputs are
/// read; everything upstream of an input is dropped, like tflite_convert's input_arrays.
public enum GraphDefImporter {
    /// Reads and lowers a frozen GraphDef file (no passes run).
    public static func load(path: String, options: GraphDefImportOptions = GraphDefImportOptions()) throws -> Model {
        let storage = try ByteStorage.map(path: path)
        guard storage.count > 0 else { throw GraphDefImportError.graph("\(path) is empty") }
        let graph = try ProtoDecoding.graphDef(storage.bytes, path: path)
        return try importGraph(graph, options: options)
    }

    /// Lowers a decoded GraphDef (no passes run).
    public static func importGraph(_ graph: TFGraphDef, options: GraphDefImportOptions = GraphDefImportOptions()) throws -> Model {
        let topology = try GraphDefTopology(graph)
        var lowering = GraphDefLowering(topology: topology)
        try lowering.run(options)
        return lowering.model
    }
}

/// The state of one lowering: the model being built and the IR value of each TF tensor.
package struct GraphDefLowering {
    package let topology: GraphDefTopology
    package var model: Model
    /// TF tensor → IR value (constant or runtime).
    package var tensors: [TFTensorRef: ValueID] = [:]
    /// Constants made during lowering, so folding does not re-read buffers.
    package var constants: [ValueID: ConstantTensor] = [:]
    /// TF1 control flow and TensorArrays (GraphDefControlFlow.swift): dead tensors, arrays.
    package var controlFlow = GraphDefControlFlowState()

    package init(topology: GraphDefTopology) {
        self.topology = topology
        model = Model(description: "Converted by tfrewrite \(TFRewriteVersion.string) from a TensorFlow GraphDef")
        model.subgraphs = [Graph(name: "main")]
    }

    /// Ops with a lowering; the pre-check reports every other op type at once.
    package static let passThroughOps: Set<String> = ["Identity", "Snapshot", "StopGradient", "PreventGradient", "PlaceholderWithDefault", "IdentityN"]
    package static func isSupported(_ op: String) -> Bool {
        op == "Const" || op == "Placeholder" || op == "NoOp" || passThroughOps.contains(op) || lowerings[op] != nil
            || controlFlowOps.contains(op)
    }

    package mutating func run(_ options: GraphDefImportOptions) throws {
        // Outputs: named, or the graph's sinks.
        var outputs: [GraphDefImportOptions.Output] = options.outputs
        if outputs.isEmpty {
            outputs = topology.sinks().map { .init(tensor: TFTensorRef(node: topology.nodes[$0].name), origin: "output '\(topology.nodes[$0].name)'") }
            guard !outputs.isEmpty else {
                throw GraphDefImportError.graph("the graph has no output nodes (every node is read by another, or is Const/Placeholder/NoOp): name them with --output")
            }
        }
        var outputNodes: [Int] = []
        for o in outputs {
            guard let i = topology.index[o.tensor.node] else {
                throw GraphDefImportError.badArgument(flag: o.origin, message: "the graph has no node named '\(o.tensor.node)'")
            }
            if topology.nodes[i].op == "NoOp" {
                throw GraphDefImportError.badArgument(flag: o.origin, message: "'\(o.tensor.node)' is a NoOp node, which has no data output")
            }
            outputNodes.append(i)
        }

        // Inputs: named (a cut), or every Placeholder the outputs need.
        var inputs = options.inputs
        var cuts = Set<Int>()
        for input in inputs {
            guard let i = topology.index[input.tensor.node] else {
                throw GraphDefImportError.badArgument(flag: input.origin, message: "the graph has no node named '\(input.tensor.node)'")
            }
            guard cuts.insert(i).inserted else {
                throw GraphDefImportError.badArgument(flag: input.origin, message: "'\(input.tensor.node)' is named as an input twice")
            }
        }
        var needed = try topology.needed(from: outputNodes, cuts: cuts)
        if inputs.isEmpty {
            for (i, n) in topology.nodes.enumerated() where needed[i] && n.op == "Placeholder" {
                inputs.append(.init(tensor: TFTensorRef(node: n.name), origin: ""))
                cuts.insert(i)
            }
            needed = try topology.needed(from: outputNodes, cuts: cuts)
        }

        // Every op type we cannot lower, in one message.
        var unsupported: [(op: String, node: String)] = []
        var seenOps = Set<String>()
        for (i, n) in topology.nodes.enumerated() where needed[i] && !cuts.contains(i) && !Self.isSupported(n.op) {
            if seenOps.insert(n.op).inserted { unsupported.append((n.op, n.name)) }
        }
        if !unsupported.isEmpty {
            throw GraphDefImportError.unsupportedOps(unsupported, hint: Self.hint(for: Set(unsupported.map(\.op))))
        }
        for (i, n) in topology.nodes.enumerated() where needed[i] && !cuts.contains(i) && n.op == "Placeholder" {
            throw GraphDefImportError.graph(
                "the outputs also need Placeholder '\(n.name)', which is not among the inputs: add --input-arrays \(n.name)")
        }
        let order = try topology.executionOrder(needed: needed, cuts: cuts)

        for input in inputs { try addGraphInput(input) }
        try lowerNodes(order, cuts: cuts)

        for (o, node) in zip(outputs, outputNodes) {
            guard let v = tensors[o.tensor] else {
                throw GraphDefImportError.badArgument(flag: o.origin, message: "node '\(o.tensor.node)' (\(topology.nodes[node].op)) has no output \(o.tensor.index) that can be converted")
            }
            if isConstant(v) {
                throw GraphDefImportError.badArgument(flag: o.origin, message: "'\(o.tensor)' is a constant (it does not depend on any input), so there is nothing to run")
            }
            // TF's converter names an output tensor after the node the user asked for (an
            // Identity at the end of a Keras graph gives "Identity").
            if !graph.isGraphInput(v) && !graph.outputs.contains(v) {
                graph[v].name = o.tensor.description
            }
            graph.outputs.append(v)
        }
        materializeConstants()
    }

    package static func hint(for ops: Set<String>) -> String? {
        var hints: [String] = []
        if ops.contains(where: { $0.hasPrefix("TensorArray") }) {
            hints.append("TensorArray ops belong to TF1 dynamic RNN loops")
        }
        if ops.contains("Mfcc") || ops.contains("AudioSpectrogram") || ops.contains("DecodeWav") {
            hints.append("the audio front end runs outside the model: cut it off with --input-arrays Mfcc")
        }
        if ops.contains("VarHandleOp") || ops.contains("VariableV2") || ops.contains("ReadVariableOp") {
            hints.append("the graph still holds variables: freeze it first")
        }
        if ops.contains("StatefulPartitionedCall") || ops.contains("PartitionedCall") {
            hints.append("the model body is in a function (a TF2 graph that was not frozen): freeze it first with convert_variables_to_constants_v2")
        }
        if hints.isEmpty { hints.append("cut them off with --input-arrays/--output-arrays or replace them before freezing") }
        return hints.joined(separator: "; ")
    }

    // MARK: - Graph inputs

    package mutating func addGraphInput(_ input: GraphDefImportOptions.Input) throws {
        guard let node = topology.node(input.tensor.node) else {
            throw GraphDefImportError.badArgument(flag: input.origin, message: "the graph has no node named '\(input.tensor.node)'")
        }
        let raw = input.tensor.index == 0 ? try node.outputType() : TFDataType.float.rawValue
        guard let dtype = DType(tensorFlow: raw), dtype.byteSize != nil else {
            throw GraphDefImportError.badArgument(flag: input.origin, message: "'\(node.name)' has type \(TFDataType.describe(raw: raw)), which a TFLite model input cannot have")
        }
        let shape: [Int]
        if let given = input.shape {
            shape = given
        } else if node.op == "Placeholder" && input.tensor.index == 0 {
            shape = try placeholderShape(node, origin: input.origin)
        } else {
            var inference = GraphDefShapeInference(topology: topology)
            guard let inferred = inference.shape(of: input.tensor) else {
                if let problem = inference.problems.first {
                    throw GraphDefImportError.badArgument(flag: input.origin, message: "cannot infer the shape of '\(input.tensor)': \(problem)")
                }
                throw GraphDefImportError.badArgument(
                    flag: input.origin,
                    message: "cannot infer the shape of '\(input.tensor)' (\(node.op)) from the graph: give it as --input-arrays \(input.tensor.node):SHAPE, e.g. --input-arrays \(input.tensor.node):1,49,10")
            }
            shape = inferred
        }
        guard shape.allSatisfy({ $0 >= 1 && $0 <= Int(Int32.max) }), let n = Value.elementCount(shape.map { Int32($0) }), n < Int(Int32.max) else {
            throw GraphDefImportError.badArgument(flag: input.origin, message: "shape \(shapeText(shape)) is not a static shape with positive dimensions")
        }
        let name = input.tensor.description
        let v = graph.addValue(Value(name: name, type: ElementType(dtype), shape: shape.map { Int32($0) }, provenance: input.tensor.node))
        graph.inputs.append(v)
        tensors[input.tensor] = v
    }

    /// A Placeholder's declared shape; an unknown batch (first) dimension becomes 1, as
    /// tflite_convert does, any other unknown dimension needs --input-arrays NAME:SHAPE.
    package func placeholderShape(_ node: TFNodeDef, origin: String) throws -> [Int] {
        guard let declared = try node.attrShape("shape"), var dims = declared.dims else {
            throw GraphDefImportError.badArgument(flag: origin, message: "Placeholder '\(node.name)' has no static shape: give it as --input-arrays \(node.name):SHAPE")
        }
        if let first = dims.first, first < 0 { dims[0] = 1 }
        guard dims.allSatisfy({ $0 >= 0 }) else {
            throw GraphDefImportError.badArgument(flag: origin, message: "Placeholder '\(node.name)' has shape \(declared) with unknown dimensions: give it as --input-arrays \(node.name):SHAPE")
        }
        return dims.map { Int($0) }
    }

    // MARK: - Nodes

    package mutating func lower(_ node: TFNodeDef) throws {
        var inputs: [ValueID] = []
        for text in node.inputs where !text.hasPrefix("^") {
            guard let ref = TFTensorRef(parsing: text) else { throw node.invalid("input '\(text)' is not a valid tensor name") }
            guard let v = tensors[ref] else {
                throw node.invalid("reads '\(ref)', which cannot be converted (an output of '\(ref.node)' that is not provided)")
            }
            inputs.append(v)
        }
        switch node.op {
        case "Const":
            try lowerConst(node)
        case "NoOp":
            return
        case "IdentityN":
            for (k, v) in inputs.enumerated() { tensors[TFTensorRef(node: node.name, index: k)] = v }
        case _ where Self.passThroughOps.contains(node.op):
            guard let x = inputs.first else { throw node.invalid("has no input") }
            tensors[TFTensorRef(node: node.name)] = x
        case "Placeholder":
            throw node.invalid("is not among the graph's inputs")
        default:
            guard let lowering = Self.lowerings[node.op] else {
                throw GraphDefImportError.unsupportedOps([(node.op, node.name)], hint: nil)
            }
            let outs = try lowering(&self, node, inputs)
            for (k, v) in outs.enumerated() {
                if let v { tensors[TFTensorRef(node: node.name, index: k)] = v }
            }
        }
    }

    package mutating func lowerConst(_ node: TFNodeDef) throws {
        let tensor = try node.attrTensor("value")
        guard let dtype = DType(tensorFlow: tensor.dtype), dtype.byteSize != nil else {
            // Strings and other types no TFLite builtin reads; fail only if something uses it.
            return
        }
        let t = try Self.constantTensor(tensor, dtype: dtype, node: node)
        tensors[TFTensorRef(node: node.name)] = addConstant(t, name: node.name, node: node.name)
    }

    /// A TensorProto as an IR constant. Numeric tensor_content is already little-endian
    /// row-major, so it is used as is after a size check; typed value lists go through
    /// `decodedValues` (which applies TF's repeat-the-last-value rule).
    package static func constantTensor(_ tensor: TFTensor, dtype: DType, node: TFNodeDef) throws -> ConstantTensor {
        guard let dims = tensor.shape.dims, dims.allSatisfy({ $0 >= 0 && $0 <= Int64(Int32.max) }) else {
            throw node.invalid("constant has shape \(tensor.shape), which is not fully known")
        }
        let shape = dims.map { Int32($0) }
        guard let count = Value.elementCount(shape), let size = dtype.byteSize else {
            throw node.invalid("constant shape \(tensor.shape) has too many elements")
        }
        if !tensor.content.isEmpty {
            let (bytes, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow, tensor.content.count == bytes else {
                throw ProtoDecodeError.invalidTensor(
                    op: node.op, node: node.name,
                    detail: "tensor_content has \(tensor.content.count) bytes but shape \(tensor.shape) \(TFDataType.describe(raw: tensor.dtype)) needs \(overflow ? "more than Int.max" : String(bytes))")
            }
            if dtype == .float64 {
                // TFLite kernels take float32: narrow doubles (they only appear as constants).
                let doubles = tensor.content.withUnsafeBytes { raw in
                    (0..<count).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))) }
                }
                return ConstantTensor(floats: doubles.map { Float($0) }, shape: shape)
            }
            return ConstantTensor(type: ElementType(dtype), shape: shape, bytes: tensor.content)
        }
        let values = try tensor.decodedValues(nodeName: node.name, op: node.op)
        switch values.elements {
        case .float(let v): return ConstantTensor(floats: v, shape: shape)
        case .double(let v): return ConstantTensor(floats: v.map { Float($0) }, shape: shape)
        case .int32(let v): return ConstantTensor(.int32, shape: shape, values: v)
        case .int64(let v): return ConstantTensor(.int64, shape: shape, values: v)
        case .uint8(let v): return ConstantTensor(.uint8, shape: shape, values: v)
        case .int8(let v): return ConstantTensor(.int8, shape: shape, values: v)
        case .int16(let v): return ConstantTensor(.int16, shape: shape, values: v)
        case .bool(let v): return ConstantTensor(.bool, shape: shape, values: v.map { $0 ? UInt8(1) : 0 })
        case .string: throw node.invalid("string constants cannot be converted")
        }
    }

    // MARK: - Building blocks for the op lowerings

    package var graph: Graph {
        get { model.subgraphs[0] }
        _modify { yield &model.subgraphs[0] }
    }

    package func value(_ id: ValueID) -> Value { model.subgraphs[0].values[id.index] }

    package func constant(_ id: ValueID) -> ConstantTensor? {
        if id.isAbsent { return nil }
        if let t = constants[id] { return t }
        return model.constant(id)
    }

    package func isConstant(_ id: ValueID) -> Bool { !id.isAbsent && (constants[id] != nil || model.isConstant(id)) }

    /// A constant value. Its bytes go into a model buffer only at the end, and only if an op
    /// or a graph output reads it: a Const node whose data is transposed or folded into
    /// something else is never copied into the model.
    package mutating func addConstant(_ t: ConstantTensor, name: String, node: String) -> ValueID {
        // An unrolled loop recomputes its loop-invariant constants in every iteration: share them.
        if let shared = controlFlow.sharedConstants?[t] { return shared }
        let v = graph.addValue(Value(name: name, type: t.type, shape: t.shape, provenance: node))
        constants[v] = t
        controlFlow.sharedConstants?[t] = v
        return v
    }

    /// Gives every constant that is read a buffer, then drops the values nothing reads.
    package mutating func materializeConstants() {
        var read = [Bool](repeating: false, count: graph.values.count)
        for op in graph.ops { for v in op.inputs where !v.isAbsent { read[v.index] = true } }
        for v in graph.outputs { read[v.index] = true }
        for (v, t) in constants.sorted(by: { $0.key < $1.key }) where read[v.index] {
            graph[v].buffer = model.addBuffer(ByteSlice(t.bytes))
        }
        model.removeDeadCode()
    }

    /// Emits `kind` on `inputs` producing one value named `name` (default: the node's name),
    /// or, when every input is constant and the evaluator computes the op, that constant.
    package mutating func emit(_ kind: OpKind, _ inputs: [ValueID], node: TFNodeDef, name: String? = nil, dtype: DType, shape: [Int32]) -> ValueID {
        let name = name ?? node.name
        let out = Value(name: name, type: ElementType(dtype), shape: shape, provenance: node.name)
        if inputs.contains(where: { !$0.isAbsent }) && inputs.allSatisfy({ $0.isAbsent || isConstant($0) }),
            let t = ConstantEvaluator.evaluate(kind, inputs: inputs.map { constant($0) }, outputs: [out])?.first,
            t.type.dtype == dtype, Value.elementCount(t.shape) == Value.elementCount(shape)
        {
            return addConstant(t.reshaped(shape), name: name, node: node.name)
        }
        let v = graph.addValue(out)
        graph.addOp(Op(kind: kind, inputs: inputs, outputs: [v], provenance: [node.name]))
        return v
    }

    /// Input `k`, which must exist.
    package func input(_ inputs: [ValueID], _ k: Int, _ node: TFNodeDef) throws -> ValueID {
        guard k < inputs.count else { throw node.invalid("has \(inputs.count) inputs, needs at least \(k + 1)") }
        return inputs[k]
    }

    /// Input `k` as a constant; `what` names it in the error.
    package func constantInput(_ inputs: [ValueID], _ k: Int, _ node: TFNodeDef, _ what: String) throws -> ConstantTensor {
        let v = try input(inputs, k, node)
        guard let t = constant(v) else {
            throw node.invalid("\(what) ('\(self.value(v).name)') must be a constant for TFLite, but it is computed at run time")
        }
        return t
    }

    /// Input `k` as constant integers (int32 or int64).
    package func integerInput(_ inputs: [ValueID], _ k: Int, _ node: TFNodeDef, _ what: String) throws -> [Int] {
        let t = try constantInput(inputs, k, node, what)
        guard t.type.dtype == .int32 || t.type.dtype == .int64, let ints = t.integers else {
            throw node.invalid("\(what) must be int32 or int64, got \(t.type.dtype.name)")
        }
        return try ints.map { i in
            guard let v = Int(exactly: i), v >= -Int(Int32.max), v <= Int(Int32.max) else { throw node.invalid("\(what) holds \(i), out of range") }
            return v
        }
    }

    /// A float32 input (runtime values must be float: the output is a float model).
    package func floatInput(_ inputs: [ValueID], _ k: Int, _ node: TFNodeDef) throws -> ValueID {
        let v = try input(inputs, k, node)
        guard value(v).dtype == .float32 else {
            throw node.invalid("input \(k) '\(value(v).name)' is \(value(v).dtype.name); only float32 tensors are converted")
        }
        return v
    }

    /// A constant shape or index vector for an op input (TFLite wants int32).
    package mutating func int32Constant(_ values: [Int], name: String, node: TFNodeDef, shape: [Int32]? = nil) -> ValueID {
        addConstant(ConstantTensor(.int32, shape: shape ?? [Int32(values.count)], values: values.map { Int32($0) }), name: name, node: node.name)
    }
}
