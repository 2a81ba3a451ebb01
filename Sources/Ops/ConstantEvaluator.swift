import Foundation
import FlatBuffers
import IR
import Kernels
import Support

/// Computes ops on constant tensors: the float32 and integer arithmetic, layout and shape ops
/// that frozen graphs apply to weights and shapes (batch-norm factors, reshape targets, the
/// SHAPE → STRIDED_SLICE → PACK chains). Used by `ConstantFold` and by the GraphDef importer,
/// which folds as it lowers so that shapes downstream are known.
///
/// Each operator's `fold` in the operator table says how it is computed, with the building
/// blocks here; semantics follow the TFLite kernels (reference_ops). Anything else returns nil
/// ("cannot fold"), never a guess.
public enum ConstantEvaluator {
    /// The outputs of `kind` applied to `inputs` (nil entries = absent optional inputs), or nil
    /// when the op is not one this evaluator computes, an input is quantized, or the inputs do
    /// not fit. `outputs` gives the result types and shapes the IR already knows.
    public static func evaluate(_ kind: OpKind, inputs: [ConstantTensor?], outputs: [Value]) -> [ConstantTensor]? {
        // Too large for the memory budget: not folded here; `ConstantFold` reports it.
        guard outputs.allSatisfy(fitsMemoryBudget) else { return nil }
        let present = inputs.compactMap { $0 }
        guard !present.contains(where: { $0.type.isQuantized }), !outputs.contains(where: { $0.type.isQuantized }) else { return nil }
        return OperatorTable[kind.builtinOperator]?.fold?(ConstantFoldInputs(kind: kind, inputs: inputs, outputs: outputs))
    }

    // MARK: - Memory

    /// Bytes folding into `v` may hold at once: the result twice (values, then bytes) plus the
    /// two broadcast index arrays `binary` builds (one Int per output element each). nil when
    /// the shape overflows.
    static func workingBytes(_ v: Value) -> Int? {
        guard let count = Value.elementCount(v.shape) else { return nil }
        let perElement = 2 * (v.dtype.byteSize ?? 8) + 2 * MemoryLayout<Int>.size
        let (bytes, overflow) = count.multipliedReportingOverflow(by: perElement)
        return overflow ? nil : bytes
    }

    static func fitsMemoryBudget(_ v: Value) -> Bool {
        workingBytes(v).map { $0 <= MemoryBudget.bytes } ?? false
    }

    /// Whether `evaluate` computes ops of this kind at all (when their inputs fit).
    /// An op with typed attributes in its opaque form (odd options) is not computed.
    public static func computes(_ kind: OpKind) -> Bool {
        switch kind {
        case .custom: return false
        case .builtin(let op, _): return OperatorTable[op].map { $0.fold != nil && $0.options == nil } ?? false
        default: return OperatorTable[kind.builtinOperator]?.fold != nil
        }
    }

    /// Throws when folding an op of `kind` into `output` would exceed the memory budget.
    public static func checkMemoryBudget(_ kind: OpKind, output: Value, label: @autoclosure () -> String) throws {
        guard computes(kind), !fitsMemoryBudget(output) else { return }
        throw MemoryBudgetError(
            what: "folding \(label()) into a constant of shape \(output.shape)", bytes: workingBytes(output), budget: MemoryBudget.bytes)
    }

    // MARK: - Building blocks

    public enum BinaryOperation {
        case add, sub, mul, div, max, min
    }

    /// Numpy broadcasting of two shapes; nil when they do not broadcast.
    public static func broadcastShape(_ a: [Int32], _ b: [Int32]) -> [Int32]? {
        let rank = max(a.count, b.count)
        var out = [Int32](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            if da == db || db == 1 {
                out[i] = da
            } else if da == 1 {
                out[i] = db
            } else {
                return nil
            }
        }
        return out
    }

    /// Element-wise `op` with broadcasting, for float32, int32 and int64 tensors of one type.
    public static func binary(_ x: ConstantTensor, _ y: ConstantTensor, _ op: BinaryOperation) -> ConstantTensor? {
        guard x.type.dtype == y.type.dtype, let shape = broadcastShape(x.shape, y.shape) else { return nil }
        let ix = broadcastIndices(from: x.shape, to: shape), iy = broadcastIndices(from: y.shape, to: shape)
        switch x.type.dtype {
        case .float32:
            let a = x.floats, b = y.floats
            let f: (Float, Float) -> Float
            switch op {
            case .add: f = (+)
            case .sub: f = (-)
            case .mul: f = (*)
            case .div: f = (/)
            case .max: f = { Swift.max($0, $1) }
            case .min: f = { Swift.min($0, $1) }
            }
            return ConstantTensor(floats: zip(ix, iy).map { f(a[$0], b[$1]) }, shape: shape)
        case .int32, .int64:
            guard let a = x.integers, let b = y.integers else { return nil }
            let f: (Int64, Int64) -> Int64
            switch op {
            case .add: f = (&+)
            case .sub: f = (&-)
            case .mul: f = (&*)
            case .div: return nil  // integer division rounding differs between TF ops; not needed for weights
            case .max: f = { Swift.max($0, $1) }
            case .min: f = { Swift.min($0, $1) }
            }
            let values = zip(ix, iy).map { f(a[$0], b[$1]) }
            return x.type.dtype == .int32
                ? ConstantTensor(.int32, shape: shape, values: values.map { Int32(truncatingIfNeeded: $0) })
                : ConstantTensor(.int64, shape: shape, values: values)
        default:
            return nil
        }
    }

