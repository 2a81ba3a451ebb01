import FlatBuffers
import IR
import Interpret
import Kernels
import Ops
import Passes
import Rewrite
import Support

/// What to quantize with: calibration data and how ranges become parameters.
public struct PostTrainingQuantizationRequest: Sendable {
    /// A .npy / .npz / folder of .npy files, or `random:N`.
    public var calibration: String
    /// Use the P-th percentile (e.g. 99.99); when set it overrides `ranges`.
    public var percentile: Double?
    /// How activation ranges are chosen from the calibration values.
    public var ranges: RangeMethod = .default
    /// Search each weight channel's symmetric scale for the smallest squared rounding and
    /// clipping error instead of max|w|/127 (`WeightRangeSearch`).
    public var weightSearch: Bool = false
    /// Cross-layer equalization of CONV/DEPTHWISE/FC chains before calibration (`CrossLayerEqualization`).
    public var equalize: Bool = false
    /// Keep float32 graph inputs and outputs (QUANTIZE / DEQUANTIZE at the edges).
    public var floatIO: Bool
    /// The runtime the model is for; decides per-channel FULLY_CONNECTED weights.
    public var target: TargetProfile?
    /// Seed of `random:N` samples.
    public var seed: UInt64
    /// Worker threads for calibration; nil = one per core.
    public var threads: Int?
    /// Correct biases for the mean error of the rounded weights (`BiasCorrection`).
    public var biasCorrection: Bool = true
    /// int8 or int16x8 activations (`Int16x8`); `maxError` chooses a mixed set instead.
    public var activations: ActivationPrecision = .int8
    /// Keep the fewest ops in int16x8 so that the output mean abs error against the float model
    /// on the calibration samples stays at or below this (`MixedPrecisionSearch`).
    public var maxError: Double?
    /// Choose each weight's rounding (down or up) for the smallest layer output error on the
    /// calibration data (`AdaptiveRounding`); off by default.
    public var optimizeRounding: Bool = false
    /// Seconds the rounding optimization may take; later layers keep nearest rounding.
    public var roundingBudget: Double = 60
    /// Rounding progress: (layers done, layers, the next layer's label or "" at the end).
    public var roundingProgress: (@Sendable (Int, Int, String) -> Void)?
    /// Progress of `maxError` and `RangeMethod.search`, which measure many int8 models: a line such
    /// as "max-error search: 37 models measured (forward selection, 2 ops chosen)".
    public var searchProgress: (@Sendable (String) -> Void)?

    public init(calibration: String, percentile: Double? = nil, floatIO: Bool = false, target: TargetProfile? = nil, seed: UInt64 = 1, threads: Int? = nil) {
        self.calibration = calibration
        self.percentile = percentile
        self.floatIO = floatIO
        self.target = target
        self.seed = seed
        self.threads = threads
    }
}

/// The whole int8 post-training quantization: calibrate the float model on the samples, rewrite
/// it to int8 (`Int8Quantizer`), set op versions with `legalize-op-versions` (which also checks
/// the target when there is one), and verify the result.
public enum PostTrainingQuantization {
    public struct Result: Sendable {
        public var model: Model
        public var summary: QuantizationSummary
        public var ranges: RangeTable
        /// Where the samples came from.
        public var samples: String
        public var samplesAreRandom: Bool
        /// Bytes of constant data (weights, biases) before and after.
        public var constantBytesBefore: Int
        public var constantBytesAfter: Int
        public var opsBefore: Int
        public var opsAfter: Int
        /// Notes of the passes run afterwards (version changes, ...).
        public var passNotes: [String]
        /// How many samples calibrated the ranges.
        public var sampleCount: Int = 0
        /// Layer pairs cross-layer equalization rescaled (0 when it was off or found none).
        public var equalizedPairs: Int = 0
        /// The activation precision used (`.mixed` after a `maxError` search).
        public var activations: ActivationPrecision = .int8
        /// What the `maxError` search measured and chose.
        public var mixedPrecision: MixedPrecisionSearch.Report?
        /// What adaptive rounding did (nil when it was off).
        public var rounding: RoundingSummary?
        /// Set when the input was already quantized (`ModelDequantizer`): what was undone.
        public var requantized: String?
        /// What `--ranges search` measured and changed (nil for the other methods).
        package var rangeSearch: OutputErrorRangeSearch.Report?
    }

