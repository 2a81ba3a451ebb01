import FlatBuffers
import IR
import Ops
import Support
import TFProto

// Element-wise ops: Add/AddV2/Sub/Mul/RealDiv/Maximum/Minimum/SquaredDifference (numpy broadcasting),
// BiasAdd (ADD of a [C] vector along the NHWC channel axis), and the activations. When every
// input is constant the result is computed here (batch-norm factors, Rsqrt of variances), so
// what reaches the model is the runtime part only.

extension GraphDefLowering {
    package mutating func lowerBinary(_ node: TFNodeDef, _ inputs: [ValueID], _ kind: OpKind) throws -> [ValueID?] {
        guard inputs.count == 2 else { throw node.invalid("needs 2 inputs, has \(inputs.count)") }
        let (a, b) = (value(inputs[0]), value(inputs[1]))
        guard a.dtype == b.dtype else {
            throw node.invalid("inputs have different types (\(a.dtype.name), \(b.dtype.name))")
        }
        guard let shape = ConstantEvaluator.broadcastShape(a.shape, b.shape) else {
            throw node.invalid("shapes \(shapeText(a.shape)) and \(shapeText(b.shape)) do not broadcast")
        }
        let out = emit(kind, inputs, node: node, dtype: a.dtype, shape: shape)
        if !isConstant(out) && a.dtype != .float32 {
            throw node.invalid("computes on \(a.dtype.name) tensors at run time; only float32 is converted")
        }
        return [out]
    }

    package mutating func lowerBiasAdd(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        try node.requireNHWC()
        guard inputs.count == 2 else { throw node.invalid("needs 2 inputs, has \(inputs.count)") }
        let (x, b) = (value(inputs[0]), value(inputs[1]))
        guard b.rank == 1, x.rank >= 1, b.shape[0] == x.shape[x.rank - 1] else {
            throw node.invalid("bias \(shapeText(b.shape)) does not match the last dimension of \(shapeText(x.shape))")
        }
        return try lowerBinary(node, inputs, .add(ArithmeticAttributes()))
    }

    package mutating func lowerUnary(_ node: TFNodeDef, _ inputs: [ValueID], _ kind: OpKind) throws -> [ValueID?] {
        let x = try input(inputs, 0, node)
        let v = value(x)
        if case .softmax = kind, v.rank < 1 { throw node.invalid("softmax needs at least one dimension") }
        let out = emit(kind, [x], node: node, dtype: v.dtype, shape: v.shape)
        if !isConstant(out) && v.dtype != .float32 {
            throw node.invalid("computes on \(v.dtype.name) tensors at run time; only float32 is converted")
        }
        return [out]
    }
}
