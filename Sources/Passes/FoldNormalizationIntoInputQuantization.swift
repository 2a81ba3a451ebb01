import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// In an int8 model, folds a per-tensor affine preprocessing step at a graph input — Keras
/// Rescaling's x·a and x + b, which `fold-input-normalization` leaves in float when the fold
/// would change float results — into the input's quantization, so the model reads the raw
/// input and the int8 MUL/ADD/SUB disappear.
///
/// Given (an int8 model with float input, as `--quantize int8` writes it):
///
///     input %0 "x": f32[1,30]
///     const %1 "rescaling/scale": i8[] q(7.874016e-05, 0) = [127]
///     #0 QUANTIZE v1 (%0) -> %2 "x_int8": i8[1,30] q(1.0, -128)
///     #1 MUL v2 (%2, %1) -> %3 "rescaling/mul": i8[1,30] q(0.01, -128)
///     #2 FULLY_CONNECTED v4 (%3, %4, %5) -> %6 "dense": i8[1,16] q(0.05, -128)
///
/// Result:
///
///     #0 QUANTIZE v1 (%0) -> %2 "x_int8": i8[1,30] q(1.0, -128)
///     #2 FULLY_CONNECTED v4 (%2, %7, %8) -> %6 "dense": i8[1,16] q(0.05, -128)
///
/// y = A·x + B (A the MUL's constant, or 1 for ADD/SUB; B the ADD's constant, −c for SUB, 0 for
/// MUL; constants as the int8 kernel reads them, scale·(q − zero point)) is quantized as
/// y = s_y·(q − z_y). The input's integers are the same when it is quantized as
/// x = s_x·(q − z_x) with s_x = s_y / A and z_x = z_y + B / s_y. The layers that read y read
/// the input instead and see its scale and zero point, so each one is compensated with
/// integers only: its int8 weights keep their values and their scales are multiplied by A
/// (input scale × weight scale is unchanged), and its int32 bias gains (B / s_y)·Σ q_w per
/// output channel (TFLite's kernels sum (q − z_in)·q_w; schema.fbs, quantization_spec.md).
/// So the layer computes what it computed from y, up to the float rounding of the product of
/// scales in its output multiplier, while the input is rounded once instead of twice.
///
/// Applies when A > 0, B / s_y is an integer (within 1e-3: the float error of the scales), z_x
/// lies in [−128, 127], the constant is one value (a per-feature Normalization, x − μ_c, has no
/// per-tensor input quantization that reads the same integers, and stays), the op has no fused
/// activation, its int8 per-tensor output is no graph output, and its data input is a graph
/// input (int8, per-tensor) or a QUANTIZE of a float graph input, read by this op only. Every
/// reader of y (or of the one RESHAPE, EXPAND_DIMS or SQUEEZE reading y: a Conv1D's ExpandDims,
/// which then reads the input and takes its quantization) must be a FULLY_CONNECTED, CONV_2D or DEPTHWISE_CONV_2D reading it as the data
/// input, with int8 weights (zero points 0) and an int32 bias; with B ≠ 0 the convolutions must
/// be VALID (SAME padding reads the zero point, whose sum a bias cannot follow). Each reader
/// gets weights and bias of its own.
public struct FoldNormalizationIntoInputQuantization: PatternPass {
    public static let name = "fold-normalization-into-input-quantization"
    public static let summary = "int8: a per-tensor x·a / x + b at a graph input → that input's scale and zero point"

    public init(options: PassOptions = PassOptions()) throws {
        _ = try PassOptionReader(options, pass: Self.name, known: [])
    }

    public var patterns: [Pattern] { [Self.pattern] }

