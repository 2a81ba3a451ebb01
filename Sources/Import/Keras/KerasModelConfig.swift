import Support

/// One output tensor of one call of a layer, as Keras's config names it: `keras_history`
/// [layer, node index, tensor index] (Keras 3) or [layer, node, tensor, kwargs] (Keras 2).
package struct KerasTensorRef: Hashable, Sendable, CustomStringConvertible {
    package var layer: String
    package var node: Int
    package var tensor: Int
    package var description: String { "\(layer)[\(node)][\(tensor)]" }
}

/// A layer of the model config: its class, name, options and the tensors each of its calls
/// reads (a shared layer is called more than once; `inputs` is the first call's).
package struct KerasLayerConfig: Sendable {
    package var className: String
    package var name: String
    package var config: JSON
    package var inputs: [KerasTensorRef]
    package var calls: [[KerasTensorRef]]

    package init(className: String, name: String, config: JSON, inputs: [KerasTensorRef], calls: [[KerasTensorRef]]? = nil) {
        self.className = className
        self.name = name
        self.config = config
        self.inputs = inputs
        self.calls = calls ?? [inputs]
    }
}

/// The layer graph of a Sequential or Functional model config (`config.json` of a .keras file,
/// the `model_config` attribute of an .h5 file), layers in the config's order, which Keras
/// writes topologically.
package struct KerasModelConfig: Sendable {
    package var layers: [KerasLayerConfig]
    package var inputs: [KerasTensorRef]
    package var outputs: [KerasTensorRef]

    /// Reads the top-level `{"class_name": …, "config": …}` object.
    package init(_ json: JSON, path: String) throws {
        func fail(_ m: String) -> KerasImportError { .file(path: path, message: "model config: \(m)") }
        guard let className = json["class_name"]?.stringValue, let config = json["config"] else {
            throw fail("no class_name and config at the top level")
        }
        guard let layerList = config["layers"]?.arrayValue else {
            throw fail("the \(className) model has no layer list (a single layer saved on its own is not a model)")
        }
        var layers: [KerasLayerConfig] = []
        for (k, entry) in layerList.enumerated() {
            guard let cls = entry["class_name"]?.stringValue, let cfg = entry["config"] else { throw fail("layer \(k) has no class_name or config") }
            guard let name = cfg["name"]?.stringValue ?? entry["name"]?.stringValue else { throw fail("layer \(k) (\(cls)) has no name") }
            layers.append(KerasLayerConfig(className: cls, name: name, config: cfg, inputs: []))
        }
        guard Set(layers.map(\.name)).count == layers.count else { throw fail("two layers have the same name") }
        switch className {
        case "Sequential":
            try self.init(sequential: layers, path: path)
        case "Functional", "Model":
            try self.init(functional: layers, entries: layerList, config: config, path: path)
        default:
            throw fail("the top-level model has class \(className); only Sequential and Functional models are read")
        }
    }

    private init(sequential list: [KerasLayerConfig], path: String) throws {
        var layers = list
        // Keras 2 Sequential configs may start without an InputLayer: the first layer carries the
        // input's batch_input_shape; a synthetic InputLayer takes it over.
        if layers.first?.className != "InputLayer" {
            guard let first = layers.first, let shape = first.config["batch_input_shape"] ?? first.config["batch_shape"] else {
                throw KerasImportError.file(path: path, message: "model config: the Sequential model has no InputLayer and its first layer no input shape: build it with keras.Input(shape) first")
            }
            layers.insert(KerasLayerConfig(className: "InputLayer", name: "\(first.name)_input", config: .object([("batch_shape", shape)]), inputs: []), at: 0)
        }
        for k in layers.indices.dropFirst() {
            guard layers[k].className != "InputLayer" else {
                throw KerasImportError.file(path: path, message: "model config: InputLayer '\(layers[k].name)' in the middle of a Sequential model")
            }
            layers[k].inputs = [KerasTensorRef(layer: layers[k - 1].name, node: 0, tensor: 0)]
            layers[k].calls = [layers[k].inputs]
        }
        self.layers = layers
        inputs = [KerasTensorRef(layer: layers[0].name, node: 0, tensor: 0)]
        outputs = [KerasTensorRef(layer: layers[layers.count - 1].name, node: 0, tensor: 0)]
    }

    private init(functional list: [KerasLayerConfig], entries: [JSON], config: JSON, path: String) throws {
        var layers = list
        for k in layers.indices {
            // One entry per call of the layer; a reference's node index counts these calls.
            let calls = entries[k]["inbound_nodes"]?.arrayValue ?? []
            guard calls.count <= 1024 else {
                throw KerasImportError.layer(path: path, layer: layers[k].name, className: layers[k].className, message: "the layer is called \(calls.count) times, more than 1024")
            }
            layers[k].calls = []
            for call in calls {
                var refs: [KerasTensorRef] = []
                if let args = call["args"] {
                    Self.collectTensors(args, into: &refs)  // Keras 3: {"args": [...], "kwargs": {...}}
                } else if let legacy = call.arrayValue {
                    for item in legacy {  // Keras 2: [[layer, node, tensor, kwargs], ...]
                        if let ref = Self.historyRef(item) { refs.append(ref) }
                    }
                }
                guard !refs.isEmpty || layers[k].className == "InputLayer" else {
                    throw KerasImportError.layer(path: path, layer: layers[k].name, className: layers[k].className, message: "the config names no input tensor for its call")
                }
                layers[k].calls.append(refs)
            }
            layers[k].inputs = layers[k].calls.first ?? []
        }
        self.layers = layers
        func refs(_ key: String) throws -> [KerasTensorRef] {
            guard let value = config[key] else { throw KerasImportError.file(path: path, message: "model config: the Functional model has no \(key)") }
            if let single = Self.historyRef(value) { return [single] }
            let list = value.arrayValue?.compactMap(Self.historyRef) ?? []
            guard !list.isEmpty, list.count == value.arrayValue?.count else {
                throw KerasImportError.file(path: path, message: "model config: \(key) is not a list of [layer, node, tensor]")
            }
            return list
        }
        inputs = try refs("input_layers")
        outputs = try refs("output_layers")
    }

    /// [layer, node, tensor(, kwargs)] → a reference; nil for anything else.
    private static func historyRef(_ json: JSON) -> KerasTensorRef? {
        guard let a = json.arrayValue, a.count >= 3, let layer = a[0].stringValue, let node = a[1].intValue, let tensor = a[2].intValue,
            node >= 0, tensor >= 0
        else { return nil }
        return KerasTensorRef(layer: layer, node: node, tensor: tensor)
    }

    /// Every `__keras_tensor__`'s `keras_history` inside a Keras 3 call's arguments, in order.
    private static func collectTensors(_ json: JSON, into refs: inout [KerasTensorRef], depth: Int = 0) {
        guard depth < 64 else { return }
        if json["class_name"]?.stringValue == "__keras_tensor__" {
            if let history = json["config"]?["keras_history"], let ref = historyRef(history) { refs.append(ref) }
            return
        }
        if let a = json.arrayValue {
            for e in a { collectTensors(e, into: &refs, depth: depth + 1) }
        }
    }
}
