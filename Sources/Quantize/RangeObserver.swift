import FlatBuffers
import IR
import Interpret
import Kernels
import Ops
import Passes
import Rewrite
import Support

/// The observed real range of one tensor.
public struct ObservedRange: Hashable, Sendable, CustomStringConvertible {
    public var min: Float
    public var max: Float
    public init(min: Float, max: Float) {
        self.min = min
        self.max = max
    }
    /// Nothing seen yet: the first update replaces both bounds.
    public static let empty = ObservedRange(min: .infinity, max: -.infinity)
    public var isEmpty: Bool { min > max }

    public mutating func formUnion(_ o: ObservedRange) {
        if o.min < min { min = o.min }
        if o.max > max { max = o.max }
    }
    public func union(_ o: ObservedRange) -> ObservedRange {
        var r = self
        r.formUnion(o)
        return r
    }
    public var description: String { isEmpty ? "[empty]" : "[\(min), \(max)]" }

    /// The range of finite values in `values`; NaN and ±inf are skipped (they would make every
    /// other value quantize to the zero point).
    public static func of(_ values: UnsafeBufferPointer<Float>) -> ObservedRange {
        // Fast path, 16 lanes at a time: a NaN never wins a comparison, so it is skipped; an
        // infinity would win, so an infinite result goes through the careful loop below.
        var lo = Float.infinity, hi = -Float.infinity
        if let base = values.baseAddress.map(UnsafeRawPointer.init), values.count >= 16 {
            var lo16 = SIMD16<Float>(repeating: .infinity), hi16 = SIMD16<Float>(repeating: -.infinity)
            var i = 0
            while i + 16 <= values.count {
                let v = base.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
                lo16.replace(with: v, where: v .< lo16)
                hi16.replace(with: v, where: v .> hi16)
                i += 16
            }
            lo = lo16.min()
            hi = hi16.max()
            for v in values[i...] {
                lo = v < lo ? v : lo
                hi = v > hi ? v : hi
            }
        } else {
            for v in values {
                lo = v < lo ? v : lo
                hi = v > hi ? v : hi
            }
        }
        if lo.isFinite && hi.isFinite || values.isEmpty { return ObservedRange(min: lo, max: hi) }
        lo = .infinity
        hi = -.infinity
        for v in values where v.isFinite {
            if v < lo { lo = v }
            if v > hi { hi = v }
        }
        return ObservedRange(min: lo, max: hi)
    }
    public static func of(_ values: [Float]) -> ObservedRange {
        values.withUnsafeBufferPointer { of($0) }
    }
}

/// Ranges per tensor of subgraph 0, as calibration found them.
public struct RangeTable: Sendable {
    public var ranges: [ValueID: ObservedRange]
    /// How many samples produced them.
    public var samples: Int
    /// How the ranges were reduced: "min/max" or "percentile 99.99".
    public var method: String
    /// Mean of each channel of the float inputs of convolutions and FULLY_CONNECTED ops, for
    /// bias correction (empty when not collected).
    public var channelMeans: [ValueID: [Float]]
    /// Other ranges each tensor could take, for `RangeMethod.search` (percentile 99.99, 99.9,
    /// mse, in that order; empty for the other methods).
    package var alternatives: [[ValueID: ObservedRange]] = []

    public init(ranges: [ValueID: ObservedRange] = [:], samples: Int = 0, method: String = "min/max", channelMeans: [ValueID: [Float]] = [:]) {
        self.ranges = ranges
        self.samples = samples
        self.method = method
        self.channelMeans = channelMeans
    }

    public subscript(_ id: ValueID) -> ObservedRange? {
        get { ranges[id] }
        set { ranges[id] = newValue }
    }
}

/// Running min/max of every float tensor the interpreter produces.
package struct MinMaxObserver {
    package var ranges: [ValueID: ObservedRange] = [:]

    package init(ranges: [ValueID: ObservedRange] = [:]) {
        self.ranges = ranges
    }

    package mutating func observe(_ id: ValueID, _ values: UnsafeBufferPointer<Float>) {
        let r = ObservedRange.of(values)
        if r.isEmpty { return }
        ranges[id, default: .empty].formUnion(r)
    }

    package mutating func merge(_ other: MinMaxObserver) {
        for (k, r) in other.ranges { ranges[k, default: .empty].formUnion(r) }
    }
}

