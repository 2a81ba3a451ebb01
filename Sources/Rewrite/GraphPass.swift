import FlatBuffers
import IR
import Ops
import Support

/// A transformation of the whole model. One pass per file under Passes/, named for what it does,
/// with a Given/Result sketch in its doc comment.
public protocol GraphPass {
    /// Kebab-case name used in rules files and on the command line (`conv-to-depthwise`).
    static var name: String { get }
    /// One line for `--list-passes`.
    static var summary: String { get }
    /// Returns true when the model changed.
    mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool
}

extension GraphPass {
    public var name: String { Self.name }
}

/// A scalar or list option value from a rules file or the command line.
public enum OptionValue: Hashable, Sendable, CustomStringConvertible {
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([OptionValue])
    case map([String: OptionValue])

    public var description: String {
        switch self {
        case .bool(let b): "\(b)"
        case .int(let i): "\(i)"
        case .double(let d): "\(d)"
        case .string(let s): s
        case .list(let l): "[" + l.map(\.description).joined(separator: ", ") + "]"
        case .map(let m): "{" + m.keys.sorted().map { "\($0): \(m[$0]!)" }.joined(separator: ", ") + "}"
        }
    }
}

/// Options given to one pass; reading one that has the wrong type throws a located error.
public struct PassOptions: Sendable {
    public var values: [String: OptionValue]
    /// Where the options came from ("micro.yaml:12") for messages.
    public var location: String

    public init(_ values: [String: OptionValue] = [:], location: String = "") {
        self.values = values
        self.location = location
    }

    public func bool(_ key: String, default d: Bool) throws -> Bool {
        guard let v = values[key] else { return d }
        if case .bool(let b) = v { return b }
        throw PassError.badOption(pass: "", option: key, message: "expected true or false, got \(v)", location: location)
    }
    public func int(_ key: String, default d: Int?) throws -> Int? {
        guard let v = values[key] else { return d }
        if case .int(let i) = v { return i }
        throw PassError.badOption(pass: "", option: key, message: "expected an integer, got \(v)", location: location)
    }
    public func double(_ key: String, default d: Double) throws -> Double {
        guard let v = values[key] else { return d }
        switch v {
        case .double(let x): return x
        case .int(let i): return Double(i)
        default: throw PassError.badOption(pass: "", option: key, message: "expected a number, got \(v)", location: location)
        }
    }
    public func string(_ key: String, default d: String?) throws -> String? {
        guard let v = values[key] else { return d }
        if case .string(let s) = v { return s }
        throw PassError.badOption(pass: "", option: key, message: "expected a string, got \(v)", location: location)
    }
}

public enum PassError: Error, CustomStringConvertible, Equatable {
    case badOption(pass: String, option: String, message: String, location: String)
    case unsupportedByTarget([String])
    case didNotConverge(pass: String, iterations: Int, stillFiring: [String])
    case verifierFailed(pass: String, message: String)
    /// The pipeline finished but its result fails the verifier; nothing may be written.
    case invalidResult(String)
    case failed(pass: String, message: String)

    public var description: String {
        switch self {
        case .badOption(let p, let o, let m, let loc):
            (loc.isEmpty ? "" : "\(loc): ") + (p.isEmpty ? "" : "pass \(p): ") + "option '\(o)': \(m)"
        case .unsupportedByTarget(let lines):
            "the target cannot run \(lines.count) op(s): " + lines.joined(separator: "; ")
        case .didNotConverge(let p, let n, let firing):
            "pass \(p) did not converge after \(n) iterations (still firing: \(firing.joined(separator: ", ")))"
        case .verifierFailed(let p, let m): "IR invalid after pass \(p): \(m)"
        case .invalidResult(let m): "the converted model would be invalid: \(m)"
        case .failed(let p, let m): "pass \(p): \(m)"
        }
    }
}

/// What passes share while a pipeline runs.
public struct PassContext {
    /// The runtime the model is being prepared for, if a rules file named one.
    public var target: TargetProfile?
    /// Batch size to assume for dynamic (−1) batch dimensions (`--batch N`).
    public var batch: Int?
    /// Warnings and notes for the user.
    public var notes: [String] = []
    /// Passes that changed the model, in the order they first did (convert's summary).
    public var changedPasses: [String] = []
    /// Live ops when the first pipeline on this context started (before the import passes of
    /// a TensorFlow graph), for convert's summary.
    public var opsBeforePasses: Int?
    /// How often each pattern or pass fired (`--stats`).
    public var statistics: [String: Int] = [:]
    /// Run the IR verifier after every pass (tests and debug runs).
    public var verifyAfterEachPass: Bool = false
    /// How many times the verifier checked the IR (`--stats` shows it, so a run can tell).
    public var verifierRuns = 0
    /// Called after each pass with its name (for `--print-ir-after`).
    public var afterPass: ((String, Model) -> Void)?
    /// The pass a `Pipeline` is running (or ran last), so a caller can say where an error arose.
    public var currentPass: String?
    /// Write a model the target cannot run, with warnings instead of errors (`--allow-unsupported`).
    public var allowUnsupported: Bool = false

    public init(target: TargetProfile? = nil, batch: Int? = nil) {
        self.target = target
        self.batch = batch
    }

    public mutating func count(_ name: String, _ n: Int = 1) { statistics[name, default: 0] += n }
    public mutating func note(_ s: String) { notes.append(s) }
}
