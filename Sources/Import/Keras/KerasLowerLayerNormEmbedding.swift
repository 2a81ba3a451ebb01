import Support

// LayerNormalization and Embedding (keras/src/layers/normalization/layer_normalization.py,
// keras/src/layers/core/embedding.py).
extension KerasGraphBuilder {
    /// (x − mean) · rsqrt(variance + epsilon) · gamma + beta, the moments taken over `axis`
    /// (keepdims), gamma and beta of the shape of those axes: MEAN, SQUARED_DIFFERENCE, ADD,
    /// RSQRT, SUB, MUL.
    mutating func lowerLayerNormalization(_ inputs: [String]) throws -> String {
        let x = try single(inputs)
        let xs = shape(x)
        var axes: [Int] = [xs.count - 1]
        if let v = option("axis") {
            let list = v.intValue.map { [$0] } ?? v.arrayValue?.compactMap(\.intValue) ?? []
            axes = Array(Set(list.map { $0 < 0 ? $0 + xs.count : $0 })).sorted()
            guard !list.isEmpty, list.count == (v.arrayValue?.count ?? 1), axes.allSatisfy({ $0 >= 1 && $0 < xs.count }) else {
                throw fail("axis \(v.rendered(indent: nil)) is not usable for input \(shapeText(xs))")
            }
        }
        guard !(try bool("rms_scaling", default: false)) else { throw fail("rms_scaling=true is not supported") }
        let (scale, center) = (try bool("scale", default: true), try bool("center", default: true))
        let epsilon = try double("epsilon", default: 0.001)
        guard epsilon >= 0 else { throw fail("epsilon \(epsilon) is negative") }
        let paramShape = axes.map { xs[$0] }
        let w = try weights(Array(repeating: paramShape, count: (scale ? 1 : 0) + (center ? 1 : 0)))
        let broadcast = xs.indices.map { axes.contains($0) ? xs[$0] : 1 }
        let reduced = xs.indices.map { axes.contains($0) ? 1 : xs[$0] }
        let axesValue = intConstant(axes, "axes")
        let meanAttrs: [String: TFAttrValue] = ["keep_dims": .b(true), "Tidx": .type(TFDataType.int32.rawValue)]
        let mean = emit("Mean", "mean", [x, axesValue], shape: reduced, attrs: meanAttrs)
        let squares = emit("SquaredDifference", "squared_difference", [x, mean], shape: xs)
        let variance = emit("Mean", "variance", [squares, axesValue], shape: reduced, attrs: meanAttrs)
        let shifted = emit("AddV2", "variance_epsilon", [variance, constant([Float(epsilon)], shape: [], "epsilon")], shape: reduced)
        let inverse = emit("Rsqrt", "rsqrt", [shifted], shape: reduced)
        var y = binary("Mul", emit("Sub", "centered", [x, mean], shape: xs), inverse, "normalized")
        if scale { y = binary("Mul", y, constant(w[0].values, shape: broadcast, "gamma"), "scaled") }
        if center { y = binary("AddV2", y, constant(w[scale ? 1 : 0].values, shape: broadcast, "beta"), "shifted") }
        return y
    }

    /// Embedding: the rows of the [input_dim, output_dim] table at the input's indices (GATHER).
    /// A float input is cast to int32 first, as Keras does (truncating).
    mutating func lowerEmbedding(_ inputs: [String]) throws -> String {
        let x = try single(inputs)
        let xs = shape(x)
        guard !(try bool("mask_zero", default: false)) else {
            throw fail("mask_zero=true is not supported: the mask changes what the layers after it compute")
        }
        let (rows, width) = (try int("input_dim"), try int("output_dim"))
        guard rows >= 1, width >= 1 else { throw fail("input_dim \(rows) and output_dim \(width) must be positive") }
        let table = try weights([[rows, width]])[0]
        let indices = integerInputs.contains(x) ? x : emit("Cast", "indices", [x], shape: xs, attrs: [
            "SrcT": .type(TFDataType.float.rawValue), "DstT": .type(TFDataType.int32.rawValue), "Truncate": .b(false),
        ])
        let params = constant(table.values, shape: [rows, width], "embeddings")
        return emit("GatherV2", "gather", [params, indices, intConstant([0], "axis", shape: [])], shape: xs + [width], attrs: [
            "Tparams": .type(TFDataType.float.rawValue), "Tindices": .type(TFDataType.int32.rawValue),
            "Taxis": .type(TFDataType.int32.rawValue), "batch_dims": .i(0),
        ])
    }
}
