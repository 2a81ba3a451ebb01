import FlatBuffers
import IR
import Ops
import Support
import TFProto

// Typed reads of NodeDef attributes. A missing attribute takes the OpDef default the
// caller passes (TF's op definitions list them); a present one of the wrong kind is an error
// naming the node, since guessing would silently change the model's meaning.

extension TFNodeDef {
    package func invalid(_ message: String) -> GraphDefImportError {
        .invalidNode(node: name, op: op, message: message)
    }

    package func attrInt(_ key: String, default d: Int? = nil) throws -> Int {
        switch attrs[key] {
        case .i(let v)?:
            guard let i = Int(exactly: v) else { throw invalid("attribute '\(key)' = \(v) is out of range") }
            return i
        case nil:
            if let d { return d }
            throw invalid("attribute '\(key)' is missing")
        case let other?:
            throw invalid("attribute '\(key)' should be an int, got \(Self.kind(other))")
        }
    }

    package func attrBool(_ key: String, default d: Bool) throws -> Bool {
        switch attrs[key] {
        case .b(let v)?: return v
        case nil: return d
        case let other?: throw invalid("attribute '\(key)' should be a bool, got \(Self.kind(other))")
        }
    }

    package func attrFloat(_ key: String, default d: Float) throws -> Float {
        switch attrs[key] {
        case .f(let v)?: return v
        case nil: return d
        case let other?: throw invalid("attribute '\(key)' should be a float, got \(Self.kind(other))")
        }
    }

    package func attrString(_ key: String, default d: String? = nil) throws -> String {
        switch attrs[key] {
        case .s(let bytes)?: return String(decoding: bytes, as: UTF8.self)
        case nil:
            if let d { return d }
            throw invalid("attribute '\(key)' is missing")
        case let other?: throw invalid("attribute '\(key)' should be a string, got \(Self.kind(other))")
        }
    }

    /// A list(int) attribute; nil when absent.
    package func attrInts(_ key: String) throws -> [Int]? {
        switch attrs[key] {
        case .list(let l)?:
            return try l.i.map { v in
                // A range test, not abs(): abs(Int.min) overflows.
                guard let i = Int(exactly: v), i > -Int(Int32.max), i < Int(Int32.max) else {
                    throw invalid("attribute '\(key)' holds \(v), out of range")
                }
                return i
            }
        case nil: return nil
        case let other?: throw invalid("attribute '\(key)' should be a list of ints, got \(Self.kind(other))")
        }
    }

    /// A `type` attribute as a raw DataType number; nil when absent.
    package func attrType(_ key: String) throws -> Int32? {
        switch attrs[key] {
        case .type(let t)?: return t
        case nil: return nil
        case let other?: throw invalid("attribute '\(key)' should be a type, got \(Self.kind(other))")
        }
    }

    package func attrShape(_ key: String) throws -> TFTensorShape? {
        switch attrs[key] {
        case .shape(let s)?: return s
        case nil: return nil
        case let other?: throw invalid("attribute '\(key)' should be a shape, got \(Self.kind(other))")
        }
    }

    package func attrTensor(_ key: String) throws -> TFTensor {
        switch attrs[key] {
        case .tensor(let t)?: return t
        case nil: throw invalid("attribute '\(key)' is missing")
        case let other?: throw invalid("attribute '\(key)' should be a tensor, got \(Self.kind(other))")
        }
    }

    /// `data_format`: only NHWC is lowered (TFLite kernels are NHWC; TF's op definitions: the MLIR
    /// converter does not legalize NCHW either).
    package func requireNHWC() throws {
        let format = try attrString("data_format", default: "NHWC")
        guard format == "NHWC" else {
            throw invalid("data_format \(format) is not supported (only NHWC; TFLite kernels are NHWC)")
        }
    }

    /// The element type of output 0: `T`, `dtype`, `out_type` or `DstT`, in that order;
    /// float when the op has none of them (e.g. Mfcc).
    package func outputType() throws -> Int32 {
        for key in ["T", "dtype", "out_type", "DstT"] {
            if let t = try attrType(key) { return t }
        }
        return TFDataType.float.rawValue
    }

    package static func kind(_ v: TFAttrValue) -> String {
        switch v {
        case .list: "a list"
        case .s: "a string"
        case .i: "an int"
        case .f: "a float"
        case .b: "a bool"
        case .type: "a type"
        case .shape: "a shape"
        case .tensor: "a tensor"
        case .placeholder: "a placeholder"
        case .func: "a function"
        }
    }
}

extension DType {
    /// The TFLite tensor type for a TensorFlow DataType, nil when TFLite has none we emit.
    package init?(tensorFlow raw: Int32) {
        guard let t = TFDataType(raw: raw) else { return nil }
        switch t {
        case .float: self = .float32
        case .double: self = .float64
        case .int32: self = .int32
        case .int64: self = .int64
        case .uint8: self = .uint8
        case .int8: self = .int8
        case .int16: self = .int16
        case .uint16: self = .uint16
        case .bool: self = .bool
        case .half: self = .float16
        case .uint32: self = .uint32
        case .uint64: self = .uint64
        default: return nil
        }
    }
}

