import IR
import Ops
import Passes
import Support

/// Cross-layer equalization (Nagel et al., "Data-Free Quantization Through Weight Equalization
/// and Bias Correction", 2019, §4.1) on the float model, before calibration.
///
///     Given:   #0 CONV_2D {act=RELU} (%x, W1, b1) -> %h      W1 output channel c spans r1[c]
///              #1 CONV_2D (%h, W2, b2) -> %y                 W2's weights reading c span r2[c]
///     Result:  W1[c] /= s[c], b1[c] /= s[c], W2[…, c] *= s[c], s[c] = √(r1[c]·r2[c]) / r2[c]
///
/// ReLU(x/s) = ReLU(x)/s for s > 0, so the float function is unchanged (up to float rounding),
/// and both layers' ranges for channel c become √(r1·r2): a channel with tiny weights in one
/// layer no longer wastes the int8 grid of the other. Pairs: CONV_2D, DEPTHWISE_CONV_2D or
/// FULLY_CONNECTED with no activation or RELU (RELU6 clips at a fixed 6, which scaling
/// would move), then through single-reader MAX_POOL_2D / AVERAGE_POOL_2D (no or RELU
/// activation) and, before a FULLY_CONNECTED, a RESHAPE that flattens NHWC, into a
/// CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED that reads the tensor as input 0. Weights
/// used elsewhere, graph outputs and tensors with several readers end a chain. Pairs are
/// equalized in op order, `sweeps` times over (the paper iterates to convergence; a few
/// sweeps get there on these chains).
package enum CrossLayerEqualization {
    package static let sweeps = 4

    /// The model with equalized weights and the number of pairs equalized.
    package static func apply(_ model: Model) -> (model: Model, pairs: Int) {
        guard !model.subgraphs.isEmpty else { return (model, 0) }
        var m = model
        let pairs = chains(m)
        guard !pairs.isEmpty else { return (model, 0) }
        for _ in 0..<sweeps {
            for p in pairs { equalize(&m, p) }
        }
        return (m, pairs.count)
    }

    struct Pair {
        var first: Int
        var second: Int
        var channels: Int
    }

    /// CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED: the ops with a weights operand in the table.
    static func isWeighted(_ kind: OpKind) -> Bool { OperatorTable.weights(of: kind) != nil }

    static func isFullyConnected(_ kind: OpKind) -> Bool { OperatorTable.weights(of: kind)?.layout == .oi }

    /// Pools act on each channel alone and commute with a positive per-channel scale.
    static func isPool(_ kind: OpKind) -> Bool {
        if case .maxPool2D = kind { return true }
        if case .averagePool2D = kind { return true }
        return false
    }

    static func isReshape(_ kind: OpKind) -> Bool {
        if case .reshape = kind { return true }
        return false
    }

    static func activationAllowsScaling(_ op: Op) -> Bool {
        guard let field = OperatorTable[op.builtinOperator]?.activation else { return true }
        let a = field.get(op.kind)
        return a == nil || a == ActivationFunction.none || a == .relu
    }

    static func chains(_ model: Model) -> [Pair] {
        let g = model.subgraphs[0]
        var readers: [Int32: [Int]] = [:]
        var uses: [Int32: Int] = [:]
        for (i, op) in g.ops.enumerated() where !op.isErased {
            for v in op.inputs where !v.isAbsent {
                readers[v.raw, default: []].append(i)
                uses[v.raw, default: 0] += 1
            }
        }
        let outputs = Set(g.outputs.map(\.raw))

        func ownFloatConstant(_ v: ValueID?) -> Bool {
            guard let v, v.index < g.values.count, uses[v.raw] == 1 else { return false }
            return g[v].dtype == .float32 && model.constant(v) != nil
        }
        var out: [Pair] = []
        for (i, op) in g.ops.enumerated() where !op.isErased && isWeighted(op.kind) && activationAllowsScaling(op) {
            guard op.outputs.count == 1, ownFloatConstant(op.input(1)), op.input(2).map({ ownFloatConstant($0) }) ?? true,
                  let w = model.constant(op.inputs[1]), let channels = outputChannels(op, w),
                  g[op.outputs[0]].shape.last.map(Int.init) == channels else { continue }
            var v = op.outputs[0]
            var flattened = false
            var next: Int?
            while true {
                guard !outputs.contains(v.raw), g[v].dtype == .float32, let r = readers[v.raw], r.count == 1, uses[v.raw] == 1 else { break }
                let reader = g.ops[r[0]]
                if isPool(reader.kind) {
                    guard !flattened, activationAllowsScaling(reader), reader.outputs.count == 1 else { break }
                    v = reader.outputs[0]
                } else if isReshape(reader.kind) {
                    // Only a flatten of NHWC channels-last: unit j of the result is channel j mod C.
                    guard let flat = reader.outputs.first.map({ g[$0].shape }), flat.count == 2, g[v].shape.last.map(Int.init) == channels,
                          reader.input(0) == v, reader.outputs.count == 1 else { break }
                    flattened = true
                    v = reader.outputs[0]
                } else {
                    if isWeighted(reader.kind), reader.input(0) == v, !flattened || isFullyConnected(reader.kind) { next = r[0] }
                    break
                }
            }
            guard let j = next else { continue }
            let second = g.ops[j]
            guard ownFloatConstant(second.input(1)), let w2 = model.constant(second.inputs[1]),
                  FoldInputScale.inputChannelOf(w2, reader: second.kind, channels: channels) != nil else { continue }
            out.append(Pair(first: i, second: j, channels: channels))
        }
        return out
    }

    /// Output channels of a weighted op whose output channel is its output's last dimension.
    static func outputChannels(_ op: Op, _ w: ConstantTensor) -> Int? {
        guard let layout = OperatorTable.weights(of: op.kind)?.layout, w.type.dtype == .float32 else { return nil }
        switch layout {
        case .ohwi, .oi: return w.shape.first.map(Int.init)
        case .oneHWO: return w.shape.last.map(Int.init)
        default: return nil
        }
    }

    static func equalize(_ m: inout Model, _ p: Pair) {
        let g = m.subgraphs[0]
        let op1 = g.ops[p.first], op2 = g.ops[p.second]
        guard let w1 = m.constant(op1.inputs[1]), let w2 = m.constant(op2.inputs[1]),
              let layout = OperatorTable.weights(of: op1.kind)?.layout,
              let channelOf = FoldInputScale.inputChannelOf(w2, reader: op2.kind, channels: p.channels) else { return }
        let c = p.channels
        let values1 = w1.floats, values2 = w2.floats
        // Output channel of each element of W1.
        let outputOf: (Int) -> Int = layout == .oneHWO ? { $0 % c } : { $0 / Swift.max(values1.count / c, 1) }
        var r1 = [Float](repeating: 0, count: c), r2 = [Float](repeating: 0, count: c)
        for (i, x) in values1.enumerated() where x.isFinite { r1[outputOf(i)] = Swift.max(r1[outputOf(i)], abs(x)) }
        for (i, x) in values2.enumerated() where x.isFinite { r2[channelOf(i)] = Swift.max(r2[channelOf(i)], abs(x)) }
        var s = [Float](repeating: 1, count: c)
        for k in 0..<c where r1[k] > 0 && r2[k] > 0 {
            let v = Float((Double(r1[k]) * Double(r2[k])).squareRoot() / Double(r2[k]))
            if v.isFinite && v > 0 { s[k] = v }
        }
        guard s.contains(where: { $0 != 1 }) else { return }
        var scaled1 = values1
        for i in scaled1.indices { scaled1[i] /= s[outputOf(i)] }
        var t1 = ConstantTensor(floats: scaled1, shape: w1.shape)
        t1.layout = w1.layout
        m.setConstant(op1.inputs[1], t1)
        if let b = op1.input(2), let bias = m.constant(b), bias.elementCount == c {
            var values = bias.floats
            for k in 0..<c { values[k] /= s[k] }
            m.setConstant(b, ConstantTensor(floats: values, shape: bias.shape))
        }
        var scaled2 = values2
        for i in scaled2.indices { scaled2[i] *= s[channelOf(i)] }
        var t2 = ConstantTensor(floats: scaled2, shape: w2.shape)
        t2.layout = w2.layout
        m.setConstant(op2.inputs[1], t2)
    }
}
