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

/// One rules file as written: what it extends, its target section, its pass list and its
/// custom rules, each part carrying the line it came from. `RuleSet` merges several of these.
///
///     extends: micro
///     target:
///       runtime: tflm
///       ops: { CONV_2D: 3, RESHAPE: any }
///     passes:
///       - cleanup
///       - fold-shapes: { batch: 1 }
///     rules: []
///
/// Everything is checked while parsing: unknown keys, unknown ops and tensor types, bad
/// versions, unknown pass names (against `PassRegistry`), and pass options (each pass's factory
/// runs once on its options, so an unknown option or a wrong value type fails here, not later).
public struct RulesFile: Sendable {
    /// How the file is named in messages.
    public var file: String
    public var extends: (name: String, location: SourceLocation)?
    public var target: TargetSpec?
    public var passes: [PassSpec]
    public var rules: [CustomRule]

    public static let topLevelKeys = ["extends", "target", "passes", "rules"]

    public static func parse(_ text: String, file: String) throws -> RulesFile {
        let root = try YAMLNode.parse(text, file: file)
        if root.isNull { throw RulesError(at: root.location, "the file is empty; expected a mapping with keys \(list(topLevelKeys))") }
        guard let entries = root.entries else {
            throw RulesError(at: root.location, "expected a mapping with keys \(list(topLevelKeys)), got \(root.kindDescription)")
        }
        var result = RulesFile(file: file, extends: nil, target: nil, passes: [], rules: [])
        for e in entries {
            switch e.key {
            case "extends":
                guard let (s, k) = e.value.scalar, k == .string, !s.isEmpty else {
                    throw RulesError(at: e.value.location, "extends: expected a built-in rules name or a relative path, got \(e.value.kindDescription)")
                }
                result.extends = (s, e.value.location)
            case "target":
                result.target = try TargetSpec.parse(e.value)
            case "passes":
                result.passes = try parsePasses(e.value)
            case "rules":
                result.rules = try CustomRule.parseList(e.value)
                try RuleCompilers.current?.validate(result.rules)
            default:
                throw unknownKey(e, known: topLevelKeys, in: "a rules file")
            }
        }
        return result
    }

    package static func parsePasses(_ node: YAMLNode) throws -> [PassSpec] {
        if node.isNull { return [] }
        guard let items = node.items else {
            throw RulesError(at: node.location, "passes: expected a list of pass names, got \(node.kindDescription)")
        }
        return try items.map(PassSpec.parse)
    }

    package static func unknownKey(_ e: YAMLEntry, known: [String], in what: String) -> RulesError {
        var m = "unknown key '\(e.key)' in \(what)"
        if let s = closest(e.key, in: known) { m += "; did you mean '\(s)'?" }
        m += " (known keys: \(list(known)))"
        return RulesError(at: e.keyLocation, m)
    }

    package static func list(_ names: [String]) -> String { names.joined(separator: ", ") }

    /// The candidate within edit distance 2 (case-insensitive), for "did you mean" hints.
    package static func closest(_ word: String, in candidates: [String]) -> String? {
        let w = Array(word.lowercased())
        var best: (String, Int)?
        for c in candidates {
            let d = editDistance(w, Array(c.lowercased()))
            if d <= 2, d < (best?.1 ?? Int.max) { best = (c, d) }
        }
        return best?.0
    }

    package static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        for i in 1...a.count {
            var cur = [i] + [Int](repeating: 0, count: b.count)
            for j in 1...b.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return prev[b.count]
    }
}

/// One entry of `passes:`: a registered pass name, optionally with options.
public struct PassSpec: Hashable, Sendable {
    public var name: String
    public var options: [String: OptionValue]
    public var location: SourceLocation
    /// Where each option was given, for messages about one option.
    public var optionLocations: [String: SourceLocation]

    public init(name: String, options: [String: OptionValue] = [:], location: SourceLocation, optionLocations: [String: SourceLocation] = [:]) {
        self.name = name
        self.options = options
        self.location = location
        self.optionLocations = optionLocations
    }

    /// The options handed to the pass factory; `location` lets its errors say `file:line`.
    public var passOptions: PassOptions { PassOptions(options, location: location.description) }

    package static let shape = "a pass is a name (- cleanup) or a one-key mapping (- fold-shapes: { batch: 1 })"