    /// For each element of `target` (row-major), the index of the element of a tensor of
    /// `shape` that broadcasting reads.
    package static func broadcastIndices(from shape: [Int32], to target: [Int32]) -> [Int] {
        let n = Value.elementCount(target) ?? 0
        let rank = target.count
        if shape == target { return Array(0..<n) }
        // Strides of `shape` aligned to the right of `target`, 0 where it broadcasts.
        var strides = [Int](repeating: 0, count: rank)
        var s = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            let t = i + rank - shape.count
            strides[t] = shape[i] == 1 ? 0 : s
            s *= Int(shape[i])
        }
        var out = [Int](repeating: 0, count: n)
        var index = [Int](repeating: 0, count: rank)
        var offset = 0
        for o in 0..<n {
            out[o] = offset
            var d = rank - 1
            while d >= 0 {
                index[d] += 1
                offset += strides[d]
                if index[d] < Int(target[d]) { break }
                offset -= strides[d] * index[d]
                index[d] = 0
                d -= 1
            }
        }
        return out
    }

    public static func unaryFloat(_ x: ConstantTensor, _ f: (Float) -> Float) -> ConstantTensor? {
        guard x.type.dtype == .float32 else { return nil }
        return ConstantTensor(floats: x.floats.map(f), shape: x.shape)
    }

    package static func applyActivation(_ t: ConstantTensor, _ a: ActivationFunction) -> ConstantTensor? {
        switch a {
        case .none: return t
        case .relu: return unaryFloat(t) { max($0, 0) }
        case .relu6: return unaryFloat(t) { min(max($0, 0), 6) }
        case .reluN1To1: return unaryFloat(t) { min(max($0, -1), 1) }
        default: return nil
        }
    }

    /// Concatenation along `axis` (negative counts from the end) of tensors of one type whose
    /// shapes agree elsewhere.
    public static func concatenate(_ parts: [ConstantTensor], axis: Int) -> ConstantTensor? {
        guard let firstPart = parts.first else { return nil }
        let rank = firstPart.shape.count
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0, a < rank else { return nil }
        for p in parts {
            guard p.type == firstPart.type, p.shape.count == rank else { return nil }
            for d in 0..<rank where d != a && p.shape[d] != firstPart.shape[d] { return nil }
        }
        let size = firstPart.elementSize
        // Checked arithmetic: an empty tensor may declare any dimensions (a hostile file).
        guard let outer = Value.elementCount(Array(firstPart.shape[..<a])),
              let inner = Value.elementCount(Array(firstPart.shape[(a + 1)...])),
              case let total = parts.reduce(Int64(0), { $0 + Int64($1.shape[a]) }), total <= Int64(Int32.max)
        else { return nil }
        var shape = firstPart.shape
        shape[a] = Int32(total)
        guard Value.elementCount(shape) != nil,
              parts.allSatisfy({ p in Value.elementCount(p.shape).map { $0 * size } == p.bytes.count })
        else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(parts.reduce(0) { $0 + $1.bytes.count })
        for o in 0..<outer {
            for p in parts {
                let chunk = Int(p.shape[a]) * inner * size
                bytes += p.bytes[(o * chunk)..<((o + 1) * chunk)]
            }
        }
        return ConstantTensor(type: firstPart.type, shape: shape, bytes: bytes)
    }

    /// Stacks tensors of one shape along a new axis `axis` (TF Pack / TFLite PACK).
    public static func pack(_ parts: [ConstantTensor], axis: Int) -> ConstantTensor? {
        guard let firstPart = parts.first, parts.allSatisfy({ $0.shape == firstPart.shape && $0.type == firstPart.type }) else { return nil }
        let rank = firstPart.shape.count
        let a = axis < 0 ? axis + rank + 1 : axis
        guard a >= 0, a <= rank else { return nil }
        var expanded = firstPart.shape
        expanded.insert(1, at: a)
        return concatenate(parts.map { $0.reshaped(expanded) }, axis: a)
    }

    /// Converts between float32, int32, int64, uint8, int8, int16 and bool (C++ static_cast:
    /// floats truncate toward zero, integers wrap).
    public static func cast(_ x: ConstantTensor, to dtype: DType) -> ConstantTensor? {
        if x.type.dtype == dtype { return x }
        let values: [Double]
        if x.type.dtype == .float32 {
            values = x.floats.map(Double.init)
        } else if let ints = x.integers {
            values = ints.map(Double.init)
        } else {
            return nil
        }
        func ints<T: FixedWidthInteger>(_: T.Type) -> [T] {
            values.map { v in v.isFinite ? T(truncatingIfNeeded: Int64(Swift.max(Swift.min(v.rounded(.towardZero), 9.2e18), -9.2e18))) : 0 }
        }
        switch dtype {
        case .float32: return ConstantTensor(floats: values.map { Float($0) }, shape: x.shape)
        case .int32: return ConstantTensor(.int32, shape: x.shape, values: ints(Int32.self))
        case .int64: return ConstantTensor(.int64, shape: x.shape, values: ints(Int64.self))
        case .int16: return ConstantTensor(.int16, shape: x.shape, values: ints(Int16.self))
        case .int8: return ConstantTensor(.int8, shape: x.shape, values: ints(Int8.self))
        case .uint8: return ConstantTensor(.uint8, shape: x.shape, values: ints(UInt8.self))
        case .bool: return ConstantTensor(.bool, shape: x.shape, values: values.map { $0 != 0 ? UInt8(1) : 0 })
        default: return nil
        }
    }
}
