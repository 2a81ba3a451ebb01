// Decodes serialized GraphDef (frozen .pb) and SavedModel (saved_model.pb) bytes into
// the Swift values of ProtoDecodingTypes.swift.
//
// Split of work: the outer levels (GraphDef's node list, SavedModel → MetaGraphDef) are
// walked by WireReader; each inner message (one NodeDef, the function library, a
// signature) is unpacked by protobuf-c, copied into Swift values and freed at once.
// That keeps peak memory at "file + Swift values + one node" for very large graphs and
// lets errors name the broken node and its byte offset.
//
// Size limits: protobuf-c has no total-size cap (unlike protobuf C++'s 64 MB/2 GB
// CodedInputStream limits); lengths are 32-bit varints, the same 2 GB-per-message bound
// TensorFlow itself has. The outer walk here uses 64-bit offsets, so a 300 MB GraphDef
// (a few big Const tensors or very many nodes) decodes fine.
//
// Nesting depth is bounded by our schema (tfproto.proto is not recursive), so malformed
// input cannot exhaust the stack; every length is checked before use, so it cannot trap.

import FlatBuffers
import IR
import Ops
import Support
import TFProto

/// Why a GraphDef / SavedModel / tensor could not be decoded. `description` is one
/// line naming the file and the place (node, byte offset).
public enum ProtoDecodeError: Error, Equatable, CustomStringConvertible {
    /// The bytes are not a valid `what` ("GraphDef", "SavedModel") protobuf: broken
    /// framing, a truncated file, or a field with the wrong wire type. `detail` says
    /// where.
    case malformed(what: String, path: String, detail: String)
    /// A TensorProto's values cannot be decoded (content length vs shape, unknown
    /// shape, unsupported dtype).
    case invalidTensor(op: String, node: String, detail: String)

    public var description: String {
        switch self {
        case .malformed(let what, let path, let detail):
            "\(path) is not a valid \(what) protobuf: \(detail)"
        case .invalidTensor(let op, let node, let detail):
            "\(op) node '\(node)': \(detail)"
        }
    }
}

public enum ProtoDecoding {
    /// Decodes a serialized `GraphDef` (e.g. a frozen graph .pb). `path` is only used in
    /// error messages.
    public static func graphDef(_ bytes: UnsafeRawBufferPointer, path: String) throws -> TFGraphDef {
        var graph = TFGraphDef()
        do {
            try readGraphDef(bytes, base: 0, into: &graph, context: "")
        } catch {
            throw ProtoDecodeError.malformed(what: "GraphDef", path: path, detail: error.message)
        }
        return graph
    }

    /// Decodes a serialized `SavedModel` (the saved_model.pb of a SavedModel directory).
    /// `path` is only used in error messages.
    public static func savedModel(_ bytes: UnsafeRawBufferPointer, path: String) throws -> TFSavedModel {
        var model = TFSavedModel()
        do {
            var reader = WireReader(bytes, base: 0)
            while let field = try next(&reader, context: "") {
                switch field.number {
                case 1:
                    model.schemaVersion = Int64(
                        bitPattern: try varint(field, name: "saved_model_schema_version", context: ""))
                case 2:
                    let context = "meta_graphs[\(model.metaGraphs.count)]"
                    let (body, bodyOffset, _) = try message(field, name: "meta_graphs", context: "")
                    var metaGraph = TFMetaGraph()
                    try readMetaGraph(body, base: bodyOffset, into: &metaGraph, context: context)
                    model.metaGraphs.append(metaGraph)
                default:
                    continue  // fields we do not read
                }
            }
        } catch {
            throw ProtoDecodeError.malformed(what: "SavedModel", path: path, detail: error.message)
        }
        return model
    }

    // MARK: - Outer levels

