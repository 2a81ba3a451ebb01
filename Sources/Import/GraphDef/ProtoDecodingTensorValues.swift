import FlatBuffers
import IR
import Ops
import Support
import TFProto

// Turns a TensorProto into typed element arrays with TensorFlow's rules
// (tensor.cc `Tensor::FromProto`, tensor.proto):
// - non-empty `tensor_content` is the raw little-endian row-major buffer and must be
//   exactly elementCount × elementSize bytes;
// - otherwise the typed `*_val` list is used: an empty list means all zeros (empty
//   strings), a shorter list repeats its last value, a longer one is cut to the shape
//   (TensorFlow copies the first n values);
// - DT_INT8 / DT_UINT8 / DT_INT16 come from `int_val`, truncated like C++'s static_cast.

/// Decoded elements of a constant tensor, row-major, with its fully known shape.
public struct TFTensorValues: Equatable, Sendable {
    public enum Elements: Equatable, Sendable {
        case float([Float])
        case double([Double])
        case int32([Int32])
        case int64([Int64])
        case uint8([UInt8])
        case int8([Int8])
        case int16([Int16])
        case bool([Bool])
        case string([[UInt8]])
    }

    public var shape: [Int]
    public var elements: Elements

    public init(shape: [Int], elements: Elements) {
        self.shape = shape
        self.elements = elements
    }

    public var count: Int {
        switch elements {
        case .float(let v): v.count
        case .double(let v): v.count
        case .int32(let v): v.count
        case .int64(let v): v.count
        case .uint8(let v): v.count
        case .int8(let v): v.count
        case .int16(let v): v.count
        case .bool(let v): v.count
        case .string(let v): v.count
        }
    }
}

extension TFTensor {
    /// Largest decoded size accepted (2 GiB, TensorFlow's own protobuf limit). Guards
    /// against a tiny proto whose shape asks for a huge broadcast.
    public static let maxDecodedByteCount = 1 << 31

    /// The tensor's elements as a typed array. `nodeName` and `op` only label errors,
    /// e.g. "Const node 'w': tensor_content has 12 bytes but shape [2,3] FLOAT needs 24".
    ///
    /// Supported dtypes: FLOAT, DOUBLE, INT32, INT64, UINT8, INT8, INT16, BOOL, STRING.
    public func decodedValues(nodeName: String, op: String = "Const") throws -> TFTensorValues {
        func fail(_ detail: String) -> ProtoDecodeError {
            .invalidTensor(op: op, node: nodeName, detail: detail)
        }
        let typeName = TFDataType.describe(raw: dtype)
        guard let dataType = TFDataType(raw: dtype) else {
            throw fail("tensor has unsupported dtype \(typeName)")
        }
        guard let dims = shape.dims, dims.allSatisfy({ $0 >= 0 }) else {
            throw fail("tensor shape \(shape) is not fully known")
        }
        var count = 1
        for dim in dims {
            let (product, overflow) = count.multipliedReportingOverflow(by: Int(dim))
            guard !overflow else { throw fail("tensor shape \(shape) has too many elements") }
            count = product
        }
        let shapeInts = dims.map { Int($0) }

        func elementsOfSize(_ size: Int) throws -> Int {
            let (bytes, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow, bytes <= Self.maxDecodedByteCount else {
                throw fail("tensor shape \(shape) \(typeName) needs more than \(Self.maxDecodedByteCount) bytes")
            }
            if !content.isEmpty && content.count != bytes {
                throw fail("tensor_content has \(content.count) bytes but shape \(shape) \(typeName) needs \(bytes)")
            }
            return count
        }

        /// Elements from tensor_content (little-endian `Word`s) or from the typed list.
        func values<Word: FixedWidthInteger, T>(_ list: [T], zero: T, _ convert: (Word) -> T) throws -> [T] {
            let n = try elementsOfSize(MemoryLayout<Word>.size)
            return content.isEmpty ? Self.broadcast(list, to: n, zero: zero) : Self.littleEndian(content, n, convert)
        }

        let elements: TFTensorValues.Elements
        switch dataType {
        case .float:
            elements = .float(try values(floatVal, zero: 0) { (w: UInt32) in Float(bitPattern: w) })
        case .double:
            elements = .double(try values(doubleVal, zero: 0) { (w: UInt64) in Double(bitPattern: w) })
        case .int32:
            elements = .int32(try values(intVal, zero: 0) { (w: UInt32) in Int32(bitPattern: w) })
        case .int64:
            elements = .int64(try values(int64Val, zero: 0) { (w: UInt64) in Int64(bitPattern: w) })
        case .int16:
            let list = intVal.map { Int16(truncatingIfNeeded: $0) }
            elements = .int16(try values(list, zero: 0) { (w: UInt16) in Int16(bitPattern: w) })
        case .int8:
            let list = intVal.map { Int8(truncatingIfNeeded: $0) }
            elements = .int8(try values(list, zero: 0) { (w: UInt8) in Int8(bitPattern: w) })
        case .uint8:
            let list = intVal.map { UInt8(truncatingIfNeeded: $0) }
            elements = .uint8(try values(list, zero: 0) { (w: UInt8) in w })
        case .bool:
            elements = .bool(try values(boolVal, zero: false) { (w: UInt8) in w != 0 })
        case .string:
            // TensorFlow writes string tensors with string_val; its tensor_content form
            // (an encoded string list) is not produced by tf.make_tensor_proto.
            guard content.isEmpty else { throw fail("STRING tensor stored in tensor_content is not supported") }
            // Each element is an Array header; bound the element count like the bytes.
            _ = try elementsOfSize(MemoryLayout<[UInt8]>.stride)
            elements = .string(Self.broadcast(stringVal, to: count, zero: []))
        default:
            throw fail("tensor has unsupported dtype \(typeName)")
        }
        return TFTensorValues(shape: shapeInts, elements: elements)
    }

    /// TensorFlow's FromProtoField: empty → `zero` (T() in C++), short → repeat the last
    /// value, long → first `count`.
    package static func broadcast<T>(_ values: [T], to count: Int, zero: T) -> [T] {
        guard let last = values.last else { return Array(repeating: zero, count: count) }
        if values.count >= count { return Array(values.prefix(count)) }
        return values + Array(repeating: last, count: count - values.count)
    }

    /// Reads `count` little-endian words of type `Word` from `bytes` (length already
    /// checked) and converts each with `convert`.
    package static func littleEndian<Word: FixedWidthInteger, T>(
        _ bytes: [UInt8], _ count: Int, _ convert: (Word) -> T
    ) -> [T] {
        bytes.withUnsafeBytes { raw in
            (0..<count).map {
                convert(
                    Word(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<Word>.size, as: Word.self)))
            }
        }
    }
}
