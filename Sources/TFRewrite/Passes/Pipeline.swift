/// Makes a pass from the options a rules file gives it.
public typealias PassFactory = @Sendable (PassOptions) throws -> any GraphPass

/// Every pass the rules files and the CLI can name. One line per pass; the order here is the
/// order of `--list-passes`.
public enum PassRegistry {
    public struct Entry: Sendable {
        public var name: String
        public var summary: String
        public var make: PassFactory
    }

    nonisolated(unsafe) private static var extra: [Entry] = []

    public static var all: [Entry] {
        builtins + extra
    }

    /// Each family of passes lists its own entries in its own file.
    static var builtins: [Entry] {
        repairPasses + importPasses + quantizationPasses
    }

    public static func entry(_ name: String) -> Entry? { all.first { $0.name == name } }

    /// Lets library users add their own passes by name (Swift API).
    public static func register(_ entry: Entry) { extra.append(entry) }

    static func entry<P: GraphPass>(_ type: P.Type, _ make: @escaping @Sendable (PassOptions) throws -> P) -> Entry {
        Entry(name: P.name, summary: P.summary, make: { try make($0) })
    }
}

/// An ordered list of passes. The IR verifier may run after each one.
public struct Pipeline {
    public var passes: [any GraphPass]
    public init(_ passes: [any GraphPass]) { self.passes = passes }

    @discardableResult
    public mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        var changed = false
        for i in passes.indices {
            let name = passes[i].name
            if try passes[i].run(on: &model, context: &context) { changed = true }
            if context.verifyAfterEachPass {
                context.verifierRuns += 1
                let problems = Verifier.verify(model)
                if let first = problems.first { throw PassError.verifierFailed(pass: name, message: first.description) }
            }
            context.afterPass?(name, model)
        }
        return changed
    }
}
