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

/// The `target:` section of one rules file. Every field is optional so files can be layered:
/// a later file's fields override an earlier one's, and op tables merge entry by entry.
public struct TargetSpec: Sendable {
    /// An op table entry: the highest version accepted (nil = any), or removal (`OP: false`).
    public enum OpEntry: Hashable, Sendable {
        case upTo(Int32?)
        case removed
    }

    public var runtime: String?
    public var source: String?
    public var checkVersions: Bool?
    /// In file order, so the merged table and messages are stable.
    public var ops: [(name: String, entry: OpEntry, location: SourceLocation)] = []
    public var customOps: [String]?
    public var tensorTypes: Set<DType>?
    public var hybrid: Bool?
    public var float16: Bool?
    public var uint8: Bool?
    public var perChannelFullyConnected: Bool?
    public var groupedConv: Bool?
    /// `op_types`: op name → the tensor types its kernel runs (measured profiles).
    public var opTypes: [(name: String, types: Set<DType>)] = []
    public var location: SourceLocation

    public static let keys = ["runtime", "source", "check_versions", "ops", "custom_ops", "op_types", "tensor_types", "quantization"]
    public static let quantizationKeys = ["hybrid", "float16", "uint8", "per_channel_fully_connected", "grouped_conv"]
    /// Op versions above this are surely typos (the highest TFLite op version is in the teens).
    package static let maxOpVersion = 1000

    package static func parse(_ node: YAMLNode) throws -> TargetSpec {
        guard let entries = node.entries else {
            throw RulesError(at: node.location, "target: expected a mapping with keys \(RulesFile.list(keys)), got \(node.kindDescription)")
        }
        var t = TargetSpec(location: node.location)
        for e in entries {
            switch e.key {
            case "runtime": t.runtime = try string(e)
            case "source": t.source = try string(e)
            case "check_versions": t.checkVersions = try bool(e)
            case "ops": t.ops = try parseOps(e.value)
            case "custom_ops": t.customOps = try parseNames(e)
            case "tensor_types": t.tensorTypes = try parseTypes(e.value)
            case "op_types": t.opTypes = try parseOpTypes(e.value)
            case "quantization":
                guard let q = e.value.entries else {
                    throw RulesError(at: e.value.location, "quantization: expected a mapping with keys \(RulesFile.list(quantizationKeys)), got \(e.value.kindDescription)")
                }
                for qe in q {
                    switch qe.key {
                    case "hybrid": t.hybrid = try bool(qe)
                    case "float16": t.float16 = try bool(qe)
                    case "uint8": t.uint8 = try bool(qe)
                    case "per_channel_fully_connected": t.perChannelFullyConnected = try bool(qe)
                    case "grouped_conv": t.groupedConv = try bool(qe)
                    default: throw RulesFile.unknownKey(qe, known: quantizationKeys, in: "target.quantization")
                    }
                }
            default:
                throw RulesFile.unknownKey(e, known: keys, in: "target")
            }
        }
        return t
    }

    package static func string(_ e: YAMLEntry) throws -> String {
        guard let (s, k) = e.value.scalar, k == .string || k == .int || k == .float, !s.isEmpty else {
            throw RulesError(at: e.value.location, "\(e.key): expected a string, got \(e.value.kindDescription)")
        }
        return s
    }

    package static func bool(_ e: YAMLEntry) throws -> Bool {
        guard let (s, k) = e.value.scalar, k == .bool else {
            throw RulesError(at: e.value.location, "\(e.key): expected true or false, got \(e.value.kindDescription)")
        }
        return s == "true"
    }

    package static func parseNames(_ e: YAMLEntry) throws -> [String] {
        guard let items = e.value.items else {
            throw RulesError(at: e.value.location, "\(e.key): expected a list of names, got \(e.value.kindDescription)")
        }
        return try items.map { n in
            guard let (s, k) = n.scalar, k == .string, !s.isEmpty else {
                throw RulesError(at: n.location, "\(e.key): expected a name, got \(n.kindDescription)")
            }
            return s
        }
    }

