import Support

/// Keras layer class → its lowering to TF ops. Each lowering gets the builder (whose `layer` is
/// the layer being lowered) and the TF tensors of the layer's inputs and returns its output.
/// Families live in one file each: KerasLowerCore (dense, shapes, merging, normalization),
/// KerasLowerConvolution (convolutions and pooling), KerasLowerRecurrent (LSTM, GRU). Option
/// semantics follow Keras 3's layer implementations (keras/src/layers/…).
extension KerasGraphBuilder {
    package typealias Lowering = @Sendable (inout KerasGraphBuilder, [String]) throws -> String

    package static let lowerings: [String: Lowering] = [
        // Core
        "Dense": { try $0.lowerDense($1) },
        "Activation": { b, x in try b.activation(b.string("activation", default: "linear"), try b.single(x)) },
        "ReLU": { try $0.lowerReLU($1) },
        "LeakyReLU": { try $0.lowerLeakyReLU($1) },
        "Softmax": { try $0.lowerSoftmax($1) },
        "Dropout": { try $0.single($1) },
        "SpatialDropout1D": { try $0.single($1) },
        "SpatialDropout2D": { try $0.single($1) },
        "GaussianNoise": { try $0.single($1) },
        "GaussianDropout": { try $0.single($1) },
        "AlphaDropout": { try $0.single($1) },
        "ActivityRegularization": { try $0.single($1) },
        "Flatten": { try $0.lowerFlatten($1) },
        "Reshape": { try $0.lowerReshape($1) },
        "Permute": { try $0.lowerPermute($1) },
        "Rescaling": { try $0.lowerRescaling($1) },
        "Normalization": { try $0.lowerNormalization($1) },
        "BatchNormalization": { try $0.lowerBatchNormalization($1) },
        "Add": { try $0.lowerMerge($1, op: "AddV2") },
        "Subtract": { try $0.lowerMerge($1, op: "Sub") },
        "Multiply": { try $0.lowerMerge($1, op: "Mul") },
        "Maximum": { try $0.lowerMerge($1, op: "Maximum") },
        "Minimum": { try $0.lowerMerge($1, op: "Minimum") },
        "Average": { try $0.lowerAverage($1) },
        "Concatenate": { try $0.lowerConcatenate($1) },
        "LayerNormalization": { try $0.lowerLayerNormalization($1) },
        "Embedding": { try $0.lowerEmbedding($1) },
        "PReLU": { try $0.lowerPReLU($1) },
        "ELU": { try $0.lowerELU($1) },
        // Convolution and pooling
        "Conv1D": { try $0.lowerConvolution($1, spatial: 1) },
        "Conv2D": { try $0.lowerConvolution($1, spatial: 2) },
        "DepthwiseConv2D": { try $0.lowerDepthwise($1, spatial: 2) },
        "DepthwiseConv1D": { try $0.lowerDepthwise($1, spatial: 1) },
        "SeparableConv2D": { try $0.lowerSeparable($1, spatial: 2) },
        "SeparableConv1D": { try $0.lowerSeparable($1, spatial: 1) },
        "MaxPooling1D": { try $0.lowerPooling($1, spatial: 1, op: "MaxPool") },
        "MaxPooling2D": { try $0.lowerPooling($1, spatial: 2, op: "MaxPool") },
        "AveragePooling1D": { try $0.lowerPooling($1, spatial: 1, op: "AvgPool") },
        "AveragePooling2D": { try $0.lowerPooling($1, spatial: 2, op: "AvgPool") },
        "GlobalAveragePooling1D": { try $0.lowerGlobalPooling($1, spatial: 1, average: true) },
        "GlobalAveragePooling2D": { try $0.lowerGlobalPooling($1, spatial: 2, average: true) },
        "GlobalMaxPooling1D": { try $0.lowerGlobalPooling($1, spatial: 1, average: false) },
        "GlobalMaxPooling2D": { try $0.lowerGlobalPooling($1, spatial: 2, average: false) },
        "ZeroPadding1D": { try $0.lowerZeroPadding($1, spatial: 1) },
        "ZeroPadding2D": { try $0.lowerZeroPadding($1, spatial: 2) },
        "Cropping1D": { try $0.lowerCropping($1, spatial: 1) },
        "Cropping2D": { try $0.lowerCropping($1, spatial: 2) },
        "Conv2DTranspose": { try $0.lowerConvTranspose($1) },
        "UpSampling1D": { try $0.lowerUpSampling($1, spatial: 1) },
        "UpSampling2D": { try $0.lowerUpSampling($1, spatial: 2) },
        // Recurrent
        "LSTM": { try $0.lowerLSTM($1) },
        "GRU": { try $0.lowerGRU($1) },
        "SimpleRNN": { try $0.lowerSimpleRNN($1) },
        "Bidirectional": { try $0.lowerBidirectional($1) },
        "TimeDistributed": { try $0.lowerTimeDistributed($1) },
    ]

    /// Keras 2 spells some classes differently (module-qualified or pre-rename names).
    package static func canonicalClassName(_ name: String) -> String {
        switch name {
        case "MaxPool1D": "MaxPooling1D"
        case "MaxPool2D": "MaxPooling2D"
        case "AvgPool1D": "AveragePooling1D"
        case "AvgPool2D": "AveragePooling2D"
        case "GlobalAvgPool1D": "GlobalAveragePooling1D"
        case "GlobalAvgPool2D": "GlobalAveragePooling2D"
        case "GlobalMaxPool1D": "GlobalMaxPooling1D"
        case "GlobalMaxPool2D": "GlobalMaxPooling2D"
        case "Convolution1D": "Conv1D"
        case "Convolution2D": "Conv2D"
        case "SeparableConvolution2D": "SeparableConv2D"
        case "Convolution2DTranspose": "Conv2DTranspose"
        default: name
        }
    }

    /// The one input of a single-input layer.
    package func single(_ inputs: [String]) throws -> String {
        guard inputs.count == 1 else { throw fail("expects one input, is called on \(inputs.count)") }
        return inputs[0]
    }
}
