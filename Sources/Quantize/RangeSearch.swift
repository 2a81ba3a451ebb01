import IR
import Support

/// The clipping range of an int8 activation tensor that minimises the expected squared
/// quantization error of its calibration values, read off their histogram (the MSE range
/// choice of TensorRT's and AIMET's calibrators, here for asymmetric int8).
///
/// For a candidate range the parameters are exactly what the quantizer will use
/// (`AffineParameters.asymmetric`, zero point nudged), covering [qlo, qhi]. The expected error is
///
///     Σ_{c_b < qlo} n_b (c_b − qlo)²  +  Σ_{c_b > qhi} n_b (c_b − qhi)²  +  n_inside · scale²/12
///
/// over the histogram bins b (centre c_b, count n_b): clipped values lose their distance to
/// the nearest end, values inside are rounded with uniform error of variance scale²/12 —
/// except exact zeros (ReLU's, padding's), which int8 represents exactly and which are counted
/// apart. Prefix sums of n, n·c and n·c² make each candidate O(1).
///
/// Candidates: the upper end runs over max·k/G and the lower over min·j/G (k, j = 1…G), the
/// full min/max range included, so the chosen range's estimated error is never above
/// min/max's. Ties keep the wider range (the first one found, searching from the full range
/// inwards), and everything is computed in a fixed order, so the result is deterministic.
package enum RangeSearch {
    /// Candidate steps per side.
    package static let steps = 96

    package static func mseRange(_ h: HistogramObserver.Histogram) -> ObservedRange {
        let r = h.range
        guard h.total > 0, r.max > r.min, r.min.isFinite, r.max.isFinite, !h.counts.isEmpty else { return r }
        let table = PrefixSums(h)
        let lo0 = Double(Swift.min(r.min, 0)), hi0 = Double(Swift.max(r.max, 0))
        let loSteps = lo0 < 0 ? steps : 1, hiSteps = hi0 > 0 ? steps : 1
        var best = (error: Double.infinity, lo: r.min, hi: r.max)
        for j in stride(from: loSteps, through: 1, by: -1) {
            let lo = lo0 * Double(j) / Double(loSteps)
            for k in stride(from: hiSteps, through: 1, by: -1) {
                let hi = hi0 * Double(k) / Double(hiSteps)
                let p = AffineParameters.asymmetric(min: Float(lo), max: Float(hi))
                let e = table.expectedError(p)
                if e < best.error { best = (e, Float(lo), Float(hi)) }
            }
        }
        // The observed values decide the sides: a range that never went below 0 stays at 0.
        return ObservedRange(min: r.min >= 0 ? r.min : best.lo, max: r.max <= 0 ? r.max : best.hi)
    }

    /// Prefix sums over the bins of one histogram.
    package struct PrefixSums {
        let lo: Double, width: Double, bins: Int
        /// Element b is the sum over bins 0 ..< b.
        var count: [Double], first: [Double], second: [Double]
        let zeros: Double

        package init(_ h: HistogramObserver.Histogram) {
            bins = h.counts.count
            lo = Double(h.range.min)
            width = (Double(h.range.max) - lo) / Double(bins)
            count = [0]
            first = [0]
            second = [0]
            count.reserveCapacity(bins + 1)
            first.reserveCapacity(bins + 1)
            second.reserveCapacity(bins + 1)
            for (b, c) in h.counts.enumerated() {
                let n = Double(c), centre = lo + (Double(b) + 0.5) * width
                count.append(count[b] + n)
                first.append(first[b] + n * centre)
                second.append(second[b] + n * centre * centre)
            }
            zeros = Double(h.zeros)
        }

        /// Number of bins whose centre is below `x` (0 ... bins).
        func binsBelow(_ x: Double) -> Int {
            let t = ((x - lo) / width - 0.5).rounded(.up)
            if !(t > 0) { return 0 }
            return t >= Double(bins) ? bins : Int(t)
        }

        package func expectedError(_ p: AffineParameters) -> Double {
            let s = Double(p.scale)
            let qlo = s * Double(-128 - p.zeroPoint), qhi = s * Double(127 - p.zeroPoint)
            let a = binsBelow(qlo)
            let b = Swift.max(a, binsBelow(qhi.nextUp))
            // Σ n (c − t)² = Σ n c² − 2 t Σ n c + t² Σ n over the clipped bins.
            let below = second[a] - 2 * qlo * first[a] + qlo * qlo * count[a]
            let nAbove = count[bins] - count[b]
            let above = (second[bins] - second[b]) - 2 * qhi * (first[bins] - first[b]) + qhi * qhi * nAbove
            let inside = Swift.max(count[b] - count[a] - zeros, 0)
            return Swift.max(below, 0) + Swift.max(above, 0) + inside * s * s / 12
        }
    }
}