    /// Adaptive rounding's outcome, for the summary.
    public struct RoundingSummary: Sendable, Hashable {
        public var layers = 0
        public var optimizedLayers = 0
        public var flippedWeights = 0
        public var weights = 0
        /// Σ of the layers' output error variance (calibration data), before and after.
        public var errorBefore = 0.0
        public var errorAfter = 0.0
        public var budgetReached = false
        public var seconds = 0.0
        public init() {}
    }

    /// Fewer real samples than this get a warning: min/max ranges from a handful of inputs
    /// miss the values the model meets in use.
    public static let fewSamples = 20

    public static func run(_ model: Model, _ request: PostTrainingQuantizationRequest, progress: Calibrator.Progress? = nil) throws -> Result {
        // An int8/uint8 model is requantized: back to float first, so samples are real values.
        let dequantized = ModelDequantizer.isQuantized(model) ? ModelDequantizer.dequantize(model) : nil
        let float = dequantized?.model ?? model
        let inputs = ModelInputSpec.inputs(of: float)
        let samples = try SampleData.load(request.calibration, for: inputs, seed: request.seed)
        var result = try run(float, samples: samples, request, progress: progress)
        if let d = dequantized {
            // Requantizing must not turn an int8 op into a float one (e.g. an int8 LSTM has no
            // int8 rule here): the model would grow and run slower than the one given.
            if let first = result.summary.floatOps.first {
                let op = first.components(separatedBy: ": ").first ?? first
                let more = result.summary.floatOps.count > 1 ? " (and \(result.summary.floatOps.count - 1) more op(s))" : ""
                throw QuantizeError.badOption("cannot requantize this \(d.activationType) model: \(op) has no int8 rule in tfrewrite's quantizer and would become float32\(more)")
            }
            result.requantized = "requantized a \(d.activationType) model: \(d.constants) constants and \(d.tensors) tensors dequantized to float first"
                + (d.removedOps > 0 ? ", \(d.removedOps) QUANTIZE/DEQUANTIZE op(s) removed" : "")
        }
        return result
    }

    /// Same, with samples already loaded.
    public static func run(_ model: Model, samples: SampleSet, _ request: PostTrainingQuantizationRequest, progress: Calibrator.Progress? = nil) throws -> Result {
        if let first = Verifier.verify(model).first { throw QuantizeError.invalidInput(first.description) }
        var model = model
        var equalizedPairs = 0
        if request.equalize { (model, equalizedPairs) = CrossLayerEqualization.apply(model) }
        let method = request.percentile.map { RangeMethod.percentile($0) } ?? request.ranges
        var ranges = try Calibrator.calibrate(model, samples: samples, ranges: method, threads: request.threads, progress: progress)
        var options = QuantizationOptions(target: request.target, floatIO: request.floatIO, biasCorrection: request.biasCorrection)
        options.weightSearch = request.weightSearch
        options.activations = request.activations
        var rangeSearch: OutputErrorRangeSearch.Report?
        if method == .search {
            let report: OutputErrorRangeSearch.Report
            (ranges, report) = try OutputErrorRangeSearch.run(model, ranges: ranges, samples: samples, options: options, progress: request.searchProgress)
            rangeSearch = report
        }
        var mixedReport: MixedPrecisionSearch.Report?
        if let budget = request.maxError {
            let report = try MixedPrecisionSearch.run(model, ranges: ranges, samples: samples, options: options, maxError: budget, progress: request.searchProgress)
            options.activations = .mixed(int16Ops: Set(report.chosen))
            mixedReport = report
        }
        var (quantized, summary) = try Int8Quantizer.quantize(model, ranges: ranges, options: options)
        var rounding: RoundingSummary?
        if request.optimizeRounding {
            var roundingOptions = AdaptiveRounding.Options()
            roundingOptions.budgetSeconds = request.roundingBudget
            roundingOptions.threads = request.threads
            let report: RoundingSummary
            (quantized, report) = try AdaptiveRounding.optimize(float: model, quantized: quantized, samples: samples,
                                                                options: roundingOptions, progress: request.roundingProgress)
            rounding = report
        }

        // Op versions follow the new types; with a target this also checks every op against it.
        var context = PassContext(target: request.target)
        var pass = try LegalizeOpVersions(options: PassOptions())
        _ = try pass.run(on: &quantized, context: &context)

        let problems = Verifier.verify(quantized)
        if let first = problems.first {
            throw QuantizeError.invalidResult(first.description + (problems.count > 1 ? " (and \(problems.count - 1) more)" : ""))
        }
        return Result(model: quantized, summary: summary, ranges: ranges, samples: samples.source, samplesAreRandom: samples.isRandom,
                      constantBytesBefore: constantBytes(model), constantBytesAfter: constantBytes(quantized),
                      opsBefore: model.subgraphs.first?.liveOpIDs.count ?? 0, opsAfter: quantized.subgraphs.first?.liveOpIDs.count ?? 0,
                      passNotes: context.notes, sampleCount: samples.count, equalizedPairs: equalizedPairs,
                      activations: options.activations, mixedPrecision: mixedReport, rounding: rounding, rangeSearch: rangeSearch)
    }

