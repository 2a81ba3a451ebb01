import Foundation
import IR
import Support

/// `--ranges search`: each activation tensor's range chosen by what the quantized model's
/// outputs lose, not by the tensor's own error.
///
/// Per-tensor criteria (min/max, percentile, mse) each lose on some model: clipping a tensor
/// whose error is amplified downstream (a logit layer with wide weights) costs more than the
/// finer steps save, and keeping an outlier that no later layer cares about wastes int8 steps.
/// So this measures: candidates per tensor are its min/max range and the percentile 99.99,
/// percentile 99.9 and mse ranges of the same histograms (`Calibrator`); the error of a choice
/// is the mean absolute difference between the float model's outputs and the int8 model's
/// dequantized outputs on the calibration samples (`MixedPrecisionSearch.ErrorEvaluator`, the
/// interpreter bit-exact with TFLM).
///
/// 1. Start: min/max everywhere, or one of the other methods everywhere if that is better.
/// 2. Greedy sweep, tensors in execution order (graph inputs first): each tensor takes the
///    candidate with the lowest output error given the choices so far.
///
/// So that the choices do not fit the calibration set's accidents (the output error of a
/// classifier is dominated by its few uncertain samples), the samples are split in two halves
/// (even and odd positions) and a change is kept only if it lowers the error over all samples
/// and raises it on neither half. The sweep stops after `maxEvaluations` measured models
/// (later tensors keep their ranges): bounded by a count, not by time, so the output file is
/// the same bytes on every machine.
package enum OutputErrorRangeSearch {
    package struct Report: Sendable, Hashable {
        package var tensors = 0
        /// Tensors whose range is no longer min/max.
        package var changedTensors = 0
        /// Output mean abs error on the calibration samples with min/max, and with the choice.
        package var errorBefore = 0.0
        package var errorAfter = 0.0
        package var evaluations = 0
        package var limitReached = false
        package var seconds = 0.0

        package var lines: [String] {
            let change = errorBefore > 0 ? (errorAfter - errorBefore) / errorBefore * 100 : 0
            var line = String(format: "range search: %d of %d tensors changed from min/max; output error on the calibration samples %.6f -> %.6f (%+.1f %%), %d models measured (%.2f s)",
                              changedTensors, tensors, errorBefore, errorAfter, change, evaluations, seconds)
            if limitReached { line += "; stopped at the limit of \(OutputErrorRangeSearch.maxEvaluations) models, later tensors keep their ranges" }
            return [line]
        }
    }

    /// Measured models after which the sweep stops.
    package static let maxEvaluations = 1500

    /// A change of a range end by less than this fraction of the range is not worth measuring.
    static let minimumChange: Float = 0.005

    package static func run(_ model: Model, ranges: RangeTable, samples: SampleSet, options: QuantizationOptions,
                            maxEvaluations: Int = maxEvaluations, progress: (@Sendable (String) -> Void)? = nil) throws -> (RangeTable, Report) {
        let started = Date()
        var report = Report()
        let evaluator = try MixedPrecisionSearch.ErrorEvaluator(float: model, samples: samples)
        var evaluations = 0
        var stage = "whole-model methods"

        /// Mean abs output error over all samples, over the even and over the odd ones.
        func measure(_ table: RangeTable) throws -> Errors {
            evaluations += 1
            progress?("range search: \(evaluations) models measured (\(stage))")
            let (q, _) = try Int8Quantizer.quantize(model, ranges: table, options: options)
            return Errors(try evaluator.sampleErrors(of: q))
        }

        var current = ranges
        current.alternatives = []
        var currentError = try measure(current)
        report.errorBefore = currentError.all

        // 1. The best whole-model method as the starting point.
        var bestStart: (table: RangeTable, error: Errors)?
        for alternative in ranges.alternatives {
            var trial = current
            for (id, r) in alternative where trial.ranges[id] != nil { trial.ranges[id] = r }
            let e = try measure(trial)
            if e.improves(on: currentError), e.all < (bestStart?.error.all ?? .infinity) { bestStart = (trial, e) }
        }
        if let bestStart { (current, currentError) = bestStart }

        // 2. Greedy sweep over the tensors in execution order.
        let order = executionOrder(model, ranges.ranges)
        report.tensors = order.count
        sweep: for (k, id) in order.enumerated() {
            stage = "tensor \(k + 1)/\(order.count)"
            guard let now = current.ranges[id] else { continue }
            var best: (range: ObservedRange, error: Errors)?
            for candidate in [ranges.ranges] + ranges.alternatives {
                guard let r = candidate[id], differs(r, from: now) else { continue }
                guard evaluations < maxEvaluations else { report.limitReached = true; break sweep }
                var trial = current
                trial.ranges[id] = r
                let e = try measure(trial)
                if e.improves(on: best?.error ?? currentError) { best = (r, e) }
            }
            if let best {
                current.ranges[id] = best.range
                currentError = best.error
            }
        }

        report.changedTensors = order.filter { current.ranges[$0] != ranges.ranges[$0] }.count
        report.errorAfter = currentError.all
        report.evaluations = evaluations
        report.seconds = Date().timeIntervalSince(started)
        current.method = RangeMethod.search.description
        return (current, report)
    }

    /// The output error of one quantized model: over all samples and over each half.
    package struct Errors {
        package var all: Double
        package var even: Double
        package var odd: Double

        package init(_ perSample: [(sum: Double, count: Int)]) {
            func mean(_ rows: [(sum: Double, count: Int)]) -> Double {
                let n = rows.reduce(0) { $0 + $1.count }
                return n > 0 ? rows.reduce(0.0) { $0 + $1.sum } / Double(n) : 0
            }
            all = mean(perSample)
            even = mean(perSample.enumerated().filter { $0.offset % 2 == 0 }.map(\.element))
            odd = mean(perSample.enumerated().filter { $0.offset % 2 == 1 }.map(\.element))
        }

        /// Lower over all samples and not higher on either half.
        package func improves(on other: Errors) -> Bool {
            all < other.all && even <= other.even && odd <= other.odd
        }
    }

    static func differs(_ a: ObservedRange, from b: ObservedRange) -> Bool {
        let width = max(b.max - b.min, .leastNormalMagnitude)
        return abs(a.min - b.min) > minimumChange * width || abs(a.max - b.max) > minimumChange * width
    }

    /// Tensors with a range: graph inputs, then op outputs in op order.
    package static func executionOrder(_ model: Model, _ ranges: [ValueID: ObservedRange]) -> [ValueID] {
        guard let g = model.subgraphs.first else { return [] }
        var seen = Set<ValueID>()
        var order: [ValueID] = []
        func add(_ id: ValueID) {
            if ranges[id] != nil, seen.insert(id).inserted { order.append(id) }
        }
        g.inputs.forEach(add)
        for op in g.ops where !op.isErased { op.outputs.forEach(add) }
        return order
    }
}
