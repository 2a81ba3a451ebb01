import FlatBuffers
import Support

/// How real numbers map to int8 for one tensor: real = scale · (q − zeroPoint).
///
/// The choices follow the int8 quantization spec (TFLite's quantization_spec.md) and what TF's converter does
/// with them (checked against Fixtures/reference/*_int8.tflite):
/// - activations: asymmetric over [−128, 127], the range widened to contain 0, the zero point
///   "nudged" to an integer the way TF does it (below);
/// - weights: symmetric over [−127, 127], zero point 0, one scale per tensor or per channel;
/// - bias: int32, scale = input scale × weight scale (per channel), zero point 0.
public struct AffineParameters: Hashable, Sendable, CustomStringConvertible {
    public var scale: Float
    public var zeroPoint: Int32

    public init(scale: Float, zeroPoint: Int32) {
        self.scale = scale
        self.zeroPoint = zeroPoint
    }

    public var description: String { "scale \(scale), zero point \(zeroPoint)" }

    public var quantization: Quantization { .perTensor(scale: scale, zeroPoint: Int64(zeroPoint)) }

    /// Fixed output parameters of the spec: SOFTMAX and LOGISTIC 1/256 and −128, TANH 1/128 and 0.
    public static let unitInterval = AffineParameters(scale: 1.0 / 256, zeroPoint: -128)
    public static let signedUnitInterval = AffineParameters(scale: 1.0 / 128, zeroPoint: 0)

    /// Asymmetric parameters for values observed in [min, max].
    ///
    /// The range is first widened to contain 0 (0 must be exact: padding and ReLU produce it).
    /// scale = (max − min) / (qmax − qmin); the real zero point is computed from whichever end
    /// gives the smaller rounding error and then rounded and clamped to [qmin, qmax], as in
    /// TF's `GetAsymmetricQuantizationParams` / MLIR's nudged fake-quant parameters. A range
    /// that is a single point (all zeros) gets scale 1 and zero point 0, as TF does.
    /// Non-finite bounds are treated as 0.
    public static func asymmetric(min lo: Float, max hi: Float, qmin: Int32 = -128, qmax: Int32 = 127) -> AffineParameters {
        let rmin = Swift.min(lo.isFinite ? Double(lo) : 0, 0)
        let rmax = Swift.max(hi.isFinite ? Double(hi) : 0, 0)
        let qminD = Double(qmin), qmaxD = Double(qmax)
        guard rmax - rmin > Double.ulpOfOne else { return AffineParameters(scale: 1, zeroPoint: 0) }
        let scale = (rmax - rmin) / (qmaxD - qminD)
        let fromMin = qminD - rmin / scale
        let fromMax = qmaxD - rmax / scale
        let errorFromMin = abs(qminD) + abs(rmin / scale)
        let errorFromMax = abs(qmaxD) + abs(rmax / scale)
        let zero = errorFromMin < errorFromMax ? fromMin : fromMax
        let nudged: Int32
        if zero <= qminD {
            nudged = qmin
        } else if zero >= qmaxD {
            nudged = qmax
        } else {
            nudged = Int32(zero.rounded(.toNearestOrAwayFromZero))
        }
        let s = Float(scale)
        return AffineParameters(scale: s > 0 && s.isFinite ? s : 1, zeroPoint: nudged)
    }

    /// The symmetric weight scale for values whose largest magnitude is `maxAbs`: maxAbs / 127.
    /// An all-zero channel gets scale 1 (TF does the same; its values quantize to 0 either way).
    public static func symmetricScale(maxAbs: Float, qmax: Int32 = 127) -> Float {
        guard maxAbs.isFinite, maxAbs > 0 else { return 1 }
        let s = Float(Double(maxAbs) / Double(qmax))
        return s > 0 && s.isFinite ? s : 1
    }

    /// Quantizes one real value: zero point + round-half-away-from-zero(x / scale), clamped.
    @inline(__always)
    public func quantize(_ x: Float, qmin: Int32 = -128, qmax: Int32 = 127) -> Int32 {
        Self.quantize(x, scale: scale, zeroPoint: zeroPoint, qmin: qmin, qmax: qmax)
    }

    @inline(__always)
    public static func quantize(_ x: Float, scale: Float, zeroPoint: Int32, qmin: Int32, qmax: Int32) -> Int32 {
        guard x.isFinite else { return x.isNaN ? zeroPoint : (x > 0 ? qmax : qmin) }
        let r = (Double(x) / Double(scale)).rounded(.toNearestOrAwayFromZero) + Double(zeroPoint)
        if r <= Double(qmin) { return qmin }
        if r >= Double(qmax) { return qmax }
        return Int32(r)
    }

    @inline(__always)
    public func dequantize(_ q: Int32) -> Float { scale * Float(q - zeroPoint) }

