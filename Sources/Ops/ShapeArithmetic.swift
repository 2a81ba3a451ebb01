import FlatBuffers
import IR
import Kernels
import Support

/// A small integer tensor (int32 or int64) as the shape-folding evaluator sees it: row-major
/// values widened to Int64. Results that do not fit the element type are refused, never wrapped.
public struct IntTensor: Hashable, Sendable, CustomStringConvertible {
    public var dtype: DType
    public var shape: [Int]
    public var values: [Int64]

    /// Folding refuses results bigger than this: shape tensors are tiny, and a fold must never
    /// turn a cheap runtime op into a large constant in flash.
    public static let maxElements = 1 << 16

    public init(dtype: DType, shape: [Int], values: [Int64]) {
        self.dtype = dtype
        self.shape = shape
        self.values = values
    }

    /// An int32/int64 constant without quantization; nil for anything else.
    public init?(_ t: ConstantTensor) {
        guard t.type.dtype == .int32 || t.type.dtype == .int64, !t.type.isQuantized,
            let ints = t.integers, ints.count == t.elementCount
        else { return nil }
        self.init(dtype: t.type.dtype, shape: t.shape.map(Int.init), values: ints)
    }

    public var elementCount: Int { values.count }

    /// Back to constant bytes; nil when a value does not fit int32.
    public func constant() -> ConstantTensor? {
        guard let dims = IntTensor.dims32(shape) else { return nil }
        if dtype == .int64 { return ConstantTensor(.int64, shape: dims, values: values) }
        guard dtype == .int32, values.allSatisfy({ $0 >= Int64(Int32.min) && $0 <= Int64(Int32.max) }) else { return nil }
        return ConstantTensor(.int32, shape: dims, values: values.map { Int32($0) })
    }

    package static func dims32(_ shape: [Int]) -> [Int32]? {
        var out: [Int32] = []
        for d in shape {
            guard d >= 0, d <= Int(Int32.max) else { return nil }
            out.append(Int32(d))
        }
        return out
    }

    /// Element count of a shape, nil when negative, overflowing or above `maxElements`.
    package static func count(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (m, o) = n.multipliedReportingOverflow(by: d)
            guard !o, m <= maxElements else { return nil }
            n = m
        }
        return n
    }

    public var description: String { "\(dtype.shortName)\(shape) \(values)" }
}

/// Evaluators for the ops that compute shapes (SHAPE, STRIDED_SLICE, PACK, CONCATENATION,
/// GATHER, ADD/SUB/MUL/DIV/FLOOR_DIV, RESHAPE) on integer constants, following the TFLite
/// kernels' semantics. Each returns nil when the kernel would fail or the case is not handled;
/// "no result" is never an error here.
public enum ShapeArithmetic {
    /// SHAPE: the dimensions of a fully known shape, as int32 or int64.
    public static func shape(of dims: [Int32], outType: DType) -> IntTensor? {
        guard outType == .int32 || outType == .int64, dims.allSatisfy({ $0 >= 0 }) else { return nil }
        return IntTensor(dtype: outType, shape: [dims.count], values: dims.map(Int64.init))
    }

    /// STRIDED_SLICE with every mask and the v8 `offset` flag (StridedSliceGeometry); nil for
    /// slices TF and TFLite read differently, kernel errors, and results above `maxElements`.
    public static func stridedSlice(_ x: IntTensor, begin: [Int64], end: [Int64], strides: [Int64], _ a: StridedSliceAttributes) -> IntTensor? {
        guard StridedSliceGeometry.runtimesDisagree(a) == nil,
              let g = try? StridedSliceGeometry(shape: x.shape, begin: begin, end: end, strides: strides, attributes: a),
              IntTensor.count(g.outputShape) != nil
        else { return nil }
        let offsets = g.sourceOffsets(inputShape: x.shape)
        guard offsets.allSatisfy({ $0 < x.values.count }) else { return nil }
        return IntTensor(dtype: x.dtype, shape: g.outputShape, values: offsets.map { x.values[$0] })
    }

    /// PACK: stacks equal-shaped tensors along a new axis (negative axis counts from the end).
    public static func pack(_ xs: [IntTensor], axis: Int) -> IntTensor? {
        viaConstants(xs) { ConstantEvaluator.pack($0, axis: axis) }
    }

    /// CONCATENATION along `axis` (negative counts from the end).
    public static func concatenate(_ xs: [IntTensor], axis: Int) -> IntTensor? {
        viaConstants(xs) { ConstantEvaluator.concatenate($0, axis: axis) }
    }

    /// Runs a layout op of the constant evaluator (which moves bytes, whatever the element
    /// type) on int64 copies of `xs`, then checks the result's size against `maxElements`.
    private static func viaConstants(_ xs: [IntTensor], _ op: ([ConstantTensor]) -> ConstantTensor?) -> IntTensor? {
        guard let first = xs.first, xs.allSatisfy({ $0.dtype == first.dtype }) else { return nil }
        var wide: [ConstantTensor] = []
        for x in xs {
            guard let dims = IntTensor.dims32(x.shape), IntTensor.count(x.shape) == x.values.count else { return nil }
            wide.append(ConstantTensor(.int64, shape: dims, values: x.values))
        }
        guard let t = op(wide), let values = t.integers, IntTensor.count(t.shape.map(Int.init)) != nil else { return nil }
        return IntTensor(dtype: first.dtype, shape: t.shape.map(Int.init), values: values)
    }

