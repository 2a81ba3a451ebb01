import CFloatKernels
import FlatBuffers
import IR
import Support
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Ops that only move elements: RESHAPE, SQUEEZE, EXPAND_DIMS, SHAPE, STRIDED_SLICE, PACK,
/// GATHER, TRANSPOSE, PAD/PADV2, CONCATENATION. They work on bytes, so every dtype the
/// interpreter holds is supported; int8 keeps its quantization (TFLM requires equal params).

private func copyBytes(_ dst: UnsafeMutableRawPointer, _ src: UnsafeRawPointer, _ count: Int) {
    if count > 0 { memmove(dst, src, count) }
}

/// RESHAPE, SQUEEZE and EXPAND_DIMS: the same bytes under a new shape.
package final class ReshapeKernel: Kernel {
    package enum Rule {
        /// RESHAPE: the shape input (or ReshapeOptions.new_shape); one −1 may be inferred.
        case reshape(optionShape: [Int32]?)
        /// SQUEEZE: drop the listed size-1 dimensions (all of them when empty).
        case squeeze([Int32])
        /// EXPAND_DIMS: insert a 1 at the axis given by input 1.
        case expandDims
    }
    private let label: String
    private let input: Slot, shapeInput: Slot?, output: Slot
    package var outputs: [Slot] { [output] }
    private let rule: Rule

    package init(_ c: KernelContext, _ rule: Rule) throws {
        label = c.label
        input = try c.input(0)
        output = try c.output()
        shapeInput = c.optionalInput(1)
        self.rule = rule
        guard input.dtype == output.dtype else { throw Unsupported("types \(input.dtype.name) → \(output.dtype.name) differ") }
        if case .expandDims = rule, shapeInput == nil { throw Unsupported("axis input is missing") }
        if let s = shapeInput, ![.int32, .int64].contains(s.dtype) { throw Unsupported("shape/axis input must be INT32 or INT64, got \(s.dtype.name)") }
    }

    package func run() throws {
        let newShape = try computeShape()
        guard RuntimeTensor.elementCount(newShape) == input.count else {
            throw InterpreterError.runtime("cannot reshape \(input.shape) (\(input.count) elements) to \(newShape)", at: label)
        }
        try output.resize(newShape, at: label)
        if output !== input { copyBytes(output.raw, input.raw, input.byteCount) }
    }

    private func computeShape() throws -> [Int] {
        switch rule {
        case .reshape(let option):
            var requested: [Int]
            // reshape.cc: a 1-D shape input wins; otherwise ReshapeOptions.new_shape.
            if let s = shapeInput, s.rank == 1 {
                requested = (s.integerValues() ?? []).map { Int(clamping: $0) }
            } else if let o = option {
                requested = o.map(Int.init)
            } else if let s = shapeInput {
                requested = (s.integerValues() ?? []).map { Int(clamping: $0) }
            } else {
                throw InterpreterError.runtime("no shape input and no new_shape option", at: label)
            }
            // Legacy converters wrote [0] for a scalar.
            if requested == [0] && input.count == 1 { requested = [] }
            var unknown: Int?
            var known = 1
            for (i, d) in requested.enumerated() {
                if d == -1 {
                    guard unknown == nil else { throw InterpreterError.runtime("shape \(requested) has more than one -1", at: label) }
                    unknown = i
                } else if d < 0 {
                    throw InterpreterError.runtime("shape \(requested) has a negative dimension", at: label)
                } else {
                    known = known.multipliedReportingOverflow(by: d).overflow ? Int.max : known * d
                }
            }
            if let u = unknown {
                guard known > 0, input.count % known == 0 else {
                    throw InterpreterError.runtime("cannot infer -1 in \(requested) for \(input.count) elements", at: label)
                }
                requested[u] = input.count / known
            }
            return requested
        case .squeeze(let dims):
            let rank = input.rank
            var drop = Set<Int>()
            if dims.isEmpty {
                for (i, d) in input.shape.enumerated() where d == 1 { drop.insert(i) }
            } else {
                for d in dims {
                    let a = d < 0 ? Int(d) + rank : Int(d)
                    guard a >= 0, a < rank, input.shape[a] == 1 else {
                        throw InterpreterError.runtime("cannot squeeze dimension \(d) of \(input.shape)", at: label)
                    }
                    drop.insert(a)
                }
            }
            return input.shape.enumerated().filter { !drop.contains($0.offset) }.map(\.element)
        case .expandDims:
            guard let a = shapeInput?.integerValues(), a.count == 1 else {
                throw InterpreterError.runtime("axis input must hold one value", at: label)
            }
            let rank = input.rank
            let axis = a[0] < 0 ? Int(a[0]) + rank + 1 : Int(a[0])
            guard axis >= 0, axis <= rank else { throw InterpreterError.runtime("axis \(a[0]) is out of range for rank \(rank)", at: label) }
            var s = input.shape
            s.insert(1, at: axis)
            return s
        }
    }
}

