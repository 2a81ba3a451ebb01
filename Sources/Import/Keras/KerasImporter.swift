import FlatBuffers
import IR
import Kernels
import Support

/// Reads Keras model files without TensorFlow: Keras 3 `.keras` archives (a zip holding
/// config.json and model.weights.h5) and `.h5` files saved by Keras 3 or Keras 2 (tf.keras),
/// whose root has a `model_config` JSON attribute and whose weights sit under
/// `model_weights/<layer>/` as named by each layer group's `weight_names` attribute. The layer
/// graph becomes a TF GraphDef (`KerasGraphBuilder`), lowered like a frozen graph; the caller
/// runs `ImportPipeline` on the result, as for GraphDefs.
public enum KerasImporter {
    public static func load(path: String) throws -> Model {
        let storage = try ByteStorage.map(path: path)
        // The mapping must outlive the copy: `bytes` does not retain its storage.
        let bytes = withExtendedLifetime(storage) { [UInt8](storage.bytes) }
        return try load(bytes: bytes, path: path)
    }

    /// Reads a .keras or .h5 file's bytes; `path` names it in messages.
    public static func load(bytes: [UInt8], path: String) throws -> Model {
        if bytes.starts(with: [0x50, 0x4b, 0x03, 0x04]) { return try loadArchive(bytes, path: path) }
        // libhdf5 runs where HDF5Reader.mode says (the CLI: in a child process).
        return try load(snapshot: HDF5Reader.snapshot(image: bytes, path: path), path: path)
    }

    /// A Keras .h5 file already read into a snapshot.
    package static func load(snapshot file: HDF5Snapshot, path: String) throws -> Model {
        guard let config = try file.strings(attribute: "model_config", of: ".")?.first else {
            throw KerasImportError.file(path: path, message: "the HDF5 file has no model_config attribute, so it holds weights only (model.save_weights): save the whole model with model.save(\"m.keras\")")
        }
        return try build(config: Array(config.utf8), path: path) { _ in .legacy(file) }
    }

    /// A Keras 3 archive: config.json plus model.weights.h5 (keras/src/saving/saving_lib.py).
    static func loadArchive(_ bytes: [UInt8], path: String) throws -> Model {
        let entries: [Zip.Entry]
        do { entries = try Zip.entries(bytes, path: path) } catch let e as NpyError { throw KerasImportError.file(path: path, message: "not a readable zip archive: \(e.message)") }
        func member(_ name: String) throws -> [UInt8] {
            guard let entry = entries.first(where: { $0.name == name }) else {
                throw KerasImportError.file(path: path, message: "the archive has no \(name), so it is not a Keras 3 model file")
            }
            do { return try Zip.contents(of: entry, in: bytes, path: path) } catch let e as NpyError { throw KerasImportError.file(path: path, message: "\(name): \(e.message)") }
        }
        let config = try member("config.json")
        let weights = try member("model.weights.h5")
        let file = try HDF5Reader.snapshot(image: weights, path: "\(path)[model.weights.h5]")
        return try build(config: config, path: path) { graph in .archive(file, layers: graph.layers) }
    }

    /// Keras 3 saving_lib layout: `group` (layers/<name>) holds vars/0…n; a recurrent layer keeps
    /// its weights in its cell (cell/vars), a TimeDistributed layer in its wrapped layer (layer/vars).
    static func archiveWeights(_ file: HDF5Snapshot, group: String) throws -> [KerasWeight] {
        // Bidirectional: the forward layer's weights, then the backward layer's.
        if file.isGroup("\(group)/forward_layer") {
            return try archiveWeights(file, base: "\(group)/forward_layer/cell/vars") + archiveWeights(file, base: "\(group)/backward_layer/cell/vars")
        }
        for base in ["\(group)/vars", "\(group)/cell/vars", "\(group)/layer/vars", "\(group)/layer/cell/vars"] where file.isDataset("\(base)/0") {
            return try archiveWeights(file, base: base)
        }
        return []
    }

    /// The datasets base/0, base/1, … .
    static func archiveWeights(_ file: HDF5Snapshot, base: String) throws -> [KerasWeight] {
        var out: [KerasWeight] = []
        while file.isDataset("\(base)/\(out.count)") {
            let (shape, values) = try file.floats("\(base)/\(out.count)")
            out.append(KerasWeight(shape: shape, values: values))
        }
        return out
    }

    /// Legacy .h5 layout (keras/src/legacy/saving/legacy_h5_format.py, tf_keras hdf5_format.py):
    /// model_weights/<layer> has `weight_names`, each the path of a dataset inside that group.
    static func legacyWeights(_ file: HDF5Snapshot, layer: String) throws -> [KerasWeight] {
        let group = "model_weights/\(layer)"
        guard file.isGroup(group) else { return [] }
        return try (file.strings(attribute: "weight_names", of: group) ?? []).map { name in
            let (shape, values) = try file.floats("\(group)/\(name)")
            return KerasWeight(shape: shape, values: values)
        }
    }

