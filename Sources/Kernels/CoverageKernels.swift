import IR
import Support
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Kernels for the rest of the builtin ops TFLM registers: FILL, ZEROS_LIKE, SELECT_V2,
/// DYNAMIC_UPDATE_SLICE, ARG_MAX/ARG_MIN, REDUCE_MAX/REDUCE_MIN/SUM, CUMSUM, ADD_N,
/// FLOOR_DIV/FLOOR_MOD, PRELU, L2_NORMALIZATION, LOG_SOFTMAX, BATCH_MATMUL, TRANSPOSE_CONV,
/// RESIZE_BILINEAR, L2_POOL_2D. Each restates the tflite-micro kernel named in its comment;
/// float32 keeps the reference summation order.

private func requireSameType(_ a: Slot, _ b: Slot) throws {
    guard a.dtype == b.dtype else { throw Unsupported("types \(a.dtype.name) → \(b.dtype.name) differ") }
}

private func requireType(_ s: Slot, _ types: [DType]) throws {
    guard types.contains(s.dtype) else { throw Unsupported("type \(s.dtype.name); supported: \(dtypeList(types))") }
}

/// The axis an op reads from a one-element integer input, normalised to [0, rank).
private func axisValue(_ s: Slot, rank: Int, _ label: String) throws -> Int {
    guard let v = s.integerValues(), v.count == 1 else { throw InterpreterError.runtime("axis input must hold one value", at: label) }
    let a = v[0] < 0 ? Int(v[0]) + rank : Int(v[0])
    guard a >= 0, a < max(rank, 1) else { throw InterpreterError.runtime("axis \(v[0]) is out of range for rank \(rank)", at: label) }
    return a
}

/// (outer, axis size, inner) of a shape around one axis.
private func split(_ shape: [Int], _ axis: Int) -> (Int, Int, Int) {
    (product(shape[..<axis]), shape.isEmpty ? 1 : shape[axis], shape.isEmpty ? 1 : product(shape[(axis + 1)...]))
}

/// FILL (fill.cc): the shape input's dimensions, every element the scalar value (input 1).
package final class FillKernel: Kernel {
    private let label: String
    private let dims: Slot, value: Slot, output: Slot
    package var outputs: [Slot] { [output] }

    package init(_ c: KernelContext) throws {
        label = c.label
        dims = try c.input(0)
        value = try c.input(1)
        output = try c.output()
        try requireSameType(value, output)
        try requireType(value, [.float32, .int8, .int16, .int32, .int64, .bool])
        try requireType(dims, [.int32, .int64])
    }

    package func run() throws {
        guard value.count == 1 else { throw InterpreterError.runtime("value must be a scalar, got \(value.shape)", at: label) }
        let shape = (dims.integerValues() ?? []).map { Int(clamping: $0) }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw InterpreterError.runtime("dims \(shape) has a negative dimension", at: label) }
        try output.resize(shape, at: label)
        let size = output.elementSize
        for o in 0..<output.count { memcpy(output.raw + o * size, value.raw, size) }
    }
}

/// ZEROS_LIKE (zeros_like.cc): zero bytes in the input's shape (0, not the zero point, for int8).
package final class ZerosLikeKernel: Kernel {
    private let label: String
    private let input: Slot, output: Slot
    package var outputs: [Slot] { [output] }

    package init(_ c: KernelContext) throws {
        label = c.label
        input = try c.input(0)
        output = try c.output()
        try requireSameType(input, output)
        try requireType(input, [.float32, .int8, .int32, .int64])
    }

    package func run() throws {
        try output.resize(input.shape, at: label)
        memset(output.raw, 0, output.byteCount)
    }
}

/// SELECT_V2 (select.cc): condition ? x : y with numpy broadcasting of all three.
package final class SelectKernel: Kernel {
    private let label: String
    private let condition: Slot, x: Slot, y: Slot, output: Slot
    package var outputs: [Slot] { [output] }

    package init(_ c: KernelContext) throws {
        label = c.label
        condition = try c.input(0)
        x = try c.input(1)
        y = try c.input(2)
        output = try c.output()
        guard condition.dtype == .bool else { throw Unsupported("condition type \(condition.dtype.name); supported: BOOL") }
        try requireSameType(x, output)
        try requireSameType(y, output)
        try requireType(x, [.float32, .int8, .int16, .int32])
        if x.dtype == .int8, x.scale != output.scale || y.scale != output.scale || x.zeroPoint != output.zeroPoint || y.zeroPoint != output.zeroPoint {
            throw Unsupported("int8 inputs and output must share quantization (as TFLM)")
        }
    }

    package func run() throws {
        guard let xy = Broadcast(x.shape, y.shape), let all = Broadcast(condition.shape, xy.outputShape) else {
            throw InterpreterError.runtime("shapes \(condition.shape), \(x.shape), \(y.shape) do not broadcast", at: label)
        }
        let shape = all.outputShape
        try output.resize(shape, at: label)
        let xIndex = Broadcast(x.shape, shape)!, yIndex = Broadcast(y.shape, shape)!
        var fromX = [Int](repeating: 0, count: output.count), fromY = fromX
        xIndex.forEach { o, i, _ in fromX[o] = i }
        yIndex.forEach { o, i, _ in fromY[o] = i }
        let size = output.elementSize, c = condition.u8
        all.forEach { o, ci, _ in
            if c[ci] != 0 { memcpy(output.raw + o * size, x.raw + fromX[o] * size, size) } else { memcpy(output.raw + o * size, y.raw + fromY[o] * size, size) }
        }
    }
}

