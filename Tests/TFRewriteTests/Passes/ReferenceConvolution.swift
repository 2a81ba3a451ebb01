@testable import TFRewrite

/// Plain-loop CONV_2D and DEPTHWISE_CONV_2D written from the op definitions (schema.fbs's operand conventions and TF's op definitions), used to check that a rewrite between the two computes the same thing. Values are
/// Doubles; int8 callers pass (q − zero point) and integer biases, so sums stay exact.
enum ReferenceConvolution {
    struct Geometry {
        var padding: Padding
        var strideH: Int, strideW: Int, dilationH: Int, dilationW: Int
    }

    static func outputSize(_ n: Int, _ k: Int, _ s: Int, _ d: Int, _ p: Padding) -> Int {
        Verifier.outputSize(n, k, s, d, p)
    }

    /// pad_before = total/2 (TFLite's kernels' padding helper).
    static func padBefore(_ n: Int, _ out: Int, _ k: Int, _ s: Int, _ d: Int) -> Int {
        max(0, (out - 1) * s + (k - 1) * d + 1 - n) / 2
    }

    /// input [N,H,W,C], filter OHWI [O,KH,KW,C] → output [N,OH,OW,O] (no activation).
    static func conv(_ x: [Double], _ xs: [Int], _ w: [Double], _ ws: [Int], bias: [Double]?, _ g: Geometry) -> (values: [Double], shape: [Int]) {
        let (n, h, wd, c) = (xs[0], xs[1], xs[2], xs[3])
        let (o, kh, kw) = (ws[0], ws[1], ws[2])
        let oh = outputSize(h, kh, g.strideH, g.dilationH, g.padding), ow = outputSize(wd, kw, g.strideW, g.dilationW, g.padding)
        let pt = g.padding == .same ? padBefore(h, oh, kh, g.strideH, g.dilationH) : 0
        let pl = g.padding == .same ? padBefore(wd, ow, kw, g.strideW, g.dilationW) : 0
        var out = [Double](repeating: 0, count: n * oh * ow * o)
        for b in 0..<n { for y in 0..<oh { for xo in 0..<ow { for oc in 0..<o {
            var acc = 0.0
            for i in 0..<kh { for j in 0..<kw { for ic in 0..<c {
                let iy = y * g.strideH - pt + i * g.dilationH, ix = xo * g.strideW - pl + j * g.dilationW
                guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                acc += x[((b * h + iy) * wd + ix) * c + ic] * w[((oc * kh + i) * kw + j) * c + ic]
            } } }
            out[((b * oh + y) * ow + xo) * o + oc] = acc + (bias?[oc] ?? 0)
        } } } }
        return (out, [n, oh, ow, o])
    }

    /// input [N,H,W,C], filter [1,KH,KW,C·M] → output [N,OH,OW,C·M], channel c·M + m.
    static func depthwise(_ x: [Double], _ xs: [Int], _ w: [Double], _ ws: [Int], multiplier m: Int, bias: [Double]?, _ g: Geometry) -> (values: [Double], shape: [Int]) {
        let (n, h, wd, c) = (xs[0], xs[1], xs[2], xs[3])
        let (kh, kw, oc) = (ws[1], ws[2], ws[3])
        let oh = outputSize(h, kh, g.strideH, g.dilationH, g.padding), ow = outputSize(wd, kw, g.strideW, g.dilationW, g.padding)
        let pt = g.padding == .same ? padBefore(h, oh, kh, g.strideH, g.dilationH) : 0
        let pl = g.padding == .same ? padBefore(wd, ow, kw, g.strideW, g.dilationW) : 0
        var out = [Double](repeating: 0, count: n * oh * ow * oc)
        for b in 0..<n { for y in 0..<oh { for xo in 0..<ow { for ic in 0..<c { for mm in 0..<m {
            let ch = ic * m + mm
            var acc = 0.0
            for i in 0..<kh { for j in 0..<kw {
                let iy = y * g.strideH - pt + i * g.dilationH, ix = xo * g.strideW - pl + j * g.dilationW
                guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                acc += x[((b * h + iy) * wd + ix) * c + ic] * w[(i * kw + j) * oc + ch]
            } }
            out[((b * oh + y) * ow + xo) * oc + ch] = acc + (bias?[ch] ?? 0)
        } } } } }
        return (out, [n, oh, ow, oc])
    }

    /// Runs the single conv-like op of `model` (subgraph 0) on `input` (raw values, already
    /// minus the zero point for int8), returning accumulators + bias.
    static func run(_ model: Model, input: [Double]) -> [Double]? {
        let g = model.subgraphs[0]
        guard let op = g.ops.first(where: { !$0.isErased }) else { return nil }
        let x = g[op.inputs[0]], wv = g[op.inputs[1]]
        guard let wt = model.constant(wv) else { return nil }
        let w: [Double] = wt.type.dtype == .float32 ? wt.floats.map(Double.init) : (wt.integers ?? []).map(Double.init)
        var bias: [Double]?
        if let b = op.input(2), let bt = model.constant(g[b]) {
            bias = bt.type.dtype == .float32 ? bt.floats.map(Double.init) : (bt.integers ?? []).map(Double.init)
        }
        let xs = x.shape.map(Int.init), ws = wv.shape.map(Int.init)
        switch op.kind {
        case .conv2D(let a):
            return conv(input, xs, w, ws, bias: bias, Geometry(padding: a.padding, strideH: Int(a.strideH), strideW: Int(a.strideW), dilationH: Int(a.dilationH), dilationW: Int(a.dilationW))).values
        case .depthwiseConv2D(let a):
            return depthwise(input, xs, w, ws, multiplier: Int(a.depthMultiplier), bias: bias, Geometry(padding: a.padding, strideH: Int(a.strideH), strideW: Int(a.strideW), dilationH: Int(a.dilationH), dilationW: Int(a.dilationW))).values
        default:
            return nil
        }
    }
}
