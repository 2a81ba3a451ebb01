import FlatBuffers
import Support

/// What an op computes. Ops we understand carry typed attributes; every other builtin keeps its
/// options table opaquely and custom ops keep their code (their bytes live in `Op.customOptions`).
public enum OpKind: Hashable, Sendable {
    case conv2D(Conv2DAttributes)
    case depthwiseConv2D(DepthwiseConv2DAttributes)
    case fullyConnected(FullyConnectedAttributes)
    case averagePool2D(Pool2DAttributes)
    case maxPool2D(Pool2DAttributes)
    /// `newShape` is the legacy ReshapeOptions.new_shape, used when the shape input is absent.
    case reshape(newShape: [Int32]?)
    case softmax(beta: Float)
    case add(ArithmeticAttributes)
    case sub(ArithmeticAttributes)
    case mul(activation: ActivationFunction)
    case mean(keepDims: Bool)
    case pad
    case concatenation(axis: Int32, activation: ActivationFunction)
    case quantize
    case dequantize
    case shape(outType: DType)
    case stridedSlice(StridedSliceAttributes)
    case pack(valuesCount: Int32, axis: Int32)
    case squeeze(dims: [Int32])
    case gather(axis: Int32, batchDims: Int32)
    case relu
    case relu6
    case logistic
    case tanh
    /// A builtin we do not model; `options` is nil when the op had no options table.
    case builtin(BuiltinOperator, options: OpaqueOptions?)
    /// A custom op (BuiltinOperator CUSTOM) with its custom_code.
    case custom(code: String)

    public var builtinOperator: BuiltinOperator {
        switch self {
        case .conv2D: .conv2D
        case .depthwiseConv2D: .depthwiseConv2D
        case .fullyConnected: .fullyConnected
        case .averagePool2D: .averagePool2D
        case .maxPool2D: .maxPool2D
        case .reshape: .reshape
        case .softmax: .softmax
        case .add: .add
        case .sub: .sub
        case .mul: .mul
        case .mean: .mean
        case .pad: .pad
        case .concatenation: .concatenation
        case .quantize: .quantize
        case .dequantize: .dequantize
        case .shape: .shape
        case .stridedSlice: .stridedSlice
        case .pack: .pack
        case .squeeze: .squeeze
        case .gather: .gather
        case .relu: .relu
        case .relu6: .relu6
        case .logistic: .logistic
        case .tanh: .tanh
        case .builtin(let op, _): op
        case .custom: .custom
        }
    }

    /// Display name: the builtin's schema name, or the custom code.
    public var name: String {
        if case .custom(let code) = self { return code }
        return builtinOperator.name
    }

    public var customCode: String? {
        if case .custom(let code) = self { return code }
        return nil
    }
}
