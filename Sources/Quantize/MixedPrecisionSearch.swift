import FlatBuffers
import IR
import Interpret
import Kernels
import Ops
import Support

/// `--max-error E`: the fewest ops to keep in int16x8 (the rest int8) so that the output error
/// against the float model on the calibration samples stays at or below E.
///
/// Error: the mean absolute difference between the float model's outputs and the quantized
/// model's dequantized outputs over every calibration sample and output element (inputs
/// quantized with the model's own input parameters, rounding half away from zero, as firmware).
///
/// 1. all int8 meets E: nothing is int16. All candidates int16 misses E: an error.
/// 2. Sensitivity of op i: the error with only op i int16, against the all-int8 error.
/// 3. Greedy: add the op that lowers the error most given those already chosen until E is met;
///    prune: drop each chosen op, least sensitive first, while E stays met; exchange: replace
///    two chosen ops by one other while E stays met (bounded by `exchangeLimit` measurements).
/// Candidates are the quantized ops with an int16 kernel in TFLM (`OpQuantizationSpec.int16`).
public enum MixedPrecisionSearch {
    public struct Report: Sendable {
        public struct Entry: Sendable {
            /// Op index in subgraph 0 of the model given to the quantizer.
            public var op: Int
            public var label: String
            /// Output error with only this op int16.
            public var error: Double
        }
        public var budget: Double
        public var int8Error: Double
        public var int16Error: Double
        /// Per candidate, in op order.
        public var sensitivity: [Entry]
        /// Chosen int16 ops, ascending.
        public var chosen: [Int]
        /// Error with the chosen set.
        public var chosenError: Double
        /// How many quantized models the search measured.
        public var evaluations: Int

        public var lines: [String] {
            var out = ["max error \(fmt(budget)): all int8 \(fmt(int8Error)), all int16x8 \(fmt(int16Error)); \(chosen.count) of \(sensitivity.count) ops int16x8, error \(fmt(chosenError)) (\(evaluations) models measured)"]
            let chosenSet = Set(chosen)
            for e in sensitivity {
                let change = e.error - int8Error
                out.append("  \(chosenSet.contains(e.op) ? "int16" : "int8 ") \(e.label): error with only this op int16x8 \(fmt(e.error)) (\(change > 0 ? "+" : "")\(fmt(change)) vs all int8)")
            }
            return out
        }
        private func fmt(_ x: Double) -> String { String(format: "%.6f", x) }
    }

    /// The ops that could be int16x8: quantized, with an int16 kernel.
    package static func candidates(_ model: Model, ranges: RangeTable, options: QuantizationOptions) -> [(op: Int, label: String)] {
        var rewrite = Int8Quantizer.Rewrite(model: model, ranges: ranges, options: options)
        guard !rewrite.model.subgraphs.isEmpty else { return [] }
        rewrite.classifyOps()
        return rewrite.specs.keys.sorted().filter { rewrite.specs[$0]!.int16 }.map { ($0, model.subgraphs[0].ops[$0].label(OpID($0))) }
    }

    /// Measured models after which the exchange step stops (it is O(k²·n) per round).
    static let exchangeLimit = 400

    public static func run(_ model: Model, ranges: RangeTable, samples: SampleSet, options: QuantizationOptions, maxError budget: Double,
                           progress: (@Sendable (String) -> Void)? = nil) throws -> Report {
        guard budget.isFinite, budget >= 0 else { throw QuantizeError.badOption("--max-error must be a non-negative number, got \(budget)") }
        let evaluator = try ErrorEvaluator(float: model, samples: samples)
        let ops = candidates(model, ranges: ranges, options: options)
        var evaluations = 0
        var stage = "all int8 and all int16x8"
        func error(_ set: Set<Int>) throws -> Double {
            evaluations += 1
            progress?("max-error search: \(evaluations) models measured (\(stage))")
            var o = options
            o.activations = .mixed(int16Ops: set)
            let (q, _) = try Int8Quantizer.quantize(model, ranges: ranges, options: o)
            return try evaluator.error(of: q)
        }
        let all = Set(ops.map(\.op))
        let int8Error = try error([])
        let int16Error = try error(all)
        if int8Error > budget && int16Error > budget {
            throw QuantizeError.badOption(String(format: "--max-error %g cannot be met: the output error is %.6f with all int8 and %.6f with all %d ops that have an int16 kernel in int16x8", budget, int8Error, int16Error, all.count))
        }
        var sensitivity: [Report.Entry] = []
        stage = "sensitivity of \(ops.count) ops"
        if int8Error > budget {
            for c in ops { sensitivity.append(.init(op: c.op, label: c.label, error: try error([c.op]))) }
        }
        var chosen = Set<Int>()
        var current = int8Error
        if int8Error > budget {
            // Forward selection: add the op that lowers the error most given the ops already
            // chosen (the most sensitive first on ties), until the budget is met.
            let bySensitivity = sensitivity.sorted { ($0.error, $0.op) < ($1.error, $1.op) }.map(\.op)
            while current > budget, chosen.count < all.count {
                stage = "forward selection, \(chosen.count) of \(all.count) ops chosen"
                var best: (op: Int, error: Double)?
                for op in bySensitivity where !chosen.contains(op) {
                    let e = try error(chosen.union([op]))
                    if best == nil || e < best!.error { best = (op, e) }
                }
                chosen.insert(best!.op)
                current = best!.error
            }
            // Prune: drop ops, least sensitive first, while the budget stays met.
            stage = "prune"
            for op in bySensitivity.reversed() where chosen.contains(op) && chosen.count > 1 {
                let e = try error(chosen.subtracting([op]))
                if e <= budget { chosen.remove(op); current = e }
            }
            // Exchange: two chosen ops for one other, while that meets the budget (bounded).
            stage = "exchange"
            var improved = true
            while improved, chosen.count >= 2, evaluations < exchangeLimit {
                improved = false
                let members = chosen.sorted()
                search: for (a, x) in members.enumerated() {
                    for y in members[(a + 1)...] {
                        for z in bySensitivity where !chosen.contains(z) || z == x || z == y {
                            guard evaluations < exchangeLimit else { break search }
                            let trial = chosen.subtracting([x, y]).union([z])
                            let e = try error(trial)
                            if e <= budget { chosen = trial; current = e; improved = true; break search }
                        }
                    }
                }
            }
        } else {
            sensitivity = try ops.map { .init(op: $0.op, label: $0.label, error: try error([$0.op])) }
        }
        return Report(budget: budget, int8Error: int8Error, int16Error: int16Error, sensitivity: sensitivity,
                      chosen: chosen.sorted(), chosenError: current, evaluations: evaluations)
    }

