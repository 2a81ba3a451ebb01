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
        OperatorDefinition(.slice, version: { s in
            s.first([
                (s.input(0) == .int4, 7, "int4 input"),
                (s.input(0) == .uint32, 6, "uint32 input"),
                (s.rank(0) > 4, 5, "input rank \(s.rank(0)) > 4"),
                (s.input(0) == .int16, 4, "int16 input"),
                (s.input(0) == .string, 3, "string input"),
                (s.input(0) == .int8, 2, "int8 input"),
            ])
        }, kernel: { c in try SliceKernel(c) }, shape: sliceShape),
        OperatorDefinition(.split, version: { s in
            // The data is input 1; input 0 is the axis.
            s.first([
                (s.input(1) == .int16, 4, "int16 input"),
                (s.input(1) == .int32, 3, "int32 input"),
                (s.input(1) == .int8, 2, "int8 input"),
            ])
        }, kernel: { c in try SplitKernel(c, .split) }, shape: { s in
            // split.cc: the data (input 1) cut into equal pieces along the constant axis (input 0).
            guard let axis = s.constant(0)?.values, axis.count == 1 else { return nil }
            return pieces(s.shape(1), axis: axis[0], sizes: nil, count: s.op.outputs.count, keepAxis: true)
        }),
        OperatorDefinition(.unpack, version: { s in
            s.first([
                (s.input(0) == .int8 || s.input(0) == .uint8, 2, "\(s.name(s.input(0))) input"),
                (s.input(0) == .bool, 3, "bool input"),
                (s.input(0) == .int16 && s.output(0) == .int16, 4, "int16 input and output"),
                (s.input(0) == .float16 || s.input(0) == .bfloat16, 5, "\(s.name(s.input(0))) input"),
            ])
        }, kernel: { c in
            // UnpackOptions: 0 num, 1 axis.
            guard case .builtin(_, let options) = c.op.kind else { throw Unsupported("no kernel for this op") }
            return try SplitKernel(c, .unpack(axis: options?.int32(1, default: 0) ?? 0))
        }, shape: { s in
            // unpack.cc: the input without the axis dimension, once per slice along it.
            guard case .builtin(_, let options) = s.op.kind else { return nil }
            return pieces(s.shape(0), axis: Int64(options?.int32(1, default: 0) ?? 0), sizes: nil, count: s.op.outputs.count, keepAxis: false)
        }),
        OperatorDefinition(.l2Normalization, version: { s in s.first([(s.output(0) == .int8, 2, "int8 output")]) }),
        OperatorDefinition(.argMax, version: argVersion),
        OperatorDefinition(.argMin, version: argVersion),
        OperatorDefinition(.spaceToDepth, version: int8InputVersion),
        OperatorDefinition(.splitV, version: int8InputVersion, kernel: { c in try SplitKernel(c, .splitV) }, shape: { s in
            // split_v.cc: the sizes (input 1, one −1 for the rest) along the constant axis (input 2).
            guard let sizes = s.vector(1), let axis = s.constant(2)?.values, axis.count == 1 else { return nil }
            return pieces(s.shape(0), axis: axis[0], sizes: sizes, count: s.op.outputs.count, keepAxis: true)
        }),
        OperatorDefinition(.sum, version: int8InputVersion),
        OperatorDefinition(.logSoftmax, version: int8InputVersion),
        OperatorDefinition(.depthToSpace, version: int8InputVersion),
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
    /// slice.cc Prepare: each dimension's size, −1 meaning from begin to the end.
    static let sliceShape: @Sendable (ShapeInference) -> [[Int32]]? = { s in
        guard let x = s.shape(0), let begin = s.vector(1), let size = s.vector(2), begin.count == x.count, size.count == x.count else { return nil }
        var out: [Int32] = []
        for (d, dim) in x.enumerated() {
            let extent = size[d] == -1 ? Int64(dim) - begin[d] : size[d]
            guard begin[d] >= 0, extent >= 0, begin[d] + extent <= Int64(dim), let e = ShapeMath.dim(extent) else { return nil }
            out.append(e)
        }
        return [out]
    }

    /// SPLIT, SPLIT_V and UNPACK: `count` pieces of `x` along `axis`, of `sizes` (one may be −1)
    /// or equal; UNPACK's pieces drop the axis.
    static func pieces(_ x: [Int32]?, axis: Int64, sizes: [Int64]?, count: Int, keepAxis: Bool) -> [[Int32]]? {
        guard let x, count > 0, let a = ShapeMath.axis(axis, rank: x.count) else { return nil }
        let extent = Int64(x[a])
        var lengths: [Int64]
        if let sizes {
            guard sizes.count == count, sizes.filter({ $0 == -1 }).count <= 1, sizes.allSatisfy({ $0 >= -1 }) else { return nil }
            let known = sizes.filter { $0 >= 0 }.reduce(0, +)
            lengths = sizes.map { $0 == -1 ? extent - known : $0 }
            guard lengths.allSatisfy({ $0 >= 0 }), lengths.reduce(0, +) == extent else { return nil }
        } else if keepAxis {
            guard extent % Int64(count) == 0 else { return nil }
            lengths = Array(repeating: extent / Int64(count), count: count)
        } else {
            guard extent == Int64(count) else { return nil }
            lengths = Array(repeating: 1, count: count)
        }
        return lengths.map { n in
            var shape = x
            if keepAxis { shape[a] = Int32(n) } else { shape.remove(at: a) }
            return shape
        }
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
