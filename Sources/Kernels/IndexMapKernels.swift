import IR
import Support
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Ops whose every output element is one input element (or the pad value): SPACE_TO_DEPTH,
/// DEPTH_TO_SPACE, SPACE_TO_BATCH_ND, BATCH_TO_SPACE_ND, MIRROR_PAD, BROADCAST_TO, REVERSE_V2,
/// GATHER_ND, EMBEDDING_LOOKUP, RESIZE_NEAREST_NEIGHBOR. Each computes the output shape and the
/// source index of every output element from the run's shapes and index inputs, then copies
/// element bytes, so one kernel serves every dtype; int8 keeps its quantization (the TFLM
/// kernels require equal input and output parameters).
package final class IndexMapKernel: Kernel {
    /// The output shape and, per output element, its input element (−1: the pad value).
    package typealias Plan = (_ input: Slot, _ label: String) throws -> (shape: [Int], sources: [Int])
    private let label: String
    private let input: Slot, output: Slot
    package var outputs: [Slot] { [output] }
    private let plan: Plan

    package init(_ c: KernelContext, types: [DType], plan: @escaping Plan) throws {
        label = c.label
        input = try c.input(0)
        output = try c.output()
        self.plan = plan
        guard input.dtype == output.dtype else { throw Unsupported("types \(input.dtype.name) → \(output.dtype.name) differ") }
        guard types.contains(input.dtype) else { throw Unsupported("type \(input.dtype.name); supported: \(dtypeList(types))") }
    }

    package func run() throws {
        let (shape, sources) = try plan(input, label)
        try output.resize(shape, at: label)
        let size = input.elementSize
        // The pad value: the output's zero point for quantized types (space_to_batch_nd.cc
        // output_offset), zero otherwise.
        var fill = [UInt8](repeating: 0, count: size)
        if output.isQuantized, output.dtype == .int8 || output.dtype == .uint8 { fill[0] = UInt8(truncatingIfNeeded: output.zeroPoint) }
        let src = input.raw, dst = output.raw
        for (o, s) in sources.enumerated() {
            if s >= 0 {
                memcpy(dst + o * size, src + s * size, size)
            } else {
                for b in 0..<size { dst.storeBytes(of: fill[b], toByteOffset: o * size + b, as: UInt8.self) }
            }
        }
    }
}

/// Calls `body` with every multi-index of `shape` in row-major order.
private func forEachIndex(_ shape: [Int], _ body: ([Int]) throws -> Void) rethrows {
    guard !shape.contains(where: { $0 <= 0 }) else { return }
    var index = [Int](repeating: 0, count: shape.count)
    while true {
        try body(index)
        var d = shape.count - 1
        while d >= 0 {
            index[d] += 1
            if index[d] < shape[d] { break }
            index[d] = 0
            d -= 1
        }
        if d < 0 { return }
    }
}

/// The integer values of an index input, or a run-time error naming it.
private func integers(_ s: Slot, _ what: String, _ label: String) throws -> [Int] {
    guard let v = s.integerValues() else { throw InterpreterError.runtime("\(what) must be an integer tensor", at: label) }
    return v.map { Int(clamping: $0) }
}

extension IndexMapKernel {
    /// SPACE_TO_DEPTH (reference space_to_depth.h): [b, h, w, c] → [b, h/n, w/n, n·n·c], depth
    /// index (dy·n + dx)·c + ch.
    package static func spaceToDepth(_ c: KernelContext, blockSize n: Int) throws -> IndexMapKernel {
        try IndexMapKernel(c, types: [.float32, .int8]) { x, label in
            guard x.rank == 4, n > 0, x.shape[1] % n == 0, x.shape[2] % n == 0 else {
                throw InterpreterError.runtime("input \(x.shape) is not 4-D with height and width divisible by block size \(n)", at: label)
            }
            let (b, h, w, ch) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
            let shape = [b, h / n, w / n, ch * n * n]
            var sources: [Int] = []
            sources.reserveCapacity(b * h * w * ch)
            forEachIndex(shape) { i in
                let block = i[3] / ch, channel = i[3] % ch
                let y = i[1] * n + block / n, xx = i[2] * n + block % n
                sources.append(((i[0] * h + y) * w + xx) * ch + channel)
            }
            return (shape, sources)
        }
    }

