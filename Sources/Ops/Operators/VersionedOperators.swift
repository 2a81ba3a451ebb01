import FlatBuffers
import IR
import Kernels

// Operators tfrewrite keeps opaquely and knows only the version rule of (LiteRT's
// op_version.cc), so `legalize-op-versions` and the target check treat them right.
extension OperatorTable {
    static let versionedOperators: [OperatorDefinition] = [
        OperatorDefinition(.svdf, version: { s in
            // SVDFOptions: 0 rank, 1 fused_activation_function, 2 asymmetric_quantize_inputs.
            let hybrid = s.input(0) == .float32 && s.input(1) == .int8 && s.output(0) == .float32
            return s.first([
                (s.input(0) == .int8, 3, "int8 input"),
                (hybrid && s.opaqueBool(field: 2), 4, "float input with int8 weights (hybrid, asymmetric inputs)"),
                (hybrid, 2, "float input with int8 weights (hybrid)"),
            ])
        }, microFootprint: { c in
            // svdf.cc / svdf_common.cc: Init allocates OpDataSvdf (9 int32); Prepare reads the five
            // inputs and the output and asks for batch x filters int32 (float: float) and, for
            // int8, batch x units int32. TfLiteSVDFParams: rank, activation, asymmetric flag.
            guard let input = c.input(0), let features = c.input(1), let output = c.outputs.first,
                  input.rank >= 1, features.rank >= 1, output.rank >= 2 else { throw FootprintUnknown("SVDF: operands without static shapes") }
            let batch = Int(input.shape[0]), filters = Int(features.shape[0]), units = Int(output.shape[1])
            return MicroKernelFootprint(
                builtinData: CStruct([.int32, .int32, .bool]),
                initBuffers: [c.size(.options(ints: 9))],
                scratch: input.dtype == .int8 ? [try c.bytes(4, batch, filters), try c.bytes(4, batch, units)] : [try c.bytes(4, batch, filters)])
        }),
        OperatorDefinition(.unidirectionalSequenceLSTM, version: { s in
            // UnidirectionalSequenceLSTMOptions: 4 asymmetric_quantize_inputs, 5 diagonal_recurrent_tensors.
            let hybrid = s.input(0) == .float32 && s.input(2) == .int8 && s.output(0) == .float32
            return s.first([
                (s.input(0) == .int16 && s.input(2) == .int8 && s.output(0) == .int16, 5, "int16 activations with int8 weights"),
                (s.opaqueBool(field: 5), 4, "diagonal recurrent tensors"),
                (hybrid && s.opaqueBool(field: 4), 3, "float input with int8 weights (hybrid, asymmetric inputs)"),
                (hybrid, 2, "float input with int8 weights (hybrid)"),
            ])
        }, microFootprint: { c in
            // unidirectional_sequence_lstm.cc: Init allocates OpDataLSTM (688 bytes in TFLM's
            // 64-bit Python package: size info, cell state info, 8 gate parameter sets of int32
            // multipliers/shifts and 4 buffer indices — no pointers, so the same on 32-bit);
            // Prepare reads all 24 inputs and the output (LstmTensors) and asks for four
            // batch x state buffers of the cell state's type (input 19). The output state (18)
            // gives batch and state size. TfLiteUnidirectionalSequenceLSTMParams: activation,
            // cell_clip, proj_clip, three flags.
            guard let state = c.input(18), state.rank == 2, let cell = c.input(19), let cellSize = cell.dtype.byteSize else {
                throw FootprintUnknown("UNIDIRECTIONAL_SEQUENCE_LSTM: no static [batch, state] output state")
            }
            let buffer = try c.bytes(Int(state.shape[0]), Int(state.shape[1]), cellSize)
            return MicroKernelFootprint(
                builtinData: CStruct([.int32, .float32, .float32, .bool, .bool, .bool]),
                initBuffers: [688],
                scratch: Array(repeating: buffer, count: 4))
        }),
        OperatorDefinition(.slice, version: { s in
            s.first([
                (s.input(0) == .int4, 7, "int4 input"),
                (s.input(0) == .uint32, 6, "uint32 input"),
                (s.rank(0) > 4, 5, "input rank \(s.rank(0)) > 4"),
                (s.input(0) == .int16, 4, "int16 input"),
                (s.input(0) == .string, 3, "string input"),
                (s.input(0) == .int8, 2, "int8 input"),
            ])
        }),
        OperatorDefinition(.split, version: { s in
            // The data is input 1; input 0 is the axis.
            s.first([
                (s.input(1) == .int16, 4, "int16 input"),
                (s.input(1) == .int32, 3, "int32 input"),
                (s.input(1) == .int8, 2, "int8 input"),
            ])
        }),
        OperatorDefinition(.unpack, version: { s in
            s.first([
                (s.input(0) == .int8 || s.input(0) == .uint8, 2, "\(s.name(s.input(0))) input"),
                (s.input(0) == .bool, 3, "bool input"),
                (s.input(0) == .int16 && s.output(0) == .int16, 4, "int16 input and output"),
                (s.input(0) == .float16 || s.input(0) == .bfloat16, 5, "\(s.name(s.input(0))) input"),
            ])
        }),
        OperatorDefinition(.l2Normalization, version: { s in s.first([(s.output(0) == .int8, 2, "int8 output")]) }),
        OperatorDefinition(.argMax, version: argVersion),
        OperatorDefinition(.argMin, version: argVersion),
        OperatorDefinition(.spaceToDepth, version: int8InputVersion),
        OperatorDefinition(.splitV, version: int8InputVersion),
        OperatorDefinition(.sum, version: int8InputVersion),
        OperatorDefinition(.logSoftmax, version: int8InputVersion),
        OperatorDefinition(.greater, version: int8InputVersion),
        OperatorDefinition(.lessEqual, version: int8InputVersion),
        OperatorDefinition(.depthToSpace, version: int8InputVersion),
        OperatorDefinition(.less, version: OpVersions.int8OrInt16Input),
        OperatorDefinition(.greaterEqual, version: OpVersions.int8OrInt16Input),
        OperatorDefinition(.spaceToBatchND, version: spaceBatchVersion),
        OperatorDefinition(.batchToSpaceND, version: spaceBatchVersion),
        OperatorDefinition(.exp, version: int8Or16InputV2),
        OperatorDefinition(.log, version: int8Or16InputV2),
        OperatorDefinition(.reduceProd, version: int8Or16InputV2),
    ]

    static let argVersion: @Sendable (OpVersions.Signature) -> MinimumVersion = { s in
        s.first([
            (s.input(0) == .bool, 3, "bool input"),
            (s.input(0) == .int8, 2, "int8 input"),
        ])
    }
    static let int8InputVersion: @Sendable (OpVersions.Signature) -> MinimumVersion = { s in
        s.first([(s.input(0) == .int8, 2, "int8 input")])
    }
    static let spaceBatchVersion: @Sendable (OpVersions.Signature) -> MinimumVersion = { s in
        s.first([
            (s.input(0) == .int16, 4, "int16 input"),
            (s.rank(0) != 4, 3, "input rank \(s.rank(0)) is not 4"),
            (s.input(0) == .int8, 2, "int8 input"),
        ])
    }
    static let int8Or16InputV2: @Sendable (OpVersions.Signature) -> MinimumVersion = { s in
        s.first([(s.input(0) == .int8 || s.input(0) == .int16, 2, "\(s.name(s.input(0))) input")])
    }
}
