import CFloatKernels
import FlatBuffers
import IR
import Support

/// A tensor value the interpreter reads or produces: a dtype, a row-major shape and typed elements.
///
/// The element array and the dtype cannot disagree: the dtype is derived from the storage case.
public struct RuntimeTensor: Hashable, Sendable, CustomStringConvertible {
    public enum Storage: Hashable, Sendable {
        case float32([Float])
        case int8([Int8])
        case uint8([UInt8])
        case int16([Int16])
        case int32([Int32])
        case int64([Int64])
        case uint32([UInt32])
        case uint64([UInt64])
        case bool([Bool])

        public var count: Int {
            switch self {
            case .float32(let a): a.count
            case .int8(let a): a.count
            case .uint8(let a): a.count
            case .int16(let a): a.count
            case .int32(let a): a.count
            case .int64(let a): a.count
            case .uint32(let a): a.count
            case .uint64(let a): a.count
            case .bool(let a): a.count
            }
        }
    }

    public var shape: [Int]
    public var storage: Storage

    /// The dtypes a RuntimeTensor can hold.
    public static let supportedDTypes: [DType] = [.float32, .int8, .uint8, .int16, .int32, .int64, .uint32, .uint64, .bool]

    public var dtype: DType {
        switch storage {
        case .float32: .float32
        case .int8: .int8
        case .uint8: .uint8
        case .int16: .int16
        case .int32: .int32
        case .int64: .int64
        case .uint32: .uint32
        case .uint64: .uint64
        case .bool: .bool
        }
    }

    /// Fails (nil) when the element count does not match the shape or a dimension is negative.
    public init?(shape: [Int], storage: Storage) {
        guard let n = RuntimeTensor.elementCount(shape), n == storage.count else { return nil }
        self.shape = shape
        self.storage = storage
    }

    /// For callers that already know the count matches; a mismatch is a programming error.
    package init(unchecked shape: [Int], _ storage: Storage) {
        self.shape = shape
        self.storage = storage
    }

    public init?(shape: [Int], floats: [Float]) { self.init(shape: shape, storage: .float32(floats)) }
    public init?(shape: [Int], int8s: [Int8]) { self.init(shape: shape, storage: .int8(int8s)) }
    public init?(shape: [Int], uint8s: [UInt8]) { self.init(shape: shape, storage: .uint8(uint8s)) }
    public init?(shape: [Int], int16s: [Int16]) { self.init(shape: shape, storage: .int16(int16s)) }
    public init?(shape: [Int], int32s: [Int32]) { self.init(shape: shape, storage: .int32(int32s)) }
    public init?(shape: [Int], int64s: [Int64]) { self.init(shape: shape, storage: .int64(int64s)) }
    public init?(shape: [Int], uint32s: [UInt32]) { self.init(shape: shape, storage: .uint32(uint32s)) }
    public init?(shape: [Int], uint64s: [UInt64]) { self.init(shape: shape, storage: .uint64(uint64s)) }
    public init?(shape: [Int], bools: [Bool]) { self.init(shape: shape, storage: .bool(bools)) }

    /// A zero-filled tensor; nil for a dtype a RuntimeTensor cannot hold or a bad shape.
    public static func zeros(_ dtype: DType, shape: [Int]) -> RuntimeTensor? {
        guard let n = elementCount(shape) else { return nil }
        switch dtype {
        case .float32: return RuntimeTensor(unchecked: shape, .float32(Array(repeating: 0, count: n)))
        case .int8: return RuntimeTensor(unchecked: shape, .int8(Array(repeating: 0, count: n)))
        case .uint8: return RuntimeTensor(unchecked: shape, .uint8(Array(repeating: 0, count: n)))
        case .int16: return RuntimeTensor(unchecked: shape, .int16(Array(repeating: 0, count: n)))
        case .int32: return RuntimeTensor(unchecked: shape, .int32(Array(repeating: 0, count: n)))
        case .int64: return RuntimeTensor(unchecked: shape, .int64(Array(repeating: 0, count: n)))
        case .uint32: return RuntimeTensor(unchecked: shape, .uint32(Array(repeating: 0, count: n)))
        case .uint64: return RuntimeTensor(unchecked: shape, .uint64(Array(repeating: 0, count: n)))
        case .bool: return RuntimeTensor(unchecked: shape, .bool(Array(repeating: false, count: n)))
        default: return nil
        }
    }

