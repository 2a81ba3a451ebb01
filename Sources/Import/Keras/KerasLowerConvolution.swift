import Support

// Convolutions, pooling, padding and cropping (keras/src/layers/convolutional, …/pooling,
// …/reshaping). 1-D layers run as their 2-D form on a [1, 1, steps, channels] view, as TF's
// conv1d does (nn_ops.py: expand_dims, conv2d, squeeze); the GraphDef lowering then makes
// CONV_2D / DEPTHWISE_CONV_2D / pooling builtins of them.
extension KerasGraphBuilder {
    /// Strides, dilations and padding of a windowed layer, as 2-D (height, width) values.
    struct Window {
        var kernel: [Int]
        var strides: [Int]
        var dilations: [Int]
        /// "SAME" or "VALID" (causal is turned into a left PAD and VALID).
        var padding: String
        var causal: Bool

        /// Output length for an input of length n along spatial axis k (TF's conv/pool op
        /// definitions: SAME ⌈n/s⌉, VALID ⌊(n − (k−1)·d − 1)/s⌋ + 1).
        func outputSize(_ n: Int, _ k: Int) -> Int {
            let extent = (kernel[k] - 1) * dilations[k] + 1
            return padding == "SAME" ? (n + strides[k] - 1) / strides[k] : (n >= extent ? (n - extent) / strides[k] + 1 : 0)
        }
    }

    /// The layer's window options, 1-D ones widened to [1, k].
    func window(spatial: Int, kernelKey: String, stridesDefault: [Int]? = nil) throws -> Window {
        try requireChannelsLast()
        let kernel = try ints(kernelKey, count: spatial)
        let strides = try ints("strides", count: spatial, default: stridesDefault ?? Array(repeating: 1, count: spatial))
        let dilations = try ints("dilation_rate", count: spatial, default: Array(repeating: 1, count: spatial))
        guard strides.allSatisfy({ $0 == 1 }) || dilations.allSatisfy({ $0 == 1 }) else {
            throw fail("strides \(strides) with dilation_rate \(dilations): Keras and TF allow only one of them above 1")
        }
        let padding = try string("padding", default: "valid")
        guard padding == "valid" || padding == "same" || (padding == "causal" && spatial == 1) else {
            throw fail("padding '\(padding)' is not supported (valid, same\(spatial == 1 ? ", causal" : ""))")
        }
        let widen: ([Int]) -> [Int] = { spatial == 1 ? [1] + $0 : $0 }
        return Window(kernel: widen(kernel), strides: widen(strides), dilations: widen(dilations), padding: padding == "same" ? "SAME" : "VALID", causal: padding == "causal")
    }

    /// The layer's input as NHWC: [1, H, W, C] as it is, [1, T, C] as [1, 1, T, C]; causal
    /// padding adds (k−1)·d zeros before the first step (Keras's Conv1D causal padding).
    mutating func windowInput(_ inputs: [String], spatial: Int, _ w: Window) throws -> (String, [Int]) {
        let x = try single(inputs)
        let xs = shape(x)
        guard xs.count == spatial + 2 else { throw fail("needs a rank-\(spatial + 2) input (batch, \(spatial == 1 ? "steps" : "height, width"), channels), got \(shapeText(xs))") }
        var x4 = spatial == 1 ? reshape(x, to: [xs[0], 1, xs[1], xs[2]], "expand") : x
        var s4 = shape(x4)
        if w.causal {
            let left = (w.kernel[1] - 1) * w.dilations[1]
            s4[2] += left
            x4 = emit("Pad", "causal_pad", [x4, intConstant([0, 0, 0, 0, left, 0, 0, 0], "causal_pad/paddings", shape: [4, 2])], shape: s4, attrs: ["Tpaddings": .type(TFDataType.int32.rawValue)])
        }
        return (x4, s4)
    }

    /// [1, H', W', C'] for the window over [1, H, W, C] with `channels` outputs; an empty output is an error.
    func windowOutputShape(_ s4: [Int], _ w: Window, channels: Int) throws -> [Int] {
        let (h, wd) = (w.outputSize(s4[1], 0), w.outputSize(s4[2], 1))
        guard h > 0, wd > 0 else { throw fail("a \(w.kernel) window does not fit the input \(shapeText(s4)) with \(w.padding) padding") }
        return [s4[0], h, wd, channels]
    }

    func windowAttrs(_ w: Window) -> [String: TFAttrValue] {
        [
            "strides": .list(TFAttrList(i: [1, Int64(w.strides[0]), Int64(w.strides[1]), 1])),
            "dilations": .list(TFAttrList(i: [1, Int64(w.dilations[0]), Int64(w.dilations[1]), 1])),
            "padding": .s(Array(w.padding.utf8)), "data_format": .s(Array("NHWC".utf8)),
        ]
    }

