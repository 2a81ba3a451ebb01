import Support

// PReLU and ELU (keras/src/layers/activations/prelu.py, elu.py; keras.activations.elu).
extension KerasGraphBuilder {
    /// PReLU: max(x, 0) + alpha ⊙ min(x, 0), alpha a learned weight of the input's non-batch
    /// shape with 1 on the `shared_axes`. Written with RELU, MINIMUM, MUL and ADD, which equal
    /// Keras's `relu(x) − alpha·relu(−x)` exactly and run on every runtime and in int8.
    mutating func lowerPReLU(_ inputs: [String]) throws -> String {
        let x = try single(inputs)
        let xs = shape(x)
        var alphaShape = Array(xs.dropFirst())
        if let v = option("shared_axes") {
            let list = v.intValue.map { [$0] } ?? v.arrayValue?.compactMap(\.intValue) ?? []
            guard !list.isEmpty, list.count == (v.arrayValue?.count ?? 1) else { throw fail("option 'shared_axes' \(v.rendered(indent: nil)) must be a list of axes") }
            for a in list {
                let axis = a < 0 ? a + xs.count : a
                guard axis >= 1, axis < xs.count else { throw fail("shared axis \(a) is not a non-batch axis of \(shapeText(xs))") }
                alphaShape[axis - 1] = 1
            }
        }
        let alpha = try weights([alphaShape])[0]
        let positive = emit("Relu", "positive", [x], shape: xs)
        let negative = emit("Minimum", "negative", [x, constant([0], shape: [], "zero")], shape: xs)
        let scaled = binary("Mul", negative, constant(alpha.values, shape: [1] + alphaShape, "alpha"), "scaled")
        return binary("AddV2", positive, scaled, "prelu")
    }

    /// ELU: x for x > 0, alpha·(eᕽ − 1) otherwise. TFLite's ELU has alpha 1; another alpha is
    /// relu(x) + alpha·elu(min(x, 0)), which is the same function.
    mutating func lowerELU(_ inputs: [String]) throws -> String {
        let x = try single(inputs)
        let alpha = try double("alpha", default: 1)
        return elu(x, alpha: Float(alpha), "elu")
    }

    mutating func elu(_ x: String, alpha: Float, _ key: String) -> String {
        let xs = shape(x)
        guard alpha != 1 else { return emit("Elu", key, [x], shape: xs) }
        let negative = emit("Minimum", "\(key)/negative", [x, constant([0], shape: [], "\(key)/zero")], shape: xs)
        let exponential = emit("Elu", "\(key)/elu", [negative], shape: xs)
        let scaled = emit("Mul", "\(key)/scaled", [exponential, constant([alpha], shape: [], "\(key)/alpha")], shape: xs)
        return emit("AddV2", key, [emit("Relu", "\(key)/positive", [x], shape: xs), scaled], shape: xs)
    }
}
