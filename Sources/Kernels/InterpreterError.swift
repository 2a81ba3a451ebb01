import CFloatKernels
import FlatBuffers
import IR
import Support

/// Why the interpreter cannot load a model or run an input. Each case renders as one line that
/// names the place (op index and name, input index and name).
public enum InterpreterError: Error, CustomStringConvertible, Equatable {
    /// One op the interpreter has no kernel for.
    public struct UnsupportedOp: Hashable, Sendable, CustomStringConvertible {
        public var index: Int
        public var name: String
        public var reason: String
        public init(index: Int, name: String, reason: String) {
            self.index = index
            self.name = name
            self.reason = reason
        }
        public var description: String { "\(name) #\(index) (\(reason))" }
    }

    case noSuchSubgraph(Int, count: Int)
    case unsupportedOps([UnsupportedOp], subgraph: Int)
    /// The model breaks a rule a kernel relies on (e.g. a non-constant filter).
    case invalidModel(String, at: String)
    case inputCount(expected: Int, got: Int)
    case inputMismatch(index: Int, name: String, message: String)
    /// A kernel met data it cannot process (e.g. a reshape that changes the element count).
    case runtime(String, at: String)

    public var description: String {
        switch self {
        case .noSuchSubgraph(let i, let n):
            "subgraph \(i) does not exist (the model has \(n))"
        case .unsupportedOps(let ops, let sg):
            "subgraph \(sg): \(ops.count) op\(ops.count == 1 ? "" : "s") not supported by the interpreter: "
                + ops.map(\.description).joined(separator: "; ")
        case .invalidModel(let what, let at): "\(at): \(what)"
        case .inputCount(let e, let g): "the model has \(e) input\(e == 1 ? "" : "s"), got \(g)"
        case .inputMismatch(let i, let name, let msg): "input \(i) (\(name)): \(msg)"
        case .runtime(let what, let at): "\(at): \(what)"
        }
    }

    /// The unsupported ops, if that is the error.
    public var unsupportedOps: [UnsupportedOp] {
        if case .unsupportedOps(let ops, _) = self { return ops }
        return []
    }
}