    /// GATHER with batch_dims 0: out = params[:axis] + indices.shape + params[axis+1:].
    /// An index outside [0, D) is a kernel error (nil).
    public static func gather(_ params: IntTensor, indices: IntTensor, axis: Int, batchDims: Int) -> IntTensor? {
        guard batchDims == 0 else { return nil }
        let r = params.shape.count
        let a = axis < 0 ? axis + r : axis
        guard a >= 0, a < r else { return nil }
        let size = params.shape[a]
        guard indices.values.allSatisfy({ $0 >= 0 && $0 < Int64(size) }) else { return nil }
        let outShape = Array(params.shape[..<a]) + indices.shape + Array(params.shape[(a + 1)...])
        guard IntTensor.count(outShape) != nil, let outer = IntTensor.count(Array(params.shape[..<a])),
            let inner = IntTensor.count(Array(params.shape[(a + 1)...]))
        else { return nil }
        var values: [Int64] = []
        for o in 0..<outer {
            for k in indices.values {
                let base = (o * size + Int(k)) * inner
                values += params.values[base..<(base + inner)]
            }
        }
        return IntTensor(dtype: params.dtype, shape: outShape, values: values)
    }

    /// Elementwise binary ops with numpy broadcasting. `f` returns nil on overflow or a zero
    /// divisor, which makes the whole fold fail.
    public static func broadcast(_ x: IntTensor, _ y: IntTensor, _ f: (Int64, Int64) -> Int64?) -> IntTensor? {
        guard x.dtype == y.dtype else { return nil }
        let r = max(x.shape.count, y.shape.count)
        let xs = [Int](repeating: 1, count: r - x.shape.count) + x.shape
        let ys = [Int](repeating: 1, count: r - y.shape.count) + y.shape
        var outShape: [Int] = []
        for d in 0..<r {
            guard xs[d] == ys[d] || xs[d] == 1 || ys[d] == 1 else { return nil }
            outShape.append(xs[d] == 1 ? ys[d] : xs[d])
        }
        guard let n = IntTensor.count(outShape) else { return nil }
        func strides(_ s: [Int]) -> [Int] {
            var st = [Int](repeating: 0, count: r)
            var acc = 1
            for d in stride(from: r - 1, through: 0, by: -1) {
                st[d] = s[d] == 1 ? 0 : acc
                acc *= s[d]
            }
            return st
        }
        let sx = strides(xs), sy = strides(ys)
        var values: [Int64] = []
        values.reserveCapacity(n)
        var idx = [Int](repeating: 0, count: r)
        for _ in 0..<n {
            var ox = 0, oy = 0
            for d in 0..<r { ox += idx[d] * sx[d]; oy += idx[d] * sy[d] }
            guard let v = f(x.values[ox], y.values[oy]) else { return nil }
            if x.dtype == .int32 && (v < Int64(Int32.min) || v > Int64(Int32.max)) { return nil }
            values.append(v)
            var d = r - 1
            while d >= 0 {
                idx[d] += 1
                if idx[d] < outShape[d] { break }
                idx[d] = 0
                d -= 1
            }
        }
        return IntTensor(dtype: x.dtype, shape: outShape, values: values)
    }

    public static func add(_ a: Int64, _ b: Int64) -> Int64? { let (v, o) = a.addingReportingOverflow(b); return o ? nil : v }
    public static func subtract(_ a: Int64, _ b: Int64) -> Int64? { let (v, o) = a.subtractingReportingOverflow(b); return o ? nil : v }
    public static func multiply(_ a: Int64, _ b: Int64) -> Int64? { let (v, o) = a.multipliedReportingOverflow(by: b); return o ? nil : v }
    /// DIV on integers truncates toward zero (C++ `/`, TFLite reference_ops); a zero divisor fails.
    public static func divide(_ a: Int64, _ b: Int64) -> Int64? {
        guard b != 0 else { return nil }
        let (v, o) = a.dividedReportingOverflow(by: b)
        return o ? nil : v
    }
    /// FLOOR_DIV rounds toward negative infinity.
    public static func floorDivide(_ a: Int64, _ b: Int64) -> Int64? {
        guard b != 0 else { return nil }
        let (q, o) = a.dividedReportingOverflow(by: b)
        guard !o else { return nil }
        return (a % b != 0) && ((a < 0) != (b < 0)) ? q - 1 : q
    }

    /// The output dimensions of RESHAPE for an input of `count` elements: at most one −1,
    /// resolved from the count; nil when the shape cannot hold exactly `count` elements.
    public static func reshapeDimensions(_ requested: [Int64], elementCount count: Int) -> [Int]? {
        var known = 1
        var stretch: Int?
        for (i, d) in requested.enumerated() {
            if d == -1 {
                guard stretch == nil else { return nil }
                stretch = i
            } else {
                guard d >= 0, d <= Int64(Int32.max) else { return nil }
                let (m, o) = known.multipliedReportingOverflow(by: Int(d))
                guard !o else { return nil }
                known = m
            }
        }
        var dims = requested.map { Int($0) }
        if let s = stretch {
            guard known > 0, count % known == 0 else { return nil }
            dims[s] = count / known
        } else if known != count {
            return nil
        }
        return dims
    }
}
