import IR
import Support

// MARK: - LESS, LESS_EQUAL, GREATER, GREATER_EQUAL, EQUAL, NOT_EQUAL

package enum Comparison: String, Sendable {
    case less = "LESS", lessEqual = "LESS_EQUAL", greater = "GREATER", greaterEqual = "GREATER_EQUAL"
    case equal = "EQUAL", notEqual = "NOT_EQUAL"

    @inline(__always)
    package func holds<T: Comparable>(_ a: T, _ b: T) -> Bool {
        switch self {
        case .less: a < b
        case .lessEqual: a <= b
        case .greater: a > b
        case .greaterEqual: a >= b
        case .equal: a == b
        case .notEqual: a != b
        }
    }
}

/// Comparisons with numpy broadcasting into a bool tensor (TFLM comparisons.cc). float32, int32
/// and int64 compare the values; int8 compares both inputs rescaled as TFLM's
/// ComparisonWithScaling does — each shifted left 8 bits after its zero point is removed, then
/// multiplied by its own scale as a fixed-point multiplier (QuantizeMultiplierSmallerThanOneExp) —
/// so inputs with different scales compare by real value. bool supports EQUAL and NOT_EQUAL.
package final class ComparisonKernel: Kernel {
    private let label: String
    private let a: Slot, b: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let comparison: Comparison
    private var scale1 = QuantizedMultiplier(multiplier: 0, shift: 0), scale2 = QuantizedMultiplier(multiplier: 0, shift: 0)

    package init(_ c: KernelContext, _ comparison: Comparison) throws {
        label = c.label
        a = try c.input(0)
        b = try c.input(1)
        output = try c.output()
        self.comparison = comparison
        guard a.dtype == b.dtype, output.dtype == .bool else {
            throw Unsupported("types \(a.dtype.name), \(b.dtype.name) → \(output.dtype.name); the inputs must match and the output be BOOL")
        }
        switch a.dtype {
        case .float32, .int32, .int64: break
        case .bool:
            guard comparison == .equal || comparison == .notEqual else { throw Unsupported("BOOL inputs compare only for (in)equality") }
        case .int8:
            guard a.isQuantized, b.isQuantized else { throw Unsupported("int8 inputs without quantization parameters") }
            try requirePositiveScales(a, b)
            guard a.scale < 1, b.scale < 1 else { throw Unsupported("int8 scales \(a.scale), \(b.scale) must be below 1 (TFLM's QuantizeMultiplierSmallerThanOneExp)") }
            scale1 = QuantizedMultiplier(Double(a.scale))
            scale2 = QuantizedMultiplier(Double(b.scale))
            guard scale1.shift <= 0, scale2.shift <= 0 else { throw Unsupported("int8 scales \(a.scale), \(b.scale) round up to 1") }
        default:
            throw Unsupported("type \(a.dtype.name); supported: FLOAT32, INT32, INT64, INT8 or BOOL")
        }
    }

    package func run() throws {
        guard let shape = Broadcast(a.shape, b.shape) else {
            throw InterpreterError.runtime("shapes \(a.shape) and \(b.shape) do not broadcast", at: label)
        }
        try output.resize(shape.outputShape, at: label)
        let y = output.u8, op = comparison
        switch a.dtype {
        case .float32: let x1 = a.f32, x2 = b.f32; shape.forEach { o, i, j in y[o] = op.holds(x1[i], x2[j]) ? 1 : 0 }
        case .int32: let x1 = a.i32, x2 = b.i32; shape.forEach { o, i, j in y[o] = op.holds(x1[i], x2[j]) ? 1 : 0 }
        case .int64: let x1 = a.i64, x2 = b.i64; shape.forEach { o, i, j in y[o] = op.holds(x1[i], x2[j]) ? 1 : 0 }
        case .bool: let x1 = a.u8, x2 = b.u8; shape.forEach { o, i, j in y[o] = op.holds(x1[i] != 0 ? 1 : 0, x2[j] != 0 ? 1 : 0) ? 1 : 0 }
        default:
            let x1 = a.i8, x2 = b.i8, z1 = a.zeroPoint, z2 = b.zeroPoint, m1 = scale1, m2 = scale2
            shape.forEach { o, i, j in
                let v1 = FixedPoint.multiplySmallerThanOne((Int32(x1[i]) &- z1) &* 256, m1)
                let v2 = FixedPoint.multiplySmallerThanOne((Int32(x2[j]) &- z2) &* 256, m2)
                y[o] = op.holds(v1, v2) ? 1 : 0
            }
        }
    }
}