/// DYNAMIC_UPDATE_SLICE (dynamic_update_slice.cc): the operand with `update` written at the
/// start indices, each clamped to [0, operand − update] as XLA defines it.
package final class DynamicUpdateSliceKernel: Kernel {
    private let label: String
    private let operand: Slot, update: Slot, start: Slot, output: Slot
    package var outputs: [Slot] { [output] }

    package init(_ c: KernelContext) throws {
        label = c.label
        operand = try c.input(0)
        update = try c.input(1)
        start = try c.input(2)
        output = try c.output()
        try requireSameType(operand, output)
        try requireSameType(update, output)
        try requireType(operand, [.float32, .int8, .int16, .int32])
        try requireType(start, [.int32, .int64])
    }

    package func run() throws {
        let rank = operand.rank
        let s = (start.integerValues() ?? []).map { Int(clamping: $0) }
        guard update.rank == rank, s.count == rank, (0..<rank).allSatisfy({ update.shape[$0] <= operand.shape[$0] }) else {
            throw InterpreterError.runtime("update \(update.shape) / start \(s) do not fit operand \(operand.shape)", at: label)
        }
        try output.resize(operand.shape, at: label)
        if output !== operand { memcpy(output.raw, operand.raw, operand.byteCount) }
        let begin = (0..<rank).map { min(max(s[$0], 0), operand.shape[$0] - update.shape[$0]) }
        var st = [Int](repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { st[d] = st[d + 1] * operand.shape[d + 1] }
        let size = output.elementSize
        var index = [Int](repeating: 0, count: rank)
        for u in 0..<update.count {
            var o = 0
            for d in 0..<rank { o += (begin[d] + index[d]) * st[d] }
            memcpy(output.raw + o * size, update.raw + u * size, size)
            var d = rank - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < update.shape[d] { break }
                index[d] = 0
                d -= 1
            }
        }
    }
}

/// ARG_MAX / ARG_MIN (arg_min_max.cc, reference arg_min_max.h): the first index of the largest
/// (smallest) value along the axis, as int32 or int64.
package final class ArgMinMaxKernel: Kernel {
    private let label: String
    private let input: Slot, axis: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let isMax: Bool

    package init(_ c: KernelContext, isMax: Bool) throws {
        label = c.label
        input = try c.input(0)
        axis = try c.input(1)
        output = try c.output()
        self.isMax = isMax
        try requireType(input, [.float32, .int8])
        try requireType(output, [.int32, .int64])
        try requireType(axis, [.int32, .int64])
    }

    package func run() throws {
        let a = try axisValue(axis, rank: input.rank, label)
        var shape = input.shape
        shape.remove(at: a)
        try output.resize(shape, at: label)
        let (outer, n, inner) = split(input.shape, a)
        guard n > 0 else { throw InterpreterError.runtime("axis \(a) of \(input.shape) is empty", at: label) }
        func value(_ i: Int) -> Float { input.dtype == .float32 ? input.f32[i] : Float(input.i8[i]) }
        for o in 0..<outer {
            for i in 0..<inner {
                var best = value(o * n * inner + i), bestIndex = 0
                for k in 1..<n {
                    let v = value((o * n + k) * inner + i)
                    if isMax ? v > best : v < best {
                        best = v
                        bestIndex = k
                    }
                }
                if output.dtype == .int32 { output.i32[o * inner + i] = Int32(bestIndex) } else { output.i64[o * inner + i] = Int64(bestIndex) }
            }
        }
    }
}

/// REDUCE_MAX, REDUCE_MIN, SUM and REDUCE_ALL over the axes input (reduce_common.cc). int8
/// MAX/MIN compare the raw values (TFLM requires the input's and output's quantization to be
/// equal); SUM is float32 here; ALL is the logical and of bools.
package final class ReduceKernel: Kernel {
    package enum Operation: Sendable { case max, min, sum, all }
    private let label: String
    private let input: Slot, axes: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let operation: Operation
    private let keepDims: Bool

    package init(_ c: KernelContext, _ operation: Operation, keepDims: Bool) throws {
        label = c.label
        input = try c.input(0)
        axes = try c.input(1)
        output = try c.output()
        self.operation = operation
        self.keepDims = keepDims
        try requireSameType(input, output)
        try requireType(input, operation == .sum ? [.float32] : operation == .all ? [.bool] : [.float32, .int8])
        try requireType(axes, [.int32, .int64])
        if input.dtype == .int8, input.scale != output.scale || input.zeroPoint != output.zeroPoint {
            throw Unsupported("int8 input and output must share quantization (as TFLM)")
        }
    }

    package func run() throws {
        let rank = input.rank
        let reduced = try reducedAxes(axes, rank: rank, at: label)
        var shape: [Int] = []
        var outStrides = [Int](repeating: 0, count: rank)
        var acc = 1
        for d in stride(from: rank - 1, through: 0, by: -1) where !reduced[d] {
            outStrides[d] = acc
            acc *= input.shape[d]
        }
        for d in 0..<rank { if !reduced[d] { shape.append(input.shape[d]) } else if keepDims { shape.append(1) } }
        try output.resize(shape, at: label)
        var first = [Bool](repeating: true, count: output.count)
        var index = [Int](repeating: 0, count: rank)
        var o = 0
        for i in 0..<input.count {
            switch (input.dtype, operation) {
            case (.float32, .sum):
                output.f32[o] = first[o] ? input.f32[i] : output.f32[o] + input.f32[i]
            case (.bool, _):
                output.u8[o] = first[o] ? input.u8[i] : output.u8[o] & input.u8[i]
            case (.float32, _):
                let v = input.f32[i]
                if first[o] || (operation == .max ? v > output.f32[o] : v < output.f32[o]) { output.f32[o] = v }
            default:
                let v = input.i8[i]
                if first[o] || (operation == .max ? v > output.i8[o] : v < output.i8[o]) { output.i8[o] = v }
            }
            first[o] = false
            var d = rank - 1
            while d >= 0 {
                index[d] += 1
                o += outStrides[d]
                if index[d] < input.shape[d] { break }
                o -= outStrides[d] * input.shape[d]
                index[d] = 0
                d -= 1
            }
        }
        // An empty reduction: the sum's 0, the max's lowest and the min's highest value.
        for k in 0..<output.count where first[k] {
            if output.dtype == .bool {
                output.u8[k] = 1
            } else if output.dtype == .float32 {
                output.f32[k] = operation == .sum ? 0 : (operation == .max ? -Float.greatestFiniteMagnitude : Float.greatestFiniteMagnitude)
            } else {
                output.i8[k] = operation == .max ? -128 : 127
            }
        }
    }
}