    package static func parse(_ node: YAMLNode) throws -> PassSpec {
        var spec: PassSpec
        if let (s, kind) = node.scalar {
            guard kind == .string, !s.isEmpty else { throw RulesError(at: node.location, "expected a pass name, got \(node.kindDescription); \(shape)") }
            spec = PassSpec(name: s, location: node.location)
        } else if let entries = node.entries {
            guard entries.count == 1, let e = entries.first else {
                throw RulesError(at: node.location, "a pass entry has \(entries.count) keys (\(entries.map(\.key).joined(separator: ", "))); \(shape)")
            }
            spec = PassSpec(name: e.key, location: e.keyLocation)
            if !e.value.isNull {
                guard let optionEntries = e.value.entries else {
                    throw RulesError(at: e.value.location, "options of pass \(e.key): expected a mapping like { name: value }, got \(e.value.kindDescription)")
                }
                for o in optionEntries {
                    guard let v = o.value.optionValue else {
                        throw RulesError(at: o.value.location, "pass \(e.key): option '\(o.key)' has no value")
                    }
                    spec.options[o.key] = v
                    spec.optionLocations[o.key] = o.keyLocation
                }
            }
        } else {
            throw RulesError(at: node.location, "expected a pass, got a list; \(shape)")
        }
        try spec.validate()
        return spec
    }

    /// Checks the name against `PassRegistry` and lets the pass's factory check the options.
    public func validate() throws {
        guard let entry = PassRegistry.entry(name) else {
            let names = PassRegistry.all.map(\.name)
            var m = "unknown pass '\(name)'"
            if let s = RulesFile.closest(name, in: names) { m += "; did you mean '\(s)'?" }
            m += names.isEmpty ? " (no passes are registered)" : " (known passes: \(names.joined(separator: ", ")))"
            throw RulesError(at: location, m)
        }
        _ = try make(entry)
    }

    /// Runs the registered factory, turning option errors into `file:line` errors at the option.
    package func make(_ entry: PassRegistry.Entry) throws -> any GraphPass {
        do {
            return try entry.make(passOptions)
        } catch PassError.badOption(_, let option, let message, _) {
            throw RulesError(at: optionLocations[option] ?? location, "pass \(name): option '\(option)': \(message)")
        } catch let e as RulesError {
            throw e
        } catch {
            throw RulesError(at: location, "pass \(name): \(error)")
        }
    }
}

/// A custom rewrite rule (`rules:` entries). Their language comes later: for now each is kept as
/// its YAML, with its place, for a `RuleCompiler` to turn into patterns.
public struct CustomRule: Hashable, Sendable {
    public var name: String
    public var match: YAMLNode
    public var rewrite: YAMLNode
    /// The whole mapping, for keys a rule compiler defines later.
    public var node: YAMLNode
    public var location: SourceLocation

    public static let keys = ["name", "match", "rewrite", "description"]

    package static func parseList(_ node: YAMLNode) throws -> [CustomRule] {
        if node.isNull { return [] }
        guard let items = node.items else {
            throw RulesError(at: node.location, "rules: expected a list of mappings with name, match and rewrite, got \(node.kindDescription)")
        }
        return try items.enumerated().map { i, item in
            guard let entries = item.entries else {
                throw RulesError(at: item.location, "rule \(i + 1): expected a mapping with name, match and rewrite, got \(item.kindDescription)")
            }
            var name: String?
            var match: YAMLNode?
            var rewrite: YAMLNode?
            for e in entries {
                switch e.key {
                case "name":
                    guard let (s, k) = e.value.scalar, k == .string, !s.isEmpty else {
                        throw RulesError(at: e.value.location, "rule \(i + 1): name: expected a string, got \(e.value.kindDescription)")
                    }
                    name = s
                case "match": match = e.value
                case "rewrite": rewrite = e.value
                case "description": break
                default: throw RulesFile.unknownKey(e, known: keys, in: "rule \(i + 1)")
                }
            }
            guard let name else { throw RulesError(at: item.location, "rule \(i + 1) has no name") }
            guard let match else { throw RulesError(at: item.location, "rule \(name) has no match") }
            guard let rewrite else { throw RulesError(at: item.location, "rule \(name) has no rewrite") }
            return CustomRule(name: name, match: match, rewrite: rewrite, node: item, location: item.location)
        }
    }
}
