import FlatBuffers
import IR
import Ops
import Support

/// Makes a pass from the options a rules file gives it.
public typealias PassFactory = @Sendable (PassOptions) throws -> any GraphPass

/// Every pass the rules files and the CLI can name. Each family of passes lists its own entries
/// in its own file (`repairPasses`, `importPasses`, `quantizationPasses`); `PassCatalog` puts
/// them together in the order of `--list-passes`.
public enum PassRegistry {
    public struct Entry: Sendable {
        public var name: String
        public var summary: String
        public var make: PassFactory
    }

    nonisolated(unsafe) private static var extra: [Entry] = []

    /// The passes library users added with `register`.
    package static var registered: [Entry] { extra }

    /// Lets library users add their own passes by name (Swift API).
    public static func register(_ entry: Entry) { extra.append(entry) }

    package static func entry<P: GraphPass>(_ type: P.Type, _ make: @escaping @Sendable (PassOptions) throws -> P) -> Entry {
        Entry(name: P.name, summary: P.summary, make: { try make($0) })
    }
}
