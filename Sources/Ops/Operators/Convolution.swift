import FlatBuffers
import IR
import Kernels

// CONV_2D and DEPTHWISE_CONV_2D (schema.fbs Conv2DOptions, DepthwiseConv2DOptions; LiteRT's
// op_version.cc; TFLM's conv and depthwise_conv kernels).
extension OperatorTable {
    static let convolutionOperators = [conv2D, depthwiseConv2D]

    static let conv2DOptions = TypedOptions<Conv2DAttributes>(payload: { if case .conv2D(let a) = $0 { a } else { nil } }, make: { .conv2D($0) })
    static let depthwiseConv2DOptions = TypedOptions<DepthwiseConv2DAttributes>(
        payload: { if case .depthwiseConv2D(let a) = $0 { a } else { nil } }, make: { .depthwiseConv2D($0) })

    static let conv2D = OperatorDefinition(
        .conv2D,
        options: OptionsCodec(
            defaultKind: .conv2D(Conv2DAttributes(padding: .same, strideW: 1, strideH: 1)),
            decode: { r in
                // Conv2DOptions: 0 padding, 1 stride_w, 2 stride_h, 3 fused_activation_function,
                // 4 dilation_w_factor (default 1), 5 dilation_h_factor (default 1), 6 quantized_bias_type.
                guard r.isTable(Schema.OptionsTag.conv2D), let p = try r.padding(0), let a = try r.activation(3) else { return nil }
                return (.conv2D(Conv2DAttributes(padding: p, strideW: try r.i32(1), strideH: try r.i32(2), activation: a, dilationW: try r.i32(4, 1), dilationH: try r.i32(5, 1), quantizedBiasType: try r.i8(6))), false)
            },
            encode: { op in
                guard case .conv2D(let a) = op.kind else { return nil }
                var w = OptionsWriter()
                w.i8(0, a.padding.rawValue); w.i32(1, a.strideW); w.i32(2, a.strideH); w.i8(3, a.activation.rawValue)
                w.i32(4, a.dilationW, 1); w.i32(5, a.dilationH, 1); w.i8(6, a.quantizedBiasType)
                return (Schema.OptionsTag.conv2D, w.table)
            },
            describe: { kind in
                guard case .conv2D(let a) = kind else { return [] }
                return [("padding", a.padding.description), ("stride", "\(a.strideH)x\(a.strideW)"), ("dilation", "\(a.dilationH)x\(a.dilationW)")]
                    + (a.quantizedBiasType != 0 ? [("quantized_bias_type", DType(code: a.quantizedBiasType).name)] : [])
            }
        ),
        activation: ActivationField(
            get: { if case .conv2D(let a) = $0 { a.activation } else { nil } },
            set: { kind, v in if case .conv2D(var a) = kind { a.activation = v; kind = .conv2D(a) } }
        ),
        weights: WeightsOperand(layout: .ohwi, rescalable: { if case .conv2D(let a) = $0 { a.quantizedBiasType == 0 } else { false } }),
        window: WindowField(
            get: { if case .conv2D(let a) = $0 { Window(padding: a.padding, strides: (Int(a.strideH), Int(a.strideW)), dilations: (Int(a.dilationH), Int(a.dilationW))) } else { nil } },
            setPadding: { kind, p in if case .conv2D(var a) = kind { a.padding = p; kind = .conv2D(a) } }
        ),
        version: { s in
            var biasType: Int8 = 0
            if case .conv2D(let a) = s.op.kind { biasType = a.quantizedBiasType }
            let grouped = s.rank(0) == 4 && s.rank(1) == 4 && s.shape(0)[3] != s.shape(1)[3]
            let hybrid = s.input(0) == .float32 && s.input(1) == .int8 && s.output(0) == .float32
            // Per-channel: one filter scale per output channel, filter dim 0.
            let perChannel = s.rank(1) >= 1 && s.scaleCount(1) == Int(s.shape(1)[0])
            return s.first([
                (s.input(0) == .int16 && s.input(1) == .int8 && s.output(0) == .int16 && biasType != 0, 8, "int16 activations with quantized_bias_type"),
                (grouped, 6, "grouped convolution: input has \(s.dim(0, 3)) channels, filter \(s.dim(1, 3))"),
                (s.input(0) == .int16 && s.input(1) == .int16 && s.output(0) == .int16, 4, "int16 input, filter and output"),
                (s.input(0) == .int8 && s.input(1) == .int8 && s.output(0) == .int8, 3, "int8 input, filter and output"),
                (s.input(0) == .int8 && s.input(1) == .int4 && s.output(0) == .int8, 7, "int4 filter"),
                (hybrid && perChannel, 5, "float input with per-channel int8 filter (hybrid)"),
                (hybrid, 2, "float input with int8 filter (hybrid)"),
            ])
        },
        quantization: { op, _ in
            guard case .conv2D = op.kind else { return nil }
            // OHWI filter: per-channel along dim 0 (TFLite quantization spec).
            // int16x8: TFLM conv.cc runs int16 input, int8 filter, int64 (or int32) bias.
            return .init(roles: [.activation, .weights(axis: 0), .bias(input: 0, weights: 1)], output: .free, int16: true)
        },
        kernel: { c in
            guard case .conv2D(let a) = c.op.kind else { throw Unsupported("no kernel for this op") }
            if c.optionalInput(0)?.dtype == .int16 {
                return try Int16ConvolutionKernel(c, padding: a.padding, strides: (Int(a.strideH), Int(a.strideW)), dilations: (Int(a.dilationH), Int(a.dilationW)),
                                                  activation: a.activation, depthMultiplier: nil)
            }
            if c.optionalInput(0)?.dtype == .float32 && c.optionalInput(1)?.dtype == .int8 {
                return try HybridConvolutionKernel(c, padding: a.padding, strides: (Int(a.strideH), Int(a.strideW)), dilations: (Int(a.dilationH), Int(a.dilationW)),
                                                   activation: a.activation, depthMultiplier: nil)
            }
            return try Conv2DKernel(c, a)
        },
        verify: { check in
            guard case .conv2D(let a) = check.op.kind else { return }
            guard let x = check.input(0), let w = check.input(1), let y = check.output(0) else { check.report("needs input, filter and output"); return }
            guard x.rank == 4, w.rank == 4, y.rank == 4 else { check.report("input, filter and output must be 4-D (got \(x.shape), \(w.shape), \(y.shape))"); return }
            if w.shape[3] <= 0 || x.shape[3] % w.shape[3] != 0 { check.report("filter \(w.shape) does not match input channels \(x.shape[3])") }
            if y.shape[3] != w.shape[0] { check.report("output channels \(y.shape[3]) != filter out channels \(w.shape[0])") }
            if let b = check.input(2), b.elementCount != Int(w.shape[0]) { check.report("bias has \(b.elementCount ?? -1) elements, expected \(w.shape[0])") }
            check.spatial(x, y, kh: w.shape[1], kw: w.shape[2], sh: a.strideH, sw: a.strideW, dh: a.dilationH, dw: a.dilationW, a.padding)
            check.weights(w, axis: 0)
            check.bias(check.input(2), input: x, weights: w)
        },
        attributes: [
            conv2DOptions.attribute("padding", \.padding),
            conv2DOptions.attribute("stride_w", \.strideW),
            conv2DOptions.attribute("stride_h", \.strideH),
            conv2DOptions.attribute("dilation_w", \.dilationW),
            conv2DOptions.attribute("dilation_h", \.dilationH),
            .fusedActivation,
            conv2DOptions.attribute("quantized_bias_type", \.quantizedBiasType),
        ],
        // LiteRT kernels/conv.cc Prepare: [batch, out_h, out_w, filter dim 0], each spatial size
        // from kernels/padding.h ComputeOutSize.
        shape: { s in
            guard case .conv2D(let a) = s.op.kind, let x = s.shape(0), let w = s.shape(1), w.count == 4 else { return nil }
            return ShapeMath.windowed(x, filter: (w[1], w[2]), stride: (a.strideH, a.strideW), dilation: (a.dilationH, a.dilationW), a.padding, channels: w[0])
        },
        microFootprint: { c in
            // TfLiteConvParams: padding, stride_w, stride_h, activation, dilation_w, dilation_h,
            // quantized_bias_type. Filter OHWI: channels on axis 0.
            try .convolution(c, options: .options(ints: 7), channelAxis: 0)
        }
    )