/// CUMSUM (cumsum.cc, reference cumsum.h): running sums along the axis input; `exclusive`
/// starts from 0, `reverse` runs from the end. float32 and int32.
package final class CumSumKernel: Kernel {
    private let label: String
    private let input: Slot, axis: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let exclusive: Bool, reverse: Bool

    package init(_ c: KernelContext, exclusive: Bool, reverse: Bool) throws {
        label = c.label
        input = try c.input(0)
        axis = try c.input(1)
        output = try c.output()
        self.exclusive = exclusive
        self.reverse = reverse
        try requireSameType(input, output)
        try requireType(input, [.float32, .int32, .int8])
        try requireType(axis, [.int32])
        if input.dtype == .int8 { int8Sum = try Int8SumRequantization(input: input, output: output) }
    }
    private var int8Sum: Int8SumRequantization?

    package func run() throws {
        let a = try axisValue(axis, rank: input.rank, label)
        try output.resize(input.shape, at: label)
        let (outer, n, inner) = split(input.shape, a)
        for o in 0..<outer {
            for i in 0..<inner {
                var sumF: Float = 0, sumI: Int32 = int8Sum?.start ?? 0
                for step in 0..<n {
                    let k = reverse ? n - 1 - step : step
                    let at = (o * n + k) * inner + i
                    if let q = int8Sum {
                        // reference_ops::CumSum (int8): sums of scaled values, each output requantized.
                        let v = q.scaled(input.i8[at])
                        if !exclusive { sumI &+= v }
                        output.i8[at] = q.output(sumI)
                        if exclusive { sumI &+= v }
                    } else if input.dtype == .float32 {
                        if !exclusive { sumF += input.f32[at] }
                        let v = input.f32[at]
                        output.f32[at] = sumF
                        if exclusive { sumF += v }
                    } else {
                        if !exclusive { sumI &+= input.i32[at] }
                        let v = input.i32[at]
                        output.i32[at] = sumI
                        if exclusive { sumI &+= v }
                    }
                }
            }
        }
    }
}

/// TFLM's int8 sums of equally quantized values (add_n.cc and cumsum.cc CalculateOpData; the
/// reference AddN and CumSum): each value is offset by −zero point, shifted left 20 bits and
/// halved (in_scale / twice in_scale); sums start from the scaled offset itself, not 0 (both
/// kernels' `accumulator = input1_offset`, so every sum carries one extra −zero-point term);
/// a sum goes to the output by 2·in_scale / (2^20·out_scale), + zero point, clamped to int8.
package struct Int8SumRequantization {
    private let offset: Int32, outputZeroPoint: Int32
    private let inputMultiplier: QuantizedMultiplier, outputMultiplier: QuantizedMultiplier
    /// The value every sum starts from.
    package let start: Int32

    package init(input: Slot, output: Slot) throws {
        guard input.isQuantized, output.isQuantized else { throw Unsupported("int8 tensors without quantization parameters") }
        try requirePositiveScales(input, output)
        offset = -input.zeroPoint
        outputZeroPoint = output.zeroPoint
        let twiceInputScale = 2 * Double(input.scale)
        inputMultiplier = QuantizedMultiplier(Double(input.scale) / twiceInputScale)
        outputMultiplier = QuantizedMultiplier(twiceInputScale / (Double(1 << 20) * Double(output.scale)))
        start = FixedPoint.multiply(offset &* (1 << 20), inputMultiplier)
    }

    package func scaled(_ q: Int8) -> Int32 { FixedPoint.multiply((offset &+ Int32(q)) &* (1 << 20), inputMultiplier) }

    package func output(_ sum: Int32) -> Int8 { Int8(min(127, max(-128, FixedPoint.multiply(sum, outputMultiplier) &+ outputZeroPoint))) }
}

