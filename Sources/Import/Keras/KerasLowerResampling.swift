import Support

// UpSampling1D/2D, Conv2DTranspose and grouped Conv1D/Conv2D (keras/src/layers/reshaping/
// up_sampling1d.py, up_sampling2d.py; …/convolutional/conv2d_transpose.py, base_conv.py).
// All are written with RESHAPE, CONCATENATION, PAD, STRIDED_SLICE and CONV_2D, so they compute
// exactly what Keras does and run on every runtime and through the int8 quantizer.
extension KerasGraphBuilder {
    /// `copies` copies of x side by side along `axis` (copies == 1: x itself).
    mutating func repeated(_ x: String, copies: Int, axis: Int, _ suffix: String) -> String {
        guard copies > 1 else { return x }
        var out = shape(x)
        out[axis] *= copies
        let axisValue = intConstant([axis], "\(suffix)/axis", shape: [])
        return emit("ConcatV2", suffix, Array(repeating: x, count: copies) + [axisValue], shape: out, attrs: ["N": .i(Int64(copies)), "Tidx": .type(TFDataType.int32.rawValue)])
    }

    /// x with each slice along `axis` (of size 1) followed by factor − 1 copies of itself, or
    /// by zeros: the axis grows to `factor`.
    mutating func interleave(_ x: String, factor: Int, axis: Int, zeros: Bool, _ suffix: String) -> String {
        guard factor > 1 else { return x }
        guard zeros else { return repeated(x, copies: factor, axis: axis, suffix) }
        var zs = shape(x)
        zs[axis] = factor - 1
        let z = constant(Array(repeating: 0, count: zs.reduce(1, *)), shape: zs, "\(suffix)/zeros")
        var out = shape(x)
        out[axis] = factor
        let axisValue = intConstant([axis], "\(suffix)/axis", shape: [])
        return emit("ConcatV2", suffix, [x, z, axisValue], shape: out, attrs: ["N": .i(2), "Tidx": .type(TFDataType.int32.rawValue)])
    }

    /// [1, H, W, C] with each pixel made an sh × sw block: copies of it (nearest-neighbour
    /// upsampling), or the pixel then zeros (the strided input of a transposed convolution).
    mutating func spread(_ x: String, _ sh: Int, _ sw: Int, zeros: Bool, _ suffix: String) -> String {
        let s = shape(x)
        let (h, w, c) = (s[1], s[2], s[3])
        var y = reshape(x, to: [h, w, 1, c], "\(suffix)/columns")
        y = interleave(y, factor: sw, axis: 2, zeros: zeros, "\(suffix)/width")
        y = reshape(y, to: [h, 1, w * sw, c], "\(suffix)/rows")
        y = interleave(y, factor: sh, axis: 1, zeros: zeros, "\(suffix)/height")
        return reshape(y, to: [1, h * sh, w * sw, c], "\(suffix)/image")
    }

    mutating func lowerUpSampling(_ inputs: [String], spatial: Int) throws -> String {
        let x = try single(inputs)
        let xs = shape(x)
        guard xs.count == spatial + 2, xs[0] == 1 else { throw fail("needs a rank-\(spatial + 2) input with batch 1, got \(shapeText(xs))") }
        if spatial == 1 {
            let size = try int("size", default: 2)
            guard size >= 1, size <= 1 << 12 else { throw fail("size \(size) is out of range") }
            // keras.ops.repeat along the steps: each step `size` times.
            let y = repeated(reshape(x, to: [xs[1], 1, 1, xs[2]], "steps"), copies: size, axis: 1, "repeat")
            return reshape(y, to: [1, xs[1] * size, xs[2]], "upsampled")
        }
        try requireChannelsLast()
        let interpolation = try string("interpolation", default: "nearest")
        guard interpolation == "nearest" else { throw fail("interpolation '\(interpolation)' is not supported (nearest)") }
        let size = try ints("size", count: 2, default: [2, 2])
        guard size.allSatisfy({ $0 <= 1 << 12 }) else { throw fail("size \(size) is out of range") }
        return spread(x, size[0], size[1], zeros: false, "upsample")
    }

