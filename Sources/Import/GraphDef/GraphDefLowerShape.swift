import FlatBuffers
import IR
import Ops
import Support
import TFProto

// Shape and layout ops. With static shapes, Reshape/Squeeze/ExpandDims all become RESHAPE
// with the resolved int32 shape (as TF's converter does, TF's prepare_tf.cc and optimize_patterns.td), and Shape always
// folds to a constant; StridedSlice, Pack, ConcatV2, Transpose and Cast fold when their inputs
// are constant (the batch-size arithmetic of Keras Flatten/Reshape) and otherwise become the
// TFLite builtin.

extension GraphDefLowering {
    /// RESHAPE of `x` to `shape` (fully resolved), folded when `x` is constant.
    package mutating func reshape(_ x: ValueID, to shape: [Int32], node: TFNodeDef) -> ValueID {
        let target = int32Constant(shape.map(Int.init), name: "\(node.name)/shape", node: node)
        return emit(.reshape(newShape: nil), [x, target], node: node, dtype: value(x).dtype, shape: shape)
    }

    package mutating func lowerReshape(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        let x = try input(inputs, 0, node)
        let xs = value(x).shape
        let requested = try integerInput(inputs, 1, node, "the target shape")
        guard let count = Value.elementCount(xs) else { throw node.invalid("input shape \(shapeText(xs)) is too large") }
        let unknown = requested.indices.filter { requested[$0] == -1 }
        guard unknown.count <= 1, requested.allSatisfy({ $0 >= -1 }) else {
            throw node.invalid("target shape \(shapeText(requested)) is not valid (at most one -1, no other negative sizes)")
        }
        var shape = requested
        let mismatch = node.invalid("cannot reshape \(shapeText(xs)) (\(count) elements) to \(shapeText(requested))")
        if let u = unknown.first {
            shape[u] = 1
            guard let known = Value.elementCount(shape.map { Int32($0) }), known > 0, count % known == 0, count / known <= Int(Int32.max) else { throw mismatch }
            shape[u] = count / known
        }
        guard Value.elementCount(shape.map { Int32($0) }) == count else { throw mismatch }
        return [reshape(x, to: shape.map { Int32($0) }, node: node)]
    }

    package mutating func lowerSqueeze(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        let x = try input(inputs, 0, node)
        let xs = value(x).shape
        var dims = Set<Int>()
        for d in try node.attrInts("squeeze_dims") ?? node.attrInts("axis") ?? [] {
            let axis = d < 0 ? d + xs.count : d
            guard axis >= 0, axis < xs.count else { throw node.invalid("squeeze dimension \(d) is out of range for shape \(shapeText(xs))") }
            guard xs[axis] == 1 else { throw node.invalid("cannot squeeze dimension \(d) of shape \(shapeText(xs)): its size is not 1") }
            dims.insert(axis)
        }
        if dims.isEmpty { dims = Set(xs.indices.filter { xs[$0] == 1 }) }
        let shape = xs.indices.filter { !dims.contains($0) }.map { xs[$0] }
        return [reshape(x, to: shape, node: node)]
    }

    package mutating func lowerExpandDims(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        let x = try input(inputs, 0, node)
        var shape = value(x).shape
        let dim = try integerInput(inputs, 1, node, "the dimension")
        guard dim.count == 1 else { throw node.invalid("the dimension must be a single value, got \(shapeText(dim))") }
        let axis = dim[0] < 0 ? dim[0] + shape.count + 1 : dim[0]
        guard axis >= 0, axis <= shape.count else { throw node.invalid("dimension \(dim[0]) is out of range for shape \(shapeText(shape))") }
        shape.insert(1, at: axis)
        return [reshape(x, to: shape, node: node)]
    }

    package mutating func lowerPad(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        let x = try floatInput(inputs, 0, node)
        var shape = value(x).shape
        let p = try integerInput(inputs, 1, node, "the paddings")
        guard p.count == 2 * shape.count, p.allSatisfy({ $0 >= 0 }) else {
            throw node.invalid("paddings must be \(shape.count)x2 non-negative values, got \(shapeText(p))")
        }
        for d in shape.indices {
            let size = Int(shape[d]) + p[2 * d] + p[2 * d + 1]
            guard size <= Int(Int32.max) else { throw node.invalid("padding makes dimension \(d) larger than 2^31") }
            shape[d] = Int32(size)
        }
        let paddings = int32Constant(p, name: value(inputs[1]).name, node: node, shape: [Int32(shape.count), 2])
        return [emit(.pad, [x, paddings], node: node, dtype: .float32, shape: shape)]
    }

