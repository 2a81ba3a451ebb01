import Support

// Dense, activations, shape layers, merging and normalization layers, as Keras 3 computes them
// (keras/src/layers/core, …/activations, …/reshaping, …/merging, …/normalization,
// …/preprocessing).
extension KerasGraphBuilder {
    /// Axis option (an int, or a one-element list) as a non-negative axis of a rank-`rank` input.
    package func axis(_ key: String, rank: Int, default d: Int = -1) throws -> Int {
        var a = d
        if let v = option(key) {
            if let i = v.intValue {
                a = i
            } else if let list = v.arrayValue, list.count == 1, let i = list[0].intValue {
                a = i
            } else {
                throw fail("option '\(key)' \(v.rendered(indent: nil)) must be one axis")
            }
        }
        let normalized = a < 0 ? a + rank : a
        guard normalized >= 1, normalized < rank else { throw fail("axis \(a) is not a non-batch axis of a rank-\(rank) input") }
        return normalized
    }

    mutating func lowerDense(_ inputs: [String]) throws -> String {
        let x = try single(inputs)
        let xs = shape(x)
        guard xs.count >= 2, let depth = xs.last else { throw fail("needs an input with a feature dimension, got \(shapeText(xs))") }
        let units = try int("units")
        guard units >= 1 else { throw fail("units \(units) must be positive") }
        let useBias = try bool("use_bias", default: true)
        let w = try weights([[depth, units]] + (useBias ? [[units]] : []))
        // MatMul is 2-D: a [1, …, depth] input is flattened to rows and back, as Keras's
        // tensordot does for inputs of higher rank.
        let rows = xs.dropLast().reduce(1, *)
        let flat = reshape(x, to: [rows, depth], "flatten_rows")
        let y = dense(flat, kernel: w[0], bias: useBias ? w[1] : nil, "matmul")
        return try layerActivation(reshape(y, to: Array(xs.dropLast()) + [units], "unflatten_rows"))
    }

    mutating func lowerReLU(_ inputs: [String]) throws -> String {
        let x = try single(inputs)
        let maxValue = try option("max_value").map { _ in try double("max_value", default: 0) }
        let slope = try double("negative_slope", default: 0)
        let threshold = try double("threshold", default: 0)
        guard threshold == 0 else { throw fail("threshold \(threshold) is not supported (only 0)") }
        switch (maxValue, slope) {
        case (nil, 0): return try activation("relu", x, key: "relu")
        case (6?, 0): return try activation("relu6", x, key: "relu6")
        case (nil, let s) where s > 0 && s <= 1: return leakyRelu(x, slope: Float(s), "leaky_relu")
        default: throw fail("max_value \(maxValue.map { "\($0)" } ?? "None") with negative_slope \(slope) is not supported (ReLU, ReLU(6), or a slope in (0, 1])")
        }
    }

    mutating func lowerLeakyReLU(_ inputs: [String]) throws -> String {
        let x = try single(inputs)
        // Keras 3 calls it negative_slope, Keras 2 alpha; both default to 0.3.
        let slope = try option("negative_slope") != nil ? double("negative_slope", default: 0.3) : double("alpha", default: 0.3)
        guard slope >= 0, slope <= 1 else { throw fail("negative_slope \(slope) outside [0, 1] is not supported") }
        return leakyRelu(x, slope: Float(slope), "leaky_relu")
    }

    mutating func lowerSoftmax(_ inputs: [String]) throws -> String {
        let x = try single(inputs)
        let rank = shape(x).count
        guard try axis("axis", rank: rank) == rank - 1 else { throw fail("softmax over an axis other than the last is not supported") }
        return try activation("softmax", x, key: "softmax")
    }

    mutating func lowerFlatten(_ inputs: [String]) throws -> String {
        let x = try single(inputs)
        let xs = shape(x)
        return reshape(x, to: [xs[0], xs.dropFirst().reduce(1, *)], "flatten")
    }

