import Foundation

@testable import TFRewrite

/// Random one-op models for property and conformance tests. Everything comes from the seed.
enum RandomConvModels {
    struct ConvSpec: CustomStringConvertible {
        var h: Int, w: Int, kh: Int, kw: Int, outChannels: Int
        var strideH: Int, strideW: Int, dilationH: Int, dilationW: Int
        var padding: Padding
        var activation: ActivationFunction
        var int8: Bool
        var perChannel: Bool
        var hasBias: Bool
        var description: String {
            "\(int8 ? (perChannel ? "int8/per-channel" : "int8/per-tensor") : "float") in \(h)x\(w)x1 k \(kh)x\(kw) out \(outChannels) "
                + "stride \(strideH)x\(strideW) dilation \(dilationH)x\(dilationW) \(padding) \(activation)\(hasBias ? "" : " no-bias")"
        }
    }

    static func convSpec<G: RandomNumberGenerator>(_ rng: inout G, int8: Bool) -> ConvSpec {
        while true {
            let s = ConvSpec(
                h: Int.random(in: 4...14, using: &rng), w: Int.random(in: 4...14, using: &rng),
                kh: Int.random(in: 1...5, using: &rng), kw: Int.random(in: 1...5, using: &rng),
                outChannels: Int.random(in: 1...8, using: &rng),
                strideH: Int.random(in: 1...3, using: &rng), strideW: Int.random(in: 1...3, using: &rng),
                dilationH: Int.random(in: 1...2, using: &rng), dilationW: Int.random(in: 1...2, using: &rng),
                padding: Bool.random(using: &rng) ? .same : .valid,
                activation: [.none, .relu, .relu6, .reluN1To1].randomElement(using: &rng)!,
                int8: int8, perChannel: Bool.random(using: &rng), hasBias: Int.random(in: 0..<4, using: &rng) != 0)
            let oh = Verifier.outputSize(s.h, s.kh, s.strideH, s.dilationH, s.padding)
            let ow = Verifier.outputSize(s.w, s.kw, s.strideW, s.dilationW, s.padding)
            if oh >= 1 && ow >= 1 { return s }
        }
    }

    /// input [1,H,W,1] → CONV_2D → output, with random weights.
    static func oneChannelConv<G: RandomNumberGenerator>(_ s: ConvSpec, _ rng: inout G) -> Model {
        var b = PassGraphBuilder()
        let oh = Int32(Verifier.outputSize(s.h, s.kh, s.strideH, s.dilationH, s.padding))
        let ow = Int32(Verifier.outputSize(s.w, s.kw, s.strideW, s.dilationW, s.padding))
        let o = Int32(s.outChannels)
        let filterShape: [Int32] = [o, Int32(s.kh), Int32(s.kw), 1]
        let n = s.outChannels * s.kh * s.kw
        let x: ValueID, wid: ValueID, bid: ValueID, y: ValueID
        if s.int8 {
            let inScale = Float.random(in: 0.01...0.1, using: &rng)
            let inZp = Int64.random(in: -20...20, using: &rng)
            x = b.input("x", int8Type(inScale, inZp), [1, Int32(s.h), Int32(s.w), 1])
            let scales: [Float] = s.perChannel ? (0..<s.outChannels).map { _ in Float.random(in: 0.002...0.02, using: &rng) } : [Float.random(in: 0.002...0.02, using: &rng)]
            let wq = Quantization(scales: scales, zeroPoints: [Int64](repeating: 0, count: scales.count), axis: 0)
            wid = b.constant("w", ConstantTensor(.int8, shape: filterShape, values: (0..<n).map { _ in Int8.random(in: -127...127, using: &rng) }, quantization: wq))
            if s.hasBias {
                let bscales = (0..<s.outChannels).map { inScale * (scales.count == 1 ? scales[0] : scales[$0]) }
                let bq = Quantization(scales: bscales, zeroPoints: [Int64](repeating: 0, count: bscales.count), axis: 0)
                bid = b.constant("b", ConstantTensor(.int32, shape: [o], values: (0..<s.outChannels).map { _ in Int32.random(in: -3000...3000, using: &rng) }, quantization: bq))
            } else {
                bid = .absent
            }
            // Typical |accumulator| ≈ √K · 73 · 73 · s_in · s_w; spread it over ±64 quanta.
            let typical = Float(sqrt(Double(s.kh * s.kw))) * 73 * 73 * inScale * scales[0] / 2
            y = b.value("y", int8Type(max(typical / 64, 1e-5), Int64.random(in: -10...10, using: &rng)), [1, oh, ow, o])
        } else {
            x = b.input("x", float32Type, [1, Int32(s.h), Int32(s.w), 1])
            wid = b.constant("w", ConstantTensor(floats: (0..<n).map { _ in Float.random(in: -1...1, using: &rng) }, shape: filterShape))
            bid = s.hasBias ? b.constant("b", ConstantTensor(floats: (0..<s.outChannels).map { _ in Float.random(in: -0.5...0.5, using: &rng) }, shape: [o])) : .absent
            y = b.value("y", float32Type, [1, oh, ow, o])
        }
        let a = Conv2DAttributes(padding: s.padding, strideW: Int32(s.strideW), strideH: Int32(s.strideH), activation: s.activation, dilationW: Int32(s.dilationW), dilationH: Int32(s.dilationH))
        // Without a bias the slot is left out: LiteRT rejects a −1 bias on CONV_2D.
        b.op(.conv2D(a), version: s.int8 ? 3 : 1, bid.isAbsent ? [x, wid] : [x, wid, bid], [y])
        b.output(y)
        return b.model
    }

    /// Input values for `oneChannelConv` as the reference evaluator wants them (q − zp for int8).
    static func convInput<G: RandomNumberGenerator>(_ m: Model, _ rng: inout G) -> [Double] {
        let x = m.subgraphs[0][m.subgraphs[0].inputs[0]]
        let n = x.elementCount ?? 0
        if x.dtype == .int8 {
            let zp = Double(x.quantization?.zeroPoint ?? 0)
            return (0..<n).map { _ in Double(Int8.random(in: -128...127, using: &rng)) - zp }
        }
        return (0..<n).map { _ in Double(Float.random(in: -2...2, using: &rng)) }
    }
}
