import FlatBuffers
import IR
import Interpret
import Kernels
import Ops
import Passes
import Rewrite
import Support

/// Options of the int8 rewrite.
public struct QuantizationOptions: Sendable {
    /// FULLY_CONNECTED weights get one scale per output unit (converters since 2024; TFLM since
    /// PR #2673). Off by default: the quantization spec says per-tensor, and older TFLM builds
    /// compute per-channel FC wrong (tflite-micro's micro_op_resolver.cc).
    public var perChannelFullyConnected: Bool
    /// Keep float32 graph inputs and outputs, with QUANTIZE after each input and DEQUANTIZE
    /// before each output (as TF does without inference_input/output_type).
    public var floatIO: Bool
    /// Fold the mean error that rounding the weights adds to each output channel back into the
    /// bias (needs `RangeTable.channelMeans`; see `BiasCorrection`).
    public var biasCorrection: Bool
    /// Weight scales from an error search per channel (`WeightRangeSearch`) instead of max|w|/127.
    public var weightSearch: Bool = false
    /// int8 activations, int16x8 everywhere, or int16x8 for some ops (`Int16x8.swift`).
    public var activations: ActivationPrecision = .int8

    public init(perChannelFullyConnected: Bool = false, floatIO: Bool = false, biasCorrection: Bool = true) {
        self.perChannelFullyConnected = perChannelFullyConnected
        self.floatIO = floatIO
        self.biasCorrection = biasCorrection
    }

    /// Per-channel FC when the target allows it; per-tensor without a target (the spec).
    public init(target: TargetProfile?, floatIO: Bool = false, biasCorrection: Bool = true) {
        self.init(perChannelFullyConnected: target?.quantization.perChannelFullyConnected ?? false, floatIO: floatIO, biasCorrection: biasCorrection)
    }
}

/// What the int8 rewrite did, for the summary the CLI prints.
public struct QuantizationSummary: Sendable {
    /// Parameters of one graph input or output, so users know how to feed and read it.
    public struct Port: Sendable, Hashable {
        public var name: String
        public var dtype: DType
        public var shape: [Int32]
        public var parameters: AffineParameters?
    }
    public var quantizedOps: Int = 0
    /// Ops left in float32, with the reason ("SQRT #4: no int8 kernel").
    public var floatOps: [String] = []
    /// Runtime tensors that became int8.
    public var quantizedTensors: Int = 0
    /// Constants quantized (weights to int8, biases to int32, constant operands to int8).
    public var quantizedConstants: Int = 0
    /// QUANTIZE / DEQUANTIZE ops inserted.
    public var insertedQuantize: Int = 0
    public var insertedDequantize: Int = 0
    /// Bias values that did not fit in int32 and were saturated.
    public var saturatedBiasValues: Int = 0
    /// Biases corrected for the mean error of the rounded weights.
    public var correctedBiases: Int = 0
    public var inputs: [Port] = []
    public var outputs: [Port] = []
    /// Warnings for the user (one line each).
    public var notes: [String] = []
}

public enum QuantizeError: Error, CustomStringConvertible, Equatable {
    /// `context` says where the tensor sits ("output of FULLY_CONNECTED #0").
    case noRange(value: String, context: String)
    case notFloat(String)
    case calibration(String)
    case badOption(String)
    case invalidResult(String)
    case invalidInput(String)

    public var description: String {
        switch self {
        case .noRange(let v, let context): "no calibration range for tensor \"\(v)\" (\(context)); did calibration run the whole graph?"
        case .notFloat(let m): "nothing to quantize: \(m)"
        case .calibration(let m): m
        case .badOption(let m): m
        case .invalidResult(let m): "the quantized model is invalid: \(m)"
        case .invalidInput(let m): "the model to quantize is invalid: \(m)"
        }
    }
}