    /// DEPTH_TO_SPACE (reference depth_to_space.h): the inverse of SPACE_TO_DEPTH.
    package static func depthToSpace(_ c: KernelContext, blockSize n: Int) throws -> IndexMapKernel {
        try IndexMapKernel(c, types: [.float32, .int8]) { x, label in
            guard x.rank == 4, n > 0, x.shape[3] % (n * n) == 0 else {
                throw InterpreterError.runtime("input \(x.shape) is not 4-D with depth divisible by \(n * n)", at: label)
            }
            let (b, h, w, ch) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
            let oc = ch / (n * n)
            let shape = [b, h * n, w * n, oc]
            var sources: [Int] = []
            forEachIndex(shape) { i in
                let depth = ((i[1] % n) * n + i[2] % n) * oc + i[3]
                sources.append(((i[0] * h + i[1] / n) * w + i[2] / n) * ch + depth)
            }
            return (shape, sources)
        }
    }

    /// The block shape and the [M, 2] paddings or crops of SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND,
    /// with a 3-D input read as [b, h, 1, c] (TFLM's kernels extend 3-D shapes this way).
    private static func blockGeometry(_ x: Slot, _ block: Slot, _ pads: Slot, _ label: String) throws -> (shape4: [Int], block: [Int], pads: [Int]) {
        guard x.rank == 3 || x.rank == 4 else { throw InterpreterError.runtime("input \(x.shape) must be 3-D or 4-D", at: label) }
        var b = try integers(block, "block_shape", label), p = try integers(pads, "paddings", label)
        guard b.count == x.rank - 2, p.count == 2 * b.count, b.allSatisfy({ $0 > 0 }), p.allSatisfy({ $0 >= 0 }) else {
            throw InterpreterError.runtime("block_shape \(b) / paddings \(p) do not fit input \(x.shape)", at: label)
        }
        var shape4 = x.shape
        if x.rank == 3 {
            shape4.insert(1, at: 2)
            b.append(1)
            p += [0, 0]
        }
        return (shape4, b, p)
    }

    /// SPACE_TO_BATCH_ND (reference space_to_batch_nd.h): output batch = block offset · b + batch;
    /// padded positions take the pad value.
    package static func spaceToBatch(_ c: KernelContext) throws -> IndexMapKernel {
        let block = try c.input(1), pads = try c.input(2)
        return try IndexMapKernel(c, types: [.float32, .int8]) { x, label in
            let (s, bs, p) = try blockGeometry(x, block, pads, label)
            let ph = s[1] + p[0] + p[1], pw = s[2] + p[2] + p[3]
            guard ph % bs[0] == 0, pw % bs[1] == 0 else {
                throw InterpreterError.runtime("padded spatial size \([ph, pw]) is not divisible by block_shape", at: label)
            }
            var shape = [s[0] * bs[0] * bs[1], ph / bs[0], pw / bs[1], s[3]]
            var sources: [Int] = []
            forEachIndex(shape) { i in
                let batch = i[0] % s[0], offset = i[0] / s[0]
                let y = i[1] * bs[0] + offset / bs[1] - p[0], xx = i[2] * bs[1] + offset % bs[1] - p[2]
                let inside = y >= 0 && y < s[1] && xx >= 0 && xx < s[2]
                let source: Int = ((batch * s[1] + y) * s[2] + xx) * s[3] + i[3]
                sources.append(inside ? source : -1)
            }
            if x.rank == 3 { shape.remove(at: 2) }
            return (shape, sources)
        }
    }

    /// BATCH_TO_SPACE_ND (reference batch_to_space_nd.h): the inverse, with crops.
    package static func batchToSpace(_ c: KernelContext) throws -> IndexMapKernel {
        let block = try c.input(1), crops = try c.input(2)
        return try IndexMapKernel(c, types: [.float32, .int8]) { x, label in
            let (s, bs, p) = try blockGeometry(x, block, crops, label)
            let blocks = bs[0] * bs[1]
            let oh = s[1] * bs[0] - p[0] - p[1], ow = s[2] * bs[1] - p[2] - p[3]
            guard s[0] % blocks == 0, oh >= 0, ow >= 0 else {
                throw InterpreterError.runtime("batch \(s[0]) / crops \(p) do not fit block_shape \(bs)", at: label)
            }
            let ob = s[0] / blocks
            var shape = [ob, oh, ow, s[3]]
            var sources: [Int] = []
            forEachIndex(shape) { i in
                let y = i[1] + p[0], xx = i[2] + p[2]
                let batch = ((y % bs[0]) * bs[1] + xx % bs[1]) * ob + i[0]
                sources.append(((batch * s[1] + y / bs[0]) * s[2] + xx / bs[1]) * s[3] + i[3])
            }
            if x.rank == 3 { shape.remove(at: 2) }
            return (shape, sources)
        }
    }

