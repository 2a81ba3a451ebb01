import IR
import Kernels

// SQUARED_DIFFERENCE: (x − y)², with numpy broadcasting. Its SquaredDifferenceOptions table has
// no fields (schema.fbs), so the op keeps its options opaquely and round-trips as read.
extension OperatorTable {
    static let squaredDifferenceOperators = [squaredDifference]

    static let squaredDifference = OperatorDefinition(
        .squaredDifference,
        // tensorflow/lite/tools/versioning/op_version.cc: version 2 for int8 inputs.
        version: int8InputVersion,
        // tensorflow/lite/tools/optimize/operator_property.cc (the same entry as SUB): both
        // inputs quantized as activations, the output from its own observed range.
        quantization: activationOperandsFree,
        // tflite-micro tensorflow/lite/micro/kernels/squared_difference.cc: float32, int32 and
        // int8 (int16 too, which tfrewrite does not model); no fused activation.
        kernel: { c in try BinaryKernel(c, .squaredDifference, activation: .none) },
        // (x − y)·(x − y) in the tensor's type, as the TFLite kernels compute it.
        fold: { f in
            guard let (x, y) = f.pair else { return nil }
            return ConstantEvaluator.binary(x, y, .sub).flatMap { ConstantEvaluator.binary($0, $0, .mul) }.map { [$0] }
        },
        // LiteRT kernels/squared_difference.cc Prepare: the inputs' broadcast shape.
        shape: { $0.broadcast }
    )
}