/// SHAPE: the input's dimensions as INT32 or INT64.
package final class ShapeKernel: Kernel {
    private let label: String
    private let input: Slot, output: Slot
    package var outputs: [Slot] { [output] }

    package init(_ c: KernelContext, outType: DType) throws {
        label = c.label
        input = try c.input(0)
        output = try c.output()
        guard output.dtype == .int32 || output.dtype == .int64 else { throw Unsupported("output type \(output.dtype.name); supported: INT32 or INT64") }
    }

    package func run() throws {
        try output.resize([input.rank], at: label)
        for (i, d) in input.shape.enumerated() {
            if output.dtype == .int32 { output.i32[i] = Int32(clamping: d) } else { output.i64[i] = Int64(d) }
        }
    }
}

/// STRIDED_SLICE with begin/end/shrink masks (strided_slice_logic.h StartForAxis/StopForAxis).
package final class StridedSliceKernel: Kernel {
    private let label: String
    private let input: Slot, begin: Slot, end: Slot, strides: Slot?, output: Slot
    package var outputs: [Slot] { [output] }
    private let attrs: StridedSliceAttributes

    package init(_ c: KernelContext, _ attrs: StridedSliceAttributes) throws {
        label = c.label
        input = try c.input(0)
        begin = try c.input(1)
        end = try c.input(2)
        strides = c.optionalInput(3)
        output = try c.output()
        self.attrs = attrs
        guard input.dtype == output.dtype else { throw Unsupported("types \(input.dtype.name) → \(output.dtype.name) differ") }
        guard attrs.ellipsisMask == 0, attrs.newAxisMask == 0 else { throw Unsupported("ellipsis_mask and new_axis_mask are not supported") }
        guard !attrs.offset else { throw Unsupported("offset=true is not supported") }
        for s in [begin, end] + (strides.map { [$0] } ?? []) where ![.int32, .int64].contains(s.dtype) {
            throw Unsupported("begin/end/strides must be INT32 or INT64")
        }
    }

    package func run() throws {
        let rank = input.rank
        // TFLite keeps these as int32; clamping also keeps the index arithmetic from overflowing.
        func int32Range(_ v: [Int64]) -> [Int64] { v.map { Int64(Int32(clamping: $0)) } }
        let b = int32Range(begin.integerValues() ?? []), e = int32Range(end.integerValues() ?? [])
        let st = int32Range(strides?.integerValues() ?? Array(repeating: 1, count: b.count))
        guard b.count == e.count, b.count == st.count, b.count <= rank else {
            throw InterpreterError.runtime("begin/end/strides lengths \(b.count)/\(e.count)/\(st.count) do not fit rank \(rank)", at: label)
        }
        var starts = [Int](), stops = [Int](), steps = [Int](), outShape = [Int]()
        for axis in 0..<rank {
            let size = input.shape[axis]
            let stride = axis < st.count ? Int(clamping: st[axis]) : 1
            guard stride != 0 else { throw InterpreterError.runtime("stride 0 on axis \(axis)", at: label) }
            var start: Int, stop: Int
            let shrink = attrs.shrinkAxisMask & (1 << axis) != 0
            if axis >= b.count {
                start = 0; stop = size
            } else {
                start = Int(clamping: b[axis])
                if attrs.beginMask & (1 << axis) != 0 { start = stride > 0 ? Int(Int32.min) : Int(Int32.max) }
                if start < 0 { start += size }
                start = stride > 0 ? min(max(start, 0), size) : min(max(start, -1), size - 1)
                if shrink {
                    stop = start + 1
                } else {
                    stop = Int(clamping: e[axis])
                    if attrs.endMask & (1 << axis) != 0 { stop = stride > 0 ? Int(Int32.max) : Int(Int32.min) }
                    if stop < 0 { stop += size }
                    stop = stride > 0 ? min(max(stop, 0), size) : min(max(stop, -1), size - 1)
                }
            }
            if size == 0 { start = 0; stop = 0 }
            if shrink && axis < b.count {
                guard start >= 0, start < size else {
                    throw InterpreterError.runtime("shrunk index \(b[axis]) is out of range for dimension \(axis) of size \(size)", at: label)
                }
            }
            let length = max(0, stride > 0 ? (stop - start + stride - 1) / stride : (start - stop - stride - 1) / -stride)
            starts.append(start); stops.append(stop); steps.append(stride)
            if !(shrink && axis < b.count) { outShape.append(length) }
        }
        let lengths = (0..<rank).map { axis -> Int in
            let (s, t, k) = (starts[axis], stops[axis], steps[axis])
            return max(0, k > 0 ? (t - s + k - 1) / k : (s - t - k - 1) / -k)
        }
        try output.resize(outShape, at: label)
        let inStrides = rowMajorStrides(input.shape)
        let size = input.elementSize
        let base = (0..<rank).reduce(0) { $0 + starts[$1] * inStrides[$1] }
        forEachStridedOffset(counts: lengths, base: base, strides: (0..<rank).map { steps[$0] * inStrides[$0] }) { o, src in
            copyBytes(output.raw + o * size, input.raw + src * size, size)
        }
    }
}

