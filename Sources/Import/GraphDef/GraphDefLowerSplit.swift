import FlatBuffers
import IR
import Ops
import Support
import TFProto

// Cutting tensors apart and the constant generators of RNN graphs: Split → SPLIT, SplitV →
// SPLIT_V, Unpack → UNPACK (TF's array_ops.cc op definitions; schema.fbs for the options), computed
// on the spot when the input is constant; Range and Fill only as constants (the RNN's zero
// state and its transpose permutation); comparisons and logical ops (a loop's condition).

extension GraphDefLowering {
    /// Emits a multi-output op (`pieces`: each output's shape), or the constant pieces when `x`
    /// is constant.
    mutating func emitPieces(_ kind: OpKind, _ inputs: [ValueID], x: ValueID, axis: Int, sizes: [Int], keepAxis: Bool, node: TFNodeDef) -> [ValueID?] {
        let xv = value(x)
        let shapes: [[Int32]] = sizes.map { size in
            var s = xv.shape
            if keepAxis { s[axis] = Int32(size) } else { s.remove(at: axis) }
            return s
        }
        if let t = constant(x) {
            let pieces = Self.constantPieces(t, axis: axis, sizes: sizes)
            return zip(pieces, shapes).enumerated().map { k, p in
                addConstant(p.0.reshaped(p.1), name: k == 0 ? node.name : "\(node.name):\(k)", node: node.name)
            }
        }
        let outs = shapes.enumerated().map { k, shape in
            graph.addValue(Value(name: k == 0 ? node.name : "\(node.name):\(k)", type: xv.type, shape: shape, provenance: node.name))
        }
        graph.addOp(Op(kind: kind, inputs: inputs, outputs: outs, provenance: [node.name]))
        return outs
    }

    /// `t` cut along `axis` into consecutive pieces of `sizes` (the axis kept, size sizes[k]).
    static func constantPieces(_ t: ConstantTensor, axis: Int, sizes: [Int]) -> [ConstantTensor] {
        let shape = t.shape.map(Int.init)
        let outer = shape[..<axis].reduce(1, *)
        let inner = shape[(axis + 1)...].reduce(1, *) * t.elementSize
        var start = 0
        return sizes.map { size in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(outer * size * inner)
            for o in 0..<outer {
                let base = (o * shape[axis] + start) * inner
                bytes.append(contentsOf: t.bytes[base..<(base + size * inner)])
            }
            start += size
            var piece = shape
            piece[axis] = size
            return ConstantTensor(type: t.type, shape: piece.map(Int32.init), bytes: bytes)
        }
    }

    /// The axis given as a constant input or attribute, checked against rank `rank`.
    func normalizedAxis(_ a: Int, rank: Int, node: TFNodeDef) throws -> Int {
        let axis = a < 0 ? a + rank : a
        guard axis >= 0, axis < rank else { throw node.invalid("axis \(a) is out of range for rank \(rank)") }
        return axis
    }

    func requireFloatOrConstant(_ x: ValueID, node: TFNodeDef) throws {
        guard isConstant(x) || value(x).dtype == .float32 else {
            throw node.invalid("cuts a \(value(x).dtype.name) tensor at run time; only float32 is converted")
        }
    }

    package mutating func lowerSplit(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        let axisList = try integerInput(inputs, 0, node, "the split dimension")
        let x = try input(inputs, 1, node)
        try requireFloatOrConstant(x, node: node)
        let shape = value(x).shape
        guard axisList.count == 1 else { throw node.invalid("the split dimension must be a single value") }
        let axis = try normalizedAxis(axisList[0], rank: shape.count, node: node)
        let n = try node.attrInt("num_split")
        guard n >= 1, Int(shape[axis]) % n == 0 else {
            throw node.invalid("cannot split dimension \(axis) of \(shapeText(shape)) into \(n) equal pieces")
        }
        // SplitOptions { num_splits: int } (schema.fbs).
        let options = OpaqueOptions(typeTag: Schema.OptionsTag.split, vtable: [4], inline: le([Int32(n)]), alignmentPhase: 0)
        let axisValue = int32Constant([axis], name: "\(node.name)/axis", node: node, shape: [])
        return emitPieces(.builtin(.split, options: options), [axisValue, x], x: x, axis: axis, sizes: Array(repeating: Int(shape[axis]) / n, count: n), keepAxis: true, node: node)
    }

