import IR
import Support

// GatherV2 (TF's array_ops GatherV2: params, indices, axis) → GATHER (schema.fbs GatherOptions).
extension GraphDefLowering {
    package mutating func lowerGatherV2(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        let params = try input(inputs, 0, node)
        let indices = try input(inputs, 1, node)
        let ps = value(params).shape
        guard value(indices).dtype == .int32 || isConstant(indices) else {
            throw node.invalid("indices are \(value(indices).dtype.name) at run time; TFLite's GATHER takes int32")
        }
        guard try node.attrInt("batch_dims", default: 0) == 0 else { throw node.invalid("batch_dims other than 0 is not supported") }
        guard let a = try integerInput(inputs, 2, node, "the axis").first else { throw node.invalid("the axis is empty") }
        let axis = a < 0 ? a + ps.count : a
        guard axis >= 0, axis < ps.count else { throw node.invalid("axis \(a) is out of range for rank \(ps.count)") }
        if !isConstant(params) && value(params).dtype != .float32 {
            throw node.invalid("gathers \(value(params).dtype.name) values at run time; only float32 is converted")
        }
        let shape = Array(ps[..<axis]) + value(indices).shape + Array(ps[(axis + 1)...])
        return [emit(.gather(axis: Int32(axis), batchDims: 0), [params, indices], node: node, dtype: value(params).dtype, shape: shape)]
    }
}
