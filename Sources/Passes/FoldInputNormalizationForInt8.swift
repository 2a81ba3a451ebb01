import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Before int8 quantization with an int8 input, folds a per-feature Normalization at the input
/// — (x − μ_c)·(1/σ_c), TF writes SUB then MUL — into the first layer in float, as
/// `fold-input-normalization` did before it became exact-only: W' = W·(1/σ) per input unit
/// and b' = b − W'·μ. Left in the graph, the SUB and MUL run in int8 after an input quantized
/// with one scale for raw features of very different ranges (breast cancer's reach 4000 and
/// 0.01); folded, the first layer's int8 weights carry the per-feature scale instead.
/// On Fixtures/repair/preprocess_mlp_float.tflite the int8 model's mean abs error against the
/// float model drops from 0.397 to 0.24 (Tests/Conformance/test_conv1d.py). The float result
/// changes by rounding (W·x + (b − W·μ) sums other terms than W·(x − μ) + b), which the
/// quantization error dwarfs; float-only conversions never run this pass.
///
/// Given:
///
///     input %0 "x": f32[1,2]
///     const %1 "mean": f32[2] = [100, 2]
///     const %2 "inv_std": f32[2] = [0.01, 0.5]
///     #0 SUB v1 (%0, %1) -> %3 "centered": f32[1,2]
///     #1 MUL v1 (%3, %2) -> %4 "normalized": f32[1,2]
///     #2 FULLY_CONNECTED v1 (%4, %5, %6) -> %7 "dense": f32[1,2]
///
/// Result:
///
///     #2 FULLY_CONNECTED v1 (%0, %8, %9) -> %7 "dense": f32[1,2]
///
/// A scale is taken only when the features' scales are more than 255 apart (`scalesApart`), a
/// shift when it has more than one distinct value: a per-tensor x·a + b goes
/// exactly into the input quantization afterwards (`fold-normalization-into-input-quantization`).
/// A shift x + c adds W·c to the bias of a FULLY_CONNECTED, or of a CONV_2D /
/// DEPTHWISE_CONV_2D with VALID padding (SAME padding reads zeros a shift would not have
/// touched); a scale goes into the weights (`fold-input-scale`). A per-channel op before the
/// RESHAPE/EXPAND_DIMS of a Conv1D moves past it so the folds reach the CONV_2D. The bias
/// corrections are summed in double precision and rounded once.
public struct FoldInputNormalizationForInt8: ConditionalPatternPass {
    public static let name = "fold-input-normalization-for-int8"
    public static let summary = "per-feature input Normalization ((x − μ_c)/σ_c) → the first layer, in float, before int8 quantization with int8 input"

    public var condition: PassCondition?

    public init(options: PassOptions = PassOptions()) throws {
        condition = try ImportPassOptions.condition(options, pass: Self.name)
    }

    public var patterns: [Pattern] { [Self.shiftPattern, Self.scalePattern, Self.sinkPattern] }

    /// fold-input-scale's fold of a per-feature MUL/DIV.
    static let scalePattern: Pattern = {
        let fold = FoldInputScale.makePattern(name: name, exactOnly: false)
        return Pattern(name: name, rootKinds: [.mul, .div]) { r, id in
            guard let e = FoldInputNormalization.elementwiseConstant(r, id, kinds: [.mul, .div]), scalesApart(e.channels) else { return false }
            return try fold.matchAndRewrite(&r, id)
        }
    }()

    /// A per-feature x + c or x − c feeding only layers whose bias can take W·c.
    static let shiftPattern = Pattern(name: name, rootKinds: [.add, .sub]) { r, id in
        guard let shift = FoldInputNormalization.elementwiseConstant(r, id, kinds: [.add, .sub]), isPerFeature(shift.channels) else { return false }
        let out = r[id].outputs[0]
        let readers = r.uses(of: out)
        guard !readers.isEmpty, !r.graph.isGraphOutput(out) else { return false }
        let sign: Double = r[id].builtinOperator == .sub ? -1 : 1
        var biases: [(op: OpID, bias: ConstantTensor)] = []
        for use in readers {
            guard use.operand == 0, let bias = shiftedBias(r, use.op, by: shift.channels, sign: sign) else { return false }
            biases.append((use.op, bias))
        }
        for (reader, bias) in biases {
            ImportPassSupport.setOperand(&r, reader, 2, bias, name: ImportPassSupport.biasName(r, reader))
            r[reader].inputs[0] = shift.data
            r[reader].provenance += r[id].provenance.filter { !r[reader].provenance.contains($0) }
        }
        r.erase(id)
        return true
    }

