/// A sparse tensor's encoding: LiteRT schema.fbs `SparsityParameters`. The tensor's buffer then
/// holds only the stored values, in traversal order; `Value.shape` is the dense shape.
///
/// schema.fbs: the dense tensor of rank n is seen as n + k dimensions, where the k block
/// dimensions (`block_map[j]` is the original dimension block j splits) follow the n original
/// ones (each divided by its block size). `traversal_order` lists those n + k dimensions in
/// storage order and `dim_metadata` describes each in that order: DENSE (all `dense_size`
/// indices present) or SPARSE_CSR (for each position of the dimension before it,
/// `array_segments[p] ..< array_segments[p + 1]` index `array_indices`, the coordinates present).
public struct Sparsity: Hashable, Sendable {
    public enum Format: Int8, Hashable, Sendable {
        case dense = 0
        case sparseCSR = 1
    }

    /// schema.fbs `SparseIndexVector`: the union's type (1 Int32Vector, 2 Uint16Vector,
    /// 3 Uint8Vector) is kept, so a round trip writes the same vector type back.
    public struct IndexVector: Hashable, Sendable {
        public var unionType: UInt8
        public var values: [Int32]
        public init(unionType: UInt8, values: [Int32]) {
            self.unionType = unionType
            self.values = values
        }
    }

    /// schema.fbs `DimensionMetadata`.
    public struct Dimension: Hashable, Sendable {
        public var format: Format
        public var denseSize: Int32
        public var segments: IndexVector?
        public var indices: IndexVector?
        public init(format: Format, denseSize: Int32 = 0, segments: IndexVector? = nil, indices: IndexVector? = nil) {
            self.format = format
            self.denseSize = denseSize
            self.segments = segments
            self.indices = indices
        }
    }

    public var traversalOrder: [Int32]
    public var blockMap: [Int32]
    public var dimensions: [Dimension]

    public init(traversalOrder: [Int32], blockMap: [Int32] = [], dimensions: [Dimension]) {
        self.traversalOrder = traversalOrder
        self.blockMap = blockMap
        self.dimensions = dimensions
    }

    /// All dimensions dense in their natural order: the encoding of a dense tensor.
    public static func allDense(_ shape: [Int32]) -> Sparsity {
        Sparsity(traversalOrder: shape.indices.map(Int32.init), dimensions: shape.map { Dimension(format: .dense, denseSize: $0) })
    }
}
