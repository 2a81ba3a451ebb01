import IR
import Support

/// How calibration turns the values a tensor took into the range its int8 parameters cover.
///
/// - `minMax`: the smallest and largest value seen (TF's converter).
/// - `percentile(P)`: the (100−P)-th and P-th percentiles, so rare outliers stop stretching
///   the scale.
/// - `mse`: the range whose int8 parameters give the smallest expected squared error over the
///   calibration values, clipping included (`RangeSearch`), as TensorRT's and AIMET's MSE
///   calibrators choose it.
/// - `search`: per tensor, whichever of the min/max, percentile 99.99 / 99.9 and mse ranges gives
///   the smallest error of the quantized model's outputs on the calibration samples
///   (`OutputErrorRangeSearch`): the criterion is the output error itself, not each tensor's own.
public enum RangeMethod: Hashable, Sendable, CustomStringConvertible {
    case minMax
    case percentile(Double)
    case mse
    case search

    /// What `--quantize int8` uses when no method is named.
    public static let `default` = RangeMethod.minMax

    /// Parses `minmax`, `percentile:P` (50 < P ≤ 100), `mse` or `search`.
    public init(parsing text: String) throws {
        switch text.lowercased() {
        case "minmax", "min-max", "min/max": self = .minMax
        case "mse": self = .mse
        case "search": self = .search
        default:
            let parts = text.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "percentile" else {
                throw QuantizeError.badOption("'\(text)' is not a range method: expected minmax, percentile:P (e.g. percentile:99.99), mse or search")
            }
            guard let p = Double(parts[1]), p > 50, p <= 100 else {
                throw QuantizeError.badOption("'\(text)': the percentile must be a number in (50, 100], e.g. 99.99")
            }
            self = .percentile(p)
        }
    }

    /// Whether calibration needs the second, histogram pass.
    var needsHistogram: Bool {
        switch self {
        case .minMax: false
        case .percentile(let p): p < 100
        case .mse, .search: true
        }
    }

    /// As the summary line prints it: "min/max", "percentile 99.99", "mse".
    public var description: String {
        switch self {
        case .minMax: "min/max"
        case .percentile(let p): "percentile \(p)"
        case .mse: "mse"
        case .search: "search (by output error)"
        }
    }
}
