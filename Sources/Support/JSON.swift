import FlatBuffers

/// A JSON value with ordered object keys, so reports are byte-stable across runs.
public indirect enum JSON: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    public static func == (a: JSON, b: JSON) -> Bool { a.rendered() == b.rendered() }

    public static func float(_ f: Float) -> JSON { f.isFinite ? .double(Double(f)) : .string(f.description) }
    public static func ints<T: BinaryInteger>(_ v: [T]) -> JSON { .array(v.map { .int(Int64($0)) }) }
    public static func floats(_ v: [Float]) -> JSON { .array(v.map { JSON.float($0) }) }
    public static func optional(_ s: String?) -> JSON { s.map(JSON.string) ?? .null }

    /// Compact when `indent` is nil, else pretty-printed with that many spaces.
    public func rendered(indent: Int? = 2) -> String {
        var out = ""
        write(into: &out, indent: indent, level: 0)
        return out
    }

    private func write(into out: inout String, indent: Int?, level: Int) {
        func newline(_ l: Int) {
            if let i = indent { out += "\n" + String(repeating: " ", count: i * l) }
        }
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isFinite {
                // Shortest text that reads back as the same Float when it came from one.
                if d == d.rounded(), abs(d) < 1e15 { out += String(Int64(d)) } else { out += Self.shortest(d) }
            } else { out += "null" }
        case .string(let s): Self.escape(s, into: &out)
        case .array(let a):
            if a.isEmpty { out += "[]"; return }
            // Arrays of scalars stay on one line: shapes and scale lists read better that way.
            let flat = a.allSatisfy { if case .array = $0 { return false }; if case .object = $0 { return false }; return true }
            out += "["
            for (k, v) in a.enumerated() {
                if k > 0 { out += flat || indent == nil ? (indent == nil ? "," : ", ") : "," }
                if !flat { newline(level + 1) }
                v.write(into: &out, indent: indent, level: level + 1)
            }
            if !flat { newline(level) }
            out += "]"
        case .object(let o):
            if o.isEmpty { out += "{}"; return }
            out += "{"
            for (k, (key, v)) in o.enumerated() {
                if k > 0 { out += "," }
                newline(level + 1)
                Self.escape(key, into: &out)
                out += indent == nil ? ":" : ": "
                v.write(into: &out, indent: indent, level: level + 1)
            }
            newline(level)
            out += "}"
        }
    }

    package static func shortest(_ d: Double) -> String {
        let f = Float(d)
        if Double(f) == d { return f.description.replacingOccurrences(of: "e-", with: "e-") }
        return d.description
    }

    package static func escape(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}

extension String {
    package func replacingOccurrences(of a: String, with b: String) -> String {
        guard !a.isEmpty else { return self }
        return components(separatedBy: a).joined(separator: b)
    }
    package func components(separatedBy sep: String) -> [String] {
        var parts: [String] = []
        var rest = Substring(self)
        while let r = rest.range(of: sep) {
            parts.append(String(rest[..<r.lowerBound]))
            rest = rest[r.upperBound...]
        }
        parts.append(String(rest))
        return parts
    }
}
