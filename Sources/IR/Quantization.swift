import FlatBuffers
import Support

/// Affine quantization: real = scale · (q − zeroPoint). Per-tensor when `scales.count == 1`,
/// per-channel along `axis` otherwise (schema QuantizationParameters).
public struct Quantization: Hashable, Sendable {
    public var scales: [Float]
    public var zeroPoints: [Int64]
    public var axis: Int32
    public var min: [Float]
    public var max: [Float]
    /// CustomQuantization details (union tag 1): opaque bytes, kept for round trips.
    public var customDetails: [UInt8]?

    public init(scales: [Float], zeroPoints: [Int64], axis: Int32 = 0, min: [Float] = [], max: [Float] = [], customDetails: [UInt8]? = nil) {
        self.scales = scales
        self.zeroPoints = zeroPoints
        self.axis = axis
        self.min = min
        self.max = max
        self.customDetails = customDetails
    }
    public static func perTensor(scale: Float, zeroPoint: Int64) -> Quantization {
        Quantization(scales: [scale], zeroPoints: [zeroPoint])
    }
    public var isPerChannel: Bool { scales.count > 1 }
    /// True when the parameters actually quantize something (a table with empty arrays is only a placeholder).
    public var hasScales: Bool { !scales.isEmpty }
    public var scale: Float? { scales.count == 1 ? scales[0] : nil }
    public var zeroPoint: Int64? { zeroPoints.count >= 1 ? zeroPoints[0] : nil }
}

/// A tensor's element type: the storage dtype plus how its integers map to reals.
public struct ElementType: Hashable, Sendable, CustomStringConvertible {
    public var dtype: DType
    public var quantization: Quantization?
    public init(_ dtype: DType, quantization: Quantization? = nil) {
        self.dtype = dtype
        self.quantization = quantization
    }
    public var isQuantized: Bool { quantization?.hasScales ?? false }
    public var description: String { dtype.shortName }
}
