import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// When a pass may run, from its `when:` option: a small map whose entries must all hold.
///
///     when: { target_lacks: CONV_2D }                  # only if the target does not register CONV_2D
///     when: { target_has: [DEPTHWISE_CONV_2D] }        # only if it registers every listed op
///     when: { target_runtime: tflm }                   # only for this runtime name
///
/// Op names are schema names (case-insensitive, `-` for `_`) or custom codes. Every entry asks
/// about the target profile, so without one (no `target:` in the rules) the condition does not
/// hold and the pass leaves the model alone, saying so in the notes.
public struct PassCondition: Hashable, Sendable, CustomStringConvertible {
    /// Ops the target must not register.
    public var targetLacks: [String] = []
    /// Ops the target must register.
    public var targetHas: [String] = []
    /// The target's runtime name must equal this (case-insensitive).
    public var targetRuntime: String?

    public init(targetLacks: [String] = [], targetHas: [String] = [], targetRuntime: String? = nil) {
        self.targetLacks = targetLacks.map(Self.canonicalOpName)
        self.targetHas = targetHas.map(Self.canonicalOpName)
        self.targetRuntime = targetRuntime
    }

    public static let keys = ["target_has", "target_lacks", "target_runtime"]

    /// Parses the option value; errors name the pass, the option and the bad entry.
    public init(parsing value: OptionValue, pass: String, option: String, location: String) throws {
        func bad(_ m: String) -> PassError { .badOption(pass: pass, option: option, message: m, location: location) }
        guard case .map(let entries) = value else {
            throw bad("expected a map like { target_lacks: CONV_2D }, got \(value)")
        }
        if entries.isEmpty { throw bad("empty condition (keys: \(Self.keys.joined(separator: ", ")))") }
        func names(_ key: String, _ v: OptionValue) throws -> [String] {
            switch v {
            case .string(let s) where !s.isEmpty: return [s]
            case .list(let items) where !items.isEmpty:
                return try items.map {
                    guard case .string(let s) = $0, !s.isEmpty else { throw bad("\(key): expected op names, got \($0)") }
                    return s
                }
            default: throw bad("\(key): expected an op name or a list of op names, got \(v)")
            }
        }
        var c = PassCondition()
        for key in entries.keys.sorted() {
            let v = entries[key]!
            switch key {
            case "target_lacks": c.targetLacks = try names(key, v).map(Self.canonicalOpName)
            case "target_has": c.targetHas = try names(key, v).map(Self.canonicalOpName)
            case "target_runtime":
                guard case .string(let s) = v, !s.isEmpty else { throw bad("target_runtime: expected a runtime name, got \(v)") }
                c.targetRuntime = s
            default:
                throw bad("unknown condition '\(key)' (known: \(Self.keys.joined(separator: ", ")))")
            }
        }
        self = c
    }

    /// Builtin names in their schema spelling; anything else (a custom code) as given.
    package static func canonicalOpName(_ name: String) -> String {
        BuiltinOperator(name: name)?.name ?? name
    }

    /// Whether the condition holds for the pipeline's target. Without a target it does not.
    public func holds(for target: TargetProfile?) -> Bool {
        guard let target else { return false }
        if targetLacks.contains(where: { target.registers($0) }) { return false }
        if !targetHas.allSatisfy({ target.registers($0) }) { return false }
        if let r = targetRuntime, r.lowercased() != target.runtime.lowercased() { return false }
        return true
    }

    public var description: String {
        var parts: [String] = []
        if !targetLacks.isEmpty { parts.append("target_lacks: [" + targetLacks.joined(separator: ", ") + "]") }
        if !targetHas.isEmpty { parts.append("target_has: [" + targetHas.joined(separator: ", ") + "]") }
        if let r = targetRuntime { parts.append("target_runtime: \(r)") }
        return "{" + parts.joined(separator: ", ") + "}"
    }
}

extension PassCondition {
    /// For a pass with an optional condition: true when it may run; otherwise records why not.
    package static func allows(_ condition: PassCondition?, pass: String, context: inout PassContext) -> Bool {
        guard let condition else { return true }
        if condition.holds(for: context.target) { return true }
        // Not holding for a real target is the normal case; only the missing target is worth a note.
        if context.target == nil { context.note("\(pass): skipped, its condition \(condition) needs a target profile") }
        context.count("\(pass).skipped-by-condition")
        return false
    }
}
