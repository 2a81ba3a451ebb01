/// A bounds-checked reader for the FlexBuffers maps TFLite custom ops keep their options in
/// (`Operator.custom_options` with `custom_options_format` FLEXBUFFERS).
///
/// Facts from the FlexBuffers format (google/flatbuffers `docs/source/flexbuffers.md` and
/// `include/flatbuffers/flexbuffers.h`):
/// - The root is at the end: the last byte is the root's byte width, the byte before it the
///   root's packed type, and the root value sits just before that, in the root's byte width.
/// - A packed type byte is `type << 2 | log2(width)`; the width is that of the value's own
///   elements when the value lives elsewhere (maps, vectors, strings, indirect scalars).
/// - Inline scalars (NULL, INT, UINT, FLOAT, BOOL) are stored in the parent's width; every other
///   value is an unsigned offset counted backwards from where it is stored.
/// - A map stores, before its values, the offset to its keys vector, that vector's byte width
///   and its size (each one parent width, in that order); its values follow, then one packed type
///   byte per value. Keys are sorted (strcmp) and each is an offset to a NUL-terminated string.
public struct FlexBufferMap: Sendable {
    /// A map value: the scalars custom-op options use; anything else is kept as its type code.
    public enum Value: Sendable, Equatable {
        case int(Int64)
        case uint(UInt64)
        case float(Double)
        case bool(Bool)
        case null
        case other(type: UInt8)

        /// The value as flexbuffers' `AsInt64` converts a scalar (floats truncate toward zero,
        /// saturating); nil for non-scalars.
        public var int64: Int64? {
            switch self {
            case .int(let v): v
            case .uint(let v): Int64(truncatingIfNeeded: v)
            case .float(let v): v.isNaN ? 0 : (v >= 0x1p63 ? .max : (v <= -0x1p63 ? .min : Int64(v)))
            case .bool(let v): v ? 1 : 0
            case .null: 0
            case .other: nil
            }
        }
    }

    /// Keys in stored (sorted) order with their values; TFLM's `FlexbufferWrapper` addresses a
    /// map's values by this position.
    public let entries: [(key: String, value: Value)]

    public subscript(_ key: String) -> Value? { entries.first { $0.key == key }?.value }

    private enum FlexType: UInt8 {
        case null = 0, int = 1, uint = 2, float = 3, key = 4, string = 5
        case indirectInt = 6, indirectUInt = 7, indirectFloat = 8, map = 9
        case bool = 26
    }

    /// Reads the root of `bytes`, which must be a map (an empty buffer is an empty map, as custom
    /// ops without options are written).
    public init(_ bytes: [UInt8]) throws {
        if bytes.isEmpty {
            entries = []
            return
        }
        let reader = Reader(bytes: bytes)
        guard bytes.count >= 3 else { throw reader.error(0, "flexbuffer of \(bytes.count) bytes is too short") }
        let rootWidth = Int(bytes[bytes.count - 1])
        let packed = bytes[bytes.count - 2]
        guard [1, 2, 4, 8].contains(rootWidth), bytes.count - 2 >= rootWidth else {
            throw reader.error(bytes.count - 1, "flexbuffer root width \(rootWidth) is invalid")
        }
        let rootAt = bytes.count - 2 - rootWidth
        guard packed >> 2 == FlexType.map.rawValue else {
            throw reader.error(bytes.count - 2, "flexbuffer root has type \(packed >> 2), expected a map (9)")
        }
        let map = try reader.target(at: rootAt, width: rootWidth)
        let width = 1 << Int(packed & 3)
        let size = try reader.count(at: map - width, width: width)
        let keysAt = try reader.target(at: map - 3 * width, width: width)
        let keysWidth = Int(try reader.unsigned(at: map - 2 * width, width: width))
        guard [1, 2, 4, 8].contains(keysWidth) else { throw reader.error(map - 2 * width, "flexbuffer map keys width \(keysWidth) is invalid") }
        let keyCount = try reader.count(at: keysAt - keysWidth, width: keysWidth)
        guard keyCount == size else { throw reader.error(map - width, "flexbuffer map has \(size) values but \(keyCount) keys") }
        var entries: [(key: String, value: Value)] = []
        for i in 0..<size {
            let key = try reader.string(at: try reader.target(at: keysAt + i * keysWidth, width: keysWidth))
            let typeByte = try reader.byte(at: map + size * width + i)
            entries.append((key, try reader.value(at: map + i * width, width: width, packed: typeByte)))
        }
        self.entries = entries
    }

    private struct Reader {
        let bytes: [UInt8]

        func error(_ at: Int, _ message: String) -> FlatBufferError {
            FlatBufferError(kind: .offsetOutOfRange, offset: at, context: "flexbuffer", detail: message)
        }

        func byte(at i: Int) throws -> UInt8 {
            guard i >= 0, i < bytes.count else { throw error(i, "flexbuffer read past its end") }
            return bytes[i]
        }

        func unsigned(at i: Int, width: Int) throws -> UInt64 {
            guard i >= 0, width <= bytes.count, i <= bytes.count - width else { throw error(i, "flexbuffer read past its end") }
            var v: UInt64 = 0
            for k in 0..<width { v |= UInt64(bytes[i + k]) << (8 * k) }
            return v
        }

        func signed(at i: Int, width: Int) throws -> Int64 {
            let u = try unsigned(at: i, width: width)
            let unused = 64 - 8 * width
            return Int64(bitPattern: u << unused) >> unused
        }

        /// An element count, which must fit in the buffer.
        func count(at i: Int, width: Int) throws -> Int {
            let n = try unsigned(at: i, width: width)
            guard n <= UInt64(bytes.count) else { throw error(i, "flexbuffer size \(n) exceeds the buffer") }
            return Int(n)
        }

        /// Where the backward offset stored at `i` points.
        func target(at i: Int, width: Int) throws -> Int {
            let offset = try unsigned(at: i, width: width)
            guard offset <= UInt64(i) else { throw error(i, "flexbuffer offset \(offset) points before the buffer") }
            return i - Int(offset)
        }

        func string(at i: Int) throws -> String {
            guard i >= 0, i < bytes.count, let end = bytes[i...].firstIndex(of: 0) else {
                throw error(i, "flexbuffer key is not NUL-terminated")
            }
            return String(decoding: bytes[i..<end], as: UTF8.self)
        }

        func float(at i: Int, width: Int) throws -> Double {
            switch width {
            case 4: return Double(Float(bitPattern: UInt32(try unsigned(at: i, width: 4))))
            case 8: return Double(bitPattern: try unsigned(at: i, width: 8))
            default: throw error(i, "flexbuffer float of \(width) bytes")
            }
        }

        func value(at i: Int, width: Int, packed: UInt8) throws -> Value {
            let childWidth = 1 << Int(packed & 3)
            guard let type = FlexType(rawValue: packed >> 2) else { return .other(type: packed >> 2) }
            switch type {
            case .null: return .null
            case .int: return .int(try signed(at: i, width: width))
            case .uint: return .uint(try unsigned(at: i, width: width))
            case .bool: return .bool(try unsigned(at: i, width: width) != 0)
            case .float: return .float(try float(at: i, width: width))
            case .indirectInt: return .int(try signed(at: try target(at: i, width: width), width: childWidth))
            case .indirectUInt: return .uint(try unsigned(at: try target(at: i, width: width), width: childWidth))
            case .indirectFloat: return .float(try float(at: try target(at: i, width: width), width: childWidth))
            case .key, .string, .map: return .other(type: type.rawValue)
            }
        }
    }
}