    /// Bias, activation and, for 1-D layers, the [1, 1, T', C] → [1, T', C] view back.
    mutating func finishWindowed(_ y4: String, bias: KerasWeight?, spatial: Int, activate: Bool = true) throws -> String {
        var y = y4
        if let bias {
            y = emit("BiasAdd", "bias_add", [y, constant(bias.values, shape: bias.shape, "bias")], shape: shape(y), attrs: ["data_format": .s(Array("NHWC".utf8))])
        }
        if activate { y = try layerActivation(y) }
        let s = shape(y)
        return spatial == 1 ? reshape(y, to: [s[0], s[2], s[3]], "squeeze") : y
    }

    mutating func lowerConvolution(_ inputs: [String], spatial: Int) throws -> String {
        let w = try window(spatial: spatial, kernelKey: "kernel_size")
        let groups = try int("groups", default: 1)
        guard groups >= 1 else { throw fail("groups \(groups) must be positive") }
        let filters = try int("filters")
        guard filters >= 1 else { throw fail("filters \(filters) must be positive") }
        let useBias = try bool("use_bias", default: true)
        let (x4, s4) = try windowInput(inputs, spatial: spatial, w)
        guard s4[3] % groups == 0, filters % groups == 0 else { throw fail("groups \(groups) must divide the input channels \(s4[3]) and filters \(filters)") }
        let kernelShape = Array(w.kernel.suffix(spatial)) + [s4[3] / groups, filters]
        let weights = try weights([kernelShape] + (useBias ? [[filters]] : []))
        if groups > 1 {
            let y = try groupedConvolution(x4, s4, w, groups: groups, filters: filters, kernel: weights[0], spatial: spatial)
            return try finishWindowed(y, bias: useBias ? weights[1] : nil, spatial: spatial)
        }
        let kernel = constant(weights[0].values, shape: w.kernel + [s4[3], filters], "kernel")
        let y = emit("Conv2D", "conv", [x4, kernel], shape: try windowOutputShape(s4, w, channels: filters), attrs: windowAttrs(w))
        return try finishWindowed(y, bias: useBias ? weights[1] : nil, spatial: spatial)
    }

    mutating func lowerDepthwise(_ inputs: [String], spatial: Int) throws -> String {
        let w = try window(spatial: spatial, kernelKey: "kernel_size")
        let multiplier = try int("depth_multiplier", default: 1)
        guard multiplier >= 1 else { throw fail("depth_multiplier \(multiplier) must be positive") }
        let useBias = try bool("use_bias", default: true)
        let (x4, s4) = try windowInput(inputs, spatial: spatial, w)
        let channels = s4[3] * multiplier
        let weights = try weights([Array(w.kernel.suffix(spatial)) + [s4[3], multiplier]] + (useBias ? [[channels]] : []))
        let kernel = constant(weights[0].values, shape: w.kernel + [s4[3], multiplier], "depthwise_kernel")
        let y = emit("DepthwiseConv2dNative", "depthwise", [x4, kernel], shape: try windowOutputShape(s4, w, channels: channels), attrs: windowAttrs(w))
        return try finishWindowed(y, bias: useBias ? weights[1] : nil, spatial: spatial)
    }

    /// Depthwise then 1×1 convolution (Keras's separable_conv: depthwise_kernel, pointwise_kernel, bias).
    mutating func lowerSeparable(_ inputs: [String], spatial: Int) throws -> String {
        let w = try window(spatial: spatial, kernelKey: "kernel_size")
        let multiplier = try int("depth_multiplier", default: 1)
        let filters = try int("filters")
        guard multiplier >= 1, filters >= 1 else { throw fail("depth_multiplier \(multiplier) and filters \(filters) must be positive") }
        let useBias = try bool("use_bias", default: true)
        let (x4, s4) = try windowInput(inputs, spatial: spatial, w)
        let channels = s4[3] * multiplier
        let ones = Array(repeating: 1, count: spatial)
        let weights = try weights([Array(w.kernel.suffix(spatial)) + [s4[3], multiplier], ones + [channels, filters]] + (useBias ? [[filters]] : []))
        let depthwiseKernel = constant(weights[0].values, shape: w.kernel + [s4[3], multiplier], "depthwise_kernel")
        let d = emit("DepthwiseConv2dNative", "depthwise", [x4, depthwiseKernel], shape: try windowOutputShape(s4, w, channels: channels), attrs: windowAttrs(w))
        let pointwise = Window(kernel: [1, 1], strides: [1, 1], dilations: [1, 1], padding: "VALID", causal: false)
        let pointwiseKernel = constant(weights[1].values, shape: [1, 1, channels, filters], "pointwise_kernel")
        var ds = shape(d)
        ds[3] = filters
        let y = emit("Conv2D", "pointwise", [d, pointwiseKernel], shape: ds, attrs: windowAttrs(pointwise))
        return try finishWindowed(y, bias: useBias ? weights[2] : nil, spatial: spatial)
    }

    mutating func lowerPooling(_ inputs: [String], spatial: Int, op: String) throws -> String {
        let pool = try ints("pool_size", count: spatial)
        var w = try window(spatial: spatial, kernelKey: "pool_size", stridesDefault: pool)
        w.dilations = [1, 1]
        let (x4, s4) = try windowInput(inputs, spatial: spatial, w)
        var attrs = windowAttrs(w)
        attrs["dilations"] = nil
        attrs["ksize"] = .list(TFAttrList(i: [1, Int64(w.kernel[0]), Int64(w.kernel[1]), 1]))
        let y = emit(op, op == "MaxPool" ? "max_pool" : "avg_pool", [x4], shape: try windowOutputShape(s4, w, channels: s4[3]), attrs: attrs)
        return try finishWindowed(y, bias: nil, spatial: spatial, activate: false)
    }