    /// The group of each layer in a .keras weights file. saving_lib names a model's layers not by
    /// their names but by their class in snake case, numbered per class in layer order
    /// (`_save_container_state`: dense, dense_1, …; `naming.to_snake_case`: ReLU → re_lu).
    static func archiveGroups(_ layers: [KerasLayerConfig]) -> [String: String] {
        var used: [String: Int] = [:]
        var groups: [String: String] = [:]
        for layer in layers {
            let base = snakeCase(layer.className)
            let k = used[base].map { $0 + 1 } ?? 0
            used[base] = k
            groups[layer.name] = k == 0 ? base : "\(base)_\(k)"
        }
        return groups
    }

    /// Keras's to_snake_case: drop non-word characters, "_" before an upper-case letter that
    /// starts a capitalised word (after any character) and between a lower-case letter and an
    /// upper-case one, then lower-case everything.
    static func snakeCase(_ name: String) -> String {
        let c = Array(name.unicodeScalars.filter { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" })
        func isUpper(_ s: Unicode.Scalar) -> Bool { ("A"..."Z").contains(s) }
        func isLower(_ s: Unicode.Scalar) -> Bool { ("a"..."z").contains(s) }
        var pass1: [Unicode.Scalar] = []
        for (i, s) in c.enumerated() {
            if i > 0, isUpper(s), i + 1 < c.count, isLower(c[i + 1]) { pass1.append("_") }
            pass1.append(s)
        }
        var out = ""
        for (i, s) in pass1.enumerated() {
            if i > 0, isUpper(s), isLower(pass1[i - 1]) { out += "_" }
            out.unicodeScalars.append(s)
        }
        return out.lowercased()
    }

    /// Builds the model from its config and the file's weights.
    static func build(config: [UInt8], path: String, weights source: (KerasModelConfig) -> KerasWeightSource) throws -> Model {
        let json: JSON
        do { json = try JSON.parse(config) } catch let e as JSONParseError { throw KerasImportError.file(path: path, message: "model config: \(e)") }
        let graph = try KerasModelConfig(json, path: path)
        let lowering = try KerasModelLowering(path: path, graph: graph, source: source(graph))
        let loaders = lowering.loaders
        var builder = KerasGraphBuilder(path: path) { name in try loaders[name]?() ?? [] }
        var placeholders: [String] = []
        let outputs = try lowering.lower(graph, prefix: "", bound: nil, into: &builder, placeholders: &placeholders)
        let inputs = try graph.inputs.map { ref in
            guard ref.node == 0, ref.tensor == 0, let k = graph.layers.filter({ $0.className == "InputLayer" }).firstIndex(where: { $0.name == ref.layer }) else {
                throw KerasImportError.file(path: path, message: "model config: the model input \(ref) is not one of its InputLayers")
            }
            return placeholders[k]
        }
        guard Set(inputs) == Set(placeholders) else {
            throw KerasImportError.file(path: path, message: "model config: the model inputs do not match its InputLayers")
        }
        let options = GraphDefImportOptions(
            inputs: inputs.map { .init(tensor: TFTensorRef(node: $0), origin: "Keras input '\($0)'") },
            outputs: outputs.map { .init(tensor: TFTensorRef(node: $0), origin: "Keras output '\($0)'") })
        var model = try GraphDefImporter.importGraph(TFGraphDef(nodes: builder.nodes), options: options)
        model.description = "Converted by tfrewrite \(TFRewriteVersion.string) from a Keras model"
        return model
    }
}

extension KerasGraphBuilder {
    /// An InputLayer: a float32 Placeholder of its batch shape with batch 1.
    mutating func inputPlaceholder() throws -> String {
        guard let dims = (option("batch_shape") ?? option("batch_input_shape"))?.arrayValue, dims.count >= 2 else {
            throw fail("has no batch_shape")
        }
        let dtype = option("dtype").flatMap { $0.stringValue ?? $0["config"]?["name"]?.stringValue } ?? "float32"
        guard dtype == "float32" || dtype == "int32" else { throw fail("input dtype \(dtype) is not supported (float32, int32)") }
        var shape = [1]
        for d in dims.dropFirst() {
            guard let n = d.intValue, n >= 1, n <= 1 << 24 else {
                throw fail("input shape \(JSON.array(dims).rendered(indent: nil)) has an unknown or unusable dimension: give keras.Input a fixed shape")
            }
            shape.append(n)
        }
        guard MemoryBudget.elementCount(shape).map({ $0 <= 1 << 28 }) ?? false else { throw fail("input shape \(shapeText(shape)) is too large") }
        return placeholder(layer.name, shape: shape, dtype: dtype == "int32" ? .int32 : .float)
    }
}