/// ADD_N (add_n.cc): the elementwise sum of equally shaped inputs, in input order.
package final class AddNKernel: Kernel {
    private let label: String
    private let inputs: [Slot], output: Slot
    package var outputs: [Slot] { [output] }
    private var int8Sum: Int8SumRequantization?

    package init(_ c: KernelContext) throws {
        label = c.label
        inputs = try (0..<c.inputCount).map { try c.input($0) }
        output = try c.output()
        guard !inputs.isEmpty else { throw Unsupported("no inputs") }
        for x in inputs { try requireSameType(x, output) }
        try requireType(output, [.float32, .int32, .int8])
        if output.dtype == .int8 {
            let first = inputs[0]
            guard inputs.allSatisfy({ $0.isQuantized && $0.scale == first.scale && $0.zeroPoint == first.zeroPoint }) else {
                throw Unsupported("int8 ADD_N inputs must share one scale and zero point (TFLM)")
            }
            int8Sum = try Int8SumRequantization(input: first, output: output)
        }
    }

    package func run() throws {
        let shape = inputs[0].shape
        guard inputs.allSatisfy({ $0.shape == shape }) else { throw InterpreterError.runtime("inputs have different shapes", at: label) }
        try output.resize(shape, at: label)
        if let q = int8Sum { return runInt8(q) }
        for i in 0..<output.count {
            if output.dtype == .float32 {
                var s = inputs[0].f32[i]
                for x in inputs.dropFirst() { s += x.f32[i] }
                output.f32[i] = s
            } else {
                var s = inputs[0].i32[i]
                for x in inputs.dropFirst() { s &+= x.i32[i] }
                output.i32[i] = s
            }
        }
    }

    /// reference_ops::AddN (TFLM add_n.h).
    private func runInt8(_ q: Int8SumRequantization) {
        let y = output.i8
        for i in 0..<output.count {
            var sum = q.start
            for x in inputs { sum = sum &+ q.scaled(x.i8[i]) }
            y[i] = q.output(sum)
        }
    }
}

/// FLOOR_DIV and FLOOR_MOD (floor_div.cc, floor_mod.cc, reference binary_function.h): float32
/// `floor(x / y)` and the fmod remainder moved to the divisor's sign; int32 the same on integers
/// (a zero divisor is a run-time error).
package final class FloorDivModKernel: Kernel {
    private let label: String
    private let a: Slot, b: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let isMod: Bool

    package init(_ c: KernelContext, isMod: Bool) throws {
        label = c.label
        a = try c.input(0)
        b = try c.input(1)
        output = try c.output()
        self.isMod = isMod
        try requireSameType(a, output)
        try requireSameType(b, output)
        try requireType(a, [.float32, .int32])
    }

    package func run() throws {
        guard let bc = Broadcast(a.shape, b.shape) else { throw InterpreterError.runtime("shapes \(a.shape) and \(b.shape) do not broadcast", at: label) }
        try output.resize(bc.outputShape, at: label)
        if a.dtype == .float32 {
            let x = a.f32, y = b.f32, out = output.f32
            if isMod {
                bc.forEach { o, i, j in
                    let r = fmodf(x[i], y[j])
                    out[o] = r != 0 && ((y[j] < 0) != (r < 0)) ? r + y[j] : r
                }
            } else {
                bc.forEach { o, i, j in out[o] = floorf(x[i] / y[j]) }
            }
            return
        }
        let x = a.i32, y = b.i32, out = output.i32
        if (0..<b.count).contains(where: { y[$0] == 0 }) { throw InterpreterError.runtime("integer division by zero", at: label) }
        bc.forEach { o, i, j in
            let (q, r) = (x[i].dividedReportingOverflow(by: y[j]).partialValue, x[i].remainderReportingOverflow(dividingBy: y[j]).partialValue)
            let adjust = r != 0 && ((r < 0) != (y[j] < 0))
            out[o] = isMod ? (adjust ? r &+ y[j] : r) : (adjust ? q &- 1 : q)
        }
    }
}

/// PRELU (prelu.cc): x ≥ 0 ? x : x·alpha, alpha broadcast against x. int8: two multipliers,
/// in_scale/out_scale for the identity branch and in_scale·alpha_scale/out_scale for the other
/// (prelu_common.cc, reference prelu.h BroadcastPrelu4DSlow).
package final class PreluKernel: Kernel {
    private let label: String
    private let input: Slot, alpha: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private var identity = QuantizedMultiplier(multiplier: 0, shift: 0)
    private var product = QuantizedMultiplier(multiplier: 0, shift: 0)

    package init(_ c: KernelContext) throws {
        label = c.label
        input = try c.input(0)
        alpha = try c.input(1)
        output = try c.output()
        try requireSameType(input, output)
        try requireSameType(alpha, output)
        try requireType(input, [.float32, .int8])
        if input.dtype == .int8 {
            guard input.isQuantized, alpha.isQuantized, output.isQuantized else { throw Unsupported("int8 tensors without quantization parameters") }
            try requirePositiveScales(input, alpha, output)
            identity = QuantizedMultiplier(Double(input.scale) / Double(output.scale))
            product = QuantizedMultiplier(Double(input.scale) * Double(alpha.scale) / Double(output.scale))
        }
    }

    package func run() throws {
        guard let bc = Broadcast(input.shape, alpha.shape) else { throw InterpreterError.runtime("shapes \(input.shape) and \(alpha.shape) do not broadcast", at: label) }
        try output.resize(bc.outputShape, at: label)
        if input.dtype == .float32 {
            let x = input.f32, w = alpha.f32, y = output.f32
            bc.forEach { o, i, j in y[o] = x[i] >= 0 ? x[i] : x[i] * w[j] }
            return
        }
        let x = input.i8, w = alpha.i8, y = output.i8
        let inZp = input.zeroPoint, alphaZp = alpha.zeroPoint, outZp = output.zeroPoint
        let identity = self.identity, product = self.product
        bc.forEach { o, i, j in
            let v = Int32(x[i]) - inZp
            let r = v >= 0 ? FixedPoint.multiply(v, identity) : FixedPoint.multiply(v * (Int32(w[j]) - alphaZp), product)
            y[o] = Int8(max(-128, min(127, r &+ outZp)))
        }
    }
}

