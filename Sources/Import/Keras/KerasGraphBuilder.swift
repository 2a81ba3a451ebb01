import Support

/// A weight of a layer as saved: shape and float32 values (row-major).
package struct KerasWeight: Sendable {
    package var shape: [Int]
    package var values: [Float]
}

/// Builds a TensorFlow GraphDef from Keras layers, node by node, the ops Keras's TF backend
/// would run (Dense → MatMul + BiasAdd, Conv2D → Conv2D + BiasAdd, …) with the weights as Const
/// nodes, so the GraphDef lowering and the import pipeline turn it into TFLite builtins exactly
/// as for a frozen graph. The batch dimension is 1; every shape is static and tracked here, so
/// layers can check their weights and options against their input before anything is emitted.
package struct KerasGraphBuilder {
    package let path: String
    package var nodes: [TFNodeDef] = []
    /// Shape of each emitted node's (first) output.
    package var shapes: [String: [Int]] = [:]
    /// The layer being lowered, for messages and node names.
    package var layer = KerasLayerConfig(className: "", name: "", config: .null, inputs: [])
    /// The weights of a layer by name, in the order Keras lists them.
    package let weightsOf: (String) throws -> [KerasWeight]
    /// Set while a wrapper (Bidirectional) lowers its inner layer: that layer's weights.
    package var innerWeights: [KerasWeight]?
    /// Outputs after the first of the layer being lowered (a recurrent layer's return_state).
    package var extraOutputs: [String] = []
    /// Inputs declared int32 (index inputs of an Embedding).
    package var integerInputs: Set<String> = []

    package init(path: String, weights: @escaping (String) throws -> [KerasWeight]) {
        self.path = path
        weightsOf = weights
    }

    // MARK: Messages and options

    package func fail(_ message: String) -> KerasImportError {
        .layer(path: path, layer: layer.name, className: layer.className, message: message)
    }

    package func option(_ key: String) -> JSON? {
        guard let v = layer.config[key], !v.isNull else { return nil }
        return v
    }

    package func int(_ key: String, default d: Int? = nil) throws -> Int {
        guard let v = option(key) else {
            guard let d else { throw fail("option '\(key)' is missing") }
            return d
        }
        guard let i = v.intValue else { throw fail("option '\(key)' must be an integer, got \(v.rendered(indent: nil))") }
        return i
    }

    package func double(_ key: String, default d: Double) throws -> Double {
        guard let v = option(key) else { return d }
        guard let x = v.doubleValue, x.isFinite else { throw fail("option '\(key)' must be a finite number, got \(v.rendered(indent: nil))") }
        return x
    }

    package func bool(_ key: String, default d: Bool) throws -> Bool {
        guard let v = option(key) else { return d }
        guard let b = v.boolValue else { throw fail("option '\(key)' must be true or false") }
        return b
    }

    package func string(_ key: String, default d: String) throws -> String {
        guard let v = option(key) else { return d }
        guard let s = v.stringValue else { throw fail("option '\(key)' must be a string, got \(v.rendered(indent: nil))") }
        return s
    }

    /// An int or a list of `count` ints (kernel_size, strides, …), each at least `minimum`.
    package func ints(_ key: String, count: Int, default d: [Int]? = nil, minimum: Int = 1) throws -> [Int] {
        let values: [Int]
        if let v = option(key) {
            if let i = v.intValue {
                values = Array(repeating: i, count: count)
            } else if let a = v.arrayValue, a.count == count, case let list = a.compactMap(\.intValue), list.count == count {
                values = list
            } else {
                throw fail("option '\(key)' must be an integer or \(count) integers, got \(v.rendered(indent: nil))")
            }
        } else {
            guard let d else { throw fail("option '\(key)' is missing") }
            values = d
        }
        guard values.allSatisfy({ $0 >= minimum && $0 <= 1 << 20 }) else { throw fail("option '\(key)' \(values) is out of range") }
        return values
    }

    /// Keras's data_format must be channels_last (NHWC), the layout TFLite uses.
    package func requireChannelsLast() throws {
        let format = try string("data_format", default: "channels_last")
        guard format == "channels_last" else { throw fail("data_format \(format) is not supported: TFLite works channels_last") }
    }

    /// The layer's weights, checked for count; `expected` gives the shapes they must have.
    package func weights(_ expected: [[Int]]) throws -> [KerasWeight] {
        let w = try innerWeights ?? weightsOf(layer.name)
        guard w.count == expected.count else {
            throw fail("expected \(expected.count) weight arrays \(expected.map { shapeText($0) }.joined(separator: ", ")), the file has \(w.count)")
        }
        for (k, (got, want)) in zip(w, expected).enumerated() where got.shape != want {
            // Keras saves some vectors with leading 1s (Normalization's [1,F]); same element order.
            guard got.shape.reduce(1, *) == want.reduce(1, *), got.shape.filter({ $0 != 1 }) == want.filter({ $0 != 1 }) else {
                throw fail("weight \(k) has shape \(shapeText(got.shape)), expected \(shapeText(want))")
            }
        }
        return zip(w, expected).map { KerasWeight(shape: $1, values: $0.values) }
    }

    package func shape(_ tensor: String) -> [Int] { shapes[tensor] ?? [] }

    // MARK: Emitting nodes

    private func unique(_ base: String) -> String {
        var name = base
        var k = 1
        while shapes[name] != nil {
            name = "\(base)_\(k)"
            k += 1
        }
        return name
    }

    @discardableResult
    package mutating func emit(_ op: String, _ suffix: String, _ inputs: [String], shape: [Int], attrs: [String: TFAttrValue] = [:]) -> String {
        let name = unique("\(layer.name)/\(suffix)")
        var a = attrs
        if op != "Const" && op != "Placeholder" { a["T"] = .type(TFDataType.float.rawValue) }
        nodes.append(TFNodeDef(name: name, op: op, inputs: inputs, attrs: a))
        shapes[name] = shape
        return name
    }

    package mutating func placeholder(_ name: String, shape: [Int], dtype: TFDataType = .float) -> String {
        let node = unique(name)
        if dtype == .int32 { integerInputs.insert(node) }
        nodes.append(TFNodeDef(name: node, op: "Placeholder", attrs: [
            "dtype": .type(dtype.rawValue), "shape": .shape(TFTensorShape(dims: shape.map(Int64.init))),
        ]))
        shapes[node] = shape
        return node
    }

    package mutating func constant(_ values: [Float], shape: [Int], _ suffix: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        let tensor = TFTensor(dtype: TFDataType.float.rawValue, shape: TFTensorShape(dims: shape.map(Int64.init)), content: bytes)
        return emit("Const", suffix, [], shape: shape, attrs: ["dtype": .type(TFDataType.float.rawValue), "value": .tensor(tensor)])
    }

    /// An int32 Const, a vector unless `shape` says otherwise ([] for a scalar).
    package mutating func intConstant(_ values: [Int], _ suffix: String, shape: [Int]? = nil) -> String {
        let dims = (shape ?? [values.count]).map(Int64.init)
        let tensor = TFTensor(dtype: TFDataType.int32.rawValue, shape: TFTensorShape(dims: dims), intVal: values.map { Int32(truncatingIfNeeded: $0) })
        return emit("Const", suffix, [], shape: dims.map { Int($0) }, attrs: ["dtype": .type(TFDataType.int32.rawValue), "value": .tensor(tensor)])
    }

    package mutating func reshape(_ x: String, to shape: [Int], _ suffix: String = "reshape") -> String {
        guard self.shape(x) != shape else { return x }
        let target = intConstant(shape, "\(suffix)/shape")
        return emit("Reshape", suffix, [x, target], shape: shape, attrs: ["Tshape": .type(TFDataType.int32.rawValue)])
    }

    package mutating func binary(_ op: String, _ a: String, _ b: String, _ suffix: String) -> String {
        let (sa, sb) = (shape(a), shape(b))
        // Numpy broadcasting of the two static shapes.
        let rank = max(sa.count, sb.count)
        let pa = Array(repeating: 1, count: rank - sa.count) + sa, pb = Array(repeating: 1, count: rank - sb.count) + sb
        return emit(op, suffix, [a, b], shape: zip(pa, pb).map { max($0, $1) })
    }

    /// y = x·W + b for a 2-D x [rows, in] and kernel [in, out].
    package mutating func dense(_ x: String, kernel: KerasWeight, bias: KerasWeight?, _ suffix: String) -> String {
        let w = constant(kernel.values, shape: kernel.shape, "\(suffix)/kernel")
        var y = emit("MatMul", suffix, [x, w], shape: [shape(x)[0], kernel.shape[1]], attrs: ["transpose_a": .b(false), "transpose_b": .b(false)])
        if let bias {
            let b = constant(bias.values, shape: bias.shape, "\(suffix)/bias")
            y = emit("BiasAdd", "\(suffix)/bias_add", [y, b], shape: shape(y), attrs: ["data_format": .s(Array("NHWC".utf8))])
        }
        return y
    }

    /// A Keras activation by name ("relu", "softmax", …; "linear"/nil leave x as it is).
    package mutating func activation(_ name: String?, _ x: String, key: String = "activation") throws -> String {
        switch name ?? "linear" {
        case "linear": return x
        case "relu": return emit("Relu", key, [x], shape: shape(x))
        case "relu6": return emit("Relu6", key, [x], shape: shape(x))
        case "sigmoid": return emit("Sigmoid", key, [x], shape: shape(x))
        case "tanh": return emit("Tanh", key, [x], shape: shape(x))
        case "softmax":
            guard shape(x).count >= 2 else { throw fail("softmax needs an input with a batch and a class dimension") }
            return emit("Softmax", key, [x], shape: shape(x))
        case "silu", "swish":
            let s = emit("Sigmoid", "\(key)/sigmoid", [x], shape: shape(x))
            return emit("Mul", key, [x, s], shape: shape(x))
        case "leaky_relu":
            return leakyRelu(x, slope: 0.2, key)  // keras.activations.leaky_relu's default slope
        case "elu":
            return elu(x, alpha: 1, key)
        case let other:
            throw fail("activation '\(other)' is not supported (linear, relu, relu6, sigmoid, tanh, softmax, silu/swish, leaky_relu, elu)")
        }
    }

    /// max(x, slope·x), which is leaky ReLU for 0 ≤ slope ≤ 1.
    package mutating func leakyRelu(_ x: String, slope: Float, _ key: String) -> String {
        let s = constant([slope], shape: [], "\(key)/slope")
        let scaled = emit("Mul", "\(key)/scaled", [x, s], shape: shape(x))
        return emit("Maximum", key, [x, scaled], shape: shape(x))
    }

    /// The activation named by the layer's `activation` option.
    package mutating func layerActivation(_ x: String) throws -> String {
        guard let v = option("activation") else { return x }
        guard let name = v.stringValue else {
            throw fail("activation \(v.rendered(indent: nil)) is not a built-in activation name")
        }
        return try activation(name, x)
    }
}

