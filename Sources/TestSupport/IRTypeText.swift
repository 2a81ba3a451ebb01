import FlatBuffers
import IR
import Support

/// Types and constant data as `IRPrinter` writes them: `i8[?,64] q(0.1, -128)`, `= [1, 2]`.
enum IRTypeText {
    /// Each dtype by its printed short name (`f32`, `i8`, `i1`, `bfloat16`, `type_99`).
    static let dtypes: [String: DType] = {
        var d: [String: DType] = [:]
        for code in Int8.min...Int8.max {
            let t = DType(code: code)
            if d[t.shortName] == nil { d[t.shortName] = t }
        }
        return d
    }()

    /// `f32[1,?,4] q(…)`: a `?` dimension is dynamic (shape 1, signature −1, as converters write
    /// it); without one the value has no shape signature.
    static func value(_ cursor: inout IRTextCursor, name: String) throws(IRTextFailure) -> Value {
        let short = cursor.take { $0 != "[" && $0 != " " && $0 != "," }
        guard let dtype = dtypes[short] else { throw IRTextFailure("unknown type '\(short)'") }
        try cursor.expect("[", "'[' and the shape after \(short)")
        var shape: [Int32] = []
        var signature: [Int32] = []
        if !cursor.skip("]") {
            repeat {
                if cursor.skip("?") {
                    shape.append(1)
                    signature.append(-1)
                } else {
                    let d = try cursor.integer(Int32.self, "a dimension")
                    shape.append(d)
                    signature.append(d)
                }
            } while cursor.skip(",")
            try cursor.expect("]", "']' after the shape")
        }
        var quantization: Quantization?
        if cursor.skip(" q(") { quantization = try self.quantization(&cursor) }
        return Value(name: name, type: ElementType(dtype, quantization: quantization), shape: shape,
                     shapeSignature: signature.contains(-1) ? signature : nil)
    }

    /// `0.1, -128)` or `axis 3: 8 scales, zp 0)` (the printer shows only how many scales a
    /// per-channel tensor has: they come back as 1.0, the zero points as 0, or 0, 1, 0, … for
    /// `zp mixed`).
    static func quantization(_ cursor: inout IRTextCursor) throws(IRTextFailure) -> Quantization {
        if cursor.skip("axis ") {
            let axis = try cursor.integer(Int32.self, "a quantization axis")
            try cursor.expect(": ", "': ' after the axis")
            // `axis 0: scales [0.1, 0.2], zp 0)`: the scales themselves (hand-written tests).
            if cursor.skip("scales [") {
                var scales: [Float] = []
                for item in try cursor.take(until: "]", "the scales").split(separator: ",") {
                    guard let v = Float(item.trimmingSpaces), v > 0 else { throw IRTextFailure("'\(item)' is not a quantization scale") }
                    scales.append(v)
                }
                guard scales.count > 1 else { throw IRTextFailure("per-axis quantization needs 2 or more scales, got \(scales.count)") }
                try cursor.expect(", zp 0)", "', zp 0)' after the scales")
                return Quantization(scales: scales, zeroPoints: Array(repeating: 0, count: scales.count), axis: axis)
            }
            let count = try cursor.integer(Int.self, "the number of scales")
            guard count > 1 else { throw IRTextFailure("per-axis quantization needs 2 or more scales, got \(count)") }
            try cursor.expect(" scales, zp ", "' scales, zp '")
            let zeroPoints: [Int64]
            if cursor.skip("0)") {
                zeroPoints = Array(repeating: 0, count: count)
            } else if cursor.skip("mixed)") {
                zeroPoints = (0..<count).map { Int64($0 % 2) }
            } else {
                throw IRTextFailure("expected 'zp 0)' or 'zp mixed)' at '\(cursor.excerpt)'")
            }
            return Quantization(scales: Array(repeating: 1, count: count), zeroPoints: zeroPoints, axis: axis)
        }
        let scaleText = cursor.take { $0 != "," && $0 != ")" }
        guard let scale = Float(scaleText) else { throw IRTextFailure("'\(scaleText)' is not a quantization scale") }
        try cursor.expect(", ", "', ' and the zero point")
        let zeroPoint = try cursor.integer(Int64.self, "a zero point")
        try cursor.expect(")", "')' after the zero point")
        return .perTensor(scale: scale, zeroPoint: zeroPoint)
    }

