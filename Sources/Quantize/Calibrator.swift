import Foundation
import FlatBuffers
import IR
import Interpret
import Kernels
import Ops
import Passes
import Rewrite
import Support

/// Runs the float model in tfrewrite's interpreter on calibration samples and records the real
/// range of every float32 tensor of subgraph 0 (graph inputs from the samples themselves,
/// every op output as the interpreter produces it).
///
/// - min/max (default): the smallest and largest finite value over all samples, as TF's
///   calibrator records them (checked: TF's int8 input parameters follow from the calibration
///   sets' global min/max, Fixtures/calib).
/// - percentile P: the P-th and (100−P)-th percentiles of all values, from a second pass that
///   fills a histogram per tensor over the min/max range; outliers then stop stretching the
///   scale.
/// - mse: from the same histogram, the range with the smallest expected squared int8 error
///   (`RangeSearch`).
///
/// Samples are split over the available cores; each worker has its own interpreter.
public enum Calibrator {
    /// Called after each finished sample with (done, total) for the pass, `done` counting up by
    /// one per call (calls never overlap); `pass` is 1, or 2 for the histogram pass (percentile and mse ranges).
    public typealias Progress = @Sendable (_ done: Int, _ total: Int, _ pass: Int) -> Void

    /// Min/max ranges, or percentile ranges when `percentile` is below 100.
    public static func calibrate(_ model: Model, samples: SampleSet, percentile: Double? = nil, threads: Int? = nil, progress: Progress? = nil) throws -> RangeTable {
        if let p = percentile, !(p > 50 && p <= 100) {
            throw QuantizeError.badOption("--percentile \(p): expected a value in (50, 100], e.g. 99.99")
        }
        return try calibrate(model, samples: samples, ranges: percentile.map { .percentile($0) } ?? .minMax, threads: threads, progress: progress)
    }

    public static func calibrate(_ model: Model, samples: SampleSet, ranges method: RangeMethod, threads: Int? = nil, progress: Progress? = nil) throws -> RangeTable {
        guard samples.count > 0 else { throw QuantizeError.calibration("no calibration samples") }
        if case .percentile(let p) = method, !(p > 50 && p <= 100) {
            throw QuantizeError.badOption("--ranges percentile:\(p): expected a value in (50, 100], e.g. 99.99")
        }
        let workers = max(1, min(threads ?? ProcessInfo.processInfo.activeProcessorCount, samples.count, 8))
        let floatValues = floatRuntimeValues(model)

        let channels = weightedOpInputChannels(model)
        var first = try run(model, samples, workers: workers, pass: 1, progress: progress) { MinMaxSink(floatValues: floatValues, channels: channels) }
        // Graph inputs are not op outputs: take their ranges from the samples.
        if let g = model.subgraphs.first {
            for (k, id) in g.inputs.enumerated() where floatValues.contains(id.raw) {
                for s in samples.samples where k < s.count {
                    s[k].floats?.withUnsafeBufferPointer { first.observe(id, $0) }
                }
            }
        }
        var ranges = first.observer.ranges
        guard method.needsHistogram else {
            return RangeTable(ranges: ranges, samples: samples.count, method: RangeMethod.minMax.description, channelMeans: first.means.means)
        }
        let seed = ranges
        var second = try run(model, samples, workers: workers, pass: 2, progress: progress) { HistogramSink(floatValues: floatValues, ranges: seed) }
        if let g = model.subgraphs.first {
            for (k, id) in g.inputs.enumerated() where floatValues.contains(id.raw) {
                for s in samples.samples where k < s.count {
                    s[k].floats?.withUnsafeBufferPointer { second.observer.observe(id, $0) }
                }
            }
        }
        switch method {
        case .percentile(let p): for (k, r) in second.observer.percentileRanges(p) { ranges[k] = r }
        case .mse: for (k, r) in second.observer.mseRanges() { ranges[k] = r }
        case .minMax: break
        case .search:
            // Min/max to start from; the searched alternatives come from the same histograms.
            var table = RangeTable(ranges: ranges, samples: samples.count, method: method.description, channelMeans: first.means.means)
            table.alternatives = [second.observer.percentileRanges(99.99), second.observer.percentileRanges(99.9), second.observer.mseRanges()]
            return table
        }
        return RangeTable(ranges: ranges, samples: samples.count, method: method.description, channelMeans: first.means.means)
    }

    /// Float32 runtime values of subgraph 0 (the ones worth observing).
    package static func floatRuntimeValues(_ model: Model) -> Set<Int32> {
        guard let g = model.subgraphs.first else { return [] }
        var s = Set<Int32>()
        for (i, v) in g.values.enumerated() where v.dtype == .float32 && !model.isConstant(v) { s.insert(Int32(i)) }
        return s
    }

