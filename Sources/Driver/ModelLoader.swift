import Export
import FlatBuffers
import IR
import Import
import Interpret
import Kernels
import Ops
import PassCatalog
import Passes
import Quantize
import Rewrite
import Rules
import Support

/// How to read a model: which GraphDef tensors become inputs and outputs, and which
/// SavedModel signature to use. Empty for a .tflite file.
public struct ModelLoadOptions: Sendable, Equatable {
    public var graph: GraphDefImportOptions
    /// SavedModel signature key; nil = "serving_default".
    public var signature: String?
    /// Run `ImportPipeline` after lowering a GraphDef or SavedModel (tests turn it off to see
    /// the raw lowering).
    public var runImportPipeline: Bool
    /// Verify the IR after each import pass (tests).
    public var verify: Bool

    public init(graph: GraphDefImportOptions = GraphDefImportOptions(), signature: String? = nil, runImportPipeline: Bool = true, verify: Bool = false) {
        self.graph = graph
        self.signature = signature
        self.runImportPipeline = runImportPipeline
        self.verify = verify
    }

    /// From the CLI's `--input-arrays NAME[:SHAPE]`, `--output-arrays NAME` and `--signature KEY` flags.
    public init(inputs: [String], outputs: [String], signature: String?) throws {
        self.init(
            graph: GraphDefImportOptions(inputs: try inputs.map(Self.parseInput), outputs: try outputs.map(Self.parseOutput)),
            signature: signature)
    }

    public var isEmpty: Bool { graph.inputs.isEmpty && graph.outputs.isEmpty && signature == nil }

    /// `NAME[:SHAPE]`, SHAPE = positive sizes separated by commas, optionally in brackets:
    /// `Mfcc`, `Mfcc:1,49,10`, `input:[1,224,224,3]`. The name is a node (its output 0).
    public static func parseInput(_ text: String) throws -> GraphDefImportOptions.Input {
        let flag = "--input-arrays \(text)"
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let name = String(parts[0])
        guard !name.isEmpty else { throw GraphDefImportError.badArgument(flag: flag, message: "the node name is empty") }
        guard parts.count == 2 else { return .init(tensor: TFTensorRef(node: name), origin: "--input-arrays \(name)") }
        var shapeText = Substring(parts[1]).trimmingCharacters(in: " ")
        if shapeText.hasPrefix("[") && shapeText.hasSuffix("]") { shapeText = String(shapeText.dropFirst().dropLast()) }
        let dims = shapeText.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: " ")) }
        guard !shapeText.isEmpty, dims.allSatisfy({ $0 != nil && $0! >= 1 && $0! <= Int(Int32.max) }) else {
            throw GraphDefImportError.badArgument(flag: flag, message: "shape '\(parts[1])' is not a list of positive sizes like 1,49,10")
        }
        return .init(tensor: TFTensorRef(node: name), shape: dims.map { $0! }, origin: "--input-arrays \(name)")
    }

    /// `NAME` or `NAME:k` (output k of node NAME).
    public static func parseOutput(_ text: String) throws -> GraphDefImportOptions.Output {
        guard let ref = TFTensorRef(parsing: text) else {
            throw GraphDefImportError.badArgument(flag: "--output-arrays \(text)", message: "not a node name (NAME or NAME:INDEX)")
        }
        return .init(tensor: ref, origin: "--output-arrays \(text)")
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        String(drop { $0 == set }.reversed().drop { $0 == set }.reversed())
    }
}

/// The one entry point for reading a model file: tells a .tflite FlatBuffer, a frozen GraphDef
/// and a SavedModel (directory, or its saved_model.pb) apart by content, and lowers TensorFlow
/// graphs through `ImportPipeline`. With default options it is a drop-in for
/// `TFLiteImporter.load(path:)`.
public enum ModelLoader {
    public enum Format: String, Sendable {
        case tflite, graphDef = "GraphDef", savedModel = "SavedModel", keras = "Keras"
    }

    public static func load(path: String, options: ModelLoadOptions = ModelLoadOptions()) throws -> Model {
        let format = try detectFormat(path: path)
        var model: Model
        switch format {
        case .tflite:
            guard options.isEmpty else {
                throw GraphDefImportError.badArgument(flag: "--input-arrays/--output-arrays/--signature", message: "only apply to GraphDef and SavedModel inputs; \(path) is a .tflite model")
            }
            return try TFLiteImporter.load(path: path)
        case .keras:
            guard options.isEmpty else {
                throw GraphDefImportError.badArgument(flag: "--input-arrays/--output-arrays/--signature", message: "only apply to GraphDef and SavedModel inputs; \(path) is a Keras model file")
            }
            model = try KerasImporter.load(path: path)
        case .graphDef:
            guard options.signature == nil else {
                throw GraphDefImportError.badArgument(flag: "--signature", message: "only applies to SavedModel inputs; \(path) is a frozen GraphDef")
            }
            model = try GraphDefImporter.load(path: path, options: options.graph)
        case .savedModel:
            model = isDirectory(path)
                ? try SavedModelImporter.load(directory: path, signature: options.signature, options: options.graph)
                : try SavedModelImporter.load(file: path, signature: options.signature, options: options.graph)
        }
        if options.runImportPipeline {
            var context = PassContext()
            context.verifyAfterEachPass = options.verify
            try ImportPipeline.run(on: &model, context: &context)
        }
        return model
    }

    /// The format of `path` from its content: a directory is a SavedModel; a file with the
    /// "TFL3" identifier is TFLite; a zip with config.json or an HDF5 file is Keras; a protobuf starting with field 1 as a varint is a
    /// SavedModel (saved_model_schema_version), with a length-delimited field a GraphDef.
    public static func detectFormat(path: String) throws -> Format {
        if isDirectory(path) { return .savedModel }
        let storage = try ByteStorage.map(path: path)
        let bytes = storage.bytes
        guard bytes.count > 0 else { throw GraphDefImportError.graph("\(path) is empty") }
        if bytes.count >= 8, Array(bytes[4..<8]) == Array("TFL3".utf8) { return .tflite }
        if ContainerSignature.isKeras(bytes) { return .keras }
        if let unsupported = ContainerSignature.unsupported(bytes, path: path) { throw unsupported }
        if path.hasSuffix(".tflite") { return .tflite }  // let the TFLite reader explain what is wrong
        switch bytes[0] {
        case 0x08: return .savedModel  // field 1, varint: saved_model_schema_version
        case 0x0a, 0x12, 0x22, 0x2a: return .graphDef  // fields 1 node, 2 library, 4 versions, 5 debug_info
        default:
            if path.hasSuffix(".pb") { return .graphDef }
            return .tflite
        }
    }

    package static func savedModelDirectory(_ path: String) -> String { SavedModelImporter.directory(of: path) }

    package static func isDirectory(_ path: String) -> Bool { SavedModelImporter.isDirectory(path) }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
