import FlatBuffers
import IR
import Kernels

// BATCH_MATMUL and TRANSPOSE_CONV (TFLM batch_matmul.cc, transpose_conv.cc). Options
// (schema.fbs): BatchMatMulOptions 0 adj_x, 1 adj_y; TransposeConvOptions 0 padding,
// 1 stride_w, 2 stride_h, 3 fused_activation_function.
extension OperatorTable {
    static let matMulOperators = [batchMatMul, transposeConv]

    static let batchMatMul = OperatorDefinition(
        .batchMatMul,
        kernel: { c in
            let o = try opaqueOptions(c)
            return try BatchMatMulKernel(c, adjX: (o?.int8(0, default: 0) ?? 0) != 0, adjY: (o?.int8(1, default: 0) ?? 0) != 0)
        },
        // batch_matmul.cc ResizeOutputTensor: the batch dimensions broadcast, then rows of x
        // (columns with adj_x) by columns of y (rows with adj_y); the inner sizes must agree.
        shape: { s in
            guard let x = s.shape(0), let y = s.shape(1), x.count >= 2, y.count >= 2,
                  let batch = ConstantEvaluator.broadcastShape(Array(x.dropLast(2)), Array(y.dropLast(2))) else { return nil }
            let (adjX, adjY) = (s.flag(0), s.flag(1))
            let rows = adjX ? x[x.count - 1] : x[x.count - 2], innerX = adjX ? x[x.count - 2] : x[x.count - 1]
            let innerY = adjY ? y[y.count - 1] : y[y.count - 2], cols = adjY ? y[y.count - 2] : y[y.count - 1]
            guard innerX == innerY else { return nil }
            return [batch + [rows, cols]]
        }
    )
    static let transposeConv = OperatorDefinition(
        .transposeConv,
        kernel: { c in
            let o = try opaqueOptions(c)
            guard let padding = Padding(rawValue: o?.int8(0, default: 0) ?? 0), let activation = ActivationFunction(rawValue: o?.int8(3, default: 0) ?? 0) else {
                throw Unsupported("padding or fused activation the schema does not define")
            }
            return try TransposeConvKernel(c, padding: padding, strideH: Int(o?.int32(2, default: 0) ?? 0), strideW: Int(o?.int32(1, default: 0) ?? 0), activation: activation)
        },
        // transpose_conv.cc ResizeTensor: the constant output_shape (input 0), 4-D.
        shape: { s in
            guard let shape = s.dimensions(0), shape.count == 4 else { return nil }
            return [shape]
        }
    )
}
