import FlatBuffers
import Support

/// A tensor of one subgraph: a runtime value or a constant (its buffer holds data).
public struct Value: Hashable, Sendable {
    public var name: String
    public var type: ElementType
    public var shape: [Int32]
    /// −1 marks a dynamic dimension; nil when the file gave none (fully static).
    public var shapeSignature: [Int32]?
    public var hasRank: Bool
    public var isVariable: Bool
    public var buffer: BufferID
    /// The graph node or op this value came from, for pairing layers across models.
    public var provenance: String?
    /// A sparse constant's encoding (its buffer holds the stored values only); nil when dense.
    public var sparsity: Sparsity?

    public init(name: String, type: ElementType, shape: [Int32], shapeSignature: [Int32]? = nil, hasRank: Bool = true, isVariable: Bool = false, buffer: BufferID = .none, provenance: String? = nil) {
        self.name = name
        self.type = type
        self.shape = shape
        self.shapeSignature = shapeSignature
        self.hasRank = hasRank
        self.isVariable = isVariable
        self.buffer = buffer
        self.provenance = provenance
    }

    public var dtype: DType { type.dtype }
    public var quantization: Quantization? { type.quantization }
    public var rank: Int { shape.count }
    /// Number of elements, nil on overflow or a negative dimension.
    public var elementCount: Int? { Self.elementCount(shape) }
    public static func elementCount(_ shape: [Int32]) -> Int? { checkedElementCount(shape) }

    /// The product of the dimensions; nil for a negative dimension, or when the product of the
    /// non-zero ones overflows — an empty tensor may not declare [0, 2^31, 2^31, 2^31] either,
    /// so that no partial product a kernel or pass computes over a shape can overflow.
    package static func checkedElementCount<S: Sequence>(_ shape: S) -> Int? where S.Element: BinaryInteger {
        var nonZero = 1
        var empty = false
        for d in shape {
            guard d >= 0, let dim = Int(exactly: d) else { return nil }
            if dim == 0 { empty = true; continue }
            let (m, o) = nonZero.multipliedReportingOverflow(by: dim)
            if o { return nil }
            nonZero = m
        }
        return empty ? 0 : nonZero
    }
    /// Bytes the data of a fixed-size dtype occupies, nil when unknown.
    public var expectedByteCount: Int? {
        guard sparsity == nil, let n = elementCount, let s = dtype.byteSize else { return nil }
        let (b, o) = n.multipliedReportingOverflow(by: s)
        return o ? nil : b
    }
    /// True when the batch (or any) dimension is dynamic.
    public var isDynamic: Bool { shapeSignature?.contains(-1) ?? false }
}