    /// The real interval the int8 codes cover.
    public var representableRange: ClosedRange<Float> {
        dequantize(-128)...dequantize(127)
    }
}

/// Quantizing constant tensors.
public enum ConstantQuantizer {
    /// Per-channel (or per-tensor, `axis == nil`) symmetric int8 weights. Returns the int8
    /// tensor, quantized along `axis` with one scale per channel and zero points 0.
    public static func symmetricWeights(_ values: [Float], shape: [Int32], axis: Int?) -> ConstantTensor {
        let (channels, inner) = channelLayout(values.count, shape: shape, axis: axis)
        let block = channels * inner
        var maxAbs = [Float](repeating: 0, count: channels)
        values.withUnsafeBufferPointer { v in
            var start = 0
            while start < v.count {
                for c in 0..<channels {
                    var m = maxAbs[c]
                    let lo = start + c * inner, hi = Swift.min(lo + inner, v.count)
                    if lo < hi {
                        for i in lo..<hi where v[i].isFinite { m = Swift.max(m, abs(v[i])) }
                    }
                    maxAbs[c] = m
                }
                start += block
            }
        }
        return symmetricWeights(values, shape: shape, axis: axis, scales: maxAbs.map { AffineParameters.symmetricScale(maxAbs: $0) })
    }

    /// Elements of a tensor form [outer, channels, inner] blocks around the quantized axis
    /// (one channel of all elements without an axis).
    public static func channelLayout(_ count: Int, shape: [Int32], axis: Int?) -> (channels: Int, inner: Int) {
        let dims = shape.map { Int(Swift.max($0, 0)) }
        if let axis, axis >= 0, axis < dims.count, dims[axis] > 0 {
            return (dims[axis], dims[(axis + 1)...].reduce(1, *))
        }
        return (1, Swift.max(count, 1))
    }

    /// The same with given scales, one per channel of `axis` (or one for the tensor).
    public static func symmetricWeights(_ values: [Float], shape: [Int32], axis: Int?, scales: [Float]) -> ConstantTensor {
        let (channels, inner) = channelLayout(values.count, shape: shape, axis: axis)
        let block = channels * inner
        var q = [Int8](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { v in
            q.withUnsafeMutableBufferPointer { out in
                var start = 0
                while start < v.count {
                    for c in 0..<channels {
                        let s = scales.isEmpty ? 1 : scales[Swift.min(c, scales.count - 1)]
                        let lo = start + c * inner, hi = Swift.min(lo + inner, v.count)
                        if lo < hi {
                            for i in lo..<hi {
                                out[i] = Int8(AffineParameters.quantize(v[i], scale: s, zeroPoint: 0, qmin: -127, qmax: 127))
                            }
                        }
                    }
                    start += block
                }
            }
        }
        let quantization = Quantization(scales: scales, zeroPoints: Array(repeating: 0, count: scales.count),
                                        axis: Int32(scales.count > 1 ? axis ?? 0 : 0))
        return ConstantTensor(.int8, shape: shape, values: q, quantization: quantization)
    }

    /// Asymmetric int8 with the given parameters (constant operands of activation ops).
    public static func asymmetric(_ values: [Float], shape: [Int32], parameters p: AffineParameters) -> ConstantTensor {
        let q = values.map { Int8(p.quantize($0)) }
        return ConstantTensor(.int8, shape: shape, values: q, quantization: p.quantization)
    }

    /// An int32 bias with scale[c] = inputScale · weightScales[c] and zero point 0. One scale
    /// per channel when the weights have several, along axis 0 of the 1-D bias (TFLite's kernel_util.cc).
    /// Values beyond int32 saturate; `saturated` counts them.
    public static func bias(_ values: [Float], shape: [Int32], inputScale: Float, weightScales: [Float]) -> (tensor: ConstantTensor, saturated: Int) {
        let perChannel = weightScales.count > 1
        let scales: [Float] = weightScales.map { Float(Double(inputScale) * Double($0)) }
        var saturated = 0
        var q = [Int32](repeating: 0, count: values.count)
        for (i, v) in values.enumerated() {
            let s = Double(scales[perChannel ? Swift.min(i, scales.count - 1) : 0])
            guard v.isFinite, s > 0 else { continue }
            let r = (Double(v) / s).rounded(.toNearestOrAwayFromZero)
            if r > Double(Int32.max) {
                q[i] = Int32.max
                saturated += 1
            } else if r < Double(Int32.min) {
                q[i] = Int32.min
                saturated += 1
            } else {
                q[i] = Int32(r)
            }
        }
        let quantization = Quantization(scales: scales, zeroPoints: Array(repeating: 0, count: scales.count), axis: 0)
        return (ConstantTensor(.int32, shape: shape, values: q, quantization: quantization), saturated)
    }
}
