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

/// A problem in a rules file, rendered as one `file:line: message` line (the CLI exits 2).
public struct RulesError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file as the user named it, or `Rules/<name>.yaml` for a built-in.
    public var file: String
    /// 1-based; nil when the problem is not at one place (a missing file).
    public var line: Int?
    public var message: String

    public init(file: String, line: Int?, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public init(at location: SourceLocation, _ message: String) {
        self.init(file: location.file, line: location.line, message)
    }

    public var description: String {
        if file.isEmpty { return message }
        return line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)"
    }
}

/// Where a YAML node starts.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public init(file: String, line: Int, column: Int = 1) {
        self.file = file
        self.line = line
        self.column = column
    }
    public var description: String { "\(file):\(line)" }
}
