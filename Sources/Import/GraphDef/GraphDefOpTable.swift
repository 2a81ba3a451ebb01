import FlatBuffers
import IR
import Ops
import Support
import TFProto

/// TF op type → its lowering. Each lowering gets the node and the IR values of its data
/// inputs and returns the IR value of each output it provides (nil: that output cannot be
/// used, e.g. FusedBatchNorm's batch statistics). Op families live in one file each:
/// GraphDefLowerConvolution, …Pooling, …Elementwise, …MatMul, …Shape.
extension GraphDefLowering {
    package typealias Lowering = @Sendable (inout GraphDefLowering, TFNodeDef, [ValueID]) throws -> [ValueID?]

    package static let lowerings: [String: Lowering] = [
        // Convolutions (TF's prepare_tf.cc and optimize_patterns.td and TF's op definitions)
        "Conv2D": { try $0.lowerConv2D($1, $2) },
        "DepthwiseConv2dNative": { try $0.lowerDepthwiseConv2D($1, $2) },
        // Pooling and reductions
        "AvgPool": { try $0.lowerPool($1, $2, average: true) },
        "MaxPool": { try $0.lowerPool($1, $2, average: false) },
        "Mean": { try $0.lowerMean($1, $2) },
        // Element-wise
        "Add": { try $0.lowerBinary($1, $2, .add(ArithmeticAttributes())) },
        "AddV2": { try $0.lowerBinary($1, $2, .add(ArithmeticAttributes())) },
        "Sub": { try $0.lowerBinary($1, $2, .sub(ArithmeticAttributes())) },
        "Mul": { try $0.lowerBinary($1, $2, .mul(activation: .none)) },
        "RealDiv": { try $0.lowerBinary($1, $2, .builtin(.div, options: nil)) },
        "Maximum": { try $0.lowerBinary($1, $2, .builtin(.maximum, options: nil)) },
        "Minimum": { try $0.lowerBinary($1, $2, .builtin(.minimum, options: nil)) },
        "SquaredDifference": { try $0.lowerBinary($1, $2, .builtin(.squaredDifference, options: nil)) },
        "BiasAdd": { try $0.lowerBiasAdd($1, $2) },
        "Relu": { try $0.lowerUnary($1, $2, .relu) },
        "Relu6": { try $0.lowerUnary($1, $2, .relu6) },
        "Sigmoid": { try $0.lowerUnary($1, $2, .logistic) },
        "Tanh": { try $0.lowerUnary($1, $2, .tanh) },
        "Softmax": { try $0.lowerUnary($1, $2, .softmax(beta: 1)) },
        "Rsqrt": { try $0.lowerUnary($1, $2, .builtin(.rsqrt, options: nil)) },
        "Sqrt": { try $0.lowerUnary($1, $2, .builtin(.sqrt, options: nil)) },
        "Elu": { try $0.lowerUnary($1, $2, .builtin(.elu, options: nil)) },
        // Matrix and batch norm
        "MatMul": { try $0.lowerMatMul($1, $2) },
        "FusedBatchNorm": { try $0.lowerFusedBatchNorm($1, $2) },
        "FusedBatchNormV2": { try $0.lowerFusedBatchNorm($1, $2) },
        "FusedBatchNormV3": { try $0.lowerFusedBatchNorm($1, $2) },
        // Shapes and layout
        "Reshape": { try $0.lowerReshape($1, $2) },
        "Squeeze": { try $0.lowerSqueeze($1, $2) },
        "ExpandDims": { try $0.lowerExpandDims($1, $2) },
        "Pad": { try $0.lowerPad($1, $2) },
        "ConcatV2": { try $0.lowerConcat($1, $2) },
        "Transpose": { try $0.lowerTranspose($1, $2) },
        "Shape": { try $0.lowerShape($1, $2) },
        "StridedSlice": { try $0.lowerStridedSlice($1, $2) },
        "Pack": { try $0.lowerPack($1, $2) },
        "Cast": { try $0.lowerCast($1, $2) },
        // Recurrent graphs: cutting tensors apart, constant generators, loop conditions
        "Split": { try $0.lowerSplit($1, $2) },
        "SplitV": { try $0.lowerSplitV($1, $2) },
        "Unpack": { try $0.lowerUnpack($1, $2) },
        "Range": { try $0.lowerRange($1, $2) },
        "Fill": { try $0.lowerFill($1, $2) },
        "Less": { try $0.lowerPredicate($1, $2, .less) },
        "LessEqual": { try $0.lowerPredicate($1, $2, .lessEqual) },
        "Greater": { try $0.lowerPredicate($1, $2, .greater) },
        "GreaterEqual": { try $0.lowerPredicate($1, $2, .greaterEqual) },
        "LogicalAnd": { try $0.lowerPredicate($1, $2, .logicalAnd) },
        "LogicalOr": { try $0.lowerPredicate($1, $2, .logicalOr) },
        "GatherV2": { try $0.lowerGatherV2($1, $2) },
    ]
}