/// Rewrites a float32 model into a full-integer int8 one, given the real range of every
/// tensor (from calibration). Only subgraph 0 is rewritten.
///
///     Given:   input %0 "x": f32[1,8]
///              #0 FULLY_CONNECTED {act=RELU} (%0, %1 f32 weights, %2 f32 bias) -> %3: f32[1,4]
///              #1 SOFTMAX (%3) -> %4: f32[1,4]
///     Result:  input %0 "x": i8[1,8] q(s_x, z_x)
///              #0 FULLY_CONNECTED {act=RELU} (%0, i8 weights q(s_w, 0), i32 bias q(s_x·s_w, 0)) -> %3: i8 q(s_3, −128)
///              #1 SOFTMAX (%3) -> %4: i8 q(1/256, −128)
///
/// Parameters (TFLite's quantization_spec.md):
/// - activations: asymmetric from the observed range (`AffineParameters.asymmetric`); the ops
///   that must keep scale and zero point (RESHAPE, pools, PAD, SQUEEZE, STRIDED_SLICE, GATHER,
///   TRANSPOSE, and CONCATENATION across all inputs) put their operand and result in one
///   group whose range is the union of the members' ranges; SOFTMAX/LOGISTIC/TANH outputs
///   take the spec's fixed parameters, and their group follows them. Where two fixed
///   parameter sets meet (or a fixed set cannot hold a member's range), a QUANTIZE op
///   requantizes the operand instead.
/// - weights: symmetric int8 [−127,127]; per channel on CONV_2D axis 0 and DEPTHWISE_CONV_2D
///   axis 3; FULLY_CONNECTED per tensor unless `perChannelFullyConnected`.
/// - biases: int32, scale = input scale × weight scale per channel, zero point 0.
/// - constant operands of activation ops (ADD with a constant, CONCATENATION with a constant):
///   asymmetric int8 with their own range, or their group's parameters.
/// Ops with no int8 rule stay float32 between DEQUANTIZE and QUANTIZE ops. Graph inputs and
/// outputs become int8 unless `floatIO`. Op versions are left to `legalize-op-versions`.
public enum Int8Quantizer {
    public static func quantize(_ model: Model, ranges: RangeTable, options: QuantizationOptions) throws -> (Model, QuantizationSummary) {
        var rewrite = Rewrite(model: model, ranges: ranges, options: options)
        try rewrite.run()
        return (rewrite.model, rewrite.summary)
    }

