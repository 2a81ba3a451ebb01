import Foundation
import FlatBuffers
import TFRewrite
import TestSupport

/// One entry function per parser that reads untrusted bytes. The fuzz executables
/// (Sources/Fuzz/*) call them from libFuzzer's `LLVMFuzzerTestOneInput`, or, in a normal build,
/// on the files named on the command line; the replay tests run every saved crash input
/// through them. An entry function may throw (a refused input is the expected outcome); it
/// must never trap, hang or allocate past `MemoryBudget`.
public enum FuzzTarget: String, CaseIterable, Sendable {
    case tflite, graphdef, savedmodel, rules, npy, pipeline, irtext, tensorbundle, keras

    /// The executable's name, `fuzz-<target>`.
    public var executableName: String { "fuzz-" + rawValue }

    /// Small enough that a legal but large input is refused with a `MemoryBudgetError` well
    /// below libFuzzer's -rss_limit_mb (2 GiB by default), AddressSanitizer's overhead included.
    public static let memoryBudget = 256 << 20

    /// Runs one input. Errors are the parsers' refusals; the caller ignores them.
    public func run(_ bytes: [UInt8]) throws {
        switch self {
        case .tflite: try Self.tflite(bytes)
        case .graphdef: try Self.graphDef(bytes)
        case .savedmodel: try Self.savedModel(bytes)
        case .rules: try Self.rules(bytes)
        case .npy: try Self.npy(bytes)
        case .pipeline: try Self.pipeline(bytes)
        case .irtext: try Self.irText(bytes)
        case .tensorbundle: try Self.tensorBundle(bytes)
        case .keras: try Self.keras(bytes)
        }
    }

    /// The .tflite FlatBuffer reader and importer, then the IR verifier on whatever loads.
    static func tflite(_ bytes: [UInt8]) throws {
        let model = try TFLiteImporter.decode(ByteStorage(copying: bytes))
        _ = Verifier.verify(model)
    }

    /// The protobuf decoder for GraphDef and the lowering to the IR.
    static func graphDef(_ bytes: [UInt8]) throws {
        let graph = try bytes.withUnsafeBytes { try ProtoDecoding.graphDef($0, path: "fuzz.pb") }
        _ = try GraphDefImporter.importGraph(graph)
    }

    /// The SavedModel proto decoder and signature/meta-graph selection, then the lowering.
    /// The directory it names holds nothing, so a graph that needs variables/ is refused.
    static func savedModel(_ bytes: [UInt8]) throws {
        let saved = try bytes.withUnsafeBytes { try ProtoDecoding.savedModel($0, path: "saved_model.pb") }
        _ = try SavedModelImporter.importSavedModel(saved, directory: FuzzScratch.directory)
    }

    /// A checkpoint's variables.index: the SSTable reader (footer, blocks, checksums, prefix
    /// compressed keys) and the BundleHeaderProto / BundleEntryProto decoding.
    static func tensorBundle(_ bytes: [UInt8]) throws {
        _ = try bytes.withUnsafeBytes { try TensorBundle.parseIndex($0, path: "variables.index") }
    }

    /// What the CLI runs in its own process on a Keras file: the zip reader, the parser of the
    /// HDF5 reader child's output (a .h5 here, and model.weights.h5 inside a .keras, are given
    /// in that snapshot format), the JSON parser, the model config and the layer lowerings,
    /// then the verifier. libhdf5 itself is not fuzzed here: it runs in the child, whose crashes
    /// and loops the CLI turns into errors (Docs/security.md).
    static func keras(_ bytes: [UInt8]) throws {
        HDF5Reader.mode = .snapshotImages
        _ = Verifier.verify(try KerasImporter.load(bytes: bytes, path: "fuzz.keras"))
    }

    /// The rules YAML reader, the rules-file schema, the rule-expression parser and the
    /// pipeline a rule set builds. `extends:` resolves against an empty scratch directory.
    static func rules(_ bytes: [UInt8]) throws {
        let text = String(decoding: bytes, as: UTF8.self)
        let set = try RuleSet.parse(text, file: "fuzz.yaml", directory: FuzzScratch.directory)
        _ = try DeclarativeRuleCompiler.summaries(set.rules)
        _ = try set.pipeline()
        _ = try Conversion.passList(set)
    }

    /// .npy and .npz (zip) decoding of calibration data; each input is tried as both.
    static func npy(_ bytes: [UInt8]) throws {
        _ = try? Npy.decode(bytes, path: "fuzz.npy")
        _ = try Npy.decodeNpz(bytes, path: "fuzz.npz")
    }

    /// What `tfrewrite convert --rules micro` does: load any model format (through a file, as
    /// the CLI does, so format detection and the import pipeline run), convert, serialize.
    /// A conversion that succeeds must write a model that reads back and verifies (loading
    /// refuses models the verifier flags, e.g. an int32 bias with a nonzero zero point;
    /// Tests/FuzzCrashes/pipeline has one).
    static func pipeline(_ bytes: [UInt8]) throws {
        let path = try FuzzScratch.write(bytes, name: "model")
        var context = PassContext(target: microRules.target)
        var model = try Conversion.load(path: path, context: &context)
        try Conversion.run(microRules, on: &model, context: &context)
        let written = TFLiteExporter.serialize(model).bytes()
        let reread: Model
        do {
            reread = try TFLiteImporter.decode(ByteStorage(copying: written))
        } catch {
            fatalError("the converted model does not read back: \(error)")
        }
        if let problem = Verifier.verify(reread).first {
            fatalError("the converted model does not verify: \(problem)")
        }
    }

    /// The IR text parser golden tests read. Whatever parses and verifies must print back to
    /// text that parses to the same text again (the printer and the parser agree).
    static func irText(_ bytes: [UInt8]) throws {
        let model = try IRParser.parse(String(decoding: bytes, as: UTF8.self))
        guard Verifier.verify(model).isEmpty else { return }
        let printed = IRPrinter.print(model)
        let again: Model
        do {
            again = try IRParser.parse(printed)
        } catch {
            fatalError("the printed IR does not parse back: \(error)\n\(printed)")
        }
        let reprinted = IRPrinter.print(again)
        if reprinted != printed { fatalError("print → parse → print changed the text:\n\(printed)\n---\n\(reprinted)") }
    }

    nonisolated(unsafe) static let microRules: RuleSet = {
        do { return try RuleSet.load(["micro"]) } catch { fatalError("the built-in micro rules do not load: \(error)") }
    }()

    /// Sets the memory budget and creates the scratch directory; call once before `run`.
    public static func prepare() {
        MemoryBudget.bytes = memoryBudget
        _ = FuzzScratch.directory
        _ = microRules
    }
}

/// A private directory for the inputs that have to be files, removed at exit.
enum FuzzScratch {
    nonisolated(unsafe) static let directory: String = {
        var template = Array((NSTemporaryDirectory() + "/tfrewrite-fuzz-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { fatalError("cannot create a scratch directory: errno \(errno)") }
        let path = String(cString: made)
        atexit { _ = try? FileManager.default.removeItem(atPath: FuzzScratch.directory) }
        return path
    }()

    /// Writes `bytes` to `name` in the scratch directory (replacing it) and returns its path.
    static func write(_ bytes: [UInt8], name: String) throws -> String {
        let path = directory + "/" + name
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw FileError(path: path, message: "cannot write the fuzz input")
        }
        return path
    }
}
