import Foundation
import Export
import FlatBuffers
import IR
import Kernels
import Ops
import PassCatalog
import Passes
import Quantize
import Rewrite
import Support

/// Writes a C++ header that registers exactly a model's operators with TFLM's
/// `tflite::MicroMutableOpResolver<N>` (N = the number of distinct operators), so a firmware
/// links only the kernels it needs:
///
///     using MicroSpeechOpResolver = tflite::MicroMutableOpResolver<4>;
///     inline TfLiteStatus RegisterMicroSpeechOps(MicroSpeechOpResolver& op_resolver) {
///       if (op_resolver.AddDepthwiseConv2D() != kTfLiteOk) return kTfLiteError;
///       ...
///
/// Method names follow micro_mutable_op_resolver.h (`AddConv2D`, `AddPadV2`, `AddCumSum`, ...).
/// Custom ops TFLM ships get their own method (`AddEthosU`); any other custom op is registered
/// with `AddCustom(code, Register…())`, declaring a function the application must define.
public enum ResolverExporter {
    /// One operator of the model and how the header registers it.
    public struct Registration: Hashable, Sendable {
        /// Builtin name or custom code.
        public var op: String
        /// The resolver call, e.g. `AddConv2D()`, or nil when TFLM has no kernel for the builtin.
        public var call: String?
        /// For custom ops without a TFLM method: the function the application defines.
        public var customRegistrationFunction: String?
        /// The versions the model uses (for the comment).
        public var versions: [Int32]
    }

    /// Builtins whose resolver method does not follow the CamelCase-of-the-name rule.
    package static let methodOverrides: [String: String] = [
        "PADV2": "AddPadV2",
        "CUMSUM": "AddCumSum",
        "BATCH_MATMUL": "AddBatchMatMul",
        "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM",
    ]

    /// The resolver method TFLM has for a custom op (declared with the op in `Ops/Operators`).
    package static func customMethod(_ code: String) -> String? { CustomOperatorTable[code]?.resolverMethod }

    /// The resolver method for a builtin TFLM has a kernel for (the ops in Rules/micro.yaml),
    /// nil otherwise.
    public static func method(for op: BuiltinOperator) -> String? {
        guard tflmBuiltins.contains(op.name) else { return nil }
        if let m = methodOverrides[op.name] { return m }
        // CONV_2D → Conv2D, BATCH_TO_SPACE_ND → BatchToSpaceNd, L2_POOL_2D → L2Pool2D.
        let parts = op.name.split(separator: "_").map { part -> String in
            guard part.count > 1, let f = part.first, f.isLetter else { return part.uppercased() }
            return f.uppercased() + part.dropFirst().lowercased()
        }
        return "Add" + parts.joined()
    }

    /// Builtins current TFLM registers (its all-ops resolver), from the micro profile.
    /// Only the `target:` section is read, so this does not depend on which passes exist.
    package static let tflmBuiltins: Set<String> = {
        guard let text = BuiltinRules.text("micro")?.text,
            let root = try? YAMLNode.parse(text, file: "Rules/micro.yaml"),
            let target = root.entries?.first(where: { $0.key == "target" })?.value,
            let spec = try? TargetSpec.parse(target)
        else { return [] }
        return Set(spec.ops.map(\.name))
    }()

    /// The model's distinct operators, in order of first use.
    public static func registrations(_ model: Model) -> [Registration] {
        var order: [String] = []
        var versions: [String: [Int32]] = [:]
        var kinds: [String: OpKind] = [:]
        for g in model.subgraphs {
            for op in g.ops where !op.isErased {
                let key = op.name
                if versions[key] == nil { order.append(key); kinds[key] = op.kind }
                if !(versions[key]?.contains(op.version) ?? false) { versions[key, default: []].append(op.version) }
            }
        }
        return order.map { key in
            let vs = versions[key]!.sorted()
            if let code = kinds[key]!.customCode {
                if let m = customMethod(code) { return Registration(op: code, call: "\(m)()", customRegistrationFunction: nil, versions: vs) }
                let fn = "RegisterCustomOp_" + CArrayExporter.sanitize(code)
                return Registration(op: code, call: "AddCustom(\(cString(code)), \(fn)())", customRegistrationFunction: fn, versions: vs)
            }
            let op = kinds[key]!.builtinOperator
            return Registration(op: key, call: method(for: op).map { "\($0)()" }, customRegistrationFunction: nil, versions: vs)
        }
    }

