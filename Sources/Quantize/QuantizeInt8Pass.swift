import FlatBuffers
import IR
import Interpret
import Kernels
import Ops
import Passes
import Rewrite
import Support

/// Full-integer int8 post-training quantization as a pass, for rules files and library users
/// (the CLI's `--quantize int8` runs the same `PostTrainingQuantization`).
///
/// Given:   a float32 model, and `calibration: calib.npy` (samples on axis 0)
/// Result:  int8 activations and weights, int32 biases, int8 graph I/O (or float with
///          `float_io: true`), op versions set by `legalize-op-versions`.
///
/// Options: `calibration` (required: .npy, .npz, folder of .npy, or `random:N`),
/// `ranges` (`minmax`, `percentile:P`, `mse` or `search`; default `RangeMethod.default`), `percentile`
/// (e.g. 99.99, the same as `ranges: percentile:P`), `weight_search` and `equalize` (default false),
/// `float_io` (default false), `bias_correction` (default true), `activations` (`int8`, the
/// default, or `int16x8`), `max_error` (a number: the fewest int16x8 ops that keep the output
/// error on the calibration samples at or below it, `MixedPrecisionSearch`), `optimize_rounding`
/// (default false: `AdaptiveRounding`) and `rounding_budget` (seconds, default 60).
/// The target in the pass context decides per-channel FULLY_CONNECTED weights.
public struct QuantizeInt8Pass: GraphPass {
    public static let name = "quantize-int8"
    public static let summary = "Int8 post-training quantization from calibration samples (weights, activations, biases, I/O)"

    public var calibration: String
    public var percentile: Double?
    /// Activation range choice; `percentile`, when set, overrides it.
    public var ranges: RangeMethod = .default
    /// Search weight scales per channel (`WeightRangeSearch`).
    public var weightSearch = false
    /// Cross-layer equalization before calibration (`CrossLayerEqualization`).
    public var equalize = false
    /// Adaptive rounding of the weights against the calibration data (`AdaptiveRounding`).
    public var optimizeRounding = false
    /// Seconds adaptive rounding may take.
    public var roundingBudget: Double = 60
    /// Adaptive rounding progress (layers done, layers, next layer's label).
    public var roundingProgress: (@Sendable (Int, Int, String) -> Void)?
    /// Progress of the searches that measure many int8 models (`--max-error`, `--ranges search`): one line of text.
    public var searchProgress: (@Sendable (String) -> Void)?
    public var floatIO: Bool
    public var biasCorrection: Bool
    /// int8 or int16x8 activations.
    public var activations: ActivationPrecision = .int8
    /// Output error budget for a mixed int8/int16x8 model.
    public var maxError: Double?
    /// Calibration progress (samples done, total, pass), for a progress line.
    public var progress: Calibrator.Progress?
    /// Receives the whole result (summary, ranges), for the CLI's report.
    public var onResult: (@Sendable (PostTrainingQuantization.Result) -> Void)?

    public init(calibration: String, percentile: Double? = nil, floatIO: Bool = false, biasCorrection: Bool = true) {
        self.calibration = calibration
        self.percentile = percentile
        self.floatIO = floatIO
        self.biasCorrection = biasCorrection
    }

    public init(options: PassOptions) throws {
        let reader = try PassOptionReader(options, pass: Self.name, known: ["calibration", "percentile", "ranges", "weight_search", "equalize", "float_io", "bias_correction",
                                                                               "activations", "max_error", "optimize_rounding", "rounding_budget"])
        guard let c = try reader.string("calibration") else {
            throw reader.error("calibration", "required: a .npy/.npz/folder of samples, or random:N")
        }
        calibration = c
        floatIO = try reader.bool("float_io", default: false)
        biasCorrection = try reader.bool("bias_correction", default: true)
        weightSearch = try reader.bool("weight_search", default: false)
        equalize = try reader.bool("equalize", default: false)
        if let text = try reader.string("activations") {
            switch text {
            case "int8": activations = .int8
            case "int16x8": activations = .int16x8
            default: throw reader.error("activations", "expected int8 or int16x8")
            }
        }
        if options.values["max_error"] != nil {
            let e = try? options.double("max_error", default: 0)
            guard let e, e.isFinite, e >= 0 else { throw reader.error("max_error", "expected a non-negative number such as 0.002") }
            maxError = e
        }
        optimizeRounding = try reader.bool("optimize_rounding", default: false)
        if options.values["rounding_budget"] != nil {
            let budget = try? options.double("rounding_budget", default: 60)
            guard let budget, budget > 0, budget.isFinite else { throw reader.error("rounding_budget", "expected a positive number of seconds such as 60") }
            roundingBudget = budget
        }
        if let text = try reader.string("ranges") {
            do {
                ranges = try RangeMethod(parsing: text)
            } catch {
                throw reader.error("ranges", "expected minmax, percentile:P (e.g. percentile:99.99) or mse")
            }
        }
        if options.values["percentile"] != nil {
            do {
                percentile = try options.double("percentile", default: 100)
            } catch {
                throw reader.error("percentile", "expected a number such as 99.99")
            }
        }
    }

    public mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        var request = PostTrainingQuantizationRequest(calibration: calibration, percentile: percentile, floatIO: floatIO, target: context.target)
        request.biasCorrection = biasCorrection
        request.ranges = ranges
        request.weightSearch = weightSearch
        request.equalize = equalize
        request.activations = activations
        request.maxError = maxError
        request.optimizeRounding = optimizeRounding
        request.roundingBudget = roundingBudget
        request.roundingProgress = roundingProgress
        request.searchProgress = searchProgress
        let result = try PostTrainingQuantization.run(model, request, progress: progress)
        onResult?(result)
        model = result.model
        context.count(Self.name, result.summary.quantizedOps)
        if result.samplesAreRandom { context.note("\(Self.name): \(PostTrainingQuantization.Result.randomWarning)") }
        for n in result.summary.notes { context.note("\(Self.name): \(n)") }
        for f in result.summary.floatOps { context.note("\(Self.name): kept float: \(f)") }
        return result.summary.quantizedOps > 0
    }
}
