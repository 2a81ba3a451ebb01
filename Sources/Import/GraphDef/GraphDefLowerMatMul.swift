import FlatBuffers
import IR
import Ops
import Support
import TFProto

// MatMul → FULLY_CONNECTED and FusedBatchNorm → MUL + ADD.
//
// FULLY_CONNECTED computes x·Wᵀ with weights W stored [out, in] (schema.fbs), the
// transpose of MatMul's b [in, out]; with transpose_b the weights are already [out, in].
// transpose_a on the runtime input becomes a TRANSPOSE in front.
//
// Inference batch norm is y = (x − μ)·γ/√(σ² + ε) + β per channel = x·m + s with
// m = γ·rsqrt(σ² + ε) and s = β − μ·m, computed here in float32 like TF's converter
// (TF's op definitions). `fold-batch-norm` then moves m and s into the conv or FC before it.

extension GraphDefLowering {
    package mutating func lowerMatMul(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        guard inputs.count == 2 else { throw node.invalid("needs 2 inputs, has \(inputs.count)") }
        let transposeA = try node.attrBool("transpose_a", default: false)
        let transposeB = try node.attrBool("transpose_b", default: false)
        var a = try floatInput(inputs, 0, node)
        guard let b = constant(inputs[1]) else {
            throw node.invalid("input b ('\(value(inputs[1]).name)') must be constant weights for FULLY_CONNECTED, but it is computed at run time")
        }
        guard b.type.dtype == .float32, b.shape.count == 2, value(a).rank == 2 else {
            throw node.invalid("needs a 2-D float input and 2-D float32 weights, got \(shapeText(value(a).shape)) and \(b.type.dtype.name) \(shapeText(b.shape))")
        }
        if transposeA {
            let s = value(a).shape
            let perm = int32Constant([1, 0], name: "\(node.name)/perm", node: node)
            a = emit(.builtin(.transpose, options: nil), [a, perm], node: node, name: "\(node.name)/transpose_a", dtype: .float32, shape: [s[1], s[0]])
        }
        let rows = value(a).shape[0], depth = value(a).shape[1]
        let weights = transposeB ? b.reshaped(b.shape, layout: .oi) : Self.transpose2D(b, layout: .oi)
        guard weights.shape[1] == depth else {
            throw node.invalid("input \(shapeText(value(a).shape)) and weights \(shapeText(b.shape))\(transposeB ? " (transposed)" : "") do not multiply")
        }
        let w = addConstant(weights, name: value(inputs[1]).name, node: node.name)
        let out = emit(.fullyConnected(FullyConnectedAttributes()), [a, w, .absent], node: node, dtype: .float32, shape: [rows, weights.shape[0]])
        return [out]
    }

    package mutating func lowerFusedBatchNorm(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        try node.requireNHWC()
        // is_training defaults to true in the OpDef; a training-mode batch norm normalizes
        // with the statistics of the batch itself, which a converted model cannot do.
        guard try !node.attrBool("is_training", default: true) else {
            throw node.invalid("is_training=true (training mode) cannot be converted: export the graph for inference (is_training=false)")
        }
        let epsilon = try node.attrFloat("epsilon", default: 0.0001)
        let x = try floatInput(inputs, 0, node)
        let xs = value(x).shape
        guard let channels = xs.last, xs.count >= 1 else { throw node.invalid("input must have a channel dimension") }
        var vectors: [[Float]] = []
        for (k, what) in [(1, "scale"), (2, "offset"), (3, "mean"), (4, "variance")] {
            let t = try constantInput(inputs, k, node, what)
            guard t.type.dtype == .float32, t.elementCount == Int(channels) else {
                throw node.invalid("\(what) must be \(channels) float32 values (one per channel), got \(t.type.dtype.name) \(shapeText(t.shape))")
            }
            vectors.append(t.floats)
        }
        let (scale, offset, mean, variance) = (vectors[0], vectors[1], vectors[2], vectors[3])
        let m = (0..<Int(channels)).map { scale[$0] * (1 / (variance[$0] + epsilon).squareRoot()) }
        let s = (0..<Int(channels)).map { offset[$0] - mean[$0] * m[$0] }
        let mValue = addConstant(ConstantTensor(floats: m, shape: [channels]), name: "\(node.name)/scale", node: node.name)
        let sValue = addConstant(ConstantTensor(floats: s, shape: [channels]), name: "\(node.name)/shift", node: node.name)
        let scaled = emit(.mul(activation: .none), [x, mValue], node: node, name: "\(node.name)/mul", dtype: .float32, shape: xs)
        let y = emit(.add(ArithmeticAttributes()), [scaled, sValue], node: node, dtype: .float32, shape: xs)
        // Outputs 1… (batch mean/variance, reserve spaces) only matter in training.
        return [y]
    }

    /// [r, c] → [c, r] for 4-byte elements in one pass (the generic `transposed` is slow on
    /// megabyte weights).
    package static func transpose2D(_ t: ConstantTensor, layout: FilterLayout) -> ConstantTensor {
        let (rows, cols) = (Int(t.shape[0]), Int(t.shape[1]))
        var out = [UInt8](repeating: 0, count: t.bytes.count)
        t.bytes.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                for r in 0..<rows {
                    for c in 0..<cols {
                        let word = src.loadUnaligned(fromByteOffset: (r * cols + c) * 4, as: UInt32.self)
                        dst.storeBytes(of: word, toByteOffset: (c * rows + r) * 4, as: UInt32.self)
                    }
                }
            }
        }
        return ConstantTensor(type: t.type, shape: [Int32(cols), Int32(rows)], bytes: out, layout: layout)
    }
}
