import FlatBuffers
import IR
import Kernels

// FULLY_CONNECTED (schema.fbs FullyConnectedOptions; LiteRT's op_version.cc; TFLM's
// fully_connected kernel).
extension OperatorTable {
    static let fullyConnectedOperators = [fullyConnected]

    static let fullyConnectedOptions = TypedOptions<FullyConnectedAttributes>(
        payload: { if case .fullyConnected(let a) = $0 { a } else { nil } }, make: { .fullyConnected($0) })

    static let fullyConnected = OperatorDefinition(
        .fullyConnected,
        options: OptionsCodec(
            defaultKind: .fullyConnected(FullyConnectedAttributes()),
            decode: { r in
                // FullyConnectedOptions: 0 fused_activation_function, 1 weights_format,
                // 2 keep_num_dims, 3 asymmetric_quantize_inputs, 4 quantized_bias_type.
                guard r.isTable(Schema.OptionsTag.fullyConnected), let a = try r.activation(0) else { return nil }
                return (.fullyConnected(FullyConnectedAttributes(activation: a, weightsFormat: try r.i8(1), keepNumDims: try r.flag(2), asymmetricQuantizeInputs: try r.flag(3), quantizedBiasType: try r.i8(4))), false)
            },
            encode: { op in
                guard case .fullyConnected(let a) = op.kind else { return nil }
                var w = OptionsWriter()
                w.i8(0, a.activation.rawValue); w.i8(1, a.weightsFormat); w.flag(2, a.keepNumDims)
                w.flag(3, a.asymmetricQuantizeInputs); w.i8(4, a.quantizedBiasType)
                return (Schema.OptionsTag.fullyConnected, w.table)
            },
            describe: { kind in
                guard case .fullyConnected(let a) = kind else { return [] }
                var f: [(String, String)] = []
                if a.weightsFormat != 0 { f.append(("weights_format", "\(a.weightsFormat)")) }
                if a.keepNumDims { f.append(("keep_num_dims", "true")) }
                if a.asymmetricQuantizeInputs { f.append(("asymmetric_quantize_inputs", "true")) }
                if a.quantizedBiasType != 0 { f.append(("quantized_bias_type", DType(code: a.quantizedBiasType).name)) }
                return f
            }
        ),
        activation: ActivationField(
            get: { if case .fullyConnected(let a) = $0 { a.activation } else { nil } },
            set: { kind, v in if case .fullyConnected(var a) = kind { a.activation = v; kind = .fullyConnected(a) } }
        ),
        // Shuffled (weights_format 1) weights and int16-activation bias formats are not plain floats to scale.
        weights: WeightsOperand(layout: .oi, rescalable: { if case .fullyConnected(let a) = $0 { a.weightsFormat == 0 && a.quantizedBiasType == 0 } else { false } }),
        version: { s in
            var a = FullyConnectedAttributes()
            if case .fullyConnected(let attrs) = s.op.kind { a = attrs }
            let hybrid = s.input(0) == .float32 && s.input(1) == .int8 && s.output(0) == .float32
            let perChannel = s.rank(1) >= 1 && s.scaleCount(1) == Int(s.shape(1)[0])
            return s.first([
                (s.input(1) == .int2, 14, "int2 weights"),
                (s.input(0) == .int16 && s.input(1) == .int4 && s.output(0) == .int16, 13, "int16 activations with int4 weights"),
                (hybrid && perChannel, 12, "float input with per-channel int8 weights (hybrid)"),
                (s.input(0) == .int16 && s.input(1) == .int8 && s.output(0) == .int16 && a.quantizedBiasType != 0, 11, "int16 activations with quantized_bias_type"),
                (s.input(0) == .int16 && s.input(1) == .int16 && s.output(0) == .int16, 7, "int16 input, weights and output"),
                // An absent bias written as −1 still counts as an input; only a 2-input op needs v6.
                (s.op.inputs.count == 2, 6, "only 2 inputs (no bias slot)"),
                (a.keepNumDims, 5, "keep_num_dims"),
                (s.input(0) == .int8 && s.input(1) == .int8 && s.output(0) == .int8, 4, "int8 input, weights and output"),
                (s.input(0) == .int8 && s.input(1) == .int4 && s.output(0) == .int8, 10, "int4 weights"),
                (hybrid && a.asymmetricQuantizeInputs, 9, "float input with int8 weights (hybrid, asymmetric inputs)"),
                (hybrid, 3, "float input with int8 weights (hybrid)"),
                (a.weightsFormat == 1, 2, "shuffled 4x16 int8 weights"),
            ])
        },
        quantization: { op, choices in
            guard case .fullyConnected(let a) = op.kind else { return nil }
            // Shuffled weights are a uint8-era format with no int8 kernel.
            guard a.weightsFormat == 0 else { return nil }
            // int16x8: TFLM fully_connected.cc, int16 input with int8 weights and an int64 bias.
            return .init(roles: [.activation, .weights(axis: choices.perChannelFullyConnected ? 0 : nil), .bias(input: 0, weights: 1)], output: .free, int16: true)
        },
        kernel: { c in
            guard case .fullyConnected(let a) = c.op.kind else { throw Unsupported("no kernel for this op") }
            if c.optionalInput(0)?.dtype == .int16 { return try Int16FullyConnectedKernel(c, a) }
            // Hybrid (dynamic-range): float input, int8 weights, as LiteRT runs it.
            if c.optionalInput(0)?.dtype == .float32 && c.optionalInput(1)?.dtype == .int8 { return try HybridFullyConnectedKernel(c, a) }
            return try FullyConnectedKernel(c, a)
        },
        verify: { check in
            guard case .fullyConnected = check.op.kind else { return }
            guard let x = check.input(0), let w = check.input(1), let y = check.output(0) else { check.report("needs input, weights and output"); return }
            guard w.rank == 2 else { check.report("weights must be 2-D [out, in], got \(w.shape)"); return }
            if let nx = x.elementCount, w.shape[1] > 0, nx % Int(w.shape[1]) != 0 { check.report("input \(x.shape) does not divide into rows of \(w.shape[1])") }
            if y.shape.last != w.shape[0] { check.report("output \(y.shape) does not end in \(w.shape[0]) units") }
            if let b = check.input(2), b.elementCount != Int(w.shape[0]) { check.report("bias has \(b.elementCount ?? -1) elements, expected \(w.shape[0])") }
            check.weights(w, axis: 0)
            check.bias(check.input(2), input: x, weights: w)
        },
        attributes: [
            .fusedActivation,
            fullyConnectedOptions.attribute("weights_format", \.weightsFormat),
            fullyConnectedOptions.attribute("keep_num_dims", \.keepNumDims),
            fullyConnectedOptions.attribute("asymmetric_quantize_inputs", \.asymmetricQuantizeInputs),
            fullyConnectedOptions.attribute("quantized_bias_type", \.quantizedBiasType),
        ],
        shape: { s in
            guard case .fullyConnected(let a) = s.op.kind else { return nil }
            return fullyConnectedShape(s, keepNumDims: a.keepNumDims)
        },
        microFootprint: { c in
            // fully_connected.cc: Init allocates OpDataFullyConnected (8 ints, filter_buffer_index,
            // two per-channel pointers, is_per_channel, and with compression two scratch indices);
            // fully_connected_common.cc allocates the multiplier and shift (one int32 per filter
            // scale) for quantized inputs whose weights are per-channel.
            let opData = CStruct([.array(.int32, 9), .pointer, .pointer, .bool] + (c.build.compression ? [.int32, .int32] : []))
            let scales = c.input(0)?.dtype == .float32 ? 0 : c.scaleCount(ofInput: 1)
            // TfLiteFullyConnectedParams: activation, weights_format, keep_num_dims,
            // asymmetric_quantize_inputs, quantized_bias_type, and the data pointer and length of
            // FullyConnectedOptions field 5 (TFLM's own ParseFullyConnected in the tflite_micro
            // 0.dev20261023 package writes offsets 0x10 and 0x18 of a 32-byte struct).
            return MicroKernelFootprint(
                builtinData: CStruct([.int32, .int32, .bool, .bool, .int32, .pointer, .int32]),
                initBuffers: [c.size(opData)],
                prepareBuffers: scales > 1 ? [4 * scales, 4 * scales] : [])
        }
    )

    /// LiteRT kernels/fully_connected.cc Prepare: the input is read as rows of `weights[1]`
    /// elements; the output is [rows, units], or with keep_num_dims the input's shape with its
    /// last dimension (which must equal `weights[1]`) replaced by `units` (`weights[0]`).
    static func fullyConnectedShape(_ s: ShapeInference, keepNumDims: Bool) -> [[Int32]]? {
        guard let x = s.shape(0), let w = s.shape(1), w.count == 2, w[1] > 0, let last = x.last else { return nil }
        if keepNumDims {
            guard last == w[1] else { return nil }
            return [Array(x.dropLast()) + [w[0]]]
        }
        guard let count = ShapeMath.product(x), count % w[1] == 0 else { return nil }
        return [[count / w[1], w[0]]]
    }
}