    /// The patterns, then the weights, biases and tensors they left unused go (the pass runs
    /// after the rules' `cleanup`).
    public mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        guard try GreedyRewriteDriver(patterns: patterns, passName: Self.name).run(on: &model, context: &context) else { return false }
        model.removeDeadCode()
        return true
    }

    /// Rooted at the last op of the chain, whose readers are the layers.
    public static let pattern = Pattern(name: name, rootKinds: [.mul, .add, .sub]) { r, id in
        let y = r[id].outputs[0]
        guard r[id].outputs.count == 1, !r.graph.isGraphOutput(y), let qy = Int8IO.int8PerTensor(r[y]), let sy = qy.scale, sy > 0,
            let chain = affineChain(r, endingAt: id), let qx = Int8IO.int8PerTensor(r[chain.entry])
        else { return false }
        let shift = chain.b / Double(sy), zx = Double(qy.zeroPoint ?? 0) + shift.rounded()
        guard chain.a > 0, abs(shift - shift.rounded()) <= 1e-3, (-128...127).contains(zx) else { return false }
        let sx = Float(Double(sy) / chain.a)
        guard sx.isNormal else { return false }
        // The layers read y, or the output of the one RESHAPE/EXPAND_DIMS/SQUEEZE that reads it
        // (a Conv1D's ExpandDims), which then reads the input and takes its quantization.
        var reshape: OpID?
        var layerInput = y
        if let use = r.uses(of: y).first, r.useCount(of: y) == 1, use.operand == 0, FoldThroughReshape.reshapeOps.contains(r[use.op].builtinOperator),
            r[use.op].outputs.count == 1, let z = r[use.op].outputs.first, !r.graph.isGraphOutput(z), r[z].type == r[y].type
        {
            reshape = use.op
            layerInput = z
        }
        var layers: [(op: OpID, weights: ConstantTensor, bias: ConstantTensor)] = []
        for use in r.uses(of: layerInput) {
            guard use.operand == 0, let l = compensated(r, use.op, weightFactor: chain.a, shift: Int64(shift.rounded()), inputScale: sx) else { return false }
            layers.append((use.op, l.weights, l.bias))
        }
        guard !layers.isEmpty else { return false }
        let x = chain.entry
        var entry = r[x].type
        entry.quantization = Quantization(scales: [sx], zeroPoints: [Int64(zx)], axis: qx.axis)
        r[x].type = entry
        let provenance = chain.ops.flatMap { r[$0].provenance }
        for l in layers {
            ImportPassSupport.setOperand(&r, l.op, 1, l.weights, name: r[r[l.op].inputs[1]].name)
            ImportPassSupport.setOperand(&r, l.op, 2, l.bias, name: r[r[l.op].inputs[2]].name)
            if reshape == nil { r[l.op].inputs[0] = x }
            r[l.op].provenance += provenance.filter { !r[l.op].provenance.contains($0) }
        }
        if let reshape {
            r[reshape].inputs[0] = x
            r[layerInput].type = entry
        }
        for op in chain.ops { r.erase(op) }
        if r.graph.isGraphInput(x) {
            // The caller quantizes this input: say how, now that it takes raw values.
            let offset = zx < 0 ? "- \(-Int(zx))" : "+ \(Int(zx))"
            r.context.note("note: \(name): input \"\(r[x].name)\" takes raw values: feed q = round(x / \(sx)) \(offset)")
        }
        return true
    }

    /// The MUL/ADD/SUB ops by one int8 value each, from a quantized graph input to `last`, each
    /// output read only by the next, and the affine map y = a·x + b they compute together.
    static func affineChain(_ r: Rewriter, endingAt last: OpID) -> (entry: ValueID, ops: [OpID], a: Double, b: Double)? {
        var ops: [OpID] = [], steps: [(a: Double, b: Double)] = []
        var id = last
        while ops.count < 8 {
            let op = r[id], code = op.builtinOperator
            guard [.mul, .add, .sub].contains(code), op.inputs.count == 2, op.outputs.count == 1, !op.inputs.contains(where: \.isAbsent),
                op.kind.fusedActivation == ActivationFunction.none, Int8IO.int8PerTensor(r[op.outputs[0]]) != nil
            else { return nil }
            if id != last { guard r.hasSingleUse(op.outputs[0]) else { return nil } }
            // SUB takes the data first (c − x would need a negative scale); MUL and ADD either way.
            guard let k = (code == .sub ? [0] : [0, 1]).first(where: { !r.isConstant(op.inputs[$0]) && scalar(r, op.inputs[1 - $0]) != nil }),
                let c = scalar(r, op.inputs[1 - k]), r[op.inputs[k]].shape == r[op.outputs[0]].shape
            else { return nil }
            ops.insert(id, at: 0)
            steps.insert(code == .mul ? (c, 0) : (1, code == .add ? c : -c), at: 0)
            let x = op.inputs[k]
            if isQuantizedEntry(r, x) {
                // Composed in order: y = a_n·(… (a_1·x + b_1) …) + b_n.
                let total = steps.reduce((a: 1.0, b: 0.0)) { ($1.a * $0.a, $1.a * $0.b + $1.b) }
                return (x, ops, total.a, total.b)
            }
            guard r.hasSingleUse(x), let p = r.producer(of: x) else { return nil }
            id = p
        }
        return nil
    }

    /// `layer`'s weights with scales × `weightFactor` and its bias plus `shift`·Σ q_w per output
    /// channel, requantized to `inputScale` × the new weight scales; nil when it does not fit.
    static func compensated(_ r: Rewriter, _ layer: OpID, weightFactor a: Double, shift: Int64, inputScale: Float) -> (weights: ConstantTensor, bias: ConstantTensor)? {
        let kind = r[layer].kind
        switch kind {
        case .fullyConnected: break
        case .conv2D(let attributes): guard shift == 0 || attributes.padding == .valid else { return nil }
        case .depthwiseConv2D(let attributes): guard shift == 0 || attributes.padding == .valid else { return nil }
        default: return nil
        }
        guard let layout = OperatorTable.weights(of: kind)?.layout, let wid = r[layer].input(1), let bid = r[layer].input(2),
            var w = r.constant(wid), w.type.dtype == .int8, let wq = w.type.quantization, wq.hasScales, wq.zeroPoints.allSatisfy({ $0 == 0 }),
            var bias = r.constant(bid), bias.type.dtype == .int32, let bq = bias.type.quantization, let oldBias = bias.integers,
            let q = w.integers
        else { return nil }
        let dims = w.shape.map(Int.init), n = q.count
        let outputs: Int, outputOf: (Int) -> Int
        switch layout {
        case .oi where dims.count == 2, .ohwi where dims.count == 4:
            outputs = dims[0]; outputOf = { $0 / (n / dims[0]) }
        case .oneHWO where dims.count == 4:
            outputs = dims[3]; outputOf = { $0 % dims[3] }
        default:
            return nil
        }
        guard outputs > 0, oldBias.count == outputs, wq.scales.count == 1 || wq.scales.count == outputs else { return nil }
        var sums = [Int64](repeating: 0, count: outputs)
        for e in 0..<n { sums[outputOf(e)] += q[e] }
        let newBias = zip(oldBias, sums).map { $0 + shift * $1 }
        guard newBias.allSatisfy({ Int64(Int32.min)...Int64(Int32.max) ~= $0 }) else { return nil }
        let scales = wq.scales.map { Float(Double($0) * a) }
        guard scales.allSatisfy(\.isNormal) else { return nil }
        var newWQ = wq
        newWQ.scales = scales
        w.type.quantization = newWQ
        var newBQ = bq
        newBQ.scales = bq.scales.count == scales.count ? scales.map { Float(Double($0) * Double(inputScale)) } : bq.scales
        bias = ConstantTensor(.int32, shape: bias.shape, values: newBias.map(Int32.init), quantization: newBQ)
        return (w, bias)
    }

    /// Whether `v` is where a graph input enters int8: the input itself, or the QUANTIZE of a
    /// float input; read by one op only, so re-reading its integers changes nothing else.
    static func isQuantizedEntry(_ r: Rewriter, _ v: ValueID) -> Bool {
        guard r.hasSingleUse(v), Int8IO.int8PerTensor(r[v]) != nil else { return false }
        if r.graph.isGraphInput(v) { return true }
        guard let p = r.producer(of: v), case .quantize = r[p].kind, let f = r[p].input(0) else { return false }
        return r.graph.isGraphInput(f) && r[f].dtype == .float32 && r.hasSingleUse(f)
    }

    /// The one value of a constant as the int8 kernel reads it (scale·(q − zero point)).
    static func scalar(_ r: Rewriter, _ v: ValueID) -> Double? {
        guard let t = r.constant(v), t.elementCount == 1, r[v].dtype == .int8, let q = Int8IO.int8PerTensor(r[v]), let s = q.scale,
            let i = t.integers?.first
        else { return nil }
        return Double(s) * Double(i - (q.zeroPoint ?? 0))
    }
}