    package static func parseOps(_ node: YAMLNode) throws -> [(name: String, entry: OpEntry, location: SourceLocation)] {
        guard let entries = node.entries else {
            throw RulesError(at: node.location, "ops: expected a mapping of op name to highest version or `any`, got \(node.kindDescription)")
        }
        var out: [(name: String, entry: OpEntry, location: SourceLocation)] = []
        var seen: [String: Int] = [:]
        for e in entries {
            guard let op = BuiltinOperator(name: e.key) else {
                var m = "unknown op '\(e.key)'"
                if let s = RulesFile.closest(e.key.uppercased(), in: BuiltinOperator.names) { m += "; did you mean '\(s)'?" }
                m += " (ops are TFLite builtin names like CONV_2D; custom op codes go in custom_ops)"
                throw RulesError(at: e.keyLocation, m)
            }
            if op == .custom || op == .placeholderForGreaterOpCodes {
                throw RulesError(at: e.keyLocation, "'\(e.key)' is not an op a runtime registers; list custom op codes under custom_ops")
            }
            if let first = seen[op.name] {
                throw RulesError(at: e.keyLocation, "op \(op.name) is listed twice (first on line \(first))")
            }
            seen[op.name] = e.keyLocation.line
            let entry: OpEntry
            switch e.value.scalar {
            case ("any", .string)?: entry = .upTo(nil)
            case ("false", .bool)?: entry = .removed
            case (let s, .int)?:
                guard let v = Int(s), v >= 1, v <= maxOpVersion else {
                    throw RulesError(at: e.value.location, "op \(op.name): bad version \(s): versions start at 1")
                }
                entry = .upTo(Int32(v))
            default:
                throw RulesError(at: e.value.location, "op \(op.name): expected the highest accepted version (1, 2, ...), `any`, or `false` to remove it, got \(e.value.kindDescription)")
            }
            out.append((op.name, entry, e.keyLocation))
        }
        return out
    }

    /// `op_types: {CONV_2D: [float32, int8], ...}`: builtin op names, each with a type list.
    package static func parseOpTypes(_ node: YAMLNode) throws -> [(name: String, types: Set<DType>)] {
        guard let entries = node.entries else {
            throw RulesError(at: node.location, "op_types: expected a mapping of op name to a list of tensor types, got \(node.kindDescription)")
        }
        var out: [(name: String, types: Set<DType>)] = []
        for e in entries {
            guard let op = BuiltinOperator(name: e.key), op != .custom, op != .placeholderForGreaterOpCodes else {
                var m = "op_types: unknown op '\(e.key)'"
                if let s = RulesFile.closest(e.key.uppercased(), in: BuiltinOperator.names) { m += "; did you mean '\(s)'?" }
                throw RulesError(at: e.keyLocation, m)
            }
            if out.contains(where: { $0.name == op.name }) {
                throw RulesError(at: e.keyLocation, "op_types: op \(op.name) is listed twice")
            }
            out.append((op.name, try parseTypes(e.value, key: "op_types: \(op.name)")))
        }
        return out
    }

    package static func parseTypes(_ node: YAMLNode, key: String = "tensor_types") throws -> Set<DType> {
        guard let items = node.items else {
            throw RulesError(at: node.location, "\(key): expected a list like [int8, int32], got \(node.kindDescription)")
        }
        var out = Set<DType>()
        for n in items {
            guard let (s, k) = n.scalar, k == .string, let t = DType(name: s) else {
                let known = (0..<21).map { DType(code: Int8($0)).name.lowercased() }
                throw RulesError(at: n.location, "\(key): unknown tensor type \(n.kindDescription) (known: \(known.joined(separator: ", ")))")
            }
            out.insert(t)
        }
        return out
    }

    /// Applies this file's fields on top of `base` (later files override, op tables merge).
    package func apply(to base: TargetProfile?) -> TargetProfile {
        var p = base ?? TargetProfile(runtime: runtime ?? "unnamed")
        if let r = runtime { p.runtime = r }
        if let s = source { p.source = s }
        if let c = checkVersions { p.checksVersions = c }
        for (name, entry, _) in ops {
            switch entry {
            case .upTo(let v): p.ops[name] = .some(v)
            case .removed: p.ops[name] = nil
            }
        }
        if let c = customOps { for name in c { p.ops[name] = .some(nil) } }
        if let t = tensorTypes { p.tensorTypes = t }
        if let h = hybrid { p.quantization.hybrid = h }
        if let f = float16 { p.quantization.float16 = f }
        if let u = uint8 { p.quantization.uint8 = u }
        if let pc = perChannelFullyConnected { p.quantization.perChannelFullyConnected = pc }
        if let g = groupedConv { p.quantization.groupedConv = g }
        for (name, types) in opTypes { p.opTypes[name] = types }
        return p
    }
}
