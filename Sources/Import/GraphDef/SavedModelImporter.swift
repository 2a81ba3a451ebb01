import FlatBuffers
import Foundation
import IR
import Ops
import Support
import TFProto

/// Reads a SavedModel directory: `saved_model.pb`, the MetaGraphDef tagged "serve", and one
/// signature, whose inputs and outputs ("node:idx" TensorInfo names, TF's meta_graph.proto)
/// become the model's, in key order. A TF2 SavedModel's function calls are inlined
/// (`FunctionInliner`) and its resource variables become constants read from
/// variables/variables.{index,data-*} (`VariableBinding`, `TensorBundle`); the graph is then
/// lowered like a frozen GraphDef. TF1 reference variables (VariableV2) are refused.
public enum SavedModelImporter {
    public static let defaultSignature = "serving_default"
    public static let servingTag = "serve"
    /// TF1 reference-variable ops: their values would need the TF1 Saver's Assign graph, which
    /// is not read; such a SavedModel must be frozen first.
    package static let referenceVariableOps: Set<String> = ["VariableV2", "Variable"]
    /// The checkpoint prefix of a SavedModel (cc/saved_model/constants.h: variables/variables).
    package static let variablesPrefix = "variables/variables"

    /// `directory` holds saved_model.pb. `signature` nil = "serving_default". Explicit
    /// `options` inputs/outputs replace the signature's (the signature is then only checked
    /// to exist when it was asked for).
    public static func load(directory: String, signature: String? = nil, options: GraphDefImportOptions = GraphDefImportOptions()) throws -> Model {
        let pbPath = directory.hasSuffix("/") ? directory + "saved_model.pb" : directory + "/saved_model.pb"
        let storage: ByteStorage
        if !FileManager.default.fileExists(atPath: pbPath) {
            let text = pbPath + "txt"
            throw GraphDefImportError.savedModel(
                path: directory,
                message: FileManager.default.fileExists(atPath: text)
                    ? "has saved_model.pbtxt (text format), which is not read: save the SavedModel in binary form (tf.saved_model.save's default)"
                    : "the directory has no saved_model.pb, so it is not a SavedModel")
        }
        do {
            storage = try ByteStorage.map(path: pbPath)
        } catch {
            throw GraphDefImportError.savedModel(path: directory, message: "cannot read saved_model.pb (\(error))")
        }
        guard storage.count > 0 else { throw GraphDefImportError.savedModel(path: directory, message: "saved_model.pb is empty") }
        let saved = try ProtoDecoding.savedModel(storage.bytes, path: pbPath)
        return try importSavedModel(saved, directory: directory, signature: signature, options: options)
    }

    /// Reads the SavedModel proto in the file `path` itself (whatever its name), never a
    /// sibling: the file the user named is the file converted.
    public static func load(file path: String, signature: String? = nil, options: GraphDefImportOptions = GraphDefImportOptions()) throws -> Model {
        let storage = try ByteStorage.map(path: path)
        guard storage.count > 0 else { throw GraphDefImportError.savedModel(path: path, message: "the file is empty") }
        let saved = try ProtoDecoding.savedModel(storage.bytes, path: path)
        return try importSavedModel(saved, directory: directory(of: path), signature: signature, options: options)
    }

    /// The SavedModel folder a path names: the path itself, or the folder of the file.
    package static func directory(of path: String) -> String {
        if isDirectory(path) { return path }
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return String(path[..<slash])
    }

    package static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The meta graph's graph with function calls inlined and restored variables replaced by
    /// their checkpoint values; unchanged for a constants-only SavedModel.
    package static func resolveFunctionsAndVariables(_ meta: TFMetaGraph, directory: String) throws -> TFGraphDef {
        var graph = meta.graph
        var keys: [String: String] = [:]
        if let objectGraph = meta.objectGraph {
            keys = try VariableBinding.objectGraphKeys(graph, objectGraph: objectGraph, path: directory)
        }
        if graph.nodes.contains(where: { FunctionInliner.callOps.contains($0.op) }) {
            graph = try FunctionInliner.inline(graph, path: directory)
        }
        graph = try WhileUnroller.unroll(graph, library: meta.graph.functions, path: directory)
        guard let handle = graph.nodes.first(where: { $0.op == "VarHandleOp" }) else { return graph }
        if let restoreOp = meta.restoreOp {
            // Only for variables the object graph does not place (TF1-style resource variables).
            keys.merge(try VariableBinding.restoredKeys(graph, restoreOp: restoreOp, path: directory)) { fromObjectGraph, _ in fromObjectGraph }
        } else if keys.isEmpty {
            throw GraphDefImportError.savedModel(
                path: directory,
                message: "the graph has variables (VarHandleOp '\(handle.name)') but neither an object graph nor a saver_def that says where their values are: freeze it first")
        }
        guard !keys.isEmpty else { return graph }
        let prefix = (directory.hasSuffix("/") ? directory : directory + "/") + variablesPrefix
        try VariableBinding.bind(&graph, keys: keys, bundle: try TensorBundle(prefix: prefix))
        return graph
    }

