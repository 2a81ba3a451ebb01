import FlatBuffers
import IR
import Ops
import Support
import TFProto

// Conv2D and DepthwiseConv2dNative → CONV_2D and DEPTHWISE_CONV_2D, the way TF's MLIR
// converter legalizes them (prepare_tf.cc): NHWC only; the Conv2D filter
// goes HWIO → OHWI; the depthwise filter [kh,kw,in,M] is reshaped (same memory order) to
// [1,kh,kw,in·M] with depth_multiplier M; a zero bias is added so later passes can fold
// BiasAdd and batch norm into it; EXPLICIT padding becomes a PAD then VALID.

/// Strides, dilations and padding of a windowed op, from its NHWC attributes.
package struct WindowAttributes {
    package var strideH = 1, strideW = 1
    package var dilationH = 1, dilationW = 1
    package var padding: Padding = .valid
    /// EXPLICIT padding as [top, bottom, left, right]; nil for SAME/VALID.
    package var explicit: [Int]?

    package init(_ node: TFNodeDef, allowExplicit: Bool, dilations: Bool) throws {
        func fourTuple(_ key: String, default d: [Int]?) throws -> [Int] {
            guard let v = try node.attrInts(key) ?? d else { throw node.invalid("attribute '\(key)' is missing") }
            guard v.count == 4, v.allSatisfy({ $0 >= 1 }) else {
                throw node.invalid("attribute '\(key)' must be 4 positive ints [1,h,w,1], got \(v)")
            }
            guard v[0] == 1, v[3] == 1 else {
                throw node.invalid("\(key) \(v) move along the batch or channel dimension, which TFLite cannot do (NHWC: [1,h,w,1])")
            }
            return v
        }
        let s = try fourTuple("strides", default: nil)
        strideH = s[1]
        strideW = s[2]
        if dilations {
            let d = try fourTuple("dilations", default: [1, 1, 1, 1])
            dilationH = d[1]
            dilationW = d[2]
        }
        switch try node.attrString("padding") {
        case "SAME": padding = .same
        case "VALID": padding = .valid
        case "EXPLICIT" where allowExplicit:
            let p = try node.attrInts("explicit_paddings") ?? []
            guard p.count == 8, p.allSatisfy({ $0 >= 0 }) else {
                throw node.invalid("explicit_paddings must be 8 non-negative ints, got \(shapeText(p))")
            }
            guard p[0] == 0, p[1] == 0, p[6] == 0, p[7] == 0 else {
                throw node.invalid("explicit_paddings \(shapeText(p)) pad the batch or channel dimension")
            }
            padding = .valid
            explicit = [p[2], p[3], p[4], p[5]]
        case let other:
            throw node.invalid("padding \(other) is not supported (SAME, VALID\(allowExplicit ? ", EXPLICIT" : ""))")
        }
    }

    /// Output height and width for an input of height×width and a kernel (TF's op definitions).
    package func outputSize(height: Int, width: Int, kernelH: Int, kernelW: Int) -> (Int, Int) {
        (Verifier.outputSize(height, kernelH, strideH, dilationH, padding), Verifier.outputSize(width, kernelW, strideW, dilationW, padding))
    }
}

extension GraphDefLowering {
    /// The 4-D float input of a windowed op, padded first when the op uses EXPLICIT padding.
    package mutating func windowInput(_ node: TFNodeDef, _ inputs: [ValueID], _ window: WindowAttributes) throws -> (ValueID, [Int32]) {
        let x = try floatInput(inputs, 0, node)
        var shape = value(x).shape
        guard shape.count == 4 else { throw node.invalid("input must be 4-D NHWC, got shape \(shapeText(shape))") }
        guard let p = window.explicit else { return (x, shape) }
        let paddings = int32Constant([0, 0, p[0], p[1], p[2], p[3], 0, 0], name: "\(node.name)/paddings", node: node, shape: [4, 2])
        guard Int(shape[1]) + p[0] + p[1] <= Int(Int32.max), Int(shape[2]) + p[2] + p[3] <= Int(Int32.max) else {
            throw node.invalid("explicit padding makes the input larger than 2^31")
        }
        shape[1] += Int32(p[0] + p[1])
        shape[2] += Int32(p[2] + p[3])
        let padded = emit(.pad, [x, paddings], node: node, name: "\(node.name)/pad", dtype: .float32, shape: shape)
        return (padded, shape)
    }

