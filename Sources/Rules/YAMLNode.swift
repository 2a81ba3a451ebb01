import Yams
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

/// A YAML document as a tree whose every node knows its file and line, so rules-file errors can
/// say `file:line: message`. Built from `Yams.compose` (which keeps node marks); keys are plain
/// strings and a key given twice in one mapping is an error (Yams itself keeps both).
public struct YAMLNode: Hashable, Sendable {
    public enum ScalarKind: Hashable, Sendable {
        case string, int, float, bool, null
    }
    public enum Content: Hashable, Sendable {
        case scalar(String, ScalarKind)
        case list([YAMLNode])
        case map([YAMLEntry])
    }

    public var content: Content
    public var location: SourceLocation

    public init(_ content: Content, at location: SourceLocation) {
        self.content = content
        self.location = location
    }

    /// Parses one YAML document. An empty document is a null scalar at line 1.
    public static func parse(_ text: String, file: String) throws -> YAMLNode {
        let node: Node?
        try YAMLLimits.check(text, file: file)
        do {
            node = try Yams.compose(yaml: text)
        } catch let e as YamlError {
            throw syntaxError(e, file: file)
        } catch {
            throw RulesError(file: file, line: nil, "cannot read YAML: \(error)")
        }
        guard let node else { return YAMLNode(.scalar("", .null), at: SourceLocation(file: file, line: 1)) }
        return try convert(node, file: file)
    }

    package static func convert(_ node: Node, file: String) throws -> YAMLNode {
        let at = SourceLocation(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
        switch node {
        case .scalar(let s):
            // Tag.name is internal to Yams; its description is the resolved tag's raw name.
            switch Tag.Name(rawValue: node.tag.description) {
            case .int where node.int != nil: return YAMLNode(.scalar(String(node.int!), .int), at: at)
            case .float where node.float != nil: return YAMLNode(.scalar(s.string, .float), at: at)
            case .bool where node.bool != nil: return YAMLNode(.scalar(node.bool! ? "true" : "false", .bool), at: at)
            case .null: return YAMLNode(.scalar(s.string, .null), at: at)
            default: return YAMLNode(.scalar(s.string, .string), at: at)
            }
        case .sequence(let seq):
            return YAMLNode(.list(try seq.map { try convert($0, file: file) }), at: at)
        case .mapping(let map):
            var entries: [YAMLEntry] = []
            var seen: [String: Int] = [:]
            for (k, v) in map {
                let keyAt = SourceLocation(file: file, line: k.mark?.line ?? at.line, column: k.mark?.column ?? 1)
                guard case .scalar(let ks) = k else {
                    throw RulesError(at: keyAt, "a mapping key must be a plain name, not a list or mapping")
                }
                let key = ks.string
                if let first = seen[key] {
                    throw RulesError(at: keyAt, "duplicate key '\(key)' (first given on line \(first))")
                }
                seen[key] = keyAt.line
                entries.append(YAMLEntry(key: key, keyLocation: keyAt, value: try convert(v, file: file)))
            }
            return YAMLNode(.map(entries), at: at)
        }
    }

    package static func syntaxError(_ e: YamlError, file: String) -> RulesError {
        func located(_ problem: String, _ context: YamlError.Context?, _ mark: Mark) -> RulesError {
            var m = "YAML syntax error: \(problem)"
            if let c = context { m += " (\(c.text) on line \(c.mark.line))" }
            return RulesError(file: file, line: mark.line, m)
        }
        switch e {
        case .scanner(let c, let p, let mark, _): return located(p, c, mark)
        case .parser(let c, let p, let mark, _): return located(p, c, mark)
        case .composer(let c, let p, let mark, _): return located(p, c, mark)
        case .reader(let p, _, _, _): return RulesError(file: file, line: nil, "cannot read YAML: \(p)")
        default: return RulesError(file: file, line: nil, "cannot read YAML: \(oneLine(e.description))")
        }
    }

    package static func oneLine(_ s: String) -> String { s.split(whereSeparator: \.isNewline).joined(separator: " ") }

    // MARK: Accessors

    /// The mapping's entries, nil for a scalar or list.
    public var entries: [YAMLEntry]? {
        if case .map(let e) = content { return e }
        return nil
    }
    public var items: [YAMLNode]? {
        if case .list(let l) = content { return l }
        return nil
    }
    public var scalar: (text: String, kind: ScalarKind)? {
        if case .scalar(let s, let k) = content { return (s, k) }
        return nil
    }
    public var isNull: Bool { scalar?.kind == .null }

    /// What the node is, for "expected X, got Y" messages.
    public var kindDescription: String {
        switch content {
        case .map: "a mapping"
        case .list: "a list"
        case .scalar(let s, let k):
            switch k {
            case .null: "nothing"
            case .bool: "the boolean \(s)"
            case .int: "the number \(s)"
            case .float: "the number \(s)"
            case .string: "'\(s)'"
            }
        }
    }

    /// The scalar as an option value for a pass; lists and mappings convert recursively.
    public var optionValue: OptionValue? {
        switch content {
        case .scalar(let s, let k):
            switch k {
            case .string: return .string(s)
            case .int: return Int(s).map(OptionValue.int) ?? .string(s)
            case .float: return Double(s).map(OptionValue.double) ?? .string(s)
            case .bool: return .bool(s == "true")
            case .null: return nil
            }
        case .list(let l):
            var out: [OptionValue] = []
            for n in l {
                guard let v = n.optionValue else { return nil }
                out.append(v)
            }
            return .list(out)
        case .map(let entries):
            var out: [String: OptionValue] = [:]
            for e in entries {
                guard let v = e.value.optionValue else { return nil }
                out[e.key] = v
            }
            return .map(out)
        }
    }
}

/// One `key: value` of a mapping.
public struct YAMLEntry: Hashable, Sendable {
    public var key: String
    public var keyLocation: SourceLocation
    public var value: YAMLNode
}