    static let sinkPattern = FoldInputNormalization.makeSinkPattern(name: name, kinds: [.add, .sub, .mul, .div]) { r, id, channels, readers in
        let shift = [.add, .sub].contains(r[id].builtinOperator)
        return (shift ? isPerFeature(channels) : scalesApart(channels)) && readers.allSatisfy { shift ? takesShift(r, $0.op) : FoldInputNormalization.takesFold(r, $0.op) }
    }

    static func isPerFeature(_ channels: [Float]) -> Bool { channels.contains { $0 != channels.first } }

    /// Whether per-feature scales differ by more than the 255 steps of an int8 input: then a
    /// feature's spread is below one step of the input quantization that fits the widest, and
    /// int8 SUB/MUL after it cannot recover it, while the folded weights can. Closer scales
    /// fit one input scale, and the int8 SUB/MUL lose less than the per-feature weight range
    /// would (preprocess_conv1d, scales 56 apart: error 0.0018 unfolded, 0.0030 folded).
    static func scalesApart(_ channels: [Float]) -> Bool {
        let magnitudes = channels.map(abs)
        guard let low = magnitudes.min(), let high = magnitudes.max(), low > 0 else { return false }
        return high / low > 255
    }

    /// Whether `op` has float weights and reads no padding, so x + c adds W·c to each output.
    static func takesShift(_ r: Rewriter, _ op: OpID) -> Bool {
        let kind = r[op].kind
        guard FoldInputNormalization.takesFold(r, op), let weights = OperatorTable.weights(of: kind) else { return false }
        if case .conv2D(let a) = kind { return a.padding == .valid }
        if case .depthwiseConv2D(let a) = kind { return a.padding == .valid }
        return weights.layout == .oi
    }

    /// `op`'s bias plus sign·W·c, where c is one value per input channel; nil when `op` cannot
    /// take it.
    static func shiftedBias(_ r: Rewriter, _ op: OpID, by c: [Float], sign: Double) -> ConstantTensor? {
        guard takesShift(r, op), let w = r.constant(r[op].inputs[1]), let layout = OperatorTable.weights(of: r[op].kind)?.layout,
            w.bytes.count == w.elementCount * 4
        else { return nil }
        let dims = w.shape.map(Int.init), n = w.elementCount, channels = c.count
        // Output channel and input channel of weight element e (layouts as in fold-input-scale).
        let outputs: Int, outputOf: (Int) -> Int, inputOf: (Int) -> Int
        switch layout {
        case .ohwi:
            guard dims.count == 4, dims[3] == channels else { return nil }
            let block = n / dims[0], i = dims[3]
            outputs = dims[0]; outputOf = { $0 / block }; inputOf = { $0 % i }
        case .oneHWO:
            guard dims.count == 4, dims[3] % channels == 0 else { return nil }
            let o = dims[3], m = o / channels
            outputs = o; outputOf = { $0 % o }; inputOf = { $0 % o / m }
        case .oi:
            guard dims.count == 2, dims[1] % channels == 0 else { return nil }
            let units = dims[1]
            outputs = dims[0]; outputOf = { $0 / units }; inputOf = { $0 % units % channels }
        default:
            return nil
        }
        var old = [Float](repeating: 0, count: outputs)
        if let b = r[op].input(2) {
            guard let t = r.constant(b), t.type.dtype == .float32, !t.type.isQuantized, t.elementCount == outputs else { return nil }
            old = t.floats
        }
        var sum = old.map(Double.init)
        let weights = w.floats
        for e in 0..<n { sum[outputOf(e)] += sign * Double(weights[e]) * Double(c[inputOf(e)]) }
        let bias = sum.map(Float.init)
        guard bias.allSatisfy(\.isFinite) else { return nil }
        return ConstantTensor(floats: bias, shape: [Int32(outputs)])
    }
}
