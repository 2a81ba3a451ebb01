import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Folds inference batch norm into the CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED before
/// it. Batch norm computes y = x·m + s per channel, with m = γ/√(σ²+ε) and s = β − μ·m; the
/// importer lowers FusedBatchNorm to exactly that MUL + ADD, and TF2 freezing leaves the same
/// two ops (`batchnorm/mul_1`, `batchnorm/add_1`) once `constant-fold` has computed m and s.
/// So this pass folds the MUL into the weights (each output channel's weights and bias × m)
/// and then the ADD into the bias (`fold-bias-add`'s pattern, included here), giving
/// weights·m and bias·m + s = bias·m + β − μ·m.
///
/// Given:
///
///     const %1 "w": f32[2,3,3,4]
///     const %2 "b": f32[2] = [1.0, 1.0]
///     const %3 "bn/m": f32[2] = [0.5, 2.0]
///     const %4 "bn/s": f32[2] = [0.0, -1.0]
///     #0 CONV_2D v1 {padding=SAME, stride=1x1, dilation=1x1} (%0, %1, %2) -> %5 "conv": f32[1,8,8,2]
///     #1 MUL v1 (%5, %3) -> %6 "bn/mul": f32[1,8,8,2]
///     #2 ADD v1 (%6, %4) -> %7 "bn": f32[1,8,8,2]
///
/// Result:
///
///     const %8 "w": f32[2,3,3,4]              (channel 0 × 0.5, channel 1 × 2)
///     const %10 "b": f32[2] = [0.5, 1.0]
///     #0 CONV_2D v1 {padding=SAME, stride=1x1, dilation=1x1} (%0, %8, %10) -> %7 "bn": f32[1,8,8,2]
///
/// The output channel is dim 0 of CONV_2D (OHWI) and FULLY_CONNECTED ([out, in]) weights and
/// dim 3 of DEPTHWISE_CONV_2D (1HWO) weights (schema.fbs). Applies only when the MUL has no
/// fused activation, the producer has none, nothing else reads the producer's output, and the
/// factor varies at most along the channel axis. New weights and biases are new constants:
/// weights another op shares are never changed.
public struct FoldBatchNorm: ConditionalPatternPass {
    public static let name = "fold-batch-norm"
    public static let summary = "batch norm (MUL + ADD per channel) after CONV_2D/DEPTHWISE_CONV_2D/FULLY_CONNECTED → its weights and bias"

    public var condition: PassCondition?

    public init(options: PassOptions = PassOptions()) throws {
        condition = try ImportPassOptions.condition(options, pass: Self.name)
    }

    public var patterns: [Pattern] { [Self.scalePattern, FoldBiasAdd.pattern] }

    /// MUL(linear op, per-channel constant) → scaled weights and bias.
    public static let scalePattern = Pattern(name: name, rootKinds: [.mul]) { r, id in
        let op = r[id]
        guard case .mul(let act) = op.kind, act == .none, op.inputs.count == 2, op.outputs.count == 1 else { return false }
        for k in [0, 1] {
            let x = op.inputs[k], c = op.inputs[1 - k]
            guard !c.isAbsent, let constant = r.constant(c),
                let p = ImportPassSupport.linearProducer(of: x, r),
                let m = ImportPassSupport.perChannel(constant, channels: p.channels, rank: r[x].rank),
                r[op.outputs[0]].shape == r[x].shape,
                let w = r.constant(p.weights), let weights = scaleWeights(w, by: m, kind: r[p.op].kind)
            else { continue }
            let wid = r[p.op].inputs[1]
            ImportPassSupport.setOperand(&r, p.op, 1, weights, name: r[wid].name)
            if let b = p.bias {
                let scaled = zip(b.floats, m).map { $0 * $1 }
                ImportPassSupport.setOperand(&r, p.op, 2, ConstantTensor(floats: scaled, shape: b.shape), name: ImportPassSupport.biasName(r, p.op))
            }
            ImportPassSupport.absorb(&r, consumer: id, into: p.op)
            return true
        }
        return false
    }

    /// Weights with every element of output channel c multiplied by m[c].
    package static func scaleWeights(_ w: ConstantTensor, by m: [Float], kind: OpKind) -> ConstantTensor? {
        guard w.type.dtype == .float32, !m.isEmpty, w.bytes.count == w.elementCount * 4 else { return nil }
        let n = w.elementCount, c = m.count
        var t = w
        func scale(_ raw: UnsafeMutableRawBufferPointer, _ i: Int, _ factor: Float) {
            let x = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
            raw.storeBytes(of: (x * factor).bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self)
        }
        switch OperatorTable.weights(of: kind)?.layout {
        case .ohwi?, .oi?:
            // Output channel = outermost dim (OHWI, [out, in]): contiguous blocks.
            guard w.shape.first.map(Int.init) == c, n % c == 0 else { return nil }
            let block = n / c
            t.bytes.withUnsafeMutableBytes { raw in
                for ch in 0..<c { for i in (ch * block)..<((ch + 1) * block) { scale(raw, i, m[ch]) } }
            }
        case .oneHWO?:
            // Output channel = innermost dim (1HWO).
            guard w.shape.last.map(Int.init) == c, n % c == 0 else { return nil }
            t.bytes.withUnsafeMutableBytes { raw in
                for row in 0..<(n / c) { for ch in 0..<c { scale(raw, row * c + ch, m[ch]) } }
            }
        default:
            return nil
        }
        return t
    }
}
