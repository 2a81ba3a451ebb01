import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Reads one pass's options: rejects keys the pass does not know and names the pass in every
/// error, so a typo in a rules file fails with "micro.yaml:12: pass cleanup: option 'dedup': ...".
package struct PassOptionReader {
    package let options: PassOptions
    package let pass: String

    package init(_ options: PassOptions, pass: String, known: [String]) throws {
        self.options = options
        self.pass = pass
        for key in options.values.keys.sorted() where !known.contains(key) {
            let hint = known.isEmpty ? "the pass takes no options" : "known options: " + known.sorted().joined(separator: ", ")
            throw PassError.badOption(pass: pass, option: key, message: "unknown option (\(hint))", location: options.location)
        }
    }

    package func bool(_ key: String, default d: Bool) throws -> Bool { try named { try options.bool(key, default: d) } }
    package func int(_ key: String) throws -> Int? { try named { try options.int(key, default: nil) } }
    package func string(_ key: String) throws -> String? { try named { try options.string(key, default: nil) } }

    /// An integer that must lie in `range`.
    package func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let v = try int(key) else { return nil }
        guard range.contains(v) else { throw error(key, "expected an integer in \(range.lowerBound)...\(range.upperBound), got \(v)") }
        return v
    }

    /// One of a fixed set of strings.
    package func choice(_ key: String, from allowed: [String], default d: String) throws -> String {
        guard let v = try string(key) else { return d }
        guard allowed.contains(v) else { throw error(key, "expected one of \(allowed.joined(separator: ", ")), got \(v)") }
        return v
    }

    /// A `when:` condition map, nil when absent.
    package func condition(_ key: String = "when") throws -> PassCondition? {
        guard let v = options.values[key] else { return nil }
        return try PassCondition(parsing: v, pass: pass, option: key, location: options.location)
    }

    package func error(_ key: String, _ message: String) -> PassError {
        .badOption(pass: pass, option: key, message: message, location: options.location)
    }

    /// Re-throws PassOptions' errors with this pass's name filled in.
    private func named<R>(_ body: () throws -> R) throws -> R {
        do {
            return try body()
        } catch PassError.badOption(_, let option, let message, let location) {
            throw PassError.badOption(pass: pass, option: option, message: message, location: location)
        }
    }
}