    /// GraphDef fields (graph.proto): 1 node, 2 library, 4 versions. Repeated
    /// occurrences merge like protobuf does: nodes and functions append, the last
    /// `versions` wins.
    private static func readGraphDef(
        _ bytes: UnsafeRawBufferPointer, base: Int, into graph: inout TFGraphDef, context: String
    ) throws(DecodeProblem) {
        var reader = WireReader(bytes, base: base)
        let prefix = context.isEmpty ? "" : context + "."
        while let field = try nextNode(&reader, bytes, base: base, index: graph.nodes.count, context: context) {
            switch field.number {
            case 1:
                let index = graph.nodes.count
                let (body, _, offset) = try message(field, name: "node", context: context)
                let node = unpack(
                    body, { tfproto__node_def__unpack(nil, $0, $1) }, { tfproto__node_def__free_unpacked($0, nil) },
                    copy: ProtoCopy.node)
                guard let node else {
                    throw DecodeProblem(
                        "\(prefix)node #\(index)\(nodeNameHint(body)) at byte offset \(offset) is not a valid NodeDef"
                            + " (truncated or a field with the wrong wire type)")
                }
                graph.nodes.append(node)
            case 2:
                let (body, _, offset) = try message(field, name: "library", context: context)
                let functions = unpack(
                    body, { tfproto__function_def_library__unpack(nil, $0, $1) },
                    { tfproto__function_def_library__free_unpacked($0, nil) }
                ) { ProtoCopy.messages($0.pointee.function, $0.pointee.n_function, ProtoCopy.function) }
                guard let functions else {
                    throw DecodeProblem(
                        "\(prefix)library (function definitions) at byte offset \(offset) is not a valid"
                            + " FunctionDefLibrary (truncated or a field with the wrong wire type)")
                }
                graph.functions += functions
            case 4:
                let (body, _, offset) = try message(field, name: "versions", context: context)
                let producer = unpack(
                    body, { tfproto__version_def__unpack(nil, $0, $1) },
                    { tfproto__version_def__free_unpacked($0, nil) }
                ) { $0.pointee.producer }
                guard let producer else {
                    throw DecodeProblem("\(prefix)versions at byte offset \(offset) is not a valid VersionDef")
                }
                graph.producer = producer
            default:
                continue  // 3 (deprecated version), 5 (debug_info), future fields
            }
        }
    }

    /// MetaGraphDef fields (meta_graph.proto): 1 meta_info_def, 2 graph_def, 3 saver_def,
    /// 5 signature_def map entries, 7 object_graph_def; collections and assets are skipped.
    private static func readMetaGraph(
        _ bytes: UnsafeRawBufferPointer, base: Int, into metaGraph: inout TFMetaGraph, context: String
    ) throws(DecodeProblem) {
        var reader = WireReader(bytes, base: base)
        while let field = try next(&reader, context: context) {
            switch field.number {
            case 1:
                let (body, _, offset) = try message(field, name: "meta_info_def", context: context)
                let info = unpack(body, tfproto_meta_info_def_unpack, tfproto_meta_info_def_free) { info in
                    (
                        tags: ProtoCopy.map(info.pointee.tags, info.pointee.n_tags) { ProtoCopy.string($0) },
                        version: ProtoCopy.string(info.pointee.tensorflow_version)
                    )
                }
                guard let info else {
                    throw DecodeProblem("\(context).meta_info_def at byte offset \(offset) is not a valid MetaInfoDef")
                }
                metaGraph.tags += info.tags
                if !info.version.isEmpty { metaGraph.tensorflowVersion = info.version }
            case 2:
                let (body, bodyOffset, _) = try message(field, name: "graph_def", context: context)
                try readGraphDef(body, base: bodyOffset, into: &metaGraph.graph, context: context + ".graph_def")
            case 3:
                let (body, _, offset) = try message(field, name: "saver_def", context: context)
                let restoreOp = unpack(
                    body, { tfproto__saver_def__unpack(nil, $0, $1) }, { tfproto__saver_def__free_unpacked($0, nil) }
                ) { ProtoCopy.string($0.pointee.restore_op_name) }
                guard let restoreOp else {
                    throw DecodeProblem("\(context).saver_def at byte offset \(offset) is not a valid SaverDef")
                }
                metaGraph.restoreOp = restoreOp.isEmpty ? nil : restoreOp
            case 7:
                let (body, _, offset) = try message(field, name: "object_graph_def", context: context)
                let objectGraph = unpack(
                    body, { tfproto__saved_object_graph__unpack(nil, $0, $1) }, { tfproto__saved_object_graph__free_unpacked($0, nil) },
                    copy: TFObjectGraph.init(copying:))
                guard let objectGraph else {
                    throw DecodeProblem("\(context).object_graph_def at byte offset \(offset) is not a valid SavedObjectGraph")
                }
                metaGraph.objectGraph = objectGraph
            case 5:
                let (body, _, offset) = try message(field, name: "signature_def", context: context)
                let entry = unpack(body, tfproto_signature_def_entry_unpack, tfproto_signature_def_entry_free) {
                    entry in
                    (
                        key: ProtoCopy.string(entry.pointee.key),
                        value: Optional(entry.pointee.value).map { ProtoCopy.signature($0) } ?? TFSignatureDef()
                    )
                }
                guard let entry else {
                    throw DecodeProblem(
                        "\(context).signature_def entry at byte offset \(offset) is not a valid SignatureDef")
                }
                metaGraph.signatures[entry.key] = entry.value
            default:
                continue
            }
        }
    }

