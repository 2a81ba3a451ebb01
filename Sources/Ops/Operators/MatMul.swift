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
        }
    )
}