    /// Conv2DTranspose as the convolution it is the gradient of: the input spread out by the
    /// strides with zeros between, padded by (kernel − 1 − TF's SAME padding before) in front and
    /// cut or padded to the output length behind, convolved (VALID) with the kernel flipped in
    /// space and with its channel axes swapped. Output length as keras's
    /// compute_conv_transpose_output_shape (deconv_output_length): VALID n·s + max(k − s, 0),
    /// SAME n·s (output_padding None).
    mutating func lowerConvTranspose(_ inputs: [String]) throws -> String {
        let w = try window(spatial: 2, kernelKey: "kernel_size")
        guard option("output_padding") == nil else { throw fail("output_padding is not supported") }
        guard try int("groups", default: 1) == 1 else { throw fail("grouped transposed convolution is not supported") }
        let filters = try int("filters")
        guard filters >= 1 else { throw fail("filters \(filters) must be positive") }
        let useBias = try bool("use_bias", default: true)
        let x = try single(inputs)
        let xs = shape(x)
        guard xs.count == 4, xs[0] == 1 else { throw fail("needs a [1, height, width, channels] input, got \(shapeText(xs))") }
        let channels = xs[3]
        let (kh, kw) = (w.kernel[0], w.kernel[1])
        let weights = try weights([[kh, kw, filters, channels]] + (useBias ? [[filters]] : []))
        let begin = [0, 0, 0, 0]
        var end = [1, 0, 0, channels], pads = [0, 0, 0, 0, 0, 0, 0, 0]
        var out = [1, 0, 0, filters]
        for k in 0..<2 {
            let (n, s) = (xs[k + 1], w.strides[k])
            let extent = (w.kernel[k] - 1) * w.dilations[k] + 1
            let length = w.padding == "SAME" ? n * s : n * s + max(extent - s, 0)
            let before = w.padding == "SAME" ? max(extent - s, 0) / 2 : 0
            let front = extent - 1 - before
            // The spread input is n·s long; the convolution needs length + extent − 1.
            let back = length + extent - 1 - front - n * s
            end[k + 1] = n * s + min(back, 0)
            pads[2 * (k + 1)] = front
            pads[2 * (k + 1) + 1] = max(back, 0)
            out[k + 1] = length
        }
        var y = spread(x, w.strides[0], w.strides[1], zeros: true, "spread")
        if end[1] != shape(y)[1] || end[2] != shape(y)[2] {
            let sliceInputs = [y, intConstant(begin, "trim/begin"), intConstant(end, "trim/end"), intConstant([1, 1, 1, 1], "trim/strides")]
            y = emit("StridedSlice", "trim", sliceInputs, shape: end, attrs: ["Index": .type(TFDataType.int32.rawValue)])
        }
        var padded = shape(y)
        for k in 1...2 { padded[k] += pads[2 * k] + pads[2 * k + 1] }
        if pads.contains(where: { $0 != 0 }) {
            y = emit("Pad", "pad", [y, intConstant(pads, "pad/paddings", shape: [4, 2])], shape: padded, attrs: ["Tpaddings": .type(TFDataType.int32.rawValue)])
        }
        // [kh, kw, filters, channels] → flipped [kh, kw, channels, filters].
        var flipped = [Float](repeating: 0, count: weights[0].values.count)
        for i in 0..<kh { for j in 0..<kw { for f in 0..<filters { for c in 0..<channels {
            flipped[((i * kw + j) * channels + c) * filters + f] = weights[0].values[(((kh - 1 - i) * kw + (kw - 1 - j)) * filters + f) * channels + c]
        } } } }
        let kernel = constant(flipped, shape: [kh, kw, channels, filters], "kernel")
        let conv = Window(kernel: w.kernel, strides: [1, 1], dilations: w.dilations, padding: "VALID", causal: false)
        let result = emit("Conv2D", "conv", [y, kernel], shape: out, attrs: windowAttrs(conv))
        return try finishWindowed(result, bias: useBias ? weights[1] : nil, spatial: 2)
    }

    /// A grouped convolution (groups > 1): each group of input channels convolved with its own
    /// slice of the kernel ([k…, C/groups, filters], group g owning filters g·F/groups …), the
    /// results concatenated along the channels, as Keras's conv with `feature_group_count`.
    mutating func groupedConvolution(_ x4: String, _ s4: [Int], _ w: Window, groups: Int, filters: Int, kernel: KerasWeight, spatial: Int) throws -> String {
        let channels = s4[3]
        guard channels % groups == 0, filters % groups == 0 else { throw fail("groups \(groups) must divide the input channels \(channels) and filters \(filters)") }
        let (cg, fg) = (channels / groups, filters / groups)
        let taps = kernel.values.count / (cg * filters)
        let outShape = try windowOutputShape(s4, w, channels: fg)
        var parts: [String] = []
        for g in 0..<groups {
            let sliceInputs = [x4, intConstant([0, 0, 0, g * cg], "group\(g)/begin"), intConstant([s4[0], s4[1], s4[2], (g + 1) * cg], "group\(g)/end"), intConstant([1, 1, 1, 1], "group\(g)/strides")]
            let part = emit("StridedSlice", "group\(g)/input", sliceInputs, shape: [s4[0], s4[1], s4[2], cg], attrs: ["Index": .type(TFDataType.int32.rawValue)])
            var values: [Float] = []
            values.reserveCapacity(taps * cg * fg)
            for row in 0..<(taps * cg) { values += kernel.values[(row * filters + g * fg)..<(row * filters + (g + 1) * fg)] }
            let k = constant(values, shape: w.kernel + [cg, fg], "group\(g)/kernel")
            parts.append(emit("Conv2D", "group\(g)/conv", [part, k], shape: outShape, attrs: windowAttrs(w)))
        }
        var out = outShape
        out[3] = filters
        return emit("ConcatV2", "groups", parts + [intConstant([3], "groups/axis", shape: [])], shape: out, attrs: ["N": .i(Int64(groups)), "Tidx": .type(TFDataType.int32.rawValue)])
    }
}
