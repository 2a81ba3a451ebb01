import IR

/// What `fold-shapes` shows an op's shape-arithmetic evaluator (`OperatorDefinition.shapeArithmetic`):
/// the op, its inputs' values, and its inputs as integer constants.
package struct ShapeOperands {
    package let op: Op
    /// Input `k`'s value, nil when the input is absent or out of range.
    package let value: (Int) -> Value?
    /// Input `k` as an int32/int64 constant without quantization, nil otherwise.
    package let constant: (Int) -> IntTensor?

    package init(op: Op, value: @escaping (Int) -> Value?, constant: @escaping (Int) -> IntTensor?) {
        self.op = op
        self.value = value
        self.constant = constant
    }

    /// Every input as a constant; nil when one is not, or there are none.
    package func allConstants() -> [IntTensor]? {
        var xs: [IntTensor] = []
        for k in op.inputs.indices {
            guard let x = constant(k) else { return nil }
            xs.append(x)
        }
        return xs.isEmpty ? nil : xs
    }

    /// Input `k` as a constant 1-D vector.
    package func vector(_ k: Int) -> [Int64]? {
        guard let t = constant(k), t.shape.count == 1 else { return nil }
        return t.values
    }

    /// An elementwise binary op on its two constant inputs, with broadcasting.
    package func elementwise(_ f: (Int64, Int64) -> Int64?) -> IntTensor? {
        guard op.inputs.count == 2, let x = constant(0), let y = constant(1) else { return nil }
        return ShapeArithmetic.broadcast(x, y, f)
    }

    /// RESHAPE's requested shape: the constant shape input when there is a 1-D one, else the
    /// legacy ReshapeOptions.new_shape (as TFLite's reshape kernel chooses).
    package func reshapeRequest(newShape: [Int32]?) -> [Int64]? {
        if value(1) != nil {
            guard let t = constant(1), t.shape.count == 1 else { return nil }
            return t.values
        }
        return newShape.map { $0.map(Int64.init) }
    }
}
