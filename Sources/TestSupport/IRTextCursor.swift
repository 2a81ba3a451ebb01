/// Reads one line of IR text left to right. Failures are plain messages; the parser adds the
/// line number.
struct IRTextCursor {
    private let chars: [Character]
    private(set) var position = 0

    init(_ text: Substring) { chars = Array(text) }

    var atEnd: Bool { position >= chars.count }
    var rest: String { String(chars[min(position, chars.count)...]) }

    /// Consumes `literal` if the text continues with it.
    mutating func skip(_ literal: String) -> Bool {
        let l = Array(literal)
        guard position + l.count <= chars.count, Array(chars[position..<(position + l.count)]) == l else { return false }
        position += l.count
        return true
    }

    mutating func expect(_ literal: String, _ what: String) throws(IRTextFailure) {
        guard skip(literal) else { throw IRTextFailure("expected \(what) at '\(excerpt)'") }
    }

    mutating func next() -> Character? {
        guard position < chars.count else { return nil }
        defer { position += 1 }
        return chars[position]
    }

    mutating func skipSpaces() { while position < chars.count, chars[position] == " " { position += 1 } }

    /// Characters up to (not including) the first occurrence of `terminator`, which is consumed.
    mutating func take(until terminator: String, _ what: String) throws(IRTextFailure) -> String {
        let t = Array(terminator)
        var i = position
        while i + t.count <= chars.count {
            if Array(chars[i..<(i + t.count)]) == t {
                let s = String(chars[position..<i])
                position = i + t.count
                return s
            }
            i += 1
        }
        throw IRTextFailure("\(what) has no closing '\(terminator)' at '\(excerpt)'")
    }

    /// Characters while `predicate` holds.
    mutating func take(while predicate: (Character) -> Bool) -> String {
        let start = position
        while position < chars.count, predicate(chars[position]) { position += 1 }
        return String(chars[start..<position])
    }

    /// A signed decimal integer.
    mutating func integer<T: FixedWidthInteger>(_: T.Type, _ what: String) throws(IRTextFailure) -> T {
        let start = position
        _ = skip("-")
        let digits = take { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let v = T(String(chars[start..<position])) else {
            position = start
            throw IRTextFailure("expected \(what) at '\(excerpt)'")
        }
        return v
    }

    /// A value id: `%12`, or `%none` for an omitted optional input.
    mutating func valueID() throws(IRTextFailure) -> ValueIDText {
        try expect("%", "a value like %3")
        if skip("none") { return .absent }
        let i = try integer(Int32.self, "a value number after '%'")
        guard i >= 0 else { throw IRTextFailure("value numbers are 0 or more, got %\(i)") }
        return .index(i)
    }

    var excerpt: String {
        let r = rest
        if r.isEmpty { return "<end of line>" }
        return r.count > 24 ? String(r.prefix(24)) + "…" : r
    }
}

enum ValueIDText: Equatable {
    case absent
    case index(Int32)
}

/// A parse failure inside one line; `IRParser` turns it into an `IRParseError` with the line.
struct IRTextFailure: Error {
    let message: String
    /// Set when the failure belongs to another line than the one being read.
    var line: Int?
    init(_ message: String, line: Int? = nil) {
        self.message = message
        self.line = line
    }
}
