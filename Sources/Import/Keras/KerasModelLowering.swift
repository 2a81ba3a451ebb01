import Support

/// Where the layers of one model keep their weights in the file, at any nesting depth: a
/// nested model (a Sequential or Functional model used as a layer) has its own source.
struct KerasWeightSource {
    var weights: (KerasLayerConfig) throws -> [KerasWeight]
    var nested: (KerasLayerConfig, KerasModelConfig) -> KerasWeightSource

    /// .keras (saving_lib): layers/<group>/…, a nested model's layers under
    /// layers/<group>/layers/<inner group>/… with groups named per model level.
    static func archive(_ file: HDF5Snapshot, prefix: String = "layers/", layers: [KerasLayerConfig]) -> KerasWeightSource {
        let groups = KerasImporter.archiveGroups(layers)
        return KerasWeightSource(
            weights: { layer in try KerasImporter.archiveWeights(file, group: prefix + (groups[layer.name] ?? layer.name)) },
            nested: { layer, inner in archive(file, prefix: "\(prefix)\(groups[layer.name] ?? layer.name)/layers/", layers: inner.layers) })
    }

    /// .h5 (legacy_h5_format): model_weights/<layer>/ with `weight_names`. A nested model's
    /// group lists all of its layers' weights, each name holding the inner layer's name as a
    /// path component (Keras 3: `sequential/dense/kernel`, `dense_5/kernel`; Keras 2:
    /// `dense_5/kernel:0`).
    static func legacy(_ file: HDF5Snapshot) -> KerasWeightSource {
        KerasWeightSource(
            weights: { layer in try KerasImporter.legacyWeights(file, layer: layer.name) },
            nested: { model, _ in legacyNested(file, group: "model_weights/\(model.name)") })
    }

    private static func legacyNested(_ file: HDF5Snapshot, group: String) -> KerasWeightSource {
        KerasWeightSource(
            weights: { layer in
                guard file.isGroup(group) else { return [] }
                return try (file.strings(attribute: "weight_names", of: group) ?? []).filter { $0.split(separator: "/").contains { $0 == layer.name } }.map { name in
                    let (shape, values) = try file.floats("\(group)/\(name)")
                    return KerasWeight(shape: shape, values: values)
                }
            },
            nested: { _, _ in legacyNested(file, group: group) })
    }
}

/// Lowers a model config into a builder: the layers' calls in an order that has every input
/// ready (a shared layer's later call may read layers listed after it), nested models inlined
/// with their layers named `<model>/<layer>`, and each layer's outputs (several for a
/// recurrent layer with return_state) kept by [layer, call, output].
struct KerasModelLowering {
    let path: String
    /// Weight loaders by the layer's full name (`outer/inner` inside nested models).
    private(set) var loaders: [String: () throws -> [KerasWeight]] = [:]
    /// Nested model configs by their full name.
    private var nestedModels: [String: KerasModelConfig] = [:]

    init(path: String, graph: KerasModelConfig, source: KerasWeightSource) throws {
        self.path = path
        try register(graph, prefix: "", source: source, depth: 0)
    }

    static func isModel(_ layer: KerasLayerConfig) -> Bool { ["Sequential", "Functional", "Model"].contains(layer.className) }

    private mutating func register(_ graph: KerasModelConfig, prefix: String, source: KerasWeightSource, depth: Int) throws {
        guard depth < 16 else { throw KerasImportError.file(path: path, message: "model config: models nest deeper than 16 levels") }
        for layer in graph.layers {
            let full = prefix + layer.name
            if Self.isModel(layer) {
                let inner: KerasModelConfig
                do { inner = try KerasModelConfig(.object([("class_name", .string(layer.className)), ("config", layer.config)]), path: path) } catch let e as KerasImportError {
                    throw KerasImportError.layer(path: path, layer: full, className: layer.className, message: "nested model: \(e)")
                }
                nestedModels[full] = inner
                try register(inner, prefix: full + "/", source: source.nested(layer, inner), depth: depth + 1)
            } else {
                loaders[full] = { try source.weights(layer) }
            }
        }
    }

