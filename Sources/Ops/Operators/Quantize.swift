import FlatBuffers
import IR
import Kernels

// QUANTIZE and DEQUANTIZE (LiteRT's op_version.cc; TFLM's quantize and dequantize kernels).
extension OperatorTable {
    static let quantizeOperators = [quantize, dequantize]

    static let quantize = OperatorDefinition(
        .quantize,
        // Converters write an empty QuantizeOptions table; keep whether one was there.
        options: .none(.quantize, emptyTableTag: Schema.OptionsTag.quantize),
        version: { s in
            s.first([
                (s.input(0) == .uint4 || s.output(0) == .uint4, 5, "uint4 input or output"),
                (s.input(0) == .int4 || s.output(0) == .int4, 4, "int4 input or output"),
                (s.perChannelOutput, 3, "per-channel output quantization"),
                (s.output(0) == .int16, 2, "int16 output"),
            ])
        },
        kernel: { c in
            guard case .quantize = c.op.kind else { throw Unsupported("no kernel for this op") }
            return try QuantizeKernel(c)
        },
        // LiteRT kernels/quantize.cc Prepare: the input's shape.
        shape: { $0.sameAsInput },
        microFootprint: { c in
            // quantize.cc: Init allocates OpDataQuantizeReference (QuantizationParams {int32,
            // double}, 3 int32). The parser allocates nothing.
            .opData(c, CStruct([.nested(CStruct([.int32, .float64])), .array(.int32, 3)]))
        }
    )

    static let dequantize = OperatorDefinition(
        .dequantize,
        options: .none(.dequantize, emptyTableTag: Schema.OptionsTag.dequantize),
        version: { s in
            s.first([
                (s.input(0) == .uint4, 8, "uint4 input"),
                (s.input(0) == .int2, 7, "int2 input"),
                (s.input(0) == .int4, 6, "int4 input"),
                (s.input(0) == .int16 || s.input(0) == .float16, 3, "\(s.name(s.input(0))) input"),
                (s.input(0) == .int8 && s.perChannelInput, 5, "per-channel int8 input"),
                (s.input(0) == .int8, 2, "int8 input"),
            ])
        },
        kernel: { c in
            guard case .dequantize = c.op.kind else { throw Unsupported("no kernel for this op") }
            return try DequantizeKernel(c)
        },
        // LiteRT kernels/dequantize.cc Prepare: the input's shape.
        shape: { $0.sameAsInput },
        microFootprint: { c in
            // dequantize.cc: Init allocates DequantizeOpData (DequantizationParams {double,
            // int32}, 3 int32). The parser allocates nothing.
            .opData(c, CStruct([.nested(CStruct([.float64, .int32])), .array(.int32, 3)]))
        }
    )
}
