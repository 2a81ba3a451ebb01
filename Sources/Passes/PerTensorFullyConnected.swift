import IR
import Ops
import Rewrite

/// Gives an int8 FULLY_CONNECTED with per-channel weights one weight scale, for TFLM builds
/// older than per-channel FULLY_CONNECTED support (tflite-micro PR #2673, 2024-09): before it
/// the kernel used the first channel's scale for every channel, silently giving wrong results.
///
/// Given:
///
///     const %1 "w": i8[2,2] q(axis 0: scales [0.5, 0.25], zp 0) = [10, -20, 40, 8]
///     const %2 "b": i32[2] q(axis 0: scales [0.5·s_in, 0.25·s_in], zp 0) = [100, 7]
///     #0 FULLY_CONNECTED v4 (%0, %1, %2) -> %3
///
/// Result (S = the largest scale, 0.5):
///
///     const %1 "w": i8[2,2] q(0.5, 0) = [10, -20, 20, 4]
///     const %2 "b": i32[2] q(0.5·s_in, 0) = [100, 4]
///
/// Channel c's integers are rescaled by s_c / S ≤ 1 and rounded half away from zero (they
/// stay within int8), the bias likewise to the scale s_in · S. Lossless when every channel
/// already has the scale S; otherwise each rounding moves a weight by at most S/2, and the
/// largest change (in real units) is noted, so the user sees what the old runtime costs.
/// Only symmetric weights (zero points 0, as TFLite's int8 spec requires) are rewritten.
///
/// Options: `when:` (a `PassCondition`).
public struct PerTensorFullyConnected: ConditionalPatternPass {
    public static let name = "per-tensor-fully-connected"
    public static let summary = "Per-channel int8 FULLY_CONNECTED weights → one scale (lossless when the scales agree; else the error is noted)"

    public var condition: PassCondition?

    public init() {}

    public init(options: PassOptions) throws {
        condition = try ImportPassOptions.condition(options, pass: Self.name)
    }

    public var patterns: [Pattern] { [Self.pattern] }

    public static let pattern = Pattern(name: name, rootKinds: [.fullyConnected]) { r, id in
        guard let wid = r[id].input(1), let w = r.constant(wid), w.type.dtype == .int8, w.shape.count == 2,
            let q = w.type.quantization, q.scales.count > 1, q.scales.count == Int(w.shape[0]), q.axis == 0,
            q.zeroPoints.allSatisfy({ $0 == 0 }), let top = q.scales.max(), top > 0
        else { return false }
        let columns = Int(w.shape[1])
        var bias: ConstantTensor?
        var biasScales: [Float] = []
        if let bid = r[id].input(2) {
            guard let b = r.constant(bid), b.type.dtype == .int32, b.shape == [w.shape[0]],
                let bq = b.type.quantization, bq.scales.count == q.scales.count
            else { return false }
            bias = b
            biasScales = bq.scales
        }
        var weights = w.scalars(Int8.self)
        var largestError: Float = 0
        for c in q.scales.indices where q.scales[c] != top {
            let ratio = Double(q.scales[c]) / Double(top)
            for i in c * columns ..< (c + 1) * columns {
                let exact = Double(weights[i]) * ratio
                let rounded = exact.rounded(.toNearestOrAwayFromZero)
                largestError = max(largestError, Float(abs(rounded - exact)) * top)
                weights[i] = Int8(rounded)
            }
        }
        var perTensor = Quantization.perTensor(scale: top, zeroPoint: 0)
        r.replaceConstantOperand(of: id, at: 1, with: ConstantTensor(type: ElementType(.int8, quantization: perTensor), shape: w.shape, bytes: weights.map { UInt8(bitPattern: $0) }))
        if let bias, let bid = r[id].input(2) {
            // The bias scale is input scale × weight scale: the input's is the ratio of any channel's.
            let inputScale = Double(biasScales[0]) / Double(q.scales[0])
            let values = bias.scalars(Int32.self).enumerated().map { c, v in
                Int32(clamping: Int64((Double(v) * Double(q.scales[c]) / Double(top)).rounded(.toNearestOrAwayFromZero)))
            }
            perTensor = .perTensor(scale: Float(inputScale * Double(top)), zeroPoint: 0)
            _ = bid
            r.replaceConstantOperand(of: id, at: 2, with: ConstantTensor(.int32, shape: bias.shape, values: values, quantization: perTensor))
        }
        let label = r[id].label(id)
        if largestError > 0 {
            r.context.noteOnce("warning: \(name): \(label): weights \"\(r[wid].name)\" requantized to one scale \(top); largest weight change \(largestError)")
        }
        return true
    }
}