    /// The model's output tensors; `bound` gives its inputs' tensors (a nested model's call),
    /// nil makes a placeholder of each InputLayer (the top level), listed in `placeholders`.
    func lower(_ graph: KerasModelConfig, prefix: String, bound: [String]?, into builder: inout KerasGraphBuilder, placeholders: inout [String]) throws -> [String] {
        var tensors: [KerasTensorRef: String] = [:]
        for layer in graph.layers where layer.className == "InputLayer" {
            let ref = KerasTensorRef(layer: layer.name, node: 0, tensor: 0)
            if let bound {
                guard let k = graph.inputs.firstIndex(of: ref), k < bound.count else {
                    throw KerasImportError.layer(path: path, layer: prefix + layer.name, className: "InputLayer", message: "is not an input of its model, or the model is called on \(bound.count) tensors")
                }
                tensors[ref] = bound[k]
            } else {
                builder.layer = layer
                let placeholder = try builder.inputPlaceholder()
                placeholders.append(placeholder)
                tensors[ref] = placeholder
            }
        }
        if let bound, bound.count != graph.inputs.count {
            throw KerasImportError.file(path: path, message: "model config: nested model '\(prefix.dropLast())' has \(graph.inputs.count) inputs but is called on \(bound.count)")
        }
        var pending: [(layer: KerasLayerConfig, call: Int)] = []
        for layer in graph.layers where layer.className != "InputLayer" {
            pending += layer.calls.indices.map { (layer, $0) }
        }
        while !pending.isEmpty {
            var waiting: [(layer: KerasLayerConfig, call: Int)] = []
            for item in pending {
                let refs = item.layer.calls[item.call]
                guard refs.allSatisfy({ tensors[$0] != nil }) else {
                    waiting.append(item)
                    continue
                }
                let outputs = try lowerCall(item.layer, inputs: refs.map { tensors[$0]! }, prefix: prefix, into: &builder)
                for (k, output) in outputs.enumerated() { tensors[KerasTensorRef(layer: item.layer.name, node: item.call, tensor: k)] = output }
            }
            if waiting.count == pending.count {
                let (layer, call) = (waiting[0].layer, waiting[0].call)
                let missing = layer.calls[call].first { tensors[$0] == nil }!
                let known = graph.layers.contains { $0.name == missing.layer }
                let why = known ? "call \(missing.node), output \(missing.tensor) of layer '\(missing.layer)', which it does not have" : "layer '\(missing.layer)', which the model does not define"
                throw KerasImportError.layer(path: path, layer: prefix + layer.name, className: layer.className, message: "reads \(why)")
            }
            pending = waiting
        }
        return try graph.outputs.map { ref in
            guard let t = tensors[ref] else {
                throw KerasImportError.file(path: path, message: "model config: \(prefix.isEmpty ? "the model's" : "nested model '\(prefix.dropLast())''s") output \(ref) is not computed by any layer")
            }
            return t
        }
    }

    private func lowerCall(_ layer: KerasLayerConfig, inputs: [String], prefix: String, into builder: inout KerasGraphBuilder) throws -> [String] {
        let full = prefix + layer.name
        if let inner = nestedModels[full] {
            var unused: [String] = []
            return try lower(inner, prefix: full + "/", bound: inputs, into: &builder, placeholders: &unused)
        }
        builder.layer = layer
        builder.layer.name = full
        builder.layer.className = KerasGraphBuilder.canonicalClassName(layer.className)
        guard let lowering = KerasGraphBuilder.lowerings[builder.layer.className] else {
            throw KerasImportError.unsupportedLayer(path: path, layer: full, className: layer.className)
        }
        builder.extraOutputs = []
        let output = try lowering(&builder, inputs)
        defer { builder.extraOutputs = [] }
        return [output] + builder.extraOutputs
    }
}