    /// The state of one rewrite of subgraph 0.
    package struct Rewrite {
        package var model: Model
        package let ranges: RangeTable
        package let options: QuantizationOptions
        package var summary = QuantizationSummary()

        /// Spec of each op that becomes int8, by op index.
        package var specs: [Int: OpQuantizationSpec] = [:]
        /// Values that hold int8 activations after the rewrite.
        package var isInt8 = Set<Int32>()
        /// Range of each int8 value (observed, or copied from the float value it quantizes).
        package var rangeOf: [Int32: ObservedRange] = [:]
        /// Int8 placeholders for constant activation operands: placeholder → float constant.
        package var constantSource: [Int32: ValueID] = [:]
        /// QUANTIZE outputs made for float values read by int8 ops (one per float value).
        package var quantizedCopy: [Int32: ValueID] = [:]
        /// DEQUANTIZE outputs made for int8 values read by float ops.
        package var dequantizedCopy: [Int32: ValueID] = [:]
        /// The float value each int8 op read as operand 0 before the rewrite (bias correction
        /// looks up its channel means).
        package var originalInput: [Int: ValueID] = [:]
        /// Quantized activation values that are int16 rather than int8 (`Int16x8.swift`).
        package var int16Values = Set<Int32>()
        /// Float and quantized weights of each int8 op with weights.
        package var weightsOf: [Int: (float: ConstantTensor, quantized: ConstantTensor)] = [:]

        package init(model: Model, ranges: RangeTable, options: QuantizationOptions) {
            self.model = model
            self.ranges = ranges
            self.options = options
        }

        package var graph: Graph {
            get { model.subgraphs[0] }
            set { model.subgraphs[0] = newValue }
            // In place: with get/set alone every write through `graph` copied the whole graph.
            _modify { yield &model.subgraphs[0] }
        }

        package mutating func run() throws {
            guard !model.subgraphs.isEmpty else { throw QuantizeError.notFloat("the model has no subgraphs") }
            if model.subgraphs.count > 1 {
                summary.notes.append("only subgraph 0 is quantized; \(model.subgraphs.count - 1) other subgraph(s) stay as they are")
            }
            classifyOps()
            try checkInt16Kernels()
            guard !specs.isEmpty || graph.inputs.contains(where: { isFloatRuntime($0) }) else {
                throw QuantizeError.notFloat("no op of subgraph 0 has float32 tensors")
            }
            try markInt8Values()
            markStateValues()
            markInt16Values()
            try rewriteGraphOutputs()
            try connectFloatAndInt8()
            insertPrecisionBoundaries()
            clearPowerOfTwoScaleFlags()
            var groups = try groupSameScaleValues()
            joinStatesWithOutputs(&groups)
            try assignParameters(&groups)
            try assignInt16StateParameters()
            addLstmIntermediates()
            try quantizeConstants()
            finish()
        }

        // MARK: Classification

        package func isFloatRuntime(_ v: ValueID) -> Bool {
            guard !v.isAbsent, v.index < graph.values.count else { return false }
            let value = graph[v]
            return value.dtype == .float32 && !model.isConstant(value)
        }
        package func isFloatConstant(_ v: ValueID) -> Bool {
            guard !v.isAbsent, v.index < graph.values.count else { return false }
            let value = graph[v]
            return value.dtype == .float32 && model.isConstant(value)
        }

        /// Decides which ops become int8; the rest that touch float32 tensors are listed as float.
        package mutating func classifyOps() {
            let g = graph
            let floatPreprocessing = floatInputPreprocessing()
            for (i, op) in g.ops.enumerated() where !op.isErased {
                if floatPreprocessing.contains(i) {
                    summary.floatOps.append("\(op.label(OpID(i))): per-feature preprocessing of a float input; kept float32 before the input quantization")
                    continue
                }
                let touchesFloat = op.inputs.contains { isFloatRuntime($0) || isFloatConstant($0) } || op.outputs.contains { isFloatRuntime($0) }
                guard touchesFloat else { continue }
                if case .shape = op.kind { continue }  // reads only the shape; any dtype works
                switch eligibility(op) {
                case .success(let spec):
                    specs[i] = spec
                    if let x = op.input(0) { originalInput[i] = x }
                case .failure(let reason): summary.floatOps.append("\(op.label(OpID(i))): \(reason.text)")
                }
            }
        }

        package struct Reason: Error { var text: String }

        package func eligibility(_ op: Op) -> Result<OpQuantizationSpec, Reason> {
            guard let spec = OpQuantizationSpec.of(op, perChannelFullyConnected: options.perChannelFullyConnected) else {
                return .failure(Reason(text: "no int8 rule in tfrewrite's quantizer; kept float32"))
            }
            guard !op.outputs.isEmpty, op.outputs.allSatisfy({ isFloatRuntime($0) }) else {
                return .failure(Reason(text: "outputs are not all float32; left as is"))
            }
            var activations = 0
            for (k, v) in op.inputs.enumerated() {
                switch spec.role(k) {
                case .activation:
                    guard !v.isAbsent else { return .failure(Reason(text: "input \(k) is missing")) }
                    guard isFloatRuntime(v) || isFloatConstant(v) else {
                        let type = v.index < graph.values.count ? graph[v].dtype.name : "out of range"
                        return .failure(Reason(text: "input \(k) is \(type), not float32"))
                    }
                    if isFloatRuntime(v) { activations += 1 }
                case .weights:
                    guard isFloatConstant(v), graph[v].rank >= 1 else {
                        return .failure(Reason(text: "weights (input \(k)) are not a float32 constant"))
                    }
                case .bias:
                    if v.isAbsent { continue }
                    guard isFloatConstant(v) else { return .failure(Reason(text: "bias (input \(k)) is not a float32 constant")) }
                case .passThrough:
                    if isFloatRuntime(v) { return .failure(Reason(text: "input \(k) is a float32 tensor with no int8 role")) }
                case .stateLikeOutput, .int16PowerOfTwoState:
                    guard !v.isAbsent, graph[v].isVariable, graph[v].dtype == .float32 else {
                        return .failure(Reason(text: "state (input \(k)) is not a float32 variable tensor"))
                    }
                }
            }
            guard activations > 0 else { return .failure(Reason(text: "all inputs are constant (fold constants first)")) }
            if case .weights(let axis) = spec.role(1), let axis, !op.inputs[1].isAbsent {
                let w = graph[op.inputs[1]]
                guard axis < w.rank else { return .failure(Reason(text: "weights of rank \(w.rank) have no axis \(axis)")) }
            }
            return .success(spec)
        }

        // MARK: Which values become int8

        /// Outputs of int8 ops, and the graph inputs (unless float I/O).
        package mutating func markInt8Values() throws {
            let g = graph
            for (i, _) in specs {
                for v in g.ops[i].outputs where !v.isAbsent {
                    isInt8.insert(v.raw)
                    if let r = ranges[v] { rangeOf[v.raw] = r }
                }
            }
            guard !options.floatIO else { return }
            for v in g.inputs where isFloatRuntime(v) {
                guard let r = ranges[v] else {
                    throw QuantizeError.noRange(value: g[v].name, context: "graph input")
                }
                isInt8.insert(v.raw)
                rangeOf[v.raw] = r
            }
        }

        /// Graph outputs get the I/O type asked for: with float I/O an int8 output is moved to a
        /// new internal value and the original value (name, index, signature) becomes the
        /// DEQUANTIZE result; with int8 I/O a float output gets a QUANTIZE.
        package mutating func rewriteGraphOutputs() throws {
            var done: [Int32: ValueID] = [:]
            for k in graph.outputs.indices {
                let v = graph.outputs[k]
                if let w = done[v.raw] { graph.outputs[k] = w; continue }
                if options.floatIO && isInt8.contains(v.raw) {
                    var inner = graph[v]
                    inner.name = Self.derivedName(graph[v].name, "int8")
                    inner.provenance = graph[v].provenance ?? graph[v].name
                    let w = graph.addValue(inner)
                    isInt8.remove(v.raw)
                    isInt8.insert(w.raw)
                    markNewValue(w, like: v)
                    rangeOf[w.raw] = rangeOf[v.raw]
                    for i in graph.ops.indices where !graph.ops[i].isErased {
                        for j in graph.ops[i].inputs.indices where graph.ops[i].inputs[j] == v { graph.ops[i].inputs[j] = w }
                        for j in graph.ops[i].outputs.indices where graph.ops[i].outputs[j] == v { graph.ops[i].outputs[j] = w }
                    }
                    addOp(.dequantize, input: w, output: v, provenance: graph[v].provenance ?? graph[v].name)
                    summary.insertedDequantize += 1
                    done[v.raw] = v
                } else if !options.floatIO && isFloatRuntime(v) && !isInt8.contains(v.raw) {
                    guard let r = ranges[v] else { throw QuantizeError.noRange(value: graph[v].name, context: "graph output") }
                    var out = graph[v]
                    out.provenance = graph[v].provenance ?? graph[v].name
                    graph[v].name = Self.derivedName(graph[v].name, "float")
                    let w = graph.addValue(out)
                    isInt8.insert(w.raw)
                    markNewValue(w)
                    rangeOf[w.raw] = r
                    addOp(.quantize, input: v, output: w, provenance: out.provenance!)
                    summary.insertedQuantize += 1
                    quantizedCopy[v.raw] = w
                    graph.outputs[k] = w
                    for s in model.signatureDefs.indices where model.signatureDefs[s].subgraph == 0 {
                        for j in model.signatureDefs[s].outputs.indices where model.signatureDefs[s].outputs[j].tensor == v {
                            model.signatureDefs[s].outputs[j].tensor = w
                        }
                    }
                    done[v.raw] = w
                }
            }
        }

        /// Int8 ops reading float values get a QUANTIZE (or, for constants, an int8
        /// placeholder filled later); float ops reading int8 values get a DEQUANTIZE.
        package mutating func connectFloatAndInt8() throws {
            let opCount = graph.ops.count
            for i in 0..<opCount where !graph.ops[i].isErased {
                let op = graph.ops[i]
                if let spec = specs[i] {
                    for (k, v) in op.inputs.enumerated() where spec.role(k) == .activation && !v.isAbsent {
                        if isInt8.contains(v.raw) { continue }
                        if isFloatConstant(v) {
                            graph.ops[i].inputs[k] = makeConstantPlaceholder(for: v)
                        } else {
                            graph.ops[i].inputs[k] = try quantized(v, reader: op.label(OpID(i)))
                        }
                    }
                } else {
                    if case .shape = op.kind { continue }
                    if op.builtinOperator == .quantize || op.builtinOperator == .dequantize, isInserted(i) { continue }
                    for (k, v) in op.inputs.enumerated() where !v.isAbsent && isInt8.contains(v.raw) {
                        graph.ops[i].inputs[k] = dequantized(v)
                    }
                }
            }
        }

        /// Ops appended by this rewrite (QUANTIZE/DEQUANTIZE) are not rewired again.
        package var firstInsertedOp: Int? = nil
        package func isInserted(_ i: Int) -> Bool { firstInsertedOp.map { i >= $0 } ?? false }

        package mutating func makeConstantPlaceholder(for c: ValueID) -> ValueID {
            var v = graph[c]
            v.buffer = .none
            v.provenance = v.provenance ?? v.name
            let p = graph.addValue(v)
            constantSource[p.raw] = c
            isInt8.insert(p.raw)
            markNewValue(p)
            if let t = model.constant(c) { rangeOf[p.raw] = ObservedRange.of(t.floats) }
            return p
        }

        package mutating func quantized(_ v: ValueID, reader: String) throws -> ValueID {
            if let q = quantizedCopy[v.raw] { return q }
            guard let r = ranges[v] else { throw QuantizeError.noRange(value: graph[v].name, context: "read by \(reader)") }
            var q = graph[v]
            q.name = Self.derivedName(q.name, "int8")
            q.provenance = graph[v].provenance ?? graph[v].name
            let id = graph.addValue(q)
            isInt8.insert(id.raw)
            markNewValue(id)
            rangeOf[id.raw] = r
            addOp(.quantize, input: v, output: id, provenance: q.provenance!)
            summary.insertedQuantize += 1
            quantizedCopy[v.raw] = id
            return id
        }

        package mutating func dequantized(_ v: ValueID) -> ValueID {
            if let d = dequantizedCopy[v.raw] { return d }
            var f = graph[v]
            f.name = Self.derivedName(f.name, "float")
            f.provenance = graph[v].provenance ?? graph[v].name
            f.type = ElementType(.float32)
            let id = graph.addValue(f)
            addOp(.dequantize, input: v, output: id, provenance: f.provenance!)
            summary.insertedDequantize += 1
            dequantizedCopy[v.raw] = id
            return id
        }

        package mutating func addOp(_ kind: OpKind, input: ValueID, output: ValueID, provenance: String) {
            let id = graph.addOp(Op(kind: kind, inputs: [input], outputs: [output], provenance: [provenance]))
            if firstInsertedOp == nil { firstInsertedOp = id.index }
        }

        // MARK: Parameter groups

        package struct Groups {
            package var parent: [Int32: Int32] = [:]
            package var fixed: [Int32: AffineParameters] = [:]
            package var range: [Int32: ObservedRange] = [:]

            package mutating func find(_ x: Int32) -> Int32 {
                var r = x
                while let p = parent[r], p != r { r = p }
                var c = x
                while let p = parent[c], p != r { parent[c] = r; c = p }
                return r
            }
            package mutating func union(_ a: Int32, _ b: Int32) {
                let ra = find(a), rb = find(b)
                guard ra != rb else { return }
                parent[rb] = ra
                if let f = fixed[rb] { fixed[ra] = f }
                fixed[rb] = nil
                if let r = range[rb] { range[ra] = (range[ra] ?? .empty).union(r) }
                range[rb] = nil
            }
        }

        /// Puts values that must share parameters into groups; fixed-output values carry their
        /// parameters. Where a fixed group meets an incompatible member, the operand is
        /// requantized by a new QUANTIZE op instead of joining.
        package mutating func groupSameScaleValues() throws -> Groups {
            var groups = Groups()
            for v in isInt8 {
                groups.parent[v] = v
                if let r = rangeOf[v] { groups.range[v] = r }
            }
            let ids = specs.keys.sorted()
            for i in ids {
                if case .fixed(let p) = specs[i]!.output, let out = graph.ops[i].outputs.first {
                    groups.fixed[groups.find(out.raw)] = fixedParameters(p, of: out.raw)
                }
            }
            for i in ids {
                let spec = specs[i]!
                let operands: [Int]
                switch spec.output {
                case .sameAsInput: operands = [0]
                case .sameAsAllInputs: operands = graph.ops[i].inputs.indices.filter { spec.role($0) == .activation }
                default: continue
                }
                guard let out = graph.ops[i].outputs.first else { continue }
                // SPLIT, SPLIT_V, UNPACK: every output shares the parameters.
                for other in graph.ops[i].outputs.dropFirst() where !other.isAbsent && isInt8.contains(other.raw) {
                    groups.union(out.raw, other.raw)
                }
                for k in operands {
                    let v = graph.ops[i].inputs[k]
                    guard !v.isAbsent, isInt8.contains(v.raw) else { continue }
                    if compatible(&groups, v.raw, out.raw) {
                        groups.union(out.raw, v.raw)
                    } else {
                        // Requantize into the output's group.
                        var r = graph[v]
                        r.name = Self.derivedName(r.name, "requantized")
                        r.provenance = graph[v].provenance ?? graph[v].name
                        let id = graph.addValue(r)
                        isInt8.insert(id.raw)
                        markNewValue(id, like: out)
                        groups.parent[id.raw] = id.raw
                        addOp(.quantize, input: v, output: id, provenance: r.provenance!)
                        summary.insertedQuantize += 1
                        graph.ops[i].inputs[k] = id
                        groups.union(out.raw, id.raw)
                    }
                }
            }
            return groups
        }

        /// Two groups may merge unless that would put a member's values outside fixed
        /// parameters (allowing one quantum of slack: SOFTMAX can reach exactly 1.0).
        package func compatible(_ groups: inout Groups, _ a: Int32, _ b: Int32) -> Bool {
            let ra = groups.find(a), rb = groups.find(b)
            if ra == rb { return true }
            switch (groups.fixed[ra], groups.fixed[rb]) {
            case (let fa?, let fb?): return fa == fb
            case (let f?, nil): return fits(groups.range[rb], f, int16: int16Values.contains(a))
            case (nil, let f?): return fits(groups.range[ra], f, int16: int16Values.contains(a))
            case (nil, nil): return true
            }
        }

        package func fits(_ r: ObservedRange?, _ p: AffineParameters, int16: Bool = false) -> Bool {
            guard let r, !r.isEmpty else { return true }
            let span = int16 ? Int16x8.representableRange(p) : p.representableRange
            return r.min >= span.lowerBound - p.scale && r.max <= span.upperBound + p.scale
        }

        /// Gives every int8 value its dtype and parameters.
        package mutating func assignParameters(_ groups: inout Groups) throws {
            var params: [Int32: AffineParameters] = [:]
            for v in isInt8.sorted() {
                let root = groups.find(v)
                if let p = params[root] {
                    setInt8(v, p)
                    continue
                }
                let p: AffineParameters
                if let f = groups.fixed[root] {
                    p = f
                } else if let r = groups.range[root], !r.isEmpty {
                    p = int16Values.contains(v) ? int16Parameters(r) : AffineParameters.asymmetric(min: r.min, max: r.max)
                } else {
                    let id = ValueID(v)
                    let context: String
                    if let w = graph.ops.indices.first(where: { !graph.ops[$0].isErased && graph.ops[$0].outputs.contains(id) }) {
                        context = "output of \(graph.ops[w].label(OpID(w)))"
                    } else if let r = graph.ops.indices.first(where: { !graph.ops[$0].isErased && graph.ops[$0].inputs.contains(id) }) {
                        context = "read by \(graph.ops[r].label(OpID(r)))"
                    } else {
                        context = "graph tensor"
                    }
                    throw QuantizeError.noRange(value: graph[id].name, context: context)
                }
                params[root] = p
                setInt8(v, p)
            }
        }

        package mutating func setInt8(_ v: Int32, _ p: AffineParameters) {
            graph[ValueID(v)].type = ElementType(int16Values.contains(v) ? .int16 : .int8, quantization: p.quantization)
        }

        // MARK: Constants

        /// Fills constant placeholders, quantizes weights and biases.
        package mutating func quantizeConstants() throws {
            for (p, c) in constantSource.sorted(by: { $0.key < $1.key }) {
                guard let t = model.constant(c), let q = graph[ValueID(p)].quantization, let s = q.scale else { continue }
                let params = AffineParameters(scale: s, zeroPoint: Int32(q.zeroPoint ?? 0))
                model.setConstant(ValueID(p), int16Values.contains(p)
                    ? Int16x8.constant(t.floats, shape: t.shape, parameters: params)
                    : ConstantQuantizer.asymmetric(t.floats, shape: t.shape, parameters: params))
                summary.quantizedConstants += 1
            }
            var weightCache: [String: ValueID] = [:]
            for i in specs.keys.sorted() {
                let spec = specs[i]!
                let op = graph.ops[i]
                for (k, v) in op.inputs.enumerated() where !v.isAbsent {
                    guard case .weights(let axis) = spec.role(k) else { continue }
                    // Constants that share a buffer (cleanup's share_buffers: an unrolled
                    // recurrent layer's weights, one copy per time step) hold the same data, so
                    // they get one quantized tensor, read by every step.
                    let source = graph[v].buffer == .none ? "v\(v.raw)" : "b\(graph[v].buffer.index)/\(graph[v].shape)"
                    let key = "\(source)/\(axis.map(String.init) ?? "t")"
                    guard let t = model.constant(v) else { continue }
                    if let cached = weightCache[key] {
                        graph.ops[i].inputs[k] = cached
                        if let q = model.constant(cached) { weightsOf[i] = (t, q) }
                        continue
                    }
                    let q = options.weightSearch
                        ? WeightRangeSearch.symmetricWeights(t.floats, shape: t.shape, axis: axis)
                        : ConstantQuantizer.symmetricWeights(t.floats, shape: t.shape, axis: axis)
                    weightsOf[i] = (t, q)
                    var value = graph[v]
                    value.provenance = value.provenance ?? value.name
                    let id = model.addConstant(Value(name: value.name, type: q.type, shape: q.shape, provenance: value.provenance), data: q.slice)
                    weightCache[key] = id
                    graph.ops[i].inputs[k] = id
                    summary.quantizedConstants += 1
                }
            }
            // Every bias operand (an LSTM has one per gate).
            let biasSites = specs.keys.sorted().flatMap { i in specs[i]!.roles.indices.map { (i, $0) } }
            for (i, k) in biasSites {
                guard case .bias(let inputIndex, let weightsIndex) = specs[i]!.roles[k] else { continue }
                let op = graph.ops[i]
                guard let inputScale = op.input(inputIndex).flatMap({ graph[$0].quantization?.scale }),
                      let wq = op.input(weightsIndex).flatMap({ graph[$0].quantization }), wq.hasScales
                else { continue }
                let given = op.input(k)
                var values: [Float]
                var shape: [Int32]
                var value: Value
                if let v = given, let t = model.constant(v) {
                    values = t.floats
                    shape = t.shape
                    value = graph[v]
                } else {
                    // No bias: one is added only when correcting it.
                    guard options.biasCorrection, let w = weightsOf[i], let n = BiasCorrection.outputChannels(op, weights: w.float) else { continue }
                    values = Array(repeating: 0, count: n)
                    shape = [Int32(n)]
                    value = Value(name: Self.derivedName(graph[op.outputs[0]].name, "bias"), type: ElementType(.float32), shape: shape)
                }
                if options.biasCorrection, let w = weightsOf[i], let x = originalInput[i], let means = ranges.channelMeans[x],
                   let shift = BiasCorrection.outputShift(op, weights: w.float, quantized: w.quantized, inputMeans: means),
                   shift.count == values.count, shift.allSatisfy(\.isFinite) {
                    for c in values.indices { values[c] -= shift[c] }
                    summary.correctedBiases += 1
                }
                let channels = values.count
                guard wq.scales.count == 1 || wq.scales.count == channels else {
                    throw QuantizeError.invalidResult("\(op.label(OpID(i))): bias has \(channels) values for \(wq.scales.count) weight scales")
                }
                let inputIsInt16 = op.input(inputIndex).map { graph[$0].dtype == .int16 } ?? false
                let b: ConstantTensor
                if inputIsInt16 {
                    b = Int16x8.bias(values, shape: shape, inputScale: inputScale, weightScales: wq.scales)
                } else {
                    let (b32, saturated) = ConstantQuantizer.bias(values, shape: shape, inputScale: inputScale, weightScales: wq.scales)
                    b = b32
                    summary.saturatedBiasValues += saturated
                }
                value.provenance = value.provenance ?? value.name
                let id = model.addConstant(Value(name: value.name, type: b.type, shape: b.shape, provenance: value.provenance), data: b.slice)
                if k < graph.ops[i].inputs.count {
                    graph.ops[i].inputs[k] = id
                } else {
                    while graph.ops[i].inputs.count < k { graph.ops[i].inputs.append(.absent) }
                    graph.ops[i].inputs.append(id)
                }
                summary.quantizedConstants += 1
            }
            if summary.saturatedBiasValues > 0 {
                summary.notes.append("\(summary.saturatedBiasValues) bias value(s) do not fit int32 at input scale × weight scale and were saturated")
            }
        }

        // MARK: Finish

        package mutating func finish() {
            summary.quantizedOps = specs.count
            summary.quantizedTensors = isInt8.count - constantSource.count
            _ = model.subgraphs[0].compact()
            model.compactValues(inSubgraph: 0)
            model.removeUnusedBuffers()
            let g = graph
            func port(_ v: ValueID) -> QuantizationSummary.Port {
                let value = g[v]
                var p: AffineParameters?
                if value.dtype == .int8 || value.dtype == .int16, let q = value.quantization, let s = q.scale {
                    p = AffineParameters(scale: s, zeroPoint: Int32(q.zeroPoint ?? 0))
                }
                return .init(name: value.name, dtype: value.dtype, shape: value.shape, parameters: p)
            }
            summary.inputs = g.inputs.filter { !$0.isAbsent && $0.index < g.values.count }.map(port)
            summary.outputs = g.outputs.filter { !$0.isAbsent && $0.index < g.values.count }.map(port)
        }

        package static func derivedName(_ name: String, _ suffix: String) -> String {
            name.isEmpty ? suffix : "\(name)_\(suffix)"
        }
    }
}