    /// The filter input: a float32 4-D constant.
    package func filterInput(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> ConstantTensor {
        let w = try constantInput(inputs, 1, node, "the filter")
        guard w.type.dtype == .float32, w.shape.count == 4, w.shape.allSatisfy({ $0 > 0 }) else {
            throw node.invalid("the filter must be a non-empty 4-D float32 constant, got \(w.type.dtype.name) \(shapeText(w.shape))")
        }
        return w
    }

    package func convOutputShape(_ node: TFNodeDef, _ x: [Int32], _ window: WindowAttributes, kernelH: Int32, kernelW: Int32, channels: Int32) throws -> [Int32] {
        let (oh, ow) = window.outputSize(height: Int(x[1]), width: Int(x[2]), kernelH: Int(kernelH), kernelW: Int(kernelW))
        guard oh > 0, ow > 0 else {
            throw node.invalid("a \(kernelH)x\(kernelW) window does not fit the \(x[1])x\(x[2]) input with this padding")
        }
        return [x[0], Int32(oh), Int32(ow), channels]
    }

    package mutating func lowerConv2D(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        try node.requireNHWC()
        let window = try WindowAttributes(node, allowExplicit: true, dilations: true)
        let w = try filterInput(node, inputs)
        let (x, xs) = try windowInput(node, inputs, window)
        let (kh, kw, cin, cout) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        guard xs[3] == cin else {
            throw node.invalid("the input has \(xs[3]) channels but the filter \(shapeText(w.shape)) expects \(cin) (grouped convolution is not supported)")
        }
        let shape = try convOutputShape(node, xs, window, kernelH: kh, kernelW: kw, channels: cout)
        let filter = addConstant(Self.hwioToOHWI(w), name: value(inputs[1]).name, node: node.name)
        let bias = addConstant(ConstantTensor(floats: Array(repeating: 0, count: Int(cout)), shape: [cout]), name: "\(node.name)/bias", node: node.name)
        let attrs = Conv2DAttributes(padding: window.padding, strideW: Int32(window.strideW), strideH: Int32(window.strideH), dilationW: Int32(window.dilationW), dilationH: Int32(window.dilationH))
        return [emit(.conv2D(attrs), [x, filter, bias], node: node, dtype: .float32, shape: shape)]
    }

    package mutating func lowerDepthwiseConv2D(_ node: TFNodeDef, _ inputs: [ValueID]) throws -> [ValueID?] {
        try node.requireNHWC()
        let window = try WindowAttributes(node, allowExplicit: true, dilations: true)
        let w = try filterInput(node, inputs)
        let (x, xs) = try windowInput(node, inputs, window)
        let (kh, kw, cin, multiplier) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        guard xs[3] == cin else {
            throw node.invalid("the input has \(xs[3]) channels but the filter \(shapeText(w.shape)) expects \(cin)")
        }
        guard Int(cin) * Int(multiplier) <= Int(Int32.max) else { throw node.invalid("the filter \(shapeText(w.shape)) has too many output channels") }
        let channels = cin * multiplier
        let shape = try convOutputShape(node, xs, window, kernelH: kh, kernelW: kw, channels: channels)
        // [kh,kw,in,M] and [1,kh,kw,in·M] have the same memory order: output channel c·M + m.
        let filter = addConstant(w.reshaped([1, kh, kw, channels], layout: .oneHWO), name: value(inputs[1]).name, node: node.name)
        let bias = addConstant(ConstantTensor(floats: Array(repeating: 0, count: Int(channels)), shape: [channels]), name: "\(node.name)/bias", node: node.name)
        let attrs = DepthwiseConv2DAttributes(padding: window.padding, strideW: Int32(window.strideW), strideH: Int32(window.strideH), depthMultiplier: multiplier, dilationW: Int32(window.dilationW), dilationH: Int32(window.dilationH))
        return [emit(.depthwiseConv2D(attrs), [x, filter, bias], node: node, dtype: .float32, shape: shape)]
    }

    /// HWIO [kh,kw,in,out] → OHWI [out,kh,kw,in] (perm [3,0,1,2]) for 4-byte elements, as one
    /// pass over the output: the generic `transposed` is too slow for MobileNet-sized weights.
    package static func hwioToOHWI(_ w: ConstantTensor) -> ConstantTensor {
        let (h, wd, i, o) = (Int(w.shape[0]), Int(w.shape[1]), Int(w.shape[2]), Int(w.shape[3]))
        var out = [UInt8](repeating: 0, count: w.bytes.count)
        w.bytes.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                var k = 0
                for oc in 0..<o {
                    for y in 0..<h {
                        for x in 0..<wd {
                            let base = ((y * wd + x) * i) * o + oc
                            for ic in 0..<i {
                                let word = src.loadUnaligned(fromByteOffset: (base + ic * o) * 4, as: UInt32.self)
                                dst.storeBytes(of: word, toByteOffset: k * 4, as: UInt32.self)
                                k += 1
                            }
                        }
                    }
                }
            }
        }
        return ConstantTensor(type: w.type, shape: [Int32(o), Int32(h), Int32(wd), Int32(i)], bytes: out, layout: .ohwi)
    }
}
