import Support

// TimeDistributed (keras/src/layers/rnn/time_distributed.py): the wrapped layer applied to
// every time step. The steps become the batch of the wrapped layer ([1, T, …] → [T, …]), as
// Keras's own implementation reshapes them, and the result is put back as [1, T, …].
extension KerasGraphBuilder {
    mutating func lowerTimeDistributed(_ inputs: [String]) throws -> String {
        let outer = layer
        guard let inner = option("layer"), let innerClass = inner["class_name"]?.stringValue, let innerConfig = inner["config"] else {
            throw fail("has no wrapped layer config")
        }
        let className = Self.canonicalClassName(innerClass)
        guard className != "TimeDistributed", let lowering = Self.lowerings[className] else {
            throw fail("wraps \(innerClass), which tfrewrite cannot import (Docs/importing.md lists the Keras layers it reads)")
        }
        let x = try single(inputs)
        let xs = shape(x)
        guard xs.count >= 3, xs[0] == 1 else { throw fail("needs a [1, steps, …] input, got \(shapeText(xs))") }
        let steps = reshape(x, to: Array(xs.dropFirst()), "steps")
        let weights = try innerWeights ?? weightsOf(outer.name)
        layer = KerasLayerConfig(className: className, name: "\(outer.name)/\(innerConfig["name"]?.stringValue ?? "layer")", config: innerConfig, inputs: outer.inputs)
        innerWeights = weights
        let result = Result { try lowering(&self, [steps]) }
        (layer, innerWeights) = (outer, nil)
        let y = try result.get()
        return reshape(y, to: [1] + shape(y), "unsteps")
    }
}