/// PACK: stacks N equal-shaped inputs along a new axis.
package final class PackKernel: Kernel {
    private let label: String
    private let inputs: [Slot], output: Slot
    package var outputs: [Slot] { [output] }
    private let axis: Int

    package init(_ c: KernelContext, valuesCount: Int32, axis: Int32) throws {
        label = c.label
        inputs = try (0..<c.inputCount).map { try c.input($0) }
        output = try c.output()
        self.axis = Int(axis)
        guard !inputs.isEmpty, inputs.allSatisfy({ $0.dtype == output.dtype }) else { throw Unsupported("inputs and output must share one type") }
        if valuesCount > 0 && Int(valuesCount) != inputs.count { throw Unsupported("values_count \(valuesCount) but \(inputs.count) inputs") }
    }

    package func run() throws {
        let shape = inputs[0].shape
        guard inputs.allSatisfy({ $0.shape == shape }) else {
            throw InterpreterError.runtime("inputs have different shapes: \(inputs.map(\.shape))", at: label)
        }
        let a = axis < 0 ? axis + shape.count + 1 : axis
        guard a >= 0, a <= shape.count else { throw InterpreterError.runtime("axis \(axis) is out of range for rank \(shape.count)", at: label) }
        var outShape = shape
        outShape.insert(inputs.count, at: a)
        try output.resize(outShape, at: label)
        let outer = product(shape[..<a]), inner = product(shape[a...]) * output.elementSize
        for o in 0..<outer {
            for (k, s) in inputs.enumerated() {
                copyBytes(output.raw + (o * inputs.count + k) * inner, s.raw + o * inner, inner)
            }
        }
    }
}

