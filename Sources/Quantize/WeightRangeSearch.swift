import IR
import Support

/// Symmetric int8 weight scales chosen per channel for the smallest squared error
/// Σ (w − s·clamp(round(w/s), −127, 127))² — rounding and clipping together — instead of
/// max|w|/127. The weights are known exactly, so the error of each candidate is computed on
/// the values themselves. Candidates: max|w|/127 · k/G for k = G/2 … G (never clipping more than
/// half the largest magnitude); ties keep the larger scale, so a channel that max|w| already
/// serves best keeps TF's scale.
package enum WeightRangeSearch {
    package static let steps = 40

    package static func symmetricWeights(_ values: [Float], shape: [Int32], axis: Int?) -> ConstantTensor {
        let (channels, inner) = ConstantQuantizer.channelLayout(values.count, shape: shape, axis: axis)
        let block = channels * inner
        // The elements of each channel, gathered once.
        var perChannel = [[Float]](repeating: [], count: channels)
        var start = 0
        while start < values.count {
            for c in 0..<channels {
                let lo = start + c * inner, hi = Swift.min(lo + inner, values.count)
                if lo < hi { perChannel[c].append(contentsOf: values[lo..<hi].lazy.filter(\.isFinite)) }
            }
            start += block
        }
        let scales = perChannel.map(bestScale)
        return ConstantQuantizer.symmetricWeights(values, shape: shape, axis: axis, scales: scales)
    }

    package static func bestScale(_ w: [Float]) -> Float {
        let maxAbs = w.reduce(Float(0)) { Swift.max($0, abs($1)) }
        let full = AffineParameters.symmetricScale(maxAbs: maxAbs)
        guard maxAbs > 0 else { return full }
        var best = (error: error(w, scale: full), scale: full)
        for k in stride(from: steps - 1, through: steps / 2, by: -1) {
            let s = Float(Double(full) * Double(k) / Double(steps))
            guard s > 0, s.isFinite else { continue }
            let e = error(w, scale: s)
            if e < best.error { best = (e, s) }
        }
        return best.scale
    }

    package static func error(_ w: [Float], scale s: Float) -> Double {
        var e = 0.0
        let inv = 1 / Double(s)
        for x in w {
            let q = Swift.min(Swift.max((Double(x) * inv).rounded(.toNearestOrAwayFromZero), -127), 127)
            let d = Double(x) - q * Double(s)
            e += d * d
        }
        return e
    }
}