    /// MIRROR_PAD (mirror_pad.cc): REFLECT (mode 0) leaves the edge out, SYMMETRIC (1) repeats it.
    package static func mirrorPad(_ c: KernelContext, symmetric: Bool) throws -> IndexMapKernel {
        let pads = try c.input(1)
        return try IndexMapKernel(c, types: [.float32, .int8, .int32, .int64]) { x, label in
            let p = try integers(pads, "paddings", label)
            let limit = symmetric ? 0 : 1
            func fits(_ d: Int) -> Bool {
                let before = p[2 * d], after = p[2 * d + 1]
                return before >= 0 && after >= 0 && max(before, after) <= x.shape[d] - limit
            }
            guard p.count == 2 * x.rank, (0..<x.rank).allSatisfy(fits) else {
                throw InterpreterError.runtime("paddings \(p) do not fit input \(x.shape) (\(symmetric ? "SYMMETRIC" : "REFLECT"))", at: label)
            }
            let shape = (0..<x.rank).map { (d: Int) -> Int in x.shape[d] + p[2 * d] + p[2 * d + 1] }
            let st = rowMajorStrides(x.shape)
            var sources: [Int] = []
            forEachIndex(shape) { i in
                var s = 0
                for d in 0..<x.rank {
                    var j = i[d] - p[2 * d]
                    let n = x.shape[d]
                    if j < 0 { j = symmetric ? -j - 1 : -j } else if j >= n { j = symmetric ? 2 * n - 1 - j : 2 * n - 2 - j }
                    s += j * st[d]
                }
                sources.append(s)
            }
            return (shape, sources)
        }
    }

    /// BROADCAST_TO (broadcast_to.cc): numpy broadcasting of the input to the shape input.
    package static func broadcastTo(_ c: KernelContext) throws -> IndexMapKernel {
        let target = try c.input(1)
        return try IndexMapKernel(c, types: [.float32, .int8, .int16, .int32, .int64, .bool]) { x, label in
            let shape = try integers(target, "shape", label)
            guard shape.count >= x.rank, shape.allSatisfy({ $0 >= 0 }) else {
                throw InterpreterError.runtime("cannot broadcast \(x.shape) to \(shape)", at: label)
            }
            let lead = shape.count - x.rank
            let st = rowMajorStrides(x.shape)
            for d in 0..<x.rank where x.shape[d] != 1 && x.shape[d] != shape[lead + d] {
                throw InterpreterError.runtime("cannot broadcast \(x.shape) to \(shape)", at: label)
            }
            var sources: [Int] = []
            forEachIndex(shape) { i in
                var s = 0
                for d in 0..<x.rank where x.shape[d] != 1 { s += i[lead + d] * st[d] }
                sources.append(s)
            }
            return (shape, sources)
        }
    }

    /// REVERSE_V2 (reverse.cc): the listed axes reversed.
    package static func reverse(_ c: KernelContext) throws -> IndexMapKernel {
        let axesInput = try c.input(1)
        return try IndexMapKernel(c, types: [.float32, .int8, .int16, .int32, .int64, .uint8, .bool]) { x, label in
            var reversed = [Bool](repeating: false, count: x.rank)
            for a in try integers(axesInput, "axis", label) {
                let axis = a < 0 ? a + x.rank : a
                guard axis >= 0, axis < x.rank else { throw InterpreterError.runtime("axis \(a) is out of range for rank \(x.rank)", at: label) }
                reversed[axis] = true
            }
            let st = rowMajorStrides(x.shape)
            var sources: [Int] = []
            forEachIndex(x.shape) { i in
                var s = 0
                for d in 0..<x.rank { s += (reversed[d] ? x.shape[d] - 1 - i[d] : i[d]) * st[d] }
                sources.append(s)
            }
            return (x.shape, sources)
        }
    }

