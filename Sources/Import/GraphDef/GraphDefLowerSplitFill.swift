import IR
import Support

// Split and Fill, as Keras 3's recurrent cells and their zero initial states use them
// (TF's array_ops: Split(split_dim, value) with num_split outputs; Fill(dims, value)).
extension GraphDefLowering {
    /// Split into `num_split` equal parts along the axis: one STRIDED_SLICE per part (the
    /// parts of an LSTM/GRU cell's gates), or constants when the input is constant.
    package mutating func lowerSplit(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        guard let a = try integerInput(inputs, 0, node, "the split axis").first else { throw node.invalid("the split axis is empty") }
        let x = try input(inputs, 1, node)
        let xs = value(x).shape.map(Int.init)
        let axis = a < 0 ? a + xs.count : a
        guard axis >= 0, axis < xs.count else { throw node.invalid("axis \(a) is out of range for rank \(xs.count)") }
        let parts = try node.attrInt("num_split", default: 1)
        guard parts >= 1, parts <= 1 << 16, xs[axis] % parts == 0 else { throw node.invalid("cannot split \(xs[axis]) into \(parts) equal parts") }
        if !isConstant(x) && value(x).dtype != .float32 { throw node.invalid("splits \(value(x).dtype.name) tensors at run time; only float32 is converted") }
        let size = xs[axis] / parts
        var outputs: [ValueID?] = []
        for k in 0..<parts {
            var begin = Array(repeating: 0, count: xs.count), end = xs
            begin[axis] = k * size
            end[axis] = (k + 1) * size
            let attrs = StridedSliceAttributes(beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0)
            let b = int32Constant(begin, name: "\(node.name)/begin_\(k)", node: node)
            let e = int32Constant(end, name: "\(node.name)/end_\(k)", node: node)
            let s = int32Constant(Array(repeating: 1, count: xs.count), name: "\(node.name)/strides_\(k)", node: node)
            var shape = xs.map { Int32($0) }
            shape[axis] = Int32(size)
            outputs.append(emit(.stridedSlice(attrs), [x, b, e, s], node: node, name: k == 0 ? node.name : "\(node.name):\(k)", dtype: value(x).dtype, shape: shape))
        }
        return outputs
    }

    /// Fill with constant dims and value: a constant.
    package mutating func lowerFill(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        let dims = try integerInput(inputs, 0, node, "the dimensions")
        let v = try constantInput(inputs, 1, node, "the fill value")
        guard v.elementCount == 1, dims.allSatisfy({ $0 >= 0 }) else { throw node.invalid("needs non-negative dimensions and a scalar value") }
        guard let count = Value.elementCount(dims.map { Int32($0) }), count <= 1 << 26 else { throw node.invalid("dimensions \(dims) are too large") }
        try MemoryBudget.check(count: count, elementSize: v.elementSize, for: "Fill '\(node.name)'")
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * v.bytes.count)
        for _ in 0..<count { bytes += v.bytes }
        return [addConstant(ConstantTensor(type: ElementType(v.type.dtype), shape: dims.map { Int32($0) }, bytes: bytes), name: node.name, node: node.name)]
    }
}