    package mutating func lowerConcat(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        guard inputs.count >= 2 else { throw node.invalid("needs values and an axis") }
        let values = Array(inputs.dropLast())
        let axisList = try integerInput(inputs, inputs.count - 1, node, "the axis")
        guard axisList.count == 1 else { throw node.invalid("the axis must be a single value") }
        let first = value(values[0])
        let axis = axisList[0] < 0 ? axisList[0] + first.rank : axisList[0]
        guard axis >= 0, axis < first.rank else { throw node.invalid("axis \(axisList[0]) is out of range for rank \(first.rank)") }
        var shape = first.shape
        shape[axis] = 0
        for v in values.map(value) {
            guard v.dtype == first.dtype, v.rank == first.rank,
                v.shape.indices.allSatisfy({ $0 == axis || v.shape[$0] == first.shape[$0] })
            else { throw node.invalid("cannot concatenate \(first.dtype.name) \(shapeText(first.shape)) and \(v.dtype.name) \(shapeText(v.shape)) along axis \(axis)") }
            let size = Int(shape[axis]) + Int(v.shape[axis])
            guard size <= Int(Int32.max) else { throw node.invalid("the concatenation is larger than 2^31 along axis \(axis)") }
            shape[axis] = Int32(size)
        }
        if values.count == 1 { return [values[0]] }
        let out = emit(.concatenation(axis: Int32(axis), activation: .none), values, node: node, dtype: first.dtype, shape: shape)
        if !isConstant(out) && first.dtype != .float32 {
            throw node.invalid("concatenates \(first.dtype.name) tensors at run time; only float32 is converted")
        }
        return [out]
    }

    package mutating func lowerTranspose(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        let x = try input(inputs, 0, node)
        let xs = value(x).shape
        let perm = try integerInput(inputs, 1, node, "the permutation")
        guard perm.sorted() == Array(0..<xs.count) else { throw node.invalid("\(shapeText(perm)) is not a permutation of the \(xs.count) dimensions") }
        let permValue = int32Constant(perm, name: value(inputs[1]).name, node: node)
        let out = emit(.builtin(.transpose, options: nil), [x, permValue], node: node, dtype: value(x).dtype, shape: perm.map { xs[$0] })
        if !isConstant(out) && value(x).dtype != .float32 {
            throw node.invalid("transposes a \(value(x).dtype.name) tensor at run time; only float32 is converted")
        }
        return [out]
    }

    package mutating func lowerShape(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        let x = try input(inputs, 0, node)
        let dims = value(x).shape
        let outType = try node.attrType("out_type") ?? TFDataType.int32.rawValue
        let t: ConstantTensor
        switch TFDataType(raw: outType) {
        case .int32?: t = ConstantTensor(.int32, shape: [Int32(dims.count)], values: dims)
        case .int64?: t = ConstantTensor(.int64, shape: [Int32(dims.count)], values: dims.map(Int64.init))
        default: throw node.invalid("out_type \(TFDataType.describe(raw: outType)) is not int32 or int64")
        }
        return [addConstant(t, name: node.name, node: node.name)]
    }