/// L2_NORMALIZATION (l2norm.cc, reference l2normalization.h) and LOG_SOFTMAX (log_softmax.cc,
/// reference log_softmax.h), float32, each row of the last dimension on its own:
/// x / max(‖x‖, 1e-6), and x − max − log Σ exp(x − max).
package final class LastAxisKernel: Kernel {
    package enum Operation: Sendable { case l2Normalization, logSoftmax }
    private let label: String
    private let input: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let operation: Operation

    package init(_ c: KernelContext, _ operation: Operation) throws {
        label = c.label
        input = try c.input(0)
        output = try c.output()
        self.operation = operation
        try requireSameType(input, output)
        try requireType(input, [.float32])
    }

    package func run() throws {
        try output.resize(input.shape, at: label)
        let depth = input.shape.last ?? 1
        guard depth > 0 else { return }
        let x = input.f32, y = output.f32
        for row in 0..<(input.count / depth) {
            let base = row * depth
            switch operation {
            case .l2Normalization:
                var squared: Float = 0
                for c in 0..<depth { let v = x[base + c]; squared += v * v }
                let norm = max(sqrtf(squared), 1e-6)
                for c in 0..<depth { y[base + c] = x[base + c] / norm }
            case .logSoftmax:
                var m = -Float.greatestFiniteMagnitude
                for c in 0..<depth { m = max(m, x[base + c]) }
                var sum: Float = 0
                for c in 0..<depth { sum += expf(x[base + c] - m) }
                let logSum = logf(sum)
                for c in 0..<depth { y[base + c] = x[base + c] - m - logSum }
            }
        }
    }
}

/// BATCH_MATMUL (batch_matmul.cc, reference batch_matmul.h): broadcast batch dimensions (up to
/// 5-D), adj_x / adj_y transpose the last two dimensions; each output sums over the shared
/// dimension in order. int8: (lhs − zp)·(rhs − zp) summed in int32, one multiplier
/// GetQuantizedConvolutionMultipler gives (the scale product in float, then ÷ out_scale in
/// double), + output zero point, clamped to int8 (no fused activation).
package final class BatchMatMulKernel: Kernel {
    private let label: String
    private let lhs: Slot, rhs: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let adjX: Bool, adjY: Bool
    private var multiplier = QuantizedMultiplier(multiplier: 0, shift: 0)

    package init(_ c: KernelContext, adjX: Bool, adjY: Bool) throws {
        label = c.label
        lhs = try c.input(0)
        rhs = try c.input(1)
        output = try c.output()
        self.adjX = adjX
        self.adjY = adjY
        try requireSameType(lhs, output)
        try requireSameType(rhs, output)
        try requireType(lhs, [.float32, .int8])
        if lhs.dtype == .int8 {
            guard lhs.isQuantized, rhs.isQuantized, output.isQuantized else { throw Unsupported("int8 tensors without quantization parameters") }
            try requirePositiveScales(lhs, rhs, output)
            multiplier = QuantizedMultiplier(Double(lhs.scale * rhs.scale) / Double(output.scale))
        }
    }

    package func run() throws {
        guard lhs.rank >= 2, rhs.rank >= 2, lhs.rank <= 5, rhs.rank <= 5 else {
            throw InterpreterError.runtime("operands \(lhs.shape), \(rhs.shape) must have rank 2 to 5", at: label)
        }
        let lr = lhs.rank, rr = rhs.rank
        let m = adjX ? lhs.shape[lr - 1] : lhs.shape[lr - 2], k = adjX ? lhs.shape[lr - 2] : lhs.shape[lr - 1]
        let k2 = adjY ? rhs.shape[rr - 1] : rhs.shape[rr - 2], n = adjY ? rhs.shape[rr - 2] : rhs.shape[rr - 1]
        guard k == k2, let bc = Broadcast(Array(lhs.shape.dropLast(2)), Array(rhs.shape.dropLast(2))) else {
            throw InterpreterError.runtime("operands \(lhs.shape), \(rhs.shape) do not multiply", at: label)
        }
        try output.resize(bc.outputShape + [m, n], at: label)
        let a = lhs.f32, b = rhs.f32, y = output.f32
        let lhsRows = lhs.shape[lr - 2], lhsCols = lhs.shape[lr - 1], rhsRows = rhs.shape[rr - 2], rhsCols = rhs.shape[rr - 1]
        // Broadcast's forEach gives each output batch and the batch of each operand.
        let batches = max(RuntimeTensor.elementCount(bc.outputShape) ?? 1, 1)
        var pairs = [(Int, Int)](repeating: (0, 0), count: batches)
        if bc.outputShape.isEmpty { pairs[0] = (0, 0) } else { bc.forEach { o, i, j in pairs[o] = (i, j) } }
        if lhs.dtype == .int8 {
            let lhsZp = lhs.zeroPoint, rhsZp = rhs.zeroPoint, outZp = output.zeroPoint
            let x8 = lhs.i8, w8 = rhs.i8, y8 = output.i8
            for (batch, (bi, bj)) in pairs.enumerated() {
                let pa = x8 + bi * lhsRows * lhsCols, pb = w8 + bj * rhsRows * rhsCols, out = y8 + batch * m * n
                for i in 0..<m {
                    for j in 0..<n {
                        var total: Int32 = 0
                        for t in 0..<k {
                            let l = Int32(adjX ? pa[t * lhsCols + i] : pa[i * lhsCols + t]) &- lhsZp
                            let r = Int32(adjY ? pb[j * rhsCols + t] : pb[t * rhsCols + j]) &- rhsZp
                            total = total &+ r &* l
                        }
                        let v = FixedPoint.multiply(total, multiplier) &+ outZp
                        out[i * n + j] = Int8(min(max(v, -128), 127))
                    }
                }
            }
            return
        }
        for (batch, (bi, bj)) in pairs.enumerated() {
            let pa = a + bi * lhsRows * lhsCols, pb = b + bj * rhsRows * rhsCols, out = y + batch * m * n
            for i in 0..<m {
                for j in 0..<n {
                    var total: Float = 0
                    for t in 0..<k {
                        let l = adjX ? pa[t * lhsCols + i] : pa[i * lhsCols + t]
                        let r = adjY ? pb[j * rhsCols + t] : pb[t * rhsCols + j]
                        total += r * l
                    }
                    out[i * n + j] = total
                }
            }
        }
    }
}

