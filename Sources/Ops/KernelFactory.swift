import FlatBuffers
import IR
import Kernels
import Support

/// Maps an op to its kernel; anything without one becomes an `Unsupported` reason.
package enum KernelFactory {
    package static func make(_ c: KernelContext) throws -> Kernel {
        switch c.op.kind {
        case .conv2D(let a): return try Conv2DKernel(c, a)
        case .depthwiseConv2D(let a): return try DepthwiseConv2DKernel(c, a)
        case .fullyConnected(let a): return try FullyConnectedKernel(c, a)
        case .averagePool2D(let a): return try Pool2DKernel(c, a, isMax: false)
        case .maxPool2D(let a): return try Pool2DKernel(c, a, isMax: true)
        case .reshape(let newShape): return try ReshapeKernel(c, .reshape(optionShape: newShape))
        case .squeeze(let dims): return try ReshapeKernel(c, .squeeze(dims))
        case .softmax(let beta): return try SoftmaxKernel(c, beta: beta)
        case .add(let a): return try BinaryKernel(c, .add, activation: a.activation)
        case .sub(let a): return try BinaryKernel(c, .sub, activation: a.activation)
        case .mul(let act): return try BinaryKernel(c, .mul, activation: act)
        case .mean(let keepDims): return try MeanKernel(c, keepDims: keepDims)
        case .pad: return try PadKernel(c, withConstant: false)
        case .concatenation(let axis, let act): return try ConcatenationKernel(c, axis: axis, activation: act)
        case .quantize: return try QuantizeKernel(c)
        case .dequantize: return try DequantizeKernel(c)
        case .shape(let t): return try ShapeKernel(c, outType: t)
        case .stridedSlice(let a): return try StridedSliceKernel(c, a)
        case .pack(let n, let axis): return try PackKernel(c, valuesCount: n, axis: axis)
        case .gather(let axis, let batchDims): return try GatherKernel(c, axis: axis, batchDims: batchDims)
        case .relu: return try UnaryKernel(c, .relu)
        case .relu6: return try UnaryKernel(c, .relu6)
        case .logistic: return try UnaryKernel(c, .logistic)
        case .tanh: return try UnaryKernel(c, .tanh)
        case .builtin(let op, let options):
            switch op {
            case .padV2: return try PadKernel(c, withConstant: true)
            case .expandDims: return try ReshapeKernel(c, .expandDims)
            case .transpose: return try TransposeKernel(c)
            case .div:
                guard let activation = OpaqueOptions.divActivation(options) else {
                    throw Unsupported("fused activation \(options?.int8(0, default: 0) ?? 0)")
                }
                return try BinaryKernel(c, .div, activation: activation)
            case .maximum: return try BinaryKernel(c, .maximum, activation: .none)
            case .minimum: return try BinaryKernel(c, .minimum, activation: .none)
            case .hardSwish: return try UnaryKernel(c, .hardSwish)
            case .rsqrt: return try UnaryKernel(c, .rsqrt)
            case .sqrt: return try UnaryKernel(c, .sqrt)
            case .leakyRelu:
                // LeakyReluOptions field 0: alpha (float, schema default 0).
                return try UnaryKernel(c, .leakyRelu, alpha: options?.float32(0, default: 0) ?? 0)
            default:
                throw Unsupported("no kernel for this op")
            }
        case .custom(let code):
            throw Unsupported("custom op \"\(code)\" has no kernel")
        }
    }

    /// Why an op kind has no kernel at all (nil when it has one, for some dtypes at least).
    package static func missingKernel(_ kind: OpKind) -> String? {
        switch kind {
        case .custom(let code): return "custom op \"\(code)\" has no kernel"
        case .builtin(let op, _): return supportedOps.contains(op) ? nil : "no kernel for this op"
        default: return nil
        }
    }

    /// Builtin ops with a kernel (any dtype), for documentation and listings.
    package static let supportedOps: [BuiltinOperator] = [
        .conv2D, .depthwiseConv2D, .fullyConnected, .averagePool2D, .maxPool2D, .reshape, .squeeze, .expandDims,
        .softmax, .add, .sub, .mul, .mean, .pad, .padV2, .concatenation, .quantize, .dequantize, .shape,
        .stridedSlice, .pack, .gather, .relu, .relu6, .logistic, .tanh, .rsqrt, .sqrt, .transpose, .leakyRelu,
        .hardSwish, .maximum, .minimum, .div,
    ]
}