    /// Runs quantized models on the samples and compares their outputs with the float model's.
    package struct ErrorEvaluator {
        let samples: [[RuntimeTensor]]
        /// Float outputs per sample.
        let reference: [[[Float]]]

        package init(float model: Model, samples: SampleSet) throws {
            self.samples = samples.samples
            let interpreter = try Interpreter(model: model)
            reference = try samples.samples.map { s in try interpreter.run(s).map { $0.floats ?? [] } }
        }

        /// Mean absolute error over every sample and output element.
        package func error(of quantized: Model) throws -> Double {
            let perSample = try sampleErrors(of: quantized)
            let count = perSample.reduce(0) { $0 + $1.count }
            return count > 0 ? perSample.reduce(0.0) { $0 + $1.sum } / Double(count) : 0
        }

        /// Per sample: the summed absolute error over its output elements, and how many there are.
        package func sampleErrors(of quantized: Model) throws -> [(sum: Double, count: Int)] {
            let interpreter = try Interpreter(model: quantized)
            var out: [(sum: Double, count: Int)] = []
            out.reserveCapacity(samples.count)
            for (s, sample) in samples.enumerated() {
                var sum = 0.0
                var count = 0
                let inputs = try zip(sample, interpreter.inputs).map { t, info in try Self.quantize(t, for: info) }
                let outputs = try interpreter.run(inputs)
                for (k, y) in outputs.enumerated() where k < reference[s].count {
                    let real = Self.dequantize(y, interpreter.outputs[k].quantization)
                    let ref = reference[s][k]
                    for i in 0..<min(real.count, ref.count) { sum += abs(Double(ref[i]) - real[i]) }
                    count += min(real.count, ref.count)
                }
                out.append((sum, count))
            }
            return out
        }

        /// A float sample as the model's input takes it (round half away from zero, clamped).
        static func quantize(_ t: RuntimeTensor, for info: Interpreter.TensorInfo) throws -> RuntimeTensor {
            guard t.dtype == .float32, info.dtype == .int8 || info.dtype == .int16, let q = info.quantization, let scale = q.scale else { return t }
            let p = AffineParameters(scale: scale, zeroPoint: Int32(clamping: q.zeroPoint ?? 0))
            let f = t.floats ?? []
            let storage: RuntimeTensor.Storage = info.dtype == .int8
                ? .int8(f.map { Int8(p.quantize($0, qmin: -128, qmax: 127)) })
                : .int16(f.map { Int16(p.quantize($0, qmin: -32768, qmax: 32767)) })
            guard let r = RuntimeTensor(shape: info.shape, storage: storage) else {
                throw QuantizeError.calibration("sample of \(f.count) values does not fit input \"\(info.name)\" \(info.shape)")
            }
            return r
        }

        /// Per-tensor dequantization (graph outputs are per tensor).
        static func dequantize(_ t: RuntimeTensor, _ q: Quantization?) -> [Double] {
            guard t.dtype != .float32, let q, let s = q.scale else { return t.doubles }
            let z = Double(q.zeroPoint ?? 0)
            return t.doubles.map { ($0 - z) * Double(s) }
        }
    }
}

extension PostTrainingQuantization.Result {
    /// "int8", "int16x8", or "int8 + int16x8 (3 ops)".
    package var precisionText: String {
        switch activations {
        case .int8: "int8"
        case .int16x8: "int16x8"
        case .mixed(let ops): ops.isEmpty ? "int8" : "int8 + int16x8 (\(ops.count) op\(ops.count == 1 ? "" : "s"))"
        }
    }
}