    /// True when each sample is a whole window for ops that run a whole sequence per
    /// invocation (UNIDIRECTIONAL_SEQUENCE_LSTM): their variable states start from zero for
    /// every sample, as firmware resets them between windows, and as the Keras model the op
    /// came from computes. (A streaming model's state, e.g. SVDF's, carries over instead.)
    package static func samplesAreIndependentWindows(_ model: Model) -> Bool {
        model.subgraphs.first?.ops.contains { !$0.isErased && $0.builtinOperator == .unidirectionalSequenceLSTM } ?? false
    }

    // MARK: Workers

    package protocol Sink: Sendable {
        mutating func observe(_ id: ValueID, _ values: UnsafeBufferPointer<Float>)
        mutating func merge(_ other: Self)
    }

    package struct MinMaxSink: Sink {
        package let floatValues: Set<Int32>
        package var observer = MinMaxObserver()
        package var means: ChannelMeanObserver
        package init(floatValues: Set<Int32>, channels: [ValueID: Int]) {
            self.floatValues = floatValues
            self.means = ChannelMeanObserver(channels: channels)
        }
        package mutating func observe(_ id: ValueID, _ values: UnsafeBufferPointer<Float>) {
            guard floatValues.contains(id.raw) else { return }
            observer.observe(id, values)
            means.observe(id, values)
        }
        package mutating func merge(_ other: MinMaxSink) {
            observer.merge(other.observer)
            means.merge(other.means)
        }
    }

    /// Float inputs of ops with weights (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED) and the
    /// number of channels the weights read: NHWC channels, or FC input units.
    package static func weightedOpInputChannels(_ model: Model) -> [ValueID: Int] {
        guard let g = model.subgraphs.first else { return [:] }
        var out: [ValueID: Int] = [:]
        for op in g.ops where !op.isErased {
            guard let x = op.input(0), let w = op.input(1), x.index < g.values.count, w.index < g.values.count else { continue }
            let xv = g[x], wv = g[w]
            guard xv.dtype == .float32, !model.isConstant(xv), wv.dtype == .float32, model.isConstant(wv) else { continue }
            guard let layout = OperatorTable.weights(of: op.kind)?.layout else { continue }
            let c: Int
            switch layout {
            case .ohwi, .oneHWO: c = Int(xv.shape.last ?? 0)
            case .oi: c = wv.rank == 2 ? Int(wv.shape[1]) : 0
            default: continue
            }
            if c > 0 { out[x] = c }
        }
        return out
    }

    package struct HistogramSink: Sink {
        package let floatValues: Set<Int32>
        package var observer: HistogramObserver
        package init(floatValues: Set<Int32>, ranges: [ValueID: ObservedRange]) {
            self.floatValues = floatValues
            self.observer = HistogramObserver(ranges: ranges)
        }
        package mutating func observe(_ id: ValueID, _ values: UnsafeBufferPointer<Float>) {
            guard floatValues.contains(id.raw) else { return }
            observer.observe(id, values)
        }
        package mutating func merge(_ other: HistogramSink) { observer.merge(other.observer) }
    }

    /// Shared between workers: finished sinks, the first error, the progress count.
    package final class Shared<S>: @unchecked Sendable {
        package let lock = NSLock()
        package var sinks: [S?]
        package var error: Error?
        package var done = 0
        package init(workers: Int) { sinks = Array(repeating: nil, count: workers) }
    }

    package static func run<S: Sink>(_ model: Model, _ samples: SampleSet, workers: Int, pass: Int, progress: Progress?, make: () -> S) throws -> S {
        let total = samples.count
        let independent = samplesAreIndependentWindows(model)
        let shared = Shared<S>(workers: workers)
        let prototypes = (0..<workers).map { _ in make() }
        let work: @Sendable (Int) -> Void = { w in
            var sink = prototypes[w]
            do {
                let interpreter = try Interpreter(model: model)
                var s = w
                while s < total {
                    if independent { interpreter.resetVariables() }
                    _ = try interpreter.run(samples.samples[s], observeFloats: { id, values in sink.observe(id, values) })
                    // Progress is reported under the lock, so callers see the counts in order
                    // (reported outside it, a worker's stale 15/16 could land after 16/16).
                    shared.lock.lock()
                    shared.done += 1
                    let failed = shared.error != nil
                    if !failed { progress?(shared.done, total, pass) }
                    shared.lock.unlock()
                    if failed { break }
                    s += workers
                }
            } catch {
                shared.lock.lock()
                if shared.error == nil { shared.error = error }
                shared.lock.unlock()
            }
            shared.lock.lock()
            shared.sinks[w] = sink
            shared.lock.unlock()
        }
        if workers == 1 {
            work(0)
        } else {
            DispatchQueue.concurrentPerform(iterations: workers, execute: work)
        }
        if let e = shared.error {
            if let ie = e as? InterpreterError { throw QuantizeError.calibration("calibration cannot run the float model: \(ie)") }
            throw e
        }
        var result = shared.sinks[0]!
        for w in 1..<workers { if let s = shared.sinks[w] { result.merge(s) } }
        return result
    }
}
