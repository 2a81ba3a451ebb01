import FlatBuffers
import IR
import Kernels

// L2_NORMALIZATION, LOG_SOFTMAX, PRELU, L2_POOL_2D (TFLM l2norm.cc, log_softmax.cc, prelu.cc,
// l2_pool_2d.cc; versions from LiteRT's op_version.cc).
extension OperatorTable {
    static let normalizationOperators = [l2Normalization, logSoftmax, prelu, l2Pool2D]

    static let l2Normalization = OperatorDefinition(
        .l2Normalization,
        version: { s in s.first([(s.output(0) == .int8, 2, "int8 output")]) },
        kernel: { c in try LastAxisKernel(c, .l2Normalization) },
        shape: { $0.sameAsInput }
    )
    static let logSoftmax = OperatorDefinition(.logSoftmax, version: int8InputVersion, kernel: { c in try LastAxisKernel(c, .logSoftmax) }, shape: { $0.sameAsInput })
    static let prelu = OperatorDefinition(.prelu, kernel: { c in try PreluKernel(c) }, shape: { $0.broadcast })
    /// Pool2DOptions: 0 padding, 1 stride_w, 2 stride_h, 3 filter_width, 4 filter_height,
    /// 5 fused_activation_function.
    static let l2Pool2D = OperatorDefinition(
        .l2Pool2D,
        kernel: { c in
            let o = try opaqueOptions(c)
            guard let padding = Padding(rawValue: o?.int8(0, default: 0) ?? 0), let activation = ActivationFunction(rawValue: o?.int8(5, default: 0) ?? 0) else {
                throw Unsupported("padding or fused activation the schema does not define")
            }
            return try L2PoolKernel(c, padding: padding, strideH: Int(o?.int32(2, default: 0) ?? 0), strideW: Int(o?.int32(1, default: 0) ?? 0),
                                    filterH: Int(o?.int32(4, default: 0) ?? 0), filterW: Int(o?.int32(3, default: 0) ?? 0), activation: activation)
        },
        // pooling.cc GenericPrepare: the window's output size per spatial dimension.
        shape: { s in
            guard let padding = Padding(rawValue: s.opaqueOptions?.int8(0, default: 0) ?? 0), let x = s.shape(0), x.count == 4 else { return nil }
            return ShapeMath.windowed(x, filter: (s.int32Option(4), s.int32Option(3)), stride: (s.int32Option(2), s.int32Option(1)), padding, channels: x[3])
        }
    )
}