    // MARK: - Helpers

    /// Runs a generated `*__unpack`, copies the result and frees the C message. Returns
    /// nil when protobuf-c rejects the bytes.
    private static func unpack<Message, Result>(
        _ bytes: UnsafeRawBufferPointer,
        _ unpackFunction: (Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<Message>?,
        _ freeFunction: (UnsafeMutablePointer<Message>) -> Void,
        copy: (UnsafeMutablePointer<Message>) -> Result
    ) -> Result? {
        let data = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        guard let message = unpackFunction(bytes.count, data) else { return nil }
        defer { freeFunction(message) }
        return copy(message)
    }

    private static func next(_ reader: inout WireReader, context: String) throws(DecodeProblem) -> WireField? {
        do {
            return try reader.next()
        } catch {
            throw DecodeProblem((context.isEmpty ? "" : context + ": ") + error.message)
        }
    }

    /// `next` for a GraphDef's fields: when a node field is cut short (a truncated file), the
    /// message also names the node being read, from whatever of its name field is left.
    private static func nextNode(
        _ reader: inout WireReader, _ bytes: UnsafeRawBufferPointer, base: Int, index: Int, context: String
    ) throws(DecodeProblem) -> WireField? {
        do {
            return try reader.next()
        } catch {
            var detail = error.message
            var partial = WireReader(UnsafeRawBufferPointer(rebasing: bytes[max(0, min(error.offset - base, bytes.count))...]), base: 0)
            // The broken field's key and length are readable; its body is what remains.
            if let key = try? partial.rawVarint(), key == (1 << 3 | 2), (try? partial.rawVarint()) != nil {
                detail += " (node #\(index)\(nodeNameHint(partial.remaining)) is cut short)"
            }
            throw DecodeProblem((context.isEmpty ? "" : context + ": ") + detail)
        }
    }

    /// The payload of a length-delimited field, the absolute offset of the payload (the
    /// base for reading inside it) and of the field's key (what error messages report).
    private static func message(
        _ field: WireField, name: String, context: String
    ) throws(DecodeProblem) -> (body: UnsafeRawBufferPointer, bodyOffset: Int, fieldOffset: Int) {
        guard case .bytes(let body, let bodyOffset) = field.payload else {
            throw wrongWireType(field, name: name, expected: "length-delimited", context: context)
        }
        return (body, bodyOffset, field.offset)
    }

    private static func varint(_ field: WireField, name: String, context: String) throws(DecodeProblem) -> UInt64 {
        guard case .varint(let value) = field.payload else {
            throw wrongWireType(field, name: name, expected: "varint", context: context)
        }
        return value
    }

    private static func wrongWireType(
        _ field: WireField, name: String, expected: String, context: String
    ) -> DecodeProblem {
        DecodeProblem(
            (context.isEmpty ? "" : context + ": ")
                + "field \(field.number) (\(name)) at byte offset \(field.offset) has wire type \(field.wireTypeName),"
                + " expected \(expected)")
    }

    /// " ('name')" when the broken NodeDef still has a readable name field, for errors.
    private static func nodeNameHint(_ body: UnsafeRawBufferPointer) -> String {
        var reader = WireReader(body, base: 0)
        while let field = try? reader.next() {
            if field.number == 1, case .bytes(let name, _) = field.payload {
                return " ('\(String(decoding: name.prefix(200), as: UTF8.self))')"
            }
        }
        return ""
    }
}

/// Internal decoding failure; the public entry points wrap it in
/// `ProtoDecodeError.malformed` with the file path.
package struct DecodeProblem: Error {
    package var message: String
    package init(_ message: String) { self.message = message }
}