    /// `order [0, 1], blocks [], dims [dense 2, csr [0, 1, 2] [2, 0]]`, as `IRPrinter.sparsityText`.
    static func sparsity(_ cursor: inout IRTextCursor) throws(IRTextFailure) -> Sparsity {
        func list(_ what: String) throws(IRTextFailure) -> [Int32] {
            try cursor.expect("[", "'[' and the \(what)")
            if cursor.skip("]") { return [] }
            var out: [Int32] = []
            for item in try cursor.take(until: "]", what).split(separator: ",") {
                guard let v = Int32(item.trimmingSpaces) else { throw IRTextFailure("'\(item)' is not an integer in the \(what)") }
                out.append(v)
            }
            return out
        }
        try cursor.expect("order ", "'order [' and the traversal order")
        let order = try list("traversal order")
        try cursor.expect(", blocks ", "', blocks [' and the block map")
        let blocks = try list("block map")
        try cursor.expect(", dims [", "', dims [' and the dimensions")
        var dims: [Sparsity.Dimension] = []
        while !cursor.skip("]") {
            if !dims.isEmpty { try cursor.expect(", ", "', ' between dimensions") }
            if cursor.skip("dense ") {
                dims.append(Sparsity.Dimension(format: .dense, denseSize: try cursor.integer(Int32.self, "a dense size")))
            } else {
                try cursor.expect("csr ", "'dense N' or 'csr [segments] [indices]'")
                let segments = try list("array segments")
                try cursor.expect(" ", "a space before the array indices")
                let indices = try list("array indices")
                dims.append(Sparsity.Dimension(format: .sparseCSR, segments: .init(unionType: 1, values: segments), indices: .init(unionType: 1, values: indices)))
            }
        }
        return Sparsity(traversalOrder: order, blockMap: blocks, dimensions: dims)
    }

    /// `[1.5, -2.0]` (float32), `[1, 2]` (integer types), or `sha256:<8 hex digits>`: the
    /// printer's digest of a larger constant, which comes back as zero bytes.
    static func constantData(_ cursor: inout IRTextCursor, _ value: Value) throws(IRTextFailure) -> [UInt8] {
        if cursor.skip("sha256:") {
            let digest = cursor.take { $0.isHexDigit }
            guard digest.count == 8 else { throw IRTextFailure("a digest has 8 hex digits, got '\(digest)'") }
            return [UInt8](repeating: 0, count: max(1, byteCount(value)))
        }
        try cursor.expect("[", "'[' and the constant's values, or sha256:")
        var items: [String] = []
        if !cursor.skip("]") {
            items = try cursor.take(until: "]", "constant").split(separator: ",").map { String($0.trimmingSpaces) }
        }
        let dtype = value.dtype
        if dtype == .float32 {
            var floats: [Float] = []
            for item in items {
                guard let f = Float(item) else { throw IRTextFailure("'\(item)' is not a float") }
                floats.append(f)
            }
            return le(floats.map(\.bitPattern))
        }
        if dtype == .float16 {
            var halves: [UInt16] = []
            for item in items {
                guard let f = Float(item), let h = Float16Bits.bits(exactly: f) else { throw IRTextFailure("'\(item)' is not a float16 value") }
                halves.append(h)
            }
            return le(halves)
        }
        var integers: [Int64] = []
        for item in items {
            guard let v = Int64(item) else { throw IRTextFailure("'\(item)' is not an integer") }
            integers.append(v)
        }
        func encode<T: FixedWidthInteger>(_: T.Type) throws(IRTextFailure) -> [UInt8] {
            var out: [T] = []
            for v in integers {
                guard let x = T(exactly: v) else { throw IRTextFailure("\(v) does not fit \(dtype.shortName)") }
                out.append(x)
            }
            return le(out)
        }
        switch dtype {
        case .int8: return try encode(Int8.self)
        case .uint8, .bool: return try encode(UInt8.self)
        case .int16: return try encode(Int16.self)
        case .uint16: return try encode(UInt16.self)
        case .int32: return try encode(Int32.self)
        case .uint32: return try encode(UInt32.self)
        case .int64: return try encode(Int64.self)
        default: throw IRTextFailure("a \(dtype.shortName) constant is written as sha256:…, not as values")
        }
    }

    /// Bytes a constant of this type and shape holds (sub-byte types packed two to a byte).
    static func byteCount(_ value: Value) -> Int {
        if let n = value.expectedByteCount { return n }
        guard let n = value.elementCount else { return 1 }
        return value.dtype == .int4 || value.dtype == .uint4 ? (n + 1) / 2 : n
    }
}
