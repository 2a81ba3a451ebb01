import FlatBuffers
import Support

/// TFLite `TensorType` (schema enum, int8). Unknown codes are kept so a file round-trips.
public struct DType: Hashable, Sendable, CustomStringConvertible {
    public var code: Int8
    public init(code: Int8) { self.code = code }

    public static let float32 = DType(code: 0)
    public static let float16 = DType(code: 1)
    public static let int32 = DType(code: 2)
    public static let uint8 = DType(code: 3)
    public static let int64 = DType(code: 4)
    public static let string = DType(code: 5)
    public static let bool = DType(code: 6)
    public static let int16 = DType(code: 7)
    public static let complex64 = DType(code: 8)
    public static let int8 = DType(code: 9)
    public static let float64 = DType(code: 10)
    public static let complex128 = DType(code: 11)
    public static let uint64 = DType(code: 12)
    public static let resource = DType(code: 13)
    public static let variant = DType(code: 14)
    public static let uint32 = DType(code: 15)
    public static let uint16 = DType(code: 16)
    public static let int4 = DType(code: 17)
    public static let bfloat16 = DType(code: 18)
    public static let int2 = DType(code: 19)
    public static let uint4 = DType(code: 20)

    private static let names: [String] = [
        "FLOAT32", "FLOAT16", "INT32", "UINT8", "INT64", "STRING", "BOOL", "INT16", "COMPLEX64", "INT8",
        "FLOAT64", "COMPLEX128", "UINT64", "RESOURCE", "VARIANT", "UINT32", "UINT16", "INT4", "BFLOAT16",
        "INT2", "UINT4",
    ]
    /// Schema name, e.g. "INT8"; unknown codes print as "TYPE_<n>".
    public var name: String {
        code >= 0 && Int(code) < Self.names.count ? Self.names[Int(code)] : "TYPE_\(code)"
    }
    public init?(name: String) {
        guard let i = Self.names.firstIndex(of: name.uppercased()) else { return nil }
        self.code = Int8(i)
    }
    /// Short form used by the IR text printer: f32, i8, ...
    public var shortName: String {
        switch self {
        case .float32: "f32"
        case .float16: "f16"
        case .float64: "f64"
        case .int8: "i8"
        case .int16: "i16"
        case .int32: "i32"
        case .int64: "i64"
        case .uint8: "u8"
        case .uint16: "u16"
        case .uint32: "u32"
        case .uint64: "u64"
        case .bool: "i1"
        case .int4: "i4"
        default: name.lowercased()
        }
    }
    public var description: String { name }

    /// Bytes per element (schema_utils TensorTypeGetSize); nil for variable-size or sub-byte types.
    public var byteSize: Int? {
        switch self {
        case .float32, .int32, .uint32: 4
        case .float16, .int16, .uint16, .bfloat16: 2
        case .uint8, .int8, .bool: 1
        case .int64, .uint64, .float64, .complex64: 8
        case .complex128: 16
        default: nil
        }
    }
    public var isFloatingPoint: Bool { self == .float32 || self == .float16 || self == .float64 || self == .bfloat16 }
}