    /// Little-endian element bytes of a dtype a RuntimeTensor can hold (bool: one byte 0/1).
    public init?(dtype: DType, shape: [Int], littleEndianBytes bytes: [UInt8]) {
        guard let n = RuntimeTensor.elementCount(shape), let size = dtype.byteSize,
              RuntimeTensor.supportedDTypes.contains(dtype) else { return nil }
        let (total, overflow) = n.multipliedReportingOverflow(by: size)
        guard !overflow, bytes.count == total else { return nil }
        func load<T: FixedWidthInteger>(_: T.Type) -> [T] {
            bytes.withUnsafeBytes { raw in
                (0..<n).map { T(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * size, as: T.self)) }
            }
        }
        switch dtype {
        case .float32: storage = .float32(load(UInt32.self).map(Float.init(bitPattern:)))
        case .int8: storage = .int8(load(Int8.self))
        case .uint8: storage = .uint8(bytes)
        case .int16: storage = .int16(load(Int16.self))
        case .int32: storage = .int32(load(Int32.self))
        case .int64: storage = .int64(load(Int64.self))
        case .uint32: storage = .uint32(load(UInt32.self))
        case .uint64: storage = .uint64(load(UInt64.self))
        case .bool: storage = .bool(bytes.map { $0 != 0 })
        default: return nil
        }
        self.shape = shape
    }

    public var elementCount: Int { storage.count }
    public var rank: Int { shape.count }

    public var floats: [Float]? { if case .float32(let a) = storage { return a } else { return nil } }
    public var int8s: [Int8]? { if case .int8(let a) = storage { return a } else { return nil } }
    public var uint8s: [UInt8]? { if case .uint8(let a) = storage { return a } else { return nil } }
    public var int16s: [Int16]? { if case .int16(let a) = storage { return a } else { return nil } }
    public var int32s: [Int32]? { if case .int32(let a) = storage { return a } else { return nil } }
    public var int64s: [Int64]? { if case .int64(let a) = storage { return a } else { return nil } }
    public var uint32s: [UInt32]? { if case .uint32(let a) = storage { return a } else { return nil } }
    public var uint64s: [UInt64]? { if case .uint64(let a) = storage { return a } else { return nil } }
    public var bools: [Bool]? { if case .bool(let a) = storage { return a } else { return nil } }

    /// Every element as a Double (exact for all storable types except 64-bit integers beyond 2^53).
    public var doubles: [Double] {
        switch storage {
        case .float32(let a): a.map(Double.init)
        case .int8(let a): a.map(Double.init)
        case .uint8(let a): a.map(Double.init)
        case .int16(let a): a.map(Double.init)
        case .int32(let a): a.map(Double.init)
        case .int64(let a): a.map(Double.init)
        case .uint32(let a): a.map(Double.init)
        case .uint64(let a): a.map(Double.init)
        case .bool(let a): a.map { $0 ? 1 : 0 }
        }
    }

    /// Integer elements widened to Int64; nil for float32.
    public var integers: [Int64]? {
        switch storage {
        case .float32: nil
        case .int8(let a): a.map(Int64.init)
        case .uint8(let a): a.map(Int64.init)
        case .int16(let a): a.map(Int64.init)
        case .int32(let a): a.map(Int64.init)
        case .int64(let a): a
        case .uint32(let a): a.map(Int64.init)
        case .uint64(let a): a.map { Int64(bitPattern: $0) }
        case .bool(let a): a.map { $0 ? 1 : 0 }
        }
    }

    /// Little-endian bytes of the elements (bool as one byte 0/1).
    public var littleEndianBytes: [UInt8] {
        func bytes<T: FixedWidthInteger>(_ a: [T]) -> [UInt8] {
            var out = [UInt8]()
            out.reserveCapacity(a.count * MemoryLayout<T>.size)
            for v in a {
                var le = v.littleEndian
                withUnsafeBytes(of: &le) { out.append(contentsOf: $0) }
            }
            return out
        }
        switch storage {
        case .float32(let a): return bytes(a.map(\.bitPattern))
        case .int8(let a): return a.map { UInt8(bitPattern: $0) }
        case .uint8(let a): return a
        case .int16(let a): return bytes(a)
        case .int32(let a): return bytes(a)
        case .int64(let a): return bytes(a)
        case .uint32(let a): return bytes(a)
        case .uint64(let a): return bytes(a)
        case .bool(let a): return a.map { $0 ? 1 : 0 }
        }
    }

    /// `f32[1,12]`-style summary.
    public var typeDescription: String {
        "\(dtype.shortName)[\(shape.map(String.init).joined(separator: ","))]"
    }
    public var description: String { typeDescription }

    /// Number of elements of a shape; nil for a negative dimension or overflow.
    /// The product of the dimensions, nil when a partial product could overflow
    /// (`Value.checkedElementCount`).
    public static func elementCount(_ shape: [Int]) -> Int? { Value.checkedElementCount(shape) }
}