// MARK: - LOGICAL_AND, LOGICAL_OR, LOGICAL_NOT

package enum LogicalOperation: String, Sendable {
    case and = "LOGICAL_AND", or = "LOGICAL_OR", not = "LOGICAL_NOT"
}

/// Boolean ops on bool tensors (TFLM logical.cc, logical_not in elementwise.cc); AND and OR
/// broadcast.
package final class LogicalKernel: Kernel {
    private let label: String
    private let a: Slot, b: Slot?, output: Slot
    package var outputs: [Slot] { [output] }
    private let operation: LogicalOperation

    package init(_ c: KernelContext, _ operation: LogicalOperation) throws {
        label = c.label
        a = try c.input(0)
        b = operation == .not ? nil : try c.input(1)
        output = try c.output()
        self.operation = operation
        guard a.dtype == .bool, b?.dtype ?? .bool == .bool, output.dtype == .bool else {
            throw Unsupported("\(operation.rawValue) takes and gives BOOL tensors")
        }
    }

    package func run() throws {
        let x1 = a.u8
        guard let b else {
            try output.resize(a.shape, at: label)
            let y = output.u8
            for i in 0..<a.count { y[i] = x1[i] == 0 ? 1 : 0 }
            return
        }
        guard let shape = Broadcast(a.shape, b.shape) else {
            throw InterpreterError.runtime("shapes \(a.shape) and \(b.shape) do not broadcast", at: label)
        }
        try output.resize(shape.outputShape, at: label)
        let y = output.u8, x2 = b.u8
        if operation == .and {
            shape.forEach { o, i, j in y[o] = x1[i] != 0 && x2[j] != 0 ? 1 : 0 }
        } else {
            shape.forEach { o, i, j in y[o] = x1[i] != 0 || x2[j] != 0 ? 1 : 0 }
        }
    }
}

// MARK: - SPLIT, SPLIT_V, UNPACK

/// Cuts a tensor along one axis into consecutive pieces, for any element type: SPLIT (equal
/// pieces; the axis is input 0, the data input 1 — TFLM split.cc), SPLIT_V (sizes from input 1,
/// one of them −1 for the rest; axis input 2 — split_v.cc) and UNPACK (pieces of one, the axis
/// dropped from each output's shape — unpack.cc). The axis must be a constant, as TFLM requires.
package final class SplitKernel: Kernel {
    package enum Form: Sendable {
        case split, splitV, unpack(axis: Int32)
    }

    private let label: String
    private let input: Slot
    package let outputs: [Slot]
    private let form: Form
    private let axisInput: Slot?, sizesInput: Slot?

    package init(_ c: KernelContext, _ form: Form) throws {
        label = c.label
        self.form = form
        switch form {
        case .split:
            axisInput = try c.constantInput(0, "the axis")
            input = try c.input(1)
            sizesInput = nil
        case .splitV:
            input = try c.input(0)
            sizesInput = try c.constantInput(1, "the split sizes")
            axisInput = try c.constantInput(2, "the axis")
        case .unpack:
            input = try c.input(0)
            axisInput = nil
            sizesInput = nil
        }
        outputs = try (0..<c.op.outputs.count).map { try c.output($0) }
        guard !outputs.isEmpty else { throw Unsupported("has no outputs") }
        for o in outputs where o.dtype != input.dtype { throw Unsupported("output type \(o.dtype.name) differs from the input's \(input.dtype.name)") }
        if let a = axisInput, a.dtype != .int32 || a.count != 1 { throw Unsupported("the axis must be one INT32") }
        if let s = sizesInput, s.dtype != .int32 { throw Unsupported("the split sizes must be INT32") }
    }

    package func run() throws {
        let rank = input.rank
        let rawAxis: Int
        switch form {
        case .unpack(let axis): rawAxis = Int(axis)
        default: rawAxis = Int(axisInput!.i32[0])
        }
        let axis = rawAxis < 0 ? rawAxis + rank : rawAxis
        guard axis >= 0, axis < rank else { throw InterpreterError.runtime("axis \(rawAxis) is outside rank \(rank)", at: label) }
        let extent = input.shape[axis]
        var sizes: [Int]
        switch form {
        case .split:
            guard extent % outputs.count == 0 else {
                throw InterpreterError.runtime("dimension \(extent) does not split into \(outputs.count) equal pieces", at: label)
            }
            sizes = Array(repeating: extent / outputs.count, count: outputs.count)
        case .splitV:
            let given = (0..<sizesInput!.count).map { Int(sizesInput!.i32[$0]) }
            guard given.count == outputs.count, given.filter({ $0 == -1 }).count <= 1, given.allSatisfy({ $0 >= -1 }) else {
                throw InterpreterError.runtime("split sizes \(given) do not fit \(outputs.count) outputs", at: label)
            }
            let known = given.filter { $0 >= 0 }.reduce(0, +)
            sizes = given.map { $0 == -1 ? extent - known : $0 }
            guard sizes.allSatisfy({ $0 >= 0 }), sizes.reduce(0, +) == extent else {
                throw InterpreterError.runtime("split sizes \(given) do not add up to \(extent)", at: label)
            }
        case .unpack:
            guard extent == outputs.count else {
                throw InterpreterError.runtime("dimension \(extent) does not unpack into \(outputs.count) outputs", at: label)
            }
            sizes = Array(repeating: 1, count: extent)
        }
        let outer = product(input.shape[..<axis])
        let inner = product(input.shape[(axis + 1)...]) * input.elementSize
        var start = 0
        for (k, out) in outputs.enumerated() {
            var shape = input.shape
            if case .unpack = form { shape.remove(at: axis) } else { shape[axis] = sizes[k] }
            try out.resize(shape, at: label)
            let piece = sizes[k] * inner
            for o in 0..<outer where piece > 0 {
                (out.raw + o * piece).copyMemory(from: input.raw + (o * extent + start) * inner, byteCount: piece)
            }
            start += sizes[k]
        }
    }
}