    /// `micro_speech_int8` → `MicroSpeechInt8`.
    public static func typeName(_ identifier: String) -> String {
        let parts = CArrayExporter.sanitize(identifier).split(separator: "_").filter { !$0.isEmpty }
        let s = parts.map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        return s.isEmpty ? "Model" : (s.first!.isNumber ? "Model" + s : s)
    }

    /// `target` chooses the API (`ResolverAPI.forTarget`) and, for the 2020 one, which builtins exist.
    public static func render(_ model: Model, name: String, headerName: String, comment: String? = nil, target: TargetProfile?) -> String {
        switch ResolverAPI.forTarget(target) {
        case .current:
            return render(model, name: name, headerName: headerName, comment: comment)
        case .versioned2020:
            return renderVersioned2020(model, name: name, headerName: headerName, comment: comment, registered: Set(target?.ops.keys.map { $0 } ?? []))
        }
    }

    public static func render(_ model: Model, name: String, headerName: String, comment: String? = nil) -> String {
        let regs = registrations(model)
        let type = typeName(name)
        let guardName = CArrayExporter.sanitize(headerName).uppercased() + "_"
        var h = "// Generated by tfrewrite" + (comment.map { " from \($0)" } ?? "") + ". Do not edit.\n"
        h += "// Registers exactly the operators of the model with TFLM's MicroMutableOpResolver.\n"
        h += "#ifndef \(guardName)\n#define \(guardName)\n\n"
        h += "#include \"tensorflow/lite/micro/micro_mutable_op_resolver.h\"\n\n"
        for r in regs where r.call == nil {
            h += "#error \"TFLM has no kernel for the builtin operator \(r.op); this model cannot run on TFLM\"\n"
        }
        let customs = regs.filter { $0.customRegistrationFunction != nil }
        for r in customs {
            h += "// TODO(custom op \(cString(r.op))): tfrewrite cannot know this op's kernel. Define\n"
            h += "// \(r.customRegistrationFunction!)() in your application to return its registration\n"
            h += "// (from the library that implements the op); linking fails until you do.\n"
            h += "tflite::TFLMRegistration* \(r.customRegistrationFunction!)();\n\n"
        }
        h += operatorList(regs)
        h += "constexpr unsigned int k\(type)OpCount = \(max(regs.count, 1));\n"
        h += "using \(type)OpResolver = tflite::MicroMutableOpResolver<k\(type)OpCount>;\n\n"
        h += "// Adds every operator the model uses; returns kTfLiteError if one cannot be added.\n"
        h += "inline TfLiteStatus Register\(type)Ops(\(type)OpResolver& op_resolver) {\n"
        for r in regs {
            if let call = r.call {
                h += "  if (op_resolver.\(call) != kTfLiteOk) return kTfLiteError;\n"
            }
        }
        h += "  return kTfLiteOk;\n}\n\n#endif  // \(guardName)\n"
        return h
    }

    /// Writes the header atomically.
    public static func write(_ model: Model, to path: String, name: String, comment: String? = nil) throws {
        try AtomicFile.write(path: path, text: render(model, name: name, headerName: (path as NSString).lastPathComponent, comment: comment))
    }

    /// Stages the header in `outputs` (committed with the caller's other files).
    public static func write(_ model: Model, to path: String, name: String, comment: String? = nil, target: TargetProfile? = nil, in outputs: OutputTransaction) throws {
        let text = render(model, name: name, headerName: (path as NSString).lastPathComponent, comment: comment, target: target)
        try outputs.stage(path) { try AtomicFile.writeAll($0, Array(text.utf8), path: path) }
    }

    /// "// 4 distinct operator(s): RESHAPE v1, CONV_2D v3, …" (with its newline).
    package static func operatorList(_ regs: [Registration]) -> String {
        "// \(regs.count) distinct operator(s): " + regs.map { r in "\(r.op) v" + r.versions.map(String.init).joined(separator: "/") }.joined(separator: ", ") + "\n"
    }

    /// A C string literal.
    package static func cString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if u.isASCII && u.value >= 0x20 && u.value < 0x7F { out.unicodeScalars.append(u) } else {
                    for b in String(u).utf8 { out += String(format: "\\%03o", b) }
                }
            }
        }
        return out + "\""
    }
}