    /// GATHER_ND (gather_nd.cc): indices [..., k] pick slices params[i0, …, ik−1, :]; an index
    /// out of range is an error, as on TFLM.
    package static func gatherND(_ c: KernelContext) throws -> IndexMapKernel {
        let indices = try c.input(1)
        guard indices.dtype == .int32 else { throw Unsupported("indices type \(indices.dtype.name); supported: INT32") }
        return try IndexMapKernel(c, types: [.float32, .int8, .int32]) { x, label in
            let idx = try integers(indices, "indices", label)
            guard indices.rank >= 1, let k = indices.shape.last, k <= x.rank, k >= 1 else {
                throw InterpreterError.runtime("indices \(indices.shape) do not fit params \(x.shape)", at: label)
            }
            let sliceSize = product(x.shape[k...])
            let st = rowMajorStrides(x.shape)
            let shape = Array(indices.shape.dropLast()) + Array(x.shape[k...])
            var sources: [Int] = []
            for row in 0..<(idx.count / k) {
                var base = 0
                for d in 0..<k {
                    let v = idx[row * k + d]
                    guard v >= 0, v < x.shape[d] else { throw InterpreterError.runtime("index \(v) is out of range for dimension \(d) of \(x.shape)", at: label) }
                    base += v * st[d]
                }
                for j in 0..<sliceSize { sources.append(base + j) }
            }
            return (shape, sources)
        }
    }

    /// EMBEDDING_LOOKUP (embedding_lookup.cc): rows of the value tensor (input 1) by the int32 ids
    /// (input 0). Same-type lookups only (not the hybrid int8 → float form).
    package static func embeddingLookup(_ c: KernelContext) throws -> IndexMapKernel {
        let ids = try c.input(0)
        guard ids.dtype == .int32 else { throw Unsupported("ids type \(ids.dtype.name); supported: INT32") }
        let context = KernelContext(op: Op(kind: c.op.kind, inputs: [c.op.inputs[1]], outputs: c.op.outputs), index: c.index, graph: c.graph, slot: c.slot)
        return try IndexMapKernel(context, types: [.float32, .int8]) { value, label in
            guard value.rank >= 2 else { throw InterpreterError.runtime("value \(value.shape) must have rank ≥ 2", at: label) }
            let rows = try integers(ids, "ids", label)
            let rowSize = product(value.shape.dropFirst())
            var sources: [Int] = []
            for r in rows {
                guard r >= 0, r < value.shape[0] else { throw InterpreterError.runtime("id \(r) is out of range for \(value.shape[0]) rows", at: label) }
                for j in 0..<rowSize { sources.append(r * rowSize + j) }
            }
            return ([rows.count] + Array(value.shape.dropFirst()), sources)
        }
    }

    /// RESIZE_NEAREST_NEIGHBOR (reference resize_nearest_neighbor.h GetNearestNeighbor, float
    /// arithmetic as written there).
    package static func resizeNearest(_ c: KernelContext, alignCorners: Bool, halfPixelCenters: Bool) throws -> IndexMapKernel {
        let size = try c.input(1)
        return try IndexMapKernel(c, types: [.float32, .int8, .int16]) { x, label in
            let hw = try integers(size, "size", label)
            guard x.rank == 4, hw.count == 2, hw[0] > 0, hw[1] > 0 else {
                throw InterpreterError.runtime("input \(x.shape) must be 4-D and size \(hw) two positive values", at: label)
            }
            func nearest(_ v: Int, _ inSize: Int, _ outSize: Int) -> Int {
                let scale = alignCorners && outSize > 1 ? Float(inSize - 1) / Float(outSize - 1) : Float(inSize) / Float(outSize)
                let offset: Float = halfPixelCenters ? 0.5 : 0
                let scaled = (Float(v) + offset) * scale
                var r = min(Int(alignCorners ? scaled.rounded(.toNearestOrAwayFromZero) : scaled.rounded(.down)), inSize - 1)
                if halfPixelCenters { r = max(0, r) }
                return r
            }
            let (b, h, w, ch) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
            let ys: [Int] = (0..<hw[0]).map { (v: Int) -> Int in nearest(v, h, hw[0]) }
            let xs: [Int] = (0..<hw[1]).map { (v: Int) -> Int in nearest(v, w, hw[1]) }
            let shape = [b, hw[0], hw[1], ch]
            var sources: [Int] = []
            forEachIndex(shape) { i in sources.append(((i[0] * h + ys[i[1]]) * w + xs[i[2]]) * ch + i[3]) }
            return (shape, sources)
        }
    }
}