/// CONCATENATION along one axis.
package final class ConcatenationKernel: Kernel {
    private let label: String
    private let inputs: [Slot], output: Slot
    package var outputs: [Slot] { [output] }
    private let axis: Int

    package init(_ c: KernelContext, axis: Int32, activation: ActivationFunction) throws {
        label = c.label
        inputs = try (0..<c.inputCount).map { try c.input($0) }
        output = try c.output()
        self.axis = Int(axis)
        guard activation == .none else { throw Unsupported("fused activation \(activation)") }
        guard !inputs.isEmpty, inputs.allSatisfy({ $0.dtype == output.dtype }) else { throw Unsupported("inputs and output must share one type") }
        if output.dtype == .int8 || output.dtype == .int16 {
            for s in inputs where s.scale != output.scale || s.zeroPoint != output.zeroPoint {
                throw Unsupported("input \(s.name) is quantized differently from the output (TFLM requires equal parameters)")
            }
        }
    }

    package func run() throws {
        let rank = inputs[0].rank
        let a = axis < 0 ? axis + rank : axis
        guard a >= 0, a < rank else { throw InterpreterError.runtime("axis \(axis) is out of range for rank \(rank)", at: label) }
        var outShape = inputs[0].shape
        outShape[a] = 0
        for s in inputs {
            guard s.rank == rank, (0..<rank).allSatisfy({ $0 == a || s.shape[$0] == inputs[0].shape[$0] }) else {
                throw InterpreterError.runtime("input shapes \(inputs.map(\.shape)) differ outside axis \(a)", at: label)
            }
            outShape[a] += s.shape[a]
        }
        try output.resize(outShape, at: label)
        let outer = product(outShape[..<a])
        let size = output.elementSize
        var offset = 0
        let outRow = product(outShape[a...]) * size
        for s in inputs {
            let row = product(s.shape[a...]) * size
            for o in 0..<outer { copyBytes(output.raw + o * outRow + offset, s.raw + o * row, row) }
            offset += row
        }
    }
}

/// GATHER along `axis` with `batch_dims` leading dimensions shared by params and indices.
package final class GatherKernel: Kernel {
    private let label: String
    private let params: Slot, indices: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let axis: Int, batchDims: Int

    package init(_ c: KernelContext, axis: Int32, batchDims: Int32) throws {
        label = c.label
        params = try c.input(0)
        indices = try c.input(1)
        output = try c.output()
        self.axis = Int(axis)
        self.batchDims = Int(batchDims)
        guard params.dtype == output.dtype else { throw Unsupported("types \(params.dtype.name) → \(output.dtype.name) differ") }
        guard indices.dtype == .int32 || indices.dtype == .int64 else { throw Unsupported("indices must be INT32 or INT64") }
    }

    package func run() throws {
        let rank = params.rank
        let a = axis < 0 ? axis + rank : axis
        let bd = batchDims < 0 ? batchDims + indices.rank : batchDims
        guard a >= 0, a < rank, bd >= 0, bd <= a, bd <= indices.rank,
              (0..<bd).allSatisfy({ params.shape[$0] == indices.shape[$0] }) else {
            throw InterpreterError.runtime("axis \(axis) / batch_dims \(batchDims) do not fit params \(params.shape) and indices \(indices.shape)", at: label)
        }
        let outShape = Array(params.shape[..<a]) + Array(indices.shape[bd...]) + Array(params.shape[(a + 1)...])
        try output.resize(outShape, at: label)
        let batch = product(params.shape[..<bd]), outer = product(params.shape[bd..<a])
        let axisSize = params.shape[a], inner = product(params.shape[(a + 1)...]) * params.elementSize
        let coords = product(indices.shape[bd...])
        let idx = indices.integerValues() ?? []
        for b in 0..<batch {
            for o in 0..<outer {
                for i in 0..<coords {
                    let k = idx[b * coords + i]
                    guard k >= 0, k < axisSize else {
                        throw InterpreterError.runtime("index \(k) is out of range [0, \(axisSize))", at: label)
                    }
                    let src = ((b * outer + o) * axisSize + Int(k)) * inner
                    let dst = ((b * outer + o) * coords + i) * inner
                    copyBytes(output.raw + dst, params.raw + src, inner)
                }
            }
        }
    }
}

/// TRANSPOSE by a permutation input.
package final class TransposeKernel: Kernel {
    private let label: String
    private let input: Slot, perm: Slot, output: Slot
    package var outputs: [Slot] { [output] }

    package init(_ c: KernelContext) throws {
        label = c.label
        input = try c.input(0)
        perm = try c.input(1)
        output = try c.output()
        guard input.dtype == output.dtype else { throw Unsupported("types \(input.dtype.name) → \(output.dtype.name) differ") }
        guard perm.dtype == .int32 || perm.dtype == .int64 else { throw Unsupported("perm must be INT32 or INT64") }
    }

    package func run() throws {
        let rank = input.rank
        let p = (perm.integerValues() ?? []).map { Int(clamping: $0) }.map { $0 < 0 ? $0 + rank : $0 }
        guard p.count == rank, p.sorted() == Array(0..<rank) else {
            throw InterpreterError.runtime("perm \(p) is not a permutation of rank \(rank)", at: label)
        }
        let outShape = p.map { input.shape[$0] }
        try output.resize(outShape, at: label)
        let inStrides = rowMajorStrides(input.shape)
        let size = input.elementSize
        forEachStridedOffset(counts: outShape, base: 0, strides: p.map { inStrides[$0] }) { o, src in
            copyBytes(output.raw + o * size, input.raw + src * size, size)
        }
    }
}

