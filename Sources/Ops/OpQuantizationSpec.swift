import FlatBuffers
import IR
import Kernels
import Support

/// What the int8 quantization spec (FACTS.md §4, quantization_spec.md) asks of one op: how each
/// operand is quantized and how the output parameters are chosen.
package struct OpQuantizationSpec {
    package enum OperandRole: Equatable {
        /// A runtime tensor (or a constant used like one): asymmetric int8, per tensor.
        case activation
        /// Constant weights: symmetric int8; per channel along `axis`, or per tensor when nil.
        case weights(axis: Int?)
        /// Constant int32 bias; scale = scale(operand `input`) × scale(operand `weights`).
        case bias(input: Int, weights: Int)
        /// Left as it is (int32 shapes, axes, paddings, indices).
        case passThrough
    }

    package enum OutputRule: Equatable {
        /// Parameters from the output's observed range.
        case free
        /// Fixed by the spec, whatever the calibration saw.
        case fixed(AffineParameters)
        /// Output and operand 0 share their parameters (RESHAPE, pools, PAD, ...).
        case sameAsInput
        /// All activation operands and the output share parameters (CONCATENATION).
        case sameAsAllInputs
    }

    package var roles: [OperandRole]
    package var output: OutputRule

    /// Role of operand `k` (operands past the listed ones pass through).
    package func role(_ k: Int) -> OperandRole { k < roles.count ? roles[k] : .passThrough }

    /// The spec for an op whose float inputs and outputs could become int8, nil when tfrewrite
    /// keeps the op float (no int8 kernel in TFLM/LiteRT, or an op we do not model).
    /// `perChannelFullyConnected`: FULLY_CONNECTED weights get one scale per output unit.
    package static func of(_ op: Op, perChannelFullyConnected: Bool) -> OpQuantizationSpec? {
        switch op.kind {
        case .conv2D:
            // OHWI filter: per-channel along dim 0 (FACTS.md §3.3).
            return .init(roles: [.activation, .weights(axis: 0), .bias(input: 0, weights: 1)], output: .free)
        case .depthwiseConv2D:
            // 1HWO filter: per-channel along dim 3.
            return .init(roles: [.activation, .weights(axis: 3), .bias(input: 0, weights: 1)], output: .free)
        case .fullyConnected(let a):
            // Shuffled weights are a uint8-era format with no int8 kernel.
            guard a.weightsFormat == 0 else { return nil }
            return .init(roles: [.activation, .weights(axis: perChannelFullyConnected ? 0 : nil), .bias(input: 0, weights: 1)], output: .free)
        case .averagePool2D, .maxPool2D:
            return .init(roles: [.activation], output: .sameAsInput)
        case .reshape, .squeeze:
            return .init(roles: [.activation, .passThrough], output: .sameAsInput)
        case .pad, .stridedSlice, .gather:
            return .init(roles: [.activation], output: .sameAsInput)
        case .builtin(let b, _) where b == .transpose:
            return .init(roles: [.activation, .passThrough], output: .sameAsInput)
        case .concatenation:
            return .init(roles: Array(repeating: .activation, count: op.inputs.count), output: .sameAsAllInputs)
        case .softmax, .logistic:
            return .init(roles: [.activation], output: .fixed(.unitInterval))
        case .tanh:
            return .init(roles: [.activation], output: .fixed(.signedUnitInterval))
        case .add, .sub, .mul:
            return .init(roles: [.activation, .activation], output: .free)
        case .mean:
            return .init(roles: [.activation, .passThrough], output: .free)
        case .relu, .relu6:
            return .init(roles: [.activation], output: .free)
        default:
            return nil
        }
    }
}
