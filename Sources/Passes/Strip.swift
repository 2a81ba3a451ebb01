import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Drops what a runtime never reads, to save flash: tensor names, quantization min/max, the
/// model description and, on request, the converter's metadata.
///
/// Given:
///
///     input %0 "serving_default_fingerprint_input:0": i8[1,1960] q(0.1017, -128)
///     const %1 "tiny_conv_1/first_conv_1/Relu;tiny_conv_1/first_conv_1/BiasAdd;…": i32[8] …
///     #0 … -> %7 "tiny_conv_1/reshape_1/Reshape": …
///
/// Result (`names: empty`, the default):
///
///     input %0 "serving_default_fingerprint_input:0": i8[1,1960] q(0.1017, -128)
///     const %1: i32[8] …
///     #0 … -> %7: …
///
/// - `names`: `empty` (default) removes tensor names, `short` replaces them by `t<index>`,
///   `keep` leaves them. Graph input and output names stay unless `keep_io_names: false`
///   (applications look I/O tensors up by name). LiteRT and TFLM load tensors without names
///   (the schema field is optional; the conformance tests run such models on both).
///   signature_defs keep their own names.
/// - `min_max` (default true): drops Quantization.min/max; kernels read only scale and zero
///   point (converters write none for int8, TFLite's quantization_spec.md).
/// - `description` (default true): drops Model.description ("MLIR Converted.").
/// - `metadata`: false (default); true drops the CONVERSION_METADATA and min_runtime_version
///   entries and their buffers; a list names the entries to drop. OfflineMemoryAllocation
///   (TFLM's offline planner) is never dropped.
///
/// The bytes saved (serialized size before − after) are reported in the notes and in the
/// statistic `strip.bytes-saved`.
public struct Strip: GraphPass {
    public static let name = "strip"
    public static let summary = "Drop tensor names, quantization min/max, the description and (optionally) converter metadata"

    public enum Names: String, Sendable { case empty, short, keep }

    public var names: Names = .empty
    public var keepIONames = true
    public var dropMinMax = true
    public var dropDescription = true
    /// Metadata entries to drop.
    public var metadata: [String] = []

    public static let converterMetadata = ["CONVERSION_METADATA", "min_runtime_version"]
    package static let protectedMetadata = Model.tensorIndexMetadata

    public init(options: PassOptions = PassOptions()) throws {
        let reader = try PassOptionReader(options, pass: Self.name, known: ["names", "keep_io_names", "min_max", "description", "metadata"])
        names = Names(rawValue: try reader.choice("names", from: ["empty", "short", "keep"], default: "empty"))!
        keepIONames = try reader.bool("keep_io_names", default: true)
        dropMinMax = try reader.bool("min_max", default: true)
        dropDescription = try reader.bool("description", default: true)
        switch options.values["metadata"] {
        case nil, .bool(false)?: metadata = []
        case .bool(true)?: metadata = Self.converterMetadata
        case .list(let items)?:
            metadata = try items.map {
                guard case .string(let s) = $0, !s.isEmpty else { throw reader.error("metadata", "expected metadata names, got \($0)") }
                return s
            }
            if let p = metadata.first(where: { Self.protectedMetadata.contains($0) }) {
                throw reader.error("metadata", "\(p) holds TFLM's offline memory plan and is never stripped")
            }
        case let v?:
            throw reader.error("metadata", "expected true, false or a list of metadata names, got \(v)")
        }
    }

    public mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        let before = model
        let sizeBefore = TFLiteExporter.serialize(model).totalSize
        if names != .keep {
            for s in model.subgraphs.indices {
                let g = model.subgraphs[s]
                let io = Set(g.inputs + g.outputs)
                for i in g.values.indices where !(keepIONames && io.contains(ValueID(i))) {
                    model.subgraphs[s].values[i].name = names == .empty ? "" : "t\(i)"
                }
            }
        }
        if dropMinMax {
            for s in model.subgraphs.indices {
                for i in model.subgraphs[s].values.indices {
                    guard var q = model.subgraphs[s].values[i].quantization, !q.min.isEmpty || !q.max.isEmpty else { continue }
                    q.min = []
                    q.max = []
                    model.subgraphs[s].values[i].type.quantization = q
                }
            }
        }
        if dropDescription { model.description = nil }
        if !metadata.isEmpty {
            let n = model.metadata.count
            model.metadata.removeAll { metadata.contains($0.name) && !Self.protectedMetadata.contains($0.name) }
            if model.metadata.count != n { model.removeUnusedBuffers() }
        }
        guard model != before else { return false }
        let saved = sizeBefore - TFLiteExporter.serialize(model).totalSize
        context.note("\(Self.name): saved \(saved) bytes (\(sizeBefore) → \(sizeBefore - saved))")
        context.count("\(Self.name).bytes-saved", saved)
        return true
    }
}