/// PAD / PADV2: paddings [rank, 2]; the fill is 0 (float/int32), the output zero point (int8
/// PAD) or PADV2's constant value.
package final class PadKernel: Kernel {
    private let label: String
    private let input: Slot, paddings: Slot, constant: Slot?, output: Slot
    package var outputs: [Slot] { [output] }

    package init(_ c: KernelContext, withConstant: Bool) throws {
        label = c.label
        input = try c.input(0)
        paddings = try c.input(1)
        constant = withConstant ? c.optionalInput(2) : nil
        output = try c.output()
        guard input.dtype == output.dtype else { throw Unsupported("types \(input.dtype.name) → \(output.dtype.name) differ") }
        guard paddings.dtype == .int32 || paddings.dtype == .int64 else { throw Unsupported("paddings must be INT32 or INT64") }
        if let k = constant, k.dtype != input.dtype { throw Unsupported("constant value type \(k.dtype.name) differs from \(input.dtype.name)") }
        guard [.float32, .int8, .uint8, .int16, .int32, .int64, .bool].contains(input.dtype) else { throw Unsupported("type \(input.dtype.name)") }
    }

    package func run() throws {
        let rank = input.rank
        let p = paddings.integerValues() ?? []
        guard p.count == rank * 2, p.allSatisfy({ $0 >= 0 && $0 <= Int64(Int32.max) }) else {
            throw InterpreterError.runtime("paddings \(p) must be \(rank)×2 non-negative values", at: label)
        }
        let before = (0..<rank).map { Int(p[2 * $0]) }, after = (0..<rank).map { Int(p[2 * $0 + 1]) }
        let outShape = (0..<rank).map { input.shape[$0] + before[$0] + after[$0] }
        try output.resize(outShape, at: label)
        let size = output.elementSize
        // Fill with the pad value, then copy the input rows in.
        var fill = [UInt8](repeating: 0, count: size)
        if let k = constant, k.count >= 1 {
            for i in 0..<size { fill[i] = k.raw.load(fromByteOffset: i, as: UInt8.self) }
        } else if output.dtype == .int8 {
            fill[0] = UInt8(bitPattern: Int8(truncatingIfNeeded: output.zeroPoint))
        } else if output.dtype == .uint8 {
            fill[0] = UInt8(truncatingIfNeeded: output.zeroPoint)
        } else if output.dtype == .int16 {
            let z = Int16(truncatingIfNeeded: output.zeroPoint)
            fill[0] = UInt8(truncatingIfNeeded: z); fill[1] = UInt8(truncatingIfNeeded: z >> 8)
        }
        for o in 0..<output.count { for i in 0..<size { output.raw.storeBytes(of: fill[i], toByteOffset: o * size + i, as: UInt8.self) } }
        if input.count == 0 { return }
        let outStrides = rowMajorStrides(outShape)
        let rowLength = (rank > 0 ? input.shape[rank - 1] : 1) * size
        let rows = rank > 0 ? input.count / max(input.shape[rank - 1], 1) : 1
        var index = [Int](repeating: 0, count: max(rank - 1, 0))
        for r in 0..<rows {
            var dst = rank > 0 ? before[rank - 1] : 0
            for d in 0..<(rank - 1) { dst += (index[d] + before[d]) * outStrides[d] }
            copyBytes(output.raw + dst * size, input.raw + r * rowLength, rowLength)
            var d = rank - 2
            while d >= 0 {
                index[d] += 1
                if index[d] < input.shape[d] { break }
                index[d] = 0
                d -= 1
            }
        }
    }
}