    mutating func lowerGlobalPooling(_ inputs: [String], spatial: Int, average: Bool) throws -> String {
        try requireChannelsLast()
        let x = try single(inputs)
        let xs = shape(x)
        guard xs.count == spatial + 2 else { throw fail("needs a rank-\(spatial + 2) input, got \(shapeText(xs))") }
        let keep = try bool("keepdims", default: false)
        let channels = xs[xs.count - 1]
        let kept = [xs[0]] + Array(repeating: 1, count: spatial) + [channels]
        let y: String
        if average {
            let axes = intConstant(Array(1...spatial), "axes")
            y = emit("Mean", "mean", [x, axes], shape: kept, attrs: ["keep_dims": .b(true), "Tidx": .type(TFDataType.int32.rawValue)])
        } else {
            // A max pool whose window is the whole input (TFLite has no REDUCE_MAX in every runtime).
            let x4 = spatial == 1 ? reshape(x, to: [xs[0], 1, xs[1], channels], "expand") : x
            let s4 = shape(x4)
            y = emit("MaxPool", "max_pool", [x4], shape: [xs[0], 1, 1, channels], attrs: [
                "ksize": .list(TFAttrList(i: [1, Int64(s4[1]), Int64(s4[2]), 1])), "strides": .list(TFAttrList(i: [1, 1, 1, 1])),
                "padding": .s(Array("VALID".utf8)), "data_format": .s(Array("NHWC".utf8)),
            ])
        }
        return reshape(y, to: keep ? kept : [xs[0], channels], "squeeze")
    }

    /// ZeroPadding/Cropping amounts: per spatial axis (before, after), from an int, a pair per
    /// axis, or one int per axis.
    func amounts(_ key: String, spatial: Int) throws -> [(Int, Int)] {
        guard let v = option(key) else { throw fail("option '\(key)' is missing") }
        var out: [(Int, Int)] = []
        if let i = v.intValue {
            out = Array(repeating: (i, i), count: spatial)
        } else if let a = v.arrayValue {
            if spatial == 1, a.count == 2, let b = a[0].intValue, let e = a[1].intValue {
                out = [(b, e)]
            } else if a.count == spatial {
                for item in a {
                    if let i = item.intValue {
                        out.append((i, i))
                    } else if let p = item.arrayValue, p.count == 2, let b = p[0].intValue, let e = p[1].intValue {
                        out.append((b, e))
                    }
                }
            }
        }
        guard out.count == spatial, out.allSatisfy({ $0.0 >= 0 && $0.1 >= 0 && $0.0 <= 1 << 20 && $0.1 <= 1 << 20 }) else {
            throw fail("option '\(key)' \(v.rendered(indent: nil)) is not usable")
        }
        return out
    }

    mutating func lowerZeroPadding(_ inputs: [String], spatial: Int) throws -> String {
        try requireChannelsLast()
        let x = try single(inputs)
        var xs = shape(x)
        guard xs.count == spatial + 2 else { throw fail("needs a rank-\(spatial + 2) input, got \(shapeText(xs))") }
        let pads = try amounts("padding", spatial: spatial)
        var flat = [0, 0]
        for (k, p) in pads.enumerated() {
            flat += [p.0, p.1]
            xs[k + 1] += p.0 + p.1
        }
        flat += [0, 0]
        let paddings = intConstant(flat, "paddings", shape: [xs.count, 2])
        return emit("Pad", "pad", [x, paddings], shape: xs, attrs: ["Tpaddings": .type(TFDataType.int32.rawValue)])
    }

    mutating func lowerCropping(_ inputs: [String], spatial: Int) throws -> String {
        try requireChannelsLast()
        let x = try single(inputs)
        let xs = shape(x)
        guard xs.count == spatial + 2 else { throw fail("needs a rank-\(spatial + 2) input, got \(shapeText(xs))") }
        let crops = try amounts("cropping", spatial: spatial)
        var begin = [0], end = [xs[0]], out = [xs[0]]
        for (k, c) in crops.enumerated() {
            guard c.0 + c.1 < xs[k + 1] else { throw fail("cropping \(c) leaves nothing of \(xs[k + 1])") }
            begin.append(c.0)
            end.append(xs[k + 1] - c.1)
            out.append(xs[k + 1] - c.0 - c.1)
        }
        begin.append(0)
        end.append(xs[xs.count - 1])
        out.append(xs[xs.count - 1])
        let inputs = [x, intConstant(begin, "begin"), intConstant(end, "end"), intConstant(Array(repeating: 1, count: xs.count), "strides")]
        return emit("StridedSlice", "crop", inputs, shape: out, attrs: ["Index": .type(TFDataType.int32.rawValue)])
    }
}
