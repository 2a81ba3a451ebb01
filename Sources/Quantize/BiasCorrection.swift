import FlatBuffers
import IR
import Interpret
import Kernels
import Ops
import Passes
import Rewrite
import Support

/// Bias correction for quantized weights: rounding the weights of output channel o by
/// ΔW = dequantize(W_q) − W shifts that channel's output by ΔW·x, whose expected value over
/// the calibration data is Σ ΔW[o, …, i] · E[x_i]. Subtracting it from the bias removes the
/// systematic part of the weight-rounding error; what remains is zero-mean noise.
/// (Nagel et al., "Data-Free Quantization Through Weight Equalization and Bias Correction",
/// 2019, §4.2, here with E[x] measured on the calibration samples.)
///
/// E[x_i] is the mean of input channel i over all calibration values, so border positions of a
/// padded convolution (which read zeros) are treated like the rest: an approximation that
/// only matters for small inputs with large kernels.
package enum BiasCorrection {
    /// Number of output channels of a CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED.
    package static func outputChannels(_ op: Op, weights: ConstantTensor) -> Int? {
        switch OperatorTable.weights(of: op.kind)?.layout {
        case .ohwi?, .oi?: return weights.shape.first.map(Int.init)
        case .oneHWO?: return weights.shape.last.map(Int.init)
        default: return nil
        }
    }

    /// E[ΔW·x] per output channel, nil when the op or the shapes do not fit.
    package static func outputShift(_ op: Op, weights w: ConstantTensor, quantized q: ConstantTensor, inputMeans mean: [Float]) -> [Float]? {
        guard w.type.dtype == .float32, q.type.dtype == .int8, let wq = q.type.quantization, wq.hasScales,
              w.shape == q.shape, w.elementCount == q.elementCount else { return nil }
        let real = w.floats
        let codes = q.scalars(Int8.self)
        guard codes.count == real.count else { return nil }
        let dims = w.shape.map(Int.init)
        let axis = wq.scales.count > 1 ? Int(wq.axis) : -1
        let inner = axis >= 0 && axis < dims.count ? dims[(axis + 1)...].reduce(1, *) : real.count
        // ΔW per element, walking [outer, channel, inner] blocks so each channel's scale is read
        // once per run of elements (no division per element).
        var errors = [Double](repeating: 0, count: real.count)
        if inner > 0 {
            var i = 0, channel = 0
            while i < real.count {
                let s = wq.scales[channel % wq.scales.count]
                let end = min(i + inner, real.count)
                while i < end {
                    errors[i] = Double(Float(codes[i]) * s) - Double(real[i])
                    i += 1
                }
                channel += 1
            }
        }
        switch OperatorTable.weights(of: op.kind)?.layout {
        case .ohwi?:
            // OHWI; grouped convolutions read input channels g·I ..< (g+1)·I.
            guard dims.count == 4 else { return nil }
            let (o, kh, kw, i) = (dims[0], dims[1], dims[2], dims[3])
            guard i > 0, mean.count % i == 0 else { return nil }
            let groups = mean.count / i
            guard groups > 0, o % groups == 0 else { return nil }
            let perGroup = o / groups
            var shift = [Float](repeating: 0, count: o)
            for oc in 0..<o {
                let base = (oc / perGroup) * i
                var acc = 0.0
                for t in 0..<(kh * kw) {
                    let row = (oc * kh * kw + t) * i
                    for c in 0..<i { acc += errors[row + c] * Double(mean[base + c]) }
                }
                shift[oc] = Float(acc)
            }
            return shift
        case .oneHWO?:
            // 1HWO with O = C·M: output channel oc reads input channel oc / M.
            guard dims.count == 4, dims[0] == 1, !mean.isEmpty else { return nil }
            let o = dims[3], taps = dims[1] * dims[2]
            guard o % mean.count == 0 else { return nil }
            let m = o / mean.count
            var shift = [Float](repeating: 0, count: o)
            for oc in 0..<o {
                var acc = 0.0
                for t in 0..<taps { acc += errors[t * o + oc] }
                shift[oc] = Float(acc * Double(mean[oc / m]))
            }
            return shift
        case .oi?:
            guard dims.count == 2, dims[1] == mean.count else { return nil }
            let (o, i) = (dims[0], dims[1])
            var shift = [Float](repeating: 0, count: o)
            for oc in 0..<o {
                var acc = 0.0
                for c in 0..<i { acc += errors[oc * i + c] * Double(mean[c]) }
                shift[oc] = Float(acc)
            }
            return shift
        default:
            return nil
        }
    }
}