// MARK: - SLICE

/// SLICE (TFLM slice.cc): the block that starts at `begin` and spans `size` (−1: to the end of
/// that dimension), for any element type; begin and size are INT32 or INT64 tensors.
package final class SliceKernel: Kernel {
    private let label: String
    private let input: Slot, begin: Slot, size: Slot, output: Slot
    package var outputs: [Slot] { [output] }

    package init(_ c: KernelContext) throws {
        label = c.label
        input = try c.input(0)
        begin = try c.input(1)
        size = try c.input(2)
        output = try c.output()
        guard input.dtype == output.dtype else { throw Unsupported("types \(input.dtype.name) → \(output.dtype.name) differ") }
        for s in [begin, size] where s.dtype != .int32 && s.dtype != .int64 { throw Unsupported("begin and size must be INT32 or INT64") }
    }

    package func run() throws {
        let rank = input.rank
        guard let b = begin.integerValues(), let s = size.integerValues(), b.count == rank, s.count == rank else {
            throw InterpreterError.runtime("begin and size need \(rank) values each", at: label)
        }
        var start: [Int] = [], extent: [Int] = []
        for d in 0..<rank {
            let dim = Int64(input.shape[d])
            let lo = b[d], count = s[d] == -1 ? dim - lo : s[d]
            guard lo >= 0, lo <= dim, count >= 0, count <= dim - lo else {
                throw InterpreterError.runtime("begin \(b) and size \(s) leave the input \(input.shape) (dimension \(d))", at: label)
            }
            start.append(Int(lo))
            extent.append(Int(count))
        }
        try output.resize(extent, at: label)
        guard output.count > 0 else { return }
        let element = input.elementSize
        // Row-major strides of the input, in elements.
        var strides = [Int](repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * input.shape[d + 1] }
        let innerBytes = (rank == 0 ? 1 : extent[rank - 1]) * element
        var index = [Int](repeating: 0, count: max(rank - 1, 0))
        var written = 0
        while true {
            var offset = rank == 0 ? 0 : start[rank - 1]
            for d in 0..<(rank - 1) { offset += (start[d] + index[d]) * strides[d] }
            (output.raw + written).copyMemory(from: input.raw + offset * element, byteCount: innerBytes)
            written += innerBytes
            // Advance the outer index, last outer dimension fastest.
            var d = rank - 2
            while d >= 0 {
                index[d] += 1
                if index[d] < extent[d] { break }
                index[d] = 0
                d -= 1
            }
            if d < 0 { break }
        }
    }
}