/// TRANSPOSE_CONV (transpose_conv.cc, reference transpose_conv.h and integer_ops/
/// transpose_conv.h): the scatter loop of the reference (input pixel, input channel, filter tap,
/// output channel), then bias and the fused activation. Inputs: output shape, weights
/// [out_c, kh, kw, in_c], input, optional bias. int8: (x − input zero point)·w summed in int32,
/// + int32 bias, one multiplier in_scale·w_scale[c]/out_scale per output channel (per-tensor
/// weights: the one scale for all), + output zero point, clamped.
package final class TransposeConvKernel: Kernel {
    private let label: String
    private let outputShape: Slot, filter: Slot, input: Slot, bias: Slot?, output: Slot
    package var outputs: [Slot] { [output] }
    private let padding: Padding, strideH: Int, strideW: Int
    private let activation: (Float, Float)
    private var multipliers: [QuantizedMultiplier] = []
    private var activationQ: (Int32, Int32) = (-128, 127)
    private var accumulators: [Int32] = []

    package init(_ c: KernelContext, padding: Padding, strideH: Int, strideW: Int, activation: ActivationFunction) throws {
        label = c.label
        outputShape = try c.input(0)
        filter = try c.input(1)
        input = try c.input(2)
        bias = c.optionalInput(3)
        output = try c.output()
        self.padding = padding
        self.strideH = strideH
        self.strideW = strideW
        self.activation = floatActivationRange(activation)
        try requireSameType(input, output)
        try requireSameType(filter, output)
        try requireType(input, [.float32, .int8])
        guard strideH > 0, strideW > 0 else { throw Unsupported("strides must be positive") }
        if input.dtype == .float32 {
            if let b = bias { try requireSameType(b, output) }
            return
        }
        if let b = bias, b.dtype != .int32 { throw Unsupported("int8 bias type \(b.dtype.name); supported: INT32") }
        guard input.isQuantized, filter.isQuantized, output.isQuantized else { throw Unsupported("int8 tensors without quantization parameters") }
        try requirePositiveScales(input, filter, output)
        let channels = filter.shape.first ?? 0
        let scales = filter.scales.isEmpty ? [filter.scale] : filter.scales
        guard scales.count == 1 || scales.count == channels else { throw Unsupported("\(scales.count) filter scales for \(channels) output channels") }
        // PopulateConvolutionQuantizationParams: the product in double.
        multipliers = (0..<channels).map { QuantizedMultiplier(Double(input.scale) * Double(scales[scales.count == 1 ? 0 : $0]) / Double(output.scale)) }
        activationQ = quantizedActivationRange(activation, scale: output.scale, zeroPoint: output.zeroPoint)
    }

    package func run() throws {
        let shape = (outputShape.integerValues() ?? []).map { Int(clamping: $0) }
        guard input.rank == 4, filter.rank == 4, shape.count == 4, shape.allSatisfy({ $0 >= 0 }), shape[0] == input.shape[0],
            shape[3] == filter.shape[0], filter.shape[3] == input.shape[3], bias.map({ $0.count == shape[3] }) ?? true
        else {
            throw InterpreterError.runtime("output shape \(shape), filter \(filter.shape), input \(input.shape) do not fit", at: label)
        }
        try output.resize(shape, at: label)
        let (batches, inH, inW, inC) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (outH, outW, outC) = (shape[1], shape[2], shape[3])
        let (fH, fW) = (filter.shape[1], filter.shape[2])
        // ComputePaddingHeightWidth with the output as the convolution's input (transpose_conv.cc).
        let padH = Window.padBefore(stride: strideH, dilation: 1, input: outH, filter: fH, output: max(Window.outSize(padding, input: outH, filter: fH, stride: strideH, dilation: 1), 0))
        let padW = Window.padBefore(stride: strideW, dilation: 1, input: outW, filter: fW, output: max(Window.outSize(padding, input: outW, filter: fW, stride: strideW, dilation: 1), 0))
        if input.dtype == .int8 {
            runInt8(batches, inH, inW, inC, outH, outW, outC, fH, fW, padH, padW)
            return
        }
        let x = input.f32, w = filter.f32, y = output.f32
        for i in 0..<output.count { y[i] = 0 }
        for b in 0..<batches {
            for iy in 0..<inH {
                for ix in 0..<inW {
                    for ic in 0..<inC {
                        let oy0 = iy * strideH - padH, ox0 = ix * strideW - padW
                        let v = x[((b * inH + iy) * inW + ix) * inC + ic]
                        for fy in 0..<fH {
                            let oy = oy0 + fy
                            for fx in 0..<fW {
                                let ox = ox0 + fx
                                guard oy >= 0, oy < outH, ox >= 0, ox < outW else { continue }
                                for oc in 0..<outC {
                                    y[((b * outH + oy) * outW + ox) * outC + oc] += v * w[((oc * fH + fy) * fW + fx) * inC + ic]
                                }
                            }
                        }
                    }
                }
            }
        }
        let (lo, hi) = activation
        for i in 0..<output.count {
            let v = bias.map { y[i] + $0.f32[i % outC] } ?? y[i]
            y[i] = min(max(v, lo), hi)
        }
    }

    private func runInt8(_ batches: Int, _ inH: Int, _ inW: Int, _ inC: Int, _ outH: Int, _ outW: Int, _ outC: Int,
                         _ fH: Int, _ fW: Int, _ padH: Int, _ padW: Int) {
        if accumulators.count < output.count { accumulators = Array(repeating: 0, count: output.count) }
        for i in 0..<output.count { accumulators[i] = 0 }
        let x = input.i8, w = filter.i8, y = output.i8
        let inputOffset = 0 &- input.zeroPoint
        accumulators.withUnsafeMutableBufferPointer { acc in
            for b in 0..<batches {
                for iy in 0..<inH {
                    for ix in 0..<inW {
                        for ic in 0..<inC {
                            let oy0 = iy * strideH - padH, ox0 = ix * strideW - padW
                            let v = Int32(x[((b * inH + iy) * inW + ix) * inC + ic]) &+ inputOffset
                            for fy in 0..<fH {
                                let oy = oy0 + fy
                                for fx in 0..<fW {
                                    let ox = ox0 + fx
                                    guard oy >= 0, oy < outH, ox >= 0, ox < outW else { continue }
                                    for oc in 0..<outC {
                                        let o = ((b * outH + oy) * outW + ox) * outC + oc
                                        acc[o] = acc[o] &+ v &* Int32(w[((oc * fH + fy) * fW + fx) * inC + ic])
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        let (lo, hi) = activationQ
        for i in 0..<output.count {
            let c = i % outC
            let sum = accumulators[i] &+ (bias.map { $0.i32[c] } ?? 0)
            let v = FixedPoint.multiply(sum, multipliers[c]) &+ output.zeroPoint
            y[i] = Int8(truncatingIfNeeded: min(max(v, lo), hi))
        }
    }
}

/// RESIZE_BILINEAR (resize_bilinear.cc): float32 by reference ResizeBilinear (float weights,
/// the expression's evaluation order kept), int8 by ResizeBilinearInteger (10-bit fixed-point
/// positions, a 20-bit product rounded half away from zero: TFLM builds without
/// TFLITE_SINGLE_ROUNDING).
package final class ResizeBilinearKernel: Kernel {
    private let label: String
    private let input: Slot, size: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let alignCorners: Bool, halfPixelCenters: Bool

    package init(_ c: KernelContext, alignCorners: Bool, halfPixelCenters: Bool) throws {
        label = c.label
        input = try c.input(0)
        size = try c.input(1)
        output = try c.output()
        self.alignCorners = alignCorners
        self.halfPixelCenters = halfPixelCenters
        try requireSameType(input, output)
        try requireType(input, [.float32, .int8])
        guard size.dtype == .int32 else { throw Unsupported("size type \(size.dtype.name); supported: INT32") }
        guard !(alignCorners && halfPixelCenters) else { throw Unsupported("align_corners and half_pixel_centers are both set") }
    }

    package func run() throws {
        let hw = (size.integerValues() ?? []).map { Int(clamping: $0) }
        guard input.rank == 4, hw.count == 2, hw[0] > 0, hw[1] > 0 else {
            throw InterpreterError.runtime("input \(input.shape) must be 4-D and size \(hw) two positive values", at: label)
        }
        let (batches, inH, inW, depth) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let (outH, outW) = (hw[0], hw[1])
        try output.resize([batches, outH, outW, depth], at: label)
        if input.dtype == .float32 { runFloat(batches, inH, inW, depth, outH, outW) } else { runInt8(batches, inH, inW, depth, outH, outW) }
    }

    private func runFloat(_ batches: Int, _ inH: Int, _ inW: Int, _ depth: Int, _ outH: Int, _ outW: Int) {
        func scale(_ i: Int, _ o: Int) -> Float { alignCorners && o > 1 ? Float(i - 1) / Float(o - 1) : Float(i) / Float(o) }
        let hs = scale(inH, outH), ws = scale(inW, outW)
        func interpolation(_ v: Int, _ s: Float, _ inSize: Int) -> (Float, Int, Int) {
            let scaled = halfPixelCenters ? (Float(v) + 0.5) * s - 0.5 : Float(v) * s
            return (scaled, max(Int(floorf(scaled)), 0), min(Int(ceilf(scaled)), inSize - 1))
        }
        let x = input.f32, y = output.f32
        for b in 0..<batches {
            for oy in 0..<outH {
                let (iy, y0, y1) = interpolation(oy, hs, inH)
                let dy = iy - Float(y0)
                for ox in 0..<outW {
                    let (ix, x0, x1) = interpolation(ox, ws, inW)
                    let dx = ix - Float(x0)
                    for c in 0..<depth {
                        func at(_ yy: Int, _ xx: Int) -> Float { x[((b * inH + yy) * inW + xx) * depth + c] }
                        let t0 = at(y0, x0) * (1 - dy) * (1 - dx)
                        let t1 = at(y1, x0) * dy * (1 - dx)
                        let t2 = at(y0, x1) * (1 - dy) * dx
                        let t3 = at(y1, x1) * dy * dx
                        y[((b * outH + oy) * outW + ox) * depth + c] = t0 + t1 + t2 + t3
                    }
                }
            }
        }
    }

    private func runInt8(_ batches: Int, _ inH: Int, _ inW: Int, _ depth: Int, _ outH: Int, _ outW: Int) {
        func scale10(_ i: Int, _ o: Int) -> Int {
            alignCorners && o > 1 ? ((1 << 10) * (i - 1) + (o - 1) / 2) / (o - 1) : ((1 << 10) * i + o / 2) / o
        }
        let hs = scale10(inH, outH), ws = scale10(inW, outW)
        func interpolation(_ v: Int, _ s: Int, _ inSize: Int) -> (Int, Int, Int) {
            let scaled = halfPixelCenters ? v * s + s / 2 - (1 << 9) : v * s
            return (scaled, max(scaled / (1 << 10), 0), min((scaled + (1 << 10) - 1) / (1 << 10), inSize - 1))
        }
        let x = input.i8, y = output.i8
        for b in 0..<batches {
            for oy in 0..<outH {
                let (iy, y0, y1) = interpolation(oy, hs, inH)
                let wy1 = Int64(iy - (1 << 10) * y0), wy0 = Int64(1 << 10) - wy1
                for ox in 0..<outW {
                    let (ix, x0, x1) = interpolation(ox, ws, inW)
                    let wx1 = Int64(ix - (1 << 10) * x0), wx0 = Int64(1 << 10) - wx1
                    for c in 0..<depth {
                        func at(_ yy: Int, _ xx: Int) -> Int64 { Int64(x[((b * inH + yy) * inW + xx) * depth + c]) }
                        let sum = at(y0, x0) * wy0 * wx0 + at(y1, x0) * wy1 * wx0 + at(y0, x1) * wy0 * wx1 + at(y1, x1) * wy1 * wx1
                        let round: Int64 = sum > 0 ? 1 << 19 : -(1 << 19)
                        y[((b * outH + oy) * outW + ox) * depth + c] = Int8(truncatingIfNeeded: (sum + round) / (1 << 20))
                    }
                }
            }
        }
    }
}

/// L2_POOL_2D (l2_pool_2d.cc, reference pooling.h L2Pool) float32: sqrt of the mean square over
/// the window cells inside the image, then the fused activation.
package final class L2PoolKernel: Kernel {
    private let label: String
    private let input: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let padding: Padding, strideH: Int, strideW: Int, filterH: Int, filterW: Int
    private let activation: (Float, Float)

    package init(_ c: KernelContext, padding: Padding, strideH: Int, strideW: Int, filterH: Int, filterW: Int, activation: ActivationFunction) throws {
        label = c.label
        input = try c.input(0)
        output = try c.output()
        (self.padding, self.strideH, self.strideW, self.filterH, self.filterW) = (padding, strideH, strideW, filterH, filterW)
        self.activation = floatActivationRange(activation)
        try requireSameType(input, output)
        try requireType(input, [.float32])
        guard strideH > 0, strideW > 0, filterH > 0, filterW > 0 else { throw Unsupported("strides and filter must be positive") }
    }

    package func run() throws {
        guard input.rank == 4 else { throw InterpreterError.runtime("input \(input.shape) must be 4-D", at: label) }
        let (batches, inH, inW, depth) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        let outH = Window.outSize(padding, input: inH, filter: filterH, stride: strideH, dilation: 1)
        let outW = Window.outSize(padding, input: inW, filter: filterW, stride: strideW, dilation: 1)
        guard outH >= 0, outW >= 0 else { throw InterpreterError.runtime("filter does not fit input \(input.shape)", at: label) }
        try output.resize([batches, outH, outW, depth], at: label)
        let padH = Window.padBefore(stride: strideH, dilation: 1, input: inH, filter: filterH, output: outH)
        let padW = Window.padBefore(stride: strideW, dilation: 1, input: inW, filter: filterW, output: outW)
        let x = input.f32, y = output.f32
        let (lo, hi) = activation
        for b in 0..<batches {
            for oy in 0..<outH {
                for ox in 0..<outW {
                    let y0 = oy * strideH - padH, x0 = ox * strideW - padW
                    for c in 0..<depth {
                        var sum: Float = 0
                        var count = 0
                        for fy in max(0, -y0)..<min(filterH, inH - y0) {
                            for fx in max(0, -x0)..<min(filterW, inW - x0) {
                                let v = x[((b * inH + y0 + fy) * inW + x0 + fx) * depth + c]
                                sum += v * v
                                count += 1
                            }
                        }
                        let l2 = count > 0 ? sqrtf(sum / Float(count)) : 0
                        y[((b * outH + oy) * outW + ox) * depth + c] = min(max(l2, lo), hi)
                    }
                }
            }
        }
    }
}

/// BROADCAST_ARGS (broadcast_args.cc): the broadcast shape of two int32 or int64 shape vectors.
package final class BroadcastArgsKernel: Kernel {
    private let label: String
    private let a: Slot, b: Slot, output: Slot
    package var outputs: [Slot] { [output] }

    package init(_ c: KernelContext) throws {
        label = c.label
        a = try c.input(0)
        b = try c.input(1)
        output = try c.output()
        try requireSameType(a, output)
        try requireSameType(b, output)
        try requireType(a, [.int32, .int64])
    }

    package func run() throws {
        let x = (a.integerValues() ?? []).map { Int(clamping: $0) }, y = (b.integerValues() ?? []).map { Int(clamping: $0) }
        guard x.allSatisfy({ $0 >= 0 }), y.allSatisfy({ $0 >= 0 }), let bc = Broadcast(x, y) else {
            throw InterpreterError.runtime("shapes \(x) and \(y) do not broadcast", at: label)
        }
        let shape = bc.outputShape
        try output.resize([shape.count], at: label)
        for (i, d) in shape.enumerated() {
            if output.dtype == .int32 { output.i32[i] = Int32(d) } else { output.i64[i] = Int64(d) }
        }
    }
}