    mutating func lowerReshape(_ inputs: [String]) throws -> String {
        let x = try single(inputs)
        let xs = shape(x)
        guard let target = option("target_shape")?.arrayValue?.compactMap(\.intValue), target.count == option("target_shape")?.arrayValue?.count else {
            throw fail("option 'target_shape' must be a list of integers")
        }
        let total = xs.dropFirst().reduce(1, *)
        var dims = target
        let known = target.filter { $0 != -1 }
        guard known.allSatisfy({ $0 >= 1 }), target.count - known.count <= 1 else { throw fail("target_shape \(target) is invalid") }
        let product = known.reduce(1, *)
        if let unknown = target.firstIndex(of: -1) {
            guard product > 0, total % product == 0 else { throw fail("cannot reshape \(shapeText(xs)) to \(target)") }
            dims[unknown] = total / product
        }
        guard dims.reduce(1, *) == total else { throw fail("cannot reshape \(shapeText(xs)) to \(target)") }
        return reshape(x, to: [xs[0]] + dims, "reshape")
    }

    mutating func lowerPermute(_ inputs: [String]) throws -> String {
        let x = try single(inputs)
        let xs = shape(x)
        guard let dims = option("dims")?.arrayValue?.compactMap(\.intValue), dims.sorted() == Array(1..<xs.count) else {
            throw fail("option 'dims' must be a permutation of 1…\(xs.count - 1)")
        }
        let perm = [0] + dims
        let p = intConstant(perm, "perm")
        return emit("Transpose", "transpose", [x, p], shape: perm.map { xs[$0] }, attrs: ["Tperm": .type(TFDataType.int32.rawValue)])
    }

    /// A float option that is a number or a list of numbers.
    func floats(_ key: String, default d: Float) throws -> [Float] {
        guard let v = option(key) else { return [d] }
        if let x = v.doubleValue { return [Float(x)] }
        if let a = v.arrayValue, case let list = a.compactMap(\.doubleValue), list.count == a.count, !list.isEmpty { return list.map { Float($0) } }
        throw fail("option '\(key)' must be a number or a list of numbers")
    }

    mutating func lowerRescaling(_ inputs: [String]) throws -> String {
        var y = try single(inputs)
        let scale = try floats("scale", default: 1), offset = try floats("offset", default: 0)
        let channels = shape(y).last ?? 1
        for v in [scale, offset] where v.count != 1 && v.count != channels {
            throw fail("scale/offset lists must have one value per channel (\(channels)), got \(v.count)")
        }
        if scale != [1] { y = emit("Mul", "scale", [y, constant(scale, shape: scale.count == 1 ? [] : [scale.count], "scale/value")], shape: shape(y)) }
        if offset != [0] { y = emit("AddV2", "offset", [y, constant(offset, shape: offset.count == 1 ? [] : [offset.count], "offset/value")], shape: shape(y)) }
        return y
    }

    mutating func lowerNormalization(_ inputs: [String]) throws -> String {
        let x = try single(inputs)
        let xs = shape(x)
        guard !(try bool("invert", default: false)) else { throw fail("invert=true (de-normalization) is not supported") }
        var axes: [Int] = []
        if let v = option("axis") {
            let list = v.intValue.map { [$0] } ?? v.arrayValue?.compactMap(\.intValue) ?? []
            axes = list.map { $0 < 0 ? $0 + xs.count : $0 }
            guard !axes.isEmpty, axes.allSatisfy({ $0 >= 1 && $0 < xs.count }) else { throw fail("axis \(v.rendered(indent: nil)) is not usable for input \(shapeText(xs))") }
        }  // axis None: one mean and variance for all values
        let broadcast = xs.indices.map { axes.contains($0) ? xs[$0] : 1 }
        let count = broadcast.reduce(1, *)
        var mean: [Float], variance: [Float]
        let saved = try weightsOf(layer.name)
        if saved.count == 3 {  // adapted: mean, variance, count
            (mean, variance) = (saved[0].values, saved[1].values)
        } else if saved.isEmpty, let m = option("mean"), let v = option("variance") {
            func list(_ j: JSON) -> [Float] { j.doubleValue.map { [Float($0)] } ?? j.arrayValue?.compactMap(\.doubleValue).map { Float($0) } ?? [] }
            (mean, variance) = (list(m), list(v))
            if mean.count == 1 { mean = Array(repeating: mean[0], count: count) }
            if variance.count == 1 { variance = Array(repeating: variance[0], count: count) }
        } else {
            throw fail("expected the adapted mean, variance and count (3 weight arrays) or mean and variance options, the file has \(saved.count) arrays")
        }
        guard mean.count == count, variance.count == count, variance.allSatisfy({ $0 >= 0 && $0.isFinite }), mean.allSatisfy(\.isFinite) else {
            throw fail("mean and variance must be \(count) finite values (variance ≥ 0) for input \(shapeText(xs)), got \(mean.count) and \(variance.count)")
        }
        // (x − mean) / max(√variance, ε) with Keras's backend epsilon 1e-7, as a multiplication.
        let inverse = variance.map { 1 / max($0.squareRoot(), 1e-7) }
        let centered = emit("Sub", "sub", [x, constant(mean, shape: broadcast, "mean")], shape: xs)
        return emit("Mul", "normalize", [centered, constant(inverse, shape: broadcast, "inverse_stddev")], shape: xs)
    }