    public static func importSavedModel(_ saved: TFSavedModel, directory: String, signature: String? = nil, options: GraphDefImportOptions = GraphDefImportOptions()) throws -> Model {
        guard let meta = saved.metaGraphs.first(where: { $0.tags.contains(servingTag) }) else {
            let tags = saved.metaGraphs.map { "[" + $0.tags.joined(separator: ",") + "]" }.joined(separator: " ")
            throw GraphDefImportError.savedModel(path: directory, message: "no meta graph is tagged '\(servingTag)' (tag sets: \(tags.isEmpty ? "none" : tags))")
        }
        if let v = meta.graph.nodes.first(where: { referenceVariableOps.contains($0.op) }) {
            throw GraphDefImportError.savedModel(
                path: directory,
                message: "TF1 reference variables are not supported: freeze the graph first (\(v.op) node '\(v.name)')")
        }
        let graph = try resolveFunctionsAndVariables(meta, directory: directory)
        let key = signature ?? defaultSignature
        let sig = meta.signatures[key]
        if sig == nil && (signature != nil || options.inputs.isEmpty || options.outputs.isEmpty) {
            let keys = meta.signatures.keys.filter { !$0.hasPrefix("__") }.sorted()
            throw GraphDefImportError.savedModel(
                path: directory, message: "no signature '\(key)' (signatures: \(keys.isEmpty ? "none" : keys.joined(separator: ", ")))")
        }
        var opts = options
        var inputKeys: [String] = [], outputKeys: [String] = []
        if let sig {
            if opts.inputs.isEmpty {
                for k in sig.inputs.keys.sorted() {
                    let info = sig.inputs[k]!
                    guard let ref = TFTensorRef(parsing: info.name) else {
                        throw GraphDefImportError.savedModel(path: directory, message: "signature '\(key)' input '\(k)' names tensor '\(info.name)', which is not a node:index name")
                    }
                    let shape = info.shape.flatMap { s in s.isFullyDefined ? s.dims!.map { Int($0) } : nil }
                    opts.inputs.append(.init(tensor: ref, shape: shape, origin: "signature '\(key)' input '\(k)'"))
                    inputKeys.append(k)
                }
            }
            if opts.outputs.isEmpty {
                for k in sig.outputs.keys.sorted() {
                    let info = sig.outputs[k]!
                    guard let ref = TFTensorRef(parsing: info.name) else {
                        throw GraphDefImportError.savedModel(path: directory, message: "signature '\(key)' output '\(k)' names tensor '\(info.name)', which is not a node:index name")
                    }
                    opts.outputs.append(.init(tensor: ref, origin: "signature '\(key)' output '\(k)'"))
                    outputKeys.append(k)
                }
            }
        }
        var model = try GraphDefImporter.importGraph(graph, options: opts)
        // Keep the signature when it defined the I/O, so runtimes can call it by key.
        let g = model.subgraphs[0]
        if !inputKeys.isEmpty, !outputKeys.isEmpty, inputKeys.count == g.inputs.count, outputKeys.count == g.outputs.count {
            let ins = zip(inputKeys, g.inputs).map { SignatureDef.TensorMap(name: $0, tensor: $1) }
            let outs = zip(outputKeys, g.outputs).map { SignatureDef.TensorMap(name: $0, tensor: $1) }
            model.signatureDefs = [SignatureDef(key: key, inputs: ins, outputs: outs, subgraph: 0)]
        }
        return model
    }
}