    package mutating func lowerSplitV(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        let x = try input(inputs, 0, node)
        try requireFloatOrConstant(x, node: node)
        let shape = value(x).shape
        var sizes = try integerInput(inputs, 1, node, "the split sizes")
        let axisList = try integerInput(inputs, 2, node, "the split dimension")
        guard axisList.count == 1 else { throw node.invalid("the split dimension must be a single value") }
        let axis = try normalizedAxis(axisList[0], rank: shape.count, node: node)
        let total = Int(shape[axis])
        let unknown = sizes.indices.filter { sizes[$0] == -1 }
        guard unknown.count <= 1, sizes.allSatisfy({ $0 >= -1 }) else { throw node.invalid("split sizes \(shapeText(sizes)) are not valid") }
        if let u = unknown.first { sizes[u] = total - sizes.filter { $0 >= 0 }.reduce(0, +) }
        guard sizes.allSatisfy({ $0 >= 0 }), sizes.reduce(0, +) == total else {
            throw node.invalid("split sizes \(shapeText(sizes)) do not add up to dimension \(axis) of \(shapeText(shape))")
        }
        // SplitVOptions { num_splits: int } (schema.fbs, BuiltinOptions tag 79).
        let options = OpaqueOptions(typeTag: 79, vtable: [4], inline: le([Int32(sizes.count)]), alignmentPhase: 0)
        let sizesValue = int32Constant(sizes, name: "\(node.name)/sizes", node: node)
        let axisValue = int32Constant([axis], name: "\(node.name)/axis", node: node, shape: [])
        return emitPieces(.builtin(.splitV, options: options), [x, sizesValue, axisValue], x: x, axis: axis, sizes: sizes, keepAxis: true, node: node)
    }

    package mutating func lowerUnpack(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        let x = try input(inputs, 0, node)
        try requireFloatOrConstant(x, node: node)
        let shape = value(x).shape
        let axis = try normalizedAxis(try node.attrInt("axis", default: 0), rank: shape.count, node: node)
        let n = try node.attrInt("num", default: Int(shape[axis]))
        guard n == Int(shape[axis]) else { throw node.invalid("num=\(n) does not match dimension \(axis) of \(shapeText(shape))") }
        return unpack(x, axis: axis, node: node)
    }

    /// UNPACK of `x` along `axis` (constant slices when `x` is constant).
    mutating func unpack(_ x: ValueID, axis: Int, node: TFNodeDef) -> [ValueID?] {
        let n = Int(value(x).shape[axis])
        // UnpackOptions { num: int; axis: int } (schema.fbs, BuiltinOptions tag 64).
        let options = OpaqueOptions(typeTag: 64, vtable: [4, 8], inline: le([Int32(n), Int32(axis)]), alignmentPhase: 0)
        return emitPieces(.builtin(.unpack, options: options), [x], x: x, axis: axis, sizes: Array(repeating: 1, count: n), keepAxis: false, node: node)
    }

    /// Range(start, limit, delta) of constants (TF's range op: ceil((limit − start) / delta) values).
    package mutating func lowerRange(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        let start = try integerInput(inputs, 0, node, "start"), limit = try integerInput(inputs, 1, node, "limit")
        let delta = try integerInput(inputs, 2, node, "delta")
        guard start.count == 1, limit.count == 1, delta.count == 1, delta[0] != 0 else {
            throw node.invalid("start, limit and delta must be scalars and delta non-zero")
        }
        let values = Array(stride(from: start[0], to: limit[0], by: delta[0]))
        guard values.count <= 1 << 20 else { throw node.invalid("a range of \(values.count) values is too large") }
        let dtype = value(inputs[0]).dtype
        let t = dtype == .int64
            ? ConstantTensor(.int64, shape: [Int32(values.count)], values: values.map(Int64.init))
            : ConstantTensor(.int32, shape: [Int32(values.count)], values: values.map(Int32.init))
        return [addConstant(t, name: node.name, node: node.name)]
    }

    /// Fill(dims, value) with a constant value: a constant (the RNN's zero state).
    package mutating func lowerFill(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        let dims = try integerInput(inputs, 0, node, "the dimensions")
        let scalar = try constantInput(inputs, 1, node, "the fill value")
        guard scalar.elementCount == 1, dims.allSatisfy({ $0 >= 0 }), let count = Value.elementCount(dims.map(Int32.init)), count <= 1 << 24 else {
            throw node.invalid("cannot fill \(shapeText(dims)) with a \(shapeText(scalar.shape)) value")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count * scalar.elementSize)
        for _ in 0..<count { bytes.append(contentsOf: scalar.bytes) }
        return [addConstant(ConstantTensor(type: scalar.type, shape: dims.map(Int32.init), bytes: bytes), name: node.name, node: node.name)]
    }

    /// Less/Greater/… and LogicalAnd/Or: a bool result (a loop's condition, folded when constant).
    package mutating func lowerPredicate(_ node: TFNodeDef, _ inputs: [ValueID], _ op: BuiltinOperator) throws -> [ValueID?] {
        guard inputs.count == 2 else { throw node.invalid("needs 2 inputs, has \(inputs.count)") }
        let (a, b) = (value(inputs[0]), value(inputs[1]))
        guard a.dtype == b.dtype else { throw node.invalid("inputs have different types (\(a.dtype.name), \(b.dtype.name))") }
        guard let shape = ConstantEvaluator.broadcastShape(a.shape, b.shape) else {
            throw node.invalid("shapes \(shapeText(a.shape)) and \(shapeText(b.shape)) do not broadcast")
        }
        return [emit(.builtin(op, options: nil), inputs, node: node, dtype: .bool, shape: shape)]
    }
}