    static let depthwiseConv2D = OperatorDefinition(
        .depthwiseConv2D,
        options: OptionsCodec(
            defaultKind: .depthwiseConv2D(DepthwiseConv2DAttributes(padding: .same, strideW: 1, strideH: 1, depthMultiplier: 1)),
            decode: { r in
                // DepthwiseConv2DOptions: 0 padding, 1 stride_w, 2 stride_h, 3 depth_multiplier,
                // 4 fused_activation_function, 5 dilation_w_factor, 6 dilation_h_factor (default 1).
                guard r.isTable(Schema.OptionsTag.depthwiseConv2D), let p = try r.padding(0), let a = try r.activation(4) else { return nil }
                return (.depthwiseConv2D(DepthwiseConv2DAttributes(padding: p, strideW: try r.i32(1), strideH: try r.i32(2), depthMultiplier: try r.i32(3), activation: a, dilationW: try r.i32(5, 1), dilationH: try r.i32(6, 1))), false)
            },
            encode: { op in
                guard case .depthwiseConv2D(let a) = op.kind else { return nil }
                var w = OptionsWriter()
                w.i8(0, a.padding.rawValue); w.i32(1, a.strideW); w.i32(2, a.strideH); w.i32(3, a.depthMultiplier)
                w.i8(4, a.activation.rawValue); w.i32(5, a.dilationW, 1); w.i32(6, a.dilationH, 1)
                return (Schema.OptionsTag.depthwiseConv2D, w.table)
            },
            describe: { kind in
                guard case .depthwiseConv2D(let a) = kind else { return [] }
                return [("padding", a.padding.description), ("stride", "\(a.strideH)x\(a.strideW)"), ("dilation", "\(a.dilationH)x\(a.dilationW)"), ("depth_multiplier", "\(a.depthMultiplier)")]
            }
        ),
        activation: ActivationField(
            get: { if case .depthwiseConv2D(let a) = $0 { a.activation } else { nil } },
            set: { kind, v in if case .depthwiseConv2D(var a) = kind { a.activation = v; kind = .depthwiseConv2D(a) } }
        ),
        weights: WeightsOperand(layout: .oneHWO),
        window: WindowField(
            get: { if case .depthwiseConv2D(let a) = $0 { Window(padding: a.padding, strides: (Int(a.strideH), Int(a.strideW)), dilations: (Int(a.dilationH), Int(a.dilationW))) } else { nil } },
            setPadding: { kind, p in if case .depthwiseConv2D(var a) = kind { a.padding = p; kind = .depthwiseConv2D(a) } }
        ),
        version: { s in
            var dilated = false
            if case .depthwiseConv2D(let a) = s.op.kind { dilated = a.dilationW != 1 || a.dilationH != 1 }
            let hybrid = s.input(0) == .float32 && s.input(1) == .int8 && s.output(0) == .float32
            let perChannel = s.rank(1) == 4 && s.scaleCount(1) == Int(s.shape(1)[3])
            return s.first([
                (s.input(0) == .int16 && s.input(1) == .int16 && s.output(0) == .int16, 5, "int16 input, filter and output"),
                (hybrid && perChannel, 6, "float input with per-channel int8 filter (hybrid)"),
                (hybrid, 4, "float input with int8 filter (hybrid)"),
                (s.input(0) == .int8 && s.input(1) == .int8 && s.output(0) == .int8, 3, "int8 input, filter and output"),
                (s.input(0) == .int8 && s.input(1) == .int4 && s.output(0) == .int8, 7, "int4 filter"),
                (dilated, 2, "dilation other than 1"),
            ])
        },
        quantization: { op, _ in
            guard case .depthwiseConv2D = op.kind else { return nil }
            // 1HWO filter: per-channel along dim 3.
            // int16x8: TFLM depthwise_conv.cc, int64 bias (reference_integer_ops::DepthwiseConvPerChannel).
            return .init(roles: [.activation, .weights(axis: 3), .bias(input: 0, weights: 1)], output: .free, int16: true)
        },
        kernel: { c in
            guard case .depthwiseConv2D(let a) = c.op.kind else { throw Unsupported("no kernel for this op") }
            if c.optionalInput(0)?.dtype == .int16 {
                return try Int16ConvolutionKernel(c, padding: a.padding, strides: (Int(a.strideH), Int(a.strideW)), dilations: (Int(a.dilationH), Int(a.dilationW)),
                                                  activation: a.activation, depthMultiplier: Int(a.depthMultiplier))
            }
            if c.optionalInput(0)?.dtype == .float32 && c.optionalInput(1)?.dtype == .int8 {
                return try HybridConvolutionKernel(c, padding: a.padding, strides: (Int(a.strideH), Int(a.strideW)), dilations: (Int(a.dilationH), Int(a.dilationW)),
                                                   activation: a.activation, depthMultiplier: Int(a.depthMultiplier))
            }
            return try DepthwiseConv2DKernel(c, a)
        },
        verify: { check in
            guard case .depthwiseConv2D(let a) = check.op.kind else { return }
            guard let x = check.input(0), let w = check.input(1), let y = check.output(0) else { check.report("needs input, filter and output"); return }
            guard x.rank == 4, w.rank == 4, y.rank == 4 else { check.report("input, filter and output must be 4-D"); return }
            if w.shape[0] != 1 { check.report("depthwise filter must be [1,kh,kw,C·M], got \(w.shape)") }
            if x.shape[3] == 0 || w.shape[3] % max(x.shape[3], 1) != 0 { check.report("filter channels \(w.shape[3]) not a multiple of input channels \(x.shape[3])") }
            if y.shape[3] != w.shape[3] { check.report("output channels \(y.shape[3]) != filter channels \(w.shape[3])") }
            if let b = check.input(2), b.elementCount != Int(w.shape[3]) { check.report("bias has \(b.elementCount ?? -1) elements, expected \(w.shape[3])") }
            check.spatial(x, y, kh: w.shape[1], kw: w.shape[2], sh: a.strideH, sw: a.strideW, dh: a.dilationH, dw: a.dilationW, a.padding)
            check.weights(w, axis: 3)
            check.bias(check.input(2), input: x, weights: w)
        },
        attributes: [
            depthwiseConv2DOptions.attribute("padding", \.padding),
            depthwiseConv2DOptions.attribute("stride_w", \.strideW),
            depthwiseConv2DOptions.attribute("stride_h", \.strideH),
            depthwiseConv2DOptions.attribute("dilation_w", \.dilationW),
            depthwiseConv2DOptions.attribute("dilation_h", \.dilationH),
            depthwiseConv2DOptions.attribute("depth_multiplier", \.depthMultiplier),
            .fusedActivation,
        ],
        // LiteRT kernels/depthwise_conv.cc Prepare: [batch, out_h, out_w, filter dim 3].
        shape: { s in
            guard case .depthwiseConv2D(let a) = s.op.kind, let x = s.shape(0), let w = s.shape(1), w.count == 4 else { return nil }
            return ShapeMath.windowed(x, filter: (w[1], w[2]), stride: (a.strideH, a.strideW), dilation: (a.dilationH, a.dilationW), a.padding, channels: w[3])
        },
        microFootprint: { c in
            // TfLiteDepthwiseConvParams: padding, stride_w, stride_h, depth_multiplier,
            // activation, dilation_w, dilation_h. Filter 1HWO: channels on axis 3.
            try .convolution(c, options: .options(ints: 7), channelAxis: 3)
        }
    )
}
