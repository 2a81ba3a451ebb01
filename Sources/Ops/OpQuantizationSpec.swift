import FlatBuffers
import IR
import Kernels
import Support

/// What the int8 quantization spec (TFLite's quantization_spec.md) asks of one op: how each
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
        /// A variable state the kernel copies to the output: int8 with the output's parameters
        /// (an LSTM's hidden state; TFLM lstm_eval.h copies it into the output every step).
        case stateLikeOutput
        /// A variable state kept in int16, symmetric, with a power-of-two scale covering its
        /// calibrated range (an LSTM's cell state; TFLM lstm_eval_common.cc
        /// CreateLstmCellStateInfo takes the scale's exponent for its tanh).
        case int16PowerOfTwoState
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
    /// TFLM has an int16-activation kernel for the op (int16x8: int16 activations, int8
    /// weights, int64 bias), which tfrewrite's interpreter restates.
    package var int16: Bool = false

    /// Role of operand `k` (operands past the listed ones pass through).
    package func role(_ k: Int) -> OperandRole { k < roles.count ? roles[k] : .passThrough }

    /// The spec for an op whose float inputs and outputs could become int8, nil when tfrewrite
    /// keeps the op float (no int8 kernel in TFLM/LiteRT, or an op we do not model). Each
    /// operator's spec is in its `OperatorDefinition`.
    /// `perChannelFullyConnected`: FULLY_CONNECTED weights get one scale per output unit.
    package static func of(_ op: Op, perChannelFullyConnected: Bool) -> OpQuantizationSpec? {
        OperatorTable[op.builtinOperator]?.quantization?(op, QuantizationChoices(perChannelFullyConnected: perChannelFullyConnected))
    }
}