    mutating func lowerBatchNormalization(_ inputs: [String]) throws -> String {
        let x = try single(inputs)
        let xs = shape(x)
        guard try axis("axis", rank: xs.count) == xs.count - 1 else { throw fail("only normalization over the last (channel) axis is supported") }
        let channels = xs[xs.count - 1]
        let (scale, center) = (try bool("scale", default: true), try bool("center", default: true))
        let epsilon = try double("epsilon", default: 0.001)
        guard epsilon >= 0 else { throw fail("epsilon \(epsilon) is negative") }
        let w = try weights(Array(repeating: [channels], count: 2 + (scale ? 1 : 0) + (center ? 1 : 0)))
        var k = 0
        func next() -> [Float] { defer { k += 1 }; return w[k].values }
        let gamma = scale ? next() : Array(repeating: 1, count: channels)
        let beta = center ? next() : Array(repeating: 0, count: channels)
        let (mean, variance) = (next(), next())
        guard variance.allSatisfy({ $0 >= 0 }) else { throw fail("the moving variance has negative values") }
        let operands = [x] + [(gamma, "gamma"), (beta, "beta"), (mean, "moving_mean"), (variance, "moving_variance")].map { constant($0.0, shape: [channels], $0.1) }
        return emit("FusedBatchNormV3", "batchnorm", operands, shape: xs, attrs: [
            "epsilon": .f(Float(epsilon)), "is_training": .b(false), "data_format": .s(Array("NHWC".utf8)), "U": .type(TFDataType.float.rawValue),
        ])
    }

    mutating func lowerMerge(_ inputs: [String], op: String) throws -> String {
        guard inputs.count >= 2 else { throw fail("merges at least 2 inputs, is called on \(inputs.count)") }
        guard inputs.dropFirst().allSatisfy({ shape($0) == shape(inputs[0]) }) else {
            throw fail("inputs of different shapes \(inputs.map { shapeText(shape($0)) }.joined(separator: ", ")) are not supported")
        }
        var y = inputs[0]
        for (k, other) in inputs.dropFirst().enumerated() { y = binary(op, y, other, k == inputs.count - 2 ? "merge" : "merge_\(k)") }
        return y
    }

    mutating func lowerAverage(_ inputs: [String]) throws -> String {
        let sum = try lowerMerge(inputs, op: "AddV2")
        return emit("Mul", "average", [sum, constant([1 / Float(inputs.count)], shape: [], "average/scale")], shape: shape(sum))
    }

    mutating func lowerConcatenate(_ inputs: [String]) throws -> String {
        guard inputs.count >= 1 else { throw fail("is called on no input") }
        let xs = shape(inputs[0])
        let a = try axis("axis", rank: xs.count)
        var out = xs
        out[a] = 0
        for i in inputs {
            let s = shape(i)
            guard s.count == xs.count, s.indices.allSatisfy({ $0 == a || s[$0] == xs[$0] }) else {
                throw fail("inputs \(inputs.map { shapeText(shape($0)) }.joined(separator: ", ")) differ outside axis \(a)")
            }
            out[a] += s[a]
        }
        let axisValue = intConstant([a], "axis", shape: [])  // ConcatV2 takes a scalar axis
        return emit("ConcatV2", "concat", inputs + [axisValue], shape: out, attrs: ["N": .i(Int64(inputs.count)), "Tidx": .type(TFDataType.int32.rawValue)])
    }
}
