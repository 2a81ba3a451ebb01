import FlatBuffers
import IR
import Kernels
import Support

/// The minimum operator versions of CONV_2D and DEPTHWISE_CONV_2D for a given signature, from
/// the rules of TFLite's op_version.cc. Passes that turn one into the other set
/// these, so old runtimes that match versions exactly (tflite-micro's micro_op_resolver.cc) keep loading the model.
package enum ConvolutionVersions {
    package struct Signature {
        package var input: DType
        package var filter: DType
        package var output: DType
        package var filterScaleCount: Int
        /// Scales needed to be per-channel: filter dim 0 (conv) or dim 3 (depthwise).
        package var channelCount: Int
        package var dilated: Bool
        package var grouped: Bool = false
        package var quantizedBiasType: Int8 = 0

        package init(input: DType, filter: DType, output: DType, filterScaleCount: Int, channelCount: Int, dilated: Bool, grouped: Bool = false, quantizedBiasType: Int8 = 0) {
            self.input = input
            self.filter = filter
            self.output = output
            self.filterScaleCount = filterScaleCount
            self.channelCount = channelCount
            self.dilated = dilated
            self.grouped = grouped
            self.quantizedBiasType = quantizedBiasType
        }

        package var perChannel: Bool { filterScaleCount > 1 && filterScaleCount == channelCount }
        package var hybrid: Bool { input == .float32 && filter == .int8 && output == .float32 }
    }

    package static func conv2D(_ s: Signature) -> Int32 {
        if s.input == .int16 && s.filter == .int8 && s.output == .int16 && s.quantizedBiasType != 0 { return 8 }
        if s.grouped { return 6 }
        if s.input == .int16 && s.filter == .int16 && s.output == .int16 { return 4 }
        if s.input == .int8 && s.filter == .int8 && s.output == .int8 { return 3 }
        if s.input == .int8 && s.filter == .int4 && s.output == .int8 { return 7 }
        if s.hybrid { return s.perChannel ? 5 : 2 }
        return 1
    }

    package static func depthwiseConv2D(_ s: Signature) -> Int32 {
        if s.input == .int16 && s.filter == .int16 && s.output == .int16 { return 5 }
        if s.hybrid { return s.perChannel ? 6 : 4 }
        if s.input == .int8 && s.filter == .int8 && s.output == .int8 { return 3 }
        if s.input == .int8 && s.filter == .int4 { return 7 }
        if s.dilated { return 2 }
        return 1
    }
}
