import Foundation
import FlatBuffers
import IR
import Ops
import Support

/// The forms a converted model is written in, chosen by the output file's extension or by
/// `--format`: the FlatBuffer itself, or the FlatBuffer as a 16-byte-aligned C array the way
/// firmware embeds it (`xxd -i`, TFLM's generate_cc_arrays.py, an Arduino sketch's `model.h`).
public enum ModelOutputFormat: String, CaseIterable, Sendable {
    /// The .tflite FlatBuffer.
    case tflite
    /// A C source (`.c`) defining the array, and a header beside it declaring it.
    case c
    /// A C++ source (`.cc`, `.cpp`, `.cxx`) defining the array, and a header beside it.
    case cc
    /// One self-contained header (`.h`) defining the array, for a sketch or a single file.
    case h

    /// The format an output file name asks for, nil for an extension tfrewrite does not write.
    public static func forExtension(of path: String) -> ModelOutputFormat? {
        switch (path as NSString).pathExtension.lowercased() {
        case "tflite": return .tflite
        case "c": return .c
        case "cc", "cpp", "cxx": return .cc
        case "h": return .h
        default: return nil
        }
    }

    /// The extensions named in messages and help.
    public static let knownExtensions = ".tflite, .h, .c, .cc, .cpp"

    /// True for the forms that write a header beside the output.
    public var writesHeaderBeside: Bool { self == .c || self == .cc }
}

/// An integer constant declared with the model array, e.g. the arena size a firmware
/// allocates (`kTensorArenaSize`). C++ headers get `constexpr int`, C and single headers an
/// `enum` constant, which both languages accept as a constant expression.
public struct CArrayConstant: Equatable, Sendable {
    public var name: String
    public var value: Int
    public var comment: String?

    public init(name: String, value: Int, comment: String? = nil) {
        self.name = name
        self.value = value
        self.comment = comment
    }
}

/// The C, C++ and single-header renderings of a model array (the C++ source and header of
/// `CArrayExporter.render`, plus a C source with a header C and C++ can include, and one
/// self-contained header).
public enum CArrayForms {
    /// Writes `model` in `format` to `path` (and the header beside it for .c/.cc), staged in
    /// `outputs`. `constants` are declared next to the array (see `CArrayConstant`).
    public static func write(_ model: Model, format: ModelOutputFormat, to path: String, arrayName: String? = nil, comment: String? = nil, constants: [CArrayConstant] = [], in outputs: OutputTransaction) throws {
        let bytes = TFLiteExporter.serialize(model).bytes()
        let name = arrayName.map(CArrayExporter.sanitize) ?? CArrayExporter.identifier(fromPath: path)
        func stage(_ text: String, at file: String) throws {
            try outputs.stage(file) { try AtomicFile.writeAll($0, Array(text.utf8), path: file) }
        }
        switch format {
        case .tflite:
            try TFLiteExporter.write(model, to: path, in: outputs)
        case .h:
            try stage(renderHeaderOnly(bytes, name: name, headerName: (path as NSString).lastPathComponent, comment: comment, constants: constants), at: path)
        case .c, .cc:
            let headerPath = CArrayExporter.headerPath(for: path)
            let headerName = (headerPath as NSString).lastPathComponent
            let out = format == .cc
                ? CArrayExporter.render(bytes, name: name, headerName: headerName, comment: comment, constants: constants)
                : renderC(bytes, name: name, headerName: headerName, comment: comment, constants: constants)
            try stage(out.header, at: headerPath)
            try stage(out.source, at: path)
        }
    }

    /// A C11 source (`_Alignas(16)`) and a header that C and C++ both include (`extern "C"`).
    public static func renderC(_ bytes: [UInt8], name: String, headerName: String, comment: String? = nil, constants: [CArrayConstant] = []) -> CArrayExporter.Output {
        let guardName = includeGuard(headerName)
        var h = generatedLine(comment) + "#ifndef \(guardName)\n#define \(guardName)\n\n"
        h += "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
        h += "// The model FlatBuffer (16-byte aligned; TFLM reads it in place).\n"
        h += "extern const unsigned char \(name)[];\n"
        h += "extern const unsigned int \(name)_len;\n"
        h += constantLines(constants, cplusplus: false)
        h += "\n#ifdef __cplusplus\n}  // extern \"C\"\n#endif\n\n"
        h += "#endif  // \(guardName)\n"

        var c = generatedLine(comment)
        c += "#include \"\(headerName)\"\n\n"
        c += "_Alignas(16) const unsigned char \(name)[] = {\n"
        c += CArrayExporter.hexLines(bytes)
        c += "};\n"
        c += "const unsigned int \(name)_len = \(bytes.count);\n"
        return CArrayExporter.Output(source: c, header: h)
    }

    /// One header holding the array itself, for C and C++ (an Arduino sketch includes it).
    /// `static`: each file that includes it gets its own copy, so two files never clash at link time.
    public static func renderHeaderOnly(_ bytes: [UInt8], name: String, headerName: String, comment: String? = nil, constants: [CArrayConstant] = []) -> String {
        let guardName = includeGuard(headerName)
        var h = generatedLine(comment) + "// The model as a C array: #include \"\(headerName)\" in one file (an Arduino sketch, main.c).\n"
        h += "#ifndef \(guardName)\n#define \(guardName)\n\n"
        h += "#ifndef TFREWRITE_ALIGN_16\n#if defined(__cplusplus)\n#define TFREWRITE_ALIGN_16 alignas(16)\n#else\n#define TFREWRITE_ALIGN_16 _Alignas(16)\n#endif\n#endif\n\n"
        h += "// The model FlatBuffer (16-byte aligned; TFLM reads it in place).\n"
        h += "TFREWRITE_ALIGN_16 static const unsigned char \(name)[] = {\n"
        h += CArrayExporter.hexLines(bytes)
        h += "};\n"
        h += "static const unsigned int \(name)_len = \(bytes.count);\n"
        h += constantLines(constants, cplusplus: false)
        h += "\n#endif  // \(guardName)\n"
        return h
    }

    /// `model.h` → `MODEL_H_`, as the C++ form's header has it.
    static func includeGuard(_ headerName: String) -> String { CArrayExporter.sanitize(headerName).uppercased() + "_" }

    static func generatedLine(_ comment: String?) -> String {
        "// Generated by tfrewrite" + (comment.map { " from \($0)" } ?? "") + ". Do not edit.\n"
    }

    /// The declarations of `constants`, one per line (empty for none).
    package static func constantLines(_ constants: [CArrayConstant], cplusplus: Bool) -> String {
        constants.map { k in
            let note = k.comment.map { "// \($0)\n" } ?? ""
            return note + (cplusplus ? "constexpr int \(k.name) = \(k.value);\n" : "enum { \(k.name) = \(k.value) };\n")
        }.joined()
    }
}
