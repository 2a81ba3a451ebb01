/// A problem in IR text, with the 1-based line it is on: `line 3: unknown op 'CONV_3X'`.
public struct IRParseError: Error, Equatable, CustomStringConvertible {
    public let line: Int
    public let message: String

    public init(line: Int, _ message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { "line \(line): \(message)" }
}
