import FlatBuffers
import Support

/// Model.buffers entry. Empty data means "not a constant".
public struct Buffer: Hashable, Sendable {
    public var data: ByteSlice?
    public init(data: ByteSlice? = nil) { self.data = data }
    public var isEmpty: Bool { data?.isEmpty ?? true }
    public var byteCount: Int { data?.count ?? 0 }
    public static let empty = Buffer()
}

public struct Metadata: Hashable, Sendable {
    public var name: String
    public var buffer: BufferID
    public init(name: String, buffer: BufferID) {
        self.name = name
        self.buffer = buffer
    }
}

public struct SignatureDef: Hashable, Sendable {
    public struct TensorMap: Hashable, Sendable {
        public var name: String
        public var tensor: ValueID
        public init(name: String, tensor: ValueID) {
            self.name = name
            self.tensor = tensor
        }
    }
    public var key: String?
    public var inputs: [TensorMap]
    public var outputs: [TensorMap]
    public var subgraph: Int
    public init(key: String?, inputs: [TensorMap], outputs: [TensorMap], subgraph: Int) {
        self.key = key
        self.inputs = inputs
        self.outputs = outputs
        self.subgraph = subgraph
    }
}

/// A whole model: subgraphs (0 is the entry point) and the buffers their constants live in.
public struct Model: Hashable, Sendable {
    public var version: UInt32
    public var description: String?
    public var subgraphs: [Graph]
    /// `buffers[0]` is the schema's empty sentinel.
    public var buffers: [Buffer]
    public var metadata: [Metadata]
    /// Deprecated Model.metadata_buffer, kept for round trips.
    public var metadataBuffer: [Int32]?
    public var signatureDefs: [SignatureDef]

    public init(version: UInt32 = 3, description: String? = nil, subgraphs: [Graph] = [], buffers: [Buffer] = [.empty], metadata: [Metadata] = [], metadataBuffer: [Int32]? = nil, signatureDefs: [SignatureDef] = []) {
        self.version = version
        self.description = description
        self.subgraphs = subgraphs
        self.buffers = buffers
        self.metadata = metadata
        self.metadataBuffer = metadataBuffer
        self.signatureDefs = signatureDefs
    }

    public var main: Graph {
        get { subgraphs[0] }
        set { subgraphs[0] = newValue }
    }

    /// Constant bytes of a value, nil for runtime values.
    public func constantData(_ value: Value) -> ByteSlice? {
        let b = value.buffer.index
        guard b > 0, b < buffers.count, let d = buffers[b].data, !d.isEmpty else { return nil }
        return d
    }
    public func isConstant(_ value: Value) -> Bool { constantData(value) != nil }
    public func isConstant(_ id: ValueID, in graph: Int = 0) -> Bool {
        !id.isAbsent && isConstant(subgraphs[graph][id])
    }

    /// Adds a buffer and returns its id.
    @discardableResult
    public mutating func addBuffer(_ data: ByteSlice) -> BufferID {
        buffers.append(Buffer(data: data))
        return BufferID(buffers.count - 1)
    }

    /// Adds a constant value with fresh data to a subgraph.
    @discardableResult
    public mutating func addConstant(_ value: Value, data: ByteSlice, in graph: Int = 0) -> ValueID {
        var v = value
        v.buffer = addBuffer(data)
        return subgraphs[graph].addValue(v)
    }

    /// The metadata entry named `name`, with its bytes.
    public func metadata(named name: String) -> ByteSlice? {
        guard let m = metadata.first(where: { $0.name == name }), m.buffer.index < buffers.count else { return nil }
        return buffers[m.buffer.index].data
    }
}