    package mutating func lowerStridedSlice(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        guard inputs.count == 4 else { throw node.invalid("needs 4 inputs (input, begin, end, strides), has \(inputs.count)") }
        let x = inputs[0]
        let begin = try integerInput(inputs, 1, node, "begin"), end = try integerInput(inputs, 2, node, "end")
        let strides = try integerInput(inputs, 3, node, "strides")
        let attrs = StridedSliceAttributes(
            beginMask: Int32(truncatingIfNeeded: try node.attrInt("begin_mask", default: 0)),
            endMask: Int32(truncatingIfNeeded: try node.attrInt("end_mask", default: 0)),
            ellipsisMask: Int32(truncatingIfNeeded: try node.attrInt("ellipsis_mask", default: 0)),
            newAxisMask: Int32(truncatingIfNeeded: try node.attrInt("new_axis_mask", default: 0)),
            shrinkAxisMask: Int32(truncatingIfNeeded: try node.attrInt("shrink_axis_mask", default: 0)))
        let geometry: StridedSliceGeometry
        do {
            geometry = try StridedSliceGeometry(shape: value(x).shape.map(Int.init), begin: begin.map(Int64.init), end: end.map(Int64.init), strides: strides.map(Int64.init), attributes: attrs)
        } catch let p as StridedSliceGeometry.Problem {
            throw node.invalid("cannot slice \(shapeText(value(x).shape)): \(p.description)")
        }
        if let t = constant(x) {
            return [addConstant(geometry.apply(to: t), name: node.name, node: node.name)]
        }
        guard attrs.ellipsisMask == 0, attrs.newAxisMask == 0, value(x).dtype == .float32 else {
            throw node.invalid("a run-time strided slice with ellipsis or new-axis masks (or of a non-float tensor) is not supported")
        }
        // TF lets begin/end/strides name only the leading dimensions; TFLM's STRIDED_SLICE wants
        // one entry per dimension (strided_slice_common.cc), so the rest are spelled out whole.
        var (fullBegin, fullEnd, fullStrides, fullAttrs) = (begin, end, strides, attrs)
        for d in begin.count..<max(begin.count, value(x).rank) {
            fullBegin.append(0)
            fullEnd.append(0)
            fullStrides.append(1)
            fullAttrs.beginMask |= 1 << d
            fullAttrs.endMask |= 1 << d
        }
        let b = int32Constant(fullBegin, name: value(inputs[1]).name, node: node)
        let e = int32Constant(fullEnd, name: value(inputs[2]).name, node: node)
        let s = int32Constant(fullStrides, name: value(inputs[3]).name, node: node)
        return [emit(.stridedSlice(fullAttrs), [x, b, e, s], node: node, dtype: .float32, shape: geometry.outputShape.map { Int32($0) })]
    }

    package mutating func lowerPack(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        guard let firstID = inputs.first else { throw node.invalid("has no values") }
        let first = value(firstID)
        let a = try node.attrInt("axis", default: 0)
        let axis = a < 0 ? a + first.rank + 1 : a
        guard axis >= 0, axis <= first.rank else { throw node.invalid("axis \(a) is out of range for rank \(first.rank)") }
        for v in inputs.map(value) where v.shape != first.shape || v.dtype != first.dtype {
            throw node.invalid("cannot stack \(first.dtype.name) \(shapeText(first.shape)) with \(v.dtype.name) \(shapeText(v.shape))")
        }
        var shape = first.shape
        shape.insert(Int32(inputs.count), at: axis)
        let out = emit(.pack(valuesCount: Int32(inputs.count), axis: Int32(axis)), inputs, node: node, dtype: first.dtype, shape: shape)
        if !isConstant(out) && first.dtype != .float32 {
            throw node.invalid("stacks \(first.dtype.name) tensors at run time; only float32 is converted")
        }
        return [out]
    }

    package mutating func lowerCast(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        let x = try input(inputs, 0, node)
        guard let raw = try node.attrType("DstT"), let dtype = DType(tensorFlow: raw) else {
            throw node.invalid("DstT is missing or not a TFLite type")
        }
        if value(x).dtype == dtype { return [x] }
        if !isConstant(x), value(x).dtype == .float32, dtype == .int32 {
            // Float indices made int32 for a GATHER (Keras's Embedding casts its input); TFLite's
            // CAST truncates toward zero as TF's Cast does (cast.cc: static_cast).
            return [emit(.builtin(.cast, options: nil), [x], node: node, dtype: .int32, shape: value(x).shape)]
        }
        guard let t = constant(x), let cast = ConstantEvaluator.cast(t, to: dtype) else {
            throw node.invalid("a run-time cast from \(value(x).dtype.name) to \(dtype.name) is not supported (only constants are cast)")
        }
        return [addConstant(cast, name: node.name, node: node.name)]
    }
}
