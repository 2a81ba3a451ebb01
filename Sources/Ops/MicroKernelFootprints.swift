import IR

// The arena footprints of TFLM's reference kernels (tensorflow/lite/micro/kernels/*), shared by
// the operator files that declare them. Struct layouts follow the kernels' headers and
// tensorflow/compiler/mlir/lite/core/c/builtin_op_data.h (the builtin options).
extension MicroKernelFootprint {
    /// conv.cc / depthwise_conv.cc (conv_common.cc, depthwise_conv_common.cc): Init allocates
    /// OpDataConv; Prepare the per-channel output multiplier and shift (one int32 per output
    /// channel, float models too) after reading output, input and filter, then (CalculateOpData)
    /// reads input, filter, bias, output.
    package static func convolution(_ c: MicroFootprintContext, options: CStruct, channelAxis: Int) throws -> MicroKernelFootprint {
        // OpDataConv: TfLitePaddingValues {4 ints}, 5 int32, 2 pointers, 3 ints (5 with
        // compression: the weights and bias scratch indices).
        let opData = CStruct([.array(.int32, 4), .array(.int32, 5), .pointer, .pointer, .array(.int32, c.build.compression ? 5 : 3)])
        guard let channels = c.dimension(ofInput: 1, channelAxis) else { throw FootprintUnknown("\(c.op.name): the filter has no static shape") }
        return MicroKernelFootprint(
            builtinData: options,
            initBuffers: [c.size(opData)],
            prepareBuffers: [4 * channels, 4 * channels],
            tempTensors: [.output(0), .input(0), .input(1), .input(0), .input(1), .input(2), .output(0)],
            buffersAfterTemps: 3)
    }

    /// A kernel whose Init allocates one op-data struct and whose Prepare reads every input and
    /// output once.
    package static func opData(_ c: MicroFootprintContext, _ s: CStruct, options: CStruct? = nil) -> MicroKernelFootprint {
        MicroKernelFootprint(builtinData: options, initBuffers: [c.size(s)])
    }
}