/// Histograms over a fixed range per tensor (from a first min/max pass), so percentiles can be
/// read without keeping every value: `bins` equal bins over [min, max]; the percentile is
/// interpolated linearly inside its bin, so its error is at most one bin width
/// (range / bins, far below one int8 quantum for the default 4096 bins).
package struct HistogramObserver {
    package struct Histogram {
        package var range: ObservedRange
        package var counts: [UInt64]
        package var total: UInt64 = 0
        /// Values exactly 0 (also in their bin): int8 holds them without error.
        package var zeros: UInt64 = 0
    }
    package let bins: Int
    package var histograms: [ValueID: Histogram] = [:]

    package init(ranges: [ValueID: ObservedRange], bins: Int = 4096) {
        self.bins = bins
        for (k, r) in ranges where !r.isEmpty {
            histograms[k] = Histogram(range: r, counts: Array(repeating: 0, count: bins))
        }
    }

    package mutating func observe(_ id: ValueID, _ values: UnsafeBufferPointer<Float>) {
        guard var h = histograms[id] else { return }
        histograms[id] = nil  // avoid a copy of the counts while mutating
        let lo = Double(h.range.min), width = Double(h.range.max) - lo
        let last = bins - 1
        h.counts.withUnsafeMutableBufferPointer { counts in
            for v in values where v.isFinite {
                var b = 0
                if width > 0 {
                    let pos = (Double(v) - lo) / width * Double(bins)
                    b = pos <= 0 ? 0 : (pos >= Double(last) ? last : Int(pos))
                }
                counts[b] &+= 1
            }
        }
        h.total &+= UInt64(values.lazy.filter(\.isFinite).count)
        h.zeros &+= UInt64(values.lazy.filter { $0 == 0 }.count)
        histograms[id] = h
    }

    package mutating func merge(_ other: HistogramObserver) {
        for (k, o) in other.histograms {
            guard var h = histograms[k] else { histograms[k] = o; continue }
            for i in h.counts.indices { h.counts[i] &+= o.counts[i] }
            h.total &+= o.total
            h.zeros &+= o.zeros
            histograms[k] = h
        }
    }

    /// The range between the (100 − p)-th and p-th percentiles of each tensor.
    package func percentileRanges(_ p: Double) -> [ValueID: ObservedRange] {
        var out: [ValueID: ObservedRange] = [:]
        for (k, h) in histograms {
            guard h.total > 0 else { out[k] = h.range; continue }
            let lo = value(at: (100 - p) / 100, h)
            let hi = value(at: p / 100, h)
            out[k] = ObservedRange(min: Swift.min(lo, hi), max: Swift.max(lo, hi))
        }
        return out
    }

    /// The range of each tensor that minimises the expected squared int8 error (`RangeSearch`).
    package func mseRanges() -> [ValueID: ObservedRange] {
        var out: [ValueID: ObservedRange] = [:]
        for (k, h) in histograms { out[k] = RangeSearch.mseRange(h) }
        return out
    }

    /// The value below which `fraction` of the observations lie.
    private func value(at fraction: Double, _ h: Histogram) -> Float {
        let target = fraction * Double(h.total)
        let width = (Double(h.range.max) - Double(h.range.min)) / Double(bins)
        var seen = 0.0
        for (b, c) in h.counts.enumerated() where c > 0 {
            let next = seen + Double(c)
            if next >= target {
                let inside = (target - seen) / Double(c)
                let v = Double(h.range.min) + (Double(b) + inside) * width
                return Float(Swift.min(Swift.max(v, Double(h.range.min)), Double(h.range.max)))
            }
            seen = next
        }
        return h.range.max
    }
}

/// Running per-channel means of the inputs of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED
/// (for bias correction): element i of a tensor belongs to channel i mod C, C being the
/// innermost dimension the weights read (NHWC channels, or FC input units).
package struct ChannelMeanObserver: Sendable {
    /// Channels per observed value.
    package let channels: [ValueID: Int]
    package var sums: [ValueID: [Double]] = [:]
    package var counts: [ValueID: Int] = [:]

    package init(channels: [ValueID: Int]) { self.channels = channels }

    package mutating func observe(_ id: ValueID, _ values: UnsafeBufferPointer<Float>) {
        guard let c = channels[id], c > 0, values.count % c == 0 else { return }
        // One tensor is summed in float (8 channels at a time), then added in double.
        var partial = [Float](repeating: 0, count: c)
        do {
            let v = values
            partial.withUnsafeMutableBufferPointer { a in
                guard let vp = v.baseAddress.map(UnsafeRawPointer.init), let ap = a.baseAddress.map(UnsafeMutableRawPointer.init) else { return }
                var i = 0
                while i + c <= v.count {
                    var k = 0
                    while k + 8 <= c {
                        let sum = ap.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self)
                            + vp.loadUnaligned(fromByteOffset: (i + k) * 4, as: SIMD8<Float>.self)
                        ap.storeBytes(of: sum, toByteOffset: k * 4, as: SIMD8<Float>.self)
                        k += 8
                    }
                    while k < c {
                        a[k] += v[i + k]
                        k += 1
                    }
                    i += c
                }
            }
        }
        var s = sums[id] ?? Array(repeating: 0, count: c)
        for k in 0..<c { s[k] += Double(partial[k]) }
        sums[id] = s
        counts[id, default: 0] += values.count / c
    }

    package mutating func merge(_ other: ChannelMeanObserver) {
        for (k, o) in other.sums {
            if var s = sums[k] {
                for i in s.indices { s[i] += o[i] }
                sums[k] = s
            } else {
                sums[k] = o
            }
            counts[k, default: 0] += other.counts[k] ?? 0
        }
    }

    package var means: [ValueID: [Float]] {
        var out: [ValueID: [Float]] = [:]
        for (k, s) in sums {
            let n = Double(max(counts[k] ?? 0, 1))
            out[k] = s.map { Float($0 / n) }
        }
        return out
    }
}