    /// Bytes of the constant buffers tensors use (each buffer once).
    public static func constantBytes(_ model: Model) -> Int {
        var seen = Set<Int>()
        var total = 0
        for g in model.subgraphs {
            for v in g.values where v.buffer.index > 0 && v.buffer.index < model.buffers.count {
                if seen.insert(v.buffer.index).inserted { total += model.buffers[v.buffer.index].byteCount }
            }
        }
        return total
    }
}

extension PostTrainingQuantization.Result {
    /// The summary printed after quantizing: counts, sizes, I/O parameters, ops kept float.
    /// `warnRandom`: repeat the random-calibration warning (callers that warned up front pass false).
    public func text(outputBytes: Int? = nil, warnRandom: Bool = true) -> String {
        var lines: [String] = []
        let s = summary
        lines.append("quantized to \(precisionText): \(s.quantizedOps) of \(opsBefore) ops, \(s.quantizedTensors) tensors, \(s.quantizedConstants) constants; \(opsAfter) ops after")
        if let r = requantized { lines.append(r) }
        lines.append("calibration: \(samples), \(ranges.method)")
        if let r = rangeSearch { lines += r.lines }
        if equalizedPairs > 0 { lines.append("cross-layer equalization: \(equalizedPairs) layer pair\(equalizedPairs == 1 ? "" : "s")") }
        if let r = rounding { lines += r.lines() }
        var size = "constant data: \(Self.bytes(constantBytesBefore)) -> \(Self.bytes(constantBytesAfter))"
        if let outputBytes { size += "; model file \(Self.bytes(outputBytes))" }
        lines.append(size)
        if s.insertedQuantize + s.insertedDequantize > 0 {
            lines.append("inserted \(s.insertedQuantize) QUANTIZE and \(s.insertedDequantize) DEQUANTIZE op(s)")
        }
        for (kind, ports) in [("input", s.inputs), ("output", s.outputs)] {
            for p in ports {
                var line = "\(kind) \"\(p.name)\": \(p.dtype.name.lowercased())[\(p.shape.map(String.init).joined(separator: ","))]"
                if let q = p.parameters {
                    line += " scale \(q.scale) zero_point \(q.zeroPoint)"
                    line += kind == "input" ? "  (feed q = round(x / scale) + zero_point)" : "  (read x = (q - zero_point) * scale)"
                }
                lines.append(line)
            }
        }
        if let mixedPrecision { lines += mixedPrecision.lines }
        for f in s.floatOps { lines.append("kept float: \(f)") }
        if samplesAreRandom && warnRandom { lines.append("warning: \(Self.randomWarning)") }
        if !samplesAreRandom && sampleCount < PostTrainingQuantization.fewSamples {
            lines.append("warning: only \(sampleCount) calibration sample\(sampleCount == 1 ? "" : "s"); ranges from fewer than \(PostTrainingQuantization.fewSamples) are unreliable (a few hundred representative samples are usual)")
        }
        for n in s.notes { lines.append("warning: \(n)") }
        return lines.joined(separator: "\n") + "\n"
    }

    public static let randomWarning = "calibrated on random data: the int8 model's accuracy is unknown; pass real samples with --calibration DATA"

    /// "812 B", "19.0 KiB", "1.2 MiB".
    public static func bytesText(_ n: Int) -> String { bytes(n) }

    package static func bytes(_ n: Int) -> String {
        if n < 1024 { return "\(n) B" }
        let k = Double(n) / 1024
        if k < 1024 { return String(format1(k)) + " KiB" }
        return String(format1(k / 1024)) + " MiB"
    }

    package static func format1(_ x: Double) -> String {
        let r = (x * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) + ".0" : String(r)
    }
}
