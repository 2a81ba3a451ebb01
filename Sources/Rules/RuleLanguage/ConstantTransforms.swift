import Export
import FlatBuffers
import IR
import Kernels
import Ops
import PassCatalog
import Passes
import Quantize
import Rewrite
import Support

/// The constant transforms of `constant:` actions. Each checks its arguments against the data
/// and throws `RuleEvalError` with the reason when they do not fit.
package enum ConstantTransforms {
    /// Largest constant a rule may make (64 Mi elements): a typo in a shape must not exhaust memory.
    package static let maximumElements = 1 << 26

    package static func int32s(_ a: [Int64]) -> [Int32]? {
        var out: [Int32] = []
        for x in a {
            guard let v = Int32(exactly: x) else { return nil }
            out.append(v)
        }
        return out
    }

    package static func transpose(_ t: ConstantTensor, _ perm: [Int]) throws -> ConstantTensor {
        guard perm.count == t.shape.count, perm.sorted() == Array(0..<t.shape.count) else {
            throw RuleEvalError("transpose: \(perm) is not a permutation of the \(t.shape.count) dimensions of shape \(t.shape)")
        }
        guard t.type.dtype.byteSize != nil else { throw RuleEvalError("transpose: \(t.type.dtype.name) elements have no fixed size") }
        return t.transposed(perm)
    }

    package static func reshape(_ t: ConstantTensor, _ shape: [Int64]) throws -> ConstantTensor {
        var dims = shape
        let unknown = dims.indices.filter { dims[$0] == -1 }
        guard unknown.count <= 1, dims.allSatisfy({ $0 >= -1 }) else { throw RuleEvalError("reshape: \(shape) may hold one -1 and sizes ≥ 0") }
        let known = dims.filter { $0 >= 0 }.reduce(Int64(1)) { $0 &* $1 }
        if let u = unknown.first {
            guard known > 0, Int64(t.elementCount) % known == 0 else { throw RuleEvalError("reshape: cannot fit \(t.elementCount) elements into \(shape)") }
            dims[u] = Int64(t.elementCount) / known
        }
        guard let d32 = int32s(dims), Value.elementCount(d32) == t.elementCount else {
            throw RuleEvalError("reshape: \(shape) does not hold the \(t.elementCount) elements of shape \(t.shape)")
        }
        if let q = t.type.quantization, q.isPerChannel {
            throw RuleEvalError("reshape: the constant is quantized per channel along axis \(q.axis); reshaping would lose the axis")
        }
        return t.reshaped(d32)
    }

    package static func slice(_ t: ConstantTensor, axis a: Int64, start: Int64, end: Int64) throws -> ConstantTensor {
        let rank = t.shape.count
        let axis = a < 0 ? Int(a) + rank : Int(a)
        guard axis >= 0, axis < rank else { throw RuleEvalError("slice: axis \(a) is out of range for shape \(t.shape)") }
        let dim = Int(t.shape[axis])
        guard start >= 0, start < end, end <= dim else { throw RuleEvalError("slice: \(start)..<\(end) is not a non-empty range within dimension \(axis) (size \(dim))") }
        guard let size = t.type.dtype.byteSize else { throw RuleEvalError("slice: \(t.type.dtype.name) elements have no fixed size") }
        let inner = t.shape[(axis + 1)...].reduce(1) { $0 * Int($1) } * size
        let outer = t.shape[..<axis].reduce(1) { $0 * Int($1) }
        var bytes: [UInt8] = []
        let count = Int(end - start)
        bytes.reserveCapacity(outer * count * inner)
        for o in 0..<outer {
            let base = (o * dim + Int(start)) * inner
            bytes += t.bytes[base..<(base + count * inner)]
        }
        var result = t
        result.bytes = bytes
        result.shape[axis] = Int32(count)
        result.layout = t.layout
        if var q = t.type.quantization, q.isPerChannel, Int(q.axis) == axis {
            q.scales = Array(q.scales[Int(start)..<Int(end)])
            if q.zeroPoints.count > 1 { q.zeroPoints = Array(q.zeroPoints[Int(start)..<Int(end)]) }
            result.type.quantization = q
        }
        return result
    }

    /// Elementwise arithmetic on a float32 constant: with `axis`, `operand` holds one value per
    /// slice along it (or one value); without, one value or one per element.
    package static func arithmetic(_ op: String, _ t: ConstantTensor, _ operand: [Float], axis a: Int64?) throws -> ConstantTensor {
        guard t.type.dtype == .float32, !t.type.isQuantized else {
            throw RuleEvalError("\(op): the constant is \(t.type.dtype.name)\(t.type.isQuantized ? " (quantized)" : ""); arithmetic needs float32 data")
        }
        var values = t.floats
        let n = values.count
        func apply(_ x: Float, _ y: Float) -> Float {
            switch op {
            case "multiply": x * y
            case "add": x + y
            case "subtract": x - y
            default: x / y
            }
        }
        if let a {
            let rank = t.shape.count
            let axis = a < 0 ? Int(a) + rank : Int(a)
            guard axis >= 0, axis < rank else { throw RuleEvalError("\(op): axis \(a) is out of range for shape \(t.shape)") }
            let dim = Int(t.shape[axis])
            guard operand.count == dim || operand.count == 1 else {
                throw RuleEvalError("\(op): \(operand.count) values for the \(dim) slices along axis \(axis) of shape \(t.shape)")
            }
            let inner = t.shape[(axis + 1)...].reduce(1) { $0 * Int($1) }
            guard dim > 0, inner > 0 else { return t }
            for i in 0..<n {
                let c = operand.count == 1 ? 0 : (i / inner) % dim
                values[i] = apply(values[i], operand[c])
            }
        } else {
            guard operand.count == 1 || operand.count == n else {
                throw RuleEvalError("\(op): \(operand.count) values for a constant of \(n) elements (give one, one per element, or an axis)")
            }
            for i in 0..<n { values[i] = apply(values[i], operand[operand.count == 1 ? 0 : i]) }
        }
        var result = ConstantTensor(floats: values, shape: t.shape)
        result.layout = t.layout
        return result
    }

    /// A constant of `dtype` from numbers (fill and values).
    package static func make(_ dtype: DType, shape: [Int64], values: [Double]) throws -> ConstantTensor {
        guard let d32 = int32s(shape), d32.allSatisfy({ $0 >= 0 }), let n = Value.elementCount(d32) else {
            throw RuleEvalError("shape \(shape) is not a list of sizes")
        }
        guard values.count == n else { throw RuleEvalError("\(values.count) values for shape \(shape) (\(n) elements)") }
        func ints<T: FixedWidthInteger>(_: T.Type) throws -> [T] {
            try values.map {
                guard $0.rounded() == $0, let v = T(exactly: $0) else { throw RuleEvalError("\($0) is not a \(dtype.name) value") }
                return v
            }
        }
        switch dtype {
        case .float32: return ConstantTensor(floats: values.map(Float.init), shape: d32)
        case .int8: return ConstantTensor(.int8, shape: d32, values: try ints(Int8.self))
        case .uint8: return ConstantTensor(.uint8, shape: d32, values: try ints(UInt8.self))
        case .int16: return ConstantTensor(.int16, shape: d32, values: try ints(Int16.self))
        case .int32: return ConstantTensor(.int32, shape: d32, values: try ints(Int32.self))
        case .int64: return ConstantTensor(.int64, shape: d32, values: try ints(Int64.self))
        case .bool: return ConstantTensor(.bool, shape: d32, values: try ints(UInt8.self))
        default: throw RuleEvalError("constants of type \(dtype.name) cannot be made by rules")
        }
    }

    /// A constant's elements as float32 (for arithmetic operands).
    package static func floats(_ t: ConstantTensor, what: String) throws -> [Float] {
        guard t.type.dtype == .float32, !t.type.isQuantized else {
            throw RuleEvalError("\(what): the operand is \(t.type.dtype.name)\(t.type.isQuantized ? " (quantized)" : ""); arithmetic needs float32 data")
        }
        return t.floats
    }
}
