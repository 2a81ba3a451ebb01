import FlatBuffers
import IR
import Kernels

// The recurrent operators TFLM runs: SVDF (schema.fbs SVDFOptions; TFLM svdf.cc) and
// UNIDIRECTIONAL_SEQUENCE_LSTM (UnidirectionalSequenceLSTMOptions; TFLM
// unidirectional_sequence_lstm.cc, lstm_eval.cc). Their options stay opaque (round-tripped byte
// for byte); the kernels and shape functions read the fields they need.
extension OperatorTable {
    static let recurrentOperators: [OperatorDefinition] = [
        OperatorDefinition(.svdf, version: { s in
            // SVDFOptions: 0 rank, 1 fused_activation_function, 2 asymmetric_quantize_inputs.
            let hybrid = s.input(0) == .float32 && s.input(1) == .int8 && s.output(0) == .float32
            return s.first([
                (s.input(0) == .int8, 3, "int8 input"),
                (hybrid && s.opaqueBool(field: 2), 4, "float input with int8 weights (hybrid, asymmetric inputs)"),
                (hybrid, 2, "float input with int8 weights (hybrid)"),
            ])
        }, kernel: { c in
            // TFLM svdf.cc: float, or int8 with int8/int16 state; hybrid is LiteRT-only.
            guard case .builtin(_, let options) = c.op.kind else { throw Unsupported("no kernel for this op") }
            guard let activation = ActivationFunction(rawValue: options?.int8(1, default: 0) ?? 0) else {
                throw Unsupported("unknown fused activation \(options?.int8(1, default: 0) ?? 0)")
            }
            return try SvdfKernel(c, rank: Int(options?.int32(0, default: 0) ?? 0), activation: activation)
        }, shape: { s in
            // svdf.cc Prepare: [batch, filters / rank].
            guard case .builtin(_, let options) = s.op.kind, let x = s.shape(0), x.count == 2, let w = s.shape(1), w.count == 2 else { return nil }
            let rank = options?.int32(0, default: 0) ?? 0
            guard rank > 0, w[0] % rank == 0 else { return nil }
            return [[x[0], w[0] / rank]]
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
        }, quantization: { op, _ in
            // TFLM's int8 kernel (unidirectional_sequence_lstm.cc, lstm_eval_common.cc
            // PrepareGateParametersInteger): int8 input, hidden state and output; per-tensor
            // int8 weights; each gate's int32 bias at input scale x input-weight scale (it is
            // added in the input fully-connected); an int16 cell state with a power-of-two
            // scale. The gate scales are fixed by the kernel (Q3.12 in, Q0.15 out), so no
            // intermediate tensors. Peepholes, projection and layer norm have no int8 rule here.
            guard op.inputs.count == 24, [9, 10, 11, 16, 17, 20, 21, 22, 23].allSatisfy({ op.inputs[$0].isAbsent }),
                  [1, 5, 12].allSatisfy({ !op.inputs[$0].isAbsent }) else { return nil }
            var roles = [OpQuantizationSpec.OperandRole](repeating: .passThrough, count: 24)
            roles[0] = .activation
            for k in 1...8 { roles[k] = .weights(axis: nil) }
            for g in 0..<4 { roles[12 + g] = .bias(input: 0, weights: 1 + g) }
            roles[18] = .stateLikeOutput
            roles[19] = .int16PowerOfTwoState
            return .init(roles: roles, output: .free)
        }, kernel: { c in
            // TFLM unidirectional_sequence_lstm.cc: float, or int8 with an int16 cell state.
            // UnidirectionalSequenceLSTMOptions: 0 fused_activation_function, 1 cell_clip,
            // 2 proj_clip, 3 time_major.
            guard case .builtin(_, let options) = c.op.kind else { throw Unsupported("no kernel for this op") }
            let code = options?.int8(0, default: 0) ?? 0
            guard let activation = ActivationFunction(rawValue: code) else { throw Unsupported("unknown fused activation \(code)") }
            return try SequenceLstmKernel(c, cellActivation: activation, cellClip: options?.float32(1, default: 0) ?? 0,
                                          projectionClip: options?.float32(2, default: 0) ?? 0,
                                          timeMajor: (options?.int8(3, default: 0) ?? 0) != 0)
        }, shape: { s in
            // lstm_eval_common.cc ValidateTensorSize: the input's first two dimensions, then the
            // hidden state's width (input 18).
            guard let x = s.shape(0), x.count == 3, let h = s.shape(18), h.count == 2 else { return nil }
            return [[x[0], x[1], h[1]]]
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
    ]
}
