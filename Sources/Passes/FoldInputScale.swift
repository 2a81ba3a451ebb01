import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Folds a constant scale in front of convolutions and FULLY_CONNECTED into their weights: the
/// `x / 255` or `x * 0.0078125` that input normalization leaves before the first layer. TF's
/// converter removes it the same way; left in place, it is one more op (DIV has no int8 kernel
/// in TFLite or TFLM, so a model with it cannot be fully quantized) and one more tensor in RAM.
///
/// Given:
///
///     const %1 "truediv/y": f32[] = [255.0]
///     const %3 "w": f32[4,3,3,3]
///     const %4 "b": f32[4]
///     #0 DIV v1 (%0, %1) -> %2 "truediv": f32[1,8,8,3]
///     #1 CONV_2D v1 {padding=VALID, stride=1x1, dilation=1x1} (%2, %3, %4) -> %5 "conv": f32[1,6,6,4]
///
/// Result:
///
///     const %6 "w": f32[4,3,3,3]               (every weight / 255)
///     #1 CONV_2D v1 {padding=VALID, stride=1x1, dilation=1x1} (%0, %6, %4) -> %5 "conv": f32[1,6,6,4]
///
/// Valid because each layer is linear in its input and its padding reads zeros, which a scale
/// keeps zero: conv(x·s, W) = conv(x, W·s), with s per input channel (the scale may be a scalar
/// or vary along the last axis only). Applies when the MUL/DIV has no fused activation, the
/// divisor (or factor) is a finite constant (non-zero for DIV), and every reader of its output
/// is a CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED reading it as the data input with float
/// weights; each reader gets scaled weights of its own (shared weights are never changed).
/// Results may differ from the unfolded graph in the last bit of a float.
public struct FoldInputScale: ConditionalPatternPass {
    public static let name = "fold-input-scale"
    public static let summary = "x·c or x/c (c constant) feeding only CONV_2D/DEPTHWISE_CONV_2D/FULLY_CONNECTED → their weights"

    public var condition: PassCondition?

    public init(options: PassOptions = PassOptions()) throws {
        condition = try ImportPassOptions.condition(options, pass: Self.name)
    }

    public var patterns: [Pattern] { [Self.pattern] }

    public static let pattern = makePattern(name: name, exactOnly: false)

    /// The fold as a pattern named `name`. `exactOnly`: only factors that are powers of two,
    /// and only when every scaled weight is exact (no bits lost to underflow): then
    /// W·(x·2^k) and (W·2^k)·x are the same float products, so the layer computes the same
    /// bits (`fold-input-normalization` in float).
    package static func makePattern(name: String, exactOnly: Bool) -> Pattern {
        Pattern(name: name, rootKinds: [.mul, .div]) { r, id in
            let op = r[id]
            guard op.inputs.count == 2, op.outputs.count == 1, !op.inputs.contains(where: \.isAbsent) else { return false }
            let out = op.outputs[0]
            guard !r.graph.isGraphOutput(out), r[out].dtype == .float32, !r[out].type.isQuantized else { return false }
            // The data input and the per-input-channel factor each reader's weights are scaled by
            // (a DIV's factor stays a divisor: W / c is closer to x / c than W · (1/c)).
            let candidates: [(data: ValueID, factor: ValueID)]
            let divide: Bool
            switch op.kind {
            case .mul(let act) where act == .none:
                candidates = [(op.inputs[0], op.inputs[1]), (op.inputs[1], op.inputs[0])]
                divide = false
            case .builtin(.div, let options) where OpaqueOptions.divActivation(options) == ActivationFunction.none:
                candidates = [(op.inputs[0], op.inputs[1])]
                divide = true
            default:
                return false
            }
            for (x, c) in candidates {
                guard !r.isConstant(x), let constant = r.constant(c), r[x].shape == r[out].shape,
                      let channels = r[x].shape.last.map(Int.init), channels > 0,
                      let factors = ImportPassSupport.perChannel(constant, channels: channels, rank: r[x].rank),
                      factors.allSatisfy({ $0.isFinite && (!divide || $0 != 0) }),
                      !exactOnly || factors.allSatisfy(isPowerOfTwo)
                else { continue }
                let readers = r.uses(of: out)
                guard !readers.isEmpty else { continue }
                var scaled: [(op: OpID, weights: ConstantTensor)] = []
                for use in readers {
                    guard use.operand == 0, let wid = r[use.op].input(1), let w = r.constant(wid),
                          let s = scaledWeights(w, reader: r[use.op].kind, inputChannels: factors, divide: divide, exactOnly: exactOnly)
                    else { return false }
                    scaled.append((use.op, s))
                }
                for (reader, weights) in scaled {
                    let wid = r[reader].inputs[1]
                    ImportPassSupport.setOperand(&r, reader, 1, weights, name: r[wid].name)
                    r[reader].inputs[0] = x
                    r[reader].provenance += op.provenance.filter { !r[reader].provenance.contains($0) }
                }
                r.erase(id)
                return true
            }
            return false
        }
    }

    /// ±2^k for a normal float: multiplying by it only changes the exponent.
    package static func isPowerOfTwo(_ f: Float) -> Bool { f.isNormal && f.significandWidth == 0 }

    /// `w` with the weights that read input channel i multiplied (or divided) by f[i]; nil
    /// when the reader or its weights do not fit.
    /// `exactOnly`: nil unless every product is exact (scaling it back gives the weight).
    package static func scaledWeights(_ w: ConstantTensor, reader: OpKind, inputChannels f: [Float], divide: Bool, exactOnly: Bool = false) -> ConstantTensor? {
        guard let channelOf = inputChannelOf(w, reader: reader, channels: f.count, uniform: Set(f).count == 1) else { return nil }
        var values = w.floats
        for i in values.indices {
            let s = f[channelOf(i)], old = values[i]
            values[i] = divide ? old / s : old * s
            if exactOnly, !values[i].isFinite || (divide ? values[i] * s : values[i] / s) != old { return nil }
        }
        var t = ConstantTensor(floats: values, shape: w.shape)
        t.layout = w.layout
        return t
    }

    /// For float weights `w` of `reader` that read a tensor of `channels` channels: the input
    /// channel of each element; nil when the reader or its weights do not fit. `uniform`: the
    /// caller treats every channel alike (a grouped convolution may then be read too).
    package static func inputChannelOf(_ w: ConstantTensor, reader: OpKind, channels c: Int, uniform: Bool = false) -> ((Int) -> Int)? {
        guard c > 0, w.type.dtype == .float32, !w.type.isQuantized, w.bytes.count == w.elementCount * 4 else { return nil }
        let dims = w.shape.map(Int.init)
        guard let weights = OperatorTable.weights(of: reader), weights.rescalable(reader) else { return nil }
        switch weights.layout {
        case .ohwi:
            // OHWI; a grouped convolution's I is a fraction of the input channels: scalar only.
            guard dims.count == 4, dims[3] == c || uniform else { return nil }
            let i = dims[3]
            return { $0 % i % c }
        case .oneHWO:
            // 1HWO with O = C·M: output channel o reads input channel o / M.
            guard dims.count == 4, dims[3] % c == 0 else { return nil }
            let o = dims[3], m = o / c
            return { $0 % o / m }
        case .oi:
            // [out, in]; input unit j of a flattened NHWC tensor is channel j mod C.
            guard dims.count == 2, dims[1] % c == 0 else { return nil }
            let units = dims[1]
            return { $0 % units % c }
        default:
            return nil
        }
    }
}
